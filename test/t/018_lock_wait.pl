# 018_lock_wait.pl: connections that find the inventory's spinlock held
# for long (a holder descheduled for seconds) do not wait for it: after
# the lock's first spin (0.1 ms) each leaves its attempt in a deferred slot
# and goes on, and the next lock holder adds it.  Every login succeeds,
# each attempt has its one record and count, nothing PANICs.
#
# The lock is held by the test-only fill module's pgtls_fill.hold_lock(ms)
# (test/modules/pgtls_audit_fill) for 3 s, while 4 TLS logins start; with
# pgtls_audit.debug_lock_timing = on the postmaster logs at shutdown how
# the waits ended.  Asserted: the logins' outcome and the counts, that no
# wait went on into s_lock() (4 logins never fill the 16 slots), and that
# the acquisitions plus the deferrals are one per attempt.  How many
# logins deferred depends on when each got to its record (a slow machine
# may bring one there after the hold ended): printed, never asserted.
# Then the deferred slots themselves, deterministically, with
# pgtls_fill.fill_deferred(n): n synthetic attempts left there are added by
# the next reader, counted once each, in every view, and carried into the
# save file at shutdown when no reader came.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(time usleep);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $hold_ms = 3000;
my $nlogins = 4;
my $fill_sql = srcdir() . '/test/modules/pgtls_audit_fill/pgtls_audit_fill.sql';
my $node = tls_node('lockwait',
	extra_conf => "pgtls_audit.log_format = 'json'\npgtls_audit.debug_lock_timing = on\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
$node->safe_psql('postgres', slurp_text($fill_sql));
my $s = open_session($node);
$s->query('SELECT pgtls_audit.reset()');

# the holder: its own login is recorded before its query takes the lock
my ($hout, $herr) = ('', '');
my $holder = IPC::Run::start(
	[ 'psql', '-X', '-A', '-t', '-w', '-d',
		'host=' . $node->host . ' port=' . $node->port . ' dbname=postgres',
		'-c', "SELECT pgtls_fill.hold_lock($hold_ms)" ],
	'<', \undef, '>', \$hout, '2>', \$herr);
ok(poll_until($s, "SELECT count(*) = 1 FROM pg_stat_activity "
		  . "WHERE query LIKE 'SELECT pgtls_fill.hold_lock%' AND state = 'active'"),
	'the holder runs');

# logins meanwhile, all at once
my $t0 = time;
my @logins;
for my $i (1 .. $nlogins)
{
	my $conn = PgtlsAuditTest::_conn_string($node, user => 'regress_alice');
	my %l = (out => '', err => '');
	local $ENV{PGPASSWORD} = 'regress_pw';
	local $ENV{PGPASSFILE} = '/nonexistent';
	$l{h} = IPC::Run::start([ 'psql', '-X', '-A', '-t', '-w', '-d', $conn, '-c', 'select 1' ],
		'<', \undef, '>', \$l{out}, '2>', \$l{err});
	push @logins, \%l;
}
my $ok = 0;
for my $l (@logins)
{
	$l->{h}->finish;
	if ($? == 0 && $l->{out} =~ /^1$/m) { $ok++; }
	else { diag "login failed: $l->{err}"; }
}
my $took = time - $t0;
$holder->finish;
is($?, 0, 'the holder released the lock') or diag $herr;
is($ok, $nlogins, 'every login made while the lock was held succeeded');
diag sprintf("%d logins, lock held %d ms: the last login ended %.2f s after they started "
	  . "(each waits for the lock at most its first spin, then defers)",
	$nlogins, $hold_ms, $took);

# the holder's login and the logins, each counted once
my $want = $nlogins + 1;
ok(poll_until($s, "SELECT records_total = $want FROM pgtls_audit.stats"),
	'stats: each attempt counted once');
is($s->query("SELECT sum(connections) FROM pgtls_audit.clients WHERE user_name = 'regress_alice'"),
	$nlogins, 'clients: the logins counted');
$s->close;

my $stop_off = log_offset($node);
$node->stop;
my $log = slurp_text($node->logfile);
unlike($log, qr/stuck spinlock|PANIC|terminated by signal/, 'no stuck spinlock, no PANIC');
my $tail = substr($log, $stop_off);
my ($by_conn, $by_readers) =
  $tail =~ /LOG:  pgtls_audit inventory lock timing: (\d+) acquisitions by connections, (\d+) by readers/;
my ($wait_max, $waits_slow, $contended, $contended_slow, $in_s_lock) = $tail =~
  /Longest wait ([\d.]+) ms, .*?waits over 1 ms: (\d+);.*Contended \(first test-and-set failed\): (\d+), of which waited over 1 ms: (\d+); waits that went on in s_lock: (\d+);/;
my ($deferred, $deferred_slow) = $tail =~ /Attempts deferred \(the lock still held after the first spin; their waits are among the waits\): (\d+), of which waited over 1 ms: (\d+)\./;
is(($by_conn // 0) + ($deferred // -1), $want,
	'lock timing: one acquisition by connections or one deferral per record');
is($in_s_lock, 0, 'lock timing: no wait went on into s_lock (the logins deferred instead)');
ok(defined $in_s_lock && $contended_slow <= $contended
	  && $contended_slow <= $waits_slow && $contended <= $by_conn + $by_readers,
	'lock timing: contended and slow counts are consistent');
diag sprintf("lock timing: %s of %d logins deferred; longest wait %s ms; contended %s, over 1 ms %s, reached s_lock %s",
	$deferred // '?', $nlogins, map { $_ // '?' } $wait_max, $contended, $contended_slow, $in_s_lock);

# the deferred slots, deterministically: 5 synthetic attempts left there
# (pgtls_fill.fill_deferred) are waiting until a reader adds them
$node->start;
$s = open_session($node);
$s->query('SELECT pgtls_audit.reset()');
my $filled = $s->query('SELECT pgtls_fill.fill_deferred(5)');
is($filled, 5, 'fill_deferred: 5 attempts wait in the deferred slots');
is($s->query("SELECT records_total || ' ' || (SELECT count(*) FROM pgtls_audit.connections WHERE remote_host LIKE '10.%') || ' '
			  || (SELECT count(*) FROM pgtls_audit.clients WHERE client_addr LIKE '10.%') || ' '
			  || (SELECT count(*) FROM pgtls_audit.client_certificates WHERE serial LIKE '4242%') || ' '
			  || (SELECT count(*) FROM pgtls_audit.client_fingerprints WHERE ja4 LIKE 't1_d3109h2%')
			  FROM pgtls_audit.stats"),
	'5 5 5 5 5', 'the first reader added each deferred attempt once, to the ring and every table');
is($s->query('SELECT pgtls_fill.fill_deferred(16)'), 16, 'all 16 slots can be filled again');
is($s->query("SELECT count(*) FROM pgtls_audit.connections WHERE remote_host LIKE '10.%'"), '21',
	'and a reader adds the 16');
my ($rc, $out, $err) = $node->psql('postgres', 'SELECT pgtls_fill.fill_deferred(17)',
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/22023/, 'fill_deferred(17): more than the slots is refused (22023)');

# deferred attempts that no reader added go into the save file at shutdown
is($s->query('SELECT pgtls_fill.fill_deferred(3)'), 3, '3 more attempts wait in the deferred slots');
$s->close;
$node->stop;
$node->start;
$s = open_session($node);
is($s->query("SELECT count(*) FROM pgtls_audit.clients WHERE client_addr LIKE '10.%'"), '24',
	'the postmaster added them at shutdown: saved and loaded with the others');
$s->close;
$node->stop;
done_testing();
