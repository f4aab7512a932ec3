#!/usr/bin/env bash
# run_suite.sh WORKDIR PGVERSION: the test suite proper, run by test/run as
# the postgres user in a private copy of the tree.  Generates the PKI,
# checks the symbols of the installed libraries, the extension's and the
# test-only cost probe's (test/lib/check_exports.sh), runs the ClientHello
# parser's own tests (test/client_hello/run.sh), starts a TLS cluster for
# pg_regress (stopped on any exit), runs pg_regress and every TAP test in
# test/t, and writes test-summary.txt whose last line
# is "N passed, N failed, N skipped" (one count per pg_regress test and
# per TAP assertion; a TAP "ok N # skip" is a skip, never a pass).
set -uo pipefail
work=$1
v=$2
# PGTLS_BINDIR: another installation of the same version (the sanitizer
# and valgrind runs, test/lib/asan_run.sh and valgrind_run.sh, use a copy
# whose bin/postgres is a wrapper around bin/postgres.bin)
bindir=${PGTLS_BINDIR:-/usr/lib/postgresql/$v/bin}
postgres_bin=$bindir/postgres
[ -x "$bindir/postgres.bin" ] && postgres_bin=$bindir/postgres.bin
pgxs=$(cd "$(dirname "$("$bindir/pg_config" --pgxs)")/../.." && pwd)
export PATH="$bindir:$PATH"
cd "$work"
summary=$work/test-summary.txt
: >"$summary"
pass=0
fail=0
skip=0

