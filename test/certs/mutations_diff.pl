#!/usr/bin/perl
# mutations_diff.pl: certificate_info() of two builds on the same mutated
# certificates, compared row for row (every column) and error for error
# (SQLSTATE and message).  Test-only: it checks that a faster build keeps
# the output of the previous one on hostile input, where the new code takes
# other paths (a key that does not decode, an unknown curve, a truncated
# extension).
#
#   perl test/certs/mutations_diff.pl --psql "PSQL ARGS" --old DB --new DB
#        [--count N] [--seed S] FILE...
#
# FILEs are PEM bundles; each certificate in them is a seed.  N mutations
# (default 20,000) of the DER: one to four random bytes changed, bytes
# changed inside the subjectPublicKeyInfo (found by its algorithm OID), the
# algorithm or curve OID replaced by another, a truncation, a length byte
# changed; each passed as DER (bytea) and, one in four, as PEM (text).
# Both databases must have pgtls_audit.certificate_info() bound to one
# build each (see compare.sh).  Prints the number of inputs, of distinct
# outcomes and of differences (with the first few), and exits non-zero on
# any difference.
use strict;
use warnings;
use Getopt::Long;
use MIME::Base64;
use File::Temp qw(tempdir);

my ($psql, $old, $new, $count, $seed) = ('', undef, undef, 20000, 16);
GetOptions('psql=s' => \$psql, 'old=s' => \$old, 'new=s' => \$new,
	'count=i' => \$count, 'seed=i' => \$seed) or die "bad arguments\n";
die "--old and --new are required\n" unless $old && $new && @ARGV;
srand($seed);

my @der;
for my $f (@ARGV)
{
	open my $fh, '<', $f or die "$f: $!";
	local $/;
	my $pem = <$fh>;
	push @der, decode_base64($1) while $pem =~ /-----BEGIN CERTIFICATE-----\s*(.*?)-----END/sg;
}
die "no certificates in @ARGV\n" unless @der;

my %oid = (
	rsa => "\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x01",
	ec => "\x06\x07\x2a\x86\x48\xce\x3d\x02\x01",
	pss => "\x06\x09\x2a\x86\x48\x86\xf7\x0d\x01\x01\x0a",
	dsa => "\x06\x07\x2a\x86\x48\xce\x38\x04\x01",
	p256 => "\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x07",
	p384 => "\x06\x05\x2b\x81\x04\x00\x22",
	p521 => "\x06\x05\x2b\x81\x04\x00\x23",
	k256 => "\x06\x05\x2b\x81\x04\x00\x0a",
	sm2 => "\x06\x08\x2a\x81\x1c\xcf\x55\x01\x82\x2d",
	bp256 => "\x06\x09\x2b\x24\x03\x03\x02\x08\x01\x01\x07",
	unknown => "\x06\x08\x2a\x86\x48\xce\x3d\x03\x01\x63");
my @curves = qw(p256 p384 p521 k256 sm2 bp256 unknown);

