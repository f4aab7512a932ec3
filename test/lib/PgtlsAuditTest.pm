# PgtlsAuditTest.pm: helpers for pgtls_audit's TAP tests.
#
# Builds on PostgreSQL's own TAP framework (PostgreSQL::Test::Cluster):
#  - tls_node():      a real cluster with ssl=on, the harness PKI, the module
#                     preloaded, and test/conf/pg_hba.conf and setup.sql;
#  - attempt():       one real connection attempt over TCP with psql (TLS or
#                     plaintext, client certificate, protocol limits);
#  - new_records():   the audit records the server wrote since a log offset,
#                     parsed from JSON or from the text format.
# The PKI directory comes from $ENV{PGTLS_PKI} (test/run makes it).
package PgtlsAuditTest;

use strict;
use warnings;
use Exporter 'import';
use Cwd 'abs_path';
use File::Basename;
use File::Copy;
use Encode ();
use IPC::Run;
use JSON::PP;
use Time::HiRes qw(usleep);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

our @EXPORT = qw(tls_node pki attempt new_records log_offset
  hba_line_of parse_text_record extract_record_lines slurp_text
  wait_records srcdir open_session record_keys poll_until);

my $srcdir = abs_path(dirname(__FILE__) . '/../..');
sub srcdir { return $srcdir; }

sub pki
{
	my $dir = $ENV{PGTLS_PKI} or die "PGTLS_PKI is not set (run the tests with test/run)";
	return $dir;
}

sub slurp_text
{
	my ($path) = @_;
	open my $fh, '<:raw', $path or die "cannot read $path: $!";
	local $/;
	my $s = <$fh>;
	close $fh;
	return $s;
}

