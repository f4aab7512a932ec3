-- test/modules/pgtls_audit_fill/pgtls_audit_fill.sql: create the functions
-- of the test-only fill module (installed by test/run and the scale
-- benchmark, never part of the extension), in their own schema, revoked
-- from PUBLIC.  They write synthetic attempts into the server's real
-- inventory: for test servers only.
--
--   psql -f pgtls_audit_fill.sql

CREATE SCHEMA IF NOT EXISTS pgtls_fill;
CREATE OR REPLACE FUNCTION pgtls_fill.fill(
    attempts integer,
    fingerprints integer DEFAULT NULL)
RETURNS bigint
AS '$libdir/pgtls_audit_fill', 'pgtls_fill_fill'
LANGUAGE C CALLED ON NULL INPUT VOLATILE;
REVOKE ALL ON FUNCTION pgtls_fill.fill(integer, integer) FROM PUBLIC;
COMMENT ON FUNCTION pgtls_fill.fill(integer, integer) IS
'Test-only: adds attempts synthetic successful TLS attempts to the server''s shared inventory (each a distinct client, client certificate and, up to fingerprints, ClientHello fingerprint); returns the inventory''s records_total after them';

CREATE OR REPLACE FUNCTION pgtls_fill.shmem_sizes(
    OUT part text, OUT entry_bytes bigint, OUT slot_bytes bigint,
    OUT capacity integer, OUT bytes bigint)
RETURNS SETOF record
AS '$libdir/pgtls_audit_fill', 'pgtls_fill_shmem_sizes'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION pgtls_fill.shmem_sizes() FROM PUBLIC;
COMMENT ON FUNCTION pgtls_fill.shmem_sizes() IS
'Test-only: the shared memory of each part of the inventory at the server''s settings, computed by the inventory''s own code (sizeof of each entry, its slot with the LRU header, and the table), and the total as the module requests it';

CREATE OR REPLACE FUNCTION pgtls_fill.hold_lock(ms integer)
RETURNS void
AS '$libdir/pgtls_audit_fill', 'pgtls_fill_hold_lock'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION pgtls_fill.hold_lock(integer) FROM PUBLIC;
COMMENT ON FUNCTION pgtls_fill.hold_lock(integer) IS
'Test-only: holds the inventory''s spinlock for ms milliseconds (0 to 10000), as a descheduled holder would; connections wait for it meanwhile';

CREATE OR REPLACE FUNCTION pgtls_fill.fill_deferred(attempts integer)
RETURNS integer
AS '$libdir/pgtls_audit_fill', 'pgtls_fill_fill_deferred'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION pgtls_fill.fill_deferred(integer) FROM PUBLIC;
COMMENT ON FUNCTION pgtls_fill.fill_deferred(integer) IS
'Test-only: leaves attempts (1 to 16) synthetic attempts in the inventory''s deferred slots, as connections that found its lock held leave theirs; the next reader adds them; returns the slots waiting to be added';
