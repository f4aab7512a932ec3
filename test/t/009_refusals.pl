# 009_refusals.pl: attempts that end before or just after authentication,
# each one record with the server's reason, event and sqlstate, and in the
# inventory: clients that leave right after the TLS handshake (scanners,
# health checks), bad start-up packets, connection limits of a role and of
# a database, max_connections, a standby that does not accept connections
# and a server shutting down.
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
my $node = tls_node('refusals', extra_conf => "pgtls_audit.log_format = 'json'\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');

# Exactly one record since $off; returns it.
sub only_record
{
	my ($n, $off, $label) = @_;
	my @recs = wait_records($n, $off, 1);
	usleep(300_000);
	@recs = new_records($n, $off);
	is(scalar(@recs), 1, "$label: exactly one record") or diag explain \@recs;
	return $recs[0] // {};
}

sub check
{
	my ($label, $r, %e) = @_;
	for my $k (sort keys %e)
	{
		if (ref $e{$k} eq 'Regexp') { like($r->{$k}, $e{$k}, "$label: $k"); }
		else { is($r->{$k}, $e{$k}, "$label: $k"); }
	}
}

sub s_client
{
	my ($n, @args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'openssl', 's_client', '-connect', '127.0.0.1:' . $n->port,
			'-starttls', 'postgres', @args ],
		'<', \'', '>', \$out, '2>', \$err);
	return $out;
}

sub raw_packet
{
	my ($n, $bytes) = @_;
	my $sock = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $n->port, Proto => 'tcp')
	  or die "cannot connect: $!";
	print $sock $bytes if length $bytes;
	my $answer = '';
	$sock->recv($answer, 1024);
	close $sock;
	return $answer;
}

# ---- a TLS handshake, then nothing (testssl.sh, sslyze, nmap, health checks)
my $s = open_session($node);
$s->query('SELECT pgtls_audit.reset()');
my $off = log_offset($node);
my $out = s_client($node);
my ($cipher) = $out =~ /Cipher is (\S+)/;
ok(defined $cipher, 'TLS probe: the handshake completed') or diag $out;
my $r = only_record($node, $off, 'TLS probe');
check('TLS probe', $r, event => 'handshake', outcome => 'aborted',
	reason => 'client closed the connection after the TLS handshake, before sending a start-up packet',
	sqlstate => undef, ssl => JSON::PP::true, protocol => 'TLSv1.3', cipher => $cipher,
	bits => 256, user => undef, database => undef, hba_line => undef,
	client_cert => JSON::PP::false, remote_host => '127.0.0.1', policy => 'ok');
is($s->query("SELECT count(*) FROM pgtls_audit.connections WHERE event = 'handshake' AND outcome = 'aborted' AND protocol = 'TLSv1.3' AND user_name IS NULL"),
	'1', 'TLS probe: in pgtls_audit.connections');
is($s->query("SELECT connections FROM pgtls_audit.clients WHERE outcome = 'aborted' AND user_name IS NULL"),
	'1', 'TLS probe: counted in pgtls_audit.clients');

$off = log_offset($node);
$out = s_client($node, '-cert', "$pki/client_regress_cert_user.crt", '-key', "$pki/client_regress_cert_user.key",
	'-tls1_2');
$r = only_record($node, $off, 'TLS 1.2 probe with a certificate');
my $serial = slurp_text("$pki/client_regress_cert_user.serial") =~ s/\s+$//r;
check('TLS 1.2 probe with a certificate', $r, event => 'handshake', outcome => 'aborted',
	protocol => 'TLSv1.2', client_cert => JSON::PP::true, client_serial => $serial,
	issuer_dn => 'CN=pgtls_audit Test Intermediate CA');

# what a probe offered: server name, ALPN, TLS 1.2 only with two suites
$off = log_offset($node);
$out = s_client($node, '-servername', 'db.example.com', '-alpn', 'postgresql,x-test',
	'-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384');
