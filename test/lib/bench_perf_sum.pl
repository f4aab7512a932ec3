# bench_perf_sum.pl: summarizes `perf script -F pid,ip,sym,dso` output of a
# cpu-clock profile with call chains (test/lib/bench_cpu.sh, part of
# test/bench).  Prints three lines:
#   TOTAL MODULE ELOG       samples; samples with pgtls_audit.so
#                           anywhere in the call chain (its own code and
#                           everything it calls: libc, OpenSSL, the
#                           server's elog, the kernel); samples of the
#                           server's message machinery (errstart, errmsg,
#                           errfinish: formatting and writing a log line)
#                           without the module in the chain, i.e. core's
#                           own log lines such as log_connections' two
#   entry=N ...             the module samples by the module's outermost
#                           function in the chain (a hook or callback)
#   what=N ...              the module samples by what ran: page faults
#                           (any frame in the kernel's page fault handler),
#                           write() (the record's write to the log), else
#                           the object of the innermost frame
use strict;
use warnings;

my ($total, $mod, $elog, %entry, %what) = (0, 0, 0);
local $/ = "";
while (my $blk = <STDIN>)
{
	my @l = split /\n/, $blk;
	shift @l;    # the sample's header line
	next unless @l;
	$total++;
	my @f = map { /^\s*\S+\s+(.*?)\s+\((.*)\)\s*$/ ? [ $1, $2 ] : [ '?', '?' ] } @l;
	my @m = grep { $f[$_][1] =~ m{/pgtls_audit\.so$} } 0 .. $#f;
	unless (@m)
	{
		$elog++ if grep { $_->[0] =~ /^(errstart|errstart_cold|errmsg|errmsg_internal|errfinish|EmitErrorReport)(\+|$)/ } @f;
		next;
	}
	$mod++;
	(my $e = $f[ $m[-1] ][0]) =~ s/\+0x[0-9a-f]+$//;
	$e =~ s/\.(constprop|isra|part)\.\d+//g;
	$entry{$e}++;
	my $w;
	if (grep { $_->[0] =~ /^(asm_)?exc_page_fault/ } @f) { $w = 'page_faults'; }
	elsif (grep { $_->[0] =~ /^(ksys_write|vfs_write)/ } @f) { $w = 'write()'; }
	else
	{
		my ($leaf) = grep { $_->[1] ne 'inlined' } @f;
		($w = ($leaf // $f[0])->[1]) =~ s{.*/}{};
		$w =~ s/\.so.*/.so/;
		$w = 'kernel' if $w =~ /kernel/;
	}
	$what{$w}++;
}
print "$total $mod $elog\n";
print join(' ', map { "$_=$entry{$_}" } sort { $entry{$b} <=> $entry{$a} || $a cmp $b } keys %entry), "\n";
print join(' ', map { "$_=$what{$_}" } sort { $what{$b} <=> $what{$a} || $a cmp $b } keys %what), "\n";
