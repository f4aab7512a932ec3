# 013b_prometheus.pl: the Prometheus integration with the real programs.
#
# promtool checks monitoring/prometheus-alerts.yml and runs the unit tests
# of every alert (monitoring/tests/*.yml).  Then end to end, all on
# 127.0.0.1 with free ports, every process started and stopped here: a TLS
# cluster with the extension serving the harness's 5-day server
# certificate; Debian's prometheus-postgres-exporter with
# monitoring/postgres_exporter-queries.yml; Debian's prometheus (config
# written here, 1 s scrape and evaluation interval) scraping the exporter
# and loading the alerts.  Through Prometheus's HTTP API: the certificate's
# days_left equals the server's own pgtls_audit.server_certificates, the 3
# plaintext TCP logins made here are counted exactly, and the 5-day
# certificate fires PgtlsAuditCertificateExpiringSoon but not the 3-day
# critical alert.  Every metric the queries file defines is in the
# exporter's output with its HELP text.
#
# A missing program is a failure, not a skip: test/run installs them
# (test/lib/packages.sh).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use IPC::Run;
use JSON::PP;
use HTTP::Tiny;
use Time::HiRes qw(usleep);
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $src = srcdir();
my $mon = "$src/monitoring";
my %bin = (
	promtool => '/usr/bin/promtool',
	prometheus => '/usr/bin/prometheus',
	exporter => '/usr/bin/prometheus-postgres-exporter');
for my $b (sort keys %bin)
{
	ok(-x $bin{$b}, "$bin{$b} is installed (test/lib/packages.sh)")
	  or BAIL_OUT("$bin{$b} is missing: run test/run as root to install it");
}

# ---- promtool: the rules parse, and every alert's unit tests pass
my ($out, $err) = ('', '');
IPC::Run::run([ $bin{promtool}, 'check', 'rules', "$mon/prometheus-alerts.yml" ],
	'>', \$out, '2>', \$err);
is($?, 0, 'promtool check rules') or diag "$out$err";
my @alerts = slurp_text("$mon/prometheus-alerts.yml") =~ /^\s+- alert: (\w+)$/mg;
like($out, qr/SUCCESS: ${\ scalar(@alerts)} rules found/, scalar(@alerts) . ' alerting rules');
my @unit = glob("$mon/tests/*.yml");
($out, $err) = ('', '');
IPC::Run::run([ $bin{promtool}, 'test', 'rules', @unit ], '>', \$out, '2>', \$err);
is($?, 0, 'promtool test rules') or diag "$out$err";
my $unit_text = join '', map { slurp_text($_) } @unit;
for my $a (@alerts)
{
	like($unit_text, qr/alertname: $a\n\s+exp_alerts:\n\s+- exp_labels:/,
		"$a has a unit test where it fires");
	like($unit_text, qr/alertname: $a\n\s+exp_alerts: \[\]/,
		"$a has a unit test where it stays silent");
}

# ---- the cluster: the 5-day server certificate, 3 plaintext TCP logins
my $pki = pki();
my $node = tls_node('prom', extra_conf => <<"EOC");
ssl_cert_file = '$pki/server_expiring.crt'
ssl_key_file = '$pki/server_expiring.key'
ssl_crl_file = '$pki/crl_chain.pem'
EOC
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
$node->safe_psql('postgres', 'CREATE ROLE regress_prometheus LOGIN; GRANT pg_monitor TO regress_prometheus');
for my $i (1 .. 3)
{
	my $r = attempt($node, user => 'regress_plain_user', password => 'regress_pw',
		sslmode => 'disable');
	is($r->{rc}, 0, "plaintext TCP login $i") or diag $r->{stderr};
}
# a TLS login with a client certificate: a TLS session, a client certificate
my $r = attempt($node, user => 'regress_cert_user', cert => 'client_regress_cert_user');
is($r->{rc}, 0, 'TLS login with a client certificate') or diag $r->{stderr};
my $days = $node->safe_psql('postgres',
	q{SELECT days_left FROM pgtls_audit.server_certificates WHERE source = 'ssl_cert_file' AND "position" = 1});
