# 017_scale.pl: the inventory at CI size, filled with synthetic attempts by
# the test-only fill module (test/modules/pgtls_audit_fill, installed by
# test/run, never part of the extension): the views return exactly the
# rows filled, with the distinct values the fill made; LRU eviction at
# capacity keeps exactly the newest entries; settings_impact() decides
# exactly the filled TLS 1.2-only and CBC-only fingerprints; the fill stops
# at statement_timeout; connections is newest first by ts when the ring is
# not; the save file carries 10,000 entries per table across a restart;
# the shared memory the module requests is what its size code computes.  The larger sizes (100k, 1M) and the timings are in
# test/lib/bench_inventory.sh (test/bench), never asserted here.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $n = 10000;
# room for the real sessions of this test, so that they never evict a
# filled entry (except where the test fills past capacity on purpose)
my $cap = $n + 100;
my $fill_sql = srcdir() . '/test/modules/pgtls_audit_fill/pgtls_audit_fill.sql';

# not part of the extension: the main Makefile never names the module, and
# the extension's script defines no pgtls_fill object
my $makefile = slurp_text(srcdir() . '/Makefile');
unlike($makefile, qr/pgtls_audit_fill/, 'the main Makefile does not build or install the fill module');

my $node = tls_node('scale', extra_conf => <<"EOF");
pgtls_audit.history_size = $cap
pgtls_audit.max_clients = $cap
pgtls_audit.max_certificates = $cap
pgtls_audit.max_fingerprints = $cap
pgtls_audit.log_connections = off
EOF
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pg_proc p JOIN pg_depend d ON d.objid = p.oid AND d.classid = 'pg_proc'::regclass
		   JOIN pg_extension e ON e.oid = d.refobjid AND e.extname = 'pgtls_audit'
		  WHERE p.proname IN ('fill', 'shmem_sizes')"),
	'0', 'the extension has no fill function');
$node->safe_psql('postgres', slurp_text($fill_sql));
$node->safe_psql('postgres', 'CREATE ROLE regress_scale_user LOGIN');

# revoked from PUBLIC: a plain role cannot fill
my ($rc, $out, $err) = $node->psql('postgres', 'SELECT pgtls_fill.fill(10)',
	extra_params => [ '-U', 'regress_scale_user', '-v', 'VERBOSITY=verbose' ]);
like($err, qr/42501/, 'a role without the grant cannot run fill (42501)');

# counts of every view and the stats, after a reset and fills, all in one
# session so that no real attempt comes in between
my $counts = q{SELECT (SELECT count(*) FROM pgtls_audit.connections) || ' ' ||
  (SELECT count(*) FROM pgtls_audit.clients) || ' ' ||
  (SELECT count(*) FROM pgtls_audit.client_certificates) || ' ' ||
  (SELECT count(*) FROM pgtls_audit.client_fingerprints) || ' ' ||
  (SELECT records_total || ' ' || history_entries || ' ' || history_overwritten || ' ' ||
          clients_entries || ' ' || clients_evicted || ' ' || certificates_entries || ' ' ||
          certificates_evicted || ' ' || fingerprints_entries || ' ' || fingerprints_evicted
     FROM pgtls_audit.stats)};

my $got = $node->safe_psql('postgres',
	"SELECT pgtls_audit.reset() \\gset\nSELECT pgtls_fill.fill($n) AS total \\gset\n$counts");
is($got, join(' ', ($n) x 4, $n, $n, 0, $n, 0, $n, 0, $n, 0),
	"fill($n): every view has exactly $n rows, stats agree, nothing evicted");

# hba_usage has no size setting: it holds 1,024 lines.  The fill names
# 1,100 lines in turn (line 90 + k % 1100), so once the table is full every
# attempt misses and evicts the least recently used line: 10,000 - 1,024
# evictions, and the newest 1,024 lines are kept, one attempt each
# (attempts k = 8976 .. 9999: lines 266 .. 1189 and 90 .. 189).
is($node->safe_psql('postgres',
		"SELECT pgtls_audit.reset() \\gset\nSELECT pgtls_fill.fill($n) AS total \\gset\n"
		  . "SELECT s.hba_entries || ' ' || s.hba_evicted || ' ' || u.n || ' ' || u.attempts || ' ' || u.lo || ' ' || u.hi "
		  . "FROM pgtls_audit.stats s, (SELECT count(*) AS n, sum(attempts) AS attempts, min(hba_line) AS lo, "
		  . "max(hba_line) AS hi FROM pgtls_audit.hba_usage) u"),
	'1024 8976 1024 1024 90 1189',
	'hba_usage full: 1,024 lines kept, every eviction counted, the newest lines kept');

