# 011_diagnose.pl: pgtls_audit.diagnose() on real failures.  Each cause of
# the README's table is reproduced with real clients (libpq with the
# sslmode/sslcert/sslrootcert of the case, openssl s_client for TLS 1.1 and
# for a scanner) against real TLS servers: the exact list of causes with
# their attempt and address counts, the sum rule (the rows count every
# failed, rejected and aborted attempt of the window exactly once), the
# fix naming the right line, setting or client parameter, and for three
# causes the fix applied and the client then let in.  Also: the window,
# the privileges, and report()'s "Why connections fail" section.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $pki = pki();
my $tmp = PostgreSQL::Test::Utils::tempdir();

# CN=foo@example.com: a valid client certificate of the intermediate CA for
# a name that is no role (the guides' "kong" case)
for my $cmd (
	[ 'openssl', 'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', "$tmp/client_foo.key",
		'-subj', '/O=pgtls_audit tests/OU=clients/CN=foo@example.com', '-out', "$tmp/client_foo.csr" ],
	[ 'openssl', 'x509', '-req', '-in', "$tmp/client_foo.csr", '-CA', "$pki/intermediate_ca.crt",
		'-CAkey', "$pki/intermediate_ca.key", '-set_serial', '4242', '-days', '30',
		'-out', "$tmp/client_foo.crt" ])
{
	my $err = '';
	IPC::Run::run($cmd, '<', \undef, '>', \my $out, '2>', \$err) or die "@$cmd: $err";
}
chmod 0600, "$tmp/client_foo.key";

# The causes as one string: "cause:attempts:clients" rows, most frequent first
my $rows_q = q{SELECT string_agg(cause || ':' || attempts || ':' || clients, ' ' ORDER BY attempts DESC, cause)
  FROM pgtls_audit.diagnose()};
sub field
{
	my ($node, $cause, $col) = @_;
	return $node->safe_psql('postgres',
		"SELECT string_agg($col, ' | ') FROM pgtls_audit.diagnose() WHERE cause = '$cause'");
}

sub s_client
{
	my ($n, @args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'openssl', 's_client', '-connect', '127.0.0.1:' . $n->port,
			'-starttls', 'postgres', @args ], '<', \'', '>', \$out, '2>', \$err);
	return $out . $err;
}

# A libpq attempt with a connection string of its own; returns [rc, stderr]
sub libpq
{
	my ($n, $conn, $pw) = @_;
	local $ENV{PGPASSWORD} = $pw // '';
	local $ENV{PGPASSFILE} = '/nonexistent';
	delete local $ENV{PGSSLMODE};
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-A', '-t', '-w', '-d',
			'port=' . $n->port . " dbname=postgres connect_timeout=10 $conn", '-c', 'select 1' ],
		'<', \undef, '>', \$out, '2>', \$err);
	return [ $? >> 8, $err ];
}

# Wait until the inventory holds $n failed, rejected or aborted attempts
sub wait_failures
{
	my ($node, $n, $label) = @_;
	ok($node->poll_query_until('postgres',
			"SELECT count(*) >= $n FROM pgtls_audit.connections WHERE outcome <> 'success'"),
		"$label: the $n failed attempts are recorded");
	usleep(300_000);
	is($node->safe_psql('postgres', "SELECT count(*) FROM pgtls_audit.connections WHERE outcome <> 'success'"),
		$n, "$label: and no more");
}

# The sum rule: every failed, rejected and aborted attempt in exactly one row
sub sum_rule
{
	my ($node, $n, $label) = @_;
	is($node->safe_psql('postgres', q{
		SELECT (SELECT sum(attempts) FROM pgtls_audit.diagnose()) || '=' ||
		       (SELECT count(*) FROM pgtls_audit.connections
		         WHERE outcome <> 'success' AND ts >= now() - interval '1 day')}),
		"$n=$n", "$label: the sum of attempts is the number of failed attempts");
}

