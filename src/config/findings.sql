
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
'Text report for psql, headed by the server (cluster_name, else data directory, and port): findings by severity, the three things to fix first, certificates expiring soonest, protocol/cipher mix of recent connections, why connections failed in the last day';

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

GRANT EXECUTE ON FUNCTION expand_ciphers(text, text, text, text) TO pg_monitor;
GRANT SELECT ON ciphers TO pg_monitor;
GRANT EXECUTE ON FUNCTION _hba_rules(text) TO pg_monitor;
GRANT EXECUTE ON FUNCTION hba_rules(text) TO pg_monitor;
GRANT EXECUTE ON FUNCTION hba_match(name, name, inet, boolean, boolean, text, boolean, boolean) TO pg_monitor;
GRANT EXECUTE ON FUNCTION _config_findings(text) TO pg_monitor;
GRANT EXECUTE ON FUNCTION check_config(text) TO pg_monitor;
GRANT SELECT ON findings TO pg_monitor;
GRANT EXECUTE ON FUNCTION report() TO pg_monitor;