# the distinct values the fill made (20 issuers, 400 users, 30 databases),
# through the GROUP BY queries a DBA writes
is($node->safe_psql('postgres', q{
	SELECT count(DISTINCT issuer_dn) || ' ' || min(c) || ' ' || max(c)
	  FROM (SELECT issuer_dn, count(*) AS c FROM pgtls_audit.client_certificates
	         WHERE issuer_dn LIKE 'CN=Example Issuing CA %' GROUP BY issuer_dn) s}),
	'20 500 500', 'client_certificates: 20 issuers, 500 certificates each');
is($node->safe_psql('postgres', q{
	SELECT count(*) || ' ' || min(c) || ' ' || max(c) || ' ' || sum(c)
	  FROM (SELECT user_name, count(*) AS c FROM pgtls_audit.clients
	         WHERE user_name LIKE 'app\_user\_%' GROUP BY user_name) s}),
	"400 25 25 $n", 'clients: 400 users with 25 addresses each');
is($node->safe_psql('postgres', q{
	SELECT count(DISTINCT database_name) || ' ' || count(DISTINCT client_addr) || ' ' ||
	       count(*) FILTER (WHERE protocol = 'TLSv1.2') || ' ' || count(DISTINCT client_serial)
	  FROM pgtls_audit.clients WHERE user_name LIKE 'app\_user\_%'}),
	"30 $n 1400 $n", 'clients: 30 databases, distinct addresses and serials, 1,400 over TLS 1.2');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE offered_versions = '{TLSv1.3,TLSv1.2}') || ' ' ||
	       count(*) FILTER (WHERE offered_versions = '{TLSv1.2}') || ' ' ||
	       count(*) FILTER (WHERE highest_offered_version = 'TLSv1.3' AND ja4 LIKE 't13d%') || ' ' ||
	       count(*) FILTER (WHERE cardinality(user_names) = 1 AND user_names[1] LIKE 'app\_user\_%') || ' ' ||
	       count(DISTINCT ja4) || ' ' || sum(connections)
	  FROM pgtls_audit.client_fingerprints}),
	"8600 1400 8600 $n $n $n",
	'client_fingerprints: 8,600 TLS 1.3 offers, 1,400 TLS 1.2-only, each with its one user and connection');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE ssl AND client_cert AND user_name LIKE 'app\_user\_%' AND
	                              cardinality(offered_ciphers) > 0 AND ja4 IS NOT NULL) || ' ' ||
	       count(DISTINCT client_serial)
	  FROM pgtls_audit.connections}),
	"$n $n", "connections: $n TLS attempts with a client certificate and an offer");

# who breaks if you harden, over the 10,000 fingerprints: the TLS 1.2-only
# ones at TLSv1.3 (1 in 10 and 1 in 25 of them), the CBC-only ones (1 in
# 25) under an AEAD-only list
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE breaks) || ' ' || count(*) FROM pgtls_audit.settings_impact('TLSv1.3')}),
	"1400 $n", 'settings_impact(TLSv1.3): the 1,400 TLS 1.2-only fingerprints break');
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE breaks) || ' ' || count(*) FILTER (WHERE breaks AND why = 'no common cipher suite')
	  FROM pgtls_audit.settings_impact(ssl_ciphers => 'ECDHE+AESGCM:ECDHE+CHACHA20')}),
	'400 400', 'settings_impact(AEAD only): the 400 CBC-only fingerprints break, no common cipher suite');

# past capacity: 5,000 more attempts (15,000 distinct clients, certificates
# and ring entries for room for 10,100) evict exactly the 4,900 oldest of
# each; their fingerprints (k mod 5000) exist and are counted again,
# nothing evicted there
my $ev = $n + 5000 - $cap;
$got = $node->safe_psql('postgres',
	"SELECT pgtls_audit.reset() \\gset\nSELECT pgtls_fill.fill($n) AS a \\gset\nSELECT pgtls_fill.fill(5000) AS b \\gset\n$counts");
is($got, join(' ', ($cap) x 3, $n, $n + 5000, $cap, $ev, $cap, $ev, $cap, $ev, $n, 0),
	"5,000 more past capacity: $ev evicted from the ring, clients and certificates, none from fingerprints");
