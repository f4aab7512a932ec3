# 012_pg19_sni.pl: PostgreSQL 19's server-side SNI (ssl_sni = on,
# pg_hosts.conf) as the audit record sees it, and the behaviour before 19.
#
# One cluster with a pg_hosts.conf of three lines: db1.test (and an alias)
# with the harness's server certificate, db2.test with its 5-day
# certificate, and the "*" default with the EC certificate.  Connections
# by each name, by IP address (libpq sends no SNI), and by an unknown name.
#  - 19: ssl_sni = on; each record carries the server name and the
#    pg_hosts.conf line that served it (host_entry); the certificate each
#    client was served (openssl s_client) is that line's; the raw
#    ClientHello is not observable on 19, so offered_versions and ja4 are
#    null and sni comes from the TLS session.
#  - 15 to 18: the file is ignored by the server; host_entry is null, sni
#    comes from the raw ClientHello.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Copy;
use IPC::Run;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $pki = pki();
my $node = tls_node('sni', no_start => 1);
my $dd = $node->data_dir;
my $pg19 = $node->pg_version->major >= 19;

for my $f (qw(server server_expiring server_ec))
{
	copy("$pki/$f.crt", "$dd/$f.crt") or die $!;
	copy("$pki/$f.key", "$dd/$f.key") or die $!;
	chmod 0600, "$dd/$f.key";
}
my $hosts = "$dd/pg_hosts.conf";
open my $fh, '>', $hosts or die $!;
print $fh <<'EOF';
# pg_hosts.conf of 012_pg19_sni
db1.test, db1-alias.test   server.crt           server.key
"db2.test"                 server_expiring.crt  server_expiring.key   # expires in 5 days
*                          server_ec.crt        server_ec.key
EOF
close $fh;
$node->append_conf('postgresql.conf', "ssl_sni = on\nlog_min_messages = warning\n") if $pg19;
$node->start;
$node->safe_psql('postgres', slurp_text(srcdir() . '/test/conf/setup.sql'));

sub fingerprint
{
	my ($file) = @_;
	my $out = `openssl x509 -in $file -noout -fingerprint -sha256`;
	$out =~ s/^.*=//;
	$out =~ s/[:\s]//g;
	return lc $out;
}

# The leaf the server sends to a client asking for $name (undef: no SNI)
sub served_fingerprint
{
	my ($name) = @_;
	my ($out, $err) = ('', '');
	my @sn = defined $name ? ('-servername', $name) : ('-noservername');
	IPC::Run::run([ 'openssl', 's_client', '-connect', '127.0.0.1:' . $node->port,
			'-starttls', 'postgres', @sn ],
		'<', \'', '>', \$out, '2>', \$err);
	my ($pem) = $out =~ /(-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----)/s;
	return 'none' unless $pem;
	my ($fp, $e2) = ('', '');
	IPC::Run::run([ 'openssl', 'x509', '-noout', '-fingerprint', '-sha256' ],
		'<', \$pem, '>', \$fp, '2>', \$e2);
	$fp =~ s/^.*=//;
	$fp =~ s/[:\s]//g;
	return lc $fp;
}

my %fp = (
	server => fingerprint("$pki/server.crt"),
	server_expiring => fingerprint("$pki/server_expiring.crt"),
	server_ec => fingerprint("$pki/server_ec.crt"));

# name => [ sni in the record, pg_hosts.conf line on 19, certificate on 19 ]
my @cases = (
	[ 'db1.test', 'db1.test', 2, 'server' ],
	[ 'DB1-Alias.test', 'DB1-Alias.test', 2, 'server' ],
	[ 'db2.test', 'db2.test', 3, 'server_expiring' ],
	[ 'unknown.test', 'unknown.test', 4, 'server_ec' ],
	[ undef, undef, 4, 'server_ec' ]);

