# 004_certificates.pl: what needs a real server whose files change under
# it: the served certificate versus the file on disk (replaced without a
# reload, a reload that fails, a reload that succeeds), configured CRL
# files and directories, missing files, key file permissions and
# passphrases, client certificates from the inventory in expiring(), the
# same functions without shared_preload_libraries, and Debian's CA bundle.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use File::Copy;
use Time::HiRes qw(usleep);
use Digest::SHA qw(sha256_hex);
use MIME::Base64;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $pki = pki();

sub fingerprint
{
	my ($file) = @_;
	my $out = `openssl x509 -in $file -noout -fingerprint -sha256`;
	$out =~ s/^.*=//;
	$out =~ s/[:\s]//g;
	return lc $out;
}

# The server's certificate and key live in the data directory, so the test
# can replace them.
my $node = tls_node('certs', no_start => 1);
my $dd = $node->data_dir;
sub put_server_files
{
	my ($crt, $key) = @_;
	copy("$pki/$crt", "$dd/srv.crt") or die $!;
	if ($key)
	{
		copy("$pki/$key", "$dd/srv.key") or die $!;
		chmod 0600, "$dd/srv.key";
	}
}
put_server_files('server.crt', 'server.key');
$node->append_conf('postgresql.conf', "ssl_cert_file = 'srv.crt'\nssl_key_file = 'srv.key'\n");
$node->start;
$node->safe_psql('postgres', slurp_text(srcdir() . '/test/conf/setup.sql'));
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit; GRANT pg_monitor TO regress_app');

my $fp_rsa = fingerprint("$pki/server_leaf.crt");
my $fp_expiring = fingerprint("$pki/server_expiring.crt");
my $fp_ec = fingerprint("$pki/server_ec.crt");

my $leaf_q = q{SELECT sha256_fingerprint || '|' || coalesce(is_served::text, 'null')
  FROM pgtls_audit.server_certificates WHERE source = 'ssl_cert_file' AND "position" = 1};
my $served_q = q{SELECT coalesce(string_agg(sha256_fingerprint, ','), 'none')
  FROM pgtls_audit.server_certificates WHERE source = 'served'};

# A query over TLS, as regress_app (password over hostssl)
sub tls_query
{
	my ($sql) = @_;
	my $r = attempt($node, user => 'regress_app', password => 'regress_pw', sql => $sql);
	is($r->{rc}, 0, "TLS session works") or diag $r->{stderr};
	return $r->{stdout};
}

# ---- 1. at start: the file is what is served, over the socket and over TLS
is($node->safe_psql('postgres', $leaf_q), "$fp_rsa|true", 'start: leaf on disk is served (socket session)');
is(tls_query($leaf_q), "$fp_rsa|true", 'start: leaf on disk is served (TLS session)');
is($node->safe_psql('postgres', $served_q), 'none', 'start: no separate served row');
is($node->safe_psql('postgres', q{SELECT count(*) FROM pgtls_audit.server_certificates WHERE note IS NOT NULL}),
	'0', 'start: no notes');

# ---- 2. renewed on disk, not reloaded: served differs from disk
put_server_files('server_expiring.crt', 'server_expiring.key');
is($node->safe_psql('postgres', $leaf_q), "$fp_expiring|false", 'replaced without reload: disk leaf not served');
is($node->safe_psql('postgres', $served_q), $fp_rsa, 'replaced without reload: served row is the old certificate');
is(tls_query($served_q), $fp_rsa, 'replaced without reload: a TLS session was served the old one');
is($node->safe_psql('postgres',
		q{SELECT note FROM pgtls_audit.server_certificates WHERE source = 'ssl_cert_file' AND "position" = 1}),
	"the server is not serving this certificate: ssl_cert_file changed since the configuration was last loaded; "
	  . "reload (SELECT pg_reload_conf()) to serve it, see the row with source 'served'",
	'replaced without reload: note says to reload');
is($node->safe_psql('postgres',
		q{SELECT string_agg(kind || ':' || status || ':' || days_left, ',') FROM pgtls_audit.expiring()}),
	'server_certificate:expiring:4', 'expiring(): the new 5-day certificate on disk');

