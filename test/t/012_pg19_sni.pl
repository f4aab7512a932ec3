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

copy("$pki/ca_bundle.crt", "$dd/ca_bundle.crt") or die $!;
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
db1.test, db1-alias.test   server.crt           server.key            ca_bundle.crt
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

# server_certificates, expiring() and server_key_check() over pg_hosts.conf
# (README "PostgreSQL 19: pg_hosts.conf certificates"): on 19 with ssl_sni
# on, every line's certificate, chain and CA file; none before 19
my $hosts_rows_q = q{SELECT string_agg(hosts_line || '|' || array_to_string(host_names, ',') || '|' ||
    hosts_field || '|' || path || '|' || "position" || '|' || coalesce(is_served::text, 'null') || '|' ||
    coalesce(chain_verifies::text, 'null') || '|' || hosts_file, E'\n'
    ORDER BY hosts_line, hosts_field DESC, "position")
  FROM pgtls_audit.server_certificates WHERE source = 'pg_hosts.conf'};
my $fp_q = q{SELECT string_agg(sha256_fingerprint, ',' ORDER BY hosts_line)
  FROM pgtls_audit.server_certificates WHERE source = 'pg_hosts.conf' AND hosts_field = 'ssl_certificate' AND "position" = 1};
my $other_q = q{SELECT count(*) FROM pgtls_audit.server_certificates
  WHERE source <> 'pg_hosts.conf' AND (host_names IS NOT NULL OR hosts_file IS NOT NULL OR hosts_line IS NOT NULL OR hosts_field IS NOT NULL)};
my $exp_q = q{SELECT string_agg(kind || '|' || path, ',' ORDER BY path) FROM pgtls_audit.expiring('10 days') WHERE source = 'pg_hosts.conf'};
my $key_q = q{SELECT string_agg(source || '|' || coalesce(hosts_line::text, '-') || '|' || key_file || '|' ||
    coalesce(array_to_string(host_names, ','), '-') || '|' || matches_certificate || '|' || permissions_ok, E'\n' ORDER BY hosts_line NULLS FIRST)
  FROM pgtls_audit.server_key_check()};
is($node->safe_psql('postgres', $other_q), '0', 'the host columns are null outside pg_hosts.conf rows');
if ($pg19)
{
	is($node->safe_psql('postgres', $hosts_rows_q), join("\n",
			"2|db1.test,db1-alias.test|ssl_certificate|server.crt|1|null|true|$hosts",
			"2|db1.test,db1-alias.test|ssl_certificate|server.crt|2|null|null|$hosts",
			"2|db1.test,db1-alias.test|ssl_ca|ca_bundle.crt|1|null|null|$hosts",
			"2|db1.test,db1-alias.test|ssl_ca|ca_bundle.crt|2|null|null|$hosts",
			"3|db2.test|ssl_certificate|server_expiring.crt|1|null|null|$hosts",
			"3|db2.test|ssl_certificate|server_expiring.crt|2|null|null|$hosts",
			"4|*|ssl_certificate|server_ec.crt|1|null|null|$hosts",
			"4|*|ssl_certificate|server_ec.crt|2|null|null|$hosts"),
		'19: server_certificates: every pg_hosts.conf line, leaf, chain and CA file');
	is($node->safe_psql('postgres', $fp_q), "$fp{server},$fp{server_expiring},$fp{server_ec}",
		'19: each line\'s leaf is its file\'s certificate');
	is(tls_query('db2.test', q{SELECT string_agg(hosts_line || ':' || coalesce(is_served::text, 'null'), ',' ORDER BY hosts_line)
		  FROM pgtls_audit.server_certificates WHERE source = 'pg_hosts.conf' AND hosts_field = 'ssl_certificate' AND "position" = 1}),
		'2:null,3:true,4:null', '19: TLS session as db2.test: its line is served');
	is($node->safe_psql('postgres', $exp_q), 'server_certificate|server_expiring.crt',
		'19: expiring() lists the 5-day certificate of pg_hosts.conf line 3');
	is($node->safe_psql('postgres', $key_q), join("\n",
			"ssl_key_file|-|$pki/server.key|-|true|true",
			"pg_hosts.conf|2|server.key|db1.test,db1-alias.test|true|true",
			"pg_hosts.conf|3|server_expiring.key|db2.test|true|true",
			"pg_hosts.conf|4|server_ec.key|*|true|true"),
		'19: server_key_check(): ssl_key_file and every line\'s key');
}
else
{
	is($node->safe_psql('postgres', $hosts_rows_q), '', 'before 19: no pg_hosts.conf rows');
	is($node->safe_psql('postgres', $exp_q), '', 'before 19: expiring() has no pg_hosts.conf rows');
	is($node->safe_psql('postgres', $key_q), "ssl_key_file|-|$pki/server.key|-|true|true",
		'before 19: server_key_check(): ssl_key_file only');
}

