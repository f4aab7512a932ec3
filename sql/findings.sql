--
-- findings: pg_hba fixture files (test/fixtures/hba) analyzed with the
-- server's parser (hba_rules, check_config), what-if matching (hba_match),
-- cipher strings expanded by OpenSSL (expand_ciphers), the findings of the
-- harness cluster itself, and privileges.  Output is kept independent of
-- the OpenSSL version (properties of suites, not lists) and of paths (the
-- fixture directory is cut from file names).
--
\set VERBOSITY terse
\getenv fixtures PGTLS_HBA_FIXTURES
SELECT set_config('regress.fixtures', :'fixtures' || '/', false) IS NOT NULL AS fixtures_set;

-- Roles the fixtures refer to: regress_alice in regress_admins, which is in
-- regress_staff; regress_bob in neither.
CREATE ROLE regress_staff;
CREATE ROLE regress_admins IN ROLE regress_staff;
GRANT regress_admins TO regress_alice;
CREATE ROLE regress_repl LOGIN REPLICATION;

CREATE FUNCTION regress_strip(t text) RETURNS text LANGUAGE sql AS
$$ SELECT replace(t, current_setting('regress.fixtures'), '') $$;

-- Every line of a fixture with its analysis.
CREATE FUNCTION regress_rules(f text)
RETURNS TABLE (line integer, type text, method text, reachable boolean,
               shadowed_by text, plaintext boolean, weak boolean, note text)
LANGUAGE sql AS $$
  SELECT line_number, type, method, reachable, regress_strip(shadowed_by),
         allows_plaintext, weak_method, regress_strip(coalesce(note, error))
  FROM pgtls_audit.hba_rules(current_setting('regress.fixtures') || f)
  ORDER BY file, line_number
$$;

-- The hba and auth findings of a fixture (ssl and cipher findings come
-- from the live settings and are tested below).
CREATE FUNCTION regress_findings(f text)
RETURNS TABLE (check_id text, severity text, location text, message text)
LANGUAGE sql AS $$
  SELECT check_id, severity, regress_strip(location), regress_strip(message)
  FROM pgtls_audit.check_config(current_setting('regress.fixtures') || f)
  WHERE area IN ('hba', 'auth') AND check_id <> 'HBA008'
  ORDER BY substring(location FROM ':([0-9]+)$')::int, check_id
$$;

-- The issue's example: the cert rule is dead, the password rule takes
-- its connections and accepts plaintext from everywhere.
SELECT * FROM regress_rules('shadow_cert.conf');
SELECT * FROM regress_findings('shadow_cert.conf');

-- host before hostssl, hostssl before host
SELECT * FROM regress_rules('host_before_hostssl.conf');
SELECT * FROM regress_rules('hostssl_before_host.conf');

-- a line covered by several earlier lines together
SELECT * FROM regress_rules('union.conf');
SELECT * FROM regress_rules('gss.conf');

-- overlapping CIDRs, netmask form, non-contiguous mask; IPv6
SELECT * FROM regress_rules('cidr.conf');
SELECT * FROM regress_rules('ipv6.conf');

-- +group, samerole, sameuser, keywords, quoted names, duplicates, @file
SELECT * FROM regress_rules('roles.conf');
SELECT * FROM regress_rules('samerole.conf');
SELECT * FROM regress_rules('keywords.conf');
SELECT * FROM regress_rules('duplicates.conf');
SELECT * FROM regress_rules('atfile.conf');

-- host names and samehost/samenet: undecided is said, not guessed
SELECT * FROM regress_rules('hostnames.conf');
SELECT * FROM regress_findings('hostnames.conf');

-- parse errors: the server would refuse the whole file
SELECT * FROM regress_rules('errors.conf');
SELECT check_id, severity, location FROM regress_findings('errors.conf');

-- weak methods, plaintext exposure, wide ranges, superusers
SELECT * FROM regress_rules('weak.conf');
SELECT * FROM regress_findings('weak.conf');
SELECT * FROM regress_findings('superuser.conf');

-- a shadowed line keeps the findings of its own risk, marked latent
SELECT * FROM regress_rules('latent.conf');
SELECT * FROM regress_findings('latent.conf');

-- credentials in options: a caller with the privileges of
-- pg_read_server_files (here a superuser) sees the complete lines and the
-- parser's errors as they are (005_findings.pl checks the redaction)
SELECT line_number, raw_line, options, error
FROM pgtls_audit.hba_rules(current_setting('regress.fixtures') || 'secrets.conf')
ORDER BY line_number;

-- a hardened file: no hba or auth finding at all
SELECT * FROM regress_findings('hardened.conf');