# A started cluster with TLS and the module.  Options:
#   extra_conf => text appended to postgresql.conf
#   hba        => pg_hba.conf contents (default test/conf/pg_hba.conf)
#   init       => hashref of PostgreSQL::Test::Cluster::init options
#   no_start   => 1 to leave it stopped
sub tls_node
{
	my ($name, %opt) = @_;
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opt{init} // {} });
	my $conf = slurp_text("$srcdir/test/conf/postgresql.conf.in");
	my $pki = pki();
	$conf =~ s/\@PKI\@/$pki/g;
	$node->append_conf('postgresql.conf', $conf . ($opt{extra_conf} // ''));
	my $hba = $opt{hba} // slurp_text("$srcdir/test/conf/pg_hba.conf");
	open my $fh, '>', $node->data_dir . '/pg_hba.conf' or die $!;
	print $fh $hba;
	close $fh;
	return $node if $opt{no_start};
	$node->start;
	$node->safe_psql('postgres', slurp_text("$srcdir/test/conf/setup.sql"));
	return $node;
}

# Line number of the first pg_hba.conf line of $node matching $regex.
sub hba_line_of
{
	my ($node, $regex) = @_;
	my $n = 0;
	for my $line (split /\n/, slurp_text($node->data_dir . '/pg_hba.conf'))
	{
		$n++;
		return $n if $line !~ /^\s*#/ && $line =~ $regex;
	}
	die "no pg_hba.conf line matches $regex";
}

# One connection attempt with psql over TCP.  Options:
#   user, dbname (postgres), password, sslmode (require), cert (client
#   certificate base name in the PKI, e.g. 'client_regress_cert_user'),
#   max_protocol, min_protocol, appname, sql (default: select pg_backend_pid()),
#   sni_host (a name to connect to 127.0.0.1 by: libpq sends it as SNI)
# Returns a hashref: rc, stdout, stderr.
sub attempt
{
	my ($node, %o) = @_;
	my $conn = _conn_string($node, %o);
	my $sql = $o{sql} // 'select pg_backend_pid()';
	local %ENV = %ENV;
	_conn_env(%o);
	my ($out, $err) = ('', '');
	my $h = IPC::Run::run([ 'psql', '-X', '-A', '-t', '-w', '-v', 'ON_ERROR_STOP=1',
			'-d', $conn, '-c', $sql ],
		'<', \undef, '>', \$out, '2>', \$err);
	chomp $out;
	return { rc => $? >> 8, stdout => $out, stderr => $err };
}

# The environment of a test client: no password file, no service, no
# certificate from ~/.postgresql.
sub _conn_env
{
	my (%o) = @_;
	delete $ENV{$_} for qw(PGPASSWORD PGSSLCERT PGSSLKEY PGSSLMODE PGSERVICE);
	$ENV{PGPASSWORD} = $o{password} if defined $o{password};
	$ENV{PGPASSFILE} = '/nonexistent';
}

# libpq connection string of attempt() (options as there)
sub _conn_string
{
	my ($node, %o) = @_;
	my $pki = pki();
	# sni_host: connect to 127.0.0.1 under that name (libpq sends it as SNI)
	my @conn = (
		$o{sni_host} ? ("host=$o{sni_host}", 'hostaddr=127.0.0.1') : ('host=127.0.0.1'),
		'port=' . $node->port,
		'dbname=' . ($o{dbname} // 'postgres'),
		'user=' . _conn_quote($o{user}),
		'sslmode=' . ($o{sslmode} // 'require'),
		"sslrootcert=$pki/root.crt",
		'connect_timeout=10');
	# never let ~/.postgresql supply a certificate
	if ($o{cert})
	{
		push @conn, "sslcert=$pki/$o{cert}.crt", "sslkey=$pki/$o{cert}.key";
	}
	else
	{
		push @conn, "sslcert=$pki/no-such.crt", "sslkey=$pki/no-such.key";
	}
	push @conn, "ssl_max_protocol_version=$o{max_protocol}" if $o{max_protocol};
	push @conn, "ssl_min_protocol_version=$o{min_protocol}" if $o{min_protocol};
	push @conn, "sslnegotiation=$o{negotiation}" if $o{negotiation};
	push @conn, "application_name='" . ($o{appname} =~ s/(['\\])/\\$1/gr) . "'"
	  if defined $o{appname};
	return join(' ', @conn);
}

# A psql session that stays open, for tests that must read the server
# without opening new connections (each connection is itself an audited
# attempt).  With user => ... it connects over TCP as attempt() does;
# without, as the local superuser.  $s->query($sql) returns the output
# (unaligned, tuples only); $s->close ends it.
sub open_session
{
	my ($node, %o) = @_;
	my $conn = $o{user}
	  ? _conn_string($node, %o)
	  : 'host=' . $node->host . ' port=' . $node->port . ' dbname=' . ($o{dbname} // 'postgres');
	my ($in, $out, $err) = ('', '', '');
	local %ENV = %ENV;
	_conn_env(%o);
	my $h = IPC::Run::start([ 'psql', '-X', '-A', '-t', '-q', '-w', '-d', $conn ],
		'<', \$in, '>', \$out, '2>', \$err);
	my $s = bless { h => $h, in => \$in, out => \$out, err => \$err }, 'PgtlsAuditTest::Session';
	$s->query('SELECT 1');
	return $s;
}

# Run $sql on a session until it returns 't' (or 60 s pass); true if it did.
sub poll_until
{
	my ($s, $sql) = @_;
	for (1 .. 1200)
	{
		return 1 if $s->query($sql) eq 't';
		usleep(50_000);
	}
	return 0;
}

# The keys of one raw record line, in the order they were written.
sub record_keys
{
	my ($line) = @_;
	my @keys;
	my $str = qr/"(?:[^"\\]|\\.)*"/;
	if ($line =~ s/^\{//)
	{
		while ($line =~ s/^"([a-z0-9_]+)":(?:$str|\[(?:$str(?:,$str)*)?\]|[^,}"\[]+)([,}])//)
		{
			push @keys, $1;
			last if $2 eq '}';
		}
		die "unparsed JSON record tail: $line" if length $line;
	}
	else
	{
		while ($line =~ s/^([a-z0-9_]+)=(?:$str|\S+)(?: |$)//)
		{
			push @keys, $1;
		}
		die "unparsed text record tail: $line" if length $line;
	}
	return @keys;
}

# Quote a value for a libpq connection string.
sub _conn_quote
{
	my ($v) = @_;
	return $v if $v =~ /^[A-Za-z0-9_.-]+$/;
	$v =~ s/(['\\])/\\$1/g;
	return "'$v'";
}

sub log_offset
{
	my ($node) = @_;
	return -s $node->logfile // 0;
}

# Audit record lines (after the marker) in a chunk of log text.
sub extract_record_lines
{
	my ($text) = @_;
	my @lines;
	# a line the server is still writing has no newline yet (a read of the
	# log can see part of a write): it is left for the next read
	$text =~ s/[^\n]*\z//;
	for my $line (split /\n/, $text)
	{
		push @lines, $1 if $line =~ /(?:LOG|WARNING|NOTICE|INFO|DEBUG\d?):\s+PGTLS_AUDIT (.*)$/;
	}
	return @lines;
}

# Parse one text-format record into a hashref (null -> undef).
sub parse_text_record
{
	my ($s) = @_;
	my %r;
	while (length $s)
	{
		$s =~ s/^ +//;
		last unless length $s;
		$s =~ s/^([a-z0-9_]+)=// or die "bad key at: $s";
		my $key = $1;
		if ($s =~ s/^"//)
		{
			my $v = '';
			while (1)
			{
				die "unterminated value for $key" unless length $s;
				if ($s =~ s/^\\x([0-9a-f]{2})//) { $v .= chr(hex $1); }
				elsif ($s =~ s/^\\n//) { $v .= "\n"; }
				elsif ($s =~ s/^\\r//) { $v .= "\r"; }
				elsif ($s =~ s/^\\t//) { $v .= "\t"; }
				elsif ($s =~ s/^\\(["\\])//) { $v .= $1; }
				elsif ($s =~ s/^"//) { last; }
				elsif ($s =~ s/^([^"\\]+)//) { $v .= $1; }
				else { die "bad escape in $key: $s"; }
			}
			$r{$key} = Encode::decode('UTF-8', $v, Encode::FB_CROAK);
		}
		elsif ($s =~ s/^(\S+)//)
		{
			my $v = $1;
			$r{$key} =
			    $v eq 'null'  ? undef
			  : $v eq 'true'  ? JSON::PP::true
			  : $v eq 'false' ? JSON::PP::false
			  : $v =~ /^-?\d+$/ ? $v + 0
			  : die "bad bare value $v for $key";
		}
	}
	return \%r;
}

sub _parse_line
{
	my ($line) = @_;
	return $line =~ /^\{/
	  ? JSON::PP->new->utf8->decode($line)
	  : parse_text_record($line);
}

# Records written since $offset, parsed (JSON or text, per line).
sub new_records
{
	my ($node, $offset) = @_;
	my $log = slurp_text($node->logfile);
	my $text = substr($log, $offset);
	return map { _parse_line($_) } extract_record_lines($text);
}

# Wait until at least $count records were written since $offset; return
# them.  Records of failed attempts are written as the backend exits, a
# moment after the client has seen the error.
sub wait_records
{
	my ($node, $offset, $count) = @_;
	my @recs;
	for (1 .. 200)
	{
		@recs = new_records($node, $offset);
		last if @recs >= $count;
		usleep(50_000);
	}
	return @recs;
}

package PgtlsAuditTest::Session;

use Time::HiRes qw(usleep);

sub query
{
	my ($self, $sql) = @_;
	my $marker = '__pgtls_audit_done__';
	${ $self->{out} } = '';
	${ $self->{err} } = '';
	${ $self->{in} } .= "$sql;\n\\echo $marker\n";
	for (1 .. 6000)
	{
		$self->{h}->pump_nb;
		last if ${ $self->{out} } =~ /$marker\n/;
		die "session ended: ${ $self->{err} }" unless $self->{h}->pumpable;
		usleep(10_000);
	}
	my $r = ${ $self->{out} };
	die "no answer to: $sql" unless $r =~ s/$marker\n//;
	chomp $r;
	return $r;
}

sub error { my ($self) = @_; return ${ $self->{err} }; }

sub close
{
	my ($self) = @_;
	${ $self->{in} } .= "\\q\n";
	$self->{h}->finish;
}

1;