# count_tap NAME OUT RC: count the TAP lines of OUT into the summary (an
# "ok N # skip" is a skip; a non-zero RC or no test at all is a failure)
count_tap() {
	local name=$1 out=$2 rc=$3 p s f
	p=$(grep '^ok ' "$out" | grep -vc '^ok [0-9]* # skip' || true)
	s=$(grep -c '^ok [0-9]* # skip' "$out" || true)
	f=$(grep -c '^not ok ' "$out" || true)
	[ "$rc" -ne 0 ] && [ "$f" -eq 0 ] && f=1
	[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && f=1
	echo "$name: $p passed, $f failed, $s skipped" | tee -a "$summary"
	grep '^ok [0-9]* # skip' "$out" | sed "s/^/  $name: /"
	pass=$((pass + p)); fail=$((fail + f)); skip=$((skip + s))
}

echo "== generating the test PKI"
export PGTLS_PKI=$work/test/tmp/pki
# pg_hba fixture files of the findings tests (sql/findings.sql, TAP)
export PGTLS_HBA_FIXTURES=$work/test/fixtures/hba
bash test/pki/make_pki.sh "$PGTLS_PKI" >/dev/null || { echo "PKI generation failed"; echo "0 passed, 1 failed" >>"$summary"; exit 1; }

# ---- the installed libraries (test/run installs them): exported and
# needed symbols; sql/cost_probe.sql creates the test-only cost probe's
# function (test/modules/pgtls_audit_cost_probe) with this script
echo "== exported symbols"
# PGTLS_NO_EXPORTS=1: not checked (a module built with sanitizers needs
# their runtime's symbols)
export PGTLS_COST_PROBE_SQL=$work/test/modules/pgtls_audit_cost_probe/pgtls_audit_cost_probe.sql
if [ -z "${PGTLS_NO_EXPORTS:-}" ]; then
out=$work/exports.out
pkglibdir=$("$bindir/pg_config" --pkglibdir)
bash test/lib/check_exports.sh "$postgres_bin" \
	"$pkglibdir/pgtls_audit.so" "$pkglibdir/pgtls_audit_cost_probe.so" \
	"$("$bindir/pg_config" --sharedir)"/extension/pgtls_audit--*.sql \
	"$PGTLS_COST_PROBE_SQL" "$work/test/modules/pgtls_audit_fill/pgtls_audit_fill.sql" >"$out" 2>&1
rc=$?
cat "$out"
count_tap exports "$out" $rc
else
echo "exports: not checked (PGTLS_NO_EXPORTS is set)"
fi

# ---- the source layout: no include cycle, dependencies down the folders
echo "== source layout"
out=$work/layout.out
perl test/lib/check_layout.pl "$work/src" "$("$bindir/pg_config" --includedir-server)" >"$out" 2>&1
rc=$?
cat "$out"
count_tap layout "$out" $rc

# ---- one release version in every file that names it
# (test/lib/check_versions.sh), and a self-test that a mismatch fails
echo "== versions"
out=$work/versions.out
(bash test/lib/check_versions.sh "$work"; r1=$?
 bash test/lib/check_versions.sh --self-test "$work"; r2=$?
 exit $((r1 | r2))) >"$out" 2>&1
rc=$?
cat "$out"
count_tap versions "$out" $rc

# ---- the ClientHello parser and JA4, compiled outside the server: unit
# tests, the seeds' expected fields, fresh captures, JA4 against tshark's
# (a skip without tshark 4.2+), a short fuzz run (a skip without libFuzzer).
# PGTLS_NO_CLIENT_HELLO=1 leaves it out (the package test in the matrix:
# it never touches the installed files).
if [ -z "${PGTLS_NO_CLIENT_HELLO:-}" ]; then
echo "== ClientHello parser and JA4"
out=$work/client_hello.out
PGTLS_HELLO_PORT=${PGTLS_HELLO_PORT:-$((55700 + v))} \
	bash test/client_hello/run.sh "$work/test/tmp/client_hello" >"$out" 2>&1
rc=$?
grep -v '^ok [0-9]* - unit: ' "$out"
count_tap client_hello "$out" $rc
fi

# ---- pg_regress against a TLS cluster of the harness
# (PGTLS_NO_REGRESS=1: left out, with the SQL mutations: TAP files only)
if [ -z "${PGTLS_NO_REGRESS:-}" ]; then
echo "== pg_regress"
source test/lib/cluster.sh
regress_dir=$work/test/tmp/regress_cluster
regress_port=${PGTLS_REGRESS_PORT:-$((55400 + v))}
trap 'cluster_stop "$regress_dir"' EXIT
if cluster_start "$regress_dir" "$regress_port" "$PGTLS_PKI" \
	"pgtls_audit.log_format = 'json'"; then
	export PGTLS_LOGFILE=$regress_dir/server.log
	make -s installcheck PG_CONFIG="$bindir/pg_config" PGHOST=/tmp PGPORT="$regress_port" \
		PGUSER=postgres >"$work/regress.out" 2>&1
	regress_rc=$?
	cat "$work/regress.out"
	# pg_regress 15 prints "test x ... ok", 16+ prints "ok N - x"
	p=$(grep -cE '^(test [^ ]+ +\.\.\. ok|ok +[0-9]+ +[-+] )' "$work/regress.out" || true)
	f=$(grep -cE '^(test [^ ]+ +\.\.\. FAILED|not ok +[0-9]+ )' "$work/regress.out" || true)
	[ -f regression.diffs ] && cat regression.diffs
	if [ $regress_rc -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
		echo "pg_regress exited with status $regress_rc"
	fi
	echo "pg_regress: $p passed, $f failed, 0 skipped" | tee -a "$summary"
	pass=$((pass + p)); fail=$((fail + f))
	[ "$p" -eq 0 ] && [ "$f" -eq 0 ] && fail=$((fail + 1))
	# ---- hostile input for the SQL functions (test/fuzz/sql_mutations.pl):
	# PGTLS_SQL_MUTATIONS calls (default 10,000, about 20 s) in a database
	# of their own on the same cluster
	echo "== SQL mutations"
	out=$work/sql_mutations.out
	fuzz_conn="host=/tmp port=$regress_port user=postgres"
	(psql -X -q -d "$fuzz_conn dbname=postgres" -c 'CREATE DATABASE pgtls_fuzz' &&
	 psql -X -q -d "$fuzz_conn dbname=pgtls_fuzz" -c 'CREATE EXTENSION pgtls_audit' &&
	 perl test/fuzz/sql_mutations.pl --pki "$PGTLS_PKI" --dir "$work/test/tmp/sql_mutations" \
		--count "${PGTLS_SQL_MUTATIONS:-10000}" --psql "$fuzz_conn dbname=pgtls_fuzz") >"$out" 2>&1
	rc=$?
	cat "$out"
	count_tap sql_mutations "$out" $rc
else
	echo "pg_regress: could not start the cluster" | tee -a "$summary"
	fail=$((fail + 1))
fi
cluster_stop "$regress_dir"
trap - EXIT
else
echo "pg_regress and SQL mutations: not run (PGTLS_NO_REGRESS is set)"
fi

# ---- TAP tests
echo "== TAP tests"
export PERL5LIB="$pgxs/src/test/perl:$work/test/lib${PERL5LIB:+:$PERL5LIB}"
export TESTDIR=$work/test/tmp/tap TESTLOGDIR=$work/test/tmp/tap/log TESTDATADIR=$work/test/tmp/tap/data
export PG_REGRESS=$pgxs/src/test/regress/pg_regress
mkdir -p "$TESTLOGDIR" "$TESTDATADIR"
for t in test/t/*.pl; do
	[ -e "$t" ] || continue
	# PGTLS_TAP_ONLY="pattern ..." runs only the TAP files whose name
	# contains one of the patterns (development aid)
	if [ -n "${PGTLS_TAP_ONLY:-}" ]; then
		chosen=
		for pat in $PGTLS_TAP_ONLY; do
			case "$t" in *"$pat"*) chosen=1 ;; esac
		done
		[ -n "$chosen" ] || continue
	fi
	name=$(basename "$t" .pl)
	out=$work/test/tmp/tap/$name.out
	perl "$t" >"$out" 2>&1
	rc=$?
	grep -E '^not ok|^#' "$out" | head -n 60
	if [ $rc -ne 0 ] && ! grep -q '^not ok ' "$out"; then
		echo "$name: exited with status $rc"; tail -n 20 "$out"
	fi
	count_tap "TAP $name" "$out" $rc
done

echo "$pass passed, $fail failed, $skip skipped" | tee -a "$summary"
[ "$fail" -eq 0 ]
