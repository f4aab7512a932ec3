-- pgtls_audit--1.0--1.1.sql: from release 1.0 to 1.1.
--
-- Every change to SQL objects or grants since 1.0, in the order the
-- fragments of src/sql define them.  test/t/006_upgrade.pl checks that
-- 1.0 updated with this script equals a fresh install of 1.1 (objects,
-- definitions, comments and grants).

-- complain if script is sourced in psql, rather than via ALTER EXTENSION
\echo Use "ALTER EXTENSION pgtls_audit UPDATE TO '1.1'" to load this file. \quit

-- findings: a pg_hba file other than the configured one needs the
-- privileges of pg_read_server_files instead of superuser (checked in C),
-- secret option values are redacted for other callers (C), and report()
-- names the server (cluster_name, else the data directory, and the port)
-- instead of an empty cluster_name.
COMMENT ON FUNCTION hba_rules(text) IS
'Every line of pg_hba.conf (or of another file, with the privileges of pg_read_server_files) as the server parses it, with reachability, shadowing, plaintext exposure, weak methods and, when the inventory runs, times matched; secret option values redacted for other callers';
COMMENT ON FUNCTION check_config(text) IS
'Misconfiguration findings for the live settings and pg_hba.conf (or another pg_hba file, with the privileges of pg_read_server_files)';
CREATE OR REPLACE FUNCTION report()
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    out text := '';
    r record;
    n integer;
    fs pgtls_audit.findings[];
    server text;
