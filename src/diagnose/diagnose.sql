
-- src/diagnose/diagnose.sql: diagnose(), why connection attempts fail,
-- explained from the server's own evidence.  PL/pgSQL over the other parts
-- (the connection inventory, the certificate files, the pg_hba analysis and
-- the findings): no C, no locking of its own.  The causes and the evidence
-- that decides each are listed in README.md ("Why connections fail").
-- Granted to pg_monitor, like the findings it refers to.

-- One row per cause seen among the failed, rejected and aborted attempts of
-- pgtls_audit.connections since now() - since (NULL: the whole ring), most
-- frequent first; every such attempt is counted in exactly one row.
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
