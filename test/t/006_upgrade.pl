# 006_upgrade.pl: the upgrade path.  Release 1.0 installed from its frozen
# script and updated with ALTER EXTENSION ... UPDATE must equal a fresh
# install of the current version: the same member objects, the same
# definitions (functions, views, their columns), comments and grants.
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use FindBin;
use lib "$FindBin::RealBin/../lib";
use PgtlsAuditTest;

my $node = tls_node('upgrade');
my $current = $node->safe_psql('postgres',
	"SELECT default_version FROM pg_available_extensions WHERE name = 'pgtls_audit'");
my $control = slurp_text(srcdir() . '/pgtls_audit.control');
my ($control_version) = $control =~ /^default_version = '([^']+)'/m;
is($current, $control_version, 'the server offers the control file\'s default version');
isnt($current, '1.0', 'the current version is later than the frozen 1.0');

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('postgres', 'CREATE DATABASE updated');
$node->safe_psql('fresh', 'CREATE EXTENSION pgtls_audit');
$node->safe_psql('updated', "CREATE EXTENSION pgtls_audit VERSION '1.0'");
is($node->safe_psql('updated', "SELECT extversion FROM pg_extension WHERE extname = 'pgtls_audit'"),
	'1.0', '1.0 installs from its own script');
$node->safe_psql('updated', 'ALTER EXTENSION pgtls_audit UPDATE');
is($node->safe_psql('updated', "SELECT extversion FROM pg_extension WHERE extname = 'pgtls_audit'"),
	$current, "ALTER EXTENSION UPDATE reaches $current");

# One line per member object and per property that a user could notice.
my $describe = q{
WITH m AS (
  SELECT d.classid, d.objid
    FROM pg_depend d JOIN pg_extension e ON d.refobjid = e.oid
   WHERE d.refclassid = 'pg_extension'::regclass AND d.deptype = 'e'
     AND e.extname = 'pgtls_audit')
SELECT line FROM (
  SELECT 'object ' || pg_describe_object(m.classid, m.objid, 0) AS line FROM m
  UNION ALL
  SELECT 'comment ' || pg_describe_object(m.classid, m.objid, 0) || ': ' || c.description
    FROM m JOIN pg_description c ON c.classoid = m.classid AND c.objoid = m.objid AND c.objsubid = 0
  UNION ALL
  SELECT 'function ' || pg_get_functiondef(p.oid) || ' acl ' || COALESCE(p.proacl::text, 'default')
    FROM m JOIN pg_proc p ON m.classid = 'pg_proc'::regclass AND p.oid = m.objid
  UNION ALL
  SELECT 'relation ' || c.relname || ' kind ' || c.relkind::text || ' acl ' || COALESCE(c.relacl::text, 'default')
         || ' columns ' || (SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod), ', ' ORDER BY a.attnum)
                              FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped)
         || CASE WHEN c.relkind = 'v' THEN ' as ' || pg_get_viewdef(c.oid) ELSE '' END
    FROM m JOIN pg_class c ON m.classid = 'pg_class'::regclass AND c.oid = m.objid
  UNION ALL
  SELECT 'schema ' || n.nspname || ' acl ' || COALESCE(n.nspacl::text, 'default')
    FROM pg_namespace n WHERE n.nspname = 'pgtls_audit'
) s ORDER BY line
};
my $fresh = $node->safe_psql('fresh', $describe);
my $updated = $node->safe_psql('updated', $describe);
cmp_ok(scalar(() = $fresh =~ /^object /mg), '>', 20, 'the description lists the member objects');
like($fresh, qr/^function CREATE OR REPLACE FUNCTION pgtls_audit\.status\(/m,
	'the description holds function definitions');
is($updated, $fresh, "1.0 updated to $current equals a fresh install of $current");
if ($updated ne $fresh)
{
	my %f = map { $_ => 1 } split /\n/, $fresh;
	my %u = map { $_ => 1 } split /\n/, $updated;
	diag "only in fresh:   $_" for grep { !$u{$_} } sort keys %f;
	diag "only in updated: $_" for grep { !$f{$_} } sort keys %u;
}

$node->stop;
done_testing();
