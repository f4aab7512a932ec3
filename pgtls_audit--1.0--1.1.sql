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
  SELECT * FROM connections_raw();
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

    -- One query: the decision depends only on a client's offered
    -- versions, suites and groups, so it is made once per distinct offer
    -- (clients of one TLS stack offer the same lists) and joined back to
    -- the fingerprints, on the arrays' hashes, the arrays themselves
    -- compared only as a filter (IS NOT DISTINCT FROM: the planner does
    -- not sort by them for a merge join, which took longer than all the
    -- rest; the arrays are never NULL).  The view is read once.  Aliases
    -- avoid the names of this function's variables and OUT parameters
    -- (use_variable).
    RETURN QUERY
    WITH fp AS MATERIALIZED (
        SELECT c.ja4 AS fja4, c.highest_offered_version AS fhigh,
               c.offered_versions AS ov, c.offered_ciphers AS oc,
               c.offered_groups AS og, c.user_names AS fusers,
               hash_array(c.offered_versions) AS hv, hash_array(c.offered_ciphers) AS hc,
               hash_array(c.offered_groups) AS hg,
               c.application_names AS fapps, c.client_addresses AS faddrs,
               c.connections AS fconns, c.last_seen AS flast
          FROM pgtls_audit.client_fingerprints c),
    offer AS MATERIALIZED (SELECT DISTINCT fp.hv, fp.hc, fp.hg, fp.ov, fp.oc, fp.og FROM fp),
    -- each distinct offered group once: in common with the server, and
    -- post-quantum (tls_group_key() is a function call, not inlined)
    grp_key AS MATERIALIZED (
        SELECT q.g, q.k = ANY (srv_groups) AS common,
               (q.k LIKE '%mlkem%' OR q.k LIKE '%kyber%') AS pq
          FROM (SELECT u.g, pgtls_audit.tls_group_key(u.g) AS k
                  FROM (SELECT DISTINCT unnest(o.og) AS g FROM offer o) u) q),
    decision AS MATERIALIZED (
        SELECT o.hv, o.hc, o.hg, o.ov, o.oc, o.og, ver.ranks, ver.max_rank, grp.has_common,
               grp.pq_common, t13.suite13, t12.any12,
               COALESCE(t13.would13,
                        CASE WHEN t12.suite12 IS NOT NULL THEN
                             CASE ver.v12 WHEN 3 THEN 'TLSv1.2 ' WHEN 2 THEN 'TLSv1.1 '
                                          ELSE 'TLSv1 ' END || t12.suite12 END) AS would
          FROM offer o
          -- the offered versions within [min, max] (NULL: none), the
          -- highest of them below 1.3, the highest offered at all
          CROSS JOIN LATERAL (
              SELECT r.ranks, (SELECT max(x) FROM unnest(r.ranks) x WHERE x <= 3) AS v12,
                     (SELECT max(CASE v WHEN 'TLSv1' THEN 1 WHEN 'TLSv1.1' THEN 2
                                        WHEN 'TLSv1.2' THEN 3 WHEN 'TLSv1.3' THEN 4 ELSE 0 END)
                        FROM unnest(o.ov) v) AS max_rank
                FROM (SELECT array_agg(DISTINCT q.rank ORDER BY q.rank) AS ranks
                        FROM (SELECT CASE v WHEN 'TLSv1' THEN 1 WHEN 'TLSv1.1' THEN 2
                                            WHEN 'TLSv1.2' THEN 3 WHEN 'TLSv1.3' THEN 4 END AS rank
                                FROM unnest(o.ov) v) q
                       WHERE q.rank BETWEEN lo AND hi) r) ver
          -- a group in common, and a post-quantum one among them
          CROSS JOIN LATERAL (
              SELECT COALESCE(bool_or(gk.common), false) AS has_common,
                     COALESCE(bool_or(gk.common AND gk.pq), false) AS pq_common
                FROM unnest(o.og) u(g) JOIN grp_key gk ON gk.g = u.g) grp
          -- TLS 1.3: the server's first TLS 1.3 suite the client offers
          CROSS JOIN LATERAL (
              SELECT q.suite13,
                     CASE WHEN q.suite13 IS NOT NULL AND grp.has_common
                          THEN 'TLSv1.3 ' || q.suite13 END AS would13
                FROM (SELECT CASE WHEN 4 = ANY (ver.ranks) THEN
                             (SELECT s.name
                                FROM unnest(s_name, s_min) WITH ORDINALITY AS s(name, min_rank, ord)
                               WHERE s.min_rank = 4 AND s.name = ANY (o.oc)
                               ORDER BY s.ord LIMIT 1) END AS suite13) q) t13
          -- else the highest common version below 1.3: a suite allowed in
          -- it, and a common group for ECDHE suites
          CROSS JOIN LATERAL (
              SELECT CASE WHEN t13.would13 IS NULL AND ver.v12 IS NOT NULL THEN EXISTS (
                         SELECT 1 FROM unnest(s_name, s_min, s_max) AS s(name, min_rank, max_rank)
                          WHERE s.min_rank <= ver.v12 AND s.max_rank >= ver.v12 AND s.max_rank < 4
                            AND s.name = ANY (o.oc)) END AS any12,
                     CASE WHEN t13.would13 IS NULL AND ver.v12 IS NOT NULL THEN (
                         SELECT s.name
                           FROM unnest(s_name, s_min, s_max, s_ecdhe) WITH ORDINALITY
                                AS s(name, min_rank, max_rank, ecdhe, ord)
                          WHERE s.min_rank <= ver.v12 AND s.max_rank >= ver.v12 AND s.max_rank < 4
                            AND s.name = ANY (o.oc)
                            AND (NOT s.ecdhe OR grp.has_common)
                          ORDER BY s.ord LIMIT 1) END AS suite12) t12)
    SELECT fp.fja4, fp.fhigh, fp.fusers, fp.fapps, fp.faddrs, fp.fconns, fp.flast,
           d.would IS NULL,
           CASE WHEN d.would IS NOT NULL THEN NULL
                WHEN d.ranks IS NULL THEN CASE
                    WHEN fp.fhigh IS NULL THEN 'no common protocol version'
                    WHEN d.max_rank < lo
                    THEN format('no common protocol version (client offers at most %s)', fp.fhigh)
                    ELSE format('no common protocol version (server allows at most %s)', p_max)
                END
                WHEN NOT (d.suite13 IS NOT NULL OR COALESCE(d.any12, false))
                THEN 'no common cipher suite'
                ELSE 'no common group'
           END,
           d.would,
           d.would IS NOT NULL AND d.pq_common AND d.would LIKE 'TLSv1.3 %'
      FROM fp JOIN decision d
           ON fp.hv = d.hv AND fp.hc = d.hc AND fp.hg = d.hg
          AND fp.ov IS NOT DISTINCT FROM d.ov AND fp.oc IS NOT DISTINCT FROM d.oc
          AND fp.og IS NOT DISTINCT FROM d.og
     ORDER BY fp.fconns DESC, fp.fja4;
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