# ---- 3. a reload that fails (certificate and key do not match): the old
# context stays in use, and the module still says so
copy("$pki/server_ec.crt", "$dd/srv.crt") or die $!;
my $off = log_offset($node);
$node->reload;
my $failed = 0;
for (1 .. 100)
{
	if (substr(slurp_text($node->logfile), $off) =~ /SSL configuration was not reloaded/)
	{
		$failed = 1;
		last;
	}
	usleep(100_000);
}
ok($failed, 'failing reload: server logged it');
is($node->safe_psql('postgres', $leaf_q), "$fp_ec|false", 'failing reload: disk leaf not served');
is($node->safe_psql('postgres', $served_q), $fp_rsa, 'failing reload: still serving the original');
is($node->safe_psql('postgres',
		q{SELECT matches_certificate::text || '|' || coalesce(problem, '') FROM pgtls_audit.server_key_check()}),
	'false|the key does not match the certificate in ssl_cert_file', 'key check: key does not match');

# ---- 4. a reload that succeeds: the same again
put_server_files('server_ec.crt', 'server_ec.key');
$node->reload;
ok($node->poll_query_until('postgres', $leaf_q, "$fp_ec|true"), 'after reload: disk leaf is served (socket)');
is(tls_query($leaf_q), "$fp_ec|true", 'after reload: disk leaf is served (TLS)');
is($node->safe_psql('postgres', $served_q), 'none', 'after reload: no separate served row');
is($node->safe_psql('postgres', q{SELECT key_type || ' ' || key_bits || ' ' || matches_certificate FROM pgtls_audit.server_key_check()}),
	'EC 256 true', 'key check: EC key matches');

# ---- 5. key permissions and a passphrase-protected key (checked, not loaded)
chmod 0644, "$dd/srv.key";
is($node->safe_psql('postgres', q{SELECT mode || ' ' || permissions_ok || ' ' || problem FROM pgtls_audit.server_key_check()}),
	'0644 false has group or world access: at most 0600 if owned by the database user, 0640 if owned by root',
	'key check: world-readable key refused as the server would');
chmod 0600, "$dd/srv.key";
system("openssl pkey -in $pki/server.key -aes256 -passout pass:regress -out $dd/enc.key") == 0 or die;
chmod 0600, "$dd/enc.key";
$node->append_conf('postgresql.conf', "ssl_key_file = 'enc.key'\n");
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT encrypted FROM pgtls_audit.server_key_check()}),
	'key check: passphrase-protected key recognised');
is($node->safe_psql('postgres', q{SELECT coalesce(matches_certificate::text, 'null') || ' ' || coalesce(key_type, 'null') FROM pgtls_audit.server_key_check()}),
	'null null', 'key check: encrypted key is not decrypted');
is($node->safe_psql('postgres', q{SELECT present || ' ' || mode || ' ' || permissions_ok || ' ' || readable || ' ' || problem FROM pgtls_audit.server_key_check()}),
	'true 0600 true true the key is protected by a passphrase; its type and match with the certificate were not checked',
	'key check: encrypted key, and why it was not checked');
unlike($node->safe_psql('postgres', q{SELECT row_to_json(k)::text FROM pgtls_audit.server_key_check() k}),
	qr/BEGIN|MII/, 'key check: no key material in the result');

# ---- 6. CRLs: file and hashed directory (stale root CRL), missing files
$node->append_conf('postgresql.conf', "ssl_key_file = 'srv.key'\nssl_crl_file = '$pki/crl_chain.pem'\nssl_crl_dir = '$pki/crl_dir'\n");
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT count(*) FROM pgtls_audit.crls}, '4'), 'crls: four CRLs configured');
is($node->safe_psql('postgres', q{SELECT string_agg(source || ':' || revoked_count || ':' || status, ',' ORDER BY source, path, "position") FROM pgtls_audit.crls}),
	'ssl_crl_dir:1:current,ssl_crl_dir:0:stale,ssl_crl_file:1:current,ssl_crl_file:0:current',
	'crls: revoked entries and the stale root CRL')
  or diag $node->safe_psql('postgres', 'SELECT * FROM pgtls_audit.crls');
is($node->safe_psql('postgres', q{SELECT kind || ':' || status FROM pgtls_audit.expiring() LIMIT 1}),
	'crl:stale', 'expiring(): the stale CRL comes first');
is($node->safe_psql('postgres', q{SELECT source || ': ' || action FROM pgtls_audit.expiring() LIMIT 1}),
	'ssl_crl_dir: Fetch a fresh CRL from the issuing CA into ssl_crl_dir and SELECT pg_reload_conf(); '
	  . 'once nextUpdate has passed, the server refuses every client certificate of this CA.',
	'expiring(): says what a stale CRL does');

