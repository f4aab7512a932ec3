--
-- inventory: the shared-memory views after real TLS connections to the
-- harness cluster; privileges of an unprivileged role.
--
\set VERBOSITY terse
\getenv pki PGTLS_PKI
\getenv port PGPORT
\set base 'host=127.0.0.1 port=' :port ' dbname=contrib_regression sslrootcert=' :pki '/root.crt'
\set admin 'host=/tmp port=' :port ' dbname=contrib_regression user=postgres'

SELECT pgtls_audit.reset();
SELECT records_total, history_entries, clients_entries, certificates_entries,
       hba_entries, records_dropped, values_truncated
FROM pgtls_audit.stats;

-- two certificate logins over TLS
\set c :base ' user=regress_cert_user sslmode=verify-full sslcert=' :pki '/client_regress_cert_user.crt sslkey=' :pki '/client_regress_cert_user.key'
\connect :"c"
\connect :"c"
SELECT client_serial AS cert_serial FROM pg_stat_ssl WHERE pid = pg_backend_pid() \gset
\connect :"admin"

SELECT user_name, database_name, client_addr, ssl, protocol, auth_method,
       outcome, connections, issuer_dn, client_serial = :'cert_serial' AS same_serial,
       hba_file = current_setting('hba_file') AS hba_file_ok, hba_line
FROM pgtls_audit.clients WHERE user_name = 'regress_cert_user';

SELECT subject_dn, issuer_dn, serial = :'cert_serial' AS same_serial, roles,
       connections, days_left > 30 AS not_expiring, fingerprint ~ '^[0-9a-f]{64}$' AS fp_ok
FROM pgtls_audit.client_certificates;

SELECT hba_line, attempts, successes, failures
FROM pgtls_audit.hba_usage ORDER BY hba_line;

SELECT event, outcome, user_name, protocol, client_cert, policy
FROM pgtls_audit.connections WHERE user_name = 'regress_cert_user';

-- a DBA's question: who still connects below TLS 1.3, or in plaintext?
SELECT count(*) FROM pgtls_audit.clients
WHERE outcome = 'success' AND client_addr <> '[local]'
  AND (NOT ssl OR protocol <> 'TLSv1.3');

-- privileges: an unprivileged role sees only its own rows: the certificate
-- user sees its two logins and its certificate, regress_alice (who used no
-- certificate and did not connect) nothing
SET ROLE regress_cert_user;
SELECT count(*), count(*) FILTER (WHERE user_name = 'regress_cert_user') AS own
FROM pgtls_audit.connections;
SELECT user_name, connections FROM pgtls_audit.clients;
SELECT subject_dn, serial = :'cert_serial' AS same_serial, roles, connections
FROM pgtls_audit.client_certificates;
RESET ROLE;
SET ROLE regress_alice;
SELECT count(*) FROM pgtls_audit.connections;
SELECT count(*) FROM pgtls_audit.client_certificates;
SELECT * FROM pgtls_audit.hba_usage;
SELECT pgtls_audit.reset();
RESET ROLE;
