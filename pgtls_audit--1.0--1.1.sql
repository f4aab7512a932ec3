-- pgtls_audit--1.0--1.1.sql: from release 1.0 to 1.1.
--
-- Every change to SQL objects or grants since 1.0, in the order the
-- fragments of src/sql define them.  test/t/006_upgrade.pl checks that
-- 1.0 updated with this script equals a fresh install of 1.1 (objects,
-- definitions, comments and grants).

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pgtls_audit UPDATE TO '1.1'" to load this file. \quit
