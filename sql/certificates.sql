--
-- certificates: certificate_info(), crl_info(), the server_certificates and
-- crls views, expiring(), server_key_check() and privileges, against the
-- harness PKI (test/pki/make_pki.sh).  Dates and serials change on every
-- run, so they are compared with the PKI's own files, not printed.
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
SELECT "position", subject_dn, issuer_dn, status, key_type, key_bits,
       signature_algorithm, subject_alt_names, is_ca, self_signed,
       serial ~ '^[0-9A-F]+$' AS serial_hex, sha256_fingerprint ~ '^[0-9a-f]{64}$' AS fp_ok,
       not_after - not_before AS lifetime,
       days_left = floor(date_part('epoch', not_after - now()) / 86400) AS days_left_ok
FROM pgtls_audit.certificate_info(regress_pem('server.crt'));
-- the leaf alone is the same certificate
SELECT (SELECT sha256_fingerprint FROM pgtls_audit.certificate_info(regress_pem('server_leaf.crt'))) =
       (SELECT sha256_fingerprint FROM pgtls_audit.certificate_info(regress_pem('server.crt')) WHERE "position" = 1)
       AS leaf_is_first;

-- 2. the root: self-signed CA; the bundle holds root and intermediate
SELECT subject_dn, is_ca, self_signed, not_after - not_before AS lifetime
FROM pgtls_audit.certificate_info(regress_pem('root_ca.crt'));
SELECT "position", subject_dn, is_ca FROM pgtls_audit.certificate_info(regress_pem('ca_bundle.crt'));

-- 3. client certificates: serial and fingerprint as the PKI wrote them
SELECT n, c.subject_dn, c.status, c.key_type, c.key_bits,
       c.serial = pgtls_audit._serial_hex(regress_meta('client_' || n || '.serial')) AS same_serial,
       c.sha256_fingerprint = regress_meta('client_' || n || '.fp256') AS same_fp
FROM unnest(ARRAY['regress_cert_user', 'ec', 'expired', 'expiring', 'revoked', 'untrusted']) AS n,
     pgtls_audit.certificate_info(regress_pem('client_' || n || '.crt')) AS c
ORDER BY n;
-- RFC 2253 with escapes and UTF-8, as openssl prints it
SELECT subject_dn = regress_meta('client_longdn.dn') AS same_dn, length(subject_dn) > 120 AS long
FROM pgtls_audit.certificate_info(regress_pem('client_longdn.crt'));

-- 4. expired, expiring, and the warning window
SELECT not_before, not_after, days_left < -365 AS long_expired, status
FROM pgtls_audit.certificate_info(regress_pem('client_expired.crt'));
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
\set cmd 'cd ' :pki ' && openssl x509 -in server_leaf.crt -outform DER -out regress_leaf.der && openssl x509 -in root_ca.crt -outform DER -out regress_root.der && cat regress_leaf.der regress_root.der > regress_two.der && openssl req -new -key server.key -subj /CN=regress_csr -out regress.csr 2>/dev/null && openssl pkey -in server.key -outform DER -out regress_key.der'
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
-- private keys: RSA (PKCS#8), EC, DER; alone and inside a bundle
SELECT * FROM pgtls_audit.certificate_info(regress_pem('server.key'));
SELECT * FROM pgtls_audit.certificate_info(regress_pem('server_ec.key'));
SELECT * FROM pgtls_audit.certificate_info(regress_pem('server.crt') || regress_pem('server.key'));
SELECT * FROM pgtls_audit.certificate_info(pg_read_binary_file(:'pki' || '/regress_key.der'));
-- a certificate signing request, a CRL
SELECT * FROM pgtls_audit.certificate_info(regress_pem('regress.csr'));
SELECT * FROM pgtls_audit.certificate_info(regress_pem('crl.pem'));
-- 10 MB
SELECT * FROM pgtls_audit.certificate_info(repeat('x', 10 * 1024 * 1024));
\set VERBOSITY default
-- the messages in full, once
SELECT * FROM pgtls_audit.certificate_info(regress_pem('server.key'));
SELECT * FROM pgtls_audit.certificate_info(regress_pem('regress.csr'));
SELECT * FROM pgtls_audit.certificate_info('garbage');
SELECT * FROM pgtls_audit.crl_info(regress_pem('server.crt'));
\set VERBOSITY terse
\set ON_ERROR_STOP 1
-- nothing of the keys reached the server log (the statements were hidden)
SELECT strpos(pg_read_file(:'logfile'), split_part(regress_pem('server.key'), E'\n', 2)) = 0 AS rsa_key_not_logged,
       strpos(pg_read_file(:'logfile'), split_part(regress_pem('server_ec.key'), E'\n', 2)) = 0 AS ec_key_not_logged;
-- a 10 MB bundle of valid certificates is read in full
SELECT count(*) = (10 * 1024 * 1024) / length(regress_pem('server_leaf.crt')) AS all_rows
FROM pgtls_audit.certificate_info(repeat(regress_pem('server_leaf.crt'), (10 * 1024 * 1024) / length(regress_pem('server_leaf.crt'))));

-- 9. CRLs: current with one revoked entry, stale, both in one bundle
SELECT "position", issuer_dn, crl_number ~ '^[0-9A-F]+$' AS number_hex, revoked_count, status,
       next_update - last_update AS validity, days_left BETWEEN 28 AND 30 AS days_left_ok
FROM pgtls_audit.crl_info(regress_pem('crl.pem'));
SELECT issuer_dn, revoked_count, status, days_left < 0 AS overdue
FROM pgtls_audit.crl_info(regress_pem('crl_stale.pem'));
SELECT "position", issuer_dn, status FROM pgtls_audit.crl_info(regress_pem('crl_chain.pem'));
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
SELECT kind, subject_dn, status, days_left > 300 AS far
FROM pgtls_audit.expiring('20 years') WHERE kind <> 'client_certificate'
ORDER BY kind, subject_dn;
-- soonest first
SELECT bool_and(expires >= prev) AS sorted
FROM (SELECT expires, lag(expires) OVER (ORDER BY n) AS prev
      FROM pgtls_audit.expiring('20 years') WITH ORDINALITY AS e(kind, source, path, subject_dn, issuer_dn, serial, expires, days_left, status, action, n)) s;
SELECT bool_and(e.serial = s.serial) AS same_serials
FROM pgtls_audit.expiring('20 years') e JOIN pgtls_audit.server_certificates s
  ON s.sha256_fingerprint IS NOT NULL AND e.subject_dn = s.subject_dn AND e.source = s.source;

-- 12. the server's key
SELECT key_file = :'pki' || '/server.key' AS key_file_ok, present, mode,
       permissions_ok, readable, key_type, key_bits, encrypted,
       matches_certificate, passphrase_command_set, problem
FROM pgtls_audit.server_key_check();

-- 13. privileges: certificate data and the key check for pg_monitor
SELECT regress_pem('server.crt') AS server_pem \gset
CREATE ROLE regress_cert_monitor IN ROLE pg_monitor;
CREATE ROLE regress_cert_nobody;
SET ROLE regress_cert_monitor;
SELECT count(*) FROM pgtls_audit.server_certificates;
SELECT count(*) FROM pgtls_audit.crls;
SELECT count(*) >= 0 AS ok FROM pgtls_audit.expiring();
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

\set cmd 'cd ' :pki ' && rm -f regress_leaf.der regress_root.der regress_two.der regress.csr regress_key.der'
COPY (SELECT 1) TO PROGRAM :'cmd';
DROP FUNCTION regress_pem(text), regress_meta(text);
