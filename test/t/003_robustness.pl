# 003_robustness.pl: an internal failure of the module never changes the
# outcome of a login, a lost record is always counted, and signals that
# end a starting backend never leave the inventory locked.
#
# pgtls_audit.debug_inject_failure makes the hooks fail exactly where a
# real bug would: 'hook' raises an ERROR inside the authentication hook,
# 'record' makes writing the record fail, also in the exit callback where
# an ERROR would become FATAL.  Every count is exact: the test reads the
# server through one session opened before the failures are switched on,
# so that its own connections are not among the attempts counted.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use IO::Socket::INET;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $pki = pki();
my $node = tls_node('robust');
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
my $s = open_session($node);

sub set_conf
{
	my ($name, $value) = @_;
	$s->query("ALTER SYSTEM SET $name = '$value'");
	$s->query('SELECT pg_reload_conf()');
	# the session reloads after the postmaster, which then forks with it
	poll_until($s, "SELECT current_setting('$name') = '$value'")
	  or die "$name not applied";
}

sub stat_value { return $s->query("SELECT $_[0] FROM pgtls_audit.stats"); }

# Wait until records_dropped reaches $want (or time out), then make sure
# it stays there: returns the final value.
sub dropped_after
{
	my ($base, $want) = @_;
	poll_until($s, "SELECT records_dropped - $base >= $want FROM pgtls_audit.stats");
	usleep(500_000);
	return stat_value('records_dropped') - $base;
}

# a client that completes the TLS handshake and leaves (as scanners do)
sub tls_probe
{
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'openssl', 's_client', '-connect', '127.0.0.1:' . $node->port,
			'-starttls', 'postgres' ],
		'<', \'', '>', \$out, '2>', \$err);
	return $out;
}

# send a start-up packet asking for protocol 9.0; returns the answer
sub bad_startup_packet
{
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $node->port, Proto => 'tcp')
	  or die "cannot connect: $!";
	print $sock pack('NN', 8, 0x00090000);
	my $answer = '';
	$sock->recv($answer, 1024);
	close $sock;
	return $answer;
}

sub count_lines { my ($text, $re) = @_; return scalar(() = $text =~ /$re/mg); }

# ---- failures inside the authentication hook
$s->query('SELECT pgtls_audit.reset()');
set_conf('pgtls_audit.debug_inject_failure', 'hook');
my $dropped = stat_value('records_dropped');
my $total = stat_value('records_total');
my $off = log_offset($node);

my $res = attempt($node, user => 'regress_alice', password => 'regress_pw');
is($res->{rc}, 0, 'hook failure: the login succeeds') or diag $res->{stderr};
unlike($res->{stderr}, qr/pgtls_audit/, 'hook failure: the client is not told about it');
$res = attempt($node, user => 'regress_alice', password => 'wrong');
like($res->{stderr}, qr/FATAL:  password authentication failed for user "regress_alice"/,
	'hook failure: a wrong password fails exactly as without the module');
$res = attempt($node, user => 'regress_rejected', password => 'regress_pw', sslmode => 'disable');
like($res->{stderr}, qr/FATAL:  pg_hba\.conf rejects connection/, 'hook failure: a rejection is unchanged');

# the hook runs for the success and the wrong password only; the rejected
# attempt never reaches it and is written by the exit callback as usual
is(dropped_after($dropped, 2), 2, 'hook failure: exactly the two attempts that reached the hook are counted as dropped');
my $log = substr(slurp_text($node->logfile), $off);
is(count_lines($log, qr/WARNING:  pgtls_audit could not capture a connection attempt: failure injected by pgtls_audit\.debug_inject_failure$/m),
	2, 'hook failure: one WARNING per lost record');
is(count_lines($log, qr/DETAIL:  The connection attempt was not affected; its audit record is counted in pgtls_audit\.stats\.records_dropped\.$/m),
	2, 'hook failure: each with its detail');
my @recs = map { $_->{outcome} } new_records($node, $off);
is_deeply(\@recs, ['rejected'], 'hook failure: only the rejected attempt has a record');
is(stat_value('records_total') - $total, 1, 'hook failure: the inventory holds that one attempt');

# ---- failures while writing the record: the commit path and the exit path
set_conf('pgtls_audit.debug_inject_failure', 'record');
$dropped = stat_value('records_dropped');
$total = stat_value('records_total');
$off = log_offset($node);

$res = attempt($node, user => 'regress_alice', password => 'regress_pw');
is($res->{rc}, 0, 'record failure: the login succeeds') or diag $res->{stderr};
$res = attempt($node, user => 'regress_alice', password => 'wrong');
like($res->{stderr}, qr/FATAL:  password authentication failed for user "regress_alice"/,
	'record failure: a wrong password fails as without the module');
$res = attempt($node, user => 'regress_rejected', password => 'regress_pw', sslmode => 'disable');
like($res->{stderr}, qr/FATAL:  pg_hba\.conf rejects connection/, 'record failure: a rejection is unchanged');
$res = attempt($node, user => 'regress_cert_user', cert => 'client_untrusted');
like($res->{stderr}, qr/certificate|SSL/i, 'record failure: a failed handshake fails as without the module');
like(tls_probe(), qr/Cipher is TLS_/, 'record failure: a TLS probe completes its handshake');

