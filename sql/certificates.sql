--
-- certificates: certificate_info(), crl_info(), the server_certificates and
-- crls views, expiring(), server_key_check() and privileges, against the
-- harness PKI (test/pki/make_pki.sh).  Dates and random serials change on
-- every run, so they are compared with what the openssl CLI printed when
-- the PKI was made (the .serial_hex, .fp256, .not_before and .not_after
-- files), not printed; serials chosen by the PKI are printed.
--
\set VERBOSITY terse
\getenv pki PGTLS_PKI
\getenv logfile PGTLS_LOGFILE

SHOW pgtls_audit.expiry_warning_days;

CREATE FUNCTION regress_pem(name text) RETURNS text
LANGUAGE sql AS $$ SELECT pg_read_file(current_setting('regress.pki') || '/' || name) $$;
CREATE FUNCTION regress_meta(name text) RETURNS text
LANGUAGE sql AS $$ SELECT btrim(pg_read_file(current_setting('regress.pki') || '/' || name), E' \n') $$;
SELECT set_config('regress.pki', :'pki', false) IS NOT NULL AS pki_set;

-- 1. the server chain: leaf first, then the intermediate; SANs with DNS and IP
SELECT c."position", subject_dn, issuer_dn, status, key_type, key_bits,
       signature_algorithm, subject_alt_names, is_ca, self_signed,
       c.serial = regress_meta(m || '.serial_hex') AS same_serial,
       c.sha256_fingerprint = regress_meta(m || '.fp256') AS same_fp,
       c.not_before = regress_meta(m || '.not_before')::timestamptz AS same_not_before,
       c.not_after = regress_meta(m || '.not_after')::timestamptz AS same_not_after,
       not_after - not_before AS lifetime, days_left
FROM pgtls_audit.certificate_info(regress_pem('server.crt')) WITH ORDINALITY AS c,
     (VALUES (1, 'server_leaf'), (2, 'intermediate_ca')) AS f(p, m)
WHERE f.p = c."position"
ORDER BY c.ordinality;
-- the leaf alone is the same certificate
SELECT (SELECT sha256_fingerprint FROM pgtls_audit.certificate_info(regress_pem('server_leaf.crt'))) =
       (SELECT sha256_fingerprint FROM pgtls_audit.certificate_info(regress_pem('server.crt')) WHERE "position" = 1)
       AS leaf_is_first;

-- 2. the root: self-signed CA; the bundle holds root and intermediate
SELECT subject_dn, is_ca, self_signed, not_after - not_before AS lifetime,
       serial = regress_meta('root_ca.serial_hex') AS same_serial,
       sha256_fingerprint = regress_meta('root_ca.fp256') AS same_fp
FROM pgtls_audit.certificate_info(regress_pem('root_ca.crt'));
SELECT "position", subject_dn, is_ca FROM pgtls_audit.certificate_info(regress_pem('ca_bundle.crt'));

-- 3. client certificates: serial, fingerprint and dates as openssl printed them
SELECT n, c.subject_dn, c.status, c.key_type, c.key_bits,
       c.serial = regress_meta('client_' || n || '.serial_hex') AS same_serial,
       c.sha256_fingerprint = regress_meta('client_' || n || '.fp256') AS same_fp,
       c.not_before = regress_meta('client_' || n || '.not_before')::timestamptz AS same_not_before,
       c.not_after = regress_meta('client_' || n || '.not_after')::timestamptz AS same_not_after
FROM unnest(ARRAY['regress_cert_user', 'ec', 'expired', 'expiring', 'revoked', 'untrusted',
                  'serial_small', 'serial_big']) AS n,
     pgtls_audit.certificate_info(regress_pem('client_' || n || '.crt')) AS c
ORDER BY n;
-- serials the PKI chose: a leading zero digit (printed, as openssl does:
-- two digits per byte) and 20 bytes with the top bit set (no sign byte)
SELECT n, serial FROM unnest(ARRAY['serial_small', 'serial_big']) AS n,
     pgtls_audit.certificate_info(regress_pem('client_' || n || '.crt'))
