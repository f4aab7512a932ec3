-- pgtls_audit--1.0--1.1.sql: from release 1.0 to 1.1.
--
-- Every change to SQL objects or grants since 1.0, in the order the
-- fragments of src/sql define them.  test/t/006_upgrade.pl checks that
-- 1.0 updated with this script equals a fresh install of 1.1 (objects,
-- definitions, comments and grants).

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pgtls_audit UPDATE TO '1.1'" to load this file. \quit

-- privileges: one model, SQL GRANT/REVOKE only (README, "Privileges").
-- The cost probe, which could add invented attempts to the inventory, is
-- no longer part of the extension (a test-only module,
-- test/modules/pgtls_audit_cost_probe).
DROP FUNCTION measure_record_cost(integer, boolean);
-- server_key_check() never outputs key material, and the findings granted
-- to pg_monitor already run the same key checks: granted to pg_monitor.
GRANT EXECUTE ON FUNCTION server_key_check() TO pg_monitor;
COMMENT ON FUNCTION server_key_check() IS
'Granted to pg_monitor: ssl_key_file present, owner and permissions acceptable to the server, readable, key type and size, encrypted, matches ssl_cert_file; never shows key material';