$node->append_conf('postgresql.conf', "ssl_crl_file = '$dd/no_such.crl'\nssl_crl_dir = '$dd/no_such_dir'\nssl_ca_file = '$dd/no_such_ca.crt'\n");
$node->reload;
ok($node->poll_query_until('postgres', q{SELECT count(*) FROM pgtls_audit.crls WHERE note LIKE 'could not open file%'}, '1'),
	'missing CRL file: a row says so');
is($node->safe_psql('postgres', q{SELECT string_agg(source || '|' || path || '|' || coalesce("position"::text, 'null') || '|' || coalesce(status, 'null') || '|' || note, E'\n' ORDER BY source) FROM pgtls_audit.crls}),
	qq{ssl_crl_dir|$dd/no_such_dir|null|null|could not open directory "$dd/no_such_dir": No such file or directory\n}
	  . qq{ssl_crl_file|$dd/no_such.crl|null|null|could not open file "$dd/no_such.crl": No such file or directory},
	'missing CRL file and directory: one row each, saying so');
is($node->safe_psql('postgres', q{SELECT path || '|' || coalesce(subject_dn, 'null') || '|' || note FROM pgtls_audit.server_certificates WHERE source = 'ssl_ca_file'}),
	qq{$dd/no_such_ca.crt|null|could not open file "$dd/no_such_ca.crt": No such file or directory},
	'missing CA file: a row says so');
is($node->safe_psql('postgres', q{SELECT coalesce(chain_verifies::text, 'null') || ' ' || chain_error FROM pgtls_audit.server_certificates WHERE source = 'ssl_cert_file' AND "position" = 1}),
	'null ssl_ca_file could not be read or holds no certificate', 'missing CA file: chain not verified, and why');

# back to a working configuration, with the CA file
$node->append_conf('postgresql.conf', "ssl_crl_file = ''\nssl_crl_dir = ''\nssl_ca_file = '$pki/ca_bundle.crt'\n");
put_server_files('server.crt', 'server.key');
$node->reload;
ok($node->poll_query_until('postgres', $leaf_q, "$fp_rsa|true"), 'restored configuration is served');

# ---- 7. client certificates seen, in expiring()
sub utc_minute
{
	my @t = gmtime(shift);
	return sprintf('%04d-%02d-%02d %02d:%02d', $t[5] + 1900, $t[4] + 1, $t[3], $t[2], $t[1]);
}
my $login_from = utc_minute(time);
my $r = attempt($node, user => 'regress_alice', password => 'regress_pw', cert => 'client_expiring');
my $login_to = utc_minute(time);
is($r->{rc}, 0, 'login with the 10-day client certificate') or diag $r->{stderr};
my $serial_hex = slurp_text("$pki/client_expiring.serial_hex") =~ s/\s+//gr;
is($node->safe_psql('postgres',
		q{SELECT kind || '|' || subject_dn || '|' || serial || '|' || status || '|' || days_left FROM pgtls_audit.expiring() WHERE kind = 'client_certificate'}),
	"client_certificate|CN=regress_alice,OU=clients,O=pgtls_audit tests|$serial_hex|expiring|9",
	'expiring(): the client certificate from the inventory');
my $action = $node->safe_psql('postgres', q{SELECT action FROM pgtls_audit.expiring() WHERE kind = 'client_certificate'});
my %expected_action = map {
	("Issue a new client certificate to regress_alice (last seen $_ UTC) and have it installed before this one "
	  . 'expires; the server refuses an expired client certificate.' => 1)
} ($login_from, $login_to);
ok($expected_action{$action}, 'expiring(): names the role that used it and when')
  or diag "got: $action\nexpected one of: " . join("\n", sort keys %expected_action);

# ---- 8. Debian's CA bundle: as many rows as certificates in the file
my $bundle = '/etc/ssl/certs/ca-certificates.crt';
my $grep = `grep -c 'BEGIN CERTIFICATE' $bundle`;
chomp $grep;
ok($grep > 100, "Debian bundle has $grep certificates");
is($node->safe_psql('postgres', "SELECT count(*) FROM pgtls_audit.certificate_info(pg_read_file('$bundle'))"),
	$grep, 'certificate_info() of the Debian bundle: one row per certificate');