ORDER BY n;
-- _serial_hex(): pg_stat_ssl's decimal serial in openssl's hex, for every
-- client certificate of the PKI (decimal and hex both from the PKI)
SELECT count(*) AS certificates,
       count(*) FILTER (WHERE pgtls_audit._serial_hex(regress_meta(f || '.serial')) = regress_meta(f || '.serial_hex')) AS same_hex
FROM unnest(ARRAY['regress_cert_user', 'regress_scram_user', 'regress_plain_user', 'regress_app',
                  'regress_alice', 'regress_bob', 'longdn', 'expired', 'untrusted', 'expiring',
                  'ec', 'revoked', 'serial_small', 'serial_big']) AS n,
     LATERAL (SELECT 'client_' || n) AS x(f);
SELECT d, pgtls_audit._serial_hex(d) AS hex
FROM unnest(ARRAY['0', '15', '255', '256', '18446744073709551616', '', '12a', '-1', ' 1']) WITH ORDINALITY AS t(d, o)
ORDER BY o;
-- RFC 2253 with escapes and UTF-8, as openssl prints it
SELECT subject_dn, subject_dn = regress_meta('client_longdn.dn') AS same_dn,
       octet_length(subject_dn) AS bytes
FROM pgtls_audit.certificate_info(regress_pem('client_longdn.crt'));

