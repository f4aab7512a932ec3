--
-- cost_probe: the in-process cost probe is a test-only module
-- (test/modules/pgtls_audit_cost_probe, installed by test/run), not part
-- of the extension.  It
-- times every step from a real TLS session, refuses bad input, stops at
-- statement_timeout, and leaves the server's inventory and log exactly as
-- they were; the 1.0 entry point kept in pgtls_audit.so refuses to run.
--
\set VERBOSITY terse
\getenv pki PGTLS_PKI
\getenv port PGPORT
\getenv logfile PGTLS_LOGFILE
\getenv probe_sql PGTLS_COST_PROBE_SQL
\set admin 'host=/tmp port=' :port ' dbname=contrib_regression user=postgres'

-- the extension defines no cost probe
SELECT count(*) AS extension_probes FROM pg_proc
WHERE proname = 'measure_record_cost' AND pronamespace = 'pgtls_audit'::regnamespace;

-- the test-only module's function, for a role given it by GRANT
\i :probe_sql
CREATE ROLE regress_probe_user LOGIN PASSWORD 'regress_pw' IN ROLE pg_read_all_stats;
SELECT has_function_privilege('regress_probe_user',
    'pgtls_cost_probe.measure_record_cost(integer, boolean)', 'EXECUTE') AS before_grant;
GRANT USAGE ON SCHEMA pgtls_cost_probe TO regress_probe_user;
GRANT EXECUTE ON FUNCTION pgtls_cost_probe.measure_record_cost(integer, boolean) TO regress_probe_user;

-- a TLS session presenting a client certificate (the costliest capture)
\set c 'host=127.0.0.1 port=' :port ' dbname=contrib_regression sslrootcert=' :pki '/root.crt user=regress_probe_user password=regress_pw sslmode=verify-full sslcert=' :pki '/client_regress_cert_user.crt sslkey=' :pki '/client_regress_cert_user.key'
\connect :"c"
SELECT ssl, client_dn IS NOT NULL AS client_cert FROM pg_stat_ssl WHERE pid = pg_backend_pid();
SELECT pg_backend_pid() AS probe_pid \gset

-- 'ok', or the SQLSTATE and message of the error
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
-- the server's inventory, everything a fabricated record would change
CREATE TEMP VIEW inv AS
SELECT s.records_total, s.history_entries, s.history_overwritten,
       s.clients_entries, s.certificates_entries, s.hba_entries,
       s.records_dropped, s.values_truncated,
       (SELECT count(*) FROM pgtls_audit.connections) AS connections,
       (SELECT count(*) FROM pgtls_audit.connections WHERE pid = pg_backend_pid()) AS own_connections,
       (SELECT sum(connections) FROM pgtls_audit.clients) AS client_connections,
       (SELECT sum(connections) FROM pgtls_audit.client_certificates) AS certificate_connections,
       (SELECT sum(attempts) FROM pgtls_audit.hba_usage) AS hba_attempts
FROM pgtls_audit.stats s;
CREATE TEMP TABLE inv_before AS SELECT * FROM inv;
SELECT own_connections FROM inv_before;

-- every step, the inventory step on a private inventory
SELECT step, calls, ns_per_call > 0 AS measured, ratio_to_baseline > 0 AS has_ratio
FROM pgtls_cost_probe.measure_record_cost(2000, true);
SELECT count(*) FROM pgtls_cost_probe.measure_record_cost(5);
SELECT count(*) FROM pgtls_cost_probe.measure_record_cost(iterations => 3, include_inventory => true);

-- bad input
SELECT pg_temp.try('SELECT count(*) FROM pgtls_cost_probe.measure_record_cost(0, true)');
SELECT pg_temp.try('SELECT count(*) FROM pgtls_cost_probe.measure_record_cost(-1)');
SELECT pg_temp.try('SELECT count(*) FROM pgtls_cost_probe.measure_record_cost(10000001)');
SELECT pg_temp.try('SELECT count(*) FROM pgtls_cost_probe.measure_record_cost(NULL)');
SELECT pg_temp.try('SELECT count(*) FROM pgtls_cost_probe.measure_record_cost(10, NULL)');

-- cancellable: 10 million iterations would take minutes
SELECT clock_timestamp() AS t0 \gset
SET statement_timeout = '300ms';
\set VERBOSITY sqlstate
SELECT count(*) FROM pgtls_cost_probe.measure_record_cost(10000000, true);
\set VERBOSITY terse
RESET statement_timeout;
SELECT clock_timestamp() - :'t0'::timestamptz < interval '10 seconds' AS cancelled_promptly;
-- and runs again afterwards
SELECT count(*) FROM pgtls_cost_probe.measure_record_cost(10, true);

-- the server's inventory is exactly as it was
SELECT i.records_total - b.records_total AS records_total,
       i.history_entries - b.history_entries AS history_entries,
       i.history_overwritten - b.history_overwritten AS history_overwritten,
       i.clients_entries - b.clients_entries AS clients_entries,
       i.certificates_entries - b.certificates_entries AS certificates_entries,
       i.hba_entries - b.hba_entries AS hba_entries,
       i.records_dropped - b.records_dropped AS records_dropped,
       i.values_truncated - b.values_truncated AS values_truncated,
       i.connections - b.connections AS connections,
       i.own_connections - b.own_connections AS own_connections,
       i.client_connections - b.client_connections AS client_connections,
       i.certificate_connections - b.certificate_connections AS certificate_connections,
       i.hba_attempts - b.hba_attempts AS hba_attempts
FROM inv i, inv_before b;
SELECT count(*) AS changed_columns FROM (SELECT * FROM inv EXCEPT SELECT * FROM inv_before) d;
DROP VIEW inv;
DROP TABLE inv_before;
DROP FUNCTION pg_temp.try(text);

-- and the log holds this session's one real attempt, nothing more
\connect :"admin"
SELECT count(*) AS log_records_of_probe_session
FROM regexp_split_to_table(pg_read_file(:'logfile'), E'\n') AS l,
     regexp_match(l, 'PGTLS_AUDIT (\{.*\})$') AS m
WHERE m IS NOT NULL AND (m[1])::jsonb->>'pid' = :'probe_pid';

-- the 1.0 entry point left in pgtls_audit.so (for servers not yet updated
-- and for the 1.0 install script) refuses to run and records nothing
SELECT records_total AS records_before FROM pgtls_audit.stats \gset
CREATE FUNCTION pg_temp.retired_probe(integer, boolean,
    OUT step text, OUT calls integer, OUT ns_per_call float8, OUT ratio_to_baseline float8)
RETURNS SETOF record AS '$libdir/pgtls_audit', 'pgtls_audit_measure_record_cost'
LANGUAGE C STRICT VOLATILE;
CREATE FUNCTION pg_temp.try(q text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ok';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END
$$;
SELECT pg_temp.try('SELECT count(*) FROM pg_temp.retired_probe(5, true)');
SELECT records_total - :records_before AS new_records FROM pgtls_audit.stats;

DROP SCHEMA pgtls_cost_probe CASCADE;
DROP ROLE regress_probe_user;
