#!/usr/bin/env bash
# asan_run.sh: the test suite against a server that loads pgtls_audit built
# with AddressSanitizer and UndefinedBehaviorSanitizer (gcc).  As root:
#
#   test/lib/asan_run.sh                      # the whole suite (about 15 min)
#   PGTLS_TAP_ONLY="001 002" PGTLS_NO_REGRESS=1 test/lib/asan_run.sh
#
# The server itself is Debian's, unchanged: the module is built with
# -fsanitize=address,undefined and the ASan runtime is preloaded into the
# server by a wrapper in place of bin/postgres (test/lib/checker_common.sh
# makes a private copy of the installation).  Preloading libasan.so alone
# hangs every binary linked with libpq or the server on this system: a
# preloaded library is initialised after the program's own libraries, so
# ASan initialises lazily inside p11-kit's constructor (libldap -> gnutls
# -> p11-kit calls newlocale(), whose malloc() ASan intercepts), and
# bindtextdomain() then waits forever on glibc's _nl_state_lock.  A shim
# linked with -z initfirst whose constructor calls __asan_init() first
# makes ASan initialise before any other library: asan_initfirst.so below.
# (Not the vm.mmap_rnd_bits problem of new kernels: the hang is the same
# with setarch -R.)
#
# Reports: one file per process that had one, in /tmp/pgtls_asan_15/reports
# (asan.PID, ubsan.PID); the script prints them and exits non-zero if
# there are any, or if the suite failed.
set -uo pipefail
source "$(dirname "$0")/checker_common.sh"

libasan=$(gcc -print-file-name=libasan.so)
[ -e "$libasan" ] || { echo "asan_run: gcc's libasan.so not found (apt-get install gcc)" >&2; exit 1; }
CHECKER_COPT='-fsanitize=address,undefined -fno-omit-frame-pointer'
checker_setup asan || exit 1

shim=$prefix/asan_initfirst.so
printf '%s\n' 'extern void __asan_init(void);' \
	'__attribute__((constructor)) static void early(void) { __asan_init(); }' >"$prefix/asan_initfirst.c"
gcc -shared -fPIC -o "$shim" "$prefix/asan_initfirst.c" -Wl,-z,initfirst \
	-L"$(dirname "$libasan")" -lasan || exit 1

# exec -a: the server's argv[0] stays this wrapper, so that postmaster.opts
# (which pg_ctl restart runs) names it, not postgres.bin
checker_wrapper "#!/bin/bash
# pgtls_audit test wrapper (test/lib/asan_run.sh): the ASan runtime first
LD_PRELOAD=\"$libasan:$shim\${LD_PRELOAD:+:\$LD_PRELOAD}\"
ASAN_OPTIONS=\"detect_leaks=0:log_path=$prefix/reports/asan:detect_odr_violation=0\"
UBSAN_OPTIONS=\"print_stacktrace=1:log_path=$prefix/reports/ubsan\"
export LD_PRELOAD ASAN_OPTIONS UBSAN_OPTIONS
exec -a \"\$0\" \"\$(dirname \"\$0\")/postgres.bin\" \"\$@\""

# the runtime really is in the server: a deliberate check
if ! timeout 60 "$bindir/postgres" -V >/dev/null; then
	echo "asan_run: postgres -V with the ASan runtime preloaded failed or hung" >&2
	exit 1
fi
t0=$(date +%s)
checker_run_suite
rc=$?
echo "== asan_run: suite finished in $(( $(date +%s) - t0 )) s (exit $rc): $(tail -n 1 "$work/test-summary.txt")"
reports=$(ls "$prefix/reports" | wc -l)
echo "== asan_run: $reports report file(s) in $prefix/reports"
for f in "$prefix"/reports/*; do
	[ -e "$f" ] || continue
	echo "---- $f"
	head -n 60 "$f"
done
mod=$(cat "$prefix"/reports/* 2>/dev/null | grep -c 'pgtls_audit' || true)
echo "== asan_run: report lines naming pgtls_audit: $mod"
[ "$rc" -eq 0 ] && [ "$reports" -eq 0 ] && rm -rf "$work"
[ "$rc" -eq 0 ] && [ "$reports" -eq 0 ]
