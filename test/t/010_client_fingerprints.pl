# 010_client_fingerprints.pl: what each client offered, in the inventory.
# Real handshakes from libpq (over TCP by IP address: no SNI; by host
# name: SNI) and from openssl s_client (TLS 1.2 with two suites, server
# name and ALPN; a CBC-only client; a TLS 1.1 client the server refuses; a
# client whose key share the server does not accept, so that it answers
# with a HelloRetryRequest).  Checks that pgtls_audit.connections carries
# exactly what each audit record says, that client_fingerprints has one
# row per JA4 with the right counts, users and addresses, kept across a
# restart, and what settings_impact() and report() say about hardening.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $pki = pki();
my $node = tls_node('fingerprints', extra_conf => "pgtls_audit.log_format = 'json'\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
my $server_version = $node->safe_psql('postgres', 'SHOW server_version_num');

sub s_client
{
	my (@args) = @_;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'openssl', 's_client', '-connect', '127.0.0.1:' . $node->port,
			'-starttls', 'postgres', @args ],
		'<', \'', '>', \$out, '2>', \$err);
	return $out . $err;
}

# libpq by host name (SNI sent: sslsni=1 is the default), address given
sub by_name
{
	my (%o) = @_;
	local $ENV{PGPASSWORD} = 'regress_pw';
	local $ENV{PGPASSFILE} = '/nonexistent';
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-A', '-t', '-w', '-d',
			"host=localhost hostaddr=127.0.0.1 port=" . $node->port
			  . " dbname=postgres user=$o{user} sslmode=require application_name=$o{app}"
			  . " sslcert=$pki/no-such.crt sslkey=$pki/no-such.key",
			'-c', 'select 1' ],
		'<', \undef, '>', \$out, '2>', \$err);
	return $? >> 8;
}

my $s = open_session($node);
$s->query('SELECT pgtls_audit.reset()');
my $off = log_offset($node);

# 1-2. libpq defaults by IP address, twice, as two users and applications
is(attempt($node, user => 'regress_alice', password => 'regress_pw', appname => 'app_one')->{rc},
	0, 'libpq by address: connected');
is(attempt($node, user => 'regress_bob', password => 'regress_pw', appname => 'app_two')->{rc},
	0, 'libpq by address, another user: connected');
# 3. libpq by host name
is(by_name(user => 'regress_alice', app => 'app_sni'), 0, 'libpq by host name: connected');
# 4. TLS 1.2 only, two suites, a server name and ALPN
like(s_client('-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384',
		'-servername', 'db.example.com', '-alpn', 'postgresql'),
	qr/Cipher is ECDHE-RSA-AES/, 'TLS 1.2 probe: handshake completed');
# 5. a client offering CBC suites only
like(s_client('-tls1_2', '-cipher', 'ECDHE-RSA-AES128-SHA:AES128-SHA'),
	qr/Cipher is (ECDHE-RSA-)?AES128-SHA/, 'CBC-only probe: handshake completed');
# 6. TLS 1.1 only: refused by ssl_min_protocol_version (TLSv1.2)
unlike(s_client('-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'),
	qr/Cipher is [A-Z]/, 'TLS 1.1 probe: refused');
# 7. a key share in a group the server does not take first: x448 then
# P-256 (the server's groups are prime256v1 before 18, X25519:prime256v1
# from 18): the server asks again with a HelloRetryRequest
like(s_client('-tls1_3', '-groups', 'x448:P-256'), qr/Cipher is TLS_/,
	'HelloRetryRequest probe: handshake completed');

my @recs = wait_records($node, $off, 7);
usleep(300_000);
@recs = grep { defined $_->{ja4} } new_records($node, $off);
is(scalar(@recs), 7, 'seven records with a ClientHello') or diag explain \@recs;

# --- connections: every offer column exactly as the record says
my @cols = qw(sni offered_versions offered_ciphers offered_groups offered_alpn ja4);
my $rows = $s->query(
	"SELECT json_agg(json_build_object('pid', pid, 'sni', sni, 'offered_versions', offered_versions,"
	  . " 'offered_ciphers', offered_ciphers, 'offered_groups', offered_groups,"
	  . " 'offered_alpn', offered_alpn, 'ja4', ja4)) FROM pgtls_audit.connections WHERE ja4 IS NOT NULL");
my %by_pid = map { $_->{pid} => $_ } @{ decode_json($rows) };
for my $r (@recs)
{
	my $c = $by_pid{ $r->{pid} } // {};
	is_deeply([ map { $c->{$_} } @cols ], [ map { $r->{$_} } @cols ],
		"connections row of pid $r->{pid} has the record's offer ($r->{ja4})");
}
is($s->query("SELECT count(*) FROM pgtls_audit.connections WHERE NOT ssl AND ja4 IS NULL AND offered_versions IS NULL"),
	$s->query("SELECT count(*) FROM pgtls_audit.connections WHERE NOT ssl"),
	'plaintext rows: no offer columns');

