# 014_volume.pl: audit volume on connection-heavy servers, over real TLS
# logins: log_connections = new (one record per client tuple and interval,
# the rest counted in repeats), summary records (by the next attempt, at a
# clean shutdown, before an LRU eviction), log_failures = new for a
# password-guessing storm, log_format = json_compact, and the clients
# counts, exact in every mode.  The reconciliation checked throughout: the
# log's records plus their repeats equal the logins the inventory counted.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use Time::HiRes qw(usleep time);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $pki = pki();
my $node = tls_node('volume', extra_conf => <<'EOC');
pgtls_audit.log_connections = new
pgtls_audit.log_failures = new
pgtls_audit.log_repeat_interval = '1h'
pgtls_audit.log_format = json
pgtls_audit.log_destination = 'server_log, file'
EOC
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
my @users = qw(regress_alice regress_bob regress_app);

sub sql_value { return $node->safe_psql('postgres', $_[0]); }

sub set_and_reload
{
	my (%set) = @_;
	for my $k (sort keys %set)
	{
		$node->safe_psql('postgres', "ALTER SYSTEM SET $k = '$set{$k}'");
	}
	$node->reload;
	usleep(300_000);
}

# $n TLS logins of $user with password regress_pw, by pgbench -C: one
# connection per transaction, plus its own set-up connection (n - 1
# transactions make n logins).
sub logins
{
	my ($user, $n, $password) = @_;
	my $script = $node->basedir . '/select1.sql';
	open my $fh, '>', $script or die $!;
	print $fh "SELECT 1;\n";
	close $fh;
	my $conn = 'host=127.0.0.1 port=' . $node->port . " dbname=postgres user=$user sslmode=require "
	  . "sslrootcert=$pki/root.crt sslcert=$pki/no-such.crt sslkey=$pki/no-such.key";
	local $ENV{PGPASSWORD} = $password // 'regress_pw';
	local $ENV{PGPASSFILE} = '/nonexistent';
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'pgbench', '-n', '-C', '-c', '1', '-t', $n - 1, '-f', $script, $conn ],
		'>', \$out, '2>', \$err)
	  or die "pgbench failed: $err";
}

# the clients count of a user's successful TLS tuple
sub client_count
{
	my ($user) = @_;
	return sql_value("SELECT coalesce(sum(connections), 0) FROM pgtls_audit.clients "
		  . "WHERE user_name = '$user' AND outcome = 'success' AND client_addr = '127.0.0.1'");
}

