#!/usr/bin/env bash
# valgrind_run.sh: TAP files (and optionally pg_regress and the SQL
# mutations) with every server process under valgrind memcheck, with
# pgtls_audit preloaded as the tests configure it, and PostgreSQL's own
# suppression file (test/lib/valgrind.supp) with the same padding
# suppressions restated for Debian's stripped binary
# (test/lib/valgrind-debian.supp).  As root:
#
#   test/lib/valgrind_run.sh       # the TAP files that run the module's C
#                                  # code most: 001 002 003 004 009 010
#   PGTLS_TAP_ONLY="005 011" test/lib/valgrind_run.sh
#   PGTLS_TAP_ONLY=_ PGTLS_VALGRIND_REGRESS=1 test/lib/valgrind_run.sh   # all
#
# test/lib/checker_common.sh makes a private copy of the installation whose
# bin/postgres is a wrapper: the postmaster and everything it forks run
# under valgrind; initdb's bootstrap and single-user runs, -V and -C do
# not (they never load the module).  Debian's server is not built with
# USE_VALGRIND, so palloc-level misuse inside memory contexts is not seen:
# memcheck sees uninitialised values, invalid reads and writes of malloc'd
# and static memory, and the system calls' buffers.
#
# Reports: one log per process in /tmp/pgtls_valgrind_15/reports (empty
# when the process had no error); the script prints the non-empty ones,
# counts the errors whose stack names pgtls_audit.so, and exits non-zero
# if there are any, or if the suite failed.
set -uo pipefail
source "$(dirname "$0")/checker_common.sh"

CHECKER_COPT='-g -O1'
export PGTLS_TAP_ONLY=${PGTLS_TAP_ONLY:-001 002 003 004 009 010}
[ -z "${PGTLS_VALGRIND_REGRESS:-}" ] && export PGTLS_NO_REGRESS=1
checker_setup valgrind || exit 1
command -v valgrind >/dev/null || { echo "valgrind_run: valgrind is not installed" >&2; exit 1; }
cp "$here/test/lib/valgrind.supp" "$here/test/lib/valgrind-debian.supp" "$prefix/"

# The server records its own path (postgres.bin under valgrind) in
# postmaster.opts, which pg_ctl restart runs: a background loop puts the
# wrapper's name back once the new file is written, so that a restarted
# server runs under valgrind too.
checker_wrapper "#!/bin/bash
# pgtls_audit test wrapper (test/lib/valgrind_run.sh): the server under memcheck
bin=\"\$(dirname \"\$0\")/postgres.bin\"
data=
prev=
for a in \"\$@\"; do
	case \"\$a\" in --boot|--single|-V|--version|-C|--describe-config|--check) exec \"\$bin\" \"\$@\" ;; esac
	[ \"\$prev\" = -D ] && data=\$a
	prev=\$a
done
data=\${data:-\$PGDATA}
if [ -n \"\$data\" ]; then
	( for i in \$(seq 1200); do
		if grep -q 'postgres\.bin' \"\$data/postmaster.opts\" 2>/dev/null; then
			sed -i '1s#/postgres\.bin\( \|\$\)#/postgres\1#' \"\$data/postmaster.opts\"; break
		fi
		sleep 0.1
	done ) </dev/null >/dev/null 2>&1 &
fi
exec valgrind --quiet --tool=memcheck --leak-check=no --track-origins=yes --num-callers=30 \\
	--suppressions=$prefix/valgrind.supp --suppressions=$prefix/valgrind-debian.supp --log-file=$prefix/reports/vg.%p.log \"\$bin\" \"\$@\""

t0=$(date +%s)
checker_run_suite
rc=$?
echo "== valgrind_run: suite finished in $(( $(date +%s) - t0 )) s (exit $rc): $(tail -n 1 "$work/test-summary.txt")"
logs=$(ls "$prefix"/reports | wc -l)
nonempty=$(find "$prefix/reports" -type f -size +0 | wc -l)
# the first line of each memcheck error
start='^==[0-9]+== (Conditional jump|Use of uninitialised|Invalid (read|write|free)|Syscall param|Source and destination overlap|Mismatched free|Argument .* of function)'
errors=$(cat "$prefix"/reports/* 2>/dev/null | grep -cE "$start" || true)
ours=$(for f in "$prefix"/reports/*; do
	awk -v start="$start" '$0 ~ start { if (blk ~ /pgtls_audit/) n++; blk = "" } { blk = blk $0 "\n" }
		END { if (blk ~ /pgtls_audit/) n++; print n + 0 }' "$f"; done | awk '{ s += $1 } END { print s + 0 }')
echo "== valgrind_run: $logs process logs, $nonempty with reports, $errors report(s), $ours naming pgtls_audit"
for f in $(find "$prefix/reports" -type f -size +0 | head -n 20); do
	echo "---- $f"
	head -n 80 "$f"
done
[ "$rc" -eq 0 ] && [ "$ours" -eq 0 ] && rm -rf "$work"
[ "$rc" -eq 0 ] && [ "$ours" -eq 0 ]