my ($sni_rec) = grep { ($_->{application_name} // '') eq 'app_sni' } @recs;
is($sni_rec->{sni}, 'localhost', 'libpq by host name: sni localhost');
my @by_ip = grep { ($_->{application_name} // '') =~ /^app_(one|two)$/ } @recs;
is(scalar(grep { !defined $_->{sni} } @by_ip), 2, 'libpq by address: no sni');
my ($tls11) = grep { ($_->{outcome} // '') eq 'failed' } @recs;
is_deeply($tls11->{offered_versions}, ['TLSv1.1'], 'refused TLS 1.1 client: offered_versions');
my ($hrr) = grep { ($_->{offered_groups} // [])->[0] && $_->{offered_groups}[0] eq 'x448' } @recs;
ok(defined $hrr, 'HelloRetryRequest client: one record, from its first ClientHello');

# --- client_fingerprints: one row per JA4
my %count;
$count{ $_->{ja4} }++ for @recs;
my $fps = decode_json($s->query(
	"SELECT json_agg(f) FROM (SELECT * FROM pgtls_audit.client_fingerprints ORDER BY ja4) f"));
is_deeply([ map { $_->{ja4} } @$fps ], [ sort keys %count ], 'one fingerprint row per distinct JA4');
for my $f (@$fps)
{
	my @mine = grep { $_->{ja4} eq $f->{ja4} } @recs;
	is($f->{connections}, scalar(@mine), "$f->{ja4}: connections");
	is($f->{handshake_failures}, scalar(grep { $_->{event} eq 'handshake' && $_->{outcome} eq 'failed' } @mine),
		"$f->{ja4}: handshake_failures");
	my %users = map { $_->{user} => 1 } grep { defined $_->{user} } @mine;
	is_deeply([ sort @{ $f->{user_names} } ], [ sort keys %users ], "$f->{ja4}: user_names");
	is($f->{client_addresses}, 1, "$f->{ja4}: one client address");
	is_deeply($f->{offered_versions}, $mine[0]{offered_versions}, "$f->{ja4}: offered_versions");
	is_deeply($f->{offered_groups}, $mine[0]{offered_groups}, "$f->{ja4}: offered_groups");
	my @pq = grep { /MLKEM|Kyber|^0x11e[bcd]$|^0x639[9a]$|^0x020[012]$/i } @{ $mine[0]{offered_groups} // [] };
	is_deeply($f->{post_quantum_groups}, \@pq, "$f->{ja4}: post_quantum_groups");
	is($f->{offers_post_quantum} ? 1 : 0, @pq ? 1 : 0, "$f->{ja4}: offers_post_quantum");
	my ($hi) = sort { $b cmp $a } @{ $mine[0]{offered_versions} };
	is($f->{highest_offered_version}, $hi, "$f->{ja4}: highest_offered_version");
}
my ($libpq_fp) = grep { $_->{ja4} eq $by_ip[0]{ja4} } @$fps;
is_deeply([ sort @{ $libpq_fp->{user_names} } ], [ 'regress_alice', 'regress_bob' ],
	'libpq fingerprint: both users');
ok(scalar(grep { $_ eq 'app_one' } @{ $libpq_fp->{application_names} })
	  && scalar(grep { $_ eq 'app_two' } @{ $libpq_fp->{application_names} }),
	'libpq fingerprint: both applications');
is($by_ip[0]{ja4}, $by_ip[1]{ja4}, 'the same libpq gives the same JA4 for both users');
my ($hrr_fp) = grep { $_->{ja4} eq $hrr->{ja4} } @$fps;
is_deeply($hrr_fp->{key_share_groups}, ['x448'], 'HelloRetryRequest client: key share of the first ClientHello');
is($s->query('SELECT fingerprints_entries FROM pgtls_audit.stats'), scalar(keys %count),
	'stats: fingerprints_entries');

# --- settings_impact
my ($tls12) = grep { ($_->{sni} // '') eq 'db.example.com' } @recs;
my ($cbc) = grep {
	join(',', grep { $_ ne 'TLS_EMPTY_RENEGOTIATION_INFO_SCSV' } @{ $_->{offered_ciphers} })
	  eq 'ECDHE-RSA-AES128-SHA,AES128-SHA'
} @recs;
ok(defined $cbc, 'the CBC-only client offered exactly its two suites');
sub impact
{
	my ($args, $ja4) = @_;
	return $s->query("SELECT breaks || '|' || COALESCE(why, '') || '|' || COALESCE(would_negotiate, '')"
		  . " FROM pgtls_audit.settings_impact($args) WHERE ja4 = '$ja4'");
}
like(impact('', $by_ip[0]{ja4}), qr/^false\|\|TLSv1\.3 TLS_/, 'as configured: libpq negotiates TLS 1.3');
is(impact("'TLSv1.3'", $tls12->{ja4}),
	'true|no common protocol version (client offers at most TLSv1.2)|',
	'TLSv1.3 minimum: the TLS 1.2 client breaks');
like(impact("'TLSv1.3'", $by_ip[0]{ja4}), qr/^false\|\|TLSv1\.3 /, 'TLSv1.3 minimum: libpq does not break');
my $aead = "ssl_ciphers => 'ECDHE+AESGCM:ECDHE+CHACHA20'";
is(impact($aead, $cbc->{ja4}), 'true|no common cipher suite|',
	'AEAD-only list: the CBC-only client breaks');
like(impact($aead, $by_ip[0]{ja4}), qr/^false\|\|TLSv1\.3 /, 'AEAD-only list: libpq does not break');
like(impact($aead, $tls12->{ja4}), qr/^false\|\|TLSv1\.2 ECDHE-RSA-AES(128-GCM-SHA256|256-GCM-SHA384)$/,
	'AEAD-only list: the TLS 1.2 GCM client keeps a GCM suite');
is(impact("'TLSv1.3', ssl_groups => 'brainpoolP256r1'", $by_ip[0]{ja4}), 'true|no common group|',
	'TLSv1.3 with a group no client offers: no common group');
like(impact("ssl_max_protocol_version => 'TLSv1.2'", $tls11->{ja4}),
	qr/^true\|no common protocol version \(client offers at most TLSv1\.1\)\|$/,
	'the refused TLS 1.1 client breaks as it does now');
is($s->query("SELECT count(*) FROM pgtls_audit.settings_impact()"), scalar(keys %count),
	'settings_impact: one row per fingerprint');

# errors: clear, with errcodes
sub sqlstate_of
{
	my ($sql) = @_;
	my ($rc, $out, $err) = $node->psql('postgres', $sql, on_error_stop => 1);
	my $v = $node->safe_psql('postgres', "SELECT 1");    # still up
	return $err =~ /ERROR:\s+(.*)/ ? $1 : "no error ($out)";
}
my $q = "SELECT count(*) FROM pgtls_audit.settings_impact";
like(sqlstate_of("\\set VERBOSITY verbose\n$q('TLSv9')"), qr/^22023: invalid value for a TLS protocol version: "TLSv9"/,
	'bad protocol version: 22023');
like(sqlstate_of("\\set VERBOSITY verbose\n$q('TLSv1.3', 'TLSv1.2')"), qr/^22023: ssl_min_protocol_version "TLSv1.3" is higher/,
	'min above max: 22023');
like(sqlstate_of("\\set VERBOSITY verbose\n$q(ssl_ciphers => 'NO-SUCH-CIPHER')"), qr/^22023: could not set the cipher list/,
	'bad cipher list: 22023');
if ($server_version < 180000)
{
	like(sqlstate_of("\\set VERBOSITY verbose\n$q(ssl_tls13_ciphers => 'TLS_AES_128_GCM_SHA256')"),
		qr/^0A000: ssl_tls13_ciphers requires PostgreSQL 18 or later/, 'ssl_tls13_ciphers before 18: 0A000');
}
else
{
	is(impact("ssl_tls13_ciphers => 'TLS_AES_128_GCM_SHA256'", $by_ip[0]{ja4}),
		'false||TLSv1.3 TLS_AES_128_GCM_SHA256', 'ssl_tls13_ciphers on 18+: the proposed suite is used');
}

# privileges: pg_monitor only for settings_impact, pg_read_all_stats for
# the fingerprints; other roles get 42501
$node->safe_psql('postgres', 'CREATE ROLE regress_fp_plain LOGIN; CREATE ROLE regress_fp_mon LOGIN IN ROLE pg_monitor');
like(sqlstate_of("SET ROLE regress_fp_plain; \\set VERBOSITY verbose\nSELECT * FROM pgtls_audit.client_fingerprints"),
	qr/^42501:/, 'client_fingerprints: refused to a plain role');
like(sqlstate_of("SET ROLE regress_fp_plain; \\set VERBOSITY verbose\n$q()"), qr/^42501:/,
	'settings_impact: refused to a plain role');
is($node->safe_psql('postgres', "SET ROLE regress_fp_mon; SELECT count(*) FROM pgtls_audit.client_fingerprints"),
	scalar(keys %count), 'client_fingerprints: a pg_monitor member sees every row');

# --- report(): "If you harden" and "Post-quantum readiness"
my $report = $s->query('SELECT pgtls_audit.report()');
my ($harden) = $report =~ /== If you harden\n(.*?)\n== /s;
ok(defined $harden, 'report: has "If you harden"') or diag $report;
my ($h13, $hciph) = split /\n  with ssl_ciphers/, $harden // '';
like($h13, qr/breaks \Q$tls12->{ja4}\E \(1 connections; users -; 1 client addresses\): no common protocol version \(client offers at most TLSv1\.2\)/,
	'report: TLS 1.2 client listed under TLSv1.3');
unlike($h13, qr/\Q$by_ip[0]{ja4}\E/, 'report: libpq not listed under TLSv1.3');
like($hciph // '', qr/breaks \Q$cbc->{ja4}\E .*no common cipher suite/, 'report: CBC client listed under the cipher list');
unlike($hciph // '', qr/\Q$by_ip[0]{ja4}\E/, 'report: libpq not listed under the cipher list');
my $npq = grep { $_->{offers_post_quantum} } @$fps;
like($report, qr/== Post-quantum readiness\n  $npq of ${\ scalar(@$fps)} client fingerprints/,
	'report: post-quantum line counts the fingerprints');

# --- kept across a clean restart
my $before = $s->query("SELECT json_agg(f ORDER BY ja4) FROM pgtls_audit.client_fingerprints f");
$s->close;
$node->restart;
$s = open_session($node);
is($s->query("SELECT json_agg(f ORDER BY ja4) FROM pgtls_audit.client_fingerprints f"), $before,
	'client_fingerprints: kept across a restart');

# --- a record longer than the formatter's first buffer (4,096 bytes): a
# client offering every suite OpenSSL has, a server name of 250 control
# characters and eight ALPN names of 32 (each byte escaped in the record),
# in json and then in text.  Each record must be whole (it parses) and
# carry the same offer as its connections row, which is built from the
# stored codes, not from the record.
my $long_sni = "\x01" x 250;
my $long_alpn = join(',', map { chr($_) x 32 } 2 .. 9);
for my $format ('json', 'text')
{
	$s->query("ALTER SYSTEM SET pgtls_audit.log_format = '$format'");
	$s->query('SELECT pg_reload_conf()');
	poll_until($s, "SELECT current_setting('pgtls_audit.log_format') = '$format'")
	  or die "log_format $format not applied";
	my $o2 = log_offset($node);
	s_client('-cipher', 'ALL:@SECLEVEL=0', '-servername', $long_sni, '-alpn', $long_alpn);
	my ($long) = wait_records($node, $o2, 1);
	my ($line) = PgtlsAuditTest::extract_record_lines(substr(slurp_text($node->logfile), $o2));
	cmp_ok(length($line // ''), '>', 4096, "$format: the record of the long offer is over 4,096 bytes");
	my @offered = ref $long->{offered_ciphers} ? @{ $long->{offered_ciphers} } : split /,/, $long->{offered_ciphers} // '';
	my @alpn = ref $long->{offered_alpn} ? @{ $long->{offered_alpn} } : split /,/, $long->{offered_alpn} // '';
	cmp_ok(scalar(@offered), '>=', 80, "$format: the long record lists every offered suite");
	is($long->{sni}, $long_sni, "$format: the long record's server name, unescaped, is the one sent");
	is(scalar(@alpn), 8, "$format: the long record lists the eight ALPN names");
	my $row = decode_json($s->query(
			"SELECT json_build_object('c', offered_ciphers, 'a', offered_alpn, 's', sni, 'j', ja4)"
			  . " FROM pgtls_audit.connections WHERE pid = $long->{pid}"));
	is_deeply([ \@offered, $long->{sni}, $long->{ja4} ], [ $row->{c}, $row->{s}, $row->{j} ],
		"$format: the long record has its connections row's suites, server name and JA4");
	# ALPN names: %HH for each byte in the record (96 characters); the
	# inventory keeps the list's first 127 bytes, cut with "..."
	is_deeply(\@alpn, [ map { sprintf('%%%02X', $_) x 32 } 2 .. 9 ],
		"$format: the long record's ALPN names, each byte as %HH");
	my $kept = join(',', @{ $row->{a} // [] });
	ok($kept =~ s/\.\.\.$// && length($kept) > 96 && index(join(',', @alpn), $kept) == 0,
		"$format: the connections row keeps the start of the ALPN list, marked as cut")
	  or diag $kept;
}
$s->query("ALTER SYSTEM RESET pgtls_audit.log_format");
$s->query('SELECT pg_reload_conf()');
$s->close;

done_testing();
