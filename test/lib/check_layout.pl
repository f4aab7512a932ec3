#!/usr/bin/perl
# check_layout.pl SRC_DIR PG_INCLUDEDIR_SERVER: the source layout's
# dependency rules, as TAP (run by test/lib/run_suite.sh).
#
# A module is a .c file and the header beside it with the same name
# (src/audit/record.c + src/audit/record.h).  Module A depends on module B
# when a file of A includes B's header ("folder/name.h", quoted).  The
# base headers, pgtls_audit.h (the settings, data only) and pg_compat.h
# (version differences), are below every module and are not modules.
#
# Checked:
#  1. no cycle between modules (every dependency points one way);
#  2. the folders keep their order: common/ depends on nothing but the
#     base; certs/ only on common/; inventory/ on audit/ (the record it
#     stores) and common/; audit/ on common/, certs/ (the TLS hook tells
#     certs/ about each TLS context) and inventory/ (only audit/hooks.c,
#     the top of the audit pipeline: check 1 keeps that one way);
#     config/ on certs/ and common/; diagnose/ (SQL only today) on
#     config/, certs/, inventory/, audit/ and common/; only the top
#     (src/pgtls_audit.c) may depend on everything;
#  3. every quoted include of a project header resolves to a file;
#  4. every project header that declares functions has the .c file that
#     defines them beside it, with the same name (name.h or the folder's
#     name_internal.h for name.c), so that check 1 sees the real
#     dependencies (a header of types only needs none).
# Prints TAP ("ok N - ...", "not ok N - ...") and exits non-zero on failure.
use strict;
use warnings;
use File::Find;

my $src = shift // 'src';
my $pginc = shift // '';
my %allowed = (
	common    => [qw(common)],
	certs     => [qw(certs common)],
	audit     => [qw(audit certs common inventory)],
	inventory => [qw(inventory audit common)],
	config    => [qw(config certs common)],
	diagnose  => [qw(diagnose config certs inventory audit common)],
	top       => [qw(top common audit inventory certs config diagnose)],
);
my %base = map { $_ => 1 } qw(pgtls_audit.h pg_compat.h);

my (%deps, @unresolved, %files_of);
find({ no_chdir => 1, wanted => sub {
	return unless /\.[ch]$/;
	my $path = $File::Find::name;
	(my $rel = $path) =~ s{^\Q$src\E/}{};
	my $module = module_of($rel);
	return unless defined $module;
	push @{ $files_of{$module} }, $rel;
	open my $fh, '<', $path or die "$path: $!";
	while (<$fh>)
	{
		next unless /^\s*#\s*include\s+"([^"]+)"/;
		my $inc = $1;
		next if $base{$inc};
		my $target;
		if (-f "$src/$inc") { $target = $inc; }
		else
		{
			(my $dir = $rel) =~ s{[^/]*$}{};
			$target = "$dir$inc" if -f "$src/$dir$inc";
		}
		if (!defined $target)
		{
			# a PostgreSQL or system header ("utils/guc.h", "common/hashfn.h")
			next unless $inc =~ m{^(common|audit|inventory|certs|config|diagnose)/} && -d "$src/$1"
			  && !($pginc && -f "$pginc/$inc");
			push @unresolved, "$rel: $inc";
			next;
		}
		my $to = module_of($target);
		$deps{$module}{$to} = $rel if defined $to && $to ne $module;
	}
	close $fh;
} }, $src);

# A folder's internal header (name_internal.h) belongs to name.c.
sub module_of
{
	my ($rel) = @_;
	return undef if $base{$rel};
	(my $m = $rel) =~ s/(_internal)?\.[ch]$//;
	return $m;
}

sub folder_of
{
	my ($m) = @_;
	return $m =~ m{^([^/]+)/} ? $1 : 'top';
}

my $n = 0;
my $failed = 0;
sub check
{
	my ($ok, $name, @diag) = @_;
	$n++;
	print(($ok ? 'ok' : 'not ok') . " $n - $name\n");
	print "# $_\n" for @diag;
	$failed++ unless $ok;
}

# 1. cycles (depth-first search, reporting each cycle's path)
my (%state, @stack, @cycles);
sub visit
{
	my ($m) = @_;
	$state{$m} = 1;
	push @stack, $m;
	for my $d (sort keys %{ $deps{$m} // {} })
	{
		if (($state{$d} // 0) == 1)
		{
			my @i = grep { $stack[$_] eq $d } 0 .. $#stack;
			push @cycles, join(' -> ', @stack[ $i[0] .. $#stack ], $d);
		}
		elsif (!$state{$d}) { visit($d); }
	}
	pop @stack;
	$state{$m} = 2;
}
visit($_) for sort keys %files_of;
my $edges = 0;
$edges += scalar keys %{ $deps{$_} } for keys %deps;
check(!@cycles && $edges > 0,
	sprintf('no include cycle between the %d modules (%d dependencies)', scalar(keys %files_of), $edges),
	@cycles);

# 2. folder order
my @wrong;
for my $m (sort keys %deps)
{
	my $f = folder_of($m);
	my %ok = map { $_ => 1 } @{ $allowed{$f} // [] };
	for my $d (sort keys %{ $deps{$m} })
	{
		push @wrong, "$deps{$m}{$d} ($f) includes $d.h (" . folder_of($d) . ')'
		  unless $ok{ folder_of($d) };
	}
}
check(!@wrong, 'every dependency points down the folder order', @wrong);

# 3. unresolved project includes
check(!@unresolved, 'every project include resolves to a file', @unresolved);

# 4. headers beside their code
sub declares_functions
{
	my ($rel) = @_;
	open my $fh, '<', "$src/$rel" or die "$rel: $!";
	local $/;
	my $text = <$fh>;
	close $fh;
	return $text =~ /^extern\s[^;]*\(/m;
}
my @orphans = grep { m{\.h$} && !-f "$src/" . s/(_internal)?\.h$/.c/r && declares_functions($_) }
  map { @{ $files_of{$_} } } sort keys %files_of;
check(!@orphans, 'every header that declares functions has its .c file beside it',
	map { "$_ declares functions but has no .c" } @orphans);

print "1..$n\n";
exit($failed ? 1 : 0);