-- what-if matching
CREATE FUNCTION regress_match(r name, d name, a inet, s boolean,
                              c boolean DEFAULT false, repl boolean DEFAULT false)
RETURNS TABLE (line integer, method text, outcome text, notes text)
LANGUAGE sql AS $$
  SELECT line_number, method, outcome, regress_strip(array_to_string(notes, '; '))
  FROM pgtls_audit.hba_match(r, d, a, s, c,
                             current_setting('regress.fixtures') || 'what_if.conf',
                             replication => repl)
$$;
SELECT * FROM regress_match('regress_alice', 'postgres', NULL, false);          -- Unix socket: peer
SELECT * FROM regress_match('regress_cert_user', 'postgres', '10.9.9.9', true); -- cert without certificate
SELECT * FROM regress_match('regress_cert_user', 'postgres', '10.9.9.9', true, true);
SELECT * FROM regress_match('regress_bob', 'postgres', '10.9.9.9', false);      -- plaintext: reject line
SELECT * FROM regress_match('regress_alice', 'postgres', '10.9.9.9', true);     -- +regress_admins, clientcert
SELECT * FROM regress_match('regress_alice', 'postgres', '10.9.9.9', true, true);
SELECT * FROM regress_match('regress_bob', 'postgres', '10.9.9.9', true, true); -- not in the group: verify-ca line
SELECT * FROM regress_match('regress_bob', 'regress_bob', '2001:db8::1', true); -- sameuser over IPv6
SELECT * FROM regress_match('regress_bob', 'postgres', '2001:db8::1', true);    -- no line
SELECT * FROM regress_match('regress_repl', 'x', '10.1.2.3', true, repl => true); -- physical replication
SELECT * FROM regress_match('regress_repl', 'replication', '10.1.2.3', true);   -- a database named replication
SELECT * FROM regress_match('regress_bob', 'postgres', '192.168.1.1', true);    -- trust: host line takes TLS too
SELECT * FROM regress_match('regress_bob', 'postgres', '172.16.0.5', false);    -- reject first (hostnossl)
SELECT * FROM regress_match('regress_nobody', 'postgres', '192.168.1.1', false);
-- bad arguments and missing files
SELECT line_number FROM pgtls_audit.hba_match('regress_alice', 'postgres', '10.0.0.1', true, true, NULL, true);
SELECT line_number FROM pgtls_audit.hba_match(NULL, 'postgres', '10.0.0.1', true);
DO $$
BEGIN
  PERFORM * FROM pgtls_audit.hba_rules(current_setting('regress.fixtures') || 'no_such_file.conf');
EXCEPTION WHEN undefined_file THEN
  RAISE NOTICE 'undefined_file: %', regress_strip(SQLERRM);
END $$;
SELECT check_id, severity, regress_strip(location) AS location, regress_strip(message) AS message
FROM pgtls_audit.check_config(current_setting('regress.fixtures') || 'no_such_file.conf')
WHERE area = 'hba';

-- the live pg_hba.conf of the harness cluster: hba_match agrees with the
-- line the server itself chose for this session (its audit record in the
-- server log, JSON format), and times_matched counts exactly the attempts
-- that matched a line
\getenv logfile PGTLS_LOGFILE
\getenv pki PGTLS_PKI
\getenv port PGPORT
\set admin 'host=/tmp port=' :port ' dbname=contrib_regression user=postgres'
CREATE TABLE regress_findings_log AS SELECT :'logfile'::text AS path;
CREATE FUNCTION regress_record_of(p integer) RETURNS SETOF jsonb
LANGUAGE sql AS $$
  SELECT (m[1])::jsonb
  FROM regress_findings_log,
       regexp_split_to_table(pg_read_file(path), E'\n') AS l,
       regexp_match(l, 'PGTLS_AUDIT (\{.*\})$') AS m
  WHERE m IS NOT NULL AND (m[1])::jsonb->>'pid' = p::text
$$;
SELECT count(*) AS records,
       bool_and((r->>'hba_line')::int = m.line_number) AS same_line,
       bool_and(r->>'hba_file' = m.file) AS same_file,
       bool_and(r->>'auth_method' = m.method) AS same_method,
       min(m.type) AS type, min(m.method) AS method, min(m.outcome) AS outcome
FROM regress_record_of(pg_backend_pid()) r,
     pgtls_audit.hba_match('postgres', current_database(), NULL, false) m;