# ---------------------------------------------------------------- main server
my $hba = <<'EOF';
local     all all                           trust
hostssl   all kong               127.0.0.1/32 cert
hostssl   all regress_scram_user 127.0.0.1/32 scram-sha-256 clientcert=verify-full
hostssl   all regress_app        127.0.0.1/32 cert map=m1
hostssl   all all                127.0.0.1/32 scram-sha-256
EOF
my $node = tls_node('diag', hba => $hba, extra_conf => "ssl_crl_file = '$pki/crl_chain.pem'\n");
my $dd = $node->data_dir;
$node->safe_psql('postgres', q{CREATE EXTENSION pgtls_audit; CREATE ROLE kong LOGIN;
	CREATE ROLE regress_diag_monitor LOGIN IN ROLE pg_monitor});
is($node->safe_psql('postgres', $rows_q), '', 'no failed attempt: no row');

# 1. a TLS 1.1 client, twice
like(s_client($node, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'), qr/alert protocol version|no protocols|unsupported/i,
	'TLS 1.1 client: refused') for 1 .. 2;
# 2. a client that does not trust the server's root (the full chain is served)
my $r = libpq($node, "host=127.0.0.1 user=regress_alice sslmode=verify-ca sslrootcert=$pki/untrusted_ca.crt sslcert=$tmp/none sslkey=$tmp/none",
	'regress_pw');
like($r->[1], qr/certificate verify failed/, 'client trusting another root: refuses the server');
# 3. client certificates: unknown CA, expired (twice), revoked
like(attempt($node, user => 'regress_cert_user', cert => 'client_untrusted')->{stderr}, qr/SSL|certificate/,
	'untrusted client certificate: refused');
attempt($node, user => 'regress_cert_user', cert => 'client_expired') for 1 .. 2;
attempt($node, user => 'regress_bob', password => 'regress_pw', cert => 'client_revoked');
# 4. cert lines and certificates for other names: no map, a map, a certificate of another role
$r = libpq($node, "host=127.0.0.1 user=kong sslmode=require sslrootcert=$pki/root.crt sslcert=$tmp/client_foo.crt sslkey=$tmp/client_foo.key");
like($r->[1], qr/certificate authentication failed for user "kong"/, 'kong with foo@example.com: refused');
$r = libpq($node, "host=127.0.0.1 user=regress_app sslmode=require sslrootcert=$pki/root.crt sslcert=$tmp/client_foo.crt sslkey=$tmp/client_foo.key");
like($r->[1], qr/certificate authentication failed for user "regress_app"/, 'regress_app (map=m1) with foo@example.com: refused');
like(attempt($node, user => 'kong', cert => 'client_regress_bob')->{stderr}, qr/certificate authentication failed/,
	'kong with the certificate of regress_bob: refused');
# 5. clientcert=verify-full and no certificate
like(attempt($node, user => 'regress_scram_user', password => 'regress_pw')->{stderr},
	qr/connection requires a valid client certificate/, 'no client certificate: refused');
# 6. a TLS-only role without TLS, twice
like(attempt($node, user => 'regress_alice', password => 'regress_pw', sslmode => 'disable')->{stderr},
	qr/no encryption/, 'sslmode=disable: refused') for 1 .. 2;
# 8. a scanner, three times
like(s_client($node), qr/Cipher is/, 'TLS probe: handshake completed') for 1 .. 3;
# 2 with SNI: a verify-full client asking for a name the certificate lacks
$r = libpq($node, "host=db.example.com hostaddr=127.0.0.1 user=regress_alice sslmode=verify-full sslrootcert=$pki/root.crt sslcert=$tmp/none sslkey=$tmp/none",
	'regress_pw');
like($r->[1], qr/does not match host name "db.example.com"/, 'verify-full to db.example.com: refused by the client');
# 9. something else: a wrong password
attempt($node, user => 'regress_alice', password => 'wrong');

wait_failures($node, 18, 'main server');
my %want = (certificate_user_mismatch => 3, tls_probe => 3, client_certificate_expired => 2,
	plaintext_refused => 2, protocol_version => 2, client_certificate_missing => 1,
	client_certificate_revoked => 1, client_certificate_unknown_ca => 1, other => 1,
	server_certificate_rejected => 1, server_name_mismatch => 1);
is($node->safe_psql('postgres', $rows_q),
	join(' ', map { "$_:$want{$_}:1" } sort { $want{$b} <=> $want{$a} || $a cmp $b } keys %want),
	'main server: exactly the causes reproduced, with their counts');
sum_rule($node, 18, 'main server');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgtls_audit.diagnose()
	WHERE first_seen > last_seen OR example IS NULL OR explanation IS NULL OR fix IS NULL}),
	'0', 'every row has its times, an example, an explanation and a fix');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgtls_audit.diagnose(interval '1 millisecond')}),
	'0', 'a window shorter than the age of every attempt: no row');