my $serial = $node->safe_psql('postgres',
	q{SELECT serial FROM pgtls_audit.server_certificates WHERE source = 'ssl_cert_file' AND "position" = 1});
ok($days >= 4 && $days <= 5, "the server certificate has $days days left (harness: 5 days)");

# ---- postgres_exporter with the queries file
my $tmp = PostgreSQL::Test::Utils::tempdir();
my $http = HTTP::Tiny->new(timeout => 5);
my $exp_port = PostgreSQL::Test::Cluster::get_free_port();
my ($exp_out, $exp_err) = ('', '');
my $exporter;
{
	local $ENV{DATA_SOURCE_NAME} = 'host=' . $node->host . ' port=' . $node->port
	  . ' user=regress_prometheus dbname=postgres sslmode=disable';
	$exporter = IPC::Run::start([ $bin{exporter},
			"--web.listen-address=127.0.0.1:$exp_port",
			"--extend.query-path=$mon/postgres_exporter-queries.yml",
			'--disable-default-metrics', '--disable-settings-metrics',
			'--log.level=warn' ],
		'<', \undef, '>', \$exp_out, '2>', \$exp_err);
}
my $metrics = '';
for (1 .. 100)
{
	my $r = $http->get("http://127.0.0.1:$exp_port/metrics");
	if ($r->{success} && $r->{content} =~ /^pgtls_audit_certificate_days_left\{/m)
	{
		$metrics = $r->{content};
		last;
	}
	usleep(100_000);
}
ok(length $metrics, 'the exporter serves pgtls_audit metrics') or diag $exp_err;

# every metric the queries file defines is exported, with its HELP text
my %defined;
{
	my $ns;
	for my $line (split /\n/, slurp_text("$mon/postgres_exporter-queries.yml"))
	{
		$ns = $1 if $line =~ /^([a-z_]+):$/;
		$defined{"${ns}_$1"} = 1
		  if $line =~ /^\s+- ([a-z_]+):$/ && defined $ns
		  && $line !~ /^\s+- (kind|source|subject|serial|issuer|crl_number|check_id|severity|outcome|policy|transport|protocol|cipher|event|highest_offered_version):$/;
	}
}
for my $m (sort keys %defined)
{
	like($metrics, qr/^# HELP \Q$m\E \S.*\n# TYPE \Q$m\E (gauge|counter)\n\Q$m\E[{ ]/m,
		"exporter: $m has HELP, TYPE and a sample");
}
like($metrics, qr/^pgtls_audit_attempts_total\{outcome="success",policy="plaintext",server="[^"]+",transport="tcp"\} 3$/m,
	'exporter: exactly 3 plaintext TCP logins');
like($metrics, qr/^pgtls_audit_tls_sessions_total\{cipher="TLS_AES_256_GCM_SHA384",protocol="TLSv1.3",server="[^"]+"\} 1$/m,
	'exporter: exactly 1 TLS session');
like($metrics, qr/^pgtls_audit_client_certificate_days_left\{issuer="CN=pgtls_audit Test Intermediate CA",serial="\d+",server="[^"]+",subject="CN=regress_cert_user,OU=clients,O=pgtls_audit tests"\} 36[45]$/m,
	'exporter: the client certificate seen, with its days left');
like($metrics, qr/^pgtls_audit_offered_version_attempts_total\{highest_offered_version="TLSv1.3",server="[^"]+"\} 1$/m,
	'exporter: 1 attempt offering at most TLSv1.3 (client_fingerprints)');
like($metrics, qr/^pgtls_audit_recent_offered_version_clients\{highest_offered_version="TLSv1.3",server="[^"]+"\} 1$/m,
	'exporter: 1 recent client offering at most TLSv1.3 (connections)');
unlike($metrics, qr/^pgtls_audit_offered_version_attempts_total\{highest_offered_version="(?!TLSv1.3)/m,
	'exporter: no other highest offered version (plaintext logins offer none)');
my $crls = $node->safe_psql('postgres', 'SELECT count(*) FROM pgtls_audit.crls WHERE next_update IS NOT NULL');
is(scalar(() = $metrics =~ /^pgtls_audit_crl_days_left\{/mg), $crls, "exporter: one series per CRL ($crls)");

# ---- prometheus scraping the exporter, with the alerts
my $prom_port = PostgreSQL::Test::Cluster::get_free_port();
open my $fh, '>', "$tmp/prometheus.yml" or die $!;
print $fh <<"EOC";
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $mon/prometheus-alerts.yml
scrape_configs:
  - job_name: pgtls_audit
    static_configs:
      - targets: ['127.0.0.1:$exp_port']
EOC
close $fh;
my ($prom_out, $prom_err) = ('', '');
my $prom = IPC::Run::start([ $bin{prometheus},
		"--config.file=$tmp/prometheus.yml",
		"--storage.tsdb.path=$tmp/tsdb",
		"--web.listen-address=127.0.0.1:$prom_port",
		'--log.level=warn' ],
	'<', \undef, '>', \$prom_out, '2>', \$prom_err);

sub prom_query
{
	my ($q) = @_;
	my $r = $http->get("http://127.0.0.1:$prom_port/api/v1/query?query="
		  . join('', map { sprintf('%%%02X', ord) } split //, $q));
	return undef unless $r->{success};
	my $d = eval { decode_json($r->{content}) };
	return $d && $d->{status} eq 'success' ? $d->{data}{result} : undef;
}

sub prom_wait
{
	my ($q, $check) = @_;
	my $res;
	for (1 .. 300)
	{
		$res = prom_query($q);
		return $res if $res && $check->($res);
		usleep(100_000);
	}
	return $res;
}

my $res = prom_wait('pgtls_audit_certificate_days_left{kind="server_certificate"}', sub { @{ $_[0] } == 1 });
is(scalar(@{ $res // [] }), 1, 'prometheus: one server_certificate series') or diag $prom_err;
is($res->[0]{value}[1], $days, "prometheus: the certificate's days_left is the server's ($days)");
is($res->[0]{metric}{serial}, $serial, 'prometheus: labelled with its serial');
like($res->[0]{metric}{subject}, qr/CN=localhost/, 'prometheus: labelled with its subject');

$res = prom_wait('pgtls_audit_attempts_total{policy="plaintext",outcome="success",transport="tcp"}',
	sub { @{ $_[0] } == 1 });
is($res->[0]{value}[1], '3', 'prometheus: the 3 plaintext TCP logins are counted');

# the alerts as Prometheus evaluates them
my $firing;
for (1 .. 300)
{
	my $r = $http->get("http://127.0.0.1:$prom_port/api/v1/alerts");
	my $d = $r->{success} ? eval { decode_json($r->{content}) } : undef;
	$firing = $d ? [ grep { $_->{state} eq 'firing' } @{ $d->{data}{alerts} } ] : [];
	last if grep { $_->{labels}{alertname} eq 'PgtlsAuditCertificateExpiringSoon' } @$firing;
	usleep(100_000);
}
my @soon = grep { $_->{labels}{alertname} eq 'PgtlsAuditCertificateExpiringSoon'
	  && $_->{labels}{kind} eq 'server_certificate' } @$firing;
is(scalar(@soon), 1, 'prometheus: PgtlsAuditCertificateExpiringSoon fires for the 5-day certificate');
is($soon[0]{labels}{serial}, $serial, 'prometheus: the alert names the certificate');
like($soon[0]{annotations}{summary}, qr/^server_certificate CN=localhost.* expires in [45]d /,
	'prometheus: the alert summary says when it expires');
is(scalar(grep { $_->{labels}{alertname} =~ /^PgtlsAuditCertificateExpir(ingCritical|ed)$/ } @$firing), 0,
	'prometheus: neither the 3-day nor the expired alert fires');
is(scalar(grep { $_->{labels}{alertname} eq 'PgtlsAuditRecordsDropped' } @$firing), 0,
	'prometheus: no records dropped');

$prom->kill_kill;
$exporter->kill_kill;
$node->stop;
done_testing();