SELECT m.line_number AS local_line, r.times_matched AS local_before
FROM pgtls_audit.hba_match('postgres', current_database(), NULL, false) m
JOIN pgtls_audit.hba_rules() r USING (line_number) \gset
SELECT m.line_number AS tls_line, r.times_matched AS tls_before, m.outcome
FROM pgtls_audit.hba_match('regress_alice', current_database(), '127.0.0.1', true) m
JOIN pgtls_audit.hba_rules() r USING (line_number) \gset
-- one TLS password login, then back to a new local session
\set c 'host=127.0.0.1 port=' :port ' dbname=contrib_regression user=regress_alice password=regress_pw sslmode=verify-full sslrootcert=' :pki '/root.crt sslcert=' :pki '/no-such.crt sslkey=' :pki '/no-such.key'
\connect :"c"
SELECT pg_backend_pid() AS alice_pid \gset
\connect :"admin"
\set VERBOSITY terse
SELECT count(*) AS records,
       bool_and((r->>'hba_line')::int = :tls_line) AS same_line_as_hba_match,
       min(r->>'outcome') AS outcome, min(r->>'auth_method') AS method
FROM regress_record_of(:alice_pid) r;
SELECT line_number = :local_line AS local,
       times_matched - CASE WHEN line_number = :local_line THEN :local_before ELSE :tls_before END AS new_matches
FROM pgtls_audit.hba_rules() WHERE line_number IN (:local_line, :tls_line)
ORDER BY line_number;
SELECT set_config('regress.fixtures', :'fixtures' || '/', false) IS NOT NULL AS fixtures_set;

-- cipher strings: look strong, expand weak
SELECT bool_or(negotiable AND NOT forward_secrecy) AS no_fs,
       bool_or(negotiable AND key_exchange = 'RSA') AS static_rsa
FROM pgtls_audit.expand_ciphers('HIGH:!aNULL:!MD5');
SELECT bool_or(negotiable AND NOT forward_secrecy) AS no_fs
FROM pgtls_audit.expand_ciphers('AES256');
SELECT bool_or(negotiable AND severity = 'critical') AS critical
FROM pgtls_audit.expand_ciphers('HIGH:eNULL:aNULL:@SECLEVEL=0');
-- look weak, expand strong: NULL and anonymous suites are not negotiable
-- at the default security level, PSK and SRP need callbacks the server
-- never sets, ECDSA suites need an EC key (the harness key is RSA)
-- (the number of suites is the one the openssl command lists for the string)
\setenv REGRESS_CIPHERS 'ALL:eNULL:aNULL:!kRSA:!kPSK:!kRSAPSK:!kSRP'
\set openssl_count `openssl ciphers "$REGRESS_CIPHERS" | awk -F: '{print NF}'`
SELECT count(*) = :openssl_count AS same_count_as_openssl,
       bool_or(negotiable AND weakness IS NOT NULL) AS weak_negotiable
FROM pgtls_audit.expand_ciphers('ALL:eNULL:aNULL:!kRSA:!kPSK:!kRSAPSK:!kSRP');
SELECT bool_or(negotiable) FILTER (WHERE authentication = 'ECDSA') AS ecdsa_negotiable,
       bool_or(negotiable) FILTER (WHERE key_exchange = 'PSK') AS psk_negotiable
FROM pgtls_audit.expand_ciphers('HIGH');
-- weak TLS 1.2 suites do not matter when only TLS 1.3 is allowed
SELECT bool_or(negotiable AND weakness IS NOT NULL) AS weak_negotiable,
       bool_and(protocol = 'TLSv1.3') FILTER (WHERE negotiable) AS only_tls13
FROM pgtls_audit.expand_ciphers('kRSA', NULL, 'TLSv1.3');
-- TLS 1.3 suites are listed and classified
SELECT name, protocol, key_exchange, forward_secrecy, weakness
FROM pgtls_audit.expand_ciphers('ECDHE+AESGCM', 'TLS_AES_256_GCM_SHA384')
WHERE protocol = 'TLSv1.3';
-- strings OpenSSL refuses
SELECT * FROM pgtls_audit.expand_ciphers('RC4');
SELECT * FROM pgtls_audit.expand_ciphers('HIGH', 'NO_SUCH_SUITE');
SELECT * FROM pgtls_audit.expand_ciphers('HIGH', NULL, 'TLSv9');
-- the live view uses the cluster's ssl_ciphers (the default): the same
-- suites as the openssl command lists, and as many without forward secrecy
-- (key exchange RSA, PSK, RSAPSK or SRP in openssl ciphers -v)
SELECT current_setting('ssl_ciphers') AS ssl_ciphers;
\setenv REGRESS_CIPHERS 'HIGH:MEDIUM:+3DES:!aNULL'
\set openssl_count `openssl ciphers "$REGRESS_CIPHERS" | awk -F: '{print NF}'`
\set openssl_no_fs `openssl ciphers -v "$REGRESS_CIPHERS" | grep -cE ' Kx=(RSA|PSK|RSAPSK|SRP) '`
SELECT count(*) = :openssl_count AS same_count_as_openssl,
       count(*) FILTER (WHERE NOT forward_secrecy) = :openssl_no_fs AS same_no_fs_as_openssl,
       count(*) FILTER (WHERE NOT forward_secrecy) > 0 AS has_no_fs,
       bool_and(severity = 'warning') FILTER (WHERE NOT forward_secrecy AND weakness = 'no forward secrecy') AS no_fs_is_warning
