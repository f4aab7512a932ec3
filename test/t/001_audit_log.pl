# 001_audit_log.pl: one audit record per connection attempt, checked field
# by field, over real TLS connections to a real server.
#
# Every kind of attempt is made for real (TLS 1.3, TLS 1.2, client
# certificates, plaintext, wrong password, reject line, no pg_hba entry,
# missing client certificate, handshake failures, client gone during
# authentication, failures after authentication), first with
# log_format=json, then again with log_format=text; the records are read
# back from the server log, parsed, and compared with what the PKI holds
# and with pg_stat_ssl for the same backend.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Encode ();
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $pki = pki();
my $node = tls_node('audit');
my $hba_file = $node->data_dir . '/pg_hba.conf';
my $server_version = $node->safe_psql('postgres', 'SHOW server_version_num');
# PostgreSQL 17+ records whether the client negotiated ALPN (libpq 17+ always does)
my $alpn_expected = $server_version >= 170000 ? JSON::PP::true : undef;
my %line = (
	cert => hba_line_of($node, qr/regress_cert_user/),
	longdn => hba_line_of($node, qr/regress_longdn/),
	scram_cc => hba_line_of($node, qr/regress_scram_user.*clientcert/),
	reject => hba_line_of($node, qr/regress_rejected.*reject/),
	nossl => hba_line_of($node, qr/^hostnossl.*regress_plain_user/),
	ssl_all => hba_line_of($node, qr/^hostssl\s+all\s+all/));

sub pki_value
{
	my ($file) = @_;
	my $v = slurp_text("$pki/$file");
	$v =~ s/\s+$//;
	return $v;
}

sub openssl_field
{
	my ($cert, @args) = @_;
	my $out = `openssl x509 -in $pki/$cert.crt -noout @args`;
	chomp $out;
	return $out;
}

# not_after of a certificate as the record writes it (ISO 8601 UTC)
sub cert_not_after
{
	my ($cert) = @_;
	my $d = openssl_field($cert, '-enddate', '-dateopt', 'iso_8601');
	$d =~ s/^notAfter=//;
	$d =~ s/^(\S+) (\S+)Z$/$1T$2.000000Z/;
	return $d;
}

# The record fields the README promises, in its order ("The audit record").
my @documented_fields;
{
	my $readme = slurp_text(srcdir() . '/README.md');
	my ($section) = $readme =~ /\n## The audit record\n(.*?)\n## /s;
	@documented_fields = $section =~ /^\| `([a-z0-9_]+)` \| (?:int|string|bool|list) \|/mg;
}
is(scalar(@documented_fields), 40, 'the README documents the 40 record fields');

