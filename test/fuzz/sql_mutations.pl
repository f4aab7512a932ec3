#!/usr/bin/perl
# sql_mutations.pl: hostile input for the SQL functions of pgtls_audit.
#
#   perl test/fuzz/sql_mutations.pl --pki DIR --dir WORKDIR [--count N]
#        [--seed S] [--psql CONNSTR]
#
# Builds N calls (default 10,000) from mutations of real input and runs
# them in one psql session against a running server (the connection string
# names a superuser's database with pgtls_audit created):
#   certificate_info(text)   mutated PEM certificates and bundles of the test PKI
#   certificate_info(bytea)  mutated DER certificates (bit flips, length
#                            bytes, truncation, insertion, concatenation)
#   crl_info(text)           mutated PEM CRLs of the test PKI
#   hba_rules(file), check_config(file)
#                            files of mutated pg_hba lines written to
#                            WORKDIR (quotes, lists, @files, regular
#                            expressions, include directives, options,
#                            addresses; self-includes and missing files)
#   expand_ciphers()         mutated cipher strings, TLS 1.3 suites and
#                            protocol bounds
# plus empty, NULL and huge inputs.  Each call runs in a PL/pgSQL wrapper
# that returns the row count or the SQLSTATE of the ERROR.  Prints TAP:
# every call answered (the server never crashed), no internal error
# (SQLSTATE class XX), and the counts per function and SQLSTATE as "#"
# lines.  Mutations are pseudo-random from --seed (default 16): a run is
# repeatable.
use strict;
use warnings;
use Getopt::Long;
use IPC::Run;
use MIME::Base64;

my ($pki, $dir, $count, $seed, $conn) = (undef, undef, 10000, 16, '');
GetOptions('pki=s' => \$pki, 'dir=s' => \$dir, 'count=i' => \$count,
	'seed=i' => \$seed, 'psql=s' => \$conn) or die "bad arguments\n";
die "--pki and --dir are required\n" unless $pki && $dir;
mkdir $dir;
srand($seed);

sub slurp { open my $fh, '<:raw', $_[0] or die "$_[0]: $!"; local $/; return scalar <$fh>; }

# ---- seeds
my @pem_certs = map { slurp("$pki/$_") } grep { -f "$pki/$_" }
  qw(root_ca.crt intermediate_ca.crt server.crt ca_bundle.crt client_regress_cert_user.crt
  client_longdn.crt client_ec.crt client_serial_big.crt client_expired.crt untrusted_ca.crt);
my @pem_crls = map { slurp("$pki/$_") } grep { -f "$pki/$_" }
  qw(crl.pem crl_root.pem crl_stale.pem crl_chain.pem);
die "no PEM seeds in $pki\n" unless @pem_certs && @pem_crls;
sub der_of
{
	my ($pem) = @_;
	my @der;
	push @der, decode_base64($1) while $pem =~ /-----BEGIN [A-Z0-9 ]+-----\s*(.*?)-----END/sg;
	return @der;
}
my @der_certs = map { der_of($_) } @pem_certs;
my @hba_seed = (
	'local all all trust',
	'host all all 127.0.0.1/32 scram-sha-256',
	'hostssl all all 0.0.0.0/0 cert clientcert=verify-full map=certmap',
	'hostssl "db one","db,two" +admins,@users.txt ::1/128 scram-sha-256',
	'hostnossl all all 10.0.0.0 255.0.0.0 md5',
	'hostgssenc all all samehost gss include_realm=0 krb_realm=EXAMPLE.COM',
	'host all /^regress_.*$ samenet password',
	'hostssl /^db[0-9]+$ all .example.com scram-sha-256 clientcert=verify-ca',
	'host all all all ldap ldapserver=ldap.example.com ldapbindpasswd=secret ldapbasedn="dc=example,dc=com"',
	'host all all 192.168.0.0/16 radius radiusservers=a,b radiussecrets="s1,s2" radiusidentifiers=x',
	'hostssl replication replicator 10.1.2.3/32 cert',
	'host sameuser all fe80::/10 reject',
	'host samerole all 127.0.0.1/32 ident map=omicron',
	'local all @admins.txt peer',
	'hostssl all all 0.0.0.0/0 trust clientname=DN',
	'include pg_hba_extra.conf',
	'include_if_exists missing.conf',
	'include_dir conf.d',
	'host all all 127.0.0.1/32 pam pamservice=postgresql',
	'hostssl all all 2001:db8::/32 scram-sha-256 clientcert=verify-full',
);
my @hba_tokens = ('"', '""', '","', ',', '\\', '#', '@', '@@', '+', '/', '/^', '$', '.*', '(', '[', '\\d{3,}',
	'all', 'sameuser', 'samerole', 'replication', '0.0.0.0/33', '::/129', '300.1.1.1/8', '1.2.3.4',
	'255.255.255.255', 'localhost', '-', '=', 'clientcert=', 'clientcert=verify-any', 'map=', 'trust', 'reject',
	'cert', 'scram-sha-256', 'md5', 'bogus', 'include', 'include_dir', 'include_if_exists', '/etc/passwd',
	'/nonexistent', '.', '..', "\t", ' ', 'x' x 300, '"' . ('y' x 2000) . '"', "\x{e9}t\x{e9}");
