# 016_faults.pl: faults around the inventory and the configuration, each
# asserted exactly.
#  - every table full (max_clients, max_certificates, history_size and
#    max_fingerprints at 10, with 15 or 12 distinct entries): evictions
#    counted exactly, the most recent entries kept;
#  - kill -9 of a backend while it writes its record (debug_record_delay
#    holds the exit callback there): crash restart, and the inventory
#    afterwards is consistent (stats readable, counts equal the rows);
#  - pg_stat not writable when the state file is saved at shutdown: a LOG,
#    the server stops, no partial file, the next start is empty;
#  - a corrupt, a truncated and a zero-length state file at start: WARNING,
#    empty start, the file removed;
#  - the certificate file removed after start: the certificate views and
#    findings say so, logins go on (also after a reload);
#  - pg_hba.conf edited with errors and reloaded: the findings show the
#    error, logins go on with the old rules;
#  - an interrupt that raises no ERROR (a request to log memory
#    contexts) in the middle of certificate_info(): every certificate
#    is returned;
#  - a full filesystem (a 1 MB tmpfs that test/run mounts as root, named
#    in PGTLS_FULL_FS; skipped with the reason otherwise): the audit file
#    on it (logins go on, every record is whole in the file or counted in
#    records_dropped, one WARNING, all records in the server log) and
#    pg_stat on it at shutdown (a LOG with its DETAIL, no partial file,
#    the next start is empty).
# The hba usage table has no size setting and is not filled here.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use File::Copy;
use JSON::PP ();
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $pki = pki();
my $node = tls_node('faults',
	extra_conf => "pgtls_audit.log_format = 'json'\npgtls_audit.max_clients = 10\n"
	  . "pgtls_audit.max_certificates = 10\npgtls_audit.history_size = 10\n"
	  . "pgtls_audit.max_fingerprints = 10\nrestart_after_crash = on\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
$node->safe_psql('postgres', "CREATE ROLE regress_f$_ LOGIN PASSWORD 'regress_pw'") for 1 .. 15;
my $s = open_session($node);
my $stats = 'SELECT records_total, history_entries, history_overwritten, clients_entries, clients_evicted, '
  . 'certificates_entries, certificates_evicted, fingerprints_entries, fingerprints_evicted, records_dropped '
  . 'FROM pgtls_audit.stats';

sub login
{
	my (%o) = @_;
	my $r = attempt($node, password => 'regress_pw', %o);
	die "login $o{user}: $r->{stderr}" if $r->{rc};
}

# ---- clients and history: 15 distinct clients into 10 entries
$s->query('SELECT pgtls_audit.reset()');
login(user => "regress_f$_") for 1 .. 15;
ok(poll_until($s, 'SELECT records_total = 15 FROM pgtls_audit.stats'), 'full tables: 15 records');
# one ClientHello fingerprint (libpq's) for all 15
is($s->query($stats), '15|10|5|10|5|0|0|1|0|0',
	'full clients and history: 10 entries each, 5 evicted and 5 overwritten, counted exactly');
is($s->query("SELECT string_agg(user_name, ',' ORDER BY user_name) FROM pgtls_audit.clients"),
	join(',', sort map { "regress_f$_" } 6 .. 15), 'full clients: the 10 most recent kept');
is($s->query("SELECT string_agg(user_name, ',' ORDER BY user_name) FROM pgtls_audit.connections"),
	join(',', sort map { "regress_f$_" } 6 .. 15), 'full history: the 10 most recent kept');

# ---- certificates: 12 distinct certificates into 10 entries
my $certdir = PostgreSQL::Test::Utils::tempdir();
for my $sn (6001 .. 6012)
{
	system("openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
		  . "-keyout $certdir/c$sn.key -out $certdir/c$sn.csr -subj '/CN=regress_alice/OU=fault $sn' 2>/dev/null") == 0
	  or die 'csr';
	system("openssl x509 -req -in $certdir/c$sn.csr -CA $pki/intermediate_ca.crt -CAkey $pki/intermediate_ca.key "
		  . "-set_serial $sn -days 30 -out $certdir/c$sn.crt 2>/dev/null") == 0 or die 'sign';
	chmod 0600, "$certdir/c$sn.key";
}
$s->query('SELECT pgtls_audit.reset()');
for my $sn (6001 .. 6012)
{
	my $conn = PgtlsAuditTest::_conn_string($node, user => 'regress_alice')
	  =~ s{sslcert=\S+ sslkey=\S+}{sslcert=$certdir/c$sn.crt sslkey=$certdir/c$sn.key}r;
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-w', '-d', $conn, '-c', 'select 1' ], '<', \undef, '>', \$o, '2>', \$e,
		init => sub { $ENV{PGPASSWORD} = 'regress_pw'; $ENV{PGPASSFILE} = '/nonexistent' });
	die "certificate $sn: $e" if $?;
}
ok(poll_until($s, 'SELECT records_total = 12 FROM pgtls_audit.stats'), 'full certificates: 12 records');
# each certificate is its own client too (the client key holds the serial)
is($s->query($stats), '12|10|2|10|2|10|2|1|0|0',
	'full certificates: 10 entries, 2 evicted (clients and history likewise)');