for my $c (@cases)
{
	my ($name, $sni, $line, $cert) = @$c;
	my $label = 'connect ' . ($name // 'by IP address (no SNI)');
	my $off = log_offset($node);
	my $res = attempt($node, user => 'regress_app', password => 'regress_pw',
		$name ? (sni_host => $name) : ());
	is($res->{rc}, 0, "$label: connects") or diag $res->{stderr};
	my @recs = wait_records($node, $off, 1);
	my $r = $recs[0] // {};
	is($r->{outcome}, 'success', "$label: success recorded");
	is($r->{sni}, $sni, "$label: sni");
	if ($pg19)
	{
		is($r->{host_entry}, "$hosts:$line", "$label: host_entry is pg_hosts.conf line $line");
	}
	else
	{
		is($r->{host_entry}, undef, "$label: host_entry null before 19");
	}
	# the raw ClientHello on every version (on 19 through the connection's
	# BIO, README "What PostgreSQL 19 lets an extension see"): JA4 marks a
	# server name with d, none with i
	like($r->{ja4} // '', defined $sni ? qr/^t13d\d{4}/ : qr/^t13i\d{4}/,
		"$label: ja4 from the raw ClientHello");
	is($r->{offered_versions}, 'TLSv1.3,TLSv1.2',
		"$label: offered_versions from the raw ClientHello");
}

# The certificate each name is served, seen by a client (after the records
# above: each s_client probe is an attempt of its own)
for my $c (@cases)
{
	my ($name, $sni, $line, $cert) = @$c;
	my $label = 'served to ' . ($name // 'a client without SNI');
	if ($pg19)
	{
		is(served_fingerprint($name), $fp{$cert}, "$label: $cert, pg_hosts.conf line $line");
	}
	else
	{
		is(served_fingerprint($name), $fp{server}, "$label: ssl_cert_file before 19");
	}
}

# is_served of ssl_cert_file (README "What PostgreSQL 19 lets an extension
# see"): with ssl_sni = on no module sees the per-host contexts, so outside
# a TLS session it is unknown and the note says why; inside one it is read
# from the session, whose certificate the client's name chose
$node->safe_psql('postgres', 'CREATE EXTENSION IF NOT EXISTS pgtls_audit; GRANT pg_monitor TO regress_app');
my $leaf_q = q{SELECT sha256_fingerprint || '|' || coalesce(is_served::text, 'null')
  FROM pgtls_audit.server_certificates WHERE source = 'ssl_cert_file' AND "position" = 1};
my $served_q = q{SELECT coalesce(string_agg(sha256_fingerprint, ','), 'none')
  FROM pgtls_audit.server_certificates WHERE source = 'served'};
my $note_q = q{SELECT coalesce(note, 'null')
  FROM pgtls_audit.server_certificates WHERE source = 'ssl_cert_file' AND "position" = 1};

sub tls_query
{
	my ($name, $sql) = @_;
	my $r = attempt($node, user => 'regress_app', password => 'regress_pw', sni_host => $name, sql => $sql);
	is($r->{rc}, 0, "TLS session as $name works") or diag $r->{stderr};
	return $r->{stdout};
}

if ($pg19)
{
	is($node->safe_psql('postgres', $leaf_q), "$fp{server}|null",
		'19, ssl_sni on, socket session: is_served unknown');
	is($node->safe_psql('postgres', $note_q),
		'with ssl_sni = on the server chooses a certificate per connection from the hosts file (hosts_file) and no module sees its contexts: the served certificate is known only in a TLS session',
		'19, ssl_sni on, socket session: the note says why');
	is(tls_query('db1.test', $leaf_q), "$fp{server}|true", '19: TLS session as db1.test: served ssl_cert_file\'s leaf');
	is(tls_query('db2.test', $leaf_q), "$fp{server}|false", '19: TLS session as db2.test: not served ssl_cert_file\'s leaf');
	is(tls_query('db2.test', $served_q), $fp{server_expiring}, '19: TLS session as db2.test: the served row is its line\'s certificate');
}
else
{
	is($node->safe_psql('postgres', $leaf_q), "$fp{server}|true",
		'before 19, socket session: ssl_cert_file is served');
	is($node->safe_psql('postgres', $note_q), 'null', 'before 19, socket session: no note');
	is(tls_query('db1.test', $leaf_q), "$fp{server}|true", 'before 19: TLS session as db1.test: ssl_cert_file is served');
	is(tls_query('db2.test', $leaf_q), "$fp{server}|true", 'before 19: TLS session as db2.test: the name changes nothing');
	is(tls_query('db2.test', $served_q), 'none', 'before 19: TLS session as db2.test: no served row');
}

done_testing();
