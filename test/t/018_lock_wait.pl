# 018_lock_wait.pl: connections that find the inventory's spinlock held
# for long (a holder descheduled for seconds) wait through the lock's short
# back-off into PostgreSQL's s_lock() and then go on: every login succeeds,
# each attempt has its one record and count, nothing PANICs.
#
# The lock is held by the test-only fill module's pgtls_fill.hold_lock(ms)
# (test/modules/pgtls_audit_fill) for 3 s, while 4 TLS logins start; with
# pgtls_audit.debug_lock_timing = on the postmaster logs at shutdown how
# the waits ended.  Asserted: the logins' outcome and the counts, and that
# the lock timing's counts are consistent.  How many waits reached s_lock
# depends on when each login got to its record (a slow machine may bring
# one there after the hold ended): printed, never asserted.
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
diag sprintf("%d logins, lock held %d ms: the last login ended %.2f s after they started",
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
is($by_conn, $want, 'lock timing: one acquisition by connections per record');
ok(defined $in_s_lock && $in_s_lock <= $contended && $contended_slow <= $contended
	  && $contended_slow <= $waits_slow && $contended <= $by_conn + $by_readers,
	'lock timing: contended, slow and s_lock counts are consistent');
diag sprintf("lock timing: longest wait %s ms; contended %s, over 1 ms %s, reached s_lock %s",
	map { $_ // '?' } $wait_max, $contended, $contended_slow, $in_s_lock);
done_testing();
