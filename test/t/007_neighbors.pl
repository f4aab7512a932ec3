# 007_neighbors.pl: pgtls_audit sharing the server with another module that
# hooks authentication and TLS initialization (test/modules/pgtls_neighbor,
# built and installed by test/run).
#
# - a server-only message another hook logs during authentication is not
#   the reason of a successful attempt (COMMERROR is LOG_SERVER_ONLY);
# - a FATAL from another hook is the reason of the failure, cut at a UTF-8
#   character boundary and marked when it exceeds the reason buffer;
# - another module hooking TLS initialization is reported at start, in
#   either load order, and the per-connection certificate verification is
#   chained: core's own verify callback still runs (on 16+ it logs the
#   refused certificate) and the record still names the refused certificate.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Encode ();
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $hba = slurp_text(srcdir() . '/test/conf/pg_hba.conf');
$hba =~ s/^(hostssl\s+all\s+all\s+)/hostssl   all      regress_neighbor_long 127.0.0.1\/32 trust\n$1/m;

my $node = tls_node('neighbor_first', hba => $hba,
	extra_conf => "shared_preload_libraries = 'pgtls_neighbor, pgtls_audit'\n");
my $version = $node->safe_psql('postgres', 'SHOW server_version_num');
my $log = slurp_text($node->logfile);
like($log, qr/WARNING:  another module also hooks TLS initialization: \S*pgtls_neighbor\.so$/m,
	'neighbor loaded first: its TLS hook is reported at start');
like($log, qr/DETAIL:  OpenSSL allows one ClientHello callback per context/,
	'neighbor loaded first: with the reason');

# a successful login: the neighbor's server-only message is no reason
my $off = log_offset($node);
my $res = attempt($node, user => 'regress_alice', password => 'regress_pw');
is($res->{rc}, 0, 'success: connected') or diag $res->{stderr};
my @recs = wait_records($node, $off, 1);
is(scalar(@recs), 1, 'success: one record');
is($recs[0]{outcome}, 'success', 'success: outcome');
is($recs[0]{reason}, undef, 'success: no reason although another hook logged a server-only message');
is($recs[0]{sqlstate}, undef, 'success: no sqlstate');
like(substr(slurp_text($node->logfile), $off), qr/LOG:  pgtls_neighbor saw an attempt by "regress_alice"/,
	'success: the neighbor did log its message');

# a wrong password: core's FATAL stays the reason
$off = log_offset($node);
$res = attempt($node, user => 'regress_alice', password => 'wrong');
@recs = wait_records($node, $off, 1);
is($recs[0]{reason}, 'password authentication failed for user "regress_alice"',
	'failure: the FATAL is the reason, not the neighbor\'s message');

# the neighbor refuses with a 1,223-byte message: 23 ASCII bytes, then
# 600 two-byte characters.  The reason is cut to fit 1,024 bytes at a
# character boundary and ends with "..."
$off = log_offset($node);
$res = attempt($node, user => 'regress_neighbor_long');
like($res->{stderr}, qr/pgtls_neighbor refuses/, 'long refusal: the client got the neighbor\'s FATAL');
@recs = wait_records($node, $off, 1);
my $expected = 'pgtls_neighbor refuses ' . ("\x{e9}" x 498) . '...';
is($recs[0]{reason}, $expected, 'long refusal: cut at a character boundary (1,019 bytes) and marked');
is(length(Encode::encode('UTF-8', $recs[0]{reason} // '')), 1022, 'long refusal: 1,022 bytes with the marker');
is($recs[0]{sqlstate}, '28P01', 'long refusal: its sqlstate');
is($recs[0]{outcome}, 'failed', 'long refusal: failed');

# a refused client certificate: the record names it, core still verifies
$off = log_offset($node);
$res = attempt($node, user => 'regress_cert_user', cert => 'client_untrusted');
isnt($res->{rc}, 0, 'untrusted certificate: refused');
@recs = wait_records($node, $off, 1);
is($recs[0]{issuer_dn}, 'CN=pgtls_audit Untrusted CA', 'untrusted certificate: the record names it');
is($recs[0]{reason},
	'could not accept SSL connection: certificate verify failed (client certificate: unable to get local issuer certificate)',
	'untrusted certificate: the reason');
SKIP:
{
	skip 'core logs the refused certificate from 16 on', 1 if $version < 160000;
	like(substr(slurp_text($node->logfile), $off), qr/DETAIL:  Client certificate verification failed at depth 0: unable to get local issuer certificate\./,
		'untrusted certificate: core\'s own verify callback still ran (chained)');
}
$node->stop;

# the other load order: the neighbor wraps pgtls_audit's TLS hook
my $node2 = tls_node('neighbor_last',
	extra_conf => "shared_preload_libraries = 'pgtls_audit, pgtls_neighbor'\n");
like(slurp_text($node2->logfile),
	qr/WARNING:  a module loaded after pgtls_audit hooks TLS initialization: \S*pgtls_neighbor\.so$/m,
	'neighbor loaded last: reported at start too');
$off = log_offset($node2);
$res = attempt($node2, user => 'regress_alice', password => 'regress_pw');
@recs = wait_records($node2, $off, 1);
is($recs[0]{reason}, undef, 'neighbor loaded last: a success still has no reason');
$node2->stop;

# alone, pgtls_audit warns about nothing
my $node3 = tls_node('alone');
unlike(slurp_text($node3->logfile), qr/hooks TLS initialization/, 'alone: no warning');
$node3->stop;

done_testing();
