--
-- privileges: one model, SQL GRANT/REVOKE only (README, "Privileges").
-- Every function and view of the extension, read from the catalog, must
-- have a decision below (a new one without a decision fails the test);
-- each is then used as a plain role, a pg_monitor member and a
-- pg_read_all_stats member, and GRANT delegates what is not granted.
-- Inventory views are open to all, with rows filtered in C.
--
\set VERBOSITY terse
\getenv pki PGTLS_PKI
\getenv port PGPORT
\set admin 'host=/tmp port=' :port ' dbname=contrib_regression user=postgres'

CREATE ROLE regress_priv_plain LOGIN PASSWORD 'regress_pw';
CREATE ROLE regress_priv_monitor IN ROLE pg_monitor;
CREATE ROLE regress_priv_stats IN ROLE pg_read_all_stats;
-- one connection of the plain role, for the row filtering below
\set c 'host=127.0.0.1 port=' :port ' dbname=contrib_regression sslrootcert=' :pki '/root.crt user=regress_priv_plain password=regress_pw sslmode=verify-full sslcert=' :pki '/no-such.crt sslkey=' :pki '/no-such.key'
\connect :"c"
SELECT current_user, ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid();
\connect :"admin"

SELECT pg_read_file(:'pki' || '/server.crt') AS pem \gset

