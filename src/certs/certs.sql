
-- src/certs/certs.sql: certificates, CRLs and the server key, read with
-- OpenSSL (src/certs/*.c).  Certificate data is public (the server
-- sends its certificates to every client), so certificate_info() and
-- crl_info() are open to all and the views are granted to pg_monitor; the
-- raw functions that read the configured files are not public, and the
-- key check (which never outputs key material) is granted to pg_monitor.  None of this needs the module in
-- shared_preload_libraries, except that outside a TLS session the served
-- certificate is known only when it is preloaded.

CREATE FUNCTION certificate_info(pem text,
    OUT "position" integer, OUT subject_dn text, OUT issuer_dn text,
    OUT serial text, OUT not_before timestamptz, OUT not_after timestamptz,
    OUT days_left integer, OUT status text, OUT key_type text,
    OUT key_bits integer, OUT signature_algorithm text,
    OUT subject_alt_names text[], OUT is_ca boolean, OUT self_signed boolean,
    OUT sha256_fingerprint text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_certificate_info'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION certificate_info(text) IS
'One row per certificate in a PEM bundle: names, serial, validity, expiry status, key, signature algorithm, SANs, CA flag, SHA-256 fingerprint';

CREATE FUNCTION certificate_info(data bytea,
    OUT "position" integer, OUT subject_dn text, OUT issuer_dn text,
    OUT serial text, OUT not_before timestamptz, OUT not_after timestamptz,
    OUT days_left integer, OUT status text, OUT key_type text,
    OUT key_bits integer, OUT signature_algorithm text,
    OUT subject_alt_names text[], OUT is_ca boolean, OUT self_signed boolean,
    OUT sha256_fingerprint text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_certificate_info_bytea'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION certificate_info(bytea) IS
'certificate_info() for DER certificates (one or several concatenated) or PEM given as bytes';

CREATE FUNCTION crl_info(pem text,
    OUT "position" integer, OUT issuer_dn text, OUT crl_number text,
    OUT last_update timestamptz, OUT next_update timestamptz,
    OUT days_left integer, OUT revoked_count integer, OUT status text,
    OUT signature_algorithm text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_crl_info'
LANGUAGE C STRICT STABLE PARALLEL SAFE;
COMMENT ON FUNCTION crl_info(text) IS
'One row per CRL in a PEM bundle: issuer, CRL number, lastUpdate, nextUpdate, revoked entries, status (current or stale)';

CREATE FUNCTION _server_certificates(
    OUT source text, OUT path text,
    OUT "position" integer, OUT subject_dn text, OUT issuer_dn text,
    OUT serial text, OUT not_before timestamptz, OUT not_after timestamptz,
    OUT days_left integer, OUT status text, OUT key_type text,
    OUT key_bits integer, OUT signature_algorithm text,
    OUT subject_alt_names text[], OUT is_ca boolean, OUT self_signed boolean,
    OUT sha256_fingerprint text,
    OUT chain_verifies boolean, OUT chain_error text, OUT is_served boolean,
    OUT note text, OUT host_names text[], OUT hosts_file text,
    OUT hosts_line integer, OUT hosts_field text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_server_certificates'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
REVOKE ALL ON FUNCTION _server_certificates() FROM PUBLIC;

CREATE VIEW server_certificates AS SELECT * FROM _server_certificates();
COMMENT ON VIEW server_certificates IS
'Every certificate in ssl_cert_file (leaf first) and ssl_ca_file, the served leaf when it differs from the file, on PostgreSQL 19 with ssl_sni on every pg_hosts.conf line''s certificate, chain and CA file (source pg_hosts.conf, with the line''s host names, file and line number), chain verification, and problems with the files';

CREATE FUNCTION _crls(
    OUT source text, OUT path text,
    OUT "position" integer, OUT issuer_dn text, OUT crl_number text,
    OUT last_update timestamptz, OUT next_update timestamptz,
    OUT days_left integer, OUT revoked_count integer, OUT status text,
    OUT signature_algorithm text, OUT note text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_crls'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
REVOKE ALL ON FUNCTION _crls() FROM PUBLIC;

CREATE VIEW crls AS SELECT * FROM _crls();
COMMENT ON VIEW crls IS
'Every CRL in ssl_crl_file and in ssl_crl_dir (files named HASH.rN): issuer, dates, revoked entries, status (current or stale)';

-- Decimal serial (as pg_stat_ssl and the inventory show it) to hex.
CREATE FUNCTION _serial_hex(text)
RETURNS text
AS 'MODULE_PATHNAME', 'pgtls_audit_serial_hex'
LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE;

-- Client certificates seen by the connection inventory (10_inventory.sql),
-- or none when the module is not preloaded (the inventory then ERRORs).
CREATE FUNCTION _expiring_client_certificates(within interval)
RETURNS TABLE (subject_dn text, issuer_dn text, serial text,
               not_after timestamptz, days_left integer, roles text[],
               last_seen timestamptz)
LANGUAGE plpgsql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF (SELECT st.preloaded FROM @extschema@.status() st) THEN
        RETURN QUERY
        SELECT cc.subject_dn, cc.issuer_dn, cc.serial, cc.not_after,
               cc.days_left, cc.roles, cc.last_seen
        FROM @extschema@.client_certificates cc
        WHERE cc.not_after IS NOT NULL AND cc.not_after <= now() + within;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION _expiring_client_certificates(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION _expiring_client_certificates(interval) TO pg_monitor;

CREATE FUNCTION expiring(
    within interval DEFAULT pg_catalog.make_interval(days => COALESCE(
        pg_catalog.current_setting('pgtls_audit.expiry_warning_days', true), '30')::integer))
RETURNS TABLE (kind text, source text, path text, subject_dn text,
               issuer_dn text, serial text, expires timestamptz,
               days_left integer, status text, action text)
LANGUAGE sql STABLE
SET search_path = pg_catalog, pg_temp
AS $$
    SELECT e.kind, e.source, e.path, e.subject_dn, e.issuer_dn, e.serial,
           e.expires, e.days_left, e.status, e.action
    FROM (
        -- the server's chain, the certificate it serves, the CA certificates
        SELECT CASE WHEN s.source = 'ssl_ca_file' OR s.hosts_field = 'ssl_ca' THEN 'ca_certificate'
                    WHEN s.source = 'served' THEN 'served_certificate'
                    WHEN s."position" = 1 THEN 'server_certificate'
                    ELSE 'server_chain_certificate' END AS kind,
               s.source, s.path, s.subject_dn, s.issuer_dn, s.serial,
               s.not_after AS expires, s.days_left, s.status,
               CASE WHEN s.source = 'pg_hosts.conf' AND s.hosts_field = 'ssl_ca' THEN
                        'Add the renewed CA certificate to the SSL_CA file of ' || s.hosts_file || ' line ' || s.hosts_line ||
                        ' (hosts ' || array_to_string(s.host_names, ', ') || '), then SELECT pg_reload_conf(); once it expires, the server refuses the client certificates it signed for these hosts.'
                    WHEN s.source = 'pg_hosts.conf' AND s."position" = 1 THEN
                        'Renew the certificate of ' || s.hosts_file || ' line ' || s.hosts_line ||
                        ' (hosts ' || array_to_string(s.host_names, ', ') || '), replace its SSL_CERTIFICATE file (and SSL_KEY if the key changes), then SELECT pg_reload_conf(); clients connecting to these names with sslmode=verify-ca or verify-full refuse an expired one.'
                    WHEN s.source = 'pg_hosts.conf' THEN
                        'Get the renewed intermediate certificate from the CA, update the chain in the SSL_CERTIFICATE file of ' || s.hosts_file || ' line ' || s.hosts_line || ', then SELECT pg_reload_conf().'
                    WHEN s.source = 'ssl_ca_file' THEN
                        'Add the renewed CA certificate to ssl_ca_file (keep the old one until every client certificate it signed is replaced), then SELECT pg_reload_conf(); once it expires, the server refuses the client certificates it signed.'
                    WHEN s.source = 'served' THEN
                        'The server still serves this certificate although ssl_cert_file holds another: SELECT pg_reload_conf() to serve the file.'
                    WHEN s."position" = 1 THEN
                        'Renew the server certificate, replace ssl_cert_file (and ssl_key_file if the key changes), then SELECT pg_reload_conf(); clients with sslmode=verify-ca or verify-full refuse an expired one.'
                    ELSE
                        'Get the renewed intermediate certificate from the CA, update the chain in ssl_cert_file, then SELECT pg_reload_conf().'
               END AS action
        FROM @extschema@.server_certificates s
        WHERE s.not_after IS NOT NULL
        UNION ALL
        -- CRLs: once nextUpdate has passed, the server refuses every client
        -- certificate of that CA
        SELECT 'crl', c.source, c.path, NULL, c.issuer_dn, c.crl_number,
               c.next_update, c.days_left,
               CASE WHEN c.status = 'stale' THEN 'stale'
                    WHEN c.next_update <= now() + make_interval(days => COALESCE(
                        current_setting('pgtls_audit.expiry_warning_days', true), '30')::integer)
                    THEN 'expiring' ELSE 'current' END,
               'Fetch a fresh CRL from the issuing CA into ' || c.source ||
               ' and SELECT pg_reload_conf(); once nextUpdate has passed, the server refuses every client certificate of this CA.'
        FROM @extschema@.crls c
        WHERE c.next_update IS NOT NULL
        UNION ALL
        -- BEGIN client certificates from the connection inventory
        SELECT 'client_certificate', 'inventory', NULL, cc.subject_dn,
               cc.issuer_dn, @extschema@._serial_hex(cc.serial), cc.not_after,
               cc.days_left,
               CASE WHEN cc.not_after < now() THEN 'expired'
                    WHEN cc.not_after <= now() + make_interval(days => COALESCE(
                        current_setting('pgtls_audit.expiry_warning_days', true), '30')::integer)
                    THEN 'expiring' ELSE 'valid' END,
               'Issue a new client certificate to ' ||
               COALESCE(array_to_string(cc.roles, ', '), 'its user') ||
               ' (last seen ' || to_char(cc.last_seen AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI "UTC"') ||
               ') and have it installed before this one expires; the server refuses an expired client certificate.'
        FROM @extschema@._expiring_client_certificates(within) cc
        -- END client certificates from the connection inventory
    ) e
    WHERE e.expires <= now() + within
    ORDER BY e.expires, e.kind, e.subject_dn, e.serial
$$;
COMMENT ON FUNCTION expiring(interval) IS
'Server chain, served and CA certificates (those of every pg_hosts.conf line too), CRLs and client certificates seen that expire within the interval (default pgtls_audit.expiry_warning_days) or already have, with what to do';

REVOKE ALL ON FUNCTION expiring(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION expiring(interval) TO pg_monitor;
GRANT EXECUTE ON FUNCTION _server_certificates(), _crls() TO pg_monitor;
GRANT SELECT ON server_certificates, crls TO pg_monitor;

CREATE FUNCTION server_key_check(
    OUT key_file text, OUT present boolean, OUT owner text, OUT mode text,
    OUT permissions_ok boolean, OUT readable boolean, OUT key_type text,
    OUT key_bits integer, OUT encrypted boolean,
    OUT matches_certificate boolean, OUT passphrase_command_set boolean,
    OUT problem text, OUT source text, OUT host_names text[],
    OUT hosts_file text, OUT hosts_line integer)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_server_key_check'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
REVOKE ALL ON FUNCTION server_key_check() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION server_key_check() TO pg_monitor;
COMMENT ON FUNCTION server_key_check() IS
'Granted to pg_monitor: ssl_key_file (and on PostgreSQL 19 with ssl_sni on the key of every pg_hosts.conf line) present, owner and permissions acceptable to the server, readable, key type and size, encrypted, matches its certificate; never shows key material';
