# 008_cert_findings.pl: the certificate findings of pgtls_audit.findings on
# a real cluster whose files are changed and reloaded (CERT011 not yet
# valid, CERT012 expiring, CERT013 stale CRL, and none on a good
# configuration), each compared as the exact list of the "certificates"
# findings and backed by what a real client sees; then private keys given
# to certificate_info() and crl_info() (PEM and DER, text and bytea) under
# settings that log statements, errors with their statements, and bind
# parameters: a clear error with its SQLSTATE, and nothing of the key in
# the server log, except where PostgreSQL itself logs the statement or its
# parameters before the function runs (asserted too, as documented).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use MIME::Base64;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $pki = pki();

sub meta
{
	my ($name) = @_;
	return slurp_text("$pki/$name") =~ s/\s+$//r;
}

# The "certificates" findings, sorted, one line each
my $cert_findings_q = q{
  SELECT coalesce(string_agg(check_id || '|' || severity || '|' || location || '|' || message || '|' || coalesce(hint, ''),
                             E'\n' ORDER BY check_id, location), 'none')
  FROM pgtls_audit.findings WHERE area = 'certificates'};

my $node = tls_node('certfind', no_start => 1);
$node->start;
$node->safe_psql('postgres', slurp_text(srcdir() . '/test/conf/setup.sql'));
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit; GRANT pg_monitor TO regress_app');

# Change settings, reload, and wait until a new session sees them all.
sub set_and_reload
{
	my (%set) = @_;
	$node->append_conf('postgresql.conf',
		join('', map { "$_ = '$set{$_}'\n" } sort keys %set));
	$node->reload;
	my $q = 'SELECT ' . join(" AND ",
		map { "current_setting('$_') = '$set{$_}'" } sort keys %set);
	ok($node->poll_query_until('postgres', $q), 'reloaded: ' . join(', ', map { "$_ = '$set{$_}'" } sort keys %set));
}

# format('%s', timestamptz) of a date printed by openssl, in a session like
# the one that reads the findings
sub ts_text
{
	my ($iso) = @_;
	return $node->safe_psql('postgres', "SELECT format('%s', '$iso'::timestamptz)");
}

# ---- 0. the harness configuration: no certificate finding
is($node->safe_psql('postgres', $cert_findings_q), 'none', 'good configuration: no certificate finding');

# ---- 1. a server certificate not yet valid: CERT011
set_and_reload(ssl_cert_file => "$pki/server_future.crt", ssl_key_file => "$pki/server_future.key");
# OpenSSL's reason, in this OpenSSL's words (3.5 added to them)
my ($not_yet_valid) = `openssl verify -purpose sslserver -CAfile $pki/ca_bundle.crt -untrusted $pki/intermediate_ca.crt $pki/server_future.crt 2>&1`
  =~ /^error 9 at 0 depth lookup: (.+?)\s*$/m;