-- 4. expired, not yet valid, expiring, and the warning window
-- (1609459200 is 2021-01-01 00:00:00 UTC, the PKI's fixed notAfter)
SELECT not_before, not_after,
       days_left = floor((1609459200 - date_part('epoch', now())) / 86400) AS days_left_ok, status
FROM pgtls_audit.certificate_info(regress_pem('client_expired.crt'));
-- valid from 30 days from now for a year: not_yet_valid comes before
-- expiring, even with a warning window that covers its notAfter
SELECT "position", status, days_left, not_after - not_before AS lifetime,
       not_before = regress_meta('server_future.not_before')::timestamptz AS same_not_before,
       date_trunc('day', not_before - now()) AS starts_in
FROM pgtls_audit.certificate_info(regress_pem('server_future.crt')) WHERE "position" = 1;
SET pgtls_audit.expiry_warning_days = 3650;
SELECT "position", status FROM pgtls_audit.certificate_info(regress_pem('server_future.crt'));
RESET pgtls_audit.expiry_warning_days;
SELECT 'server_expiring' AS cert, days_left, status
FROM pgtls_audit.certificate_info(regress_pem('server_expiring.crt')) WHERE "position" = 1
UNION ALL
SELECT 'client_expiring', days_left, status
FROM pgtls_audit.certificate_info(regress_pem('client_expiring.crt'));
SET pgtls_audit.expiry_warning_days = 7;
SELECT 'server_expiring' AS cert, status
FROM pgtls_audit.certificate_info(regress_pem('server_expiring.crt')) WHERE "position" = 1
UNION ALL
SELECT 'client_expiring', status
FROM pgtls_audit.certificate_info(regress_pem('client_expiring.crt'));
RESET pgtls_audit.expiry_warning_days;
SET pgtls_audit.expiry_warning_days = -1;
SET pgtls_audit.expiry_warning_days = 'many';

-- 5. EC keys
SELECT subject_dn, key_type, key_bits, subject_alt_names
FROM pgtls_audit.certificate_info(regress_pem('server_ec.crt')) WHERE "position" = 1;

-- 6. Debian's CA bundle: one row per certificate in the file
SELECT (SELECT count(*) FROM pgtls_audit.certificate_info(pg_read_file('/etc/ssl/certs/ca-certificates.crt'))) =
       (SELECT count(*) FROM regexp_matches(pg_read_file('/etc/ssl/certs/ca-certificates.crt'), 'BEGIN CERTIFICATE', 'g'))
       AS debian_bundle_complete,
       (SELECT count(*) > 100 FROM pgtls_audit.certificate_info(pg_read_file('/etc/ssl/certs/ca-certificates.crt')))
       AS many,
       (SELECT bool_and(is_ca) FROM pgtls_audit.certificate_info(pg_read_file('/etc/ssl/certs/ca-certificates.crt')))
       AS all_ca;

-- 7. DER, as bytea: one certificate, two concatenated; PEM as bytea too
\set cmd 'cat >/dev/null && cd ' :pki ' && openssl x509 -in server_leaf.crt -outform DER -out regress_leaf.der && openssl x509 -in root_ca.crt -outform DER -out regress_root.der && cat regress_leaf.der regress_root.der > regress_two.der && openssl req -new -key server.key -subj /CN=regress_csr -out regress.csr 2>/dev/null && openssl pkey -in server.key -outform DER -out regress_key.der && openssl rsa -in server.key -traditional -outform DER -out regress_key_pkcs1.der 2>/dev/null && openssl ec -in server_ec.key -outform DER -out regress_key_sec1.der 2>/dev/null && openssl pkcs8 -topk8 -in server.key -v2 aes-256-cbc -passout pass:regress -outform DER -out regress_key_enc.der && openssl pkey -in server.key -pubout -outform DER -out regress_pub.der && openssl rsa -in server.key -RSAPublicKey_out -outform DER -out regress_pub_pkcs1.der 2>/dev/null && openssl rsa -in server.key -traditional -out regress_key_pkcs1.pem 2>/dev/null && openssl pkcs8 -topk8 -in server_ec.key -v2 aes-256-cbc -passout pass:regress -out regress_key_enc.pem'
COPY (SELECT 1) TO PROGRAM :'cmd';
SELECT "position", subject_dn,
       sha256_fingerprint = (SELECT sha256_fingerprint FROM pgtls_audit.certificate_info(regress_pem('server_leaf.crt'))) AS same_fp
FROM pgtls_audit.certificate_info(pg_read_binary_file(:'pki' || '/regress_leaf.der'));
SELECT "position", subject_dn FROM pgtls_audit.certificate_info(pg_read_binary_file(:'pki' || '/regress_two.der'));
SELECT count(*) FROM pgtls_audit.certificate_info(convert_to(regress_pem('server.crt'), 'UTF8'));

-- 8. bad input: a clear ERROR with an errcode, or zero rows
\set VERBOSITY default
SELECT count(*) FROM pgtls_audit.certificate_info('');
SELECT count(*) FROM pgtls_audit.certificate_info(E'  \n ');
SELECT count(*) FROM pgtls_audit.certificate_info(NULL::text);
SELECT count(*) FROM pgtls_audit.certificate_info(''::bytea);
\set ON_ERROR_STOP 0
\set SHOW_CONTEXT never
\set VERBOSITY sqlstate
-- garbage
SELECT * FROM pgtls_audit.certificate_info('garbage');
-- truncated PEM (no END line)
SELECT * FROM pgtls_audit.certificate_info(left(regress_pem('server_leaf.crt'), 400));
-- a complete PEM block whose contents are cut short
SELECT * FROM pgtls_audit.certificate_info(
  regexp_replace(regress_pem('server_leaf.crt'), '\n[^\n]*\n[^\n]*\n-----END', E'\n-----END'));
-- a PEM block with invalid base64
SELECT * FROM pgtls_audit.certificate_info(
  E'-----BEGIN CERTIFICATE-----\n!!!!not*base64!!!!\n-----END CERTIFICATE-----\n');
-- DER bytes given as text (escaped), and broken DER as bytea
SELECT * FROM pgtls_audit.certificate_info(encode(pg_read_binary_file(:'pki' || '/regress_leaf.der'), 'escape'));
SELECT * FROM pgtls_audit.certificate_info(substring(pg_read_binary_file(:'pki' || '/regress_leaf.der') from 1 for 300));
SELECT * FROM pgtls_audit.certificate_info('\x3000'::bytea);
-- DER public keys are not private keys: SubjectPublicKeyInfo, PKCS#1
SELECT * FROM pgtls_audit.certificate_info(pg_read_binary_file(:'pki' || '/regress_pub.der'));
SELECT * FROM pgtls_audit.certificate_info(pg_read_binary_file(:'pki' || '/regress_pub_pkcs1.der'));
-- private keys: PEM (RSA and EC, PKCS#8; RSA PKCS#1; encrypted PKCS#8),
-- alone and inside a bundle, as text and as bytea; DER (RSA PKCS#8 and
-- PKCS#1, EC SEC1, encrypted PKCS#8, after a certificate); crl_info() too.
-- Most keys are in the statement text (psql variables), so that the log
-- check below shows that the statements were kept out of the server log.
SELECT (pg_catalog.pg_stat_file(:'logfile')).size AS log_start,
       regress_pem('server.key') AS rsa_pem, regress_pem('server_ec.key') AS ec_pem,
       encode(pg_read_binary_file(:'pki' || '/regress_key.der'), 'hex') AS der_hex,
       encode(pg_read_binary_file(:'pki' || '/regress_key_pkcs1.der'), 'hex') AS pkcs1_hex,
       encode(pg_read_binary_file(:'pki' || '/regress_key_sec1.der'), 'hex') AS sec1_hex,
       encode(pg_read_binary_file(:'pki' || '/regress_key_enc.der'), 'hex') AS enc_hex,
       encode(pg_read_binary_file(:'pki' || '/regress_leaf.der'), 'hex') AS leaf_hex \gset
SELECT * FROM pgtls_audit.certificate_info(:'rsa_pem');
SELECT * FROM pgtls_audit.certificate_info(:'ec_pem');
SELECT * FROM pgtls_audit.certificate_info(regress_pem('server.crt') || :'rsa_pem');
SELECT * FROM pgtls_audit.certificate_info(convert_to(:'ec_pem', 'UTF8'));
SELECT * FROM pgtls_audit.certificate_info(regress_pem('regress_key_pkcs1.pem'));
SELECT * FROM pgtls_audit.certificate_info(regress_pem('regress_key_enc.pem'));
SELECT * FROM pgtls_audit.certificate_info(decode(:'der_hex', 'hex'));
SELECT * FROM pgtls_audit.certificate_info(decode(:'pkcs1_hex', 'hex'));
SELECT * FROM pgtls_audit.certificate_info(decode(:'sec1_hex', 'hex'));
SELECT * FROM pgtls_audit.certificate_info(decode(:'enc_hex', 'hex'));
SELECT * FROM pgtls_audit.certificate_info(decode(:'leaf_hex' || :'der_hex', 'hex'));
SELECT * FROM pgtls_audit.crl_info(:'rsa_pem');
-- a certificate signing request, a CRL
SELECT * FROM pgtls_audit.certificate_info(regress_pem('regress.csr'));
SELECT * FROM pgtls_audit.certificate_info(regress_pem('crl.pem'));
-- 10 MB
SELECT * FROM pgtls_audit.certificate_info(repeat('x', 10 * 1024 * 1024));
\set VERBOSITY default
-- the messages in full, once
SELECT * FROM pgtls_audit.certificate_info(:'rsa_pem');
SELECT * FROM pgtls_audit.certificate_info(decode(:'der_hex', 'hex'));
SELECT * FROM pgtls_audit.certificate_info(regress_pem('regress.csr'));
SELECT * FROM pgtls_audit.certificate_info('garbage');
SELECT * FROM pgtls_audit.crl_info(regress_pem('server.crt'));
-- control: an ordinary error is logged with its statement
SELECT 1 / 0 AS regress_control;
\set VERBOSITY terse
\set ON_ERROR_STOP 1
-- nothing of the keys reached the server log: the fourteen errors about
-- keys are there, without their statements (log_min_error_statement is
-- error; the one STATEMENT line is the control's): no PEM label, no
-- base64 line, no 32 bytes of any DER key in hex
SELECT (SELECT count(*) FROM regexp_matches(l, 'ERROR:  input contains a private key', 'g')) AS key_errors,
       (SELECT count(*) FROM regexp_matches(l, 'STATEMENT:', 'g')) AS statements,
       strpos(l, 'STATEMENT:  SELECT 1 / 0 AS regress_control') > 0 AS control_logged,
       strpos(l, 'PRIVATE KEY') AS pem_label_at,
       (SELECT count(*) FROM regexp_split_to_table(:'rsa_pem' || :'ec_pem', E'\n') b
         WHERE b !~ '^-----' AND length(b) >= 16 AND strpos(l, b) > 0) AS base64_lines_found,
       (SELECT count(*) FROM unnest(ARRAY[:'der_hex', :'pkcs1_hex', :'sec1_hex', :'enc_hex']) h
         WHERE strpos(lower(l), substr(h, 101, 64)) > 0) AS der_keys_found
FROM (SELECT pg_read_file(:'logfile', :log_start, 1000000000) AS l) s;
-- a 10 MB bundle of valid certificates is read in full
SELECT count(*) = (10 * 1024 * 1024) / length(regress_pem('server_leaf.crt')) AS all_rows
FROM pgtls_audit.certificate_info(repeat(regress_pem('server_leaf.crt'), (10 * 1024 * 1024) / length(regress_pem('server_leaf.crt'))));

-- 9. CRLs: current with one revoked entry, stale, both in one bundle
-- (each CA's CRL numbers start at 1000, hex; the root issued crl_stale.pem
-- first, then crl_root.pem; made minutes ago, so 29 whole days are left)
SELECT "position", issuer_dn, crl_number, revoked_count, status,
       next_update - last_update AS validity, days_left, signature_algorithm
FROM pgtls_audit.crl_info(regress_pem('crl.pem'));
SELECT issuer_dn, crl_number, revoked_count, status, next_update - last_update AS validity, days_left
FROM pgtls_audit.crl_info(regress_pem('crl_stale.pem'));
SELECT "position", issuer_dn, crl_number, status, days_left FROM pgtls_audit.crl_info(regress_pem('crl_chain.pem'));
SELECT count(*) FROM pgtls_audit.crl_info('');

-- 10. the configured files: chain, CA bundle, verification, served certificate
SELECT source, path = :'pki' || '/' || CASE source WHEN 'ssl_cert_file' THEN 'server.crt' ELSE 'ca_bundle.crt' END AS path_ok,
       "position", subject_dn, status, chain_verifies, chain_error, is_served, note
FROM pgtls_audit.server_certificates;
SELECT count(*) FROM pgtls_audit.crls;		-- no CRL configured here

-- 11. expiring(): nothing within 30 days on the server side here; a wide
-- window lists the server chain and the CA certificates, soonest first
SELECT kind, source, subject_dn, status FROM pgtls_audit.expiring()
WHERE kind <> 'client_certificate';
SELECT kind, subject_dn, status, days_left,
       serial = regress_meta(CASE WHEN kind = 'server_certificate' THEN 'server_leaf'
                                  WHEN subject_dn LIKE 'CN=pgtls_audit Test Root CA%' THEN 'root_ca'
                                  ELSE 'intermediate_ca' END || '.serial_hex') AS same_serial,
       expires = regress_meta(CASE WHEN kind = 'server_certificate' THEN 'server_leaf'
                                   WHEN subject_dn LIKE 'CN=pgtls_audit Test Root CA%' THEN 'root_ca'
                                   ELSE 'intermediate_ca' END || '.not_after')::timestamptz AS same_expires
FROM pgtls_audit.expiring('20 years') WHERE kind <> 'client_certificate'
ORDER BY kind, subject_dn;
-- soonest first
SELECT bool_and(expires >= prev) AS sorted
FROM (SELECT expires, lag(expires) OVER (ORDER BY n) AS prev
      FROM pgtls_audit.expiring('20 years') WITH ORDINALITY AS e(kind, source, path, subject_dn, issuer_dn, serial, expires, days_left, status, action, n)) s;
-- client certificates seen by the inventory (earlier tests logged in with
-- some): their hex serials are openssl's for one of the PKI's certificates
SELECT count(*) > 0 AS some_seen,
       count(*) FILTER (WHERE e.serial IN (
           SELECT regress_meta('client_' || n || '.serial_hex')
           FROM unnest(ARRAY['regress_cert_user', 'regress_scram_user', 'regress_plain_user',
                             'regress_app', 'regress_alice', 'regress_bob', 'longdn', 'expired',
                             'untrusted', 'expiring', 'ec', 'revoked']) AS n)) = count(*) AS all_from_pki
FROM pgtls_audit.expiring('20 years') e WHERE e.kind = 'client_certificate';

-- 12. the server's key
SELECT key_file = :'pki' || '/server.key' AS key_file_ok, present, mode,
       permissions_ok, readable, key_type, key_bits, encrypted,
       matches_certificate, passphrase_command_set, problem
FROM pgtls_audit.server_key_check();

-- 13. privileges: certificate data and the key check for pg_monitor
SELECT regress_pem('server.crt') AS server_pem \gset
-- what a superuser gets from expiring('20 years'): the four server-side
-- certificates and every client certificate of the inventory
SELECT count(*) AS su_expiring_n,
       md5(string_agg(e::text, E'\n' ORDER BY e::text)) AS su_expiring_md5
FROM pgtls_audit.expiring('20 years') e \gset
SELECT :su_expiring_n = 4 + (SELECT count(*) FROM pgtls_audit.client_certificates
                             WHERE not_after <= now() + interval '20 years') AS su_count_exact;
CREATE ROLE regress_cert_monitor IN ROLE pg_monitor;
CREATE ROLE regress_cert_nobody;
SET ROLE regress_cert_monitor;
SELECT count(*) FROM pgtls_audit.server_certificates;
SELECT count(*) FROM pgtls_audit.crls;
-- pg_monitor has the privileges of pg_read_all_stats: the same rows
SELECT count(*) = :su_expiring_n AS same_count,
       md5(string_agg(e::text, E'\n' ORDER BY e::text)) = :'su_expiring_md5' AS same_rows
FROM pgtls_audit.expiring('20 years') e;
\set ON_ERROR_STOP 0
SELECT present, permissions_ok, matches_certificate, problem FROM pgtls_audit.server_key_check();
RESET ROLE;
SET ROLE regress_cert_nobody;
SELECT count(*) FROM pgtls_audit.server_certificates;
SELECT count(*) FROM pgtls_audit.expiring();
SELECT count(*) FROM pgtls_audit._server_certificates();
\set ON_ERROR_STOP 1
-- anyone may parse a certificate
SELECT count(*) FROM pgtls_audit.certificate_info(:'server_pem');
SELECT count(*) FROM pgtls_audit.crl_info('');
RESET ROLE;
-- a superuser can grant the key check to any role
GRANT EXECUTE ON FUNCTION pgtls_audit.server_key_check() TO regress_cert_nobody;
SET ROLE regress_cert_nobody;
\set ON_ERROR_STOP 0
SELECT present, permissions_ok, matches_certificate, problem FROM pgtls_audit.server_key_check();
\set ON_ERROR_STOP 1
RESET ROLE;
REVOKE EXECUTE ON FUNCTION pgtls_audit.server_key_check() FROM regress_cert_nobody;
DROP ROLE regress_cert_monitor, regress_cert_nobody;

-- cancellable: 20,000 PEM certificates (and 40,000 DER ones) followed by
-- a bad block.  Parsing them takes far longer than the timeout; without
-- interrupt checks inside the parser it would run to the end and report
-- the bad block instead.  The inputs are built before the timeout is set.
CREATE TEMP TABLE regress_big AS
SELECT repeat(regress_pem('server_leaf.crt'), 20000) ||
       E'-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n' AS pem,
       (SELECT string_agg(d, ''::bytea) FROM generate_series(1, 40000),
               pg_read_binary_file(current_setting('regress.pki') || '/regress_leaf.der') AS d)
       || '\x30ff'::bytea AS der;
SET statement_timeout = '100ms';
\set ON_ERROR_STOP 0
SELECT count(*) FROM regress_big, pgtls_audit.certificate_info(pem);
SELECT count(*) FROM regress_big, pgtls_audit.certificate_info(der);
\set ON_ERROR_STOP 1
RESET statement_timeout;
-- without the timeout the same inputs end with the bad block
\set ON_ERROR_STOP 0
SELECT count(*) FROM regress_big, pgtls_audit.certificate_info(pem);
SELECT count(*) FROM regress_big, pgtls_audit.certificate_info(der);
\set ON_ERROR_STOP 1
DROP TABLE regress_big;
\set cmd 'cat >/dev/null && cd ' :pki ' && rm -f regress_leaf.der regress_root.der regress_two.der regress.csr regress_key.der regress_key_pkcs1.der regress_key_sec1.der regress_key_enc.der regress_pub.der regress_pub_pkcs1.der regress_key_pkcs1.pem regress_key_enc.pem'
COPY (SELECT 1) TO PROGRAM :'cmd';
DROP FUNCTION regress_pem(text), regress_meta(text);

