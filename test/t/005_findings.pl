# 005_findings.pl: misconfiguration findings on real clusters.
#
#  - the server's own choice of pg_hba line (audit records) agrees with
#    pgtls_audit.hba_match() for real connection attempts;
#  - a cluster started with a deliberately bad configuration reports the
#    findings it should (settings, ciphers, key permissions, pg_hba), then
#    a pg_hba.conf edited on disk without reload, then the same cluster
#    with ssl = off;
#  - a hardened cluster gives no critical or warning finding and accepts
#    real TLS logins;
#  - include directives and regular expressions (PostgreSQL 16+ only; on 15
#    the same fixture lines are reported as parse errors).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $pki = pki();
my $fixtures = srcdir() . '/test/fixtures/hba';

sub findings
{
	my ($node, $where) = @_;
	$where //= 'true';
	my $out = $node->safe_psql('postgres',
		"SELECT check_id || '|' || severity || '|' || coalesce(location, '') || '|' || message "
		  . "FROM pgtls_audit.findings WHERE $where");
	return [ split /\n/, $out ];
}

sub has_finding
{
	my ($list, $id, $re, $label) = @_;
	$re //= qr/./;
	ok((grep { /^\Q$id\E\|/ && /$re/ } @$list), $label // "finding $id")
	  or diag join("\n", @$list);
}

# ---------------------------------------------------------------------
# 1. hba_match agrees with the server
{
	my $node = tls_node('match');
	$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
	my @cases = (
		[ 'tls password', { user => 'regress_alice', password => 'regress_pw' },
			"'regress_alice', 'postgres', '127.0.0.1', true, false" ],
		[ 'plaintext', { user => 'regress_plain_user', password => 'regress_pw', sslmode => 'disable' },
			"'regress_plain_user', 'postgres', '127.0.0.1', false, false" ],
		[ 'reject line', { user => 'regress_rejected', password => 'regress_pw', sslmode => 'disable' },
			"'regress_rejected', 'postgres', '127.0.0.1', false, false" ],
		[ 'no entry', { user => 'regress_scram_user', password => 'regress_pw', sslmode => 'disable' },
			"'regress_scram_user', 'postgres', '127.0.0.1', false, false" ],
		[ 'client cert', { user => 'regress_cert_user', cert => 'client_regress_cert_user' },
			"'regress_cert_user', 'postgres', '127.0.0.1', true, true" ],
		[ 'clientcert missing', { user => 'regress_scram_user', password => 'regress_pw' },
			"'regress_scram_user', 'postgres', '127.0.0.1', true, false" ]);
	for my $c (@cases)
	{
		my ($label, $attempt, $args) = @$c;
		my $off = log_offset($node);
		attempt($node, %$attempt);
		my @recs = wait_records($node, $off, 1);
		my $server_line = $recs[0] ? $recs[0]{hba_line} : 'no record';
		my ($line, $outcome) = split /\|/,
		  $node->safe_psql('postgres',
			"SELECT coalesce(line_number::text, ''), outcome FROM pgtls_audit.hba_match($args)"), -1;
		is($line eq '' ? undef : $line, $server_line, "hba_match agrees with the server: $label");
		if ($label =~ /reject|no entry/)
		{
			like($outcome, qr/^rejected/, "hba_match outcome: $label");
		}
		elsif ($label eq 'clientcert missing')
		{
			like($outcome, qr/requires a valid client certificate/, "hba_match outcome: $label");
		}
	}
	# the inventory counts what hba_rules shows as times_matched
	my $used = $node->safe_psql('postgres',
		"SELECT times_matched FROM pgtls_audit.hba_rules() WHERE users = '{regress_alice}' OR (type = 'hostssl' AND users = '{all}')");
	cmp_ok($used, '>=', 1, 'hba_rules times_matched comes from the inventory');
	$node->stop;
}

# ---------------------------------------------------------------------
# 2. a deliberately bad configuration
my $bad_hba = <<'EOF';
local     all all                               trust
host      all all                127.0.0.1/32   trust
hostnossl all regress_plain_user 0.0.0.0/0      password
host      all regress_alice      0.0.0.0/0      md5
host      all all                0.0.0.0/0      scram-sha-256
hostssl   all regress_cert_user  10.0.0.0/8     cert
EOF
my $bad = tls_node('bad', hba => $bad_hba, no_start => 1);
my $key = $bad->data_dir . '/server.key';
# an expired certificate (a client certificate of the PKI, RSA) as the
# server's: OpenSSL serves it, clients that verify refuse it
PostgreSQL::Test::Utils::system_or_bail('cp', "$pki/client_expired.key", $key);
chmod 0600, $key;
$bad->append_conf('postgresql.conf', <<"EOF");
ssl_cert_file = '$pki/client_expired.crt'
ssl_key_file = '$key'
ssl_min_protocol_version = 'TLSv1'
ssl_max_protocol_version = 'TLSv1.2'
ssl_prefer_server_ciphers = off
ssl_ciphers = 'HIGH:eNULL:aNULL:\@SECLEVEL=0'
password_encryption = md5
EOF
$bad->start;
$bad->safe_psql('postgres', slurp_text(srcdir() . '/test/conf/setup.sql'));
$bad->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
# the server checked the key at start; now make it group-readable
chmod 0640, $key;

my $f = findings($bad);
has_finding($f, 'TLS003', qr/TLSv1\b/, 'bad: min protocol TLSv1');
has_finding($f, 'TLS005', qr/TLSv1\.2/, 'bad: TLS 1.3 disabled');
has_finding($f, 'TLS006', qr/off/, 'bad: client cipher preference');
has_finding($f, 'TLS007', qr/without encryption or without server authentication/, 'bad: NULL and anonymous suites');
has_finding($f, 'TLS009', qr/without forward secrecy/, 'bad: static RSA suites');
has_finding($f, 'AUTH007', qr/md5/, 'bad: password_encryption md5');
has_finding($f, 'CERT003', qr/group or world access \(mode 0640/, 'bad: key file permissions');
has_finding($f, 'CERT010', qr/expired/, 'bad: expired server certificate (certificates part)');
has_finding($f, 'AUTH001', qr/127\.0\.0\.1/, 'bad: trust over TCP');
has_finding($f, 'AUTH002', qr/pg_hba\.conf:1\|/, 'bad: trust on local');
has_finding($f, 'AUTH003', qr/pg_hba\.conf:3\|/, 'bad: password over plaintext');
has_finding($f, 'AUTH005', qr/pg_hba\.conf:4\|/, 'bad: md5 line');
has_finding($f, 'HBA005', qr/pg_hba\.conf:4\|/, 'bad: md5 for every address');
has_finding($f, 'HBA006', qr/pg_hba\.conf:5\|/, 'bad: password only from everywhere');
has_finding($f, 'HBA004', qr/pg_hba\.conf:5\|/, 'bad: plaintext from remote');
has_finding($f, 'HBA002', qr/pg_hba\.conf:6\|.*matched first by .*pg_hba\.conf:5.*client certificate/,
	'bad: cert line shadowed by the scram line');
has_finding($f, 'AUTH008', qr/postgres/, 'bad: superuser from everywhere');
ok(!(grep { /^HBA007\|/ } @$f), 'bad: pg_hba.conf not changed since load');
ok(!(grep { /^CERT00[1-2]\|/ } @$f), 'bad: certificate and key readable');
# the same numbers as pg_hba_file_rules sees
is($bad->safe_psql('postgres',
		"SELECT count(*) FROM pgtls_audit.hba_rules() r JOIN pg_hba_file_rules p ON p.line_number = r.line_number AND p.type = r.type AND p.auth_method = r.method"),
	'6', 'bad: hba_rules agrees with pg_hba_file_rules');

# a client verifying the server refuses the expired certificate (CERT010)
{
	my $res = attempt($bad, user => 'regress_alice');
	isnt($res->{rc}, 0, 'bad: a verifying client refuses the expired server certificate');
	like($res->{stderr}, qr/certificate/, 'bad: ... because of the certificate');
}
# one TLS connection without verification for the report's protocol mix
# (line 2, trust); no root certificate file, so libpq does not verify
{
	my ($out, $err) = ('', '');
	local $ENV{PGPASSFILE} = '/nonexistent';
	IPC::Run::run([ 'psql', '-X', '-A', '-t', '-w', '-d',
			'host=127.0.0.1 port=' . $bad->port . ' dbname=postgres user=regress_alice '
			  . 'sslmode=require sslrootcert=/nonexistent sslcert=/nonexistent sslkey=/nonexistent',
			'-c', 'SELECT 1' ], '<', \undef, '>', \$out, '2>', \$err);
	chomp $out;
	is($out, '1', 'bad: a non-verifying TLS connection over the trust line') or diag $err;
}
# the report names the three things to fix first
my $report = $bad->safe_psql('postgres', 'SELECT pgtls_audit.report()');
like($report, qr/== Fix first\n  1\. \[critical /, 'report: fix first starts with a critical finding');
like($report, qr/critical: \d+\n  warning: \d+/, 'report: counts by severity');
like($report, qr/TLSv1\.[23] +\S+/, 'report: protocol mix of recent connections');

# Change settings with ALTER SYSTEM (undef: RESET), reload, and wait until
# a new session sees every value.
sub set_and_reload
{
	my ($node, @settings) = @_;
	my @wait;
	while (my ($name, $value) = splice(@settings, 0, 2))
	{
		$node->safe_psql('postgres',
			defined $value ? "ALTER SYSTEM SET $name = '$value'" : "ALTER SYSTEM RESET $name");
		push @wait, "current_setting('$name') = "
		  . (defined $value ? "'$value'" : "(SELECT boot_val FROM pg_settings WHERE name = '$name')");
	}
	$node->safe_psql('postgres', 'SELECT pg_reload_conf()');
	my $cond = join(' AND ', @wait);
	$node->poll_query_until('postgres', "SELECT $cond")
	  or diag "settings not reloaded: $cond";
}

# key exchange groups: ssl_groups on 18, ssl_ecdh_curve before, as the
# server applies them (changed with a reload; a refused value leaves the
# server on its old TLS context)
{
	my $guc = $bad->safe_psql('postgres',
		"SELECT name FROM pg_settings WHERE name IN ('ssl_groups', 'ssl_ecdh_curve')");
	my $weak = $guc eq 'ssl_groups' ? 'X25519:secp224r1' : 'secp224r1';
	set_and_reload($bad, $guc => $weak);
	$f = findings($bad);
	has_finding($f, 'TLS012', qr/\Q$guc\E = '\Q$weak\E'.*secp224r1 \(112-bit security\)/,
		"groups: $guc with a 224-bit curve");
	ok(!(grep { /^TLS011\|/ } @$f), 'groups: a weak but known curve is accepted');
	set_and_reload($bad, $guc => 'no_such_group');
	$f = findings($bad);
	has_finding($f, 'TLS011', qr/OpenSSL refuses \Q$guc\E = 'no_such_group'/, "groups: unknown name in $guc");
	# X25519 is a key exchange group but not an EC curve: 18 takes it, 15-17 refuse it
	set_and_reload($bad, $guc => 'X25519');
	$f = findings($bad);
	if ($guc eq 'ssl_groups')
	{
		ok(!(grep { /^TLS01[12]\|/ } @$f), 'groups: ssl_groups = X25519 is fine on 18');
	}
	else
	{
		has_finding($f, 'TLS011', qr/ssl_ecdh_curve = 'X25519'/, 'groups: ssl_ecdh_curve cannot be X25519 before 18');
	}
	set_and_reload($bad, $guc => undef);
	$f = findings($bad);
	ok(!(grep { /^TLS01[12]\|/ } @$f), "groups: default $guc gives no finding");
	ok(!(grep { /^AUTH009\|/ } @$f), 'logging: no AUTH009 while pgtls_audit logs connections');
}

# no record of successful connections at all (the CIS benchmark's
# log_connections check): neither this module nor core logs them
set_and_reload($bad, 'pgtls_audit.log_connections' => 'off', log_connections => 'off');
$f = findings($bad);
has_finding($f, 'AUTH009', qr/log_connections\|.*pgtls_audit\.log_connections is off/,
	'logging: AUTH009 when neither pgtls_audit nor core logs connections');
set_and_reload($bad, log_connections => 'on');
$f = findings($bad);
ok(!(grep { /^AUTH009\|/ } @$f), 'logging: core log_connections = on is a record too');
set_and_reload($bad, 'pgtls_audit.log_connections' => undef, log_connections => undef);

# pg_hba.conf edited on disk, not reloaded, with an error in it
sleep(1.2);
$bad->append_conf('pg_hba.conf', "host all all 10.0.0.0/33 md5\n");
$f = findings($bad);
has_finding($f, 'HBA007', qr/modified .* after the server last loaded/, 'edited: file newer than the loaded configuration');
has_finding($f, 'HBA001', qr/pg_hba\.conf:7\|.*invalid CIDR mask/, 'edited: the new line has an error');
$bad->reload;
$bad->poll_query_until('postgres', "SELECT count(*) = 0 FROM pgtls_audit.findings WHERE check_id = 'HBA007'")
  or diag 'HBA007 still reported after reload';
$f = findings($bad);
ok(!(grep { /^HBA007\|/ } @$f), 'reloaded: HBA007 gone');
has_finding($f, 'HBA001', qr/refuses to load/, 'reloaded: the error still says the server kept the old rules');

# ssl off with hostssl lines and remote lines
$bad->append_conf('postgresql.conf', "ssl = off\n");
{
	my $hba_path = $bad->data_dir . '/pg_hba.conf';
	my $text = slurp_text($hba_path);
	$text =~ s{^host all all 10\.0\.0\.0/33 md5\n}{}m;
	open my $fh, '>', $hba_path or die $!;
	print $fh $text;
	close $fh;
}
chmod 0600, $key;
$bad->restart;
$f = findings($bad);
has_finding($f, 'TLS001', qr/hostssl lines \(6\)/, 'ssl off: hostssl lines cannot match');
has_finding($f, 'TLS002', qr/lines 3, 4, 5/, 'ssl off: remote traffic unencrypted');
ok(!(grep { /^TLS00[3-9]\|/ } @$f), 'ssl off: no protocol or cipher findings');
is($bad->safe_psql('postgres',
		"SELECT reachable::text || ' ' || note FROM pgtls_audit.hba_rules() WHERE line_number = 6"),
	'false hostssl line while ssl is off: it can never match', 'ssl off: hostssl line unreachable');
$bad->stop;

# ---------------------------------------------------------------------
# 3. a hardened configuration: no critical or warning finding
{
	my $hba = slurp_text("$fixtures/hardened.conf");
	my $node = tls_node('hardened', hba => $hba, extra_conf => <<'EOF');
ssl_ciphers = 'ECDHE+AESGCM:ECDHE+CHACHA20:DHE+AESGCM:!aNULL'
ssl_min_protocol_version = 'TLSv1.2'
ssl_prefer_server_ciphers = on
password_encryption = 'scram-sha-256'
EOF
	$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
	my $res = attempt($node, user => 'regress_alice', password => 'regress_pw');
	is($res->{rc}, 0, 'hardened: a TLS password login works') or diag $res->{stderr};
	$res = attempt($node, user => 'regress_alice', password => 'regress_pw', sslmode => 'disable');
	isnt($res->{rc}, 0, 'hardened: plaintext is refused');
	my $bad_ones = findings($node, "severity IN ('critical', 'warning')");
	is(scalar(@$bad_ones), 0, 'hardened: no critical or warning finding')
	  or diag join("\n", @$bad_ones);
	is($node->safe_psql('postgres',
			"SELECT count(*) FROM pgtls_audit.ciphers WHERE negotiable AND weakness IS NOT NULL"),
		'0', 'hardened: no weak negotiable suite');
	like($node->safe_psql('postgres', 'SELECT pgtls_audit.report()'),
		qr/nothing critical or warning/, 'hardened: report has nothing to fix');
	$node->stop;
}

# ---------------------------------------------------------------------
# 4. include directives and regular expressions (16+)
{
	my $node = tls_node('syntax16');
	$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
	my $rules = sub {
		my ($file) = @_;
		my $out = $node->safe_psql('postgres',
			"SELECT regexp_replace(file, '^.*/', '') || ':' || line_number || '|' || reachable || '|' "
			  . "|| coalesce(regexp_replace(shadowed_by, '[^ ,]*/', '', 'g'), '') || '|' "
			  . "|| regexp_replace(coalesce(note, error, ''), '[^ ,(]*/', '', 'g') "
			  . "FROM pgtls_audit.hba_rules('$fixtures/$file') ORDER BY file <> '$fixtures/$file', file, line_number");
		return [ split /\n/, $out ];
	};
	if ($node->pg_version >= 16)
	{
		my $r = $rules->('include_16.conf');
		is_deeply($r, [
				'include_16.conf:4|true||',
				'include_16_part.conf:2|false|include_16.conf:4|',
				'include_16_part.conf:3|true||' ],
			'16+: include directive lines keep their file and line')
		  or diag explain $r;
		$r = $rules->('regex_16.conf');
		is($r->[2], 'regex_16.conf:6|false|regex_16.conf:4|', '16+: a user regex shadows a name it matches');
		like($r->[3], qr/^regex_16\.conf:7\|true\|\|may be shadowed by regex_16\.conf:4 \(what a regular expression/,
			'16+: regex against regex is undecided');
		is($r->[4], 'regex_16.conf:8|false|regex_16.conf:5|', '16+: a database regex shadows a name it matches');
		my $m = $node->safe_psql('postgres',
			"SELECT line_number FROM pgtls_audit.hba_match('regress_app', 'db_sales', '10.0.0.1', true, false, '$fixtures/regex_16.conf')");
		is($m, '5', '16+: hba_match evaluates database regexes');
	}
	else
	{
		my $r = $rules->('include_16.conf');
		like($r->[1], qr/invalid connection type "include"/, '15: include lines are parse errors, as the server says');
		$r = $rules->('regex_16.conf');
		is($r->[2], 'regex_16.conf:6|true||', '15: a slash is part of a user name, nothing is shadowed');
	}
	$node->stop;
}

done_testing();
