#!/usr/bin/env bash
# check_versions.sh [DIR]: the release version is written in several files
# that must agree; prints TAP ("ok N - ..."), exits non-zero when one
# disagrees.  DIR defaults to the tree this script is in.
#
#   pgtls_audit.control   default_version = 'X.Y' (the extension version)
#   src/pgtls_audit.h     PGTLS_AUDIT_VERSION "X.Y" (status().version)
#   Makefile              DATA_built = pgtls_audit--X.Y.sql
#   META.json             "version": "X.Y.Z" (the release, PGXN), and
#                         provides.pgtls_audit.version the same X.Y.Z
#   debian/changelog      first entry pgtls-audit (X.Y.Z-N)
#   README.md             "the current version is **X.Y**", and the Install
#                         section's file names pgtls_audit-X.Y.Z.zip and
#                         postgresql-15-pgtls-audit_X.Y.Z-N_*.deb
#
# check_versions.sh --self-test [DIR]: changes each of these in turn in a
# copy of those files and checks that the check then fails (a check that
# cannot fail is no check).
set -uo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)

check() {
	local dir=$1 n=0 bad=0
	ok() { n=$((n + 1)); echo "ok $n - $1"; }
	nok() { n=$((n + 1)); bad=$((bad + 1)); echo "not ok $n - $1"; }
	expect() { if [ "$2" = "$3" ]; then ok "$1: $2"; else nok "$1: '$2', expected '$3'"; fi; }

	local ext meta provides deb built
	ext=$(sed -n "s/^default_version *= *'\([^']*\)'.*/\1/p" "$dir/pgtls_audit.control")
	if [[ "$ext" =~ ^[0-9]+\.[0-9]+$ ]]; then
		ok "pgtls_audit.control default_version: $ext"
	else
		nok "pgtls_audit.control default_version '$ext' is not X.Y"
	fi
	local hdr
	hdr=$(sed -n 's/^#define PGTLS_AUDIT_VERSION "\([^"]*\)".*/\1/p' "$dir/src/pgtls_audit.h")
	expect "src/pgtls_audit.h PGTLS_AUDIT_VERSION" "$hdr" "$ext"
	built=$(sed -n 's/^DATA_built *= *\(.*\)$/\1/p' "$dir/Makefile")
	expect "Makefile DATA_built" "$built" "pgtls_audit--$ext.sql"

	meta=$(perl -MJSON::PP -e 'local $/; my $m = decode_json(<STDIN>);
		print $m->{version} // ""' <"$dir/META.json" 2>/dev/null)
	provides=$(perl -MJSON::PP -e 'local $/; my $m = decode_json(<STDIN>);
		print $m->{provides}{pgtls_audit}{version} // ""' <"$dir/META.json" 2>/dev/null)
	if [[ "$meta" =~ ^([0-9]+\.[0-9]+)\.[0-9]+$ ]]; then
		expect "META.json version's X.Y is default_version" "${BASH_REMATCH[1]}" "$ext"
	else
		nok "META.json version '$meta' is not X.Y.Z"
	fi
	expect "META.json provides.pgtls_audit.version" "$provides" "$meta"

	# the fields PGXN's meta-spec 1.0.0 requires, and the values it allows
	local spec
	spec=$(perl -MJSON::PP -e 'local $/; my $m = decode_json(<STDIN>); my @e;
		for my $k (qw(name abstract version maintainer license provides meta-spec)) {
			push @e, "no $k" unless defined $m->{$k} }
		push @e, "meta-spec.version is not 1.0.0"
			unless ($m->{"meta-spec"}{version} // "") eq "1.0.0";
		push @e, "name is not pgtls_audit" unless ($m->{name} // "") eq "pgtls_audit";
		my %lic = map { $_ => 1 } qw(agpl_3 apache_1_1 apache_2_0 artistic_1
			artistic_2 bsd freebsd gfdl_1_2 gfdl_1_3 gpl_1 gpl_2 gpl_3 lgpl_2_1
			lgpl_3_0 mit mozilla_1_0 mozilla_1_1 openssl perl_5 postgresql
			qpl_1_0 ssleay sun zlib open_source restricted unrestricted unknown);
		for my $l (ref $m->{license} eq "ARRAY" ? @{$m->{license}} :
			ref $m->{license} eq "HASH" ? () : ($m->{license} // ())) {
			push @e, "license $l is not a meta-spec name" unless $lic{$l} }
		push @e, "release_status is not stable, testing or unstable"
			if defined $m->{release_status} &&
				$m->{release_status} !~ /^(stable|testing|unstable)$/;
		for my $x (sort keys %{$m->{provides} // {}}) {
			my $p = $m->{provides}{$x};
			push @e, "provides.$x has no file" unless defined $p->{file};
			push @e, "provides.$x.version is not X.Y.Z"
				unless ($p->{version} // "") =~ /^\d+\.\d+\.\d+$/ }
		push @e, "prereqs.runtime.requires.PostgreSQL is not 15.0.0"
			unless ($m->{prereqs}{runtime}{requires}{PostgreSQL} // "") eq "15.0.0";
		print join("; ", @e)' <"$dir/META.json" 2>&1)
	if [ -z "$spec" ]; then
		ok "META.json has meta-spec 1.0.0's required fields with allowed values"
	else
		nok "META.json: $spec"
	fi
	local pf
	pf=$(perl -MJSON::PP -e 'local $/; print decode_json(<STDIN>)->{provides}{pgtls_audit}{file} // ""' \
		<"$dir/META.json" 2>/dev/null)
	if [ -n "$pf" ] && [ -f "$dir/$pf" ]; then
		ok "META.json provides.pgtls_audit.file exists: $pf"
	else
		nok "META.json provides.pgtls_audit.file '$pf' does not exist"
	fi

	deb=$(sed -n '1s/^pgtls-audit (\([^)]*\)).*/\1/p' "$dir/debian/changelog")
	expect "debian/changelog upstream version" "${deb%-*}" "$meta"

	if grep -qF "the current version is **$ext**" "$dir/README.md"; then
		ok "README.md: the current version is $ext"
	else
		nok "README.md does not say 'the current version is **$ext**'"
	fi
	# the Install section (up to the next "## ") names the release's files
	local install
	install=$(sed -n '/^## Install/,/^## [^I]/p' "$dir/README.md")
	if grep -qF "pgtls_audit-$meta.zip" <<<"$install"; then
		ok "README.md Install: pgtls_audit-$meta.zip"
	else
		nok "README.md Install does not name pgtls_audit-$meta.zip"
	fi
	if grep -qF "postgresql-15-pgtls-audit_${deb}_" <<<"$install"; then
		ok "README.md Install: postgresql-15-pgtls-audit_${deb}_*.deb"
	else
		nok "README.md Install does not name postgresql-15-pgtls-audit_${deb}_*.deb"
	fi
	# any other release number in the Install section is a stale one
	local stale
	stale=$(grep -oE '(pgtls_audit-|pgtls-audit_)[0-9]+\.[0-9]+\.[0-9]+' <<<"$install" |
		grep -vE -- "-$meta\$|_$meta\$" | sort -u | tr '\n' ' ')
	if [ -z "$stale" ]; then
		ok "README.md Install names no other release"
	else
		nok "README.md Install names other releases: $stale"
	fi
	echo "1..$n"
	[ "$bad" -eq 0 ]
}

files=(pgtls_audit.control src/pgtls_audit.h Makefile META.json debian/changelog README.md)

self_test() {
	local dir=$1 tmp n=0 bad=0 i
	# file, sed expression that breaks the agreement
	local cases=(
		"pgtls_audit.control|s/^default_version = '[^']*'/default_version = '9.9'/"
		"src/pgtls_audit.h|s/^#define PGTLS_AUDIT_VERSION .*/#define PGTLS_AUDIT_VERSION \"9.9\"/"
		"Makefile|s/^DATA_built = .*/DATA_built = pgtls_audit--9.9.sql/"
		"META.json|0,/\"version\": \"[^\"]*\"/s//\"version\": \"9.9.0\"/"
		"META.json|/\"provides\"/,/}/s/\"version\": \"[^\"]*\"/\"version\": \"9.9.0\"/"
		"META.json|s/\"version\": \"1\.0\.0\"/\"version\": \"0.9.0\"/"
		"META.json|s/\"license\": \"[^\"]*\"/\"license\": \"proprietary\"/"
		"debian/changelog|1s/(\([^)]*\))/(9.9.0-1)/"
		"README.md|s/the current version is \*\*[^*]*\*\*/the current version is **9.9**/"
		"README.md|0,/pgtls_audit-[0-9.]*[0-9]\.zip/s//pgtls_audit-9.9.0.zip/"
	)
	tmp=$(mktemp -d)
	for i in "${files[@]}"; do
		mkdir -p "$tmp/clean/$(dirname "$i")"
		cp "$dir/$i" "$tmp/clean/$i"
	done
	n=$((n + 1))
	if check "$tmp/clean" >/dev/null; then
		echo "ok $n - the unchanged files agree"
	else
		bad=$((bad + 1)); echo "not ok $n - the unchanged files agree"
	fi
	local c file expr
	for c in "${cases[@]}"; do
		file=${c%%|*}; expr=${c#*|}
		rm -rf "$tmp/case"; cp -a "$tmp/clean" "$tmp/case"
		sed -i -e "$expr" "$tmp/case/$file"
		n=$((n + 1))
		if cmp -s "$tmp/clean/$file" "$tmp/case/$file"; then
			bad=$((bad + 1)); echo "not ok $n - self-test: '$expr' changed nothing in $file"
		elif check "$tmp/case" >/dev/null; then
			bad=$((bad + 1)); echo "not ok $n - a changed $file ($expr) is not caught"
		else
			echo "ok $n - a changed $file is caught ($expr)"
		fi
	done
	rm -rf "$tmp"
	echo "1..$n"
	[ "$bad" -eq 0 ]
}

if [ "${1:-}" = --self-test ]; then
	self_test "${2:-$here}"
else
	check "${1:-$here}"
fi