-- Who may use each object by default: public, pg_read_all_stats,
-- pg_monitor, or none (superusers, and roles given it by GRANT), and a
-- statement that uses it.
CREATE TEMP TABLE decision (object text PRIMARY KEY, grantee text NOT NULL, call text NOT NULL);
INSERT INTO decision VALUES
  ('function pgtls_audit.status()', 'public', 'SELECT * FROM pgtls_audit.status()'),
  ('function pgtls_audit._check_preloaded()', 'none', 'SELECT pgtls_audit._check_preloaded()'),
  ('function pgtls_audit.connections_raw()', 'public', 'SELECT count(*) FROM pgtls_audit.connections_raw()'),
  ('view pgtls_audit.connections', 'public', 'SELECT count(*) FROM pgtls_audit.connections'),
  ('function pgtls_audit.clients_raw()', 'public', 'SELECT count(*) FROM pgtls_audit.clients_raw()'),
  ('view pgtls_audit.clients', 'public', 'SELECT count(*) FROM pgtls_audit.clients'),
  ('function pgtls_audit.client_certificates_raw()', 'public', 'SELECT count(*) FROM pgtls_audit.client_certificates_raw()'),
  ('view pgtls_audit.client_certificates', 'public', 'SELECT count(*) FROM pgtls_audit.client_certificates'),
  ('function pgtls_audit.hba_usage_raw()', 'pg_read_all_stats', 'SELECT count(*) FROM pgtls_audit.hba_usage_raw()'),
  ('view pgtls_audit.hba_usage', 'pg_read_all_stats', 'SELECT count(*) FROM pgtls_audit.hba_usage'),
  ('function pgtls_audit.stats_raw()', 'public', 'SELECT * FROM pgtls_audit.stats_raw()'),
  ('view pgtls_audit.stats', 'public', 'SELECT count(*) FROM pgtls_audit.stats'),
  ('function pgtls_audit.client_fingerprints_raw()', 'pg_read_all_stats', 'SELECT count(*) FROM pgtls_audit.client_fingerprints_raw()'),
  ('view pgtls_audit.client_fingerprints', 'pg_read_all_stats', 'SELECT count(*) FROM pgtls_audit.client_fingerprints'),
  ('function pgtls_audit.reset()', 'none', 'SELECT pgtls_audit.reset()'),
  ('function pgtls_audit.certificate_info(text)', 'public', 'SELECT count(*) FROM pgtls_audit.certificate_info(' || quote_literal(:'pem') || '::text)'),
  ('function pgtls_audit.certificate_info(bytea)', 'public', 'SELECT count(*) FROM pgtls_audit.certificate_info(convert_to(' || quote_literal(:'pem') || ', ''UTF8''))'),
  ('function pgtls_audit.crl_info(text)', 'public', 'SELECT count(*) FROM pgtls_audit.crl_info('''')'),
  ('function pgtls_audit._server_certificates()', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit._server_certificates()'),
  ('view pgtls_audit.server_certificates', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit.server_certificates'),
  ('function pgtls_audit._crls()', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit._crls()'),
  ('view pgtls_audit.crls', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit.crls'),
  ('function pgtls_audit._serial_hex(text)', 'public', 'SELECT pgtls_audit._serial_hex(''4096'')'),
  ('function pgtls_audit._expiring_client_certificates(interval)', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit._expiring_client_certificates(''1 day'')'),
  ('function pgtls_audit.expiring(interval)', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit.expiring()'),
  ('function pgtls_audit.server_key_check()', 'pg_monitor', 'SELECT * FROM pgtls_audit.server_key_check()'),
  ('function pgtls_audit.expand_ciphers(text,text,text,text)', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit.expand_ciphers()'),
  ('view pgtls_audit.ciphers', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit.ciphers'),
  ('function pgtls_audit._hba_rules(text)', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit._hba_rules(NULL)'),
  ('function pgtls_audit.hba_rules(text)', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit.hba_rules()'),
  ('function pgtls_audit.hba_match(name,name,inet,boolean,boolean,text,boolean,boolean)', 'pg_monitor', 'SELECT * FROM pgtls_audit.hba_match(''postgres'', ''postgres'', ''127.0.0.1'', true)'),
  ('function pgtls_audit._config_findings(text)', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit._config_findings(NULL)'),
  ('function pgtls_audit.check_config(text)', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit.check_config()'),
  ('view pgtls_audit.findings', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit.findings'),
  ('function pgtls_audit.tls_group_key(text)', 'public', 'SELECT pgtls_audit.tls_group_key(''P-256'')'),
  ('function pgtls_audit.settings_impact(text,text,text,text,text)', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit.settings_impact()'),
  ('function pgtls_audit.report()', 'pg_monitor', 'SELECT pgtls_audit.report()'),
  ('function pgtls_audit.diagnose(interval)', 'pg_monitor', 'SELECT count(*) FROM pgtls_audit.diagnose()');

-- every function and view of the extension, from the catalog
CREATE TEMP VIEW member AS
SELECT pg_describe_object(d.classid, d.objid, 0) AS object
FROM pg_depend d JOIN pg_extension e ON d.refclassid = 'pg_extension'::regclass AND d.refobjid = e.oid
WHERE e.extname = 'pgtls_audit' AND d.deptype = 'e'
  AND d.classid IN ('pg_proc'::regclass, 'pg_class'::regclass);
SELECT count(*) AS objects FROM member;
-- no object without a decision, no decision without an object
SELECT coalesce(m.object, d.object) AS object,
       CASE WHEN d.object IS NULL THEN 'no decision' ELSE 'not in the extension' END AS problem
FROM member m FULL JOIN decision d ON d.object = m.object
WHERE m.object IS NULL OR d.object IS NULL;

-- run a statement as a role: 'ok', or the SQLSTATE of its error
CREATE FUNCTION pg_temp.call_as(r name, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    res text;
BEGIN
    EXECUTE format('SET ROLE %I', r);
    BEGIN
        EXECUTE q;
        res := 'ok';
    EXCEPTION WHEN OTHERS THEN
        res := SQLSTATE;
    END;
    RESET ROLE;
    RETURN res;
END
$$;
-- what each role may do by default (42501: permission denied)
SELECT object, grantee,
       pg_temp.call_as('regress_priv_plain', call) AS plain,
       pg_temp.call_as('regress_priv_stats', call) AS read_all_stats,
       pg_temp.call_as('regress_priv_monitor', call) AS monitor
FROM decision ORDER BY object;
-- the same as the decisions, for every object
SELECT count(*) AS not_as_decided
FROM decision
WHERE pg_temp.call_as('regress_priv_plain', call)
        <> CASE WHEN grantee = 'public' THEN 'ok' ELSE '42501' END
   OR pg_temp.call_as('regress_priv_stats', call)
        <> CASE WHEN grantee IN ('public', 'pg_read_all_stats') THEN 'ok' ELSE '42501' END
   OR pg_temp.call_as('regress_priv_monitor', call)
        <> CASE WHEN grantee <> 'none' THEN 'ok' ELSE '42501' END;
-- PUBLIC has no privilege on an object not decided "public"
SELECT d.object
FROM decision d
WHERE d.grantee <> 'public'
  AND CASE WHEN d.object LIKE 'view %'
           THEN has_table_privilege('public', substr(d.object, 6), 'SELECT')
           ELSE has_function_privilege('public', substr(d.object, 10), 'EXECUTE') END;

-- a pg_monitor member analyzes only the configured pg_hba file; another
-- file needs the privileges of pg_read_server_files
SELECT pg_temp.call_as('regress_priv_monitor', 'SELECT count(*) FROM pgtls_audit.hba_rules(' || quote_literal(:'pki' || '/server.crt') || ')') AS other_file;
SELECT pg_temp.call_as('regress_priv_monitor', 'SELECT count(*) FROM pgtls_audit.hba_rules(current_setting(''hba_file''))') AS configured_file;

-- rows of the inventory views: a role without pg_read_all_stats sees
-- exactly its own rows, a pg_read_all_stats member every row
SELECT count(*) FILTER (WHERE user_name = 'regress_priv_plain') AS own,
       count(*) FILTER (WHERE user_name <> 'regress_priv_plain') > 0 AS others_exist
FROM pgtls_audit.connections;
SELECT count(*) AS all_rows FROM pgtls_audit.connections \gset
SELECT count(*) AS all_clients FROM pgtls_audit.clients \gset
CREATE TEMP TABLE seen (role name, rows bigint, own bigint, clients bigint, own_clients bigint);
GRANT INSERT ON seen TO PUBLIC;
SET ROLE regress_priv_plain;
INSERT INTO seen SELECT current_user, count(*), count(*) FILTER (WHERE user_name = current_user),
       (SELECT count(*) FROM pgtls_audit.clients),
       (SELECT count(*) FROM pgtls_audit.clients WHERE user_name = current_user)
FROM pgtls_audit.connections;
RESET ROLE;
SET ROLE regress_priv_stats;
INSERT INTO seen SELECT current_user, count(*), count(*) FILTER (WHERE user_name = current_user),
       (SELECT count(*) FROM pgtls_audit.clients),
       (SELECT count(*) FROM pgtls_audit.clients WHERE user_name = current_user)
FROM pgtls_audit.connections;
RESET ROLE;
SELECT role, rows, own, rows = :all_rows AS sees_all, clients, own_clients,
       clients = :all_clients AS sees_all_clients
FROM seen ORDER BY role;

-- GRANT delegates: reset() to a plain role
SELECT records_total > 0 AS has_records FROM pgtls_audit.stats;
GRANT EXECUTE ON FUNCTION pgtls_audit.reset() TO regress_priv_plain;
SELECT pg_temp.call_as('regress_priv_plain', 'SELECT pgtls_audit.reset()') AS reset_granted;
SELECT records_total, history_entries, clients_entries FROM pgtls_audit.stats;
REVOKE EXECUTE ON FUNCTION pgtls_audit.reset() FROM regress_priv_plain;
SELECT pg_temp.call_as('regress_priv_plain', 'SELECT pgtls_audit.reset()') AS reset_revoked;
-- the key check to a plain role
GRANT EXECUTE ON FUNCTION pgtls_audit.server_key_check() TO regress_priv_plain;
SET ROLE regress_priv_plain;
SELECT present, permissions_ok, matches_certificate, problem FROM pgtls_audit.server_key_check();
RESET ROLE;
REVOKE EXECUTE ON FUNCTION pgtls_audit.server_key_check() FROM regress_priv_plain;
SELECT pg_temp.call_as('regress_priv_plain', 'SELECT * FROM pgtls_audit.server_key_check()') AS key_check_revoked;
-- a view and the function it reads: hba_usage
GRANT SELECT ON pgtls_audit.hba_usage TO regress_priv_plain;
SELECT pg_temp.call_as('regress_priv_plain', 'SELECT count(*) FROM pgtls_audit.hba_usage') AS view_only;
GRANT EXECUTE ON FUNCTION pgtls_audit.hba_usage_raw() TO regress_priv_plain;
SELECT pg_temp.call_as('regress_priv_plain', 'SELECT count(*) FROM pgtls_audit.hba_usage') AS view_and_function;
REVOKE SELECT ON pgtls_audit.hba_usage FROM regress_priv_plain;
REVOKE EXECUTE ON FUNCTION pgtls_audit.hba_usage_raw() FROM regress_priv_plain;
-- the findings: membership in pg_monitor
GRANT pg_monitor TO regress_priv_plain;
SELECT pg_temp.call_as('regress_priv_plain', 'SELECT count(*) FROM pgtls_audit.findings') AS findings_as_member;
REVOKE pg_monitor FROM regress_priv_plain;

DROP TABLE seen;
DROP ROLE regress_priv_plain, regress_priv_monitor, regress_priv_stats;
