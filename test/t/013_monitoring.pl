# 013_monitoring.pl: the dedicated audit file and the rsyslog recipe.
#
# The audit file (pgtls_audit.log_destination = file, pgtls_audit.log_file):
# 4 x 30 parallel TLS logins give exactly 120 valid JSON lines, nothing
# around them, the same records as the server log; mode 0600; a rename
# plus pg_reload_conf() in the middle of a storm loses no record and
# duplicates none; a read-only directory counts every record in
# records_dropped, warns once, and every login still succeeds; a missing
# directory is created; the settings reject bad values.
#
# The rsyslog recipe (monitoring/rsyslog-pgtls_audit.conf): a real rsyslogd
# (Debian's rsyslog, in the foreground with its own configuration, pid
# file and work directory) reads the audit file with imfile, parses each
# record with mmjsonparse and writes it as JSON; every record of a storm
# arrives intact, including the long UTF-8 DN with quotes and backslashes.
# The README's jq one-liner extracts exactly the records from a real
# jsonlog file.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use Encode ();
use File::Path qw(make_path);
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $pki = pki();
my $node = tls_node('auditfile', extra_conf => <<'EOC');
pgtls_audit.log_destination = 'server_log, file'
pgtls_audit.log_format = 'text'
EOC
my $data = $node->data_dir;
my $file = "$data/log/pgtls_audit.jsonl";
my $json = JSON::PP->new->utf8;
my $s = open_session($node);
$s->query('CREATE EXTENSION pgtls_audit');

# Every line of a file, and each parsed as one JSON object (undef if not).
sub file_lines
{
	my ($path) = @_;
	return () unless -e $path;
	my $text = slurp_text($path);
	die "$path does not end with a newline" if length $text && $text !~ /\n\z/;
	return split /\n/, $text;
}

sub parse_or_undef
{
	my ($line) = @_;
	my $r = eval { $json->decode($line) };
	return ref $r eq 'HASH' ? $r : undef;
}

# Storm: $clients bash loops of $n TLS logins each, application_name
# "$tag-<client>-<i>"; returns the IPC::Run handles.
sub start_storm
{
	my ($tag, $clients, $n, %o) = @_;
	my $user = $o{user} // 'regress_alice';
	my $auth = $o{cert}
	  ? "sslcert=$pki/$o{cert}.crt sslkey=$pki/$o{cert}.key"
	  : "sslcert=$pki/no-such.crt sslkey=$pki/no-such.key";
	my @h;
	for my $c (1 .. $clients)
	{
		my $conn = 'host=127.0.0.1 port=' . $node->port
		  . " dbname=postgres user=$user sslmode=require sslrootcert=$pki/root.crt $auth";
		my $script = "for i in \$(seq $n); do PGPASSWORD=regress_pw PGPASSFILE=/nonexistent "
		  . "psql -X -w -q -d \"$conn application_name=$tag-$c-\$i\" -c 'select 1' >/dev/null || exit 1; done";
		push @h, IPC::Run::start([ 'bash', '-c', $script ]);
	}
	return @h;
}

sub finish_all
{
	my $ok = 1;
	for my $h (@_) { $h->finish or $ok = 0; }
	return $ok;
}

