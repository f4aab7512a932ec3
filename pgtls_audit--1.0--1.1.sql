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
