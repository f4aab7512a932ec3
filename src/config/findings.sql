
-- src/config/findings.sql: misconfiguration findings (ssl settings, cipher suites,
-- certificate files, pg_hba.conf analyzed with the server's own parser),
-- pg_hba what-if matching, and report().  None of it needs
-- shared_preload_libraries.  Everything reads configuration files, so
-- nothing is granted to PUBLIC; read-only access goes to pg_monitor, and a
-- pg_hba file other than the configured one needs the privileges of
-- pg_read_server_files (checked in C).  Secret option values of pg_hba
-- lines are redacted in every output for callers without those privileges.

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
'Every line of pg_hba.conf (or of another file, with the privileges of pg_read_server_files) as the server parses it, with reachability, shadowing, plaintext exposure, weak methods and, when the inventory runs, times matched; secret option values redacted for other callers';

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
COMMENT ON FUNCTION check_config(text) IS
'Misconfiguration findings for the live settings and pg_hba.conf (or another pg_hba file, with the privileges of pg_read_server_files)';

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

-- What a change of the TLS settings would do to the clients seen: the
-- offered versions, suites and groups of each ClientHello fingerprint
-- (client_fingerprints) against the proposed settings, the suites expanded
-- by OpenSSL itself (expand_ciphers).

-- A TLS group name as a comparable key: lower case, OpenSSL's aliases of
-- the NIST curves folded, and the hex form in which a ClientHello's group
-- is shown when this server's OpenSSL does not know it mapped to its name.
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

-- Privileges: nothing for PUBLIC; monitoring roles read the configured
-- file's analysis; other files need the privileges of pg_read_server_files
-- (checked in C).
REVOKE ALL ON FUNCTION expand_ciphers(text, text, text, text) FROM PUBLIC;
REVOKE ALL ON ciphers FROM PUBLIC;
REVOKE ALL ON FUNCTION _hba_rules(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION hba_rules(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION hba_match(name, name, inet, boolean, boolean, text, boolean, boolean) FROM PUBLIC;
REVOKE ALL ON FUNCTION _config_findings(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION check_config(text) FROM PUBLIC;
REVOKE ALL ON findings FROM PUBLIC;
REVOKE ALL ON FUNCTION report() FROM PUBLIC;
REVOKE ALL ON FUNCTION settings_impact(text, text, text, text, text) FROM PUBLIC;

GRANT EXECUTE ON FUNCTION expand_ciphers(text, text, text, text) TO pg_monitor;
GRANT SELECT ON ciphers TO pg_monitor;
GRANT EXECUTE ON FUNCTION _hba_rules(text) TO pg_monitor;
GRANT EXECUTE ON FUNCTION hba_rules(text) TO pg_monitor;
GRANT EXECUTE ON FUNCTION hba_match(name, name, inet, boolean, boolean, text, boolean, boolean) TO pg_monitor;
GRANT EXECUTE ON FUNCTION _config_findings(text) TO pg_monitor;
GRANT EXECUTE ON FUNCTION check_config(text) TO pg_monitor;
GRANT SELECT ON findings TO pg_monitor;
GRANT EXECUTE ON FUNCTION report() TO pg_monitor;
GRANT EXECUTE ON FUNCTION settings_impact(text, text, text, text, text) TO pg_monitor;
