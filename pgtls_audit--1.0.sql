-- pgtls_audit--1.0.sql: release 1.0 as shipped (frozen: never edit; changes go
-- into pgtls_audit--1.0--1.1.sql and the src/sql fragments of 1.1)

-- complain if script is sourced in psql, rather than via CREATE EXTENSION
\echo Use "CREATE EXTENSION pgtls_audit" to load this file. \quit

-- 00_schema.sql: module status.

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

-- 10_inventory.sql: the connection inventory kept in shared memory.
-- The raw functions filter rows by privilege in C (pg_stat_statements
-- style): members of pg_read_all_stats see every row, other roles only
-- rows of their own user name.

CREATE FUNCTION connections_raw(
    OUT ts timestamptz, OUT pid integer, OUT event text, OUT outcome text,
    OUT reason text, OUT sqlstate text, OUT remote_host text,
    OUT remote_port text, OUT user_name text, OUT database_name text,
    OUT application_name text, OUT ssl boolean, OUT protocol text,
    OUT cipher text, OUT bits integer, OUT client_cert boolean,
    OUT client_dn text, OUT issuer_dn text, OUT client_serial text,
    OUT client_not_after timestamptz, OUT client_fingerprint text,
    OUT hba_file text, OUT hba_line integer, OUT auth_method text,
    OUT identity text, OUT policy text, OUT gss_encrypted boolean)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_connections'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW connections AS
  SELECT * FROM connections_raw() ORDER BY ts DESC;
COMMENT ON VIEW connections IS
'The most recent connection attempts (pgtls_audit.history_size), newest first, failures included';