ok(defined $not_yet_valid, "openssl verify: $not_yet_valid");
is($node->safe_psql('postgres',
		q{SELECT status || '|' || days_left || '|' || (not_before = '} . meta('server_future.not_before')
		  . q{'::timestamptz) || '|' || chain_verifies || '|' || chain_error || '|' || is_served
		  FROM pgtls_audit.server_certificates WHERE source = 'ssl_cert_file' AND "position" = 1}),
	"not_yet_valid|394|true|false|$not_yet_valid|true",
	'not yet valid: server_certificates leaf row');
my $future_before = ts_text(meta('server_future.not_before'));
my $cert011 = "CERT011|critical|ssl_cert_file $pki/server_future.crt #1|"
  . "certificate CN=localhost is not yet valid (notBefore $future_before)|"
  . 'Install a valid certificate and run SELECT pg_reload_conf(); clients verifying the server '
  . '(sslmode=verify-ca/verify-full) or presenting certificates signed by it fail.';
is($node->safe_psql('postgres', $cert_findings_q), $cert011, 'not yet valid: exactly CERT011');
is($node->safe_psql('postgres', "SET ROLE regress_app; $cert_findings_q"), $cert011,
	'not yet valid: a pg_monitor member gets the same findings');
is($node->safe_psql('postgres',
		q{SELECT string_agg(kind || ':' || status || ':' || days_left, ',') FROM pgtls_audit.expiring('2 years')}),
	'server_certificate:not_yet_valid:394', "expiring('2 years'): the leaf, not yet valid");
my $r = attempt($node, user => 'regress_app', password => 'regress_pw', sslmode => 'verify-ca');
isnt($r->{rc}, 0, 'not yet valid: a client verifying the server refuses it');
like($r->{stderr}, qr/certificate verify failed/, 'not yet valid: ... in the TLS handshake');
# libpq does not say why; openssl s_client, verifying the same way, does
my ($s_out, $s_err) = ('', '');
IPC::Run::run([ 'openssl', 's_client', '-connect', '127.0.0.1:' . $node->port, '-starttls', 'postgres',
		'-CAfile', "$pki/root.crt", '-verify_return_error' ], '<', \'', '>', \$s_out, '2>', \$s_err);
like($s_out . $s_err, qr/verify error:num=9:certificate is not yet valid/,
	'not yet valid: openssl s_client names the reason');
# sslmode=require verifies when a root certificate is given: give none
{
	local $ENV{PGPASSWORD} = 'regress_pw';
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'psql', '-X', '-A', '-t', '-w', '-d',
			'host=127.0.0.1 port=' . $node->port . " dbname=postgres user=regress_app sslmode=require sslrootcert=$pki/no-such-root.crt sslcert=$pki/no-such.crt sslkey=$pki/no-such.key",
			'-c', q{SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()} ],
		'<', \undef, '>', \$out, '2>', \$err);
	chomp $out;
	is($out, 't', 'not yet valid: still served to a client that does not verify') or diag $err;
}

# ---- 2. a server certificate expiring in 5 days: CERT012, within the window only
set_and_reload(ssl_cert_file => "$pki/server_expiring.crt", ssl_key_file => "$pki/server_expiring.key");
my $cert012 = "CERT012|warning|ssl_cert_file $pki/server_expiring.crt #1|"
  . 'certificate CN=localhost expiring (notAfter ' . ts_text(meta('server_expiring.not_after'))
  . ', 4 days left)|Renew the certificate, install it and run SELECT pg_reload_conf().';
is($node->safe_psql('postgres', $cert_findings_q), $cert012, 'expiring: exactly CERT012');
# 4 days and some hours left: within a 5-day window, not within 4 days
is($node->safe_psql('postgres', "SET pgtls_audit.expiry_warning_days = 5; $cert_findings_q"), $cert012,
	'expiring: a finding with a 5-day window');
is($node->safe_psql('postgres', "SET pgtls_audit.expiry_warning_days = 4; $cert_findings_q"), 'none',
	'expiring: no finding with a 4-day window');
$r = attempt($node, user => 'regress_app', password => 'regress_pw', sslmode => 'verify-ca');
is($r->{rc}, 0, 'expiring: still accepted by a verifying client') or diag $r->{stderr};

# ---- 3. CRLs: a stale root CRL in ssl_crl_dir: CERT013
set_and_reload(ssl_cert_file => "$pki/server.crt", ssl_key_file => "$pki/server.key",
	ssl_crl_dir => "$pki/crl_dir");