# pg_hosts.conf findings HOST001-HOST008 (README "Checks"), read from the
# file on disk: the file above, a deliberately bad one, a good one, an
# empty one, a refused line and a missing file.  The harness's pg_hba.conf
# has cert lines (HOST005 for lines without a CA file); its certificates
# name localhost only (HOST003 for the test names).
my $host_f_q = q{SELECT coalesce(string_agg(check_id || '|' || location, ',' ORDER BY check_id, location), 'none')
  FROM pgtls_audit.findings WHERE check_id LIKE 'HOST%'};
sub write_hosts
{
	my ($text) = @_;
	open my $hf, '>', $hosts or die $!;
	print $hf $text;
	close $hf;
}
my %host_findings = (
	as_configured => [ undef,
		"HOST003|$hosts:2,HOST003|$hosts:2,HOST003|$hosts:3,HOST005|$hosts:3,HOST005|$hosts:4" ],
	bad => [ "localhost           server.crt     server_ec.key  ca_bundle.crt\n"
		  . "db9.test, LOCALHOST  server_ec.crt  server_ec.key  ca_bundle.crt\n",
		"HOST002|$hosts:1,HOST003|$hosts:2,HOST004|$hosts,HOST006|$hosts:2" ],
	good => [ "localhost  server.crt     server.key     ca_bundle.crt\n"
		  . "*          server_ec.crt  server_ec.key  ca_bundle.crt\n", 'none' ],
	empty => [ "# no line\n", 'HOST008|hosts_file' ],
	refused => [ "localhost server.crt\n* server_ec.crt server_ec.key ca_bundle.crt\n", "HOST001|$hosts:1" ]);
for my $case (qw(as_configured bad good empty refused))
{
	my ($text, $want) = @{ $host_findings{$case} };
	write_hosts($text) if defined $text;
	is($node->safe_psql('postgres', $host_f_q), $pg19 ? $want : 'none',
		($pg19 ? '19' : 'before 19') . ": HOST findings, $case hosts file");
}
if ($pg19)
{
	write_hosts($host_findings{bad}[0]);
	like($node->safe_psql('postgres', q{SELECT message FROM pgtls_audit.findings WHERE check_id = 'HOST002'}),
		qr/^private key "server_ec.key" does not match the certificate in "server.crt"$/,
		'19: HOST002 names the mismatched key and certificate');
	like($node->safe_psql('postgres', q{SELECT message FROM pgtls_audit.findings WHERE check_id = 'HOST003'}),
		qr/^host name "db9.test" is not covered by the certificate in "server_ec.crt"/,
		'19: HOST003 names the host and the certificate');
	is($node->safe_psql('postgres', q{SELECT string_agg(hosts_line || ':' || matches_certificate, ',' ORDER BY hosts_line)
		  FROM pgtls_audit.server_key_check() WHERE source = 'pg_hosts.conf'}),
		'1:false,2:true', '19: server_key_check() sees the mismatched key of line 1');
	unlink $hosts;
	like($node->safe_psql('postgres', $host_f_q), qr/^HOST001\|hosts_file$/, '19: HOST001, hosts file missing');
}
write_hosts("*  server_ec.crt  server_ec.key\n");

# oauth lines (18+) while oauth_validator_libraries is empty (the default):
# the server's own parser refuses them, so the findings report HBA001 with
# the server's message (its wording differs between 18 and 19); before 18
# oauth is an unknown method (HBA001 too)
my $oauth_hba = "$dd/pg_hba_oauth.conf";
open my $oh, '>', $oauth_hba or die $!;
print $oh "host all all 127.0.0.1/32 oauth issuer=https://issuer.example scope=openid\n";
close $oh;
my $oauth_msg = $node->safe_psql('postgres',
	"SELECT string_agg(check_id || '|' || message, ',') FROM pgtls_audit.check_config('$oauth_hba') WHERE check_id = 'HBA001'");
if ($node->pg_version->major >= 18)
{
	like($oauth_msg, qr/^HBA001\|.*oauth_validator_libraries"? must be set for authentication method "?oauth/,
		'18+: oauth line with oauth_validator_libraries empty: HBA001 with the server\'s message');
}
else
{
	like($oauth_msg, qr/^HBA001\|.*invalid authentication method "oauth"/,
		'before 18: oauth is an unknown method: HBA001');
}

done_testing();