is($node->safe_psql('postgres', q{SELECT sum(attempts) FROM pgtls_audit.diagnose(NULL)}),
	'18', 'window NULL: every attempt of the ring');

my $hba_path = "$dd/pg_hba.conf";
my $ident_path = "$dd/pg_ident.conf";

# 1: from what the client offered (the ClientHello's supported versions)
like(field($node, 'protocol_version', 'explanation'),
	qr/^The client offers at most TLSv1\.1, the server requires TLSv1\.2 \(ssl_min_protocol_version = 'TLSv1\.2'\): they have no TLS version in common\.$/,
	'protocol_version: what the client offered against ssl_min_protocol_version');
like(field($node, 'protocol_version', 'fix'), qr/offers TLSv1\.2 or later; only if it cannot be upgraded, set ssl_min_protocol_version = 'TLSv1\.1'/,
	'protocol_version: fix names the client, the setting and the value the client needs');
is(field($node, 'protocol_version', 'example'), 'host=127.0.0.1: could not accept SSL connection: unsupported protocol',
	'protocol_version: example');
# 2
like(field($node, 'server_certificate_rejected', 'explanation'),
	qr/^The server sends its certificate CN=localhost \(issued by CN=pgtls_audit Test Intermediate CA\) with a chain it can complete, but the client does not trust the root CA of that chain \(alert unknown ca\)\.$/,
	'server_certificate_rejected (complete chain): the client lacks the root');
like(field($node, 'server_certificate_rejected', 'fix'), qr/^Give the client the root CA of this chain as sslrootcert/,
	'server_certificate_rejected (complete chain): fix is sslrootcert');
like(field($node, 'server_name_mismatch', 'explanation'),
	qr/^Clients asked for the host name db\.example\.com \(SNI\), which the certificate the server sends \(CN=localhost\) does not name \(its names: localhost\)/,
	'server_name_mismatch: the requested name and the certificate\'s');