my ($stale_hash) = `openssl crl -in $pki/crl_stale.pem -noout -hash` =~ /([0-9a-f]{8})\s*$/;
my ($stale_next) = `openssl crl -in $pki/crl_stale.pem -noout -nextupdate -dateopt iso_8601` =~ /=(.+?)\s*$/;
ok(-e "$pki/crl_dir/$stale_hash.r0", "stale CRL is $stale_hash.r0 in crl_dir");
sub cert013
{
	my ($path) = @_;
	return "CERT013|critical|$path|certificate revocation list of "
	  . 'CN=pgtls_audit Test Root CA,O=pgtls_audit tests is stale (nextUpdate ' . ts_text($stale_next)
	  . '): unless a current CRL of that issuer is also configured, OpenSSL refuses every client certificate it signed|'
	  . 'Install a current CRL from the CA and run SELECT pg_reload_conf().';
}
is($node->safe_psql('postgres', $cert_findings_q), cert013("$pki/crl_dir/$stale_hash.r0"),
	'stale CRL: exactly CERT013, for the stale file');
$r = attempt($node, user => 'regress_cert_user', cert => 'client_regress_cert_user');
isnt($r->{rc}, 0, 'stale CRL: the server refuses a valid client certificate');
# with a current CRL of the same CA next to it, OpenSSL uses the current
# one: the client certificate is accepted (the finding is still reported)
set_and_reload(ssl_crl_file => "$pki/crl_chain.pem");
$r = attempt($node, user => 'regress_cert_user', cert => 'client_regress_cert_user');
is($r->{rc}, 0, 'stale and current root CRLs: the current one is used') or diag $r->{stderr};
# the current CRLs alone: no finding, and the same login works
set_and_reload(ssl_crl_dir => '');
is($node->safe_psql('postgres', $cert_findings_q), 'none', 'current CRLs only: no certificate finding');
$r = attempt($node, user => 'regress_cert_user', cert => 'client_regress_cert_user');
is($r->{rc}, 0, 'current CRLs only: the client certificate is accepted') or diag $r->{stderr};

# ---- 4. expiring certificate and stale CRL together: both, sorted
set_and_reload(ssl_cert_file => "$pki/server_expiring.crt", ssl_key_file => "$pki/server_expiring.key",
	ssl_crl_file => "$pki/crl_stale.pem");
is($node->safe_psql('postgres', $cert_findings_q), "$cert012\n" . cert013("$pki/crl_stale.pem"),
	'expiring and stale: CERT012 then CERT013, nothing else');
$node->stop;

# ---------------------------------------------------------------------
# 5. private keys and the server log
my $tmp = PostgreSQL::Test::Utils::tempdir();
system_or_bail('openssl', 'pkey', '-in', "$pki/server.key", '-outform', 'DER', '-out', "$tmp/rsa_pkcs8.der");
system_or_bail('openssl', 'ec', '-in', "$pki/server_ec.key", '-outform', 'DER', '-out', "$tmp/ec_sec1.der");
system_or_bail('openssl', 'pkcs8', '-topk8', '-in', "$pki/server.key", '-v2', 'aes-256-cbc',
	'-passout', 'pass:regress', '-outform', 'DER', '-out', "$tmp/rsa_enc.der");

# Traces of the keys that must never be in the log: the PEM label, every
# base64 line of the PEM files, and (hex or base64) 32-byte windows of
# each DER form.
my @traces = ('PRIVATE KEY');
for my $pem ('server.key', 'server_ec.key')
{
	push @traces, grep { length($_) >= 16 && !/^-----/ } split /\n/, slurp_text("$pki/$pem");
}
my %der_hex;
for my $der ('rsa_pkcs8', 'ec_sec1', 'rsa_enc')
{
	my $bytes = slurp_text("$tmp/$der.der");
	$der_hex{$der} = unpack('H*', $bytes);
	for my $off (24, 48, 72)
	{
		my $w = substr($bytes, $off, 32);
		push @traces, unpack('H*', $w), uc unpack('H*', $w), encode_base64($w, '') =~ s/=+$//r;
	}
}

sub traces_in
{
	my ($log) = @_;
	my @found = grep { index($log, $_) >= 0 } @traces;
	return scalar(@found);
}