# Records of the file(s) whose application_name starts with "$tag-".
sub tagged
{
	my ($tag, @lines) = @_;
	return grep { defined $_->{application_name} && $_->{application_name} =~ /^\Q$tag\E-/ }
	  map { parse_or_undef($_) // {} } @lines;
}

sub reload_and_wait
{
	$s->query('SELECT pg_reload_conf()');
	# the postmaster and this session read the file at once; give the
	# postmaster the same moment before forking the next backends
	usleep(300_000);
}

# ---- 4 x 30 parallel TLS logins: exactly 120 JSON lines, nothing around
my $before = scalar(file_lines($file));
my $log_offset = log_offset($node);
ok(finish_all(start_storm('storm1', 4, 30)), 'storm 1: 4 x 30 parallel TLS logins succeed');
my @lines = (file_lines($file))[ $before .. scalar(file_lines($file)) - 1 ];
is(scalar(@lines), 120, 'storm 1: exactly 120 new lines in the audit file');
is(scalar(grep { /^\{.*\}\z/ && defined parse_or_undef($_) } @lines), 120,
	'storm 1: every line is one JSON object, nothing before or after it');
my @recs = tagged('storm1', @lines);
is(scalar(@recs), 120, 'storm 1: 120 records of the storm');
my %names = map { $_->{application_name} => 1 } @recs;
is(scalar(keys %names), 120, 'storm 1: each login exactly once');
is(scalar(grep { $_->{outcome} eq 'success' && $_->{event} eq 'established'
	  && $_->{protocol} eq 'TLSv1.3' && $_->{user} eq 'regress_alice' && $_->{v} == 1 } @recs),
	120, 'storm 1: every record is a successful TLSv1.3 login of regress_alice');
my $mode = (stat $file)[2] & 07777;
is(sprintf('%04o', $mode), '0600', 'the audit file has mode 0600');
is((stat $file)[4], $>, 'the audit file is owned by the server user');

# the server log (text format) got the same 120 records
my @logrecs = grep { ($_->{application_name} // '') =~ /^storm1-/ } new_records($node, $log_offset);
is(scalar(@logrecs), 120, 'storm 1: the server log (both destinations) has the same 120 records');
my ($one) = grep { $_->{application_name} eq 'storm1-2-7' } @recs;
my ($one_log) = grep { $_->{application_name} eq 'storm1-2-7' } @logrecs;
# the text format writes a list as one comma-separated string
$one_log->{$_} = defined $one_log->{$_} ? [ split /,/, $one_log->{$_} ] : undef
  for grep { /^offered_/ } keys %$one_log;
is_deeply($one, $one_log, 'one record: the file (JSON) and the server log (text) carry the same fields and values');

# ---- rename + reload in the middle of a storm: nothing lost, nothing twice
$s->query(q{ALTER SYSTEM SET pgtls_audit.log_destination = 'file'});
reload_and_wait();
$log_offset = log_offset($node);
my @storm = start_storm('storm2', 4, 30);
my $seen = 0;
for (1 .. 600)
{
	$seen = scalar(tagged('storm2', file_lines($file)));
	last if $seen >= 30;
	usleep(20_000);
}
ok($seen >= 30 && $seen < 120, "storm 2: rename with $seen of 120 records written");
rename($file, "$file.1") or die "rename: $!";
reload_and_wait();
# logins that start after the rename: every one of their records must be
# in the new file (how many of the storm's own land there depends on how
# fast its remaining logins run, so that split is only reported: a run on
# 19 once finished all 120 before the rename)
ok(finish_all(start_storm('storm2b', 2, 5)), 'storm 2: logins after the rename succeed');
ok(finish_all(@storm), 'storm 2: every login succeeds across the rename');
my @old = tagged('storm2', file_lines("$file.1"));
my @new = tagged('storm2', file_lines($file));
diag('storm 2: ' . scalar(@old) . ' records in the renamed file, ' . scalar(@new) . ' in the new one');
ok(@old >= 30, 'storm 2: the records before the rename are in the renamed file (' . scalar(@old) . ')');
is(scalar(tagged('storm2b', file_lines($file))), 10, 'storm 2: the 10 logins after the rename are in the new file');
is(scalar(tagged('storm2b', file_lines("$file.1"))), 0, 'storm 2: none of them in the renamed file');
my %count;
$count{ $_->{application_name} }++ for @old, @new;
is(scalar(keys %count), 120, 'storm 2: no record lost across the rename');
is(scalar(grep { $_ != 1 } values %count), 0, 'storm 2: no record in both files');
is(scalar(grep { /^\{.*\}\z/ && defined parse_or_undef($_) } file_lines("$file.1"), file_lines($file)),
	scalar(file_lines("$file.1")) + scalar(file_lines($file)), 'storm 2: both files hold only JSON lines');
is(scalar(grep { ($_->{application_name} // '') =~ /^storm2-/ } new_records($node, $log_offset)), 0,
	"log_destination = 'file': nothing in the server log");
unlink "$file.1";

# ---- back to the server log only: the file gets nothing
$s->query(q{ALTER SYSTEM SET pgtls_audit.log_destination = 'server_log'});
reload_and_wait();
$before = scalar(file_lines($file));
is(attempt($node, user => 'regress_alice', password => 'regress_pw', appname => 'only-log')->{rc}, 0,
	"log_destination = 'server_log': login succeeds");
is(scalar(file_lines($file)), $before, "log_destination = 'server_log': the file gets nothing");

# ---- the settings' values
for my $bad ('bogus', 'file, syslog', '')
{
	my ($rc, $out, $err) = $node->psql('postgres',
		"ALTER SYSTEM SET pgtls_audit.log_destination = '$bad'");
	like($err, qr/invalid value for parameter "pgtls_audit.log_destination"/,
		"log_destination '$bad' is refused");
}
my ($rc, $out, $err) = $node->psql('postgres', q{ALTER SYSTEM SET pgtls_audit.log_file = ''});
like($err, qr/invalid value for parameter "pgtls_audit.log_file"/, 'an empty log_file is refused');
is($node->safe_psql('postgres', q{SELECT boot_val FROM pg_settings WHERE name = 'pgtls_audit.log_destination'}),
	'server_log', 'log_destination defaults to server_log');
is($node->safe_psql('postgres', q{SELECT boot_val FROM pg_settings WHERE name = 'pgtls_audit.log_file'}),
	'log/pgtls_audit.jsonl', 'log_file defaults to log/pgtls_audit.jsonl');

# ---- a missing directory is created (0700), the file beside it
$s->query(q{ALTER SYSTEM SET pgtls_audit.log_destination = 'FILE,server_log'});
$s->query(q{ALTER SYSTEM SET pgtls_audit.log_file = 'audit_new/a.jsonl'});
reload_and_wait();
is(attempt($node, user => 'regress_alice', password => 'regress_pw', appname => 'newdir-1')->{rc}, 0,
	'missing directory: login succeeds');
my @nd = tagged('newdir', file_lines("$data/audit_new/a.jsonl"));
is(scalar(@nd), 1, 'missing directory: created, and the record is in the file');
is(sprintf('%04o', (stat "$data/audit_new")[2] & 07777), '0700', 'missing directory: mode 0700');

# ---- a read-only directory: drops counted, one WARNING, logins succeed
make_path("$data/audit_ro");
chmod 0500, "$data/audit_ro";
$s->query(q{ALTER SYSTEM SET pgtls_audit.log_file = 'audit_ro/a.jsonl'});
reload_and_wait();
$s->query('SELECT pgtls_audit.reset()');
$log_offset = log_offset($node);
my $all_ok = 1;
for my $i (1 .. 5)
{
	my $r = attempt($node, user => 'regress_alice', password => 'regress_pw', appname => "ro-$i");
	$all_ok = 0 unless $r->{rc} == 0 && $r->{stderr} eq '';
}
ok($all_ok, 'read-only directory: 5 logins succeed, and the client sees no warning');
ok(poll_until($s, 'SELECT records_dropped = 5 FROM pgtls_audit.stats'),
	'read-only directory: records_dropped counts exactly the 5 records');
is($s->query('SELECT records_total FROM pgtls_audit.stats'), '5',
	'read-only directory: the inventory still has the 5 attempts');
my $log = substr(slurp_text($node->logfile), $log_offset);
my @warn = $log =~ /WARNING:  pgtls_audit could not write to audit file "audit_ro\/a.jsonl": Permission denied/g;
is(scalar(@warn), 1, 'read-only directory: one WARNING for 5 failures (at most one a minute)');
like($log, qr/DETAIL:  1 audit record could not be written to the file since the last such warning/,
	'read-only directory: the WARNING counts the failures since the previous one');
is(scalar(grep { ($_->{application_name} // '') =~ /^ro-/ } new_records($node, $log_offset)), 5,
	'read-only directory: the server log still has the 5 records');
ok(!-e "$data/audit_ro/a.jsonl", 'read-only directory: no file was created');
chmod 0700, "$data/audit_ro";

# ---- the rsyslog recipe: a real rsyslogd follows the audit file
$s->query(q{ALTER SYSTEM RESET pgtls_audit.log_file});
$s->query(q{ALTER SYSTEM SET pgtls_audit.log_destination = 'file'});
reload_and_wait();
my $rsyslogd = '/usr/sbin/rsyslogd';
# a missing rsyslog is a failure, not a skip: test/run installs it
ok(-x $rsyslogd, 'rsyslogd is installed (test/lib/packages.sh)')
  or BAIL_OUT('rsyslogd is missing: run test/run as root to install it');
my $rs = PostgreSQL::Test::Utils::tempdir();
make_path("$rs/work");
my $recipe = slurp_text(srcdir() . '/monitoring/rsyslog-pgtls_audit.conf');
is(scalar(() = $recipe =~ m{/var/lib/postgresql/15/main/log/pgtls_audit\.jsonl|/var/log/pgtls_audit/}g), 3,
	'rsyslog recipe: the audit file and the two output files, to be adjusted');
$recipe =~ s{/var/lib/postgresql/15/main/log/pgtls_audit\.jsonl}{$file}g;
$recipe =~ s{/var/log/pgtls_audit/}{$rs/out/}g;
open my $cf, '>', "$rs/rsyslog.conf" or die $!;
print $cf qq{global(workDirectory="$rs/work")\n}, $recipe;
close $cf;
my ($rs_out, $rs_err) = ('', '');
IPC::Run::run([ $rsyslogd, '-N1', '-f', "$rs/rsyslog.conf" ], '>', \$rs_out, '2>', \$rs_err);
is($?, 0, 'rsyslog recipe: rsyslogd -N1 validates it') or diag $rs_err;
my $rsd = IPC::Run::start([ $rsyslogd, '-n', '-f', "$rs/rsyslog.conf", '-i', "$rs/rsyslogd.pid" ],
	'<', \undef, '>', \$rs_out, '2>', \$rs_err);

my @rstorm = (start_storm('rs', 2, 15),
	start_storm('rsdn', 1, 3, user => 'regress_longdn', cert => 'client_longdn'));
ok(finish_all(@rstorm), 'rsyslog: a storm of 2 x 15 logins and 3 long-DN certificate logins');
open my $af, '>>', $file or die $!;
print $af "not a pgtls_audit record\n";
close $af;
my @want = grep { defined } map { parse_or_undef($_) } file_lines($file);
my @got;
for (1 .. 300)
{
	@got = file_lines("$rs/out/audit.json");
	last if @got >= @want && -s "$rs/out/rejected.log";
	usleep(50_000);
}
$rsd->kill_kill;
ok(scalar(@want) >= 33, 'rsyslog: the audit file holds ' . scalar(@want) . ' records');
is(scalar(@got), scalar(@want), 'rsyslog: every record arrives, once');
is(scalar(grep { defined parse_or_undef($_) } @got), scalar(@got), 'rsyslog: every output line is one JSON object');
is_deeply([ map { parse_or_undef($_) } @got ], \@want, 'rsyslog: every record intact, in order');
my @dn = grep { ($_->{application_name} // '') =~ /^rsdn-/ } map { parse_or_undef($_) } @got;
my $longdn = slurp_text("$pki/client_longdn.dn");
$longdn =~ s/\s+$//;
$longdn = Encode::decode('UTF-8', $longdn);
is(scalar(grep { $_->{client_dn} eq $longdn } @dn), 3,
	'rsyslog: the 3 long UTF-8 DNs with quotes and backslashes arrive exactly');
like($longdn, qr/\\".*\\\\.*\x{fc}/, 'the long DN has an escaped quote, a backslash and UTF-8');
is(slurp_text("$rs/out/rejected.log"), "not a pgtls_audit record\n",
	'rsyslog: the line that is not a record goes to the reject file, alone');
is(scalar(grep { ($_->{application_name} // '') =~ /^rs-/ } map { parse_or_undef($_) } @got), 30,
	'rsyslog: the 30 storm records');

# ---- the README's jq one-liner, on a real jsonlog file
$s->query('ALTER SYSTEM RESET ALL');
$s->close;
$node->append_conf('postgresql.conf', <<'EOC');
logging_collector = on
log_destination = 'jsonlog'
log_directory = 'jsonlog'
pgtls_audit.log_destination = 'server_log'
pgtls_audit.log_format = 'json'
EOC
$node->restart;
for my $i (1 .. 3)
{
	is(attempt($node, user => 'regress_alice', password => 'regress_pw', appname => "jq-$i")->{rc}, 0,
		"jsonlog: login $i");
}
my @jsonlogs = glob("$data/jsonlog/*.json");
# the logging collector writes a moment after the backend
for (1 .. 100)
{
	last if @jsonlogs == 1 && scalar(() = slurp_text($jsonlogs[0]) =~ /PGTLS_AUDIT \{.*jq-3/g);
	usleep(50_000);
	@jsonlogs = glob("$data/jsonlog/*.json");
}
is(scalar(@jsonlogs), 1, 'jsonlog: the server writes one .json log file');
my ($jq_out, $jq_err) = ('', '');
# the one-liner of README.md, "Monitoring"
my $readme = slurp_text(srcdir() . '/README.md');
my ($oneliner) = $readme =~ /^(jq -c .*) postgresql\.json$/m;
ok(defined $oneliner, "the README's jq one-liner");
IPC::Run::run([ 'bash', '-c', "$oneliner \"\$1\"", 'jq', $jsonlogs[0] ], '>', \$jq_out, '2>', \$jq_err);
is($?, 0, 'jsonlog: jq runs') or diag $jq_err;
my @jrecs = map { parse_or_undef($_) } split /\n/, $jq_out;
is(scalar(grep { !defined } @jrecs), 0, 'jsonlog: jq prints only JSON objects');
is(scalar(grep { defined && ($_->{application_name} // '') =~ /^jq-/ } @jrecs), 3,
	'jsonlog: jq extracts the 3 records');
is(scalar(grep { defined && !exists $_->{v} } @jrecs), 0, 'jsonlog: and nothing but records');
$node->stop;
done_testing();
