-- test/modules/pgtls_audit_cost_probe/pgtls_audit_cost_probe.sql: create
-- the cost probe's SQL function from the test-only module (installed by
-- test/run and test/bench, never part of the extension), in its own
-- schema, revoked from PUBLIC.
--
--   psql -f pgtls_audit_cost_probe.sql

CREATE SCHEMA IF NOT EXISTS pgtls_cost_probe;
CREATE OR REPLACE FUNCTION pgtls_cost_probe.measure_record_cost(
    iterations integer DEFAULT 10000,
    include_inventory boolean DEFAULT false,
    OUT step text, OUT calls integer, OUT ns_per_call float8,
    OUT ratio_to_baseline float8)
RETURNS SETOF record
AS '$libdir/pgtls_audit_cost_probe', 'pgtls_cost_probe_measure'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;
REVOKE ALL ON FUNCTION pgtls_cost_probe.measure_record_cost(integer, boolean) FROM PUBLIC;
COMMENT ON FUNCTION pgtls_cost_probe.measure_record_cost(integer, boolean) IS
'Test-only: nanoseconds per call of each step the connection hooks run, from this session''s real Port, against core''s log_connections line as baseline; include_inventory times adding to a private inventory in this backend''s memory (never the server''s)';