-- diagnose: diagnose(since), why connection attempts fail, one row per
-- cause with the fix for this server (src/diagnose/diagnose.sql), granted
-- to pg_monitor; report() gets its "Why connections fail" section.
CREATE FUNCTION diagnose(since interval DEFAULT '1 day',
    OUT cause text, OUT attempts bigint, OUT clients bigint,
    OUT first_seen timestamptz, OUT last_seen timestamptz,
    OUT example text, OUT explanation text, OUT fix text, OUT finding text)
RETURNS SETOF record
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $$
DECLARE
    -- TLS versions in order, for comparisons
    vr constant text[] := ARRAY['SSLv3', 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];
    vmin constant text := pg_catalog.current_setting('ssl_min_protocol_version');
    vmax constant text := pg_catalog.current_setting('ssl_max_protocol_version');
    ssl_on constant boolean := pg_catalog.current_setting('ssl') = 'on';
    w jsonb;                    -- the window's attempts, as JSON (every column)
    tlsline jsonb := '{}';      -- [user, database, address, replication] -> line TLS would match
    srv jsonb;                  -- the served leaf (server_certificates row)
    sc jsonb;                   -- every server_certificates row
    rules jsonb;                -- 'file:line' -> {raw, options, method}
    ids text[];                 -- check ids of the live findings
    ident text;
    mp text;                    -- map= of a pg_hba line
    k record;
    g record;
    s record;
    m record;
    ex jsonb;
    a text[];
    b text[];
    c text[];
    t text;
    u text;
    hi integer;
    lo integer;
    parts text[];
    fixes text[];