# The raw record lines written since $off: each carries every documented
# field, in the documented order.
sub check_field_order
{
	my ($label, $off) = @_;
	my @lines = extract_record_lines(substr(slurp_text($node->logfile), $off));
	is_deeply([ record_keys($lines[0] // '') ], \@documented_fields,
		"$label: every documented field, in order");
	return $lines[0] // '';
}

# Make one attempt and return its single record (checks there is exactly
# one, with every field in order) and the raw line.
sub one_attempt
{
	my ($label, %o) = @_;
	my $off = log_offset($node);
	my $res = attempt($node, %o);
	my @recs = wait_records($node, $off, 1);
	is(scalar(@recs), 1, "$label: one record") or diag explain \@recs;
	my $line = check_field_order($label, $off);
	return ($res, $recs[0] // {}, $line);
}

# Fields shared by every record of an attempt over TCP from the test client
sub check_common
{
	my ($label, $r, %e) = @_;
	is($r->{v}, 1, "$label: record version");
	like($r->{ts}, qr/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/, "$label: ts");
	like($r->{pid}, qr/^\d+$/, "$label: pid");
	is($r->{remote_host}, '127.0.0.1', "$label: remote_host");
	like($r->{remote_port}, qr/^\d+$/, "$label: remote_port");
	is($r->{gss_encrypted}, JSON::PP::false, "$label: gss_encrypted");
	for my $k (sort keys %e)
	{
		if (ref $e{$k} eq 'Regexp')
		{
			like($r->{$k}, $e{$k}, "$label: $k");
		}
		else
		{
			is($r->{$k}, $e{$k}, "$label: $k");
		}
	}
}

# A list field as an array reference, whichever the format (JSON array, or
# comma-separated text); undef for null.
sub list_of
{
	my ($v) = @_;
	return undef unless defined $v;
	return $v if ref $v eq 'ARRAY';
	return [ split /,/, $v ];
}

# What libpq offers (as the record must show it): TLS 1.3 and 1.2 by
# default (ssl_min_protocol_version TLSv1.2), ALPN "postgresql" from 17
my $alpn_ja4 = $server_version >= 170000 ? 'pl' : '00';
my $alpn_list = $server_version >= 170000 ? ['postgresql'] : undef;

sub check_offer
{
	my ($label, $r, %e) = @_;
	my $ciphers = list_of($r->{offered_ciphers}) // [];
	is($r->{sni}, $e{sni}, "$label: sni");
	is_deeply(list_of($r->{offered_versions}), $e{versions}, "$label: offered_versions");
	is_deeply(list_of($r->{offered_alpn}), $e{alpn}, "$label: offered_alpn");
	ok((grep { $_ eq $e{cipher} } @$ciphers), "$label: the negotiated suite was offered")
	  if $e{cipher};
	ok(!(grep { /^0x[0-9a-f]{2}([0-9a-f])\1$/ && hex($_) % 0x1010 == 0x0a0a } @$ciphers),
		"$label: no GREASE in the list");
	my $nc = sprintf('%02d', scalar @$ciphers);
	like($r->{ja4} // '', qr/^$e{ja4_prefix}${nc}\d\d$e{ja4_alpn}_[0-9a-f]{12}_[0-9a-f]{12}$/,
		"$label: ja4 ($e{ja4_prefix}, $nc suites offered)");
}

sub ssl_row
{
	my ($res) = @_;
	# sql returns: pid|version|cipher|bits|client_serial|client_dn
	my @f = split /\|/, $res->{stdout}, -1;
	return { pid => $f[0], version => $f[1], cipher => $f[2], bits => $f[3],
		serial => $f[4], dn => $f[5] };
}

my $ssl_sql = 'select pid, version, cipher, bits, client_serial, client_dn '
  . 'from pg_stat_ssl where pid = pg_backend_pid()';

sub run_battery
{
	my ($format) = @_;
	my ($res, $r, $s);

	# --- TLS 1.3, password
	($res, $r) = one_attempt("$format tls13", user => 'regress_alice',
		password => 'regress_pw', appname => 'tls13 app', sql => $ssl_sql);
	is($res->{rc}, 0, "$format tls13: connected") or diag $res->{stderr};
	$s = ssl_row($res);
	check_common("$format tls13", $r,
		event => 'established', outcome => 'success', reason => undef,
		sqlstate => undef, pid => $s->{pid}, user => 'regress_alice',
		database => 'postgres', application_name => 'tls13 app',
		protocol => 'TLSv1.3', cipher => $s->{cipher}, bits => $s->{bits},
		hba_file => $hba_file, hba_line => $line{ssl_all},
		auth_method => 'scram-sha-256', identity => 'regress_alice',
		policy => 'ok', client_cert => JSON::PP::false,
		client_dn => undef, client_serial => undef);
	is($s->{version}, 'TLSv1.3', "$format tls13: pg_stat_ssl agrees");
	is($r->{alpn}, $alpn_expected, "$format tls13: alpn");
	is($r->{ssl}, JSON::PP::true, "$format tls13: ssl true");
	check_offer("$format tls13", $r, sni => undef, versions => [ 'TLSv1.3', 'TLSv1.2' ],
		alpn => $alpn_list, cipher => $s->{cipher}, ja4_prefix => 't13i', ja4_alpn => $alpn_ja4);

	# --- direct TLS (PostgreSQL 17+: no SSLRequest, ALPN required)
	SKIP:
	{
		skip 'direct TLS needs PostgreSQL 17', 4 if $server_version < 170000;
		($res, $r) = one_attempt("$format direct tls", user => 'regress_alice',
			password => 'regress_pw', negotiation => 'direct');
		is($res->{rc}, 0, "$format direct tls: connected") or diag $res->{stderr};
		is($r->{alpn}, JSON::PP::true, "$format direct tls: alpn recorded");
		is($r->{ssl}, JSON::PP::true, "$format direct tls: ssl true");
	}

	# --- TLS 1.2 (forced by the client)
	($res, $r) = one_attempt("$format tls12", user => 'regress_bob',
		password => 'regress_pw', max_protocol => 'TLSv1.2', sql => $ssl_sql);
	is($res->{rc}, 0, "$format tls12: connected") or diag $res->{stderr};
	$s = ssl_row($res);
	check_common("$format tls12", $r,
		outcome => 'success', pid => $s->{pid}, protocol => 'TLSv1.2',
		cipher => $s->{cipher}, bits => $s->{bits}, policy => 'ok');
	is($s->{version}, 'TLSv1.2', "$format tls12: pg_stat_ssl agrees");
	like($r->{cipher}, qr/^ECDHE-/, "$format tls12: a TLS 1.2 suite");
	check_offer("$format tls12", $r, sni => undef, versions => ['TLSv1.2'],
		alpn => $alpn_list, cipher => $s->{cipher}, ja4_prefix => 't12i', ja4_alpn => $alpn_ja4);

	# --- client certificate login (cert method); PostgreSQL records the
	# certificate's DN as the authenticated identity of cert auth
	my $cert_dn = Encode::decode('UTF-8', openssl_field('client_regress_cert_user',
			'-subject', '-nameopt', 'RFC2253,-esc_msb') =~ s/^subject=//r);
	($res, $r) = one_attempt("$format cert", user => 'regress_cert_user',
		cert => 'client_regress_cert_user', sql => $ssl_sql);
	is($res->{rc}, 0, "$format cert: connected") or diag $res->{stderr};
	$s = ssl_row($res);
	check_common("$format cert", $r,
		outcome => 'success', pid => $s->{pid}, client_cert => JSON::PP::true,
		client_dn => $cert_dn,
		issuer_dn => 'CN=pgtls_audit Test Intermediate CA',
		client_serial => pki_value('client_regress_cert_user.serial'),
		client_fingerprint_sha256 => pki_value('client_regress_cert_user.fp256'),
		client_not_after => cert_not_after('client_regress_cert_user'),
		hba_line => $line{cert}, auth_method => 'cert',
		identity => $cert_dn, cipher => $s->{cipher});
	is($r->{client_serial}, $s->{serial}, "$format cert: serial equals pg_stat_ssl");
	is(lc $r->{client_serial_hex},
		lc(openssl_field('client_regress_cert_user', '-serial') =~ s/^serial=//r),
		"$format cert: serial_hex equals openssl");

	# --- long DN with comma, quote, backslash and UTF-8: never truncated
	($res, $r) = one_attempt("$format longdn", user => 'regress_longdn',
		cert => 'client_longdn', sql => $ssl_sql);
	is($res->{rc}, 0, "$format longdn: connected") or diag $res->{stderr};
	$s = ssl_row($res);
	my $longdn = Encode::decode('UTF-8', pki_value('client_longdn.dn'));
	is($r->{client_dn}, $longdn, "$format longdn: full RFC 2253 DN");
	cmp_ok(length(Encode::encode('UTF-8', $r->{client_dn})), '>', 100,
		"$format longdn: longer than 100 bytes");
	cmp_ok(length($s->{dn}), '<', length(Encode::encode('UTF-8', $longdn)),
		"$format longdn: pg_stat_ssl truncates it, the record does not");
	is($r->{hba_line}, $line{longdn}, "$format longdn: hba line");

	# --- scram with clientcert=verify-full
	($res, $r) = one_attempt("$format scram+cert", user => 'regress_scram_user',
		password => 'regress_pw', cert => 'client_regress_scram_user');
	is($res->{rc}, 0, "$format scram+cert: connected") or diag $res->{stderr};
	check_common("$format scram+cert", $r,
		outcome => 'success', auth_method => 'scram-sha-256',
		hba_line => $line{scram_cc}, client_cert => JSON::PP::true,
		client_serial => pki_value('client_regress_scram_user.serial'));

	# --- plaintext
	($res, $r) = one_attempt("$format plaintext", user => 'regress_plain_user',
		password => 'regress_pw', sslmode => 'disable');
	is($res->{rc}, 0, "$format plaintext: connected") or diag $res->{stderr};
	check_common("$format plaintext", $r,
		outcome => 'success', event => 'established', pid => $res->{stdout},
		ssl => JSON::PP::false, protocol => undef, cipher => undef,
		bits => undef, policy => 'plaintext', hba_line => $line{nossl},
		auth_method => 'scram-sha-256', sni => undef, offered_versions => undef,
		offered_ciphers => undef, offered_groups => undef, offered_alpn => undef,
		ja4 => undef);

	# --- wrong password: hook sees ERROR, then FATAL; still one record
	($res, $r) = one_attempt("$format wrong password", user => 'regress_alice',
		password => 'wrong');
	isnt($res->{rc}, 0, "$format wrong password: refused");
	check_common("$format wrong password", $r,
		event => 'auth', outcome => 'failed', sqlstate => '28P01',
		reason => 'password authentication failed for user "regress_alice"',
		protocol => 'TLSv1.3', hba_line => $line{ssl_all},
		auth_method => 'scram-sha-256', identity => undef, policy => 'ok');

	# --- reject line
	($res, $r) = one_attempt("$format reject", user => 'regress_rejected',
		password => 'regress_pw', sslmode => 'disable');
	isnt($res->{rc}, 0, "$format reject: refused");
	check_common("$format reject", $r,
		event => 'auth', outcome => 'rejected', sqlstate => '28000',
		reason => 'pg_hba.conf rejects connection for host "127.0.0.1", user "regress_rejected", database "postgres", no encryption',
		hba_line => $line{reject}, auth_method => 'reject',
		policy => 'plaintext', user => 'regress_rejected');

	# --- no pg_hba entry (no line allows plaintext for this user)
	($res, $r) = one_attempt("$format no entry", user => 'regress_scram_user',
		password => 'regress_pw', sslmode => 'disable');
	isnt($res->{rc}, 0, "$format no entry: refused");
	check_common("$format no entry", $r,
		event => 'auth', outcome => 'rejected', sqlstate => '28000',
		reason => 'no pg_hba.conf entry for host "127.0.0.1", user "regress_scram_user", database "postgres", no encryption',
		hba_line => undef, hba_file => undef, auth_method => undef);

	# --- clientcert=verify-full without a certificate
	($res, $r) = one_attempt("$format missing cert", user => 'regress_scram_user',
		password => 'regress_pw');
	isnt($res->{rc}, 0, "$format missing cert: refused");
	check_common("$format missing cert", $r,
		event => 'auth', outcome => 'rejected', sqlstate => '28000',
		reason => 'connection requires a valid client certificate',
		hba_line => $line{scram_cc}, protocol => 'TLSv1.3',
		client_cert => JSON::PP::false);

	# --- handshake failure: untrusted CA
	($res, $r) = one_attempt("$format untrusted", user => 'regress_cert_user',
		cert => 'client_untrusted');
	isnt($res->{rc}, 0, "$format untrusted: refused");
	check_common("$format untrusted", $r,
		event => 'handshake', outcome => 'failed', sqlstate => '08P01',
		reason => 'could not accept SSL connection: certificate verify failed (client certificate: unable to get local issuer certificate)',
		ssl => JSON::PP::true, protocol => undef, user => undef,
		database => undef, hba_line => undef, policy => undef,
		client_serial => pki_value('client_untrusted.serial'),
		issuer_dn => 'CN=pgtls_audit Untrusted CA');

	# --- handshake failure: expired client certificate
	($res, $r) = one_attempt("$format expired", user => 'regress_cert_user',
		cert => 'client_expired');
	isnt($res->{rc}, 0, "$format expired: refused");
	check_common("$format expired", $r,
		event => 'handshake', outcome => 'failed',
		reason => 'could not accept SSL connection: certificate verify failed (client certificate: certificate has expired)',
		client_serial => pki_value('client_expired.serial'),
		client_not_after => cert_not_after('client_expired'));

	# --- handshake failure: TLS 1.1 ClientHello below ssl_min_protocol_version
	{
		my $off = log_offset($node);
		my ($out, $err) = ('', '');
		IPC::Run::run([ 'openssl', 's_client', '-connect', '127.0.0.1:' . $node->port,
				'-starttls', 'postgres', '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0' ],
			'<', \'', '>', \$out, '2>', \$err);
		my @recs = wait_records($node, $off, 1);
		is(scalar(@recs), 1, "$format tls1.1: one record");
		check_field_order("$format tls1.1", $off);
		check_common("$format tls1.1", $recs[0] // {},
			event => 'handshake', outcome => 'failed', sqlstate => '08P01',
			reason => 'could not accept SSL connection: unsupported protocol',
			ssl => JSON::PP::true, protocol => undef, user => undef);
		# what the refused client offered is still recorded
		check_offer("$format tls1.1", $recs[0] // {}, sni => undef, versions => ['TLSv1.1'],
			alpn => undef, ja4_prefix => 't11i', ja4_alpn => '00');
	}

	# --- client gives up during authentication (no password to send)
	($res, $r) = one_attempt("$format aborted", user => 'regress_alice');
	isnt($res->{rc}, 0, "$format aborted: refused");
	like($res->{stderr}, qr/no password supplied/, "$format aborted: client had no password");
	check_common("$format aborted", $r,
		event => 'auth', outcome => 'aborted',
		reason => 'client closed the connection during authentication',
		hba_line => $line{ssl_all});

	# --- failure after authentication: role without LOGIN
	($res, $r) = one_attempt("$format nologin", user => 'regress_nologin',
		password => 'regress_pw');
	isnt($res->{rc}, 0, "$format nologin: refused");
	check_common("$format nologin", $r,
		event => 'authorization', outcome => 'failed', sqlstate => '28000',
		reason => 'role "regress_nologin" is not permitted to log in',
		identity => 'regress_nologin', hba_line => $line{ssl_all});

	# --- failure after authentication: database does not exist
	($res, $r) = one_attempt("$format no database", user => 'regress_alice',
		password => 'regress_pw', dbname => 'regress_no_such_db');
	isnt($res->{rc}, 0, "$format no database: refused");
	check_common("$format no database", $r,
		event => 'authorization', outcome => 'failed', sqlstate => '3D000',
		reason => 'database "regress_no_such_db" does not exist');
}

# A user name with a quote, a backslash, a newline and UTF-8 (no such role):
# the record must stay one line and parse back to the same name.
sub check_odd_user
{
	my ($format) = @_;
	my $odd = "regress_we\"ird\\name\nline2 \x{fc}\x01\x1f\x7f\t";
	my ($res, $r, $line) = one_attempt("$format odd user", user => Encode::encode('UTF-8', $odd),
		password => 'x');
	isnt($res->{rc}, 0, "$format odd user: refused");
	is($r->{user}, $odd, "$format odd user: user parsed back exactly");
	is($r->{reason}, qq{password authentication failed for user "$odd"},
		"$format odd user: reason parsed back exactly");
	my $escaped = $format eq 'json'
	  ? '"user":"regress_we\\"ird\\\\name\\nline2 ' . "\xc3\xbc" . '\\u0001\\u001f\\u007f\\t"'
	  : 'user="regress_we\\"ird\\\\name\\nline2 ' . "\xc3\xbc" . '\\x01\\x1f\\x7f\\t"';
	ok(index($line, $escaped) >= 0, "$format odd user: control characters escaped as the README says")
	  or diag "line: $line\nwanted: $escaped";

	# bytes that are not UTF-8: U+FFFD in the record and in the view alike
	my $bytes = "regress_bar_\xff\xfeuser";
	my $shown = "regress_bar_\x{fffd}\x{fffd}user";
	($res, $r, $line) = one_attempt("$format invalid utf8 user", user => $bytes, password => 'x');
	is($r->{user}, $shown, "$format invalid utf8 user: each invalid byte is U+FFFD");
	is($r->{reason}, qq{password authentication failed for user "$shown"},
		"$format invalid utf8 user: in the reason too");
	ok(index($line, "\xff") < 0 && index($line, "\xfe") < 0,
		"$format invalid utf8 user: the raw line holds no invalid byte");
	my $view = Encode::decode('UTF-8', $node->safe_psql('postgres',
			"SELECT user_name FROM pgtls_audit.connections WHERE pid = $r->{pid}"));
	is($view, $shown, "$format invalid utf8 user: pgtls_audit.connections shows the same name");
}

sub set_conf
{
	my ($setting, $value) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET $setting = '$value'");
	$node->reload;
	# wait until new backends see it
	$node->poll_query_until('postgres', "SELECT current_setting('$setting') = '$value'")
	  or die "setting $setting not applied";
}

$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
set_conf('pgtls_audit.log_format', 'json');
run_battery('json');
check_odd_user('json');

# Every JSON record of this run parses with jq too.
{
	my @lines = extract_record_lines(slurp_text($node->logfile));
	my $json = join("\n", grep { /^\{/ } @lines) . "\n";
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'jq', '-c', '.client_dn' ], '<', \$json, '>', \$out, '2>', \$err);
	is($?, 0, 'jq parses every JSON record') or diag $err;
	like($out, qr/regress_longdn/, 'jq sees the long DN');
}

set_conf('pgtls_audit.log_format', 'text');
run_battery('text');
check_odd_user('text');

# policy_min_protocol: TLS 1.2 falls below a TLSv1.3 policy (not refused)
set_conf('pgtls_audit.policy_min_protocol', 'TLSv1.3');
{
	my ($res, $r) = one_attempt('policy', user => 'regress_bob',
		password => 'regress_pw', max_protocol => 'TLSv1.2');
	is($res->{rc}, 0, 'policy: TLS 1.2 still connects');
	is($r->{policy}, 'below_min_protocol', 'policy: below_min_protocol');
	($res, $r) = one_attempt('policy 1.3', user => 'regress_bob', password => 'regress_pw');
	is($r->{policy}, 'ok', 'policy: TLS 1.3 ok');
}

# log_connections = off: no record for successes, still for failures
set_conf('pgtls_audit.log_connections', 'off');
{
	my $off = log_offset($node);
	my $res = attempt($node, user => 'regress_bob', password => 'regress_pw');
	is($res->{rc}, 0, 'log_connections off: connected');
	$res = attempt($node, user => 'regress_bob', password => 'wrong');
	my @recs = wait_records($node, $off, 1);
	usleep_ms(300);
	@recs = new_records($node, $off);
	is(scalar(@recs), 1, 'log_connections off: only the failure is written');
	is($recs[0]{outcome}, 'failed', 'log_connections off: it is the failure');
}
set_conf('pgtls_audit.log_connections', 'on');
set_conf('pgtls_audit.log_failures', 'off');
{
	my $off = log_offset($node);
	my $res = attempt($node, user => 'regress_bob', password => 'wrong');
	$res = attempt($node, user => 'regress_bob', password => 'regress_pw');
	my @recs = wait_records($node, $off, 1);
	usleep_ms(300);
	@recs = new_records($node, $off);
	is(scalar(@recs), 1, 'log_failures off: only the success is written');
	is($recs[0]{outcome}, 'success', 'log_failures off: it is the success');
}
set_conf('pgtls_audit.log_failures', 'on');

# No record for our own local superuser sessions was lost or doubled: every
# record names a distinct pid.
{
	my @all = new_records($node, 0);
	my %seen;
	$seen{ $_->{pid} }++ for @all;
	my @dups = grep { $seen{$_} > 1 } keys %seen;
	is(scalar(@dups), 0, 'no backend wrote two records') or diag "@dups";
	# local (Unix socket) sessions of the test framework are audited too,
	# as [local] with no port, as the README says
	my @local = grep { !defined $_->{remote_port} } @all;
	cmp_ok(scalar(@local), '>', 0, 'local connections are recorded too');
	is_deeply([ map { $_->{remote_host} } @local ], [ ('[local]') x @local ],
		'every local record has remote_host [local]');
}

sub usleep_ms { select(undef, undef, undef, $_[0] / 1000); }

$node->stop;
done_testing();
