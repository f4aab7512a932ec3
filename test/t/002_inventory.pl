# 002_inventory.pl: the shared-memory inventory over real TLS connections.
#
# Exact counts under parallel load, the views' contents (connections,
# clients, client_certificates, hba_usage, stats), privileges by role (each
# role sees exactly its own rows), text of non-ASCII names in UTF8, LATIN1
# and SQL_ASCII databases, reset() under concurrent connections and from
# full tables, LRU eviction order and counters with tiny tables, history
# ring overwrite, persistence across a clean restart (the file itself, the
# exact values, the recency order, a large streamed file, save = off, the
# ring not saved), corrupt, truncated, cut and padded state files, a
# streaming standby, and a server without shared_preload_libraries.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Encode;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $pki = pki();
my $node = tls_node('inventory', init => { allows_streaming => 1 });
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
$node->safe_psql('postgres', 'GRANT pg_read_all_stats TO regress_app');
my $ssl_line = hba_line_of($node, qr/^hostssl\s+all\s+all/);
my $cert_line = hba_line_of($node, qr/regress_cert_user/);

sub sql_value { return $node->safe_psql('postgres', $_[0]); }

# ---- exact counts under a parallel load: N clients x M TLS connections
$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
my ($N, $M) = (4, 25);
my @users = qw(regress_alice regress_bob regress_app regress_plain_user);
my @h;
for my $u (@users)
{
	my $mode = $u eq 'regress_plain_user' ? 'disable' : 'require';
	my $conn = 'host=127.0.0.1 port=' . $node->port . " dbname=postgres user=$u sslmode=$mode "
	  . "sslrootcert=$pki/root.crt sslcert=$pki/no-such.crt sslkey=$pki/no-such.key";
	my $script = "for i in \$(seq $M); do PGPASSWORD=regress_pw psql -X -w -q -d '$conn' -c 'select 1' >/dev/null || exit 1; done";
	push @h, IPC::Run::start([ 'bash', '-c', $script ]);
}
my $all_ok = 1;
for my $h (@h) { $h->finish or $all_ok = 0; }
ok($all_ok, "parallel load: $N clients x $M connections all succeeded");
is(sql_value("SELECT sum(connections) FROM pgtls_audit.clients WHERE user_name LIKE 'regress_%' AND outcome = 'success'"),
	$N * $M, 'clients: exactly N*M successful connections counted');
for my $u (@users)
{
	is(sql_value("SELECT connections FROM pgtls_audit.clients WHERE user_name = '$u'"),
		$M, "clients: $u counted exactly $M times");
}
is(sql_value("SELECT protocol FROM pgtls_audit.clients WHERE user_name = 'regress_alice'"),
	'TLSv1.3', 'clients: protocol');
is(sql_value("SELECT ssl::text || coalesce(protocol, 'null') FROM pgtls_audit.clients WHERE user_name = 'regress_plain_user'"),
	'falsenull', 'clients: the plaintext client is visible as such');
is(sql_value("SELECT attempts FROM pgtls_audit.hba_usage WHERE hba_line = $ssl_line"),
	3 * $M, 'hba_usage: attempts on the hostssl line');
is(sql_value("SELECT count(*) FROM pgtls_audit.connections WHERE user_name LIKE 'regress_%'"),
	$N * $M, 'connections: every attempt in the ring');
is(sql_value('SELECT records_dropped FROM pgtls_audit.stats'), 0, 'stats: nothing dropped');

# ---- failures are in the inventory too
attempt($node, user => 'regress_alice', password => 'wrong');
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pgtls_audit.connections WHERE user_name = 'regress_alice' AND outcome = 'failed'")
  or die 'failure not recorded';
is(sql_value("SELECT event || '|' || reason || '|' || sqlstate FROM pgtls_audit.connections WHERE user_name = 'regress_alice' AND outcome = 'failed'"),
	'auth|password authentication failed for user "regress_alice"|28P01', 'connections: failed attempt with reason');
is(sql_value("SELECT failures FROM pgtls_audit.hba_usage WHERE hba_line = $ssl_line"), 1, 'hba_usage: the failure');
attempt($node, user => 'regress_cert_user', cert => 'client_untrusted');
$node->poll_query_until('postgres',
	"SELECT count(*) = 1 FROM pgtls_audit.connections WHERE event = 'handshake'") or die 'handshake failure not recorded';
