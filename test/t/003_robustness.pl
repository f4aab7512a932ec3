# 003_robustness.pl: an internal failure of the module never changes the
# outcome of a login.  pgtls_audit.debug_inject_failure makes the hooks
# raise an ERROR exactly where a real bug would; the login must still
# succeed (or fail exactly as it would without the module), a WARNING must
# say what happened, and the lost record must be counted.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $node = tls_node('robust');
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');

sub set_inject
{
	my ($on) = @_;
	$node->safe_psql('postgres', "ALTER SYSTEM SET pgtls_audit.debug_inject_failure = $on");
	$node->reload;
	$node->poll_query_until('postgres', "SELECT current_setting('pgtls_audit.debug_inject_failure') = '$on'")
	  or die 'setting not applied';
}

$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
set_inject('on');
my $dropped_before = $node->safe_psql('postgres', 'SELECT records_dropped FROM pgtls_audit.stats');

my $off = log_offset($node);
my $res = attempt($node, user => 'regress_alice', password => 'regress_pw');
is($res->{rc}, 0, 'login succeeds although the hook failed') or diag $res->{stderr};
unlike($res->{stderr}, qr/pgtls_audit/, 'the client is not told about it');

$res = attempt($node, user => 'regress_alice', password => 'wrong');
like($res->{stderr}, qr/FATAL:  password authentication failed for user "regress_alice"/,
	'a wrong password fails exactly as without the module');
$res = attempt($node, user => 'regress_rejected', password => 'regress_pw', sslmode => 'disable');
like($res->{stderr}, qr/FATAL:  pg_hba.conf rejects connection/, 'a rejection is unchanged');

# the failure records are written at backend exit: wait for the counters
$node->poll_query_until('postgres',
	"SELECT records_dropped - $dropped_before >= 4 FROM pgtls_audit.stats") or diag 'drops not counted';
my $log = substr(slurp_text($node->logfile), $off);
like($log, qr/WARNING:  pgtls_audit could not capture the connection attempt: failure injected by pgtls_audit.debug_inject_failure/,
	'WARNING in the server log');
like($log, qr/DETAIL:  The connection attempt was not affected\./, 'with a detail');
is(scalar(extract_record_lines($log)), 0, 'no record was written while failing');
# the three attempts above and every local psql session of this test
# (poll_query_until connects too) are counted, none silently lost
cmp_ok($node->safe_psql('postgres', "SELECT records_dropped - $dropped_before FROM pgtls_audit.stats"),
	'>=', 4, 'every lost record is counted in stats.records_dropped');

set_inject('off');
$off = log_offset($node);
$res = attempt($node, user => 'regress_alice', password => 'regress_pw');
my @recs = wait_records($node, $off, 1);
is(scalar(grep { ($_->{user} // '') eq 'regress_alice' } @recs), 1, 'records resume once the failure is gone');

$node->stop;
done_testing();