FROM pgtls_audit.ciphers;

-- findings of the harness cluster (its settings and pg_hba.conf)
SELECT check_id, severity, area,
       regexp_replace(location, '^.*/', '') AS location
FROM pgtls_audit.findings WHERE check_id <> 'HBA008';
SELECT count(*) AS never_used_findings_are_info
FROM pgtls_audit.findings WHERE check_id = 'HBA008' AND severity <> 'info';
-- report(): the header names the server (no cluster_name here: the data
-- directory and the port), then every section in order; dates, day counts,
-- paths and the version are cut out
SELECT split_part(r, E'\n', 1) =
       format('pgtls_audit report for %s, port %s (PostgreSQL %s) at %s',
              current_setting('data_directory'), current_setting('port'),
              current_setting('server_version'), date_trunc('second', now())) AS header
FROM pgtls_audit.report() r;
SELECT regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(regexp_replace(l,
         '^pgtls_audit report for .*$', 'pgtls_audit report for ...'),
         '[^ ]*/', '.../', 'g'),
         '[A-Z][a-z]{2} [A-Z][a-z]{2} [0-9]{2} [0-9:.]+ [0-9]{4} [A-Z]+', 'DATE', 'g'),
         '^  [0-9]+ days', '  N days'),
         'enables [0-9]+ suite\(s\) without forward secrecy: .*$', 'enables N suite(s) without forward secrecy: ...'),
         'reset \(DATE\)', 'reset (DATE)') AS report
FROM regexp_split_to_table((SELECT pgtls_audit.report()), E'\n') WITH ORDINALITY AS t(l, n),
     (SELECT n AS cs FROM regexp_split_to_table((SELECT pgtls_audit.report()), E'\n') WITH ORDINALITY AS t(l, n)
       WHERE l = '== Certificates expiring soonest') c
WHERE n < (SELECT n FROM regexp_split_to_table((SELECT pgtls_audit.report()), E'\n') WITH ORDINALITY AS t(l, n)
            WHERE l = '== Protocols and ciphers of recent connections')
-- the certificates of the harness PKI expire within the same second or
-- two (made one after the other), so with the dates cut out their lines
-- are listed in text order (their order by date is tested in 004)
ORDER BY CASE WHEN n > cs AND l <> '' THEN cs + 0.5 ELSE n END, report;
-- its section on the protocol and cipher mix of TCP attempts counts
-- exactly the audit records of TCP attempts in the server log
WITH rec AS (
  SELECT (m[1])::jsonb AS r
  FROM regress_findings_log,
       regexp_split_to_table(pg_read_file(path), E'\n') AS l,
       regexp_match(l, 'PGTLS_AUDIT (\{.*\})$') AS m
  WHERE m IS NOT NULL),
mix AS (
  SELECT COALESCE(r->>'protocol', CASE WHEN (r->'ssl')::boolean THEN 'TLS (failed)' ELSE 'plaintext' END) AS protocol,
         COALESCE(r->>'cipher', '-') AS cipher, count(*) AS n
  FROM rec WHERE r->>'remote_host' IS NOT NULL AND r->>'remote_host' <> '[local]'
  GROUP BY 1, 2),
from_log AS (
  SELECT array_agg(format('  %6s  %-10s %s', n, protocol, cipher) ORDER BY n DESC, protocol, cipher) AS lines
  FROM mix),
report AS (
  SELECT l, n FROM regexp_split_to_table((SELECT pgtls_audit.report()), E'\n') WITH ORDINALITY AS t(l, n)),
section AS (
  SELECT (SELECT n FROM report WHERE l = '== Protocols and ciphers of recent connections') AS first,
         (SELECT min(n) FROM report
           WHERE l LIKE '== %'
             AND n > (SELECT n FROM report WHERE l = '== Protocols and ciphers of recent connections')) AS next),
from_report AS (
  SELECT array_agg(l ORDER BY n) AS lines
  FROM report, section
  WHERE n > section.first AND n < section.next AND l <> '')