$r = only_record($node, $off, 'probe with SNI and ALPN');
# OpenSSL 3.0 adds the renegotiation SCSV to the two suites, 3.5 does not
my $nsuites = sprintf('%02d', scalar @{ $r->{offered_ciphers} // [] });
check('probe with SNI and ALPN', $r, sni => 'db.example.com', protocol => 'TLSv1.2',
	ja4 => qr/^t12d${nsuites}\d\dpl_[0-9a-f]{12}_[0-9a-f]{12}$/);
is_deeply($r->{offered_alpn}, [ 'postgresql', 'x-test' ], 'probe with SNI and ALPN: offered_alpn');
is_deeply($r->{offered_versions}, ['TLSv1.2'], 'probe with SNI and ALPN: offered_versions');
is_deeply([ grep { $_ ne 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV' } @{ $r->{offered_ciphers} // [] } ],
	[ 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES256-GCM-SHA384' ],
	'probe with SNI and ALPN: offered_ciphers, the two suites in its order (and no other but the SCSV)');
ok(scalar(@{ $r->{offered_groups} // [] }) > 0
	  && !(grep { !/^(x25519|x448|secp\d+r1|ffdhe\d+|X25519MLKEM768|SecP\d+r1MLKEM\d+|0x[0-9a-f]{4})$/i } @{ $r->{offered_groups} }),
	'probe with SNI and ALPN: offered_groups are group names') or diag explain $r->{offered_groups};

# a bare TCP connection that sends nothing is no attempt
$off = log_offset($node);
raw_packet($node, '');
usleep(500_000);
is(scalar(new_records($node, $off)), 0, 'bare TCP probe: no record');

# ---- bad start-up packets
$off = log_offset($node);
raw_packet($node, pack('N', 4));
$r = only_record($node, $off, 'invalid packet length');
check('invalid packet length', $r, event => 'handshake', outcome => 'failed',
	reason => 'invalid length of startup packet', sqlstate => '08P01', ssl => JSON::PP::false,
	user => undef);

$off = log_offset($node);
like(raw_packet($node, pack('NN', 8, 0x00090000)), qr/unsupported frontend protocol/,
	'unsupported protocol: refused');
$r = only_record($node, $off, 'unsupported protocol');
check('unsupported protocol', $r, event => 'handshake', outcome => 'failed',
	reason => qr/^unsupported frontend protocol 9\.0: server supports 3\.0 to 3\.\d$/,
	sqlstate => '0A000');

# ---- connection limits
$node->safe_psql('postgres', q{
	ALTER ROLE regress_bob CONNECTION LIMIT 1;
	CREATE DATABASE regress_limited CONNECTION LIMIT 1;
	GRANT CONNECT ON DATABASE regress_limited TO PUBLIC;
});
my $bob = open_session($node, user => 'regress_bob', password => 'regress_pw');
$off = log_offset($node);
my $res = attempt($node, user => 'regress_bob', password => 'regress_pw');
isnt($res->{rc}, 0, 'role connection limit: refused');
$r = only_record($node, $off, 'role connection limit');
check('role connection limit', $r, event => 'authorization', outcome => 'failed',
	reason => 'too many connections for role "regress_bob"', sqlstate => '53300',
	user => 'regress_bob', protocol => 'TLSv1.3', identity => 'regress_bob');
$bob->close;

my $alice = open_session($node, user => 'regress_alice', password => 'regress_pw', dbname => 'regress_limited');
$off = log_offset($node);
$res = attempt($node, user => 'regress_alice', password => 'regress_pw', dbname => 'regress_limited');
isnt($res->{rc}, 0, 'database connection limit: refused');
$r = only_record($node, $off, 'database connection limit');
check('database connection limit', $r, event => 'authorization', outcome => 'failed',
	reason => 'too many connections for database "regress_limited"', sqlstate => '53300',
	database => 'regress_limited');
$alice->close;
is($s->query("SELECT string_agg(reason, ' | ' ORDER BY ts) FROM pgtls_audit.connections WHERE sqlstate = '53300'"),
	'too many connections for role "regress_bob" | too many connections for database "regress_limited"',
	'connection limits: both in pgtls_audit.connections');
$s->close;

# ---- shutting down: a smart shutdown waits for the open session
my $held = open_session($node, user => 'regress_alice', password => 'regress_pw');
my $stopper = IPC::Run::start([ 'pg_ctl', '-D', $node->data_dir, '-m', 'smart', 'stop' ],
	'>', \my $sout, '2>', \my $serr);
usleep(1_000_000);
$off = log_offset($node);
$res = attempt($node, user => 'regress_alice', password => 'regress_pw');
like($res->{stderr}, qr/the database system is shutting down/, 'shutting down: refused');
$r = only_record($node, $off, 'shutting down');
check('shutting down', $r, event => 'handshake', outcome => 'failed',
	reason => 'the database system is shutting down', sqlstate => '57P03',
	user => 'regress_alice', protocol => 'TLSv1.3');
$held->close;
$stopper->finish;
$node->_update_pid(0);

# ---- max_connections: every slot taken
my $small = tls_node('max_conn', extra_conf => "max_connections = 3\nsuperuser_reserved_connections = 0\n");
my @hold = map { open_session($small, user => 'regress_alice', password => 'regress_pw') } 1 .. 3;
$off = log_offset($small);
$res = attempt($small, user => 'regress_alice', password => 'regress_pw');
like($res->{stderr}, qr/sorry, too many clients already/, 'max_connections: refused');
$r = only_record($small, $off, 'max_connections');
check('max_connections', $r, event => 'handshake', outcome => 'failed',
	reason => 'sorry, too many clients already', sqlstate => '53300',
	user => 'regress_alice', protocol => 'TLSv1.3');
$_->close for @hold;
$small->stop;

# ---- a standby that does not accept connections (hot_standby = off)
my $standby = tls_node('standby', extra_conf => "hot_standby = off\n", no_start => 1);
open my $sig, '>', $standby->data_dir . '/standby.signal' or die $!;
close $sig;
$standby->start;
$off = log_offset($standby);
$res = attempt($standby, user => 'regress_alice', password => 'regress_pw');
like($res->{stderr}, qr/the database system is not accepting connections/, 'standby: refused');
$r = only_record($standby, $off, 'standby without hot_standby');
check('standby without hot_standby', $r, event => 'handshake', outcome => 'failed',
	reason => 'the database system is not accepting connections', sqlstate => '57P03',
	user => 'regress_alice', protocol => 'TLSv1.3');
$standby->stop;

done_testing();