my @cipher_tokens = qw(HIGH MEDIUM LOW ALL COMPLEMENTOFALL DEFAULT aNULL eNULL NULL RSA ECDHE DHE kRSA aRSA
  AES AES256 AESGCM CHACHA20 3DES RC4 MD5 SHA1 SHA256 SHA384 TLSv1.2 TLSv1 SSLv3 @STRENGTH @SECLEVEL=0
  @SECLEVEL=5 @SECLEVEL=99 ECDHE-RSA-AES256-GCM-SHA384 AES128-SHA TLS_AES_128_GCM_SHA256
  TLS_CHACHA20_POLY1305_SHA256 FOO);
my @cipher_ops = ('', '!', '+', '-', '');
my @cipher_seps = (':', ',', ' ', ';', '::', '');
my @protocols = (undef, 'TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3', '', 'TLSv9', 'tlsv1.2', 'SSLv3');

# ---- mutators
sub rnd { return int(rand($_[0])); }
sub pick { return $_[ rnd(scalar @_) ]; }
sub printable { return join '', map { chr(32 + rnd(95)) } 1 .. $_[0]; }

# a mutation of a text (ASCII-safe: never a NUL byte)
sub mutate_text
{
	my ($t) = @_;
	my $n = 1 + rnd(4);
	for (1 .. $n)
	{
		my $len = length $t;
		my $pos = $len ? rnd($len) : 0;
		my $op = rnd(9);
		if ($op == 0) { substr($t, $pos, 1) = printable(1) if $len; }
		elsif ($op == 1) { substr($t, $pos, rnd(64) + 1) = ''; }
		elsif ($op == 2) { substr($t, $pos, 0) = printable(rnd(16) + 1); }
		elsif ($op == 3) { $t = substr($t, 0, $pos); }
		elsif ($op == 4) { substr($t, $pos, 0) = substr($t, rnd($len + 1), rnd(200)); }
		elsif ($op == 5) { substr($t, $pos, 0) = pick("\n", "\r\n", "-----", "-----BEGIN CERTIFICATE-----\n",
				"-----END CERTIFICATE-----\n", "-----BEGIN X509 CRL-----\n", "=", "==", "\x{fffd}", "\x{1F512}"); }
		elsif ($op == 6) { $t = $t x (2 + rnd(3)); }
		elsif ($op == 7) { substr($t, $pos, 1) = pick('A', '/', '+', '=', ' ', '-') if $len; }
		else { $t =~ s/-----(BEGIN|END) /'-----' . pick('BEGIN ', 'END ', 'BEGIN X', '') /e; }
	}
	return $t;
}

# a mutation of DER bytes
sub mutate_bytes
{
	my ($b) = @_;
	my $n = 1 + rnd(4);
	for (1 .. $n)
	{
		my $len = length $b;
		my $pos = $len ? rnd($len) : 0;
		my $op = rnd(8);
		if ($op == 0 && $len) { substr($b, $pos, 1) = chr(ord(substr($b, $pos, 1)) ^ (1 << rnd(8))); }
		elsif ($op == 1 && $len) { substr($b, $pos, 1) = chr(pick(0, 0x7f, 0x80, 0x81, 0x82, 0x84, 0xff)); }
		elsif ($op == 2) { $b = substr($b, 0, $pos); }
		elsif ($op == 3) { substr($b, $pos, rnd(32) + 1) = ''; }
		elsif ($op == 4) { substr($b, $pos, 0) = join '', map { chr(rnd(256)) } 1 .. rnd(16) + 1; }
		elsif ($op == 5) { $b .= pick(@der_certs); }
		elsif ($op == 6 && $len > 4) { substr($b, 1, 3) = pick("\x83\xff\xff", "\x84\xff\xff", "\x80\x00\x00", "\x82\x00\x01"); }
		else { substr($b, $pos, 0) = substr($b, rnd($len + 1), rnd(100)); }
	}
	return $b;
}