# records of a user since an offset, successes and summaries of successes
sub success_records
{
	my ($offset, $user) = @_;
	return grep {
		($_->{user} // '') eq $user && $_->{outcome} eq 'success'
		  && ($_->{remote_host} // '') eq '127.0.0.1'
	} new_records($node, $offset);
}

sub sum_repeats
{
	my $s = 0;
	$s += $_->{repeats} for @_;
	return $s;
}

# ---- 300 logins from 3 tuples with 'new' and a long interval: 3 records
my $off = log_offset($node);
logins($_, 100) for @users;
for my $u (@users)
{
	my @r = success_records($off, $u);
	is(scalar(@r), 1, "new, 1h: $u: one record for 100 logins");
	is($r[0]{event}, 'established', "new, 1h: $u: the record is the first login's");
	is($r[0]{repeats}, 0, "new, 1h: $u: the first record carries no repeats");
	is(client_count($u), 100, "new, 1h: $u: clients counts all 100 logins");
}
my @all = grep { ($_->{remote_host} // '') eq '127.0.0.1' } new_records($node, $off);
is(scalar(@all), 3, 'new, 1h: 300 TLS logins from 3 tuples give 3 records in all');

# ---- a clean restart: the postmaster writes the summaries
$node->restart;
for my $u (@users)
{
	my @r = success_records($off, $u);
	my @sum = grep { $_->{event} eq 'summary' } @r;
	is(scalar(@sum), 1, "restart: $u: one summary record");
	is($sum[0]{repeats}, 99, "restart: $u: the summary carries the 99 suppressed logins");
	is(scalar(@r) - scalar(@sum) + sum_repeats(@r), 100,
		"restart: $u: records plus repeats equal the 100 logins");
	is($sum[0]{database}, 'postgres', "restart: $u: the summary names the tuple (database)");
	is($sum[0]{auth_method}, 'scram-sha-256', "restart: $u: the summary names the tuple (method)");
	ok(defined $sum[0]{repeats_first} && defined $sum[0]{repeats_last}
		  && $sum[0]{repeats_first} lt $sum[0]{repeats_last},
		"restart: $u: the summary has the first and last suppressed times");
	is($sum[0]{pid}, undef, "restart: $u: a summary has no pid");
	is(client_count($u), 100, "restart: $u: clients still counts 100 (saved)");
}

# the audit file got the same records, decided once
my $audit_file = $node->data_dir . '/log/pgtls_audit.jsonl';
my @file_recs = map { JSON::PP->new->utf8->decode($_) } grep { length } split /\n/, slurp_text($audit_file);
for my $u (@users)
{
	my @fr = grep { ($_->{user} // '') eq $u && ($_->{remote_host} // '') eq '127.0.0.1' } @file_recs;
	is(join(',', map { "$_->{event}:$_->{repeats}" } @fr), 'established:0,summary:99',
		"audit file: $u: the same record and summary as the server log");
}

# ---- a 1 s interval, logins spread over 3 s: the right repeats
set_and_reload('pgtls_audit.log_repeat_interval' => '1s');
$off = log_offset($node);
my $user = 'regress_alice';
my $start = time;
my $n = 0;
while (time - $start < 3.2)
{
	my $r = attempt($node, user => $user, password => 'regress_pw');
	die "login failed: $r->{stderr}" if $r->{rc};
	$n++;
	usleep(100_000);
}
# let the interval pass, then one attempt of another kind writes the summary
sleep 1.2;
attempt($node, user => 'regress_bob', password => 'wrong');
my @rec;
for (1 .. 100)
{
	@rec = success_records($off, $user);
	last if @rec && $rec[-1]{event} eq 'summary';
	usleep(50_000);
}
my @est = grep { $_->{event} eq 'established' } @rec;
ok(@est >= 3 && @est <= 5, "1 s: $n logins over 3.2 s give 3 to 5 written records (" . scalar(@est) . ')');
is($rec[-1]{event}, 'summary', '1 s: the last suppressed logins come as a summary by the next attempt');
is(scalar(@est) + sum_repeats(@rec), $n, "1 s: records plus repeats equal the $n logins");
# each record's repeats are exactly the logins the ring saw between it and
# the previous record of the tuple, with their first and last times
my $exact = 1;
for my $i (1 .. $#rec)
{
	my ($a, $b) = ($rec[$i - 1]{ts}, $rec[$i]{ts});
	my $between = sql_value("SELECT count(*) || '|' || coalesce(min(ts)::text, '') || '|' || coalesce(max(ts)::text, '') "
		  . "FROM pgtls_audit.connections WHERE user_name = '$user' AND outcome = 'success' "
		  . "AND ts > '$a' AND ts < '$b'");
	my ($cnt) = split /\|/, $between;
	if ($rec[$i]{event} eq 'established')
	{
		$exact &&= $cnt == $rec[$i]{repeats};
	}
	else
	{
		# a summary comes after the tuple's last login
		my $after = sql_value("SELECT count(*) FROM pgtls_audit.connections WHERE user_name = '$user' "
			  . "AND outcome = 'success' AND ts > '$a'");
		$exact &&= $after == $rec[$i]{repeats};
	}
	if ($rec[$i]{repeats} > 0)
	{
		my $t = sql_value("SELECT min(ts) = '$rec[$i]{repeats_first}' AND max(ts) = '$rec[$i]{repeats_last}' "
			  . "FROM pgtls_audit.connections WHERE user_name = '$user' AND outcome = 'success' AND ts > '$a' AND ts <= '$rec[$i]{repeats_last}'");
		$exact &&= $t eq 't';
	}
	# a record is written only once the interval has passed
	if ($rec[$i]{event} eq 'established')
	{
		$exact &&= sql_value("SELECT '$b'::timestamptz - '$a'::timestamptz >= interval '1 s'") eq 't';
	}
}
ok($exact, '1 s: every record carries exactly the logins since the previous one, with their first and last times');
ok((grep { $_->{repeats} > 0 } @est) >= 2, '1 s: the written records after the first carry repeats');

# ---- log_failures = new: a storm of 200 wrong passwords from one address
set_and_reload('pgtls_audit.log_repeat_interval' => '1h');
my $before_fail = sql_value("SELECT coalesce(sum(connections), 0) FROM pgtls_audit.clients "
	  . "WHERE user_name = 'regress_app' AND outcome = 'failed'");
$off = log_offset($node);
for (1 .. 200)
{
	my $r = attempt($node, user => 'regress_app', password => 'guess');
	die 'a wrong password logged in' unless $r->{rc};
}
is(sql_value("SELECT coalesce(sum(connections), 0) FROM pgtls_audit.clients "
	  . "WHERE user_name = 'regress_app' AND outcome = 'failed'") - $before_fail,
	200, 'storm: clients counts all 200 failures');
$node->restart;
my @fail = grep { ($_->{user} // '') eq 'regress_app' && $_->{outcome} eq 'failed' }
  new_records($node, $off);
ok(@fail >= 1 && @fail <= 3, 'storm: 200 wrong passwords give at most a few records (' . scalar(@fail) . ')');
is(scalar(grep { $_->{event} ne 'summary' } @fail) + sum_repeats(@fail), 200,
	'storm: records plus repeats equal the 200 failures');
my ($fsum) = grep { $_->{event} eq 'summary' } @fail;
like($fsum->{reason} // '', qr/password authentication failed for user "regress_app"/,
	'storm: the summary names the reason');
is($fsum->{sqlstate}, '28P01', 'storm: the summary has the SQLSTATE');
is($fsum->{remote_host}, '127.0.0.1', 'storm: the summary has the address');

# ---- on and off: every record, or none; clients exact in both
set_and_reload('pgtls_audit.log_connections' => 'on');
$off = log_offset($node);
my $c0 = client_count('regress_bob');
logins('regress_bob', 20);
is(scalar(success_records($off, 'regress_bob')), 20, 'on: 20 logins, 20 records');
is(client_count('regress_bob') - $c0, 20, 'on: clients counts the 20 logins');
set_and_reload('pgtls_audit.log_connections' => 'off');
$off = log_offset($node);
logins('regress_bob', 10);
is(scalar(success_records($off, 'regress_bob')), 0, 'off: 10 logins, no record');
is(client_count('regress_bob') - $c0, 30, 'off: clients still counts the 10 logins');
# the old boolean spellings still work
set_and_reload('pgtls_audit.log_connections' => 'true');
is(sql_value('SHOW pgtls_audit.log_connections'), 'on', "the bool spelling 'true' still means on");

# ---- json_compact: the json object without its null fields
set_and_reload('pgtls_audit.log_format' => 'json_compact');
$off = log_offset($node);
attempt($node, user => 'regress_bob', password => 'regress_pw');
set_and_reload('pgtls_audit.log_format' => 'json');
attempt($node, user => 'regress_bob', password => 'regress_pw');
my @lines = grep { /"user":"regress_bob"/ }
  extract_record_lines(substr(slurp_text($node->logfile), $off));
is(scalar(@lines), 2, 'json_compact: a compact and a full record');
my $compact = JSON::PP->new->utf8->decode($lines[0]);
my $full = JSON::PP->new->utf8->decode($lines[1]);
ok(!(grep { !defined $compact->{$_} } keys %$compact), 'json_compact: no null field');
ok($lines[0] !~ /:null[,}]/, 'json_compact: no null in the line');
is_deeply([ sort keys %$compact ], [ sort grep { defined $full->{$_} } keys %$full ],
	'json_compact: exactly the non-null fields of the json record');
is_deeply([ grep { defined $full->{$_} } record_keys($lines[1]) ], [ record_keys($lines[0]) ],
	'json_compact: in the same order');
ok(length($lines[0]) < length($lines[1]), 'json_compact: shorter than json');
is($compact->{repeats}, 0, 'json_compact: repeats 0 is kept (it is not null)');

# ---- volume: bytes per record in each format, and log bytes and records
# for N logins from 10 client tuples (certificate logins to 10 databases)
# under on and new; PGTLS_VOLUME_LOGINS=10000 for the README's figures
$node->safe_psql('postgres', "CREATE DATABASE regress_v$_") for 1 .. 10;
my %bytes;
for my $fmt (qw(text json json_compact))
{
	set_and_reload('pgtls_audit.log_format' => $fmt, 'pgtls_audit.log_connections' => 'on',
		'pgtls_audit.log_failures' => 'on');
	my $o = log_offset($node);
	attempt($node, user => 'regress_cert_user', cert => 'client_regress_cert_user');
	attempt($node, user => 'regress_bob', password => 'wrong');
	my @l = extract_record_lines(substr(slurp_text($node->logfile), $o));
	is(scalar(@l), 2, "bytes per record: $fmt: a success and a failure");
	$bytes{$fmt} = [ map { length("PGTLS_AUDIT $_") } @l ];
}
ok($bytes{json_compact}[0] < $bytes{json}[0], 'bytes per record: json_compact is smaller than json');
note(sprintf('bytes per record (message, from the marker on; a certificate login / a wrong password): '
	  . 'text %d / %d, json %d / %d, json_compact %d / %d',
	map { @{ $bytes{$_} } } qw(text json json_compact)));
my $N = $ENV{PGTLS_VOLUME_LOGINS} // 1000;
my $per = int($N / 10);
sub cert_logins
{
	my ($db, $n) = @_;
	my $script = $node->basedir . '/select1.sql';
	my $conn = 'host=127.0.0.1 port=' . $node->port . " dbname=$db user=regress_cert_user sslmode=require "
	  . "sslrootcert=$pki/root.crt sslcert=$pki/client_regress_cert_user.crt sslkey=$pki/client_regress_cert_user.key";
	my ($out, $err) = ('', '');
	IPC::Run::run([ 'pgbench', '-n', '-C', '-c', '1', '-t', $n - 1, '-f', $script, $conn ],
		'>', \$out, '2>', \$err)
	  or die "pgbench failed: $err";
}
my %vol;
for my $mode (qw(new on))
{
	set_and_reload('pgtls_audit.log_format' => 'json', 'pgtls_audit.log_connections' => $mode);
	my $o = log_offset($node);
	cert_logins("regress_v$_", $per) for 1 .. 10;
	# with new, the counts still pending are written at the clean stop
	$node->restart if $mode eq 'new';
	my @r = grep { ($_->{user} // '') eq 'regress_cert_user' } new_records($node, $o);
	# the bytes of the record lines (log_line_prefix included)
	my $bytes = 0;
	$bytes += length($_) + 1
	  for grep { /PGTLS_AUDIT .*"user":"regress_cert_user"/ } split /\n/, substr(slurp_text($node->logfile), $o);
	$vol{$mode} = [ scalar(@r), $bytes, sum_repeats(@r) ];
}
is($vol{on}[0], 10 * $per, "volume: on: $N logins, $N records");
is($vol{new}[0], 20, "volume: new: $N logins from 10 tuples, 10 records and 10 summaries");
is($vol{new}[0] / 2 + $vol{new}[2], 10 * $per, 'volume: new: records plus repeats equal the logins');
note(sprintf('log volume for %d logins from 10 clients (json): on %d records, %d bytes; new %d records, %d bytes',
	10 * $per, $vol{on}[0], $vol{on}[1], $vol{new}[0], $vol{new}[1]));

# ---- eviction: a pending count is written before its tuple is evicted
$node->append_conf('postgresql.conf', "pgtls_audit.max_clients = 10\n");
set_and_reload('pgtls_audit.log_connections' => 'new', 'pgtls_audit.log_repeat_interval' => '1h');
$node->restart;
$off = log_offset($node);
logins('regress_alice', 5);
# at most the first is written (if the reload into 10 entries evicted the
# tuple); the others are counted
my $written = scalar(success_records($off, 'regress_alice'));
ok($written <= 1, "eviction: 5 logins within the interval, $written record(s)");
# ten new tuples (local superuser logins to ten databases) evict it
$node->safe_psql("regress_v$_", 'SELECT 1') for 1 .. 10;
my @ev = grep { $_->{event} eq 'summary' } success_records($off, 'regress_alice');
is(scalar(@ev), 1, 'eviction: the evicted tuple wrote its summary');
is($ev[0]{repeats}, 5 - $written, 'eviction: with the logins no record carried');
ok(sql_value('SELECT clients_evicted > 0 FROM pgtls_audit.stats') eq 't', 'eviction: the eviction is counted');

$node->stop;
done_testing();