like(field($node, 'server_name_mismatch', 'fix'), qr/^Connect with a host name the certificate names \(host=localhost /,
	'server_name_mismatch: fix is the host parameter or the certificate');
# 3
like(field($node, 'client_certificate_unknown_ca', 'explanation'),
	qr/^The server cannot verify the client certificate CN=regress_cert_user,OU=clients,O=pgtls_audit tests \(serial \d+\): its issuer CN=pgtls_audit Untrusted CA is not in ssl_ca_file \(\Q$pki\E\/ca_bundle\.crt\)/,
	'client_certificate_unknown_ca: names the issuer, not in ssl_ca_file');
like(field($node, 'client_certificate_unknown_ca', 'fix'),
	qr/^Give the client a certificate issued by a CA of ssl_ca_file \(CN=pgtls_audit Test Root CA,O=pgtls_audit tests; CN=pgtls_audit Test Intermediate CA\) in its sslcert\/sslkey/,
	'client_certificate_unknown_ca: fix names the trusted CAs and sslcert');
my $expired_serial = slurp_text("$pki/client_expired.serial") =~ s/\s+$//r;
like(field($node, 'client_certificate_expired', 'explanation'),
	qr/^The client certificate CN=regress_cert_user,OU=clients,O=pgtls_audit tests \(serial $expired_serial\) expired at 2021-01-01 00:00:00\+00; /,
	'client_certificate_expired: the certificate and its date');
like(field($node, 'client_certificate_expired', 'fix'), qr/point the client's sslcert\/sslkey at it/,
	'client_certificate_expired: fix names sslcert/sslkey');
like(field($node, 'client_certificate_revoked', 'explanation'),
	qr/^The client certificate CN=regress_bob,OU=clients,O=pgtls_audit tests \(serial \d+\) is revoked: the CRL of its issuer CN=pgtls_audit Test Intermediate CA \(\Q$pki\E\/crl_chain\.pem\) lists it/,
	'client_certificate_revoked: names the CRL');
# 4: one row, three fixes
my $mm = field($node, 'certificate_user_mismatch', 'fix');
like($mm, qr/Add map=certmap to pg_hba\.conf line \Q$hba_path\E:2 and the line "certmap foo\@example\.com kong" to \Q$ident_path\E/,
	'certificate_user_mismatch without map: the map option and the pg_ident.conf line');
like($mm, qr/add the line "m1 foo\@example\.com regress_app" to \Q$ident_path\E/,
	'certificate_user_mismatch with map=m1: the pg_ident.conf line');
like($mm, qr/the certificate is for role regress_bob: connect as user=regress_bob/,
	'certificate_user_mismatch: a certificate of another role says so');
like(field($node, 'certificate_user_mismatch', 'explanation'),
	qr/the certificate's CN foo\@example\.com is not the role kong requested on pg_hba\.conf line \Q$hba_path\E:2 \(hostssl +all kong +127\.0\.0\.1\/32 cert\), which has no map= option/,
	'certificate_user_mismatch: the CN, the role and the line');
# 5
like(field($node, 'client_certificate_missing', 'explanation'),
	qr/^The client sent no certificate, but pg_hba\.conf line \Q$hba_path\E:3 \(.*\) requires one \(clientcert=verify-full\) for regress_scram_user\.$/,
	'client_certificate_missing: the line that demands it');
like(field($node, 'client_certificate_missing', 'fix'), qr/sslcert=<file> sslkey=<file>/,
	'client_certificate_missing: fix names sslcert/sslkey');
# 6
like(field($node, 'plaintext_refused', 'fix'),
	qr/^On the client, use TLS: sslmode=require .*with TLS, user regress_alice database postgres would match pg_hba\.conf line \Q$hba_path\E:5 \(hostssl/,
	'plaintext_refused: sslmode=require and the hostssl line it would match');
# 8
like(field($node, 'tls_probe', 'explanation'), qr/from 127\.0\.0\.1 \(\d\): TLS scanners/, 'tls_probe: by address');
# 9
is(field($node, 'other', 'example'),
	'host=127.0.0.1 user=regress_alice database=postgres application_name=011_diagnose.pl: password authentication failed for user "regress_alice"',
	'other: the wrong password, with its example');
# findings: none of these is a static finding here
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgtls_audit.diagnose() WHERE finding IS NOT NULL}),
	'0', 'no finding explains these failures');

# privileges: pg_monitor only
my ($rc, $out, $err) = $node->psql('postgres', 'SET ROLE regress_plain_user; SELECT * FROM pgtls_audit.diagnose()');
like($err, qr/permission denied for function diagnose/, 'a plain role may not call diagnose()');
is($node->safe_psql('postgres', "SET ROLE regress_diag_monitor; $rows_q"), $node->safe_psql('postgres', $rows_q),
	'a pg_monitor member gets the same rows');