SELECT cardinality(from_log.lines) > 0 AS has_lines, from_report.lines = from_log.lines AS same_as_log
FROM from_log, from_report;

-- privileges: nothing for PUBLIC, read-only for pg_monitor, other files
-- for roles with the privileges of pg_read_server_files
CREATE ROLE regress_findings_nobody;
CREATE ROLE regress_findings_monitor IN ROLE pg_monitor;
SET ROLE regress_findings_nobody;
SELECT count(*) FROM pgtls_audit.findings;
SELECT count(*) FROM pgtls_audit.hba_rules();
SELECT count(*) FROM pgtls_audit.ciphers;
RESET ROLE;
-- a pg_monitor member sees exactly what the superuser sees (the harness
-- pg_hba.conf holds no secret)
CREATE TABLE regress_su_findings AS SELECT * FROM pgtls_audit.findings;
CREATE TABLE regress_su_rules AS SELECT * FROM pgtls_audit.hba_rules();
CREATE TABLE regress_su_ciphers AS SELECT * FROM pgtls_audit.ciphers;
GRANT SELECT ON regress_su_findings, regress_su_rules, regress_su_ciphers TO regress_findings_monitor;
SELECT (SELECT count(*) FROM regress_su_findings) AS findings,
       (SELECT count(*) FROM regress_su_rules) AS rules,
       (SELECT count(*) FROM regress_su_ciphers) = :openssl_count AS ciphers_as_openssl;
SET ROLE regress_findings_monitor;
SELECT (SELECT count(*) FROM (TABLE regress_su_findings EXCEPT ALL SELECT * FROM pgtls_audit.findings) d) AS findings_missing,
       (SELECT count(*) FROM (SELECT * FROM pgtls_audit.findings EXCEPT ALL TABLE regress_su_findings) d) AS findings_extra,
       (SELECT count(*) FROM (TABLE regress_su_rules EXCEPT ALL SELECT * FROM pgtls_audit.hba_rules()) d) AS rules_missing,
       (SELECT count(*) FROM (SELECT * FROM pgtls_audit.hba_rules() EXCEPT ALL TABLE regress_su_rules) d) AS rules_extra,
       (SELECT count(*) FROM (TABLE regress_su_ciphers EXCEPT ALL SELECT * FROM pgtls_audit.ciphers) d) AS ciphers_missing,
       (SELECT count(*) FROM (SELECT * FROM pgtls_audit.ciphers EXCEPT ALL TABLE regress_su_ciphers) d) AS ciphers_extra;
-- the report names the server the same way for it
SELECT split_part(r, E'\n', 1) =
       format('pgtls_audit report for %s, port %s (PostgreSQL %s) at %s',
              current_setting('data_directory'), current_setting('port'),
              current_setting('server_version'), date_trunc('second', now())) AS header
FROM pgtls_audit.report() r;
-- other files need the privileges of pg_read_server_files
SELECT count(*) FROM pgtls_audit.hba_rules('/etc/passwd');
SELECT line_number FROM pgtls_audit.hba_match('x', 'y', NULL, false, false, '/etc/passwd');
DO $$
BEGIN
  PERFORM * FROM pgtls_audit.check_config(current_setting('regress.fixtures') || 'secrets.conf');
EXCEPTION WHEN insufficient_privilege THEN
  RAISE NOTICE 'insufficient_privilege: %', regress_strip(SQLERRM);
END $$;
RESET ROLE;
-- which are enough, without superuser; and it sees the secrets then
GRANT pg_read_server_files TO regress_findings_monitor;
SET ROLE regress_findings_monitor;
SELECT count(*) AS lines, bool_or(raw_line LIKE '%ldapbindpasswd="Ldap secret 1"%') AS sees_secret
FROM pgtls_audit.hba_rules(current_setting('regress.fixtures') || 'secrets.conf');
SELECT line_number FROM pgtls_audit.hba_match('regress_bob', 'postgres', '10.9.9.9', true, true,
                                              current_setting('regress.fixtures') || 'what_if.conf');
RESET ROLE;
DROP TABLE regress_su_findings, regress_su_rules, regress_su_ciphers;
DROP FUNCTION regress_record_of(integer);
DROP TABLE regress_findings_log;

DROP ROLE regress_findings_nobody, regress_findings_monitor;
DROP FUNCTION regress_match(name, name, inet, boolean, boolean, boolean);
DROP FUNCTION regress_findings(text);
DROP FUNCTION regress_rules(text);
DROP FUNCTION regress_strip(text);
REVOKE regress_admins FROM regress_alice;
DROP ROLE regress_admins, regress_staff, regress_repl;