sub mutate
{
	my ($d) = @_;
	my $kind = int(rand(7));
	my $len = length $d;
	my $spki = -1;
	for my $k (qw(rsa ec))
	{
		my $i = index($d, $oid{$k});
		$spki = $i if $i >= 0;
	}
	if ($kind == 0 || $spki < 0)
	{
		substr($d, int(rand($len)), 1) = chr(int(rand(256))) for 1 .. 1 + int(rand(4));
	}
	elsif ($kind == 1 || $kind == 2)
	{
		# inside the key: its bytes, its lengths, its BIT STRING
		my $span = $len - $spki < 600 ? $len - $spki : 600;
		substr($d, $spki + int(rand($span)), 1) = chr(int(rand(256))) for 1 .. 1 + int(rand(2));
	}
	elsif ($kind == 3)
	{
		# another curve of the same length when there is one, else any
		for my $c (@curves)
		{
			my $i = index($d, $oid{$c});
			next if $i < 0;
			my @same = grep { length $oid{$_} == length $oid{$c} && $_ ne $c } @curves;
			substr($d, $i, length $oid{$c}) = $oid{ $same[ int(rand(@same)) ] } if @same;
			last;
		}
	}
	elsif ($kind == 4)
	{
		# another key algorithm of the same length
		if (index($d, $oid{rsa}) >= 0)
		{
			my $i = index($d, $oid{rsa});
			substr($d, $i, length $oid{rsa}) = $oid{pss};
		}
		elsif (index($d, $oid{ec}) >= 0)
		{
			my $i = index($d, $oid{ec});
			substr($d, $i, length $oid{ec}) = $oid{dsa};
		}
	}
	elsif ($kind == 5)
	{
		$d = substr($d, 0, int(rand($len)));
	}
	else
	{
		# a length byte: any byte following a tag of a constructed type
		my @pos = grep { substr($d, $_, 1) =~ /[\x30\x31\xa0\xa3\x03\x04\x02]/ } 0 .. $len - 2;
		my $p = $pos[ int(rand(@pos)) ] + 1;
		substr($d, $p, 1) = chr((ord(substr($d, $p, 1)) + int(rand(5)) - 2) & 255);
	}
	return $d;
}

my $dir = tempdir(CLEANUP => 1);
chmod 0755, $dir;
open my $in, '>', "$dir/inputs.tsv" or die;
for my $n (1 .. $count)
{
	my $d = mutate($der[ int(rand(@der)) ]);
	my $as_pem = rand() < 0.25 ? 't' : 'f';
	print $in "$n\t$as_pem\t\\\\x" . unpack('H*', $d) . "\n";
}
close $in;

my $setup = <<'SQL';
CREATE TEMP TABLE inputs (n int, as_pem boolean, der bytea);
\copy inputs FROM 'DIR/inputs.tsv'
CREATE FUNCTION pg_temp.outcome(d bytea, as_pem boolean) RETURNS text
LANGUAGE plpgsql AS $$
BEGIN
	IF as_pem THEN
		RETURN (SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY "position"), ''))
			FROM pgtls_audit.certificate_info(E'-----BEGIN CERTIFICATE-----\n' ||
				encode(d, 'base64') || E'\n-----END CERTIFICATE-----\n') t);
	END IF;
	RETURN (SELECT count(*) || ' ' || md5(coalesce(string_agg(t::text, E'\n' ORDER BY "position"), ''))
		FROM pgtls_audit.certificate_info(d) t);
EXCEPTION WHEN OTHERS THEN
	RETURN 'ERROR ' || SQLSTATE || ' ' || SQLERRM;
END $$;
\copy (SELECT n, pg_temp.outcome(der, as_pem) FROM inputs ORDER BY n) TO 'DIR/OUT'
SQL
$setup =~ s/DIR/$dir/g;
for my $db ($old, $new)
{
	(my $s = $setup) =~ s/OUT/$db.out/;
	open my $p, '|-', "psql $psql -X -q -v ON_ERROR_STOP=1 -d $db >/dev/null" or die;
	print $p $s;
	close $p or die "psql on $db failed\n";
}
open my $a, '<', "$dir/$old.out" or die;
open my $b, '<', "$dir/$new.out" or die;
my ($diffs, %outcomes) = (0);
while (my $la = <$a>)
{
	my $lb = <$b>;
	my ($n, $oa) = split /\t/, $la, 2;
	$outcomes{ $oa =~ /^ERROR (\S+)/ ? "ERROR $1" : $oa =~ /^(\d+) / ? "$1 rows" : $oa }++;
	next if defined $lb && $la eq $lb;
	$diffs++;
	print "input $n: old $oa        new ", ($lb // "(none)\n") if $diffs <= 5;
}
printf "%d inputs, outcomes: %s\n", $count,
  join(', ', map { "$_ x$outcomes{$_}" } sort keys %outcomes);
print "$diffs differences\n";
exit($diffs ? 1 : 0);