is($s->query("SELECT string_agg(serial, ',' ORDER BY serial) FROM pgtls_audit.client_certificates"),
	join(',', 6003 .. 6012), 'full certificates: the first two were evicted');

# ---- fingerprints: 12 TLS 1.2 ClientHellos, each offering one other suite
my ($ciphers) = ('');
IPC::Run::run([ 'openssl', 'ciphers', '-tls1_2', 'ALL:@SECLEVEL=0' ], '>', \$ciphers);
my @suites = grep { !/^TLS_/ } split /:/, ($ciphers =~ s/\s+//gr);
@suites = @suites[0 .. 11];
$s->query('SELECT pgtls_audit.reset()');
for my $c (@suites)
{
	my ($o, $e) = ('', '');
	IPC::Run::run([ 'openssl', 's_client', '-connect', '127.0.0.1:' . $node->port, '-starttls', 'postgres',
			'-tls1_2', '-cipher', "$c:\@SECLEVEL=0" ], '<', \'', '>', \$o, '2>', \$e);
}
ok(poll_until($s, 'SELECT records_total = 12 FROM pgtls_audit.stats'), 'full fingerprints: 12 records');
is($s->query('SELECT fingerprints_entries, fingerprints_evicted, records_dropped FROM pgtls_audit.stats'),
	'10|2|0', 'full fingerprints: 10 entries, 2 evicted');
is($s->query('SELECT count(*), count(DISTINCT ja4) FROM pgtls_audit.client_fingerprints'), '10|10',
	'full fingerprints: 10 distinct rows');

# ---- kill -9 of a backend in the middle of writing its record
sub set_conf
{
	my ($name, $value) = @_;
	$s->query("ALTER SYSTEM SET $name = '$value'");
	$s->query('SELECT pg_reload_conf()');
	poll_until($s, "SELECT current_setting('$name') = '$value'") or die "$name not applied";
}
set_conf('pgtls_audit.debug_record_delay', '5s');
my $off = log_offset($node);
my ($o, $e) = ('', '');
my $conn = PgtlsAuditTest::_conn_string($node, user => 'regress_alice');
my $h = IPC::Run::start([ 'psql', '-X', '-w', '-d', $conn, '-c', 'select 1' ], '<', \undef, '>', \$o, '2>', \$e,
	init => sub { $ENV{PGPASSWORD} = 'wrong'; $ENV{PGPASSFILE} = '/nonexistent' });
my $victim;
for (1 .. 100)
{
	($victim) = substr(slurp_text($node->logfile), $off)
	  =~ /\[(\d+)\] FATAL:  password authentication failed for user "regress_alice"/;
	last if $victim;
	usleep(50_000);
}
ok($victim, 'kill -9: the failing backend is in its exit callback');
$s->close;
kill 'KILL', $victim;
$h->finish;
my $restarted = 0;
for (1 .. 200)
{
	my $log = substr(slurp_text($node->logfile), $off);
	if ($log =~ /database system is ready to accept connections/) { $restarted = 1; last; }
	usleep(100_000);
}
my $log = substr(slurp_text($node->logfile), $off);
like($log, qr/(?:server process|client backend) \(PID $victim\) was terminated by signal 9/, 'kill -9: the postmaster saw the crash');
ok($restarted, 'kill -9: crash restart completed');
unlike($log, qr/PGTLS_AUDIT .*"pid":$victim,/, 'kill -9: no half-written record of the killed backend');
$s = open_session($node);
# shared memory is created anew at a crash restart: the inventory starts
# empty (nothing is saved at a crash), holding only this session's login
is($s->query($stats), '1|1|0|1|0|0|0|0|0|0', 'kill -9: stats readable after the crash restart, a fresh inventory');
is($s->query('SELECT (SELECT count(*) FROM pgtls_audit.connections) || \'|\' || '
		. '(SELECT count(*) FROM pgtls_audit.clients) || \'|\' || '
		. '(SELECT sum(connections) FROM pgtls_audit.clients) || \'|\' || '
		. '(SELECT count(*) FROM pgtls_audit.client_certificates) || \'|\' || '
		. '(SELECT count(*) FROM pgtls_audit.client_fingerprints)'),
	'1|1|1|0|0', 'kill -9: the counts equal the rows of every view');
set_conf('pgtls_audit.debug_record_delay', '0');
login(user => 'regress_alice');
ok(poll_until($s, 'SELECT records_total = 2 FROM pgtls_audit.stats'), 'kill -9: records go on after the restart');

# ---- pg_stat not writable when the state file is saved
my $pgstat = $node->data_dir . '/pg_stat';
$s->close;
chmod 0555, $pgstat or die;
$off = log_offset($node);
my $stopped = eval { $node->stop('fast'); 1 };
chmod 0700, $pgstat or die;
ok($stopped, 'pg_stat read-only: the server stops');
$log = substr(slurp_text($node->logfile), $off);
like($log, qr/LOG:  could not create file "pg_stat\/pgtls_audit\.stat\.tmp": Permission denied/,
	'pg_stat read-only: a LOG message names the file and the reason');
ok(!-e "$pgstat/pgtls_audit.stat" && !-e "$pgstat/pgtls_audit.stat.tmp",
	'pg_stat read-only: no state file and no partial file');
$off = log_offset($node);
$node->start;
$s = open_session($node);
is($s->query('SELECT records_total, clients_entries FROM pgtls_audit.stats'), '1|1',
	'pg_stat read-only: the next start is empty (only this session)');
unlike(substr(slurp_text($node->logfile), $off), qr/WARNING:.*pgtls_audit/,
	'pg_stat read-only: no warning at the next start');

# ---- damaged state files at start
my $statefile = "$pgstat/pgtls_audit.stat";
for my $damage ('corrupt', 'truncated', 'zero-length')
{
	login(user => 'regress_alice');
	$s->close;
	$node->stop;
	ok(-s $statefile, "$damage: the state file was saved");
	my $data = slurp_text($statefile);
	$data = $damage eq 'corrupt' ? substr($data, 0, 40) . ('X' x 16) . substr($data, 56)
	  : $damage eq 'truncated' ? substr($data, 0, int(length($data) / 2))
	  : '';
	open my $fh, '>:raw', $statefile or die;
	print $fh $data;
	close $fh;
	$off = log_offset($node);
	$node->start;
	$s = open_session($node);
	like(substr(slurp_text($node->logfile), $off),
		qr/WARNING:  pgtls_audit inventory file "pg_stat\/pgtls_audit\.stat" is corrupt or from another version\n.*DETAIL:  The pgtls_audit inventory starts empty\./,
		"$damage: WARNING with its detail at start");
	is($s->query('SELECT records_total, clients_entries, history_entries FROM pgtls_audit.stats'), '1|1|1',
		"$damage: empty start (only this session)");
	ok(!-e $statefile, "$damage: the damaged file was removed");
}

# ---- the certificate file removed after start
my $certcopy = PostgreSQL::Test::Utils::tempdir();
copy("$pki/server.crt", "$certcopy/server.crt") or die;
copy("$pki/server.key", "$certcopy/server.key") or die;
chmod 0600, "$certcopy/server.key";
set_conf('ssl_cert_file', "$certcopy/server.crt");
set_conf('ssl_key_file', "$certcopy/server.key");
is($s->query("SELECT count(*) FROM pgtls_audit.server_certificates WHERE source = 'ssl_cert_file' AND subject_dn = 'CN=localhost'"),
	'1', 'certificate copy: the view shows it');
unlink "$certcopy/server.crt" or die;
my $rows = $s->query("SELECT coalesce(subject_dn, '-') || '|' || coalesce(status, '-') || '|' || coalesce(note, '-') "
	  . "FROM pgtls_audit.server_certificates WHERE source = 'ssl_cert_file' ORDER BY position");
diag "server_certificates after the removal: $rows";
like($rows, qr/No such file or directory/, 'certificate removed: server_certificates says the file is missing');
like($s->query("SELECT string_agg(check_id || ': ' || message, E'\\n') FROM pgtls_audit.check_config() WHERE check_id = 'CERT001'"),
	qr/^CERT001: .*"\Q$certcopy\E\/server\.crt" cannot be accessed: No such file or directory$/,
	'certificate removed: finding CERT001');
my $res = attempt($node, user => 'regress_alice', password => 'regress_pw');
is($res->{rc}, 0, 'certificate removed: TLS logins go on') or diag $res->{stderr};
$off = log_offset($node);
$s->query('SELECT pg_reload_conf()');
usleep(500_000);
$res = attempt($node, user => 'regress_alice', password => 'regress_pw');
is($res->{rc}, 0, 'certificate removed, then a reload: TLS logins go on with the loaded certificate')
  or diag $res->{stderr};
like(substr(slurp_text($node->logfile), $off), qr/SSL configuration was not reloaded/,
	'certificate removed, then a reload: core keeps its SSL configuration');
$s->query('ALTER SYSTEM RESET ssl_cert_file');
$s->query('ALTER SYSTEM RESET ssl_key_file');
$s->query('SELECT pg_reload_conf()');

# ---- pg_hba.conf edited with errors and reloaded
my $hba = $node->data_dir . '/pg_hba.conf';
my $orig = slurp_text($hba);
open my $hfh, '>', $hba or die;
print $hfh "hostssl all regress_alice 127.0.0.1/32 reject\nhostssl all all 127.0.0.1/32 no_such_method\n$orig";
close $hfh;
$off = log_offset($node);
$s->query('SELECT pg_reload_conf()');
usleep(500_000);
like(substr(slurp_text($node->logfile), $off), qr/pg_hba\.conf was not reloaded/,
	'pg_hba.conf with an error: core keeps the old rules');
is($s->query("SELECT string_agg(check_id || ' ' || location, ',') FROM pgtls_audit.check_config() WHERE check_id = 'HBA001'"),
	"HBA001 $hba:2", 'pg_hba.conf with an error: the findings show the error at its line');
like($s->query("SELECT message FROM pgtls_audit.check_config() WHERE check_id = 'HBA001'"),
	qr/invalid authentication method "no_such_method"/, 'pg_hba.conf with an error: with the message of core');
$res = attempt($node, user => 'regress_alice', password => 'regress_pw');
is($res->{rc}, 0, 'pg_hba.conf with an error: logins go on with the old rules (the new reject line is not in force)')
  or diag $res->{stderr};

is($s->query('SELECT records_dropped FROM pgtls_audit.stats'), '0', 'no record dropped in any fault');
unlike(slurp_text($node->logfile), qr/PANIC|stuck spinlock/, 'no PANIC, no stuck spinlock');
unlike(slurp_text($node->logfile), qr/lock timing/,
	'debug_lock_timing off: no lock timing is kept or logged');

# ---- a full filesystem: the audit file, then the state file at shutdown.
# test/run (as root) mounts a 1 MB tmpfs and names it in PGTLS_FULL_FS; it
# is filled here with a filler file until write() says ENOSPC.
sub fill_fs
{
	my ($path) = @_;
	open my $fh, '>:raw', $path or die "$path: $!";
	my $block = "\0" x 4096;
	while (defined(syswrite($fh, $block))) { }
	die "filling $path: $!" unless $!{ENOSPC};
	while (defined(syswrite($fh, "\0"))) { }	# the last bytes of a page
	close $fh;
}

sub file_lines
{
	my ($path) = @_;
	return () unless -e $path;
	my $text = slurp_text($path);
	return (split(/\n/, $text), substr($text, -1) eq "\n" ? () : ('<no final newline>'));
}

# the good pg_hba.conf again (the server is restarted below)
open $hfh, '>', $hba or die;
print $hfh $orig;
close $hfh;
$s->query('SELECT pg_reload_conf()');

# ---- an interrupt that is not a cancel in the middle of a long parse: a
# request to log memory contexts (PostgreSQL 14+) sets InterruptPending
# and ends without an ERROR; the parse must go on to the end (it used to
# stop there and return the certificates read so far).  server.crt holds
# the leaf and its intermediate: 15,000 copies are 30,000 certificates.
{
	my $n = 15000;
	my $per = () = slurp_text("$pki/server.crt") =~ /-----BEGIN CERTIFICATE-----/g;
	my $sql = "SELECT count(*) FROM pgtls_audit.certificate_info(repeat(pg_read_file('$pki/server.crt'), $n))";
	my ($o, $e) = ('', '');
	my $bg = IPC::Run::start([ 'psql', '-X', '-A', '-t', '-d', $node->connstr('postgres'), '-c', $sql ],
		'<', \undef, '>', \$o, '2>', \$e);
	my $off = log_offset($node);
	my $signals = 0;
	for (1 .. 600)
	{
		my $sent = $s->query("SELECT count(pg_log_backend_memory_contexts(pid)) FROM pg_stat_activity "
			  . "WHERE state = 'active' AND query LIKE '%certificate_info(repeat(%' AND pid <> pg_backend_pid()");
		$signals += $sent;
		last if $signals >= 5 || ($signals > 0 && !$sent);
		usleep($signals ? 200_000 : 20_000);
	}
	$bg->finish;
	$o =~ s/\s+$//;
	ok($signals > 0, "interrupt during a parse: $signals memory-context request(s) sent while it ran");
	like(substr(slurp_text($node->logfile), $off), qr/LOG:  logging memory contexts of PID \d+/,
		'interrupt during a parse: the backend served a request');
	is($o, $n * $per, "interrupt during a parse: all " . ($n * $per) . " certificates returned") or diag $e;
}

my $fs = $ENV{PGTLS_FULL_FS};
SKIP:
{
	my $why = $ENV{PGTLS_FULL_FS_SKIP} || 'PGTLS_FULL_FS is not set (test/run mounts a 1 MB tmpfs when run as root)';
	$why = "PGTLS_FULL_FS=$fs is not a writable directory" if $fs && !(-d $fs && -w $fs);
	if (!$fs || !(-d $fs && -w $fs))
	{
		diag "!!! full-filesystem faults SKIPPED: $why";
		skip "full filesystem: $why", 16;
	}
	my $adir = "$fs/audit";
	mkdir $adir, 0700 or die "$adir: $!";
	my $afile = "$adir/pgtls_audit.jsonl";
	set_conf('pgtls_audit.log_file', $afile);
	set_conf('pgtls_audit.log_destination', 'server_log, file');
	login(user => 'regress_alice') for 1 .. 2;
	my @first = file_lines($afile);
	is(scalar(@first), 2, 'full disk: the audit file has its first 2 records while there is room');

	fill_fs("$fs/filler");
	my @st = stat($afile);
	diag sprintf('full disk: audit file of %d bytes, %d bytes free in its last page',
		$st[7], $st[12] * 512 - $st[7]);
	my ($dropped0, $total0) = split /\|/, $s->query('SELECT records_dropped, records_total FROM pgtls_audit.stats');
	my $off = log_offset($node);
	my $good = 0;
	for (1 .. 8)
	{
		my $r = attempt($node, user => 'regress_alice', password => 'regress_pw');
		$good++ if $r->{rc} == 0 && $r->{stderr} !~ /WARNING/;
	}
	is($good, 8, 'full disk: 8 logins succeed, no warning to the client');
	ok(poll_until($s, 'SELECT records_total = ' . ($total0 + 8) . ' FROM pgtls_audit.stats'),
		'full disk: the 8 attempts are counted');
	my @lines = file_lines($afile);
	my $added = @lines - 2;
	my $dropped = $s->query('SELECT records_dropped FROM pgtls_audit.stats') - $dropped0;
	diag "full disk: $added records written whole, $dropped dropped";
	ok($dropped > 0, 'full disk: records were dropped');
	is($added + $dropped, 8, 'full disk: each record is in the file or counted in records_dropped');
	my $bad = grep { !eval { JSON::PP::decode_json($_); 1 } } @lines;
	is($bad, 0, 'full disk: no half-written record in the file: every line is one JSON object, the last ends');
	my $tail = substr(slurp_text($node->logfile), $off);
	like($tail, qr/WARNING:  pgtls_audit could not write to audit file "\Q$afile\E": No space left on device/,
		'full disk: one WARNING in the server log names the file and the reason');
	is(scalar(grep { ($_->{user} // '') eq 'regress_alice' } new_records($node, $off)), 8,
		'full disk: the server log has all 8 records');
	is($s->query('SELECT 1'), '1', 'full disk: the server goes on');
	$s->query('ALTER SYSTEM RESET pgtls_audit.log_destination');
	$s->query('ALTER SYSTEM RESET pgtls_audit.log_file');
	$s->query('SELECT pg_reload_conf()');

	# the state file: pg_stat moved to the tmpfs (a symlink), full at shutdown
	$s->close;
	$node->stop;
	unlink "$fs/filler" or die;
	my $fsstat = "$fs/pg_stat";
	mkdir $fsstat, 0700 or die "$fsstat: $!";
	opendir my $dh, $pgstat or die;
	for my $f (grep { !/^\.\.?$/ } readdir $dh) { File::Copy::move("$pgstat/$f", "$fsstat/$f") or die "$f: $!"; }
	closedir $dh;
	rename $pgstat, "$pgstat.orig" or die;
	symlink $fsstat, $pgstat or die;
	$node->start;
	$s = open_session($node);
	login(user => 'regress_alice');
	ok(poll_until($s, "SELECT clients_entries > 0 FROM pgtls_audit.stats"), 'full pg_stat: the inventory has entries to save');
	fill_fs("$fs/filler");
	$s->close;
	$off = log_offset($node);
	my $stopped = eval { $node->stop('fast'); 1 };
	ok($stopped, 'full pg_stat: the server stops');
	$tail = substr(slurp_text($node->logfile), $off);
	like($tail, qr/LOG:  could not write file "pg_stat\/pgtls_audit\.stat\.tmp": No space left on device\n.*DETAIL:  The pgtls_audit inventory is not saved; the next start begins with an empty inventory\./,
		'full pg_stat: a LOG names the file and the reason, its DETAIL says what it means');
	ok(!-e "$fsstat/pgtls_audit.stat" && !-e "$fsstat/pgtls_audit.stat.tmp",
		'full pg_stat: no state file and no partial file');
	unlink "$fs/filler" or die;
	unlink $pgstat or die;
	rename "$pgstat.orig", $pgstat or die;
	$off = log_offset($node);
	$node->start;
	$s = open_session($node);
	is($s->query('SELECT records_total, clients_entries FROM pgtls_audit.stats'), '1|1',
		'full pg_stat: the next start is empty (only this session)');
	unlike(substr(slurp_text($node->logfile), $off), qr/WARNING:.*pgtls_audit/,
		'full pg_stat: no warning at the next start');
	my $after = attempt($node, user => 'regress_alice', password => 'regress_pw');
	is($after->{rc}, 0, 'full pg_stat: logins go on after the restart') or diag $after->{stderr};
}
$s->close;
$node->stop;
done_testing();