BEGIN
    -- the server: cluster_name, else the data directory (pg_settings shows
    -- it to pg_read_all_settings, which pg_monitor includes), and the port
    server := COALESCE(NULLIF(pg_catalog.current_setting('cluster_name'), ''),
                       (SELECT s.setting FROM pg_catalog.pg_settings s
                         WHERE s.name = 'data_directory'));
    server := COALESCE(server || ', ', '') || 'port ' || pg_catalog.current_setting('port');
    out := out || pg_catalog.format(E'pgtls_audit report for %s (PostgreSQL %s) at %s\n',
                                    server,
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
'Text report for psql, headed by the server (cluster_name, else data directory, and port): findings by severity, the three things to fix first, certificates expiring soonest, protocol/cipher mix of recent connections';

-- certificates findings: CERT011 names notBefore, CERT013 says when a
-- stale CRL really refuses logins (a current CRL of the same issuer wins)
CREATE OR REPLACE FUNCTION check_config(hba_file text DEFAULT NULL)
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
                     CASE WHEN c.status = 'not_yet_valid'
                          THEN pg_catalog.format('certificate %s is not yet valid (notBefore %s)',
                                                 c.subject_dn, c.not_before)
                          ELSE pg_catalog.format('certificate %s %s (notAfter %s, %s days left)',
                                                 c.subject_dn, c.status, c.not_after, c.days_left)
                     END,
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
                     pg_catalog.format('certificate revocation list of %s is stale (nextUpdate %s): unless a current CRL of that issuer is also configured, OpenSSL refuses every client certificate it signed',
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

-- ClientHello capture: connections gets what each client offered (sni,
-- offered_versions, offered_ciphers, offered_groups, offered_alpn, ja4),
-- stats the counters of the new fingerprint table; the view
-- client_fingerprints (one row per JA4), settings_impact() with its helper
-- tls_group_key(), and report() sections "If you harden" and
-- "Post-quantum readiness".
DROP VIEW connections;
DROP FUNCTION connections_raw();
CREATE FUNCTION connections_raw(
    OUT ts timestamptz, OUT pid integer, OUT event text, OUT outcome text,
    OUT reason text, OUT sqlstate text, OUT remote_host text,
    OUT remote_port text, OUT user_name text, OUT database_name text,
    OUT application_name text, OUT ssl boolean, OUT protocol text,
    OUT cipher text, OUT bits integer, OUT client_cert boolean,
    OUT client_dn text, OUT issuer_dn text, OUT client_serial text,
    OUT client_not_after timestamptz, OUT client_fingerprint text,
    OUT hba_file text, OUT hba_line integer, OUT auth_method text,
    OUT identity text, OUT policy text, OUT gss_encrypted boolean,
    OUT sni text, OUT offered_versions text[], OUT offered_ciphers text[],
    OUT offered_groups text[], OUT offered_alpn text[], OUT ja4 text)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_connections'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW connections AS
  SELECT * FROM connections_raw() ORDER BY ts DESC;
COMMENT ON VIEW connections IS
'The most recent connection attempts (pgtls_audit.history_size), newest first, failures included';
GRANT SELECT ON connections TO PUBLIC;

DROP VIEW stats;
DROP FUNCTION stats_raw();
CREATE FUNCTION stats_raw(
    OUT records_total bigint, OUT history_entries integer,
    OUT history_size integer, OUT history_overwritten bigint,
    OUT clients_entries integer, OUT max_clients integer,
    OUT clients_evicted bigint, OUT certificates_entries integer,
    OUT max_certificates integer, OUT certificates_evicted bigint,
    OUT hba_entries integer, OUT hba_evicted bigint,
    OUT records_dropped bigint, OUT values_truncated bigint,
    OUT stats_reset timestamptz, OUT fingerprints_entries integer,
    OUT max_fingerprints integer, OUT fingerprints_evicted bigint)
RETURNS record
AS 'MODULE_PATHNAME', 'pgtls_audit_stats'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW stats AS SELECT * FROM stats_raw();
COMMENT ON VIEW stats IS
'Inventory sizes, evictions, dropped records and truncated values since the last reset';
GRANT SELECT ON stats TO PUBLIC;

CREATE FUNCTION client_fingerprints_raw(
    OUT ja4 text, OUT highest_offered_version text,
    OUT offered_versions text[], OUT offered_ciphers text[],
    OUT offered_groups text[], OUT key_share_groups text[],
    OUT post_quantum_groups text[],
    OUT user_names text[], OUT user_names_truncated boolean,
    OUT application_names text[], OUT application_names_truncated boolean,
    OUT client_addresses integer, OUT client_addresses_truncated boolean,
    OUT connections bigint, OUT handshake_failures bigint,
    OUT first_seen timestamptz, OUT last_seen timestamptz)
RETURNS SETOF record
AS 'MODULE_PATHNAME', 'pgtls_audit_client_fingerprints'
LANGUAGE C STRICT VOLATILE PARALLEL SAFE;

CREATE VIEW client_fingerprints AS
  SELECT ja4, highest_offered_version, offered_versions, offered_ciphers,
         offered_groups, key_share_groups,
         pg_catalog.cardinality(post_quantum_groups) > 0 AS offers_post_quantum,
         post_quantum_groups,
         user_names, user_names_truncated,
         application_names, application_names_truncated,
         client_addresses, client_addresses_truncated,
         connections, handshake_failures, first_seen, last_seen
  FROM client_fingerprints_raw();
COMMENT ON VIEW client_fingerprints IS
'Distinct TLS ClientHellos by JA4 fingerprint: what each client offers (versions, suites, groups, post-quantum groups), who used it, how often, handshake failures';
REVOKE ALL ON FUNCTION client_fingerprints_raw() FROM PUBLIC;
REVOKE ALL ON client_fingerprints FROM PUBLIC;
GRANT EXECUTE ON FUNCTION client_fingerprints_raw() TO pg_read_all_stats;
GRANT SELECT ON client_fingerprints TO pg_read_all_stats;

CREATE FUNCTION tls_group_key(name text)
RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
SET search_path = pg_catalog, pg_temp
AS $$
SELECT CASE k
         WHEN 'prime256v1' THEN 'secp256r1' WHEN 'p-256' THEN 'secp256r1'
         WHEN 'p-384' THEN 'secp384r1' WHEN 'p-521' THEN 'secp521r1'
         WHEN '0x0017' THEN 'secp256r1' WHEN '0x0018' THEN 'secp384r1'
         WHEN '0x0019' THEN 'secp521r1' WHEN '0x001d' THEN 'x25519'
         WHEN '0x001e' THEN 'x448' WHEN '0x0100' THEN 'ffdhe2048'
         WHEN '0x0101' THEN 'ffdhe3072' WHEN '0x0102' THEN 'ffdhe4096'
         WHEN '0x0103' THEN 'ffdhe6144' WHEN '0x0104' THEN 'ffdhe8192'
         WHEN '0x0200' THEN 'mlkem512' WHEN '0x0201' THEN 'mlkem768'
         WHEN '0x0202' THEN 'mlkem1024' WHEN '0x11eb' THEN 'secp256r1mlkem768'
         WHEN '0x11ec' THEN 'x25519mlkem768' WHEN '0x11ed' THEN 'secp384r1mlkem1024'
         ELSE k END
  FROM (SELECT lower(btrim(ltrim(btrim($1), '?*'))) AS k) s
$$;
COMMENT ON FUNCTION tls_group_key(text) IS
'A TLS group name as settings_impact() compares it: lower case, NIST curve aliases folded (prime256v1 = P-256 = secp256r1), 0xHHHH group ids named';

CREATE FUNCTION settings_impact(
    ssl_min_protocol_version text DEFAULT NULL,
    ssl_max_protocol_version text DEFAULT NULL,
    ssl_ciphers text DEFAULT NULL,
    ssl_tls13_ciphers text DEFAULT NULL,
    ssl_groups text DEFAULT NULL,
    OUT ja4 text, OUT highest_offered_version text, OUT user_names text[],
    OUT application_names text[], OUT client_addresses integer,
    OUT connections bigint, OUT last_seen timestamptz,
    OUT breaks boolean, OUT why text, OUT would_negotiate text,
    OUT post_quantum boolean)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
#variable_conflict use_variable
DECLARE
    p_min text := $1;
    p_max text := $2;
    p_ciphers text := $3;
    p_tls13 text := $4;
    p_groups text := $5;
    has_tls13_guc boolean := current_setting('server_version_num')::integer >= 180000;
    lo integer;
    hi integer;
    srv_groups text[];
    f record;
    vers integer[];
    common_groups text[];
    suite text;
    v12 integer;
    any_cipher boolean;
    s_name text[];
    s_min integer[];
    s_max integer[];
    s_ecdhe boolean[];
BEGIN
    IF p_tls13 IS NOT NULL AND NOT has_tls13_guc THEN
        RAISE EXCEPTION 'ssl_tls13_ciphers requires PostgreSQL 18 or later'
            USING ERRCODE = 'feature_not_supported',
                  HINT = 'Before PostgreSQL 18 the server uses OpenSSL''s default TLSv1.3 cipher suites; leave ssl_tls13_ciphers NULL.';
    END IF;
    p_min := COALESCE(p_min, current_setting('ssl_min_protocol_version'));
    p_max := COALESCE(p_max, current_setting('ssl_max_protocol_version'));
    p_ciphers := COALESCE(p_ciphers, current_setting('ssl_ciphers'));
    IF has_tls13_guc THEN
        p_tls13 := COALESCE(p_tls13, current_setting('ssl_tls13_ciphers'));
    END IF;
    -- the key exchange groups: ssl_groups on 18+, one curve before
    p_groups := COALESCE(p_groups,
                         CASE WHEN has_tls13_guc THEN current_setting('ssl_groups')
                              ELSE current_setting('ssl_ecdh_curve') END);
    lo := CASE lower(p_min) WHEN '' THEN 1 WHEN 'tlsv1' THEN 1 WHEN 'tlsv1.1' THEN 2
                            WHEN 'tlsv1.2' THEN 3 WHEN 'tlsv1.3' THEN 4 END;
    hi := CASE lower(p_max) WHEN '' THEN 4 WHEN 'tlsv1' THEN 1 WHEN 'tlsv1.1' THEN 2
                            WHEN 'tlsv1.2' THEN 3 WHEN 'tlsv1.3' THEN 4 END;
    IF lo IS NULL OR hi IS NULL THEN
        RAISE EXCEPTION 'invalid value for a TLS protocol version: "%"',
                        CASE WHEN lo IS NULL THEN p_min ELSE p_max END
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Valid values are TLSv1, TLSv1.1, TLSv1.2, TLSv1.3 and the empty string.';
    END IF;
    IF lo > hi THEN
        RAISE EXCEPTION 'ssl_min_protocol_version "%" is higher than ssl_max_protocol_version "%"',
                        p_min, p_max
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT array_agg(pgtls_audit.tls_group_key(g)) INTO srv_groups
      FROM unnest(regexp_split_to_array(p_groups, '[:/,]')) g
     WHERE btrim(g) <> '' AND left(btrim(g), 1) <> '-';
    srv_groups := COALESCE(srv_groups, '{}');

    -- the suites the server would agree to, in its order of preference
    -- (arrays, not a temporary table: this also runs on a standby)
    SELECT array_agg(e.name ORDER BY e.ord),
           array_agg(CASE e.protocol WHEN 'TLSv1.3' THEN 4 WHEN 'TLSv1.2' THEN 3 ELSE 1 END ORDER BY e.ord),
           array_agg(CASE e.protocol WHEN 'TLSv1.3' THEN 4 ELSE 3 END ORDER BY e.ord),
           array_agg(e.kx LIKE 'ECDHE%' ORDER BY e.ord)
      INTO s_name, s_min, s_max, s_ecdhe
      FROM pgtls_audit.expand_ciphers(p_ciphers, p_tls13, p_min, p_max)
           WITH ORDINALITY AS e(name, standard_name, protocol, kx, auth, encryption,
                                bits, mac, forward_secrecy, negotiable, weakness,
                                severity, ord)
     WHERE e.negotiable;

    FOR f IN SELECT * FROM pgtls_audit.client_fingerprints c
              ORDER BY c.connections DESC, c.ja4
    LOOP
        ja4 := f.ja4;
        highest_offered_version := f.highest_offered_version;
        user_names := f.user_names;
        application_names := f.application_names;
        client_addresses := f.client_addresses;
        connections := f.connections;
        last_seen := f.last_seen;
        would_negotiate := NULL;
        why := NULL;
        post_quantum := false;
        SELECT array_agg(DISTINCT r ORDER BY r) INTO vers
          FROM (SELECT CASE v WHEN 'TLSv1' THEN 1 WHEN 'TLSv1.1' THEN 2
                              WHEN 'TLSv1.2' THEN 3 WHEN 'TLSv1.3' THEN 4 END AS r
                  FROM unnest(f.offered_versions) v) s
         WHERE r BETWEEN lo AND hi;
        SELECT array_agg(k) INTO common_groups
          FROM (SELECT pgtls_audit.tls_group_key(g) AS k FROM unnest(f.offered_groups) g) s
         WHERE k = ANY (srv_groups);
        common_groups := COALESCE(common_groups, '{}');
        any_cipher := false;

        -- TLS 1.3: a common suite and a common group
        IF 4 = ANY (vers) THEN
            SELECT s.name INTO suite
              FROM unnest(s_name, s_min) WITH ORDINALITY AS s(name, min_rank, ord)
             WHERE s.min_rank = 4 AND s.name = ANY (f.offered_ciphers)
             ORDER BY s.ord LIMIT 1;
            any_cipher := suite IS NOT NULL;
            IF suite IS NOT NULL AND cardinality(common_groups) > 0 THEN
                would_negotiate := 'TLSv1.3 ' || suite;
            END IF;
        END IF;
        -- else the highest common version below 1.3: a suite allowed in
        -- it, and a common group for ECDHE suites
        SELECT max(r) INTO v12 FROM unnest(vers) r WHERE r <= 3;
        IF would_negotiate IS NULL AND v12 IS NOT NULL THEN
            any_cipher := any_cipher OR EXISTS (
                SELECT 1 FROM unnest(s_name, s_min, s_max) AS s(name, min_rank, max_rank)
                 WHERE s.min_rank <= v12 AND s.max_rank >= v12 AND s.max_rank < 4
                   AND s.name = ANY (f.offered_ciphers));
            SELECT s.name INTO suite
              FROM unnest(s_name, s_min, s_max, s_ecdhe) WITH ORDINALITY
                   AS s(name, min_rank, max_rank, ecdhe, ord)
             WHERE s.min_rank <= v12 AND s.max_rank >= v12 AND s.max_rank < 4
               AND s.name = ANY (f.offered_ciphers)
               AND (NOT s.ecdhe OR cardinality(common_groups) > 0)
             ORDER BY s.ord LIMIT 1;
            IF suite IS NOT NULL THEN
                would_negotiate := CASE v12 WHEN 3 THEN 'TLSv1.2 ' WHEN 2 THEN 'TLSv1.1 '
                                            ELSE 'TLSv1 ' END || suite;
            END IF;
        END IF;

        breaks := would_negotiate IS NULL;
        IF breaks THEN
            IF vers IS NULL THEN
                why := CASE
                    WHEN f.highest_offered_version IS NULL THEN 'no common protocol version'
                    WHEN (SELECT max(CASE v WHEN 'TLSv1' THEN 1 WHEN 'TLSv1.1' THEN 2
                                            WHEN 'TLSv1.2' THEN 3 WHEN 'TLSv1.3' THEN 4 ELSE 0 END)
                            FROM unnest(f.offered_versions) v) < lo
                    THEN format('no common protocol version (client offers at most %s)',
                                f.highest_offered_version)
                    ELSE format('no common protocol version (server allows at most %s)', p_max)
                END;
            ELSIF NOT any_cipher THEN
                why := 'no common cipher suite';
            ELSE
                why := 'no common group';
            END IF;
        ELSE
            post_quantum := EXISTS (SELECT 1 FROM unnest(common_groups) g
                                     WHERE g LIKE '%mlkem%' OR g LIKE '%kyber%')
                            AND would_negotiate LIKE 'TLSv1.3 %';
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION settings_impact(text, text, text, text, text) IS
'For each client fingerprint seen: would it still complete a TLS handshake under the proposed settings (NULL: as the server has them), and if not why';
REVOKE ALL ON FUNCTION settings_impact(text, text, text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION settings_impact(text, text, text, text, text) TO pg_monitor;

CREATE OR REPLACE FUNCTION report()
RETURNS text
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    out text := '';
    r record;
    n integer;
    fs pgtls_audit.findings[];
    server text;
    fr record;
    -- forward secrecy and AEAD only (what "If you harden" proposes)
    pgtls_audit_hardened_ciphers constant text :=
        'ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:DHE+CHACHA20:!aNULL';
BEGIN
    -- the server: cluster_name, else the data directory (pg_settings shows
    -- it to pg_read_all_settings, which pg_monitor includes), and the port
    server := COALESCE(NULLIF(pg_catalog.current_setting('cluster_name'), ''),
                       (SELECT s.setting FROM pg_catalog.pg_settings s
                         WHERE s.name = 'data_directory'));
    server := COALESCE(server || ', ', '') || 'port ' || pg_catalog.current_setting('port');
    out := out || pg_catalog.format(E'pgtls_audit report for %s (PostgreSQL %s) at %s\n',
                                    server,
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

    out := out || E'\n== If you harden\n';
    IF pg_catalog.to_regclass('pgtls_audit.client_fingerprints') IS NOT NULL THEN
        BEGIN
            -- raising the minimum to TLSv1.3 lifts any lower maximum
            FOR r IN SELECT t.label, t.args FROM (VALUES
                       (1, 'ssl_min_protocol_version = ''TLSv1.3''', ARRAY['TLSv1.3', '', NULL]),
                       (2, 'ssl_ciphers = ''' || pgtls_audit_hardened_ciphers || '''',
                        ARRAY[NULL, NULL, pgtls_audit_hardened_ciphers])) t(ord, label, args)
                      ORDER BY t.ord
            LOOP
                n := 0;
                out := out || pg_catalog.format(E'  with %s:\n', r.label);
                FOR fr IN SELECT i.* FROM pgtls_audit.settings_impact(
                                 ssl_min_protocol_version => r.args[1],
                                 ssl_max_protocol_version => r.args[2],
                                 ssl_ciphers => r.args[3]) i
                           WHERE i.breaks ORDER BY i.connections DESC, i.ja4
                LOOP
                    n := n + 1;
                    out := out || pg_catalog.format(E'    breaks %s (%s connections; users %s; %s client addresses): %s\n',
                                                    fr.ja4, fr.connections,
                                                    COALESCE(NULLIF(pg_catalog.array_to_string(fr.user_names, ', '), ''), '-'),
                                                    fr.client_addresses, fr.why);
                END LOOP;
                IF n = 0 THEN
                    out := out || E'    no client seen would break\n';
                END IF;
            END LOOP;
        EXCEPTION
            WHEN object_not_in_prerequisite_state THEN
                out := out || E'  not available (pgtls_audit is not in shared_preload_libraries)\n';
            WHEN invalid_parameter_value OR feature_not_supported THEN
                out := out || pg_catalog.format(E'  not available (%s)\n', SQLERRM);
            WHEN undefined_column OR undefined_table OR undefined_function OR insufficient_privilege THEN
                out := out || E'  not available\n';
        END;
    ELSE
        out := out || E'  not available (client fingerprints not installed)\n';
    END IF;

    out := out || E'\n== Post-quantum readiness\n';
    IF pg_catalog.to_regclass('pgtls_audit.client_fingerprints') IS NOT NULL THEN
        BEGIN
            SELECT count(*) AS fps, COALESCE(sum(c.connections), 0) AS conns,
                   count(*) FILTER (WHERE c.offers_post_quantum) AS pq_fps,
                   COALESCE(sum(c.connections) FILTER (WHERE c.offers_post_quantum), 0) AS pq_conns
              INTO fr FROM pgtls_audit.client_fingerprints c;
            out := out || pg_catalog.format(E'  %s of %s client fingerprints (%s of %s connections) offer a post-quantum key exchange group\n',
                                            fr.pq_fps, fr.fps, fr.pq_conns, fr.conns);
            SELECT count(*) FILTER (WHERE i.post_quantum) AS now_pq INTO n
              FROM pgtls_audit.settings_impact() i;
            out := out || pg_catalog.format(E'  with the server''s groups (%s): %s of them would use it\n',
                                            CASE WHEN pg_catalog.current_setting('server_version_num')::integer >= 180000
                                                 THEN 'ssl_groups = ' || pg_catalog.current_setting('ssl_groups')
                                                 ELSE 'ssl_ecdh_curve = ' || pg_catalog.current_setting('ssl_ecdh_curve') ||
                                                      '; PostgreSQL 15-17 take one elliptic curve, no post-quantum group' END,
                                            n);
            SELECT count(*) FILTER (WHERE i.post_quantum) AS pq,
                   count(*) FILTER (WHERE i.breaks) AS broken
              INTO fr
              FROM pgtls_audit.settings_impact(ssl_groups => 'X25519MLKEM768:X25519:prime256v1') i;
            out := out || pg_catalog.format(E'  with ssl_groups = ''X25519MLKEM768:X25519:prime256v1''%s: %s would use it, %s would break\n',
                                            CASE WHEN pg_catalog.current_setting('server_version_num')::integer < 180000
                                                 THEN ' (PostgreSQL 18 or later)' ELSE '' END,
                                            fr.pq, fr.broken);
        EXCEPTION
            WHEN object_not_in_prerequisite_state THEN
                out := out || E'  not available (pgtls_audit is not in shared_preload_libraries)\n';
            WHEN invalid_parameter_value OR feature_not_supported THEN
                out := out || pg_catalog.format(E'  not available (%s)\n', SQLERRM);
            WHEN undefined_column OR undefined_table OR undefined_function OR insufficient_privilege THEN
                out := out || E'  not available\n';
        END;
    ELSE
        out := out || E'  not available (client fingerprints not installed)\n';
    END IF;

    RETURN out;
END
$$;
COMMENT ON FUNCTION report() IS
'Text report for psql, headed by the server (cluster_name, else data directory, and port): findings by severity, the three things to fix first, certificates expiring soonest, protocol/cipher mix of recent connections, the clients that hardened settings would break, post-quantum readiness';

-- pg_hosts.conf certificates and keys (issue 11, item 4): on PostgreSQL 19
-- with ssl_sni = on, server_certificates and expiring() list every
-- pg_hosts.conf line's certificate, chain and CA file, and
-- server_key_check() returns a row per key (ssl_key_file, then each line's).
-- New OUT columns: the functions are dropped and re-created, with the view
-- over _server_certificates(), their grants and comments.
DROP VIEW server_certificates;
DROP FUNCTION _server_certificates();
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
GRANT EXECUTE ON FUNCTION _server_certificates() TO pg_monitor;

CREATE VIEW server_certificates AS SELECT * FROM _server_certificates();
COMMENT ON VIEW server_certificates IS
'Every certificate in ssl_cert_file (leaf first) and ssl_ca_file, the served leaf when it differs from the file, on PostgreSQL 19 with ssl_sni on every pg_hosts.conf line''s certificate, chain and CA file (source pg_hosts.conf, with the line''s host names, file and line number), chain verification, and problems with the files';
GRANT SELECT ON server_certificates TO pg_monitor;

CREATE OR REPLACE FUNCTION expiring(
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

DROP FUNCTION server_key_check();
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