# ---- 8b. every kind of key: certificate_info() decodes RSA and named-curve
# EC certificates without their key (certs/parse.c) and all others, and
# version 1 ones, with it; both give OpenSSL's own answers.  Self-signed:
# checked on the certificate decoded again with its key.
my $kt = PostgreSQL::Test::Utils::tempdir();
sub ossl
{
	my $out = `openssl @_ 2>&1`;
	die "openssl @_: $out" if $?;
}
sub req_x509
{
	my ($name, @args) = @_;
	ossl("req -x509 -nodes -days 30 -subj /CN=$name -out $kt/$name.crt @args");
}
sub der_of
{
	my ($name) = @_;
	ossl("x509 -in $kt/$name.crt -outform DER -out $kt/$name.der");
	return slurp_file("$kt/$name.der");
}
# a PEM file of DER bytes that openssl might refuse to read
sub pem_of
{
	my ($name, $der) = @_;
	open my $out, '>', "$kt/$name.crt" or die;
	print $out "-----BEGIN CERTIFICATE-----\n", encode_base64($der), "-----END CERTIFICATE-----\n";
	close $out;
	open $out, '>:raw', "$kt/$name.der" or die;
	print $out $der;
	close $out;
}
req_x509('rsa', "-newkey rsa:2048 -keyout $kt/rsa.key");
req_x509('ec256', "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -keyout $kt/ec256.key");
req_x509('ec384', "-newkey ec -pkeyopt ec_paramgen_curve:P-384 -keyout /dev/null");
req_x509('ec521', "-newkey ec -pkeyopt ec_paramgen_curve:P-521 -keyout /dev/null");
req_x509('brainpool', "-newkey ec -pkeyopt ec_paramgen_curve:brainpoolP256r1 -keyout /dev/null");
ossl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -pkeyopt ec_param_enc:explicit -out $kt/explicit.key");
req_x509('explicit', "-key $kt/explicit.key");
req_x509('ed25519', "-newkey ed25519 -keyout /dev/null");
req_x509('ed448', "-newkey ed448 -keyout /dev/null");
req_x509('rsapss', "-newkey rsa-pss -pkeyopt rsa_keygen_bits:2048 -keyout /dev/null");
ossl("genpkey -genparam -algorithm DSA -pkeyopt dsa_paramgen_bits:1024 -out $kt/dsa.param");
req_x509('dsa', "-newkey dsa:$kt/dsa.param -keyout /dev/null");
# version 1, self-signed: a CA for OpenSSL only because its signature
# verifies ("req -x509" without extensions in its configuration; OpenSSL
# 3.2 and later also want -x509v1)
open my $cnf, '>', "$kt/v1.cnf" or die;
print $cnf "[req]\ndistinguished_name = dn\n[dn]\n";
close $cnf;
ossl("req -x509 -config $kt/v1.cnf -key $kt/rsa.key -subj /CN=v1 -days 30 -out $kt/v1.crt"
	  . (`openssl req -help 2>&1` =~ /-x509v1/ ? ' -x509v1' : ''));
like(`openssl x509 -in $kt/v1.crt -noout -text`, qr/Version: 1 \(0x0\)/, 'the v1 certificate is of version 1');
# a compressed EC point, in a certificate issued by ec256
open my $ext, '>', "$kt/leaf.ext" or die;
print $ext "basicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n";
close $ext;
ossl("genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out $kt/c.key");
ossl("ec -in $kt/c.key -conv_form compressed -pubout -out $kt/c.pub");
ossl("req -new -key $kt/c.key -subj /CN=compressed -out $kt/c.csr");
ossl("x509 -req -in $kt/c.csr -CA $kt/ec256.crt -CAkey $kt/ec256.key -force_pubkey $kt/c.pub -set_serial 9 -days 30 -extfile $kt/leaf.ext -out $kt/compressed.crt");
# issuer name = subject name, but signed by another key: not self-signed
ossl("req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout /dev/null -subj /CN=ec256 -out $kt/si.csr");
ossl("x509 -req -in $kt/si.csr -CA $kt/ec256.crt -CAkey $kt/ec256.key -set_serial 8 -days 30 -extfile $kt/leaf.ext -out $kt/selfissued.crt");
# a self-signed certificate whose signature does not verify
my $d = der_of('rsa');
substr($d, -1, 1) = chr(ord(substr($d, -1, 1)) ^ 1);
pem_of('tampered', $d);
# keys that do not decode: an EC point off the curve, an RSA key that is
# not an RSAPublicKey (SET instead of SEQUENCE)
$d = der_of('ec256');
my $at = index($d, "\x03\x42\x00\x04");
substr($d, $at + 10, 1) = chr(ord(substr($d, $at + 10, 1)) ^ 1);
pem_of('offcurve', $d);
$d = der_of('rsa');
$at = index($d, "\x03\x82\x01\x0f\x00\x30\x82\x01\x0a");
substr($d, $at + 5, 1) = "\x31";
pem_of('notrsa', $d);
ossl("x509 -in $kt/rsa.crt -trustout -addtrust serverAuth -out $kt/trusted.crt");
der_of($_) for qw(ec384 ec521 brainpool explicit ed25519 ed448 rsapss dsa v1 compressed selfissued);