# report(): the section, one entry per cause
my $report = $node->safe_psql('postgres', 'SELECT pgtls_audit.report()');
my ($section) = $report =~ /\n== Why connections fail \(last day\)\n(.*)\z/s;
ok(defined $section, 'report(): has the "Why connections fail" section');
is(scalar(() = ($section // '') =~ /^  \S+: \d+ attempt\(s\) from \d+ address\(es\)$/mg),
	11, 'report(): one entry per cause');
like($section // '', qr/^  plaintext_refused: 2 attempt\(s\) from 1 address\(es\)\n     The client connected without TLS/m,
	'report(): an entry with its explanation');

# The fixes work: apply three of them, and the same clients get in
open my $fh, '>>', $ident_path or die $!;
print $fh "certmap foo\@example.com kong\nm1 foo\@example.com regress_app\n";
close $fh;
my $new_hba = $hba =~ s/(kong +127\.0\.0\.1\/32 cert)/$1 map=certmap/r;
open $fh, '>', $hba_path or die $!;
print $fh $new_hba;
close $fh;
$node->reload;
usleep(500_000);
$r = libpq($node, "host=127.0.0.1 user=kong sslmode=require sslrootcert=$pki/root.crt sslcert=$tmp/client_foo.crt sslkey=$tmp/client_foo.key");
is($r->[0], 0, 'kong with foo@example.com: logs in after the suggested map and pg_ident.conf line') or diag $r->[1];
$r = libpq($node, "host=127.0.0.1 user=regress_app sslmode=require sslrootcert=$pki/root.crt sslcert=$tmp/client_foo.crt sslkey=$tmp/client_foo.key");
is($r->[0], 0, 'regress_app with foo@example.com: logs in after the suggested pg_ident.conf line') or diag $r->[1];
is(attempt($node, user => 'regress_alice', password => 'regress_pw', sslmode => 'require')->{rc}, 0,
	'regress_alice with sslmode=require: logs in');
is(attempt($node, user => 'regress_scram_user', password => 'regress_pw', cert => 'client_regress_scram_user')->{rc}, 0,
	'regress_scram_user with sslcert/sslkey: logs in');
sum_rule($node, 18, 'main server after the fixes');
$node->stop;

# ---------------------------------------------------------------- leaf only
# ssl_cert_file holds the leaf alone, and ssl_ca_file only the root (from
# ssl_ca_file OpenSSL would complete the chain itself): a client verifying
# with the root cannot build the chain
my $leaf = tls_node('leaf', extra_conf => "ssl_cert_file = '$pki/server_leaf.crt'\nssl_ca_file = '$pki/root.crt'\n");
$leaf->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
like(attempt($leaf, user => 'regress_alice', password => 'regress_pw', sslmode => 'verify-ca')->{stderr},
	qr/certificate verify failed/, 'leaf only: a client verifying with the root refuses it');
wait_failures($leaf, 1, 'leaf only');
is($leaf->safe_psql('postgres', $rows_q), 'server_certificate_rejected:1:1', 'leaf only: exactly server_certificate_rejected');
sum_rule($leaf, 1, 'leaf only');
is(field($leaf, 'server_certificate_rejected', 'explanation'),
	"ssl_cert_file ($pki/server_leaf.crt) holds only the leaf CN=localhost, issued by CN=pgtls_audit Test Intermediate CA, and the server cannot send that issuer: clients that trust only the root CA (sslrootcert) cannot build the chain and refuse the certificate (alert unknown ca).",
	'leaf only: names the missing issuer');
like(field($leaf, 'server_certificate_rejected', 'fix'),
	qr/^Append the certificate of CN=pgtls_audit Test Intermediate CA \(the intermediate CA\) to \Q$pki\E\/server_leaf\.crt, after the leaf, and run SELECT pg_reload_conf\(\)/,
	'leaf only: fix names the file and the certificate to append');
$leaf->stop;

# ---------------------------------------------------------------- ssl off
my $off = tls_node('off', hba => "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n",
	extra_conf => "ssl = off\n");
$off->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
like(attempt($off, user => 'regress_alice', password => 'regress_pw', sslmode => 'prefer')->{stderr},
	qr/no encryption/, 'ssl off, sslmode=prefer: falls back to plaintext and is refused');
like(attempt($off, user => 'regress_alice', password => 'regress_pw', sslmode => 'require')->{stderr},
	qr/server does not support SSL/, 'ssl off, sslmode=require: the client gives up');
wait_failures($off, 1, 'ssl off (the client that gave up leaves no record)');
is($off->safe_psql('postgres', $rows_q), 'tls_unavailable:1:1', 'ssl off: exactly tls_unavailable');
sum_rule($off, 1, 'ssl off');
is(field($off, 'tls_unavailable', 'finding'), 'TLS001', 'ssl off: finding TLS001');
like(field($off, 'tls_unavailable', 'fix'), qr/^Set ssl = on, with ssl_cert_file and ssl_key_file/, 'ssl off: fix is ssl = on');
like(field($off, 'tls_unavailable', 'explanation'),
	qr/would match pg_hba\.conf line \Q${\ $off->data_dir }\E\/pg_hba\.conf:2 \(hostssl all all 127\.0\.0\.1\/32 scram-sha-256\)/,
	'ssl off: the hostssl line that would accept the client');
$off->stop;

done_testing();
