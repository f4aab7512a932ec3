-- pgtls_audit--1.1.sql: assembled by the Makefile from one fragment per folder of src/

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgtls_audit" to load this file. \quit

-- src/pgtls_audit.sql: module status.

GRANT USAGE ON SCHEMA @extschema@ TO PUBLIC;

CREATE FUNCTION status(
    OUT preloaded boolean,
    OUT version text,
    OUT record_version integer,
    OUT log_marker text)
RETURNS record
AS 'MODULE_PATHNAME', 'pgtls_audit_status'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

COMMENT ON FUNCTION status() IS
'Whether pgtls_audit is loaded via shared_preload_libraries (connection auditing active), its version, and the audit record format version and marker';

CREATE FUNCTION _check_preloaded()
RETURNS boolean
AS 'MODULE_PATHNAME', 'pgtls_audit_check_preloaded'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION _check_preloaded() FROM PUBLIC;

-- Say at CREATE EXTENSION time when nothing is being audited.
SELECT _check_preloaded();
