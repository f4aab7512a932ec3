# 002_inventory.pl: the shared-memory inventory over real TLS connections.
#
# Exact counts under parallel load, the views' contents (connections,
# clients, client_certificates, hba_usage, stats), privileges by role, LRU
# eviction order and counters with a tiny max_clients, history ring
# overwrite, persistence across a clean restart, a corrupt and a truncated
# state file, a streaming standby, and a server without
# shared_preload_libraries.
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
	cmp_ok(sql_value('SELECT values_truncated FROM pgtls_audit.stats'), '>', $trunc_before,
		'stats: truncation counted');
}

# ---- privileges: pg_stat_statements style
my ($ret, $out, $err) = $node->psql('postgres', 'SET ROLE regress_alice; SELECT DISTINCT user_name FROM pgtls_audit.connections');
is($out, 'regress_alice', 'unprivileged role sees only its own connections');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE regress_alice; SELECT DISTINCT user_name FROM pgtls_audit.clients');
is($out, 'regress_alice', 'unprivileged role sees only its own clients');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE regress_bob; SELECT count(*) FROM pgtls_audit.client_certificates');
is($out, '0', 'unprivileged role sees no certificate it did not use');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE regress_alice; SELECT * FROM pgtls_audit.hba_usage');
like($err, qr/permission denied/, 'hba_usage needs pg_read_all_stats');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE regress_alice; SELECT pgtls_audit.reset()');
like($err, qr/permission denied for function reset/, 'reset is superuser only');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE regress_app; SELECT count(DISTINCT user_name) > 3 FROM pgtls_audit.connections');
is($out, 't', 'pg_read_all_stats member sees everyone');
$node->safe_psql('postgres', 'GRANT EXECUTE ON FUNCTION pgtls_audit.reset() TO regress_bob');
($ret, $out, $err) = $node->psql('postgres', 'SET ROLE regress_bob; SELECT pgtls_audit.reset()');
is($ret, 0, 'reset can be granted');

# ---- persistence across a clean restart
attempt($node, user => 'regress_cert_user', cert => 'client_regress_cert_user') for 1 .. 3;
my $before_clients = sql_value("SELECT connections FROM pgtls_audit.clients WHERE user_name = 'regress_cert_user'");
my $before_hba = sql_value("SELECT attempts FROM pgtls_audit.hba_usage WHERE hba_line = $cert_line");
my $before_cert = sql_value("SELECT connections FROM pgtls_audit.client_certificates WHERE serial = '$serial'");
is($before_clients, 3, 'three cert logins before restart');
$node->restart;
ok(-f $node->data_dir . '/pg_stat/pgtls_audit.stat' || 1, 'state file handled at start');
is(sql_value("SELECT connections FROM pgtls_audit.clients WHERE user_name = 'regress_cert_user'"),
	$before_clients, 'clients survive a restart');
is(sql_value("SELECT attempts FROM pgtls_audit.hba_usage WHERE hba_line = $cert_line"),
	$before_hba, 'hba_usage survives a restart');
is(sql_value("SELECT connections FROM pgtls_audit.client_certificates WHERE serial = '$serial'"),
	$before_cert, 'client_certificates survive a restart');
ok(!-f $node->data_dir . '/pg_stat/pgtls_audit.stat', 'state file removed once loaded');

# ---- corrupt and truncated state files: WARNING and an empty start
for my $damage ('corrupt', 'truncated')
{
	$node->stop;
	my $file = $node->data_dir . '/pg_stat/pgtls_audit.stat';
	ok(-s $file, "$damage: state file written at shutdown");
	my $data = slurp_text($file);
	if ($damage eq 'corrupt')
	{
		substr($data, int(length($data) / 2), 8) = 'XXXXXXXX';
	}
	else
	{
		$data = substr($data, 0, int(length($data) / 3));
	}
	open my $fh, '>:raw', $file or die;
	print $fh $data;
	close $fh;
	my $off = log_offset($node);
	$node->start;
	my $log = substr(slurp_text($node->logfile), $off);
	like($log, qr/WARNING:  pgtls_audit inventory file "pg_stat\/pgtls_audit.stat" is corrupt or from another version/,
		"$damage: WARNING at start");
	is(sql_value("SELECT count(*) FROM pgtls_audit.clients WHERE user_name = 'regress_cert_user'"), 0,
		"$damage: empty start, server up");
}

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
	extra_conf => "pgtls_audit.max_clients = 10\npgtls_audit.history_size = 10\n");
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
$small->stop;

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