BEGIN
    SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(x) ORDER BY x.ts), '[]')
      INTO w
      FROM pgtls_audit.connections x
     WHERE x.outcome <> 'success'
       AND (diagnose.since IS NULL OR x.ts >= pg_catalog.now() - diagnose.since);
    IF pg_catalog.jsonb_array_length(w) = 0 THEN
        RETURN;
    END IF;

    -- Plaintext attempts that pg_hba.conf refused: the line each would
    -- match with TLS (causes 6 and 7).
    FOR k IN
        SELECT DISTINCT j->>'user_name' AS u, j->>'database_name' AS d,
               j->>'remote_host' AS h,
               (j->>'reason') LIKE '%replication connection%' AS repl
          FROM pg_catalog.jsonb_array_elements(w) e(j)
         WHERE NOT (j->>'ssl')::boolean
           AND NOT COALESCE((j->>'gss_encrypted')::boolean, false)
           AND j->>'sqlstate' = '28000'
           AND ((j->>'reason') LIKE 'no pg\_hba.conf entry for %'
                OR (j->>'reason') LIKE 'pg\_hba.conf rejects connection for %')
           AND j->>'remote_host' ~ '^[0-9A-Fa-f:.]+$'
           AND j->>'user_name' IS NOT NULL AND j->>'database_name' IS NOT NULL
    LOOP
        BEGIN
            SELECT * INTO m
              FROM pgtls_audit.hba_match(k.u::name, k.d::name, k.h::inet, true,
                                         false, NULL, false, k.repl);
            IF m.line_number IS NOT NULL AND m.method <> 'reject' THEN
                tlsline := tlsline || pg_catalog.jsonb_build_object(
                    pg_catalog.jsonb_build_array(k.u, k.d, k.h, k.repl)::text,
                    pg_catalog.jsonb_build_object('file', m.file, 'line', m.line_number,
                                                  'raw', m.raw_line, 'type', m.type));
            END IF;
        EXCEPTION
            WHEN invalid_text_representation OR insufficient_privilege
                 OR undefined_function OR invalid_parameter_value THEN
                NULL;           -- not decidable: the attempt stays in "other"
        END;
    END LOOP;

    -- The served certificate and the configured files, for causes 2 and 3
    BEGIN
        SELECT COALESCE(pg_catalog.jsonb_agg(pg_catalog.to_jsonb(x)), '[]') INTO sc
          FROM pgtls_audit.server_certificates x;
        SELECT e.j INTO srv
          FROM pg_catalog.jsonb_array_elements(sc) e(j)
         WHERE e.j->>'source' = 'served'
            OR (e.j->>'source' = 'ssl_cert_file' AND (e.j->>'position')::integer = 1)
         ORDER BY e.j->>'source' = 'served' DESC
         LIMIT 1;
    EXCEPTION
        WHEN insufficient_privilege OR undefined_table OR undefined_function THEN
            sc := '[]';
            srv := NULL;
    END;

    FOR g IN
        WITH e AS (
            SELECT x.j, x.j->>'reason' AS r, (x.j->>'ts')::timestamptz AS t,
                   CASE WHEN pg_catalog.jsonb_typeof(x.j->'offered_versions') = 'array'
                        THEN x.j->'offered_versions' END AS ov
              FROM pg_catalog.jsonb_array_elements(w) x(j)),
        f AS (
            SELECT e.*,
              CASE
                -- 8, or 2 when the client asked for a name the certificate lacks
                WHEN e.j->>'event' = 'handshake' AND e.j->>'outcome' = 'aborted'
                     AND e.r LIKE 'client closed the connection after the TLS handshake%'
                THEN CASE WHEN e.j->>'sni' IS NOT NULL AND srv IS NOT NULL
                               AND e.j->>'sni' !~ '^[0-9.]+$' AND pg_catalog.strpos(e.j->>'sni', ':') = 0
                               AND NOT EXISTS (
                                   SELECT 1 FROM pg_catalog.jsonb_array_elements_text(srv->'subject_alt_names') n(v)
                                    WHERE n.v LIKE 'DNS:%'
                                      AND (pg_catalog.lower(pg_catalog.substr(n.v, 5)) = pg_catalog.lower(e.j->>'sni')
                                           OR (n.v LIKE 'DNS:*.%'
                                               AND pg_catalog.strpos(e.j->>'sni', '.') > 1
                                               AND pg_catalog.lower(pg_catalog.substr(e.j->>'sni', pg_catalog.strpos(e.j->>'sni', '.')))
                                                   = pg_catalog.lower(pg_catalog.substr(n.v, 6)))))
                          THEN 'server_name_mismatch' ELSE 'tls_probe' END
                -- 1
                WHEN e.r LIKE 'could not accept SSL connection: %'
                     AND (e.r ~ '(unsupported protocol|no protocols available|alert protocol version|version too low)$'
                          OR (SELECT pg_catalog.max(pg_catalog.array_position(vr, v.x))
                                FROM pg_catalog.jsonb_array_elements_text(e.ov) v(x))
                             < pg_catalog.array_position(vr, vmin)
                          OR (vmax <> ''
                              AND (SELECT pg_catalog.min(pg_catalog.array_position(vr, v.x))
                                     FROM pg_catalog.jsonb_array_elements_text(e.ov) v(x))
                                  > pg_catalog.array_position(vr, vmax)))
                THEN 'protocol_version'
                -- 2
                WHEN e.r LIKE 'could not accept SSL connection: %'
                     AND e.r ~ 'alert (unknown ca|bad certificate|certificate unknown|certificate expired|certificate revoked|unsupported certificate)$'
                THEN 'server_certificate_rejected'
                -- 3
                WHEN e.r LIKE 'could not accept SSL connection: certificate verify failed%'
                THEN CASE
                    WHEN e.r LIKE '%(client certificate: certificate has expired)' THEN 'client_certificate_expired'
                    WHEN e.r LIKE '%(client certificate: certificate is not yet valid)' THEN 'client_certificate_not_yet_valid'
                    WHEN e.r LIKE '%(client certificate: certificate revoked)' THEN 'client_certificate_revoked'
                    WHEN e.r ~ '\(client certificate: (unable to get local issuer certificate|unable to get issuer certificate|self[- ]signed certificate|self[- ]signed certificate in certificate chain|unable to verify the first certificate)\)$'
                    THEN 'client_certificate_unknown_ca'
                    ELSE 'client_certificate_invalid' END
                -- 4
                WHEN e.r LIKE 'certificate authentication failed for user %'
                THEN 'certificate_user_mismatch'
                -- 5
                WHEN e.r = 'connection requires a valid client certificate'
                THEN 'client_certificate_missing'
                -- 6 and 7
                WHEN tlsline ? pg_catalog.jsonb_build_array(e.j->>'user_name', e.j->>'database_name',
                                                            e.j->>'remote_host',
                                                            e.r LIKE '%replication connection%')::text
                     AND NOT (e.j->>'ssl')::boolean
                THEN CASE WHEN ssl_on THEN 'plaintext_refused' ELSE 'tls_unavailable' END
                -- 9
                ELSE 'other'
              END AS cid
              FROM e)
        SELECT f.cid,
               CASE WHEN f.cid = 'other'
                    THEN COALESCE(pg_catalog.regexp_replace(f.r, '"[^"]*"', '"..."', 'g'),
                                  '(no reason recorded)')
                    ELSE '' END AS grp,
               pg_catalog.count(*) AS n,
               pg_catalog.count(DISTINCT f.j->>'remote_host') AS ncl,
               pg_catalog.min(f.t) AS t0, pg_catalog.max(f.t) AS t1,
               pg_catalog.jsonb_agg(f.j ORDER BY f.t DESC) AS js
          FROM f
         GROUP BY 1, 2
         ORDER BY 3 DESC, 6 DESC, 1, 2
    LOOP
        ex := g.js->0;
        cause := g.cid;
        attempts := g.n;
        clients := g.ncl;
        first_seen := g.t0;
        last_seen := g.t1;
        example := pg_catalog.concat_ws(' ',
                       'host=' || (ex->>'remote_host'),
                       'user=' || (ex->>'user_name'),
                       'database=' || (ex->>'database_name'),
                       'application_name=' || NULLIF(ex->>'application_name', ''))
                   || ': ' || COALESCE(ex->>'reason', '(no reason recorded)');
        explanation := NULL;
        fix := NULL;
        finding := NULL;

        -- the lookups some causes need, once
        IF g.cid IN ('protocol_version', 'server_certificate_rejected', 'client_certificate_missing',
                     'client_certificate_invalid', 'tls_unavailable') AND ids IS NULL THEN
            BEGIN
                SELECT COALESCE(pg_catalog.array_agg(DISTINCT x.check_id), '{}') INTO ids
                  FROM pgtls_audit.check_config() x;
            EXCEPTION
                WHEN insufficient_privilege OR undefined_function THEN
                    ids := '{}';
            END;
        END IF;
        IF g.cid IN ('certificate_user_mismatch', 'client_certificate_missing') AND rules IS NULL THEN
            BEGIN
                SELECT COALESCE(pg_catalog.jsonb_object_agg(x.file || ':' || x.line_number,
                           pg_catalog.jsonb_build_object('raw', x.raw_line, 'method', x.method,
                                                         'options', COALESCE(pg_catalog.to_jsonb(x.options), '[]'))),
                           '{}')
                  INTO rules
                  FROM pgtls_audit._hba_rules(NULL) x
                 WHERE x.line_number IS NOT NULL;
            EXCEPTION
                WHEN insufficient_privilege OR undefined_function THEN
                    rules := '{}';
            END;
        END IF;

        IF g.cid = 'protocol_version' THEN
            SELECT pg_catalog.max(pg_catalog.array_position(vr, v.x)),
                   pg_catalog.min(pg_catalog.array_position(vr, v.x))
              INTO hi, lo
              FROM pg_catalog.jsonb_array_elements(g.js) x(j),
                   pg_catalog.jsonb_array_elements_text(
                       CASE WHEN pg_catalog.jsonb_typeof(x.j->'offered_versions') = 'array'
                            THEN x.j->'offered_versions' END) v(x);
            IF hi IS NOT NULL AND hi < pg_catalog.array_position(vr, vmin) THEN
                explanation := pg_catalog.format(
                    'The client offers at most %s, the server requires %s (ssl_min_protocol_version = %L): they have no TLS version in common.',
                    vr[hi], vmin, vmin);
                IF vr[hi] = 'SSLv3' THEN
                    fix := pg_catalog.format('Upgrade the client''s TLS library or driver to one that offers %s or later; PostgreSQL never accepts SSLv3.', vmin);
                ELSE
                    fix := pg_catalog.format(
                        'Upgrade the client''s TLS library or driver to one that offers %s or later; only if it cannot be upgraded, set ssl_min_protocol_version = %L and run SELECT pg_reload_conf() (TLS below 1.2 is deprecated, RFC 8996, and gives finding TLS003).',
                        vmin, vr[hi]);
                END IF;
            ELSIF lo IS NOT NULL AND vmax <> '' AND lo > pg_catalog.array_position(vr, vmax) THEN
                explanation := pg_catalog.format(
                    'The client offers only %s and later, the server allows at most %s (ssl_max_protocol_version = %L): they have no TLS version in common.',
                    vr[lo], vmax, vmax);
                fix := pg_catalog.format(
                    'Set ssl_max_protocol_version = '''' (no upper limit) and run SELECT pg_reload_conf(), or let the client offer %s.', vmax);
                finding := CASE WHEN 'TLS004' = ANY (ids) THEN 'TLS004'
                                WHEN 'TLS005' = ANY (ids) THEN 'TLS005' END;
            ELSE
                explanation := pg_catalog.format(
                    'The TLS handshake failed with "%s": the client and the server have no TLS version in common (the server accepts %s to %s).',
                    pg_catalog.substr(ex->>'reason', 34), vmin,
                    COALESCE(NULLIF(vmax, ''), 'the newest its OpenSSL knows'));
                fix := pg_catalog.format(
                    'Make the client offer %s or later (update its TLS library or driver; libpq: ssl_min_protocol_version and ssl_max_protocol_version); only if it cannot, lower ssl_min_protocol_version and reload (finding TLS003).',
                    vmin);
                finding := CASE WHEN 'TLS004' = ANY (ids) THEN 'TLS004' END;
            END IF;

        ELSIF g.cid = 'server_certificate_rejected' THEN
            SELECT pg_catalog.array_agg(DISTINCT pg_catalog.substring(x.j->>'reason', 'alert ([a-z ]+)$'))
              INTO a FROM pg_catalog.jsonb_array_elements(g.js) x(j);
            t := pg_catalog.array_to_string(a, ', ');
            IF srv IS NULL THEN
                explanation := pg_catalog.format('The client refused the server''s certificate (alert %s).', t);
                fix := 'Check the chain in ssl_cert_file (pgtls_audit.server_certificates, readable by pg_monitor) and the client''s sslrootcert.';
            ELSIF srv->>'status' = 'expired' THEN
                explanation := pg_catalog.format(
                    'The certificate the server sends (%s) expired at %s: clients that verify it (sslmode=verify-ca, verify-full) refuse it (alert %s).',
                    srv->>'subject_dn', (srv->>'not_after')::timestamptz, t);
                fix := pg_catalog.format('Install a renewed certificate in ssl_cert_file (%s) and run SELECT pg_reload_conf().',
                                         pg_catalog.current_setting('ssl_cert_file'));
                finding := CASE WHEN 'CERT010' = ANY (ids) THEN 'CERT010' END;
            ELSIF srv->>'status' = 'not_yet_valid' THEN
                explanation := pg_catalog.format(
                    'The certificate the server sends (%s) is valid only from %s: clients that verify it refuse it (alert %s).',
                    srv->>'subject_dn', (srv->>'not_before')::timestamptz, t);
                fix := pg_catalog.format('Install a certificate valid now in ssl_cert_file (%s) and run SELECT pg_reload_conf(); check the clocks of the CA and of this server.',
                                         pg_catalog.current_setting('ssl_cert_file'));
                finding := CASE WHEN 'CERT011' = ANY (ids) THEN 'CERT011' END;
            ELSE
                -- the last certificate of ssl_cert_file, and whether the
                -- server can send its issuer: from the file, or from
                -- ssl_ca_file (OpenSSL completes the chain from there)
                SELECT x.j INTO ex
                  FROM pg_catalog.jsonb_array_elements(sc) x(j)
                 WHERE x.j->>'source' = 'ssl_cert_file'
                 ORDER BY (x.j->>'position')::integer DESC LIMIT 1;
                IF ex IS NOT NULL AND NOT (ex->>'self_signed')::boolean
                   AND NOT EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(sc) x(j)
                                    WHERE x.j->>'source' IN ('ssl_cert_file', 'ssl_ca_file')
                                      AND x.j->>'subject_dn' = ex->>'issuer_dn') THEN
                    explanation := pg_catalog.format(
                        'ssl_cert_file (%s) holds %s, issued by %s, and the server cannot send that issuer: clients that trust only the root CA (sslrootcert) cannot build the chain and refuse the certificate (alert %s).',
                        ex->>'path',
                        CASE WHEN (ex->>'position')::integer = 1
                             THEN 'only the leaf ' || (ex->>'subject_dn')
                             ELSE (ex->>'position') || ' certificates' END,
                        ex->>'issuer_dn', t);
                    fix := pg_catalog.format(
                        'Append the certificate of %s (the intermediate CA) to %s, after the leaf, and run SELECT pg_reload_conf(); if %s is itself a root CA, give the clients sslrootcert= a file holding it.',
                        ex->>'issuer_dn', ex->>'path', ex->>'issuer_dn');
                ELSE
                    explanation := pg_catalog.format(
                        'The server sends its certificate %s (issued by %s) with a chain it can complete, but the client does not trust the root CA of that chain (alert %s).',
                        srv->>'subject_dn', srv->>'issuer_dn', t);
                    fix := 'Give the client the root CA of this chain as sslrootcert (with sslmode=verify-ca or verify-full); note that libpq with sslmode=require also verifies the server when a root certificate file exists (sslrootcert or ~/.postgresql/root.crt).';
                END IF;
            END IF;

        ELSIF g.cid = 'server_name_mismatch' THEN
            SELECT pg_catalog.array_agg(DISTINCT x.j->>'sni') INTO a
              FROM pg_catalog.jsonb_array_elements(g.js) x(j);
            SELECT pg_catalog.array_agg(pg_catalog.substr(n.v, 5)) INTO b
              FROM pg_catalog.jsonb_array_elements_text(srv->'subject_alt_names') n(v)
             WHERE n.v LIKE 'DNS:%';
            explanation := pg_catalog.format(
                'Clients asked for the host name %s (SNI), which the certificate the server sends (%s) does not name (its names: %s): clients with sslmode=verify-full refuse it and close the connection right after the TLS handshake.',
                pg_catalog.array_to_string(a[1:5], ', '), srv->>'subject_dn',
                COALESCE(pg_catalog.array_to_string(b, ', '), 'none'));
            fix := pg_catalog.format(
                'Connect with a host name the certificate names (host=%s in the connection string), or reissue the server certificate with subjectAltName DNS:%s, install it in ssl_cert_file and run SELECT pg_reload_conf().',
                COALESCE(b[1], '...'), a[1]);

        ELSIF g.cid LIKE 'client\_certificate\_%' AND g.cid <> 'client_certificate_missing' THEN
            SELECT pg_catalog.array_agg(DISTINCT pg_catalog.format('%s (serial %s)', x.j->>'client_dn', x.j->>'client_serial')),
                   pg_catalog.array_agg(DISTINCT x.j->>'issuer_dn'),
                   pg_catalog.array_agg(DISTINCT x.j->>'client_fingerprint')
              INTO a, b, c
              FROM pg_catalog.jsonb_array_elements(g.js) x(j);
            -- the roles that presented these certificates
            parts := NULL;
            BEGIN
                SELECT pg_catalog.array_agg(DISTINCT v ORDER BY v) INTO parts
                  FROM (SELECT pg_catalog.unnest(cc.roles) AS v
                          FROM pgtls_audit.client_certificates cc
                         WHERE cc.fingerprint = ANY (c)
                        UNION
                        SELECT x.j->>'user_name' FROM pg_catalog.jsonb_array_elements(g.js) x(j)) r
                 WHERE v IS NOT NULL;
            EXCEPTION
                WHEN insufficient_privilege OR undefined_table THEN
                    NULL;
            END;
            u := CASE WHEN parts IS NULL
                      THEN 'no role is known for it (a refused handshake ends before the client names its user)'
                      ELSE 'presented for role ' || pg_catalog.array_to_string(parts, ', ') END;
            t := pg_catalog.array_to_string(a[1:5], ', ')
                 || CASE WHEN pg_catalog.cardinality(a) > 5
                         THEN pg_catalog.format(' and %s more', pg_catalog.cardinality(a) - 5) ELSE '' END;
            IF g.cid = 'client_certificate_unknown_ca' THEN
                SELECT pg_catalog.string_agg(x.j->>'subject_dn', '; ' ORDER BY (x.j->>'position')::integer)
                  INTO ident
                  FROM pg_catalog.jsonb_array_elements(sc) x(j)
                 WHERE x.j->>'source' = 'ssl_ca_file';
                explanation := pg_catalog.format(
                    'The server cannot verify the client certificate %s: its issuer %s %s; %s.',
                    t, pg_catalog.array_to_string(b, ', '),
                    CASE WHEN EXISTS (SELECT 1 FROM pg_catalog.jsonb_array_elements(sc) x(j)
                                       WHERE x.j->>'source' = 'ssl_ca_file' AND x.j->>'subject_dn' = ANY (b))
                         THEN 'is in ssl_ca_file, but the chain above it is not'
                         ELSE pg_catalog.format('is not in ssl_ca_file (%s)', pg_catalog.current_setting('ssl_ca_file')) END,
                    u);
                fix := pg_catalog.format(
                    'Give the client a certificate issued by a CA of ssl_ca_file (%s) in its sslcert/sslkey; or, if %s is to be trusted, add its CA certificate (and the CAs above it) to ssl_ca_file (%s) and run SELECT pg_reload_conf().',
                    COALESCE(ident, 'none readable'), pg_catalog.array_to_string(b, ', '),
                    pg_catalog.current_setting('ssl_ca_file'));
            ELSIF g.cid = 'client_certificate_expired' THEN
                SELECT pg_catalog.string_agg(DISTINCT pg_catalog.format('%s (serial %s) expired at %s',
                                                     x.j->>'client_dn', x.j->>'client_serial',
                                                     (x.j->>'client_not_after')::timestamptz), '; ')
                  INTO ident FROM pg_catalog.jsonb_array_elements(g.js) x(j);
                explanation := pg_catalog.format(
                    'The client certificate %s; the server refuses it in the TLS handshake; %s.',
                    ident, u);
                fix := pg_catalog.format(
                    'Issue a new certificate for %s and point the client''s sslcert/sslkey at it.',
                    (SELECT pg_catalog.string_agg(DISTINCT x.j->>'client_dn', '; ')
                       FROM pg_catalog.jsonb_array_elements(g.js) x(j)));
            ELSIF g.cid = 'client_certificate_not_yet_valid' THEN
                explanation := pg_catalog.format(
                    'The client certificate %s is not valid yet (its notBefore is in the future); %s.', t, u);
                fix := 'Use the certificate once it is valid, or reissue it with a notBefore in the past; check the clocks of the CA, the client and this server.';
            ELSIF g.cid = 'client_certificate_revoked' THEN
                ident := NULL;
                BEGIN
                    SELECT pg_catalog.string_agg(DISTINCT x.path, ', ') INTO ident
                      FROM pgtls_audit.crls x WHERE x.issuer_dn = ANY (b);
                EXCEPTION
                    WHEN insufficient_privilege OR undefined_table THEN
                        NULL;
                END;
                explanation := pg_catalog.format(
                    'The client certificate %s is revoked: the CRL of its issuer %s (%s) lists it; %s.',
                    t, pg_catalog.array_to_string(b, ', '), COALESCE(ident, 'ssl_crl_file/ssl_crl_dir'), u);
                fix := pg_catalog.format(
                    'Issue the client a new certificate and point its sslcert/sslkey at it; if the revocation was a mistake, the CA must issue a CRL without it, to be installed in %s, then run SELECT pg_reload_conf().',
                    COALESCE(ident, 'ssl_crl_file/ssl_crl_dir'));
            ELSE
                SELECT pg_catalog.array_agg(DISTINCT pg_catalog.substring(x.j->>'reason', '\(client certificate: (.*)\)$'))
                  INTO parts FROM pg_catalog.jsonb_array_elements(g.js) x(j);
                IF 'unable to get certificate CRL' = ANY (parts) THEN
                    explanation := pg_catalog.format(
                        'The server has no CRL of the issuer %s of the client certificate %s, or of a CA above it: once a CRL is configured, PostgreSQL checks the whole chain, so every certificate of that CA is refused; %s.',
                        pg_catalog.array_to_string(b, ', '), t, u);
                    fix := 'Add a current CRL of every CA of the chain to ssl_crl_file or ssl_crl_dir and run SELECT pg_reload_conf().';
                    finding := CASE WHEN 'CERT005' = ANY (ids) THEN 'CERT005' END;
                ELSIF 'CRL has expired' = ANY (parts) THEN
                    explanation := pg_catalog.format(
                        'The CRL of the issuer of the client certificate %s is past its nextUpdate: OpenSSL refuses every certificate of that CA; %s.', t, u);
                    fix := 'Install a current CRL from the CA in ssl_crl_file or ssl_crl_dir and run SELECT pg_reload_conf().';
                    finding := CASE WHEN 'CERT013' = ANY (ids) THEN 'CERT013' END;
                ELSE
                    explanation := pg_catalog.format('OpenSSL refused the client certificate %s: %s; %s.',
                                                     t, COALESCE(pg_catalog.array_to_string(parts, ', '), 'no reason given'), u);
                    fix := 'Give the client (sslcert/sslkey) a valid certificate for TLS client use, issued by a CA of ssl_ca_file.';
                END IF;
            END IF;

        ELSIF g.cid = 'certificate_user_mismatch' THEN
            SELECT s2.setting INTO ident FROM pg_catalog.pg_settings s2 WHERE s2.name = 'ident_file';
            ident := COALESCE(ident, 'pg_ident.conf');
            parts := '{}';
            fixes := '{}';
            FOR s IN
                SELECT DISTINCT x.j->>'user_name' AS un, x.j->>'client_dn' AS dn,
                       x.j->>'hba_file' AS hf, (x.j->>'hba_line')::integer AS hl
                  FROM pg_catalog.jsonb_array_elements(g.js) x(j)
                 ORDER BY 1, 2, 3, 4
                 LIMIT 5
            LOOP
                ex := rules->(s.hf || ':' || s.hl);
                -- the name the server compares: the CN, or the DN with clientname=DN
                IF ex->'options' ? 'clientname=DN' THEN
                    t := 'DN';
                    u := s.dn;
                ELSE
                    t := 'CN';
                    u := pg_catalog.regexp_replace(
                        pg_catalog.substring(s.dn, '(?:^|,)CN=((?:[^,\\]|\\.)*)'), '\\(.)', '\1', 'g');
                END IF;
                -- its map= option, if any
                SELECT pg_catalog.substr(o.v, 5) INTO mp
                  FROM pg_catalog.jsonb_array_elements_text(COALESCE(ex->'options', '[]')) o(v)
                 WHERE o.v LIKE 'map=%' LIMIT 1;
                parts := parts || pg_catalog.format(
                    'the certificate''s %s %s is not the role %s requested on pg_hba.conf line %s:%s (%s), %s',
                    t, COALESCE(u, '(none)'), s.un, s.hf, s.hl, COALESCE(ex->>'raw', 'line not readable'),
                    CASE WHEN mp IS NOT NULL
                         THEN pg_catalog.format('and map %s of %s has no line mapping it', mp, ident)
                         ELSE 'which has no map= option' END);
                IF u IS NOT NULL AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles ro WHERE ro.rolname = u) THEN
                    fixes := fixes || pg_catalog.format(
                        'the certificate is for role %s: connect as user=%s, or give the client of %s a certificate whose %s is %s',
                        u, u, s.un, t, s.un);
                ELSIF mp IS NOT NULL THEN
                    fixes := fixes || pg_catalog.format(
                        'add the line "%s %s %s" to %s and run SELECT pg_reload_conf()',
                        mp, CASE WHEN u ~ '^[^\s,"#/]+$' THEN u ELSE '"' || u || '"' END, s.un, ident);
                ELSE
                    fixes := fixes || pg_catalog.format(
                        'add map=certmap to pg_hba.conf line %s:%s and the line "certmap %s %s" to %s, then run SELECT pg_reload_conf(); or give the client a certificate whose %s is %s',
                        s.hf, s.hl, CASE WHEN u ~ '^[^\s,"#/]+$' THEN u ELSE '"' || u || '"' END, s.un, ident, t, s.un);
                END IF;
            END LOOP;
            explanation := 'Certificate authentication failed: ' || pg_catalog.array_to_string(parts, '; ') || '.';
            t := pg_catalog.array_to_string(fixes, '; ');
            fix := pg_catalog.upper(pg_catalog.left(t, 1)) || pg_catalog.substr(t, 2) || '.';

        ELSIF g.cid = 'client_certificate_missing' THEN
            parts := '{}';
            FOR s IN
                SELECT x.j->>'hba_file' AS hf, (x.j->>'hba_line')::integer AS hl,
                       pg_catalog.string_agg(DISTINCT x.j->>'user_name', ', ') AS us
                  FROM pg_catalog.jsonb_array_elements(g.js) x(j)
                 GROUP BY 1, 2 ORDER BY 1, 2 LIMIT 5
            LOOP
                ex := rules->(s.hf || ':' || s.hl);
                parts := parts || pg_catalog.format(
                    'pg_hba.conf line %s:%s (%s) requires one (%s) for %s',
                    s.hf, s.hl, COALESCE(ex->>'raw', 'line not readable'),
                    CASE WHEN ex->>'method' = 'cert' THEN 'method cert'
                         ELSE COALESCE((SELECT o.v FROM pg_catalog.jsonb_array_elements_text(ex->'options') o(v)
                                         WHERE o.v LIKE 'clientcert=%' LIMIT 1), 'clientcert') END,
                    s.us);
            END LOOP;
            explanation := 'The client sent no certificate, but '
                           || pg_catalog.array_to_string(parts, '; ') || '.';
            IF pg_catalog.current_setting('ssl_ca_file') = '' THEN
                fix := 'Set ssl_ca_file to the CA that issues the client certificates and run SELECT pg_reload_conf(): without it the server never asks the client for a certificate.';
                finding := CASE WHEN 'CERT006' = ANY (ids) THEN 'CERT006' END;
            ELSE
                SELECT pg_catalog.string_agg(x.j->>'subject_dn', '; ' ORDER BY (x.j->>'position')::integer)
                  INTO ident FROM pg_catalog.jsonb_array_elements(sc) x(j)
                 WHERE x.j->>'source' = 'ssl_ca_file';
                fix := pg_catalog.format(
                    'Give the client a certificate issued by a CA of ssl_ca_file (%s): sslcert=<file> sslkey=<file> in its connection string (libpq also reads ~/.postgresql/postgresql.crt and postgresql.key); or, if it should log in without one, change pg_hba.conf line %s.',
                    COALESCE(ident, pg_catalog.current_setting('ssl_ca_file')),
                    (SELECT pg_catalog.string_agg(DISTINCT (x.j->>'hba_file') || ':' || (x.j->>'hba_line'), ', ')
                       FROM pg_catalog.jsonb_array_elements(g.js) x(j)));
            END IF;

        ELSIF g.cid IN ('plaintext_refused', 'tls_unavailable') THEN
            parts := '{}';
            FOR s IN
                SELECT DISTINCT x.j->>'user_name' AS un, x.j->>'database_name' AS dn,
                       tlsline->(pg_catalog.jsonb_build_array(x.j->>'user_name', x.j->>'database_name',
                                                              x.j->>'remote_host',
                                                              (x.j->>'reason') LIKE '%replication connection%')::text) AS l
                  FROM pg_catalog.jsonb_array_elements(g.js) x(j)
                 ORDER BY 1, 2 LIMIT 5
            LOOP
                parts := parts || pg_catalog.format('user %s database %s would match pg_hba.conf line %s:%s (%s)',
                                                    s.un, s.dn, s.l->>'file', s.l->>'line', s.l->>'raw');
            END LOOP;
            t := pg_catalog.array_to_string(parts, '; ');
            IF g.cid = 'plaintext_refused' THEN
                explanation := pg_catalog.format(
                    'The client connected without TLS ("no encryption": sslmode=disable, or allow), and pg_hba.conf accepts it only over TLS: with TLS, %s.', t);
                fix := pg_catalog.format(
                    'On the client, use TLS: sslmode=require in the connection string or PGSSLMODE (better sslmode=verify-full with sslrootcert=<the root CA file>); with TLS, %s.', t);
            ELSE
                explanation := pg_catalog.format(
                    'ssl is off on this server, so clients fall back to plaintext (sslmode=prefer or allow) and only TLS lines would accept them: %s. Clients with sslmode=require or verify-* give up before their start-up packet and leave no record.', t);
                fix := 'Set ssl = on, with ssl_cert_file and ssl_key_file, and run SELECT pg_reload_conf().';
                finding := CASE WHEN 'TLS001' = ANY (ids) THEN 'TLS001' END;
            END IF;

        ELSIF g.cid = 'tls_probe' THEN
            SELECT pg_catalog.string_agg(pg_catalog.format('%s (%s)', h, n), ', ' ORDER BY n DESC, h)
              INTO t
              FROM (SELECT x.j->>'remote_host' AS h, pg_catalog.count(*) AS n
                      FROM pg_catalog.jsonb_array_elements(g.js) x(j)
                     GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 10) p;
            explanation := pg_catalog.format(
                'TLS handshakes that completed and were closed before a start-up packet, from %s: TLS scanners (testssl.sh, sslyze, nmap), load-balancer health checks, openssl s_client, or libpq 17+ cancel requests over TLS. Not an error in itself.', t);
            fix := pg_catalog.format(
                'Nothing to change on the server. Make sure you know who runs %s; a health check that should log in shows up with a user name instead.',
                (SELECT pg_catalog.string_agg(DISTINCT x.j->>'remote_host', ', ')
                   FROM pg_catalog.jsonb_array_elements(g.js) x(j)));

        ELSE
            t := ex->>'reason';
            IF t LIKE 'password authentication failed for user %' THEN
                explanation := 'The client sent a wrong password, or the role has none that this method can check.';
                fix := 'Check the password the client sends (PGPASSWORD, ~/.pgpass, the application''s settings), or set it with ALTER ROLE ... PASSWORD.';
            ELSIF t = 'client closed the connection during authentication' THEN
                explanation := 'The client gave up during authentication, typically because it had no password to send (psql prompting, no ~/.pgpass entry) or timed out.';
                fix := 'Give the client its password non-interactively (PGPASSWORD, ~/.pgpass, passfile=) or use a method that needs none (cert).';
            ELSIF t = 'client closed the connection during the TLS handshake' THEN
                explanation := 'The client closed the connection during the TLS handshake without an alert (a client that refused the server without saying why, or the network).';
                fix := 'Read the client''s own error message: libpq names the reason.';
            ELSIF t LIKE 'no pg\_hba.conf entry for %' THEN
                explanation := 'No pg_hba.conf line matches this user, database, address and encryption.';
                fix := 'Add a line for them to pg_hba.conf and run SELECT pg_reload_conf(), or connect as a user or to a database that has one; pgtls_audit.hba_match() shows which line a connection would hit.';
            ELSIF t LIKE 'pg\_hba.conf rejects connection for %' THEN
                explanation := pg_catalog.format('The reject line %s:%s of pg_hba.conf matched.', ex->>'hba_file', ex->>'hba_line');
                fix := pg_catalog.format('If the line is meant, nothing; otherwise change pg_hba.conf line %s:%s and run SELECT pg_reload_conf().',
                                         ex->>'hba_file', ex->>'hba_line');
            ELSIF t LIKE 'role % is not permitted to log in' THEN
                explanation := 'The role exists but has no LOGIN privilege.';
                fix := 'ALTER ROLE ... LOGIN, or connect as another role.';
            ELSIF ex->>'sqlstate' = '3D000' THEN
                explanation := 'The database does not exist.';
                fix := 'Check dbname in the client''s connection string.';
            ELSIF ex->>'sqlstate' = '53300' THEN
                explanation := 'A connection limit was reached (max_connections, or a role''s or database''s CONNECTION LIMIT).';
                fix := 'Raise the limit, close idle sessions, or use a connection pooler.';
            ELSIF ex->>'sqlstate' = '57P03' THEN
                explanation := 'The server was starting, shutting down, or is a standby that does not accept connections.';
                fix := 'Retry once the server is up; on a standby, set hot_standby = on.';
            ELSIF ex->>'sqlstate' IN ('08P01', '0A000') AND NOT (ex->>'ssl')::boolean THEN
                explanation := 'The client does not speak the PostgreSQL protocol this server expects (another kind of client pointed at this port, or a scanner).';
                fix := 'Find the client by its address.';
            ELSE
                explanation := pg_catalog.format('The server refused the attempt: %s.', g.grp);
                fix := 'See the server''s message; pgtls_audit.connections holds each attempt with its details.';
            END IF;
        END IF;
        RETURN NEXT;
    END LOOP;
END
$$;
COMMENT ON FUNCTION diagnose(interval) IS
'Why connection attempts failed since now() - since (NULL: every recorded attempt): one row per cause, most frequent first, with an example attempt, an explanation, the fix for this server and the related finding';

REVOKE ALL ON FUNCTION diagnose(interval) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION diagnose(interval) TO pg_monitor;
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

    -- failed attempts of the last day by cause (src/diagnose/diagnose.sql)
    out := out || E'\n== Why connections fail (last day)\n';
    IF pg_catalog.to_regprocedure('pgtls_audit.diagnose(interval)') IS NOT NULL THEN
        BEGIN
            n := 0;
            FOR r IN EXECUTE 'SELECT * FROM pgtls_audit.diagnose()' LOOP
                n := n + 1;
                out := out || pg_catalog.format(E'  %s%s: %s attempt(s) from %s address(es)\n     %s\n     e.g. %s\n     fix: %s\n',
                                                r.cause, COALESCE(' (finding ' || r.finding || ')', ''),
                                                r.attempts, r.clients,
                                                r.explanation, r.example, r.fix);
            END LOOP;
            IF n = 0 THEN
                out := out || E'  no failed attempts\n';
            END IF;
        EXCEPTION
            WHEN object_not_in_prerequisite_state THEN
                out := out || E'  not available (pgtls_audit is not in shared_preload_libraries)\n';
            WHEN undefined_column OR undefined_table OR undefined_function OR insufficient_privilege THEN
                out := out || E'  not available\n';
        END;
    ELSE
        out := out || E'  not available (diagnose() not installed)\n';
    END IF;

    RETURN out;
END
$$;
COMMENT ON FUNCTION report() IS
'Text report for psql, headed by the server (cluster_name, else data directory, and port): findings by severity, the three things to fix first, certificates expiring soonest, protocol/cipher mix of recent connections, the clients that hardened settings would break, post-quantum readiness, why connections failed in the last day';

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
