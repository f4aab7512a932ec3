use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $pki = pki();
my $tmp = PostgreSQL::Test::Utils::tempdir();

# foo@example.com: a valid certificate of the intermediate for a name that is no role
system('openssl', 'req', '-new', '-newkey', 'rsa:2048', '-nodes', '-keyout', "$tmp/client_foo.key",
	'-subj', '/O=pgtls_audit tests/OU=clients/CN=foo@example.com', '-out', "$tmp/client_foo.csr") == 0 or die;
system('openssl', 'x509', '-req', '-in', "$tmp/client_foo.csr", '-CA', "$pki/intermediate_ca.crt",
	'-CAkey', "$pki/intermediate_ca.key", '-CAcreateserial', '-days', '30', '-out', "$tmp/client_foo.crt") == 0 or die;
chmod 0600, "$tmp/client_foo.key";

my $hba = <<'EOF';
local     all all                           trust
hostssl   all kong               127.0.0.1/32 cert
hostssl   all regress_scram_user 127.0.0.1/32 scram-sha-256 clientcert=verify-full
hostssl   all all                127.0.0.1/32 scram-sha-256
EOF
my $node = tls_node('diag', hba => $hba, extra_conf => "ssl_crl_file = '$pki/crl_chain.pem'\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit; CREATE ROLE kong LOGIN');

sub s_client
{
	my ($n, @args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'openssl', 's_client', '-connect', '127.0.0.1:' . $n->port,
			'-starttls', 'postgres', @args ], '<', \'', '>', \$out, '2>', \$err);
	return $out . $err;
}

sub libpq
{
	my ($n, $conn, $pw) = @_;
	local $ENV{PGPASSWORD} = $pw // '';
	local $ENV{PGPASSFILE} = '/nonexistent';
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-A', '-t', '-w', '-d', "port=" . $n->port . " dbname=postgres connect_timeout=10 $conn", '-c', 'select 1' ],
		'<', \undef, '>', \$out, '2>', \$err);
	return $err;
}

s_client($node, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0');
attempt($node, user => 'regress_cert_user', cert => 'client_untrusted');
attempt($node, user => 'regress_cert_user', cert => 'client_expired');
attempt($node, user => 'regress_bob', cert => 'client_revoked', password => 'regress_pw');
diag libpq($node, "host=127.0.0.1 user=kong sslmode=require sslcert=$tmp/client_foo.crt sslkey=$tmp/client_foo.key sslrootcert=$pki/root.crt");
attempt($node, user => 'regress_scram_user', password => 'regress_pw');
attempt($node, user => 'regress_alice', password => 'regress_pw', sslmode => 'disable');
s_client($node);
diag libpq($node, "host=db.example.com hostaddr=127.0.0.1 user=regress_alice sslmode=verify-full sslrootcert=$pki/root.crt sslcert=$pki/no.crt sslkey=$pki/no.key", 'regress_pw');
attempt($node, user => 'regress_alice', password => 'wrong');
usleep(500_000);
diag $node->safe_psql('postgres', 'SELECT event, outcome, sqlstate, reason, user_name, client_dn, hba_line, auth_method, identity FROM pgtls_audit.connections');
diag $node->safe_psql('postgres', q{SELECT cause, attempts, clients, example, explanation, fix, finding FROM pgtls_audit.diagnose()});
diag $node->safe_psql('postgres', q{SELECT pgtls_audit.report()});

my $leaf = tls_node('leaf', extra_conf => "ssl_cert_file = '$pki/server_leaf.crt'\nssl_ca_file = '$pki/root.crt'\n");
$leaf->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
diag attempt($leaf, user => 'regress_alice', password => 'regress_pw', sslmode => 'verify-ca')->{stderr};
usleep(500_000);
diag $leaf->safe_psql('postgres', 'SELECT event, outcome, sqlstate, reason, user_name FROM pgtls_audit.connections');
diag $leaf->safe_psql('postgres', q{SELECT cause, attempts, clients, example, explanation, fix, finding FROM pgtls_audit.diagnose()});

my $off = tls_node('off', hba => "local all all trust\nhostssl all all 127.0.0.1/32 scram-sha-256\n", extra_conf => "ssl = off\n");
$off->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
diag attempt($off, user => 'regress_alice', password => 'regress_pw', sslmode => 'prefer')->{stderr};
diag attempt($off, user => 'regress_alice', password => 'regress_pw', sslmode => 'require')->{stderr};
usleep(500_000);
diag $off->safe_psql('postgres', 'SELECT event, outcome, sqlstate, reason, user_name, ssl FROM pgtls_audit.connections');
diag $off->safe_psql('postgres', q{SELECT cause, attempts, clients, example, explanation, fix, finding FROM pgtls_audit.diagnose()});
ok(1);
done_testing();