CREATE FUNCTION clients_raw(
    OUT user_name text, OUT database_name text, OUT client_addr text,
    OUT ssl boolean, OUT protocol text, OUT cipher text,
    OUT issuer_dn text, OUT client_serial text, OUT hba_file text,
    OUT hba_line integer, OUT auth_method text, OUT outcome text,
    OUT connections bigint, OUT first_seen timestamptz,
    OUT last_seen timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_clients'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW clients AS SELECT * FROM clients_raw();
COMMENT ON VIEW clients IS
'Distinct clients by user, database, address, TLS protocol and cipher, certificate, pg_hba line, method and outcome';

CREATE FUNCTION client_certificates_raw(
    OUT subject_dn text, OUT issuer_dn text, OUT serial text,
    OUT not_after timestamptz, OUT roles text[], OUT roles_truncated boolean,
    OUT connections bigint, OUT first_seen timestamptz,
    OUT last_seen timestamptz, OUT fingerprint text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_client_certificates'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW client_certificates AS
  SELECT subject_dn, issuer_dn, serial, not_after,
         pg_catalog.floor(pg_catalog.date_part('epoch', not_after - pg_catalog.now()) / 86400)::integer AS days_left,
         roles, roles_truncated, connections, first_seen, last_seen, fingerprint
  FROM client_certificates_raw();
COMMENT ON VIEW client_certificates IS
'Distinct client certificates seen (issuer and serial), with expiry and the roles that presented them';

CREATE FUNCTION hba_usage_raw(
    OUT hba_file text, OUT hba_line integer, OUT attempts bigint,
    OUT successes bigint, OUT failures bigint, OUT last_used timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_hba_usage'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW hba_usage AS SELECT * FROM hba_usage_raw() ORDER BY hba_file, hba_line;
COMMENT ON VIEW hba_usage IS
'Connection attempts per pg_hba.conf line that matched them';

CREATE FUNCTION stats_raw(
    OUT records_total bigint, OUT history_entries integer,
    OUT history_size integer, OUT history_overwritten bigint,
    OUT clients_entries integer, OUT max_clients integer,
    OUT clients_evicted bigint, OUT certificates_entries integer,
    OUT max_certificates integer, OUT certificates_evicted bigint,
    OUT hba_entries integer, OUT hba_evicted bigint,
    OUT records_dropped bigint, OUT values_truncated bigint,
    OUT stats_reset timestamptz)
RETURNS record
AS 'MODULE_PATHNAME', 'pgtls_audit_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW stats AS SELECT * FROM stats_raw();
COMMENT ON VIEW stats IS
'Inventory sizes, evictions, dropped records and truncated values since the last reset';

CREATE FUNCTION reset()
RETURNS void
AS 'MODULE_PATHNAME', 'pgtls_audit_reset'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION reset() IS
'Clears the whole inventory; superuser only unless granted';

-- Privileges.  Row filtering happens in C; who sees pg_hba usage and can
-- reset is decided here.
REVOKE ALL ON FUNCTION hba_usage_raw() FROM PUBLIC;
REVOKE ALL ON hba_usage FROM PUBLIC;
GRANT EXECUTE ON FUNCTION hba_usage_raw() TO pg_read_all_stats;
GRANT SELECT ON hba_usage TO pg_read_all_stats;
REVOKE ALL ON FUNCTION reset() FROM PUBLIC;
GRANT SELECT ON connections, clients, client_certificates, stats TO PUBLIC;

-- 20_certificates.sql: certificates, CRLs and the server key, read with
-- OpenSSL (src/certificates.c).  Certificate data is public (the server
-- sends its certificates to every client), so certificate_info() and
-- crl_info() are open to all and the views are granted to pg_monitor; the
-- raw functions that read the configured files are not public, and the
-- key check is for superusers only.  None of this needs the module in
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
    OUT note text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_server_certificates'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
REVOKE ALL ON FUNCTION _server_certificates() FROM PUBLIC;

CREATE VIEW server_certificates AS SELECT * FROM _server_certificates();
COMMENT ON VIEW server_certificates IS
'Every certificate in ssl_cert_file (leaf first) and ssl_ca_file, the served leaf when it differs from the file, chain verification, and problems with the files';

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
        SELECT CASE WHEN s.source = 'ssl_ca_file' THEN 'ca_certificate'
                    WHEN s.source = 'served' THEN 'served_certificate'
                    WHEN s."position" = 1 THEN 'server_certificate'
                    ELSE 'server_chain_certificate' END AS kind,
               s.source, s.path, s.subject_dn, s.issuer_dn, s.serial,
               s.not_after AS expires, s.days_left, s.status,
               CASE WHEN s.source = 'ssl_ca_file' THEN
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
'Server chain, served and CA certificates, CRLs and client certificates seen that expire within the interval (default pgtls_audit.expiry_warning_days) or already have, with what to do';

REVOKE ALL ON FUNCTION expiring(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION expiring(interval) TO pg_monitor;
GRANT EXECUTE ON FUNCTION _server_certificates(), _crls() TO pg_monitor;
GRANT SELECT ON server_certificates, crls TO pg_monitor;

CREATE FUNCTION server_key_check(
    OUT key_file text, OUT present boolean, OUT owner text, OUT mode text,
    OUT permissions_ok boolean, OUT readable boolean, OUT key_type text,
    OUT key_bits integer, OUT encrypted boolean,
    OUT matches_certificate boolean, OUT passphrase_command_set boolean,
    OUT problem text)
RETURNS record
AS 'MODULE_PATHNAME', 'pgtls_audit_server_key_check'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;
REVOKE ALL ON FUNCTION server_key_check() FROM PUBLIC;
COMMENT ON FUNCTION server_key_check() IS
'Superuser only: ssl_key_file present, owner and permissions acceptable to the server, readable, key type and size, encrypted, matches ssl_cert_file; never shows key material';

-- 30_findings.sql: misconfiguration findings (ssl settings, cipher suites,
-- certificate files, pg_hba.conf analysed with the server's own parser),
-- pg_hba what-if matching, and report().  None of it needs
-- shared_preload_libraries.  Everything reads configuration files, so
-- nothing is granted to PUBLIC; read-only access goes to pg_monitor, and a
-- pg_hba file other than the configured one needs superuser (checked in C).

-- Cipher suites as OpenSSL expands them (NULL arguments: live settings).
CREATE FUNCTION expand_ciphers(
    cipher_list text DEFAULT NULL,
    tls13_ciphersuites text DEFAULT NULL,
    min_protocol text DEFAULT NULL,
    max_protocol text DEFAULT NULL,
    OUT name text, OUT standard_name text, OUT protocol text,
    OUT key_exchange text, OUT authentication text, OUT encryption text,
    OUT bits integer, OUT mac text, OUT forward_secrecy boolean,
    OUT negotiable boolean, OUT weakness text, OUT severity text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_expand_ciphers'
LANGUAGE C VOLATILE PARALLEL SAFE;
COMMENT ON FUNCTION expand_ciphers(text, text, text, text) IS
'Cipher suites that a cipher string (and TLS 1.3 suites, protocol range) enable, expanded and classified by OpenSSL; NULL arguments take the live settings';

CREATE VIEW ciphers AS SELECT * FROM expand_ciphers();
COMMENT ON VIEW ciphers IS
'Cipher suites the configured ssl_ciphers and TLS 1.3 suites enable, as OpenSSL expands them, with weaknesses';

-- Every pg_hba line with its analysis.
CREATE FUNCTION _hba_rules(hba_file text,
    OUT file text, OUT line_number integer, OUT rule_number integer,
    OUT type text, OUT databases text[], OUT users text[], OUT address text,
    OUT netmask text, OUT method text, OUT options text[],
    OUT reachable boolean, OUT shadowed_by text, OUT allows_plaintext boolean,
    OUT weak_method boolean, OUT weak_reason text, OUT note text,
    OUT error text, OUT raw_line text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_hba_rules'
LANGUAGE C VOLATILE;

-- hba_rules(): _hba_rules() plus times_matched from the connection
-- inventory's hba_usage view when it exists and can be read (NULL
-- otherwise, and for files other than the configured one).  Rows come in
-- the order the server evaluates the lines (include files in place).
CREATE FUNCTION hba_rules(hba_file text DEFAULT NULL)
RETURNS TABLE (file text, line_number integer, rule_number integer,
    type text, databases text[], users text[], address text, netmask text,
    method text, options text[], reachable boolean, shadowed_by text,
    allows_plaintext boolean, weak_method boolean, weak_reason text,
    note text, error text, raw_line text, times_matched bigint)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF pg_catalog.to_regclass('pgtls_audit.hba_usage') IS NOT NULL
       AND pg_catalog.has_table_privilege('pgtls_audit.hba_usage', 'SELECT')
       AND (hba_rules.hba_file IS NULL
            OR hba_rules.hba_file = pg_catalog.current_setting('hba_file')) THEN
        BEGIN
            RETURN QUERY EXECUTE
              'SELECT r.file, r.line_number, r.rule_number, r.type, r.databases,
                      r.users, r.address, r.netmask, r.method, r.options,
                      r.reachable, r.shadowed_by, r.allows_plaintext,
                      r.weak_method, r.weak_reason, r.note, r.error, r.raw_line,
                      COALESCE(u.attempts, 0)::bigint
                 FROM pgtls_audit._hba_rules($1) WITH ORDINALITY r
                 LEFT JOIN pgtls_audit.hba_usage u
                   ON u.hba_file = r.file AND u.hba_line = r.line_number
                ORDER BY r.ordinality'
              USING hba_rules.hba_file;
            RETURN;
        EXCEPTION
            WHEN object_not_in_prerequisite_state OR undefined_column
                 OR undefined_table THEN
                NULL;           -- inventory not loaded: no counts
        END;
    END IF;
    RETURN QUERY SELECT r.*, NULL::bigint FROM pgtls_audit._hba_rules(hba_rules.hba_file) r;
END
$$;
COMMENT ON FUNCTION hba_rules(text) IS
'Every line of pg_hba.conf (or of another file, superuser only) as the server parses it, with reachability, shadowing, plaintext exposure, weak methods and, when the inventory runs, times matched';

-- What-if: the line a connection would hit.
CREATE FUNCTION hba_match(
    role name, database name, address inet, ssl boolean,
    client_cert boolean DEFAULT false,
    hba_file text DEFAULT NULL,
    gssenc boolean DEFAULT false,
    replication boolean DEFAULT false,
    OUT file text, OUT line_number integer, OUT rule_number integer,
    OUT type text, OUT raw_line text, OUT method text, OUT options text[],
    OUT outcome text, OUT notes text[])
RETURNS record
AS 'MODULE_PATHNAME', 'pgtls_audit_hba_match'
LANGUAGE C VOLATILE;
COMMENT ON FUNCTION hba_match(name, name, inet, boolean, boolean, text, boolean, boolean) IS
'The pg_hba line a connection like that would hit, its method and the outcome (address NULL: Unix socket; replication: physical replication connection)';

-- Findings made in C.
CREATE FUNCTION _config_findings(hba_file text,
    OUT check_id text, OUT severity text, OUT area text, OUT location text,
    OUT message text, OUT hint text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_config_findings'
LANGUAGE C VOLATILE;

-- All findings: the C checks, then (when those parts are installed)
-- certificate expiry and stale CRLs (server_certificates, crls) and lines
-- never used (hba_usage).  Dynamic SQL so that this file does not depend
-- on them; a missing, unreadable or changed object just adds no rows.
CREATE FUNCTION check_config(hba_file text DEFAULT NULL)
RETURNS TABLE (check_id text, severity text, area text, location text,
               message text, hint text)
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    configured boolean := check_config.hba_file IS NULL
        OR check_config.hba_file = pg_catalog.current_setting('hba_file');
BEGIN
    RETURN QUERY SELECT f.* FROM pgtls_audit._config_findings(check_config.hba_file) f;

    -- Server certificates (issue: certificates and expiry)
    IF pg_catalog.to_regclass('pgtls_audit.server_certificates') IS NOT NULL
       AND pg_catalog.current_setting('ssl') = 'on' THEN
        BEGIN
            RETURN QUERY EXECUTE $q$
              SELECT CASE c.status WHEN 'expired' THEN 'CERT010'
                                   WHEN 'not_yet_valid' THEN 'CERT011'
                                   ELSE 'CERT012' END,
                     CASE WHEN c.status = 'expiring' THEN 'warning' ELSE 'critical' END,
                     'certificates',
                     c.source || ' ' || c.path || ' #' || c.position,
                     pg_catalog.format('certificate %s %s (notAfter %s, %s days left)',
                            c.subject_dn,
                            pg_catalog.replace(c.status, '_', ' '),
                            c.not_after, c.days_left),
                     CASE WHEN c.status = 'expiring'
                          THEN 'Renew the certificate, install it and run SELECT pg_reload_conf().'
                          ELSE 'Install a valid certificate and run SELECT pg_reload_conf(); clients verifying the server (sslmode=verify-ca/verify-full) or presenting certificates signed by it fail.' END
                FROM pgtls_audit.server_certificates c
               WHERE c.status IN ('expired', 'not_yet_valid', 'expiring')
               ORDER BY c.source, c.path, c.position $q$;
        EXCEPTION
            WHEN undefined_column OR undefined_table OR undefined_function
                 OR insufficient_privilege THEN
                NULL;
        END;
    END IF;

    -- CRLs (issue: certificates and expiry)
    IF pg_catalog.to_regclass('pgtls_audit.crls') IS NOT NULL
       AND pg_catalog.current_setting('ssl') = 'on' THEN
        BEGIN
            RETURN QUERY EXECUTE $q$
              SELECT 'CERT013', 'critical', 'certificates',
                     c.path,
                     pg_catalog.format('certificate revocation list of %s is stale (nextUpdate %s): OpenSSL rejects client certificates of that issuer',
                            c.issuer_dn, c.next_update),
                     'Install a current CRL from the CA and run SELECT pg_reload_conf().'
                FROM pgtls_audit.crls c
               WHERE c.status = 'stale'
               ORDER BY c.path $q$;
        EXCEPTION
            WHEN undefined_column OR undefined_table OR undefined_function
                 OR insufficient_privilege THEN
                NULL;
        END;
    END IF;

    -- Lines never used (issue: connection inventory)
    IF configured
       AND pg_catalog.to_regclass('pgtls_audit.hba_usage') IS NOT NULL
       AND pg_catalog.has_table_privilege('pgtls_audit.hba_usage', 'SELECT') THEN
        BEGIN
            RETURN QUERY EXECUTE $q$
              SELECT 'HBA008', 'info', 'hba', r.file || ':' || r.line_number,
                     pg_catalog.format('line has matched no connection since the inventory was reset (%s)',
                            COALESCE((SELECT s.stats_reset::text FROM pgtls_audit.stats s), 'unknown')),
                     'If the line is no longer needed, remove it.'
                FROM pgtls_audit._hba_rules(NULL) r
               WHERE r.reachable AND r.method <> 'reject'
                 AND NOT EXISTS (SELECT 1 FROM pgtls_audit.hba_usage u
                                  WHERE u.hba_file = r.file AND u.hba_line = r.line_number)
               ORDER BY r.file, r.line_number $q$;
        EXCEPTION
            WHEN object_not_in_prerequisite_state OR undefined_column
                 OR undefined_table OR insufficient_privilege THEN
                NULL;
        END;
    END IF;
END
$$;
COMMENT ON FUNCTION check_config(text) IS
'Misconfiguration findings for the live settings and pg_hba.conf (or another pg_hba file, superuser only)';

CREATE VIEW findings AS
  SELECT f.check_id, f.severity, f.area, f.location, f.message, f.hint
    FROM pgtls_audit.check_config() f
   ORDER BY CASE f.severity WHEN 'critical' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END,
            f.check_id,
            pg_catalog.regexp_replace(f.location, ':[0-9]+$', ''),
            pg_catalog.substring(f.location, ':([0-9]+)$')::integer NULLS FIRST,
            f.message;
COMMENT ON VIEW findings IS
'One row per misconfiguration finding (ssl, ciphers, certificates, hba, auth), most severe first';

-- One text report for psql.
CREATE FUNCTION report()
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    out text := '';
    r record;
    n integer;
    fs pgtls_audit.findings[];
BEGIN
    out := out || pg_catalog.format(E'pgtls_audit report for %s (PostgreSQL %s) at %s\n',
                                    pg_catalog.current_setting('cluster_name'),
                                    pg_catalog.current_setting('server_version'),
                                    pg_catalog.date_trunc('second', pg_catalog.now()));

    -- run the checks once
    SELECT pg_catalog.array_agg(f ORDER BY
               CASE f.severity WHEN 'critical' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END,
               f.check_id,
               pg_catalog.regexp_replace(f.location, ':[0-9]+$', ''),
               pg_catalog.substring(f.location, ':([0-9]+)$')::integer NULLS FIRST,
               f.message)
      INTO fs FROM pgtls_audit.findings f;
    fs := COALESCE(fs, '{}');

    out := out || E'\n== Findings\n';
    FOR r IN SELECT severity, count(*) AS n FROM pg_catalog.unnest(fs)
              GROUP BY severity
              ORDER BY CASE severity WHEN 'critical' THEN 1 WHEN 'warning' THEN 2 ELSE 3 END
    LOOP
        out := out || pg_catalog.format(E'  %s: %s\n', r.severity, r.n);
    END LOOP;
    SELECT count(*) INTO n FROM pg_catalog.unnest(fs);
    IF n = 0 THEN
        out := out || E'  none\n';
    END IF;

    out := out || E'\n== Fix first\n';
    n := 0;
    -- the most severe findings, one per check, ssl before the rest
    FOR r IN SELECT * FROM (SELECT DISTINCT ON (u.check_id) u.*
                              FROM pg_catalog.unnest(fs) WITH ORDINALITY u
                             WHERE u.severity <> 'info'
                             ORDER BY u.check_id, u.ordinality) d
              ORDER BY CASE severity WHEN 'critical' THEN 1 ELSE 2 END,
                       CASE area WHEN 'ssl' THEN 1 WHEN 'certificates' THEN 2
                                 WHEN 'auth' THEN 3 WHEN 'hba' THEN 4 ELSE 5 END,
                       ordinality
              LIMIT 3
    LOOP
        n := n + 1;
        out := out || pg_catalog.format(E'  %s. [%s %s] %s: %s\n     fix: %s\n',
                                        n, r.severity, r.check_id, r.location,
                                        r.message, COALESCE(r.hint, '-'));
    END LOOP;
    IF n = 0 THEN
        out := out || E'  nothing critical or warning\n';
    END IF;

    out := out || E'\n== All findings\n';
    FOR r IN SELECT * FROM pg_catalog.unnest(fs) WITH ORDINALITY ORDER BY ordinality LOOP
        out := out || pg_catalog.format(E'  %-8s %-7s %-30s %s\n', r.severity, r.check_id,
                                        COALESCE(r.location, '-'), r.message);
    END LOOP;

    out := out || E'\n== Certificates expiring soonest\n';
    IF pg_catalog.to_regclass('pgtls_audit.server_certificates') IS NOT NULL THEN
        BEGIN
            n := 0;
            FOR r IN EXECUTE $q$
                SELECT source, subject_dn, not_after, days_left
                  FROM pgtls_audit.server_certificates
                 WHERE not_after IS NOT NULL
                 ORDER BY not_after LIMIT 5 $q$
            LOOP
                n := n + 1;
                out := out || pg_catalog.format(E'  %s days  %s  %s (%s)\n',
                                                r.days_left, r.not_after, r.subject_dn, r.source);
            END LOOP;
            IF n = 0 THEN
                out := out || E'  no certificates\n';
            END IF;
        EXCEPTION
            WHEN undefined_column OR undefined_table OR insufficient_privilege THEN
                out := out || E'  not available\n';
        END;
    ELSE
        out := out || E'  not available (certificate inventory not installed)\n';
    END IF;

    out := out || E'\n== Protocols and ciphers of recent connections\n';
    IF pg_catalog.to_regclass('pgtls_audit.connections') IS NOT NULL THEN
        BEGIN
            n := 0;
            FOR r IN EXECUTE $q$
                SELECT COALESCE(protocol, CASE WHEN ssl THEN 'TLS (failed)' ELSE 'plaintext' END) AS protocol,
                       COALESCE(cipher, '-') AS cipher, count(*) AS n
                  FROM pgtls_audit.connections
                 WHERE remote_host IS NOT NULL AND remote_host <> '[local]'
                 GROUP BY 1, 2 ORDER BY 3 DESC, 1, 2 $q$
            LOOP
                n := n + 1;
                out := out || pg_catalog.format(E'  %6s  %-10s %s\n', r.n, r.protocol, r.cipher);
            END LOOP;
            IF n = 0 THEN
                out := out || E'  no TCP connections recorded\n';
            END IF;
        EXCEPTION
            WHEN object_not_in_prerequisite_state THEN
                out := out || E'  not available (pgtls_audit is not in shared_preload_libraries)\n';
            WHEN undefined_column OR undefined_table OR insufficient_privilege THEN
                out := out || E'  not available\n';
        END;
    ELSE
        out := out || E'  not available (connection inventory not installed)\n';
    END IF;

    RETURN out;
END
$$;
COMMENT ON FUNCTION report() IS
'Text report for psql: findings by severity, the three things to fix first, certificates expiring soonest, protocol/cipher mix of recent connections';

-- Privileges: nothing for PUBLIC; monitoring roles read the configured
-- file's analysis; other files need superuser (checked in C).
REVOKE ALL ON FUNCTION expand_ciphers(text, text, text, text) FROM PUBLIC;
REVOKE ALL ON ciphers FROM PUBLIC;
REVOKE ALL ON FUNCTION _hba_rules(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION hba_rules(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION hba_match(name, name, inet, boolean, boolean, text, boolean, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION _config_findings(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION check_config(text) FROM PUBLIC;
REVOKE ALL ON findings FROM PUBLIC;
REVOKE ALL ON FUNCTION report() FROM PUBLIC;

GRANT EXECUTE ON FUNCTION expand_ciphers(text, text, text, text) TO pg_monitor;
GRANT SELECT ON ciphers TO pg_monitor;
GRANT EXECUTE ON FUNCTION _hba_rules(text) TO pg_monitor;
GRANT EXECUTE ON FUNCTION hba_rules(text) TO pg_monitor;
GRANT EXECUTE ON FUNCTION hba_match(name, name, inet, boolean, boolean, text, boolean, boolean) TO pg_monitor;
GRANT EXECUTE ON FUNCTION _config_findings(text) TO pg_monitor;
GRANT EXECUTE ON FUNCTION check_config(text) TO pg_monitor;
GRANT SELECT ON findings TO pg_monitor;
GRANT EXECUTE ON FUNCTION report() TO pg_monitor;

-- 40_cost_probe.sql: measure the per-attempt cost of the hooks in-process.

CREATE FUNCTION measure_record_cost(
    iterations integer DEFAULT 10000,
    include_inventory boolean DEFAULT false,
    OUT step text, OUT calls integer, OUT ns_per_call float8,
    OUT ratio_to_baseline float8)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_measure_record_cost'
LANGUAGE C STRICT VOLATILE;
REVOKE ALL ON FUNCTION measure_record_cost(integer, boolean) FROM PUBLIC;
COMMENT ON FUNCTION measure_record_cost(integer, boolean) IS
'Superuser only: nanoseconds per call of each step the connection hooks run, from this session''s real Port, against core''s log_connections line as baseline; include_inventory adds that many copies of this connection to the inventory';