is(sql_value("SELECT outcome || '|' || client_serial FROM pgtls_audit.connections WHERE event = 'handshake'"),
	'failed|' . (slurp_text("$pki/client_untrusted.serial") =~ s/\s+$//r),
	'connections: handshake failure with the refused certificate');

# ---- client certificates
my $res = attempt($node, user => 'regress_cert_user', cert => 'client_regress_cert_user');
is($res->{rc}, 0, 'cert login');
$res = attempt($node, user => 'regress_alice', password => 'regress_pw', cert => 'client_expiring');
is($res->{rc}, 0, 'password login presenting a soon-expiring certificate');
my $serial = slurp_text("$pki/client_regress_cert_user.serial") =~ s/\s+$//r;
is(sql_value("SELECT roles::text || '|' || connections || '|' || (not_after > now()) FROM pgtls_audit.client_certificates WHERE serial = '$serial'"),
	'{regress_cert_user}|1|true', 'client_certificates: roles, count');
my $enddate = `openssl x509 -in $pki/client_regress_cert_user.crt -noout -enddate`;
$enddate =~ s/^notAfter=//;
chomp $enddate;
is(sql_value("SELECT not_after = '$enddate'::timestamptz FROM pgtls_audit.client_certificates WHERE serial = '$serial'"),
	't', 'client_certificates: not_after equals the certificate');
is(sql_value("SELECT string_agg(subject_dn, ',') FROM pgtls_audit.client_certificates WHERE days_left < 30"),
	'CN=regress_alice,OU=clients,O=pgtls_audit tests', 'client_certificates: the one expiring within 30 days')
  or diag sql_value('SELECT * FROM pgtls_audit.client_certificates');

# ---- a DN longer than the inventory's 511-byte field: cut, marked, counted;
# the log record keeps it whole
{
	my $dir = PostgreSQL::Test::Utils::tempdir();
	# X.520 caps OU at 64 characters: use nine of 60
	my @ous = map { chr(ord('A') + $_) x 60 } 0 .. 8;
	my $subj = '/CN=regress_alice' . join('', map { "/OU=$_" } @ous);
	system("openssl req -new -newkey rsa:2048 -nodes -keyout $dir/huge.key -out $dir/huge.csr "
		  . "-subj '$subj' 2>/dev/null") == 0 or die 'csr';
	system("openssl x509 -req -in $dir/huge.csr -CA $pki/intermediate_ca.crt -CAkey $pki/intermediate_ca.key "
		  . "-set_serial 4242 -days 30 -out $dir/huge.crt 2>/dev/null") == 0 or die 'sign';
	chmod 0600, "$dir/huge.key";
	my $trunc_before = sql_value('SELECT values_truncated FROM pgtls_audit.stats');
	my $off = log_offset($node);
	my $conn = 'host=127.0.0.1 port=' . $node->port . ' dbname=postgres user=regress_alice sslmode=require '
	  . "sslrootcert=$pki/root.crt sslcert=$dir/huge.crt sslkey=$dir/huge.key";
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-w', '-d', $conn, '-c', 'select 1' ], '<', \undef, '>', \$o, '2>', \$e,
		init => sub { $ENV{PGPASSWORD} = 'regress_pw' });
	my @recs = wait_records($node, $off, 1);
	my ($rec) = grep { ($_->{client_serial} // '') eq '4242' } @recs;
	# RFC 2253 prints the last RDN first
	is($rec->{client_dn}, join(',', map { "OU=$_" } reverse @ous) . ',CN=regress_alice',
		'log record: huge DN complete');
	my $dn = sql_value("SELECT subject_dn FROM pgtls_audit.client_certificates WHERE serial = '4242'");
	is(length($dn), 511, 'inventory: huge DN cut to 511 bytes');
	like($dn, qr/\.\.\.$/, 'inventory: cut DN ends with the marker');
	# one value cut: the DN in the attempt (the certificate's subject_dn
	# is copied from it, already cut, and not counted twice)
	is(sql_value('SELECT values_truncated FROM pgtls_audit.stats') - $trunc_before, 1,
		'stats: exactly one truncation counted');
}

# ---- privileges: pg_stat_statements style
my ($ret, $out, $err) = $node->psql('postgres', 'SET ROLE regress_alice; SELECT DISTINCT user_name FROM pgtls_audit.connections');
is($out, 'regress_alice', 'unprivileged role sees only its own connections');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE regress_alice; SELECT DISTINCT user_name FROM pgtls_audit.clients');
is($out, 'regress_alice', 'unprivileged role sees only its own clients');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE regress_bob; SELECT count(*) FROM pgtls_audit.client_certificates');
is($out, '0', 'unprivileged role sees no certificate it did not use');
my $expiring_serial = slurp_text("$pki/client_expiring.serial") =~ s/\s+$//r;
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE regress_alice; SELECT string_agg(serial || ':' || roles::text, ',' ORDER BY serial) FROM pgtls_audit.client_certificates");
is($out, join(',', sort("$expiring_serial:{regress_alice}", '4242:{regress_alice}')),
	'unprivileged role sees exactly the certificates it presented');
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE regress_cert_user; SELECT string_agg(serial || ':' || roles::text || ':' || connections, ',') FROM pgtls_audit.client_certificates");
is($out, "$serial:{regress_cert_user}:1", 'certificate user sees exactly its own certificate');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE regress_alice; SELECT * FROM pgtls_audit.hba_usage');
like($err, qr/permission denied/, 'hba_usage needs pg_read_all_stats');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE regress_alice; SELECT pgtls_audit.reset()');
like($err, qr/permission denied for function reset/, 'reset is superuser only');
my $admin = sql_value('SELECT current_user');
($ret, $out, $err) = $node->psql('postgres',
	"SET ROLE regress_app; SELECT string_agg(DISTINCT user_name, ',' ORDER BY user_name) FROM pgtls_audit.connections");
is($out, join(',', sort($admin, qw(regress_alice regress_app regress_bob regress_cert_user regress_plain_user))),
	'pg_read_all_stats member sees everyone');
$node->safe_psql('postgres', 'GRANT EXECUTE ON FUNCTION pgtls_audit.reset() TO regress_bob');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE regress_bob; SELECT pgtls_audit.reset()');
is($ret, 0, 'reset can be granted');

is(sql_value("SELECT records_total || '|' || clients_entries || '|' || history_entries FROM pgtls_audit.stats"),
	'1|1|1', 'after the granted reset: only the next query\'s own connection');

# ---- names from the wire in UTF8, LATIN1 and SQL_ASCII databases: valid
# text in each.  A role named with an e-acute (UTF-8 C3 A9) and one named
# with the literal ASCII text "\xc3\xa9", which must not look the same.
my $eacute = "regress_\xc3\xa9";    # bytes
my $lookalike = 'regress_\\xc3\\xa9';    # ASCII: regress_\xc3\xa9
for my $enc ('UTF8', 'LATIN1', 'SQL_ASCII')
{
	$node->safe_psql('postgres',
		"CREATE DATABASE regress_enc_\L$enc\E ENCODING '$enc' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0");
	$node->safe_psql("regress_enc_\L$enc", 'CREATE EXTENSION pgtls_audit');
}
$node->safe_psql('regress_enc_utf8', qq{CREATE ROLE "$eacute" LOGIN PASSWORD 'regress_pw'});
$node->safe_psql('regress_enc_utf8', qq{CREATE DATABASE "$eacute"});
$node->safe_psql('regress_enc_utf8', qq{CREATE ROLE "$lookalike" LOGIN PASSWORD 'regress_pw'});
is($node->safe_psql('regress_enc_utf8', "SELECT count(*) FROM pg_roles WHERE rolname IN ('$eacute', '$lookalike')"),
	'2', 'encoding: two distinct roles');
$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
my $r1 = attempt($node, user => $eacute, dbname => $eacute, password => 'regress_pw');
is($r1->{rc}, 0, 'encoding: TLS login of the non-ASCII role') or diag $r1->{stderr};
my $r2 = attempt($node, user => $lookalike, password => 'regress_pw');
is($r2->{rc}, 0, 'encoding: TLS login of the backslash role') or diag $r2->{stderr};
my %shown = (
	regress_enc_utf8 => [ $eacute, $lookalike ],
	regress_enc_sql_ascii => [ $eacute, $lookalike ],
	regress_enc_latin1 => [ 'regress_\\xc3\\xa9', 'regress_\\\\xc3\\\\xa9' ]);
for my $db (sort keys %shown)
{
	my ($e, $l) = @{ $shown{$db} };
	is($node->safe_psql($db,
			"SELECT user_name || '|' || database_name FROM pgtls_audit.connections WHERE pid = $r1->{stdout}"),
		"$e|$e", "encoding: $db: connections shows the non-ASCII user and database");
	is($node->safe_psql($db,
			"SELECT user_name || '|' || database_name FROM pgtls_audit.connections WHERE pid = $r2->{stdout}"),
		"$l|postgres", "encoding: $db: connections shows the backslash user");
	is($node->safe_psql($db,
			"SELECT string_agg(user_name || '|' || database_name || '|' || connections, ',' ORDER BY user_name COLLATE \"C\") "
			  . "FROM pgtls_audit.clients WHERE client_addr = '127.0.0.1'"),
		join(',', sort("$e|$e|1", "$l|postgres|1")), "encoding: $db: clients");
	is($node->safe_psql($db, "SELECT pg_catalog.pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()"),
		$db =~ s/regress_enc_//r =~ tr/a-z/A-Z/r, "encoding: $db has the encoding under test");
}
$node->safe_psql('regress_enc_utf8', qq{DROP DATABASE "$eacute"});

# ---- reset() under concurrent connections: every view and counter agree
# afterwards, and nothing from before the reset is left
attempt($node, user => 'regress_bob', password => 'regress_pw') for 1 .. 5;
is(sql_value("SELECT count(*) FROM pgtls_audit.connections WHERE user_name = 'regress_bob'"), 5,
	'concurrent reset: five attempts of regress_bob before it');
my $M2 = 40;
my @loop_users = qw(regress_alice regress_app regress_plain_user);
@h = ();
for my $u (@loop_users)
{
	my $mode = $u eq 'regress_plain_user' ? 'disable' : 'require';
	my $conn = 'host=127.0.0.1 port=' . $node->port . " dbname=postgres user=$u sslmode=$mode "
	  . "sslrootcert=$pki/root.crt sslcert=$pki/no-such.crt sslkey=$pki/no-such.key";
	my $script = "for i in \$(seq $M2); do PGPASSWORD=regress_pw psql -X -w -q -d '$conn' -c 'select 1' >/dev/null || exit 1; done";
	push @h, IPC::Run::start([ 'bash', '-c', $script ]);
}
# three resets while the load runs, each after a few attempts
for (1 .. 3)
{
	$node->poll_query_until('postgres',
		"SELECT count(*) >= 6 FROM pgtls_audit.connections WHERE user_name IN ('regress_alice', 'regress_app', 'regress_plain_user')")
	  or die 'load did not go on';
	$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
}
$all_ok = 1;
for my $h (@h) { $h->finish or $all_ok = 0; }
ok($all_ok, 'concurrent reset: every connection of the load succeeded');
my ($total, $ring, $in_clients, $in_hba, $overwritten) = split /\|/, sql_value(
	"SELECT (SELECT records_total FROM pgtls_audit.stats) || '|' || "
	  . "(SELECT count(*) FROM pgtls_audit.connections) || '|' || "
	  . "(SELECT sum(connections) FROM pgtls_audit.clients) || '|' || "
	  . "(SELECT sum(attempts) FROM pgtls_audit.hba_usage) || '|' || "
	  . "(SELECT history_overwritten FROM pgtls_audit.stats)");
is($ring, $total, 'concurrent reset: the ring holds exactly records_total attempts');
is($in_clients, $total, 'concurrent reset: clients count exactly records_total attempts');
is($in_hba, $total, 'concurrent reset: hba_usage counts exactly records_total attempts');
is($overwritten, 0, 'concurrent reset: nothing overwritten');
for my $u (@loop_users)
{
	my ($in_ring, $in_cl) = split /\|/, sql_value(
		"SELECT (SELECT count(*) FROM pgtls_audit.connections WHERE user_name = '$u') || '|' || "
		  . "(SELECT coalesce(sum(connections), 0) FROM pgtls_audit.clients WHERE user_name = '$u')");
	is($in_cl, $in_ring, "concurrent reset: $u counted the same in connections and clients");
}
my $load_after = sql_value("SELECT count(*) FROM pgtls_audit.connections WHERE user_name IN ('regress_alice', 'regress_app', 'regress_plain_user')");
ok($load_after > 0 && $load_after < 3 * $M2, "concurrent reset: the last reset fell inside the load ($load_after of " . 3 * $M2 . ' after it)');
is(sql_value("SELECT (SELECT count(*) FROM pgtls_audit.connections WHERE user_name = 'regress_bob') || '|' || "
		. "(SELECT count(*) FROM pgtls_audit.clients WHERE user_name = 'regress_bob')"),
	'0|0', 'concurrent reset: nothing of regress_bob (before the reset) is left');

# ---- the client DN in the record: the server's own print of it (peer_dn)
# is used when it escaped no byte above 0x7f, else the certificate is
# printed again with UTF-8 kept; either way the record equals OpenSSL's
# RFC 2253 form with UTF-8 kept.  ASCII DNs with every character RFC 2253
# escapes (a leading '#' and space, a trailing space, a lone '#', which is
# not escaped), a multi-valued RDN, IA5 values, and UTF-8 ones.
{
	my $dir = PostgreSQL::Test::Utils::tempdir();
	my @subjects = (
		[ 'specials', [ '-subj', '/CN=regress_cert_user/O=Comma\, Plus\+ Quote" Back\\\\slash <Lt> Gt; Semi=eq'
			  . '/OU=#hash lead/OU= space lead/L=trail space /ST=#/DC=example/emailAddress=dn@example.com' ] ],
		[ 'multi-valued', [ '-multivalue-rdn', '-subj', '/CN=regress_cert_user+UID=42/O=multi' ] ],
		[ 'utf8', [ '-subj', "/CN=regress_cert_user/O=Z\xc3\xbcrich \xe2\x82\xac/OU=plain" ] ],
		[ 'utf8 and specials', [ '-subj', "/CN=regress_cert_user/O=\xc3\x89, \"quoted\"/OU=#x" ] ]);
	my $n = 0;
	for my $s (@subjects)
	{
		my ($label, $args) = @$s;
		$n++;
		system('openssl', 'req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-utf8',
			'-keyout', "$dir/dn$n.key", '-out', "$dir/dn$n.csr", @$args) == 0 or die "csr $label";
		system('openssl', 'x509', '-req', '-in', "$dir/dn$n.csr", '-CA', "$pki/intermediate_ca.crt",
			'-CAkey', "$pki/intermediate_ca.key", '-set_serial', 5000 + $n, '-days', '30',
			'-out', "$dir/dn$n.crt") == 0 or die "sign $label";
		chmod 0600, "$dir/dn$n.key";
		my $expected = `openssl x509 -in $dir/dn$n.crt -noout -subject -nameopt RFC2253,-esc_msb`;
		$expected =~ s/^subject=//;
		chomp $expected;
		my $off = log_offset($node);
		my $conn = 'host=127.0.0.1 port=' . $node->port . ' dbname=postgres user=regress_cert_user sslmode=require '
		  . "sslrootcert=$pki/root.crt sslcert=$dir/dn$n.crt sslkey=$dir/dn$n.key";
		my ($o, $e) = ('', '');
		IPC::Run::run([ 'psql', '-X', '-w', '-At', '-d', $conn, '-c', 'select 1' ], '<', \undef, '>', \$o, '2>', \$e);
		is($o, "1\n", "client DN $label: cert login succeeds") or diag $e;
		my @recs = wait_records($node, $off, 1);
		my ($rec) = grep { ($_->{client_serial} // '') eq 5000 + $n } @recs;
		is($rec->{client_dn}, Encode::decode('UTF-8', $expected), "client DN $label: the record's equals OpenSSL's");
		# the identity of cert authentication is the server's peer_dn, bytes
		# above 0x7f escaped
		my $escaped = `openssl x509 -in $dir/dn$n.crt -noout -subject -nameopt RFC2253`;
		$escaped =~ s/^subject=//;
		chomp $escaped;
		is($rec->{identity}, $escaped, "client DN $label: the identity is the server's peer_dn");
	}
}

# ---- persistence across a clean restart
$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
attempt($node, user => 'regress_cert_user', cert => 'client_regress_cert_user') for 1 .. 3;
my $before_clients = sql_value("SELECT connections FROM pgtls_audit.clients WHERE user_name = 'regress_cert_user'");
my $before_hba = sql_value("SELECT attempts || '|' || successes || '|' || failures FROM pgtls_audit.hba_usage WHERE hba_line = $cert_line");
my $before_cert = sql_value("SELECT connections || '|' || roles::text FROM pgtls_audit.client_certificates WHERE serial = '$serial'");
is($before_clients, 3, 'three cert logins before restart');
is($before_hba, '3|3|0', 'hba_usage: the three cert logins on the cert line');
is($before_cert, '3|{regress_cert_user}', 'client_certificates: the three cert logins');
my $stats_cols = 'records_total, clients_entries, certificates_entries, hba_entries, records_dropped, values_truncated, stats_reset';
my $before_stats = sql_value("SELECT $stats_cols FROM pgtls_audit.stats");
my $statefile = $node->data_dir . '/pg_stat/pgtls_audit.stat';
$node->stop;
ok(-s $statefile, 'state file written (non-empty) at a clean stop');
$node->start;
is(sql_value("SELECT count(*) || '|' || count(*) FILTER (WHERE pid = pg_backend_pid()) FROM pgtls_audit.connections"),
	'1|1', 'the connections ring is not saved: only this query\'s own attempt');
my ($bt, @brest) = split /\|/, $before_stats;
is(sql_value("SELECT $stats_cols FROM pgtls_audit.stats"), join('|', $bt + 2, @brest),
	'stats survive a restart (records_total + the two queries since)');
is(sql_value("SELECT connections FROM pgtls_audit.clients WHERE user_name = 'regress_cert_user'"),
	3, 'clients survive a restart');
is(sql_value("SELECT attempts || '|' || successes || '|' || failures FROM pgtls_audit.hba_usage WHERE hba_line = $cert_line"),
	'3|3|0', 'hba_usage survives a restart');
is(sql_value("SELECT connections || '|' || roles::text FROM pgtls_audit.client_certificates WHERE serial = '$serial'"),
	'3|{regress_cert_user}', 'client_certificates survive a restart');
ok(!-f $statefile, 'state file removed once loaded');

# ---- damaged state files: WARNING and an empty start
my $expect_rows = 3;
for my $damage ('corrupt', 'truncated', 'no_crc', 'trailing')
{
	attempt($node, user => 'regress_cert_user', cert => 'client_regress_cert_user');
	$expect_rows++;
	is(sql_value("SELECT count(*) || '|' || sum(connections) FROM pgtls_audit.clients WHERE user_name = 'regress_cert_user'"),
		"1|$expect_rows", "$damage: the row is there before the stop");
	$node->stop;
	ok(-s $statefile, "$damage: state file written at shutdown");
	my $data = slurp_text($statefile);
	if ($damage eq 'corrupt')
	{
		substr($data, int(length($data) / 2), 8) = 'XXXXXXXX';
	}
	elsif ($damage eq 'truncated')
	{
		$data = substr($data, 0, int(length($data) / 3));
	}
	elsif ($damage eq 'no_crc')
	{
		$data = substr($data, 0, length($data) - 4);
	}
	else
	{
		$data .= "\0";
	}
	open my $fh, '>:raw', $statefile or die;
	print $fh $data;
	close $fh;
	my $off = log_offset($node);
	$node->start;
	my $log = substr(slurp_text($node->logfile), $off);
	like($log, qr/WARNING:  pgtls_audit inventory file "pg_stat\/pgtls_audit.stat" is corrupt or from another version/,
		"$damage: WARNING at start");
	is(sql_value("SELECT records_total || '|' || clients_entries || '|' || certificates_entries || '|' || hba_entries FROM pgtls_audit.stats"),
		'1|1|0|1', "$damage: empty start (only this query), server up");
	ok(!-f $statefile, "$damage: damaged file removed");
	$expect_rows = 0;
}

# ---- pgtls_audit.save = off: nothing saved, an empty start
attempt($node, user => 'regress_cert_user', cert => 'client_regress_cert_user');
is(sql_value("SELECT connections FROM pgtls_audit.clients WHERE user_name = 'regress_cert_user'"), 1,
	'save = off: the row is there before the stop');
$node->safe_psql('postgres', 'ALTER SYSTEM SET pgtls_audit.save = off');
$node->reload;
$node->poll_query_until('postgres', "SELECT current_setting('pgtls_audit.save') = 'off'")
  or die 'save = off not applied';
$node->stop;
ok(!-e $statefile, 'save = off: no state file after a clean stop');
$node->start;
is(sql_value("SELECT records_total || '|' || clients_entries || '|' || certificates_entries || '|' || hba_entries FROM pgtls_audit.stats"),
	'1|1|0|1', 'save = off: the inventory starts empty (only this query)');
is(sql_value("SELECT count(*) FROM pgtls_audit.clients WHERE user_name = 'regress_cert_user'"), 0,
	'save = off: the row is gone');
$node->safe_psql('postgres', 'ALTER SYSTEM RESET pgtls_audit.save');
$node->reload;

# ---- streaming standby: the inventory works read-only
$node->backup('inv_backup');
my $standby = PostgreSQL::Test::Cluster->new('inventory_standby');
$standby->init_from_backup($node, 'inv_backup', has_streaming => 1);
$standby->start;
$node->wait_for_catchup($standby);
$res = attempt($standby, user => 'regress_bob', password => 'regress_pw');
is($res->{rc}, 0, 'standby: TLS login');
is($standby->safe_psql('postgres', 'SELECT pg_is_in_recovery()'), 't', 'standby is in recovery');
is($standby->safe_psql('postgres',
		"SELECT protocol || '|' || outcome FROM pgtls_audit.connections WHERE user_name = 'regress_bob'"),
	'TLSv1.3|success', 'standby: connections view');
is($standby->safe_psql('postgres', "SELECT connections FROM pgtls_audit.clients WHERE user_name = 'regress_bob'"),
	1, 'standby: clients view');
$standby->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
is($standby->safe_psql('postgres', "SELECT count(*) FROM pgtls_audit.clients WHERE user_name = 'regress_bob'"),
	0, 'standby: reset');
$standby->stop;
$node->stop;

# ---- eviction order and counters with a tiny max_clients and history
my $small = tls_node('inventory_small',
	extra_conf => "pgtls_audit.max_clients = 10\npgtls_audit.history_size = 10\npgtls_audit.max_certificates = 10\n");
$small->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
$small->safe_psql('postgres', "CREATE DATABASE regress_db$_") for 1 .. 15;
$small->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
my @order = (1 .. 10, 1, 11 .. 15);
for my $d (@order)
{
	my $r = attempt($small, user => 'regress_alice', password => 'regress_pw', dbname => "regress_db$d");
	die "connect regress_db$d: $r->{stderr}" if $r->{rc};
}
# the next query's own connection is the 16th distinct client
my $stats = $small->safe_psql('postgres',
	'SELECT clients_entries, clients_evicted, history_entries, history_overwritten, records_total FROM pgtls_audit.stats');
is($stats, '10|6|10|7|17', 'tiny tables: entries, evictions, ring overwrite counted');
is($small->safe_psql('postgres',
		"SELECT string_agg(database_name, ',' ORDER BY database_name) FROM pgtls_audit.clients WHERE user_name = 'regress_alice'"),
	join(',', sort map { "regress_db$_" } (1, 8 .. 15)),
	'least recently seen clients were evicted (db1 was touched again and kept)');

# A login of regress_alice (password) presenting a certificate made here.
sub cert_login
{
	my ($n, $crt, $key, $dbname) = @_;
	my $conn = 'host=127.0.0.1 port=' . $n->port . ' dbname=' . ($dbname // 'postgres')
	  . " user=regress_alice sslmode=require sslrootcert=$pki/root.crt sslcert=$crt sslkey=$key";
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-w', '-d', $conn, '-c', 'select 1' ], '<', \undef, '>', \$o, '2>', \$e,
		init => sub { $ENV{PGPASSWORD} = 'regress_pw' });
	die "certificate login with $crt: $e" if $?;
}

# ---- a full certificates table (max_certificates = 10): 11 certificates,
# serials 5001 .. 5011, each presented once
my $certdir = PostgreSQL::Test::Utils::tempdir();
for my $i (1 .. 12)
{
	my $sn = 5000 + $i;
	system("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		  . "-keyout $certdir/c$sn.key -out $certdir/c$sn.csr -subj '/CN=regress_alice/OU=fill $sn' 2>/dev/null") == 0
	  or die 'csr';
	system("openssl x509 -req -in $certdir/c$sn.csr -CA $pki/intermediate_ca.crt -CAkey $pki/intermediate_ca.key "
		  . "-set_serial $sn -days 30 -out $certdir/c$sn.crt 2>/dev/null") == 0 or die 'sign';
	chmod 0600, "$certdir/c$sn.key";
}
sub small_cert { my $sn = shift; cert_login($small, "$certdir/c$sn.crt", "$certdir/c$sn.key", @_); }
small_cert($_) for 5001 .. 5011;
is($small->safe_psql('postgres',
		'SELECT certificates_entries, certificates_evicted, clients_entries, history_entries FROM pgtls_audit.stats'),
	'10|1|10|10', 'tiny tables: certificates, clients and history all full');
my $small_certs = "SELECT string_agg(serial, ',' ORDER BY serial) FROM pgtls_audit.client_certificates";
is($small->safe_psql('postgres', $small_certs), join(',', 5002 .. 5011),
	'tiny tables: the first certificate was evicted');

# ---- the recency order survives a restart: the next new certificate
# evicts the least recently seen one from before the restart
$small->restart;
is($small->safe_psql('postgres', $small_certs), join(',', 5002 .. 5011),
	'tiny tables: the certificates survive a restart');
small_cert(5012);
is($small->safe_psql('postgres', $small_certs), join(',', 5003 .. 5012),
	'tiny tables: after the restart the oldest certificate is evicted first');
is($small->safe_psql('postgres', 'SELECT certificates_evicted FROM pgtls_audit.stats'), 2,
	'tiny tables: evictions saved and counted on');

# ---- reset() of full tables: everything empty and zero at once ...
my $small_stats = 'SELECT records_total, history_entries, history_overwritten, clients_entries, clients_evicted, '
  . 'certificates_entries, certificates_evicted, hba_entries, hba_evicted, records_dropped, values_truncated FROM pgtls_audit.stats';
my $small_counts = 'SELECT (SELECT count(*) FROM pgtls_audit.connections), (SELECT count(*) FROM pgtls_audit.clients), '
  . '(SELECT count(*) FROM pgtls_audit.client_certificates), (SELECT count(*) FROM pgtls_audit.hba_usage)';
is($small->safe_psql('postgres', "SELECT pgtls_audit.reset(); $small_stats; $small_counts"),
	"\n0|0|0|0|0|0|0|0|0|0|0\n0|0|0|0", 'reset of full tables: views empty, counters zero');

# ... and new attempts count from zero, exactly, in the reused slots:
# two certificates, regress_db1 twice, regress_db2, regress_db3, then the
# query's own connection: 7 attempts, 6 clients, 2 hba lines
small_cert(5003);
small_cert(5004);
for my $d (1, 1, 2, 3)
{
	my $r = attempt($small, user => 'regress_alice', password => 'regress_pw', dbname => "regress_db$d");
	die "connect regress_db$d: $r->{stderr}" if $r->{rc};
}
is($small->safe_psql('postgres', $small_stats), '7|7|0|6|0|2|0|2|0|0|0',
	'after the reset: counts from zero exactly');
is($small->safe_psql('postgres',
		"SELECT string_agg(database_name || ':' || connections, ',' ORDER BY database_name) FROM pgtls_audit.clients "
		  . "WHERE user_name = 'regress_alice' AND client_serial IS NULL"),
	'regress_db1:2,regress_db2:1,regress_db3:1', 'after the reset: clients found again in reclaimed buckets');
is($small->safe_psql('postgres',
		"SELECT string_agg(serial || ':' || connections || ':' || roles::text, ',' ORDER BY serial) FROM pgtls_audit.client_certificates"),
	'5003:1:{regress_alice},5004:1:{regress_alice}', 'after the reset: exactly the new certificates');
# 7 attempts, the two queries above and this one: the ring (10) is full
is($small->safe_psql('postgres', 'SELECT count(*) FROM pgtls_audit.connections'), 10,
	'after the reset: the ring holds exactly the attempts since (this query included)');

# ... and the tables fill and evict again: 12 more databases
for my $d (4 .. 15)
{
	my $r = attempt($small, user => 'regress_alice', password => 'regress_pw', dbname => "regress_db$d");
	die "connect regress_db$d: $r->{stderr}" if $r->{rc};
}
# attempts since the reset: 10 above, 12 databases, this query = 23.
# Clients: 2 certificate clients, db1..db3, the admin's, then db4..db15:
# db8..db15 evict the 8 oldest (the admin's by db13), and this query's
# admin client comes back evicting db6: 9 evictions
is($small->safe_psql('postgres', $small_stats), '23|10|13|10|9|2|0|2|0|0|0',
	'after the reset: tables fill and evict again, counted from zero');
$small->stop;

# ---- a large save file, streamed both ways: max_clients = 50000 and 400
# distinct real clients (400 roles, one login each over the Unix socket)
my $large = tls_node('inventory_large', extra_conf => "pgtls_audit.max_clients = 50000\n");
$large->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
my $nlarge = 400;
$large->safe_psql('postgres',
	"DO \$\$BEGIN FOR i IN 1..$nlarge LOOP EXECUTE format('CREATE ROLE regress_inv_%s LOGIN', i); END LOOP; END\$\$");
{
	my $script = 'seq ' . $nlarge . ' | xargs -P 8 -I{} psql -X -q -h ' . $large->host . ' -p ' . $large->port
	  . q{ -U regress_inv_{} -d postgres -c 'select 1'};
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'bash', '-c', $script ], '<', \undef, '>', \$o, '2>', \$e);
	is($?, 0, "large: $nlarge logins of distinct roles") or diag $e;
}
my $large_dump = "SELECT string_agg(concat_ws('|', user_name, database_name, client_addr, ssl, protocol, cipher, "
  . "issuer_dn, client_serial, hba_file, hba_line, auth_method, outcome, connections, first_seen, last_seen), "
  . "E'\\n' ORDER BY user_name) FROM pgtls_audit.clients WHERE user_name LIKE 'regress_inv_%'";
my $large_before = $large->safe_psql('postgres', $large_dump);
my @large_rows = split /\n/, $large_before;
is(scalar(@large_rows), $nlarge, "large: $nlarge clients before the stop");
my $large_stats = 'SELECT clients_entries, clients_evicted, hba_entries, records_dropped, stats_reset FROM pgtls_audit.stats';
my $large_stats_before = $large->safe_psql('postgres', $large_stats);
like($large_stats_before, qr/^${\($nlarge + 1)}\|0\|1\|0\|/, 'large: every client and the admin\'s in the table');
my $large_file = $large->data_dir . '/pg_stat/pgtls_audit.stat';
$large->stop;
# a client entry is over a kilobyte: the file holds them all
cmp_ok(-s $large_file, '>', $nlarge * 1024, 'large: the state file holds every entry');
$large->start;
is($large->safe_psql('postgres', $large_dump), $large_before, 'large: every client back, field for field');
is($large->safe_psql('postgres', $large_stats), $large_stats_before, 'large: counters back');
ok(!-f $large_file, 'large: state file removed once loaded');

# a damaged byte in the last entry: found by the CRC only after every entry
# has been read and inserted, so all of them must be discarded again
$large->stop;
{
	my $data = slurp_text($large_file);
	substr($data, length($data) - 4 - 16, 1) ^= "\x01";
	open my $fh, '>:raw', $large_file or die;
	print $fh $data;
	close $fh;
}
my $large_off = log_offset($large);
$large->start;
like(substr(slurp_text($large->logfile), $large_off),
	qr/WARNING:  pgtls_audit inventory file "pg_stat\/pgtls_audit.stat" is corrupt or from another version/,
	'large: a bad CRC at the end gives the WARNING');
is($large->safe_psql('postgres', 'SELECT records_total || \'|\' || clients_entries || \'|\' || clients_evicted FROM pgtls_audit.stats'),
	'1|1|0', 'large: everything loaded before the bad CRC was discarded');
$large->stop;

# ---- not preloaded: clear error, the rest still works
my $plain = tls_node('not_preloaded', extra_conf => "shared_preload_libraries = ''\n");
($ret, $out, $err) = $plain->psql('postgres', 'CREATE EXTENSION pgtls_audit');
is($ret, 0, 'not preloaded: CREATE EXTENSION works');
like($err, qr/WARNING:  pgtls_audit is not loaded via shared_preload_libraries, so connection auditing is inactive/,
	'not preloaded: CREATE EXTENSION says auditing is inactive');
($ret, $out, $err) = $plain->psql('postgres', 'SELECT * FROM pgtls_audit.connections',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/ERROR:  55000: pgtls_audit must be loaded via shared_preload_libraries/,
	'not preloaded: views raise 55000');
like($err, qr/HINT:  Add pgtls_audit to shared_preload_libraries/, 'not preloaded: with a hint');
is($plain->safe_psql('postgres', 'SELECT preloaded FROM pgtls_audit.status()'), 'f',
	'not preloaded: status() says so');
$plain->stop;

done_testing();