my $hba_files = 0;
sub hba_file
{
	my $lines = 1 + rnd(8);
	my @out;
	for (1 .. $lines)
	{
		my @tok = split / /, pick(@hba_seed);
		my $m = rnd(4);
		for (1 .. $m)
		{
			my $op = rnd(5);
			my $i = rnd(scalar @tok);
			if ($op == 0) { $tok[$i] = pick(@hba_tokens); }
			elsif ($op == 1) { splice(@tok, $i, 0, pick(@hba_tokens)); }
			elsif ($op == 2) { splice(@tok, $i, 1) if @tok > 1; }
			elsif ($op == 3) { $tok[$i] = mutate_text($tok[$i]); }
			else { $tok[$i] .= pick(@hba_tokens); }
		}
		my $line = join(pick(' ', "\t", '  '), @tok);
		# include directives: of another fuzz file, of itself, of a directory
		$line = pick('include', 'include_if_exists', 'include_dir') . ' '
		  . pick("hba_$hba_files.conf", 'hba_' . rnd($hba_files + 1) . '.conf', $dir, 'sub', '/nonexistent', '')
		  if rnd(12) == 0;
		$line .= pick(" \\", ' #', '') if rnd(8) == 0;
		push @out, $line;
	}
	my $path = "$dir/hba_$hba_files.conf";
	$hba_files++;
	open my $fh, '>:utf8', $path or die "$path: $!";
	print $fh join("\n", @out), (rnd(5) ? "\n" : '');
	close $fh;
	return $path;
}
# files named by @file tokens
for my $f ('users.txt', 'admins.txt')
{
	open my $fh, '>', "$dir/$f" or die;
	print $fh "regress_alice, regress_bob\n\"quoted name\" @", $f, "\n";
	close $fh;
}

sub cipher_string
{
	my $n = rnd(8);
	return pick('', ':', '!', '@', 'x' x (1000 + rnd(5000))) if $n == 0;
	my $s = join '', map { pick(@cipher_ops) . pick(@cipher_tokens) . pick(@cipher_seps) } 1 .. $n;
	$s = mutate_text($s) if rnd(3) == 0;
	return $s;
}

# ---- SQL literals
sub lit_text
{
	my ($t) = @_;
	return 'NULL' unless defined $t;
	$t =~ s/'/''/g;
	return "'$t'";
}
sub lit_bytea { return "'\\x" . unpack('H*', $_[0]) . "'::bytea"; }

# ---- the calls
my @calls;    # [label, sql]
sub call { push @calls, [ $_[0], $_[1] ]; }

# fixed hostile values first: empty, NULL, huge
call('certificate_info(text)', 'SELECT count(*) FROM pgtls_audit.certificate_info(' . lit_text($_) . ')')
  for ('', ' ', "-----BEGIN CERTIFICATE-----\n", ('A' x 2_000_000), $pem_certs[0] x 2000);
call('certificate_info(bytea)', 'SELECT count(*) FROM pgtls_audit.certificate_info(' . lit_bytea($_) . ')')
  for ('', "\x30", "\x30\x80", "\x30\x84\xff\xff\xff\xff", "\0" x 100000);
call('crl_info(text)', 'SELECT count(*) FROM pgtls_audit.crl_info(' . lit_text($_) . ')')
  for ('', "-----BEGIN X509 CRL-----\n-----END X509 CRL-----\n", $pem_crls[0] x 1000);
call('expand_ciphers()', "SELECT count(*) FROM pgtls_audit.expand_ciphers($_)")
  for ("NULL", "''", lit_text('HIGH' x 100000), "'HIGH', ''", "NULL, NULL, 'TLSv1.3', 'TLSv1'");
call('hba_rules(file)', "SELECT count(*) FROM pgtls_audit.hba_rules($_)")
  for ("''", "'/nonexistent'", "'$dir'", "'/dev/null'", lit_text("$dir/" . ('x' x 5000)));