is(dropped_after($dropped, 5), 5,
	'record failure: all five attempts (commit path and four exit paths) are counted as dropped');
$log = substr(slurp_text($node->logfile), $off);
is(count_lines($log, qr/WARNING:  pgtls_audit could not write the audit record of a connection attempt$/m),
	5, 'record failure: one WARNING per lost record');
unlike($log, qr/FATAL:  failure injected/, 'record failure: never a FATAL from the exit callback');
is(scalar(extract_record_lines($log)), 0, 'record failure: no record was written');
is(stat_value('records_total') - $total, 0, 'record failure: nothing half-written into the inventory');

# ---- back to normal
set_conf('pgtls_audit.debug_inject_failure', 'off');
$dropped = stat_value('records_dropped');
$off = log_offset($node);
$res = attempt($node, user => 'regress_alice', password => 'regress_pw');
@recs = wait_records($node, $off, 1);
is(scalar(grep { ($_->{user} // '') eq 'regress_alice' } @recs), 1, 'records resume once the failure is gone');
is(stat_value('records_dropped') - $dropped, 0, 'and nothing more is dropped');

# ---- signals while a starting backend writes its record
# Until start-up ends, core's SIGTERM handler and the authentication_timeout
# handler (SIGALRM) call _exit(1).  The exit callback blocks signals while
# it touches shared memory; pgtls_audit.debug_record_delay holds it there
# for 3 s, so without the blocking the record would be lost (and a
# spinlock taken at that moment would stay held).
set_conf('pgtls_audit.debug_record_delay', '3s');
set_conf('authentication_timeout', '1s');
# a start-up packet with an unsupported protocol version: core raises
# FATAL while its start-up timeout and SIGTERM handlers still exit at once
$off = log_offset($node);
like(bad_startup_packet(), qr/unsupported frontend protocol/,
	'start-up timeout during the record: the server refused the packet');
usleep(3_500_000);
@recs = new_records($node, $off);
is(scalar(@recs), 1, 'authentication_timeout expiring during the record: the record is still written');
like($recs[0]{reason} // '', qr/^unsupported frontend protocol 9\.0: server supports 3\.0 to 3\.\d$/,
	'authentication_timeout expiring during the record: it is the refused start-up packet');
set_conf('authentication_timeout', '1min');

$s->close;
$off = log_offset($node);
like(bad_startup_packet(), qr/unsupported frontend protocol/, 'SIGTERM during the record: the server refused the packet');
usleep(500_000);
$node->stop('fast');
@recs = new_records($node, $off);
is(scalar(@recs), 1, 'SIGTERM (fast shutdown) during the record: the record is still written');
like($recs[0]{reason} // '', qr/^unsupported frontend protocol 9\.0: server supports 3\.0 to 3\.\d$/,
	'SIGTERM during the record: it is the refused start-up packet');
$node->start;
$res = attempt($node, user => 'regress_alice', password => 'regress_pw');
is($res->{rc}, 0, 'SIGTERM during the record: the restarted server accepts logins') or diag $res->{stderr};
$node->safe_psql('postgres', "ALTER SYSTEM SET pgtls_audit.debug_record_delay = 0");
$node->reload;

# ---- a storm of failing handshakes across fast shutdowns and restarts
$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
my $conn_untrusted = 'host=127.0.0.1 port=' . $node->port
  . " user=regress_cert_user dbname=postgres sslmode=require sslrootcert=$pki/root.crt"
  . " sslcert=$pki/client_untrusted.crt sslkey=$pki/client_untrusted.key connect_timeout=5";
my $port = $node->port;
for my $cycle (1 .. 3)
{
	my @storm;
	push @storm, IPC::Run::start([ 'bash', '-c',
			"while :; do psql -X -w -q -d '$conn_untrusted' -c 'select 1' >/dev/null 2>&1; done" ]);
	push @storm, IPC::Run::start([ 'bash', '-c',
			"while :; do openssl s_client -connect 127.0.0.1:$port -starttls postgres -tls1_1 -cipher DEFAULT\@SECLEVEL=0 </dev/null >/dev/null 2>&1; "
			  . "openssl s_client -connect 127.0.0.1:$port -starttls postgres </dev/null >/dev/null 2>&1; done" ]);
	usleep(1_500_000);
	my $stopped = eval { $node->stop('fast'); 1 };
	ok($stopped, "storm cycle $cycle: the fast shutdown completes");
	my $started = eval { $node->start; 1 };
	ok($started, "storm cycle $cycle: the server restarts");
	$res = attempt($node, user => 'regress_alice', password => 'regress_pw');
	is($res->{rc}, 0, "storm cycle $cycle: a login succeeds at once") or diag $res->{stderr};
	$_->kill_kill for @storm;
}
is($node->safe_psql('postgres', 'SELECT records_dropped FROM pgtls_audit.stats'), '0',
	'the storm lost no record');
unlike(slurp_text($node->logfile), qr/stuck spinlock|PANIC/, 'no stuck spinlock, no PANIC');

$node->stop;
done_testing();
