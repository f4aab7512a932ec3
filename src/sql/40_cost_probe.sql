
-- 40_cost_probe.sql: measure the per-attempt cost of the hooks in-process.

CREATE FUNCTION measure_record_cost(
    iterations integer DEFAULT 10000,
    include_inventory boolean DEFAULT false,
    OUT step text, OUT calls integer, OUT ns_per_call float8,
    OUT ratio_to_baseline float8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_measure_record_cost'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION measure_record_cost(integer, boolean) FROM PUBLIC;
COMMENT ON FUNCTION measure_record_cost(integer, boolean) IS
'Superuser only: nanoseconds per call of each step the connection hooks run, from this session''s real Port, against core''s log_connections line as baseline; include_inventory adds that many copies of this connection to the inventory';