my $kinds = 6;
while (@calls < $count)
{
	my $k = @calls % $kinds;
	if ($k == 0)
	{
		call('certificate_info(text)',
			'SELECT count(*) FROM pgtls_audit.certificate_info(' . lit_text(mutate_text(pick(@pem_certs))) . ')');
	}
	elsif ($k == 1)
	{
		call('certificate_info(bytea)',
			'SELECT count(*) FROM pgtls_audit.certificate_info(' . lit_bytea(mutate_bytes(pick(@der_certs))) . ')');
	}
	elsif ($k == 2)
	{
		call('crl_info(text)',
			'SELECT count(*) FROM pgtls_audit.crl_info(' . lit_text(mutate_text(pick(@pem_crls))) . ')');
	}
	elsif ($k == 3 || $k == 4)
	{
		my $f = hba_file();
		call($k == 3 ? 'hba_rules(file)' : 'check_config(file)',
			'SELECT count(*) FROM pgtls_audit.' . ($k == 3 ? 'hba_rules' : 'check_config') . '(' . lit_text($f) . ')');
	}
	else
	{
		call('expand_ciphers()', 'SELECT count(*) FROM pgtls_audit.expand_ciphers('
			  . join(', ', lit_text(cipher_string()), lit_text(rnd(3) ? undef : cipher_string()),
				lit_text(pick(@protocols)), lit_text(pick(@protocols))) . ')');
	}
}

# ---- one psql session: each call in a wrapper returning "label|state|rows"
my $sql = <<'EOT';
\set ON_ERROR_STOP 0
\pset format unaligned
\pset tuples_only on
SET client_min_messages = error;
CREATE FUNCTION pg_temp.try(label text, q text) RETURNS text LANGUAGE plpgsql AS $fn$
DECLARE n bigint; st text; msg text;
BEGIN
	EXECUTE q INTO n;
	RETURN label || '|00000|' || n;
EXCEPTION WHEN OTHERS THEN
	GET STACKED DIAGNOSTICS st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT;
	-- the message of an internal error, with the call, for the report
	IF st LIKE 'XX%' OR st LIKE '53%' THEN
		RETURN label || '|' || st || '|' || replace(msg, E'\n', ' ') || ' <- ' || left(replace(q, E'\n', ' '), 300);
	END IF;
	RETURN label || '|' || st || '|';
END $fn$;
EOT
for my $c (@calls)
{
	my $q = $c->[1];
	$q =~ s/'/''/g;
	$sql .= "SELECT pg_temp.try('$c->[0]', '$q');\n";
}
$sql .= "SELECT 'done|' || count(*) FROM pg_stat_activity WHERE pid = pg_backend_pid();\n";
open my $sfh, '>:utf8', "$dir/calls.sql" or die;
print $sfh $sql;
close $sfh;

my ($out, $err) = ('', '');
IPC::Run::run([ 'psql', '-X', '-q', '-d', $conn, '-f', "$dir/calls.sql" ], '<', \undef, '>', \$out, '2>', \$err);
my $rc = $? >> 8;
my (%by, $answered, $done, @internal, @resources);
$answered = 0;
for my $line (split /\n/, $out)
{
	if ($line =~ /^done\|/) { $done = 1; next; }
	next unless $line =~ /^([^|]+)\|([0-9A-Z]{5})\|(.*)$/;
	my ($label, $state, $msg) = ($1, $2, $3);
	$answered++;
	$by{$label}{$state}++;
	# core's errcode_for_file_access() maps ENAMETOOLONG to XX000 before
	# PostgreSQL 17: the over-long file name of the fixed calls; counted apart
	if ($state =~ /^XX/ && $msg =~ /: File name too long <- /) { $by{$label}{$state}--; $by{$label}{"$state (ENAMETOOLONG)"}++; next; }
	push @internal, "$label: $msg" if $state =~ /^XX/;
	push @resources, "$label $state: $msg" if $state =~ /^53/;
}
my $n = scalar @calls;
print "1..3\n";
print(($answered == $n ? 'ok' : 'not ok') . " 1 - $answered of $n calls answered (rows or a clean ERROR)\n");
print(($done && $rc == 0 ? 'ok' : 'not ok') . " 2 - the session survived to the end (psql exit $rc)\n");
my $internal = 0;
for my $l (sort keys %by)
{
	my $total = 0;
	$total += $_ for values %{ $by{$l} };
	print "# $l: $total calls: " . join(', ', map { "$_ $by{$l}{$_}" } grep { $by{$l}{$_} } sort keys %{ $by{$l} }) . "\n";
	$internal += $by{$l}{$_} for grep { /^XX...$/ } keys %{ $by{$l} };
}
print(($internal == 0 ? 'ok' : 'not ok') . " 3 - no internal error (SQLSTATE class XX): $internal\n");
print "# internal error: $_\n" for @internal[0 .. ($#internal > 9 ? 9 : $#internal)];
print "# resource error (class 53): $_\n" for @resources[0 .. ($#resources > 4 ? 4 : $#resources)];
print "# hba files written: $hba_files\n";
print "# psql stderr: " . substr($err, 0, 2000) . "\n" if $rc != 0 || !$done;
exit 0;
