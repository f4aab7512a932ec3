--
-- audit_log: real TLS and plaintext connections to the harness cluster,
-- then their audit records read back from the server log (JSON format)
-- and compared with pg_stat_ssl as seen by the same backend.
--
\set VERBOSITY terse
\getenv pki PGTLS_PKI
\getenv logfile PGTLS_LOGFILE
\getenv port PGPORT

SELECT preloaded, record_version, log_marker FROM pgtls_audit.status();

-- The audit records written by one backend, parsed.
CREATE TABLE regress_logfile AS SELECT :'logfile'::text AS path;
CREATE FUNCTION regress_records_of(p integer) RETURNS SETOF jsonb
LANGUAGE sql AS $$
  SELECT (m[1])::jsonb
  FROM regress_logfile,
       regexp_split_to_table(pg_read_file(path), E'\n') AS l,
       regexp_match(l, 'PGTLS_AUDIT (\{.*\})$') AS m
  WHERE m IS NOT NULL AND (m[1])::jsonb->>'pid' = p::text
$$;

\set base 'host=127.0.0.1 port=' :port ' dbname=contrib_regression sslrootcert=' :pki '/root.crt'
\set nocert ' sslcert=' :pki '/no-such.crt sslkey=' :pki '/no-such.key'
\set admin 'host=/tmp port=' :port ' dbname=contrib_regression user=postgres'

-- 1. TLS 1.3 with a client certificate (cert method)
\set c :base ' user=regress_cert_user sslmode=verify-full sslcert=' :pki '/client_regress_cert_user.crt sslkey=' :pki '/client_regress_cert_user.key'
\connect :"c"
SELECT pid AS tls_pid, version AS tls_version, cipher AS tls_cipher,
       bits AS tls_bits, client_serial AS tls_serial
FROM pg_stat_ssl WHERE pid = pg_backend_pid() \gset
\connect :"admin"
SELECT count(*) AS records FROM regress_records_of(:tls_pid);
SELECT r->>'event' AS event, r->>'outcome' AS outcome, r->>'user' AS "user",
       r->>'database' AS database, r->'ssl' AS ssl, r->>'protocol' AS protocol,
       r->>'auth_method' AS method, r->'hba_line' AS hba_line,
       r->>'identity' AS identity, r->>'policy' AS policy,
       r->>'client_dn' AS client_dn, r->>'issuer_dn' AS issuer_dn
FROM regress_records_of(:tls_pid) r;
-- the same protocol, cipher, bits and serial as pg_stat_ssl
SELECT r->>'protocol' = :'tls_version' AS same_version,
       r->>'cipher' = :'tls_cipher' AS same_cipher,
       (r->>'bits')::int = :tls_bits AS same_bits,
       r->>'client_serial' = :'tls_serial' AS same_serial,
       r->>'client_fingerprint_sha256' ~ '^[0-9a-f]{64}$' AS fingerprint_ok,
       (r->>'client_not_after')::timestamptz > now() AS not_expired,
       r->>'hba_file' = current_setting('hba_file') AS hba_file_ok
FROM regress_records_of(:tls_pid) r;

-- 2. TLS 1.2 forced by the client, password authentication
\set c :base ' user=regress_alice password=regress_pw sslmode=verify-full ssl_max_protocol_version=TLSv1.2' :nocert
\connect :"c"
SELECT pid AS tls_pid, version AS tls_version, cipher AS tls_cipher
FROM pg_stat_ssl WHERE pid = pg_backend_pid() \gset
\connect :"admin"
SELECT r->>'outcome' AS outcome, r->>'protocol' AS protocol,
       r->>'protocol' = :'tls_version' AS same_version,
       r->>'cipher' = :'tls_cipher' AS same_cipher,
       r->>'auth_method' AS method, r->>'identity' AS identity,
       r->'client_cert' AS client_cert, r->'client_dn' AS client_dn
FROM regress_records_of(:tls_pid) r;

-- 3. plaintext, on the hostnossl line
\set c :base ' user=regress_plain_user password=regress_pw sslmode=disable'
\connect :"c"
SELECT pg_backend_pid() AS plain_pid \gset
\connect :"admin"
SELECT r->>'outcome' AS outcome, r->'ssl' AS ssl, r->'protocol' AS protocol,
       r->>'policy' AS policy, r->'hba_line' AS hba_line
FROM regress_records_of(:plain_pid) r;

-- 4. this very session (local socket, trust) was recorded too
SELECT r->>'outcome' AS outcome, r->>'remote_host' AS remote_host,
       r->'ssl' AS ssl, r->>'auth_method' AS method, r->>'policy' AS policy
FROM regress_records_of(pg_backend_pid()) r;

DROP FUNCTION regress_records_of(integer);
DROP TABLE regress_logfile;