is($node->safe_psql('postgres', q{
	SELECT min(serial) || ' ' || max(serial) FROM pgtls_audit.client_certificates WHERE serial LIKE '4242%'}),
	sprintf('4242%020d 4242%020d', $ev, $n + 4999),
	"the certificates kept are exactly the newest (serials of attempts $ev .. 14999)");
is($node->safe_psql('postgres', q{
	SELECT count(*) FILTER (WHERE connections = 2) || ' ' || count(*) FILTER (WHERE connections = 1)
	  FROM pgtls_audit.client_fingerprints}),
	'5000 5000', 'fingerprints 0 .. 4999 counted twice, the others once');

# the fill loop checks for interrupts
my $before = $node->safe_psql('postgres', 'SELECT records_total FROM pgtls_audit.stats');
($rc, $out, $err) = $node->psql('postgres',
	"SET statement_timeout = '200ms'; SELECT pgtls_fill.fill(10000000)",
	extra_params => [ '-v', 'VERBOSITY=verbose' ]);
like($err, qr/57014/, 'fill(10,000,000) stops at statement_timeout (57014)');
my $added = $node->safe_psql('postgres', 'SELECT records_total FROM pgtls_audit.stats') - $before;
# how many it added in 200 ms depends on the machine (about 30 under
# valgrind): only that it started and did not finish is asserted
ok($added > 0 && $added < 10000000,
	"the cancelled fill had added some attempts, not all ($added)");

# connections is newest first by ts with no ORDER BY of its own (1.1),
# also when attempts entered the ring out of ts order: the first fill
# dates its 10 attempts over the 10 ms before it, the second its 5,000
# over the 5 s before it, so the first fill's newest attempt lands among
# the second's
$got = $node->safe_psql('postgres', q{
	SELECT pgtls_audit.reset() \gset
	SELECT pgtls_fill.fill(10) AS a \gset
	SELECT pgtls_fill.fill(5000) AS b \gset
	WITH v AS (SELECT ts, pid, row_number() OVER () AS pos FROM pgtls_audit.connections)
	SELECT (SELECT count(*) FROM v) || ' ' ||
	       (SELECT count(*) FROM v a JOIN v b ON b.pos = a.pos + 1 WHERE b.ts > a.ts) || ' ' ||
	       (SELECT pos > 1 AND pos < 5010 FROM v WHERE pid = 100009)});
is($got, '5010 0 true',
	'connections: overlapping fills come out newest first by ts, the first fill\'s newest among the second\'s');

# the save file carries the full tables across a clean restart
$node->safe_psql('postgres', "SELECT pgtls_audit.reset(); SELECT pgtls_fill.fill($n)");
$node->restart;
is($node->safe_psql('postgres', q{
	SELECT (SELECT count(*) FROM pgtls_audit.clients WHERE user_name LIKE 'app\_user\_%') || ' ' ||
	       (SELECT count(*) FROM pgtls_audit.client_certificates WHERE serial LIKE '4242%') || ' ' ||
	       (SELECT count(*) FROM pgtls_audit.client_fingerprints WHERE ja4 LIKE 't1_d3109h2\_%') || ' ' ||
	       (SELECT count(*) FROM pgtls_audit.connections WHERE user_name LIKE 'app\_user\_%')}),
	"$n $n $n 0", "after a restart: $n clients, certificates and fingerprints from the save file, no ring");

# the shared memory: the allocation is what the size code computes, and
# the parts add up to it
is($node->safe_psql('postgres', q{
	SELECT (SELECT size FROM pg_shmem_allocations WHERE name = 'pgtls_audit inventory') =
	       (SELECT bytes FROM pgtls_fill.shmem_sizes() WHERE part = 'total')}),
	't', 'pg_shmem_allocations has the size shmem_sizes() computes');
is($node->safe_psql('postgres', q{
	SELECT sum(bytes) FILTER (WHERE part <> 'total') = sum(bytes) FILTER (WHERE part = 'total')
	  FROM pgtls_fill.shmem_sizes()}),
	't', 'the parts of shmem_sizes() add up to the total');
is($node->safe_psql('postgres', q{
	SELECT string_agg(part || '=' || capacity, ',' ORDER BY part) FROM pgtls_fill.shmem_sizes()
	 WHERE part IN ('connections (ring)', 'clients', 'client_certificates', 'client_fingerprints')}),
	"client_certificates=$cap,client_fingerprints=$cap,clients=$cap,connections (ring)=$cap",
	'shmem_sizes() reads the server\'s sizes');

$node->stop;
done_testing();