# file|subject CN|key_type|key_bits|is_ca|self_signed (booleans as text)
my @kinds = (
	'rsa|rsa|RSA|2048|true|true', 'ec256|ec256|EC|256|true|true', 'ec384|ec384|EC|384|true|true',
	'ec521|ec521|EC|521|true|true', 'brainpool|brainpool|EC|256|true|true',
	'explicit|explicit|EC|256|true|true', 'ed25519|ed25519|Ed25519|256|true|true',
	'ed448|ed448|Ed448|456|true|true', 'rsapss|rsapss|RSA-PSS|2048|true|true',
	'dsa|dsa|DSA|1024|true|true', 'v1|v1|RSA|2048|true|true', 'compressed|compressed|EC|256|false|false',
	'selfissued|ec256|EC|256|false|false', 'tampered|rsa|RSA|2048|true|false', 'offcurve|ec256|||true|false',
	'notrsa|rsa|||true|false', 'trusted|rsa|RSA|2048|true|true');
my @files = map { (split /\|/)[0] } @kinds;
my @expected = map {
	my ($f, $cn, $rest) = split /\|/, $_, 3;
	my $der = $f eq 'trusted' ? der_of('rsa') : slurp_file("$kt/$f.der");
	"CN=$cn|$rest|" . sha256_hex($der)
} @kinds;
open my $fh, '>', "$kt/all.pem" or die;
print $fh join('', map { slurp_file("$kt/$_.crt") } @files);
close $fh;
my $kind_q = q{SELECT subject_dn || '|' || coalesce(key_type, '') || '|' || coalesce(key_bits::text, '') || '|' ||
	is_ca || '|' || self_signed || '|' || sha256_fingerprint FROM pgtls_audit.certificate_info(%s) ORDER BY "position"};
is($node->safe_psql('postgres', sprintf($kind_q, "pg_read_file('$kt/all.pem')")), join("\n", @expected),
	'certificate_info(): key type and size, CA, self-signed and fingerprint of every kind of key');
# the same as DER (bytea), in a new session: nothing cached
open $fh, '>:raw', "$kt/all.der" or die;
print $fh join('', map { slurp_file("$kt/$_.der") } grep { $_ ne 'trusted' } @files);
close $fh;
is($node->safe_psql('postgres', sprintf($kind_q, "pg_read_binary_file('$kt/all.der')")),
	join("\n", @expected[ 0 .. $#expected - 1 ]), 'certificate_info(bytea): the same for DER');

$node->stop;

# ---- 9. not preloaded: the certificate functions still work
my $plain = tls_node('certs_plain', no_start => 1);
$plain->append_conf('postgresql.conf', "shared_preload_libraries = ''\n");
$plain->start;
$plain->safe_psql('postgres', slurp_text(srcdir() . '/test/conf/setup.sql'));
$plain->safe_psql('postgres', 'SET client_min_messages = error; CREATE EXTENSION pgtls_audit; GRANT pg_monitor TO regress_app');
is($plain->safe_psql('postgres', q{SELECT count(*) FROM pgtls_audit.server_certificates}), '4',
	'not preloaded: server_certificates');
is($plain->safe_psql('postgres', $leaf_q), "$fp_rsa|null", 'not preloaded: served unknown outside TLS');
is($plain->safe_psql('postgres', q{SELECT note FROM pgtls_audit.server_certificates WHERE "position" = 1 AND source = 'ssl_cert_file'}),
	'the served certificate is known only in a TLS session, or in any session when pgtls_audit is in shared_preload_libraries',
	'not preloaded: note explains why');
my $r2 = attempt($plain, user => 'regress_app', password => 'regress_pw', sql => $leaf_q);
is($r2->{stdout}, "$fp_rsa|true", 'not preloaded: served known inside a TLS session');
is($plain->safe_psql('postgres', q{SELECT count(*) FROM pgtls_audit.expiring('20 years')}), '4',
	'not preloaded: expiring() without the inventory');
is($plain->safe_psql('postgres', q{LOAD 'pgtls_audit'; SHOW pgtls_audit.expiry_warning_days}), '30', 'not preloaded: the setting exists');
$plain->stop;

done_testing();
