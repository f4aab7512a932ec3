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
use Time::HiRes;
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
	my %outcome = (
		'tls password' => [ 'authenticates with scram-sha-256', 'success' ],
		'plaintext' => [ 'authenticates with scram-sha-256', 'success' ],
		'reject line' => [ 'rejected: the matching line is a reject line', 'rejected' ],
		'no entry' => [ 'rejected: no pg_hba.conf entry matches', 'rejected' ],
		'client cert' => [
			'certificate: the client certificate must verify and its common name must match the role (or user map)',
			'success' ],
		'clientcert missing' => [
			'refused: connection requires a valid client certificate (clientcert)', 'rejected' ]);
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
		is($outcome, $outcome{$label}[0], "hba_match outcome: $label");
		is($recs[0] ? $recs[0]{outcome} : 'no record', $outcome{$label}[1],
			"the server's outcome: $label");
	}
	# the inventory counts what hba_rules shows as times_matched: exactly
	# one attempt on each TCP line above, and on the local line as many as
	# the audit records of the local sessions of this test (this query's
	# own session included)
	my %tcp = map { hba_line_of($node, $_) => 1 }
	  (qr/regress_cert_user/, qr/regress_scram_user/, qr/regress_rejected/,
		qr/regress_plain_user/, qr/^hostssl\s+all\s+all\s/);
	my %used = map { split /\|/ } split /\n/,
	  $node->safe_psql('postgres',
		"SELECT line_number || '|' || times_matched FROM pgtls_audit.hba_rules() WHERE times_matched > 0");
	my $local_line = hba_line_of($node, qr/^local\s+all\s+all\s/);
	my $local_records = grep { ($_->{hba_line} // 0) == $local_line } new_records($node, 0);
	is_deeply(\%used, { %tcp, $local_line => $local_records },
		'hba_rules times_matched: exactly the attempts of each line')
	  or diag explain \%used;
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
# every finding, by check and place (directories cut): an unexpected
# finding fails as much as a missing one
{
	my @got = split /\n/, $bad->safe_psql('postgres',
		"SELECT check_id || ' ' || coalesce(regexp_replace(location, '/[^ ]*/', '', 'g'), '-') "
		  . "FROM pgtls_audit.findings ORDER BY 1");
	my @want = sort(
		'AUTH001 pg_hba.conf:2',    # trust over TCP (loopback)
		'AUTH002 pg_hba.conf:1',    # trust on local
		'AUTH003 pg_hba.conf:3',    # password, hostnossl, from everywhere
		'AUTH005 pg_hba.conf:4',    # md5
		'AUTH007 password_encryption',
		'AUTH008 pg_hba.conf:5',    # postgres from everywhere (3 and 4 name other users)
		'CERT003 ssl_key_file',     # mode 0640, owned by the server user
		'CERT010 ssl_cert_file client_expired.crt #1',
		'HBA002 pg_hba.conf:6',     # the cert line, shadowed by line 5
		'HBA004 pg_hba.conf:4',     # md5 over plaintext from everywhere
		'HBA004 pg_hba.conf:5',     # scram over plaintext from everywhere
		'HBA005 pg_hba.conf:3',     # password for every address
		'HBA005 pg_hba.conf:4',     # md5 for every address
		'HBA006 pg_hba.conf:5',     # scram only, every address
		'HBA008 pg_hba.conf:2',     # no connection yet on lines 2 to 5
		'HBA008 pg_hba.conf:3',
		'HBA008 pg_hba.conf:4',
		'HBA008 pg_hba.conf:5',
		'TLS003 ssl_min_protocol_version',
		'TLS005 ssl_max_protocol_version',
		'TLS006 ssl_prefer_server_ciphers',
		'TLS007 ssl_ciphers',
		'TLS009 ssl_ciphers');
	is_deeply(\@got, \@want, 'bad: exactly the expected findings') or diag explain \@got;
}
has_finding($f, 'TLS003', qr/TLSv1\b/, 'bad: min protocol TLSv1');
has_finding($f, 'TLS005', qr/TLSv1\.2/, 'bad: TLS 1.3 disabled');
has_finding($f, 'TLS006',
	qr/^TLS006\|warning\|ssl_prefer_server_ciphers\|ssl_prefer_server_ciphers is off: /,
	'bad: client cipher preference');
has_finding($f, 'TLS007', qr/without encryption or without server authentication/, 'bad: NULL and anonymous suites');
has_finding($f, 'TLS009', qr/without forward secrecy/, 'bad: static RSA suites');
has_finding($f, 'AUTH007', qr/md5/, 'bad: password_encryption md5');
has_finding($f, 'CERT003', qr/group or world access \(mode 0640/, 'bad: key file permissions');
{
	# the notAfter in the message is the one openssl reads from the file
	my ($enddate) = `openssl x509 -noout -enddate -in $pki/client_expired.crt` =~ /^notAfter=(.*)$/m;
	my ($cert010) = grep { /^CERT010\|/ } @$f;
	like($cert010 // '',
		qr/^CERT010\|critical\|ssl_cert_file \S*\/client_expired\.crt #1\|certificate CN=regress_cert_user,OU=clients,O=pgtls_audit tests expired \(notAfter [^,]+, -\d+ days left\)$/,
		'bad: expired server certificate (certificates part)');
	my ($not_after) = ($cert010 // '') =~ /\(notAfter ([^,]+),/;
	is($bad->safe_psql('postgres', "SELECT '$not_after'::timestamptz = '$enddate'::timestamptz"),
		't', "bad: CERT010's notAfter is the file's ($enddate)");
}
has_finding($f, 'AUTH001', qr/127\.0\.0\.1/, 'bad: trust over TCP');
has_finding($f, 'AUTH002', qr/pg_hba\.conf:1\|/, 'bad: trust on local');
has_finding($f, 'AUTH003', qr/pg_hba\.conf:3\|/, 'bad: password over plaintext');
has_finding($f, 'AUTH005', qr/pg_hba\.conf:4\|/, 'bad: md5 line');
has_finding($f, 'HBA005', qr/pg_hba\.conf:4\|/, 'bad: md5 for every address');
has_finding($f, 'HBA006', qr/pg_hba\.conf:5\|/, 'bad: password only from everywhere');
has_finding($f, 'HBA004', qr/pg_hba\.conf:5\|/, 'bad: plaintext from remote');
has_finding($f, 'HBA002', qr/pg_hba\.conf:6\|.*matched first by .*pg_hba\.conf:5.*client certificate/,
	'bad: cert line shadowed by the scram line');
has_finding($f, 'AUTH008',
	qr/^AUTH008\|warning\|\S*pg_hba\.conf:5\|superuser\(s\) postgres can log in from non-loopback addresses \(0\.0\.0\.0\/0\) through this line$/,
	'bad: superuser from everywhere');
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
	like($res->{stderr}, qr/SSL error: certificate verify failed/, 'bad: ... because of the certificate');
}
# one TLS connection without verification for the report's protocol mix
my $bad_tls;
# (line 2, trust); no root certificate file, so libpq does not verify
{
	my ($out, $err) = ('', '');
	local $ENV{PGPASSFILE} = '/nonexistent';
	IPC::Run::run([ 'psql', '-X', '-A', '-t', '-w', '-d',
			'host=127.0.0.1 port=' . $bad->port . ' dbname=postgres user=regress_alice '
			  . 'sslmode=require sslrootcert=/nonexistent sslcert=/nonexistent sslkey=/nonexistent',
			'-c', "SELECT version || ' ' || cipher FROM pg_stat_ssl WHERE pid = pg_backend_pid()" ],
		'<', \undef, '>', \$out, '2>', \$err);
	chomp $out;
	like($out, qr/^TLSv1\.[12] \S+$/, 'bad: a non-verifying TLS connection over the trust line (TLS 1.2 at most)')
	  or diag $err;
	$bad_tls = $out;
}
# the report: the server's name (cluster_name of the test node), counts by
# severity as in the findings, the three things to fix first, and the
# protocol mix of exactly the two TCP attempts (the refused handshake and
# the TLS session above)
{
	my $report = $bad->safe_psql('postgres', 'SELECT pgtls_audit.report()');
	my $port = $bad->port;
	my $version = $bad->safe_psql('postgres', 'SHOW server_version');
	like($report, qr/\Apgtls_audit report for bad, port $port \(PostgreSQL \Q$version\E\) at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d\n/,
		'report: named after cluster_name and port');
	my %n = map { split /\|/ } split /\n/, $bad->safe_psql('postgres',
		"SELECT severity || '|' || count(*) FROM pgtls_audit.findings GROUP BY severity");
	my ($counts) = $report =~ /== Findings\n(.*?)\n\n/s;
	is($counts, "  critical: $n{critical}\n  warning: $n{warning}\n  info: $n{info}",
		'report: counts by severity as in the findings');
	my ($fix) = $report =~ /== Fix first\n(.*?)\n\n/s;
	my @fix = $fix =~ /^  \d\. \[(\S+ \S+)\] /mg;
	is_deeply(\@fix, [ 'critical CERT003', 'critical CERT010', 'critical AUTH001' ],
		'report: fix first: certificates before auth, one per check')
	  or diag $fix;
	my ($mix) = $report =~ /== Protocols and ciphers of recent connections\n(.*?\n)(?:\n== |\z)/s;
	my ($proto, $cipher) = split / /, $bad_tls // '';
	is($mix, sprintf("  %6s  %-10s %s\n  %6s  %-10s %s\n", 1, 'TLS (failed)', '-', 1, $proto, $cipher),
		'report: protocol mix of the two TCP attempts');
}

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

		# files that include their own directory: the server's tokenizer
		# would open 12^10 files; the budget stops it with a clean error
		my $loop = PostgreSQL::Test::Utils::tempdir('hba_loop');
		for my $i (1 .. 12)
		{
			open my $fh, '>', "$loop/f$i.conf" or die $!;
			print $fh "include_dir .\nhostssl all all 127.0.0.1/32 scram-sha-256\n";
			close $fh;
		}
		chmod 0755, $loop;
		chmod 0644, glob("$loop/*.conf");
		my ($rc, $out, $err) = $node->psql('postgres',
			"\\set VERBOSITY verbose\nSELECT count(*) FROM pgtls_audit.hba_rules('$loop/f1.conf')");
		like($err, qr/ERROR:\s+54000: pg_hba file ".*f1\.conf" and the files it includes open more than 1000 files/,
			'16+: mutually including files: 54000 instead of an exponential blow-up');
		is($node->safe_psql('postgres', 'SELECT 1'), '1', '16+: the server is still up');
	}
	else
	{
		my $r = $rules->('include_16.conf');
		like($r->[1], qr/invalid connection type "include"/, '15: include lines are parse errors, as the server says');
		$r = $rules->('regex_16.conf');
		is($r->[2], 'regex_16.conf:6|true||', '15: a slash is part of a user name, nothing is shadowed');
	}

	# @files that reference themselves, on every version: three references
	# per line would make the tokenizer open 3^10 files (16+) or recurse
	# without end (15); the budget stops both with a clean error.  One
	# reference nests: 16+ stops at ten levels with the tokenizer's own
	# message in the line, 15 (no limit in core) meets the budget.
	{
		my $dir = PostgreSQL::Test::Utils::tempdir('hba_at');
		my $write = sub {
			my ($name, $text) = @_;
			open my $fh, '>', "$dir/$name" or die $!;
			print $fh $text;
			close $fh;
			chmod 0644, "$dir/$name";
		};
		chmod 0755, $dir;
		$write->('u3.txt', "regress_alice,\@u3.txt,\@u3.txt,\"x\"\@u3.txt\n\@u3.txt\n");
		$write->('three.conf', "hostssl all \@u3.txt 127.0.0.1/32 scram-sha-256\n");
		$write->('u1.txt', "regress_alice \@u1.txt\n");
		$write->('one.conf', "hostssl all \@u1.txt 127.0.0.1/32 scram-sha-256\n");
		$write->('ok.txt', "regress_alice # \@nothing.txt\n\"\@quoted.txt\" regress_bob\n");
		$write->('ok.conf', "hostssl all \@ok.txt 127.0.0.1/32 scram-sha-256\n");
		for my $f ('hba_rules', 'check_config')
		{
			my ($rc, $out, $err) = $node->psql('postgres',
				"\\set VERBOSITY verbose\nSELECT count(*) FROM pgtls_audit.$f('$dir/three.conf')");
			like($err, qr/ERROR:\s+54000: pg_hba file ".*three\.conf" and the files it includes open more than 1000 files/,
				"\@files: three self-references per line: $f stops with 54000");
		}
		my ($rc, $out, $err) = $node->psql('postgres',
			"\\set VERBOSITY verbose\nSELECT coalesce(error, 'none') FROM pgtls_audit.hba_rules('$dir/one.conf')");
		if ($node->pg_version >= 16)
		{
			like($out, qr/maximum nesting depth exceeded/,
				"16+: \@file nested more than ten levels: the tokenizer's message in the line");
			is($err, '', '16+: ... and no ERROR');
		}
		else
		{
			like($err, qr/ERROR:\s+54000: pg_hba file ".*one\.conf" and the files it includes open more than 1000 files/,
				'15: an @file that references itself meets the budget, not maxAllocatedDescs');
		}
		is($node->safe_psql('postgres',
				"SELECT error IS NULL FROM pgtls_audit.hba_rules('$dir/ok.conf')"),
			't', '@files: a reference in a comment or in quotes opens nothing');
		is($node->safe_psql('postgres', 'SELECT 1'), '1', '@files: the server is still up');
	}
	$node->stop;
}

# ---------------------------------------------------------------------
# 5. secrets in pg_hba.conf: a pg_monitor member never sees them, through
# any function, message or debug report; a superuser sees complete lines
{
	my $node = tls_node('secrets', no_start => 1);
	my $with_radius = $node->pg_version->major < 19;    # 19 removed RADIUS (major: 19rc1 compares below 19)
	my @valid = (
		'host all regress_ldap 10.10.0.0/16 ldap ldapserver=ldap.example.com ldapbasedn="dc=example,dc=com" '
		  . 'ldapbinddn="cn=reader,dc=example,dc=com" ldapbindpasswd="Ldap secret 1" ldapsearchattribute=uid '
		  . '# was ldapbindpasswd=Old-secret-0');
	my @errors = (
		# the second list element becomes an option of its own: the
		# server's error quotes it
		'host all regress_ldap 10.11.0.0/16 ldap ldapserver=ldap.example.com ldapbindpasswd=Ldap-err-1,Ldap-err-2 ldapbasedn="dc=example,dc=com"',
		# a misspelt option name: still a credential
		'host all regress_ldap 10.12.0.0/16 ldap ldapserver=ldap.example.com ldapbasedn="dc=example,dc=com" ldapbindpassword=Ldap-typo-1');
	my @secrets = ('Ldap secret 1', 'Old-secret-0', 'Ldap-err-1', 'Ldap-err-2', 'Ldap-typo-1');
	if ($with_radius)
	{
		push @valid,
		  'host all regress_radius 10.20.0.0/16 radius radiusservers="192.0.2.10,192.0.2.11" radiussecrets="Radius-one,Radius-two"';
		push @errors,
		  'host all regress_radius 10.21.0.0/16 radius radiusservers=192.0.2.10 radiussecrets=Radius-err-1,Radius-err-2';
		push @secrets, 'Radius-one', 'Radius-two', 'Radius-err-1', 'Radius-err-2';
	}
	my $hba_path = $node->data_dir . '/pg_hba.conf';
	$node->append_conf('pg_hba.conf', join("\n", @valid) . "\n");
	$node->start;
	$node->safe_psql('postgres', slurp_text(srcdir() . '/test/conf/setup.sql'));
	$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
	$node->safe_psql('postgres', 'CREATE ROLE regress_secret_monitor LOGIN IN ROLE pg_monitor');
	# lines with errors only on disk (the server would not start with them)
	$node->append_conf('pg_hba.conf', join("\n", @errors) . "\n");
	my $ldap_line = hba_line_of($node, qr/10\.10\.0\.0/);
	my $err_line = hba_line_of($node, qr/10\.11\.0\.0/);
	my $typo_line = hba_line_of($node, qr/10\.12\.0\.0/);

	my $every_output = q{
SET client_min_messages = debug5;
SELECT * FROM pgtls_audit.hba_rules();
SELECT * FROM pgtls_audit._hba_rules(NULL);
SELECT * FROM pgtls_audit.hba_rules(current_setting('hba_file'));
SELECT * FROM pgtls_audit.hba_match('regress_ldap', 'postgres', '10.10.1.1', false);
SELECT * FROM pgtls_audit.hba_match('regress_ldap', 'postgres', '10.10.1.1', true);
SELECT * FROM pgtls_audit.hba_match('regress_radius', 'postgres', '10.20.1.1', false);
SELECT * FROM pgtls_audit.findings;
SELECT * FROM pgtls_audit.check_config();
SELECT * FROM pgtls_audit.check_config(current_setting('hba_file'));
SELECT * FROM pgtls_audit._config_findings(NULL);
SELECT pgtls_audit.report();
};
	my ($out, $err) = ('', '');
	$node->psql('postgres', $every_output, stdout => \$out, stderr => \$err,
		extra_params => [ '-U', 'regress_secret_monitor' ]);
	my @seen = grep { index($out . $err, $_) >= 0 } @secrets;
	is_deeply(\@seen, [], 'secrets: a pg_monitor member sees no secret in any output or message')
	  or diag "$out\n$err";
	like($err, qr/DEBUG/, 'secrets: ... with debug messages on (they reach the client)');
	my $logtext = slurp_text($node->logfile);
	@seen = grep { index($logtext, $_) >= 0 } @secrets;
	is_deeply(\@seen, [], 'secrets: none in the server log either');

	my $as_monitor = sub {
		my ($sql) = @_;
		my ($o, $e) = ('', '');
		$node->psql('postgres', $sql, stdout => \$o, stderr => \$e,
			extra_params => [ '-U', 'regress_secret_monitor' ]);
		diag $e if $e ne '';
		return $o;
	};
	# what it sees instead: the lines with every secret replaced
	is($as_monitor->("SELECT raw_line FROM pgtls_audit.hba_rules() WHERE line_number = $ldap_line"),
		'host all regress_ldap 10.10.0.0/16 ldap ldapserver=ldap.example.com ldapbasedn="dc=example,dc=com" '
		  . 'ldapbinddn="cn=reader,dc=example,dc=com" ldapbindpasswd=<redacted> ldapsearchattribute=uid '
		  . '# was ldapbindpasswd=<redacted>',
		'secrets: the ldap line, redacted (comment included)');
	is($as_monitor->("SELECT array_to_string(options, ' ') FROM pgtls_audit.hba_rules() WHERE line_number = $ldap_line"),
		'ldapserver=ldap.example.com ldapbasedn=dc=example,dc=com ldapbinddn=cn=reader,dc=example,dc=com '
		  . 'ldapbindpasswd=<redacted> ldapsearchattribute=uid',
		'secrets: the ldap options, redacted');
	is($as_monitor->("SELECT raw_line || ' | ' || array_to_string(options, ' ') FROM pgtls_audit.hba_match('regress_ldap', 'postgres', '10.10.1.1', false)"),
		'host all regress_ldap 10.10.0.0/16 ldap ldapserver=ldap.example.com ldapbasedn="dc=example,dc=com" '
		  . 'ldapbinddn="cn=reader,dc=example,dc=com" ldapbindpasswd=<redacted> ldapsearchattribute=uid '
		  . '# was ldapbindpasswd=<redacted> | ldapserver=ldap.example.com ldapbasedn=dc=example,dc=com '
		  . 'ldapbinddn=cn=reader,dc=example,dc=com ldapbindpasswd=<redacted> ldapsearchattribute=uid',
		'secrets: hba_match shows the redacted line and options');
	is($as_monitor->("SELECT raw_line || ' | ' || error FROM pgtls_audit.hba_rules() WHERE line_number = $err_line"),
		'host all regress_ldap 10.11.0.0/16 ldap ldapserver=ldap.example.com ldapbindpasswd=<redacted> ldapbasedn="dc=example,dc=com"'
		  . ' | authentication option not in name=value format: <redacted>',
		'secrets: an error line and its error, redacted');
	is($as_monitor->("SELECT raw_line || ' | ' || error FROM pgtls_audit.hba_rules() WHERE line_number = $typo_line"),
		'host all regress_ldap 10.12.0.0/16 ldap ldapserver=ldap.example.com ldapbasedn="dc=example,dc=com" ldapbindpassword=<redacted>'
		  . ' | unrecognized authentication option name: "ldapbindpassword"',
		'secrets: a misspelt credential option, redacted');
	is($as_monitor->("SELECT message FROM pgtls_audit.findings WHERE check_id = 'HBA001' AND location LIKE '%:$err_line'"),
		'line has an error: authentication option not in name=value format: <redacted>; the server refuses to load a pg_hba file with errors (a reload keeps the previous rules, a restart fails)',
		'secrets: the finding of the error line, redacted');
	if ($with_radius)
	{
		my $radius_line = hba_line_of($node, qr/10\.20\.0\.0/);
		my $radius_err = hba_line_of($node, qr/10\.21\.0\.0/);
		is($as_monitor->("SELECT raw_line || ' | ' || array_to_string(options, ' ') FROM pgtls_audit.hba_rules() WHERE line_number = $radius_line"),
			'host all regress_radius 10.20.0.0/16 radius radiusservers="192.0.2.10,192.0.2.11" radiussecrets=<redacted>'
			  . ' | radiusservers=192.0.2.10,192.0.2.11 radiussecrets=<redacted>',
			'secrets: the radius line and options, redacted');
		is($as_monitor->("SELECT raw_line || ' | ' || error FROM pgtls_audit.hba_rules() WHERE line_number = $radius_err"),
			'host all regress_radius 10.21.0.0/16 radius radiusservers=192.0.2.10 radiussecrets=<redacted>'
			  . ' | authentication option not in name=value format: <redacted>',
			'secrets: a radius error line, redacted');
	}
	else
	{
		is($node->safe_psql('postgres', "SELECT count(*) FROM pgtls_audit.hba_rules() WHERE method = 'radius'"),
			'0', 'secrets: no radius line on 19 (RADIUS was removed)');
	}

	# the superuser gets every line as written and the server's own errors
	my @file = grep { !/^\s*(#|$)/ } split /\n/, slurp_text($hba_path);
	my @su = split /\n/, $node->safe_psql('postgres',
		'SELECT raw_line FROM pgtls_audit.hba_rules() ORDER BY line_number');
	is_deeply(\@su, \@file, 'secrets: a superuser gets the complete lines');
	is($node->safe_psql('postgres', "SELECT error FROM pgtls_audit.hba_rules() WHERE line_number = $err_line"),
		'authentication option not in name=value format: Ldap-err-2',
		'secrets: ... and the complete error');
	# so does a role with the privileges of pg_read_server_files
	$node->safe_psql('postgres', 'GRANT pg_read_server_files TO regress_secret_monitor');
	like($as_monitor->("SELECT raw_line FROM pgtls_audit.hba_rules() WHERE line_number = $ldap_line"),
		qr/ldapbindpasswd="Ldap secret 1"/, 'secrets: pg_read_server_files sees the secret');
	$node->stop;
}

# ---------------------------------------------------------------------
# 6. the analysis of a large file can be cancelled: 200,000 lines that no
# earlier line covers (different users each) take about a second (the
# analysis is linear since the index of hba_analysis.c: 6,000 such lines
# once took as long); statement_timeout must stop it in the loop, not
# after it
{
	my $node = tls_node('cancel');
	$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
	my $big = $node->basedir . '/big_hba.conf';
	my $lines = 200000;
	open my $fh, '>', $big or die $!;
	for my $i (1 .. $lines)
	{
		print $fh "host all u${i}a,u${i}b,u${i}c,u${i}d 0.0.0.0/0 scram-sha-256\n";
	}
	close $fh;
	my $run = sub {
		my ($sql) = @_;
		my ($o, $e) = ('', '');
		my $t0 = Time::HiRes::time();
		$node->psql('postgres', "\\set VERBOSITY verbose\n$sql", stdout => \$o, stderr => \$e);
		return ($o, $e, Time::HiRes::time() - $t0);
	};
	my ($o, $e, $full) = $run->("SELECT count(*) FROM pgtls_audit.hba_rules('$big')");
	is($o, $lines, 'cancel: without a timeout the analysis completes') or diag $e;
	my $timeout = 0.1;
	cmp_ok($full, '>', 5 * $timeout, "cancel: it takes longer than the timeout (${full}s)");
	for my $f ("pgtls_audit.hba_rules('$big')", "pgtls_audit.check_config('$big')",
		"pgtls_audit.hba_match('x', 'y', '10.0.0.1', true, false, '$big')")
	{
		my ($o2, $e2, $t) = $run->("SET statement_timeout = '${\($timeout * 1000)}ms';\nSELECT count(*) FROM $f");
		like($e2, qr/ERROR:  57014: canceling statement due to statement timeout/,
			"cancel: $f stops with query_canceled");
		cmp_ok($t, '<', $full / 2, "cancel: ... inside the analysis (${t}s of ${full}s)");
	}
	$node->stop;
}

# ---------------------------------------------------------------------
# MD5 on this version: the hints of AUTH005 and AUTH007 say what the running
# server does, and the server really does it (18: a WARNING when an MD5
# password is set; 19: also one after each login with an MD5 password).
{
	my $node = tls_node('md5', hba => "local all all trust\nhost all all 127.0.0.1/32 md5\n",
		extra_conf => "password_encryption = md5\n");
	$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
	my $version = $node->safe_psql('postgres', 'SHOW server_version_num');
	my ($o, $e) = ('', '');
	$node->psql('postgres', "CREATE ROLE regress_md5 LOGIN PASSWORD 'regress_md5_pw'",
		stdout => \$o, stderr => \$e);
	is($node->safe_psql('postgres',
			"SELECT left(rolpassword, 3) FROM pg_authid WHERE rolname = 'regress_md5'"),
		'md5', 'md5: the password is stored as MD5');
	my $set_warned = $e =~ /WARNING:  setting an MD5-encrypted password/ ? 1 : 0;
	is($set_warned, $version >= 180000 ? 1 : 0,
		'md5: the server warns when an MD5 password is set exactly from 18 on');
	my $r = attempt($node, user => 'regress_md5', password => 'regress_md5_pw');
	is($r->{rc}, 0, 'md5: the md5 login succeeds') or diag $r->{stderr};
	my $login_warned = $r->{stderr} =~ /WARNING:  authenticated with an MD5-encrypted password/ ? 1 : 0;
	is($login_warned, $version >= 190000 ? 1 : 0,
		'md5: the server warns after an MD5 login exactly from 19 on');
	my %hint = split /\|/, join '|', split /\n/, $node->safe_psql('postgres',
		"SELECT check_id || '|' || hint FROM pgtls_audit.findings "
		  . "WHERE check_id IN ('AUTH005', 'AUTH007') ORDER BY 1");
	is_deeply([ sort keys %hint ], [ 'AUTH005', 'AUTH007' ], 'md5: AUTH005 and AUTH007 found');
	my $says = $version >= 190000
	  ? qr/This server \(PostgreSQL 19\) warns when an MD5 password is set and after every login that uses one \(md5_password_warnings\)/
	  : $version >= 180000
	  ? qr/This server \(PostgreSQL 18\) warns when an MD5 password is set \(md5_password_warnings\), and MD5/
	  : qr/PostgreSQL 18 deprecates MD5 passwords \(it warns when one is set, 19 also after every login that uses one\)/;
	like($hint{$_} // '', $says, "md5: $_'s hint says what this version does") for qw(AUTH005 AUTH007);
	like($hint{AUTH005} // '', qr/already stored as SCRAM authenticates with SCRAM on this line/,
		'md5: AUTH005 says SCRAM passwords work on an md5 line');
	$node->stop;
}

done_testing();