my $keys = PostgreSQL::Test::Cluster->new('keylog');
$keys->init;
$keys->append_conf('postgresql.conf', <<'EOF');
shared_preload_libraries = 'pgtls_audit'
lc_messages = 'C'
log_min_messages = warning
log_min_error_statement = error
log_error_verbosity = verbose
log_parameter_max_length_on_error = -1
log_statement = 'all'
EOF
$keys->start;
$keys->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');

# Run SQL that must fail; returns its stderr.
sub failing
{
	my ($sql) = @_;
	my ($out, $err) = ('', '');
	$keys->psql('postgres', "\\set VERBOSITY verbose\n$sql", stdout => \$out, stderr => \$err);
	return $err;
}

# 5a. keys read by the server itself: the statements name only the file,
# so even log_statement = 'all' logs no key
my @server_side = (
	[ 'PEM RSA as text', "pgtls_audit.certificate_info(pg_read_file('$pki/server.key'))" ],
	[ 'PEM EC as bytea', "pgtls_audit.certificate_info(pg_read_binary_file('$pki/server_ec.key'))" ],
	[ 'certificate then key', "pgtls_audit.certificate_info(pg_read_file('$pki/server.crt') || pg_read_file('$pki/server.key'))" ],
	[ 'DER PKCS#8 RSA', "pgtls_audit.certificate_info(pg_read_binary_file('$tmp/rsa_pkcs8.der'))" ],
	[ 'DER SEC1 EC', "pgtls_audit.certificate_info(pg_read_binary_file('$tmp/ec_sec1.der'))" ],
	[ 'DER encrypted PKCS#8', "pgtls_audit.certificate_info(pg_read_binary_file('$tmp/rsa_enc.der'))" ],
	[ 'crl_info, PEM', "pgtls_audit.crl_info(pg_read_file('$pki/server.key'))" ]);
my $off = log_offset($keys);
for my $c (@server_side)
{
	like(failing("SELECT * FROM $c->[1];"), qr/^psql:<stdin>:\d+: ERROR:  22023: input contains a private key$/m,
		"server-side read, $c->[0]: ERROR 22023");
}
my $log = substr(slurp_text($keys->logfile), $off);
is(scalar(() = $log =~ /LOG:  00000: statement: SELECT \* FROM pgtls_audit\./g), scalar(@server_side),
	'server-side reads: log_statement logged every statement');
is(scalar(() = $log =~ /ERROR:  22023: input contains a private key/g), scalar(@server_side),
	'server-side reads: every error is in the log');
is(traces_in($log), 0, 'server-side reads: no trace of any key in the log');

# 5b. keys in the statement text, log_statement = 'none': the error is
# logged without its statement (log_min_error_statement = error)
$keys->append_conf('postgresql.conf', "log_statement = 'none'\n");
$keys->reload;
ok($keys->poll_query_until('postgres', q{SELECT current_setting('log_statement') = 'none'}), 'log_statement off');
my $rsa_pem = slurp_text("$pki/server.key");
$off = log_offset($keys);
like(failing("SELECT * FROM pgtls_audit.certificate_info('$rsa_pem');"),
	qr/^psql:<stdin>:\d+: ERROR:  22023: input contains a private key$/m, 'inline PEM: ERROR 22023');
like(failing("SELECT * FROM pgtls_audit.certificate_info('\\x$der_hex{ec_sec1}'::bytea);"),
	qr/^psql:<stdin>:\d+: ERROR:  22023: input contains a private key$/m, 'inline DER: ERROR 22023');
like(failing("SELECT * FROM pgtls_audit.crl_info('$rsa_pem');"),
	qr/^psql:<stdin>:\d+: ERROR:  22023: input contains a private key$/m, 'inline PEM to crl_info(): ERROR 22023');
failing('SELECT 1 / 0 AS regress_control;');
$log = substr(slurp_text($keys->logfile), $off);
is(scalar(() = $log =~ /ERROR:  22023: input contains a private key/g), 3, 'inline keys: the errors are logged');
is(scalar(() = $log =~ /STATEMENT:/g), 1, 'inline keys: only the control error has a STATEMENT line');
like($log, qr/STATEMENT:  SELECT 1 \/ 0 AS regress_control;/, 'inline keys: the control statement was logged');
is(traces_in($log), 0, 'inline keys: no trace of any key in the log');

