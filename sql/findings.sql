--
-- findings: pg_hba fixture files (test/fixtures/hba) analysed with the
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
-- line the server itself chose for this session (audit record)
SELECT type, method, reachable, times_matched > 0 AS used
FROM pgtls_audit.hba_rules() WHERE line_number = (
  SELECT line_number FROM pgtls_audit.hba_match('postgres', current_database(), NULL, false));
SELECT line_number = (SELECT line_number FROM pgtls_audit.hba_rules()
                      WHERE type = 'hostssl' AND users = '{all}') AS same_line
FROM pgtls_audit.hba_match('regress_alice', 'postgres', '127.0.0.1', true);

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
SELECT count(*) > 0 AS enabled, bool_or(negotiable AND weakness IS NOT NULL) AS weak_negotiable
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
-- the live view uses the cluster's ssl_ciphers (the default)
SELECT count(*) > 0 AS has_suites, bool_or(severity = 'warning') AS has_no_fs
FROM pgtls_audit.ciphers;

-- findings of the harness cluster (its settings and pg_hba.conf)
SELECT check_id, severity, area,
       regexp_replace(location, '^.*/', '') AS location
FROM pgtls_audit.findings WHERE check_id <> 'HBA008';
SELECT count(*) AS never_used_findings_are_info
FROM pgtls_audit.findings WHERE check_id = 'HBA008' AND severity <> 'info';
SELECT position('== Fix first' IN r) > 0 AS has_fix_first,
       position('== Certificates expiring soonest' IN r) > 0 AS has_certs,
       position('== Protocols and ciphers of recent connections' IN r) > 0 AS has_mix
FROM pgtls_audit.report() r;

-- privileges: nothing for PUBLIC, read-only for pg_monitor, other files
-- for superusers only
CREATE ROLE regress_findings_nobody;
CREATE ROLE regress_findings_monitor IN ROLE pg_monitor;
SET ROLE regress_findings_nobody;
SELECT count(*) FROM pgtls_audit.findings;
SELECT count(*) FROM pgtls_audit.hba_rules();
SELECT count(*) FROM pgtls_audit.ciphers;
RESET ROLE;
SET ROLE regress_findings_monitor;
SELECT count(*) > 0 AS sees_findings FROM pgtls_audit.findings;
SELECT count(*) > 0 AS sees_rules FROM pgtls_audit.hba_rules();
SELECT count(*) > 0 AS sees_ciphers FROM pgtls_audit.ciphers;
SELECT count(*) FROM pgtls_audit.hba_rules('/etc/passwd');
SELECT line_number FROM pgtls_audit.hba_match('x', 'y', NULL, false, false, '/etc/passwd');
RESET ROLE;

DROP ROLE regress_findings_nobody, regress_findings_monitor;
DROP FUNCTION regress_match(name, name, inet, boolean, boolean, boolean);
DROP FUNCTION regress_findings(text);
DROP FUNCTION regress_rules(text);
DROP FUNCTION regress_strip(text);
REVOKE regress_admins FROM regress_alice;
DROP ROLE regress_admins, regress_staff, regress_repl;