# 5c. keys as bind parameters (pgbench -M extended sends :key as $1), with
# log_parameter_max_length_on_error = -1, which would add the parameters
# to the error's CONTEXT in the log
my $script = "$tmp/key.sql";
sub bind_attempt
{
	my ($sql, $value) = @_;
	open my $fh, '>', $script or die $!;
	print $fh "$sql\n";
	close $fh;
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'pgbench', '-n', '-M', 'extended', '-t', '1', '-f', $script,
			'-D', "key=$value", '-h', $keys->host, '-p', $keys->port, '-U', scalar(getpwuid($<)),
			'postgres' ], '<', \undef, '>', \$out, '2>', \$err);
	return $err;
}
$off = log_offset($keys);
like(bind_attempt('SELECT * FROM pgtls_audit.certificate_info(:key::text);', $rsa_pem),
	qr/input contains a private key/, 'PEM key as a text parameter: refused');
like(bind_attempt('SELECT * FROM pgtls_audit.certificate_info(:key::bytea);', "\\x$der_hex{rsa_pkcs8}"),
	qr/input contains a private key/, 'DER key as a bytea parameter: refused');
like(bind_attempt('SELECT 1 / :key::int AS regress_control;', '0'), qr/division by zero/,
	'control: an ordinary error with a parameter');
$log = substr(slurp_text($keys->logfile), $off);
is(scalar(() = $log =~ /ERROR:  22023: input contains a private key/g), 2, 'key parameters: the errors are logged');
like($log, qr/CONTEXT:  unnamed portal with parameters: \$1 = '0'/,
	'key parameters: the control error was logged with its parameter');
is(scalar(() = $log =~ /CONTEXT:/g), 1, 'key parameters: no CONTEXT line but the control\'s');
is(traces_in($log), 0, 'key parameters: no trace of any key in the log');

# 5d. what no function can prevent (README): log_statement = 'all' logs the
# statement text, and with it the parameters (unless
# log_parameter_max_length = 0), before the function runs
$keys->append_conf('postgresql.conf', "log_statement = 'all'\n");
$keys->reload;
ok($keys->poll_query_until('postgres', q{SELECT current_setting('log_statement') = 'all'}), 'log_statement all');
$off = log_offset($keys);
failing("SELECT * FROM pgtls_audit.certificate_info('$rsa_pem');");
isnt(traces_in(substr(slurp_text($keys->logfile), $off)), 0,
	"log_statement = 'all' logs a key written into the statement (documented limit)");
$off = log_offset($keys);
bind_attempt('SELECT * FROM pgtls_audit.certificate_info(:key::text);', $rsa_pem);
isnt(traces_in(substr(slurp_text($keys->logfile), $off)), 0,
	"log_statement = 'all' logs a key passed as a parameter (documented limit)");
$keys->append_conf('postgresql.conf', "log_parameter_max_length = 0\n");
$keys->reload;
ok($keys->poll_query_until('postgres', q{SELECT current_setting('log_parameter_max_length') = '0'}),
	'log_parameter_max_length = 0');
$off = log_offset($keys);
like(bind_attempt('SELECT * FROM pgtls_audit.certificate_info(:key::text);', $rsa_pem),
	qr/input contains a private key/, 'PEM key as a parameter, log_statement = all: refused');
$log = substr(slurp_text($keys->logfile), $off);
like($log, qr/execute <unnamed>: SELECT \* FROM pgtls_audit\.certificate_info\(\$1::text\)/,
	'log_parameter_max_length = 0: the statement is logged');
is(traces_in($log), 0, 'log_parameter_max_length = 0: but not the key parameter');
$keys->stop;

done_testing();
