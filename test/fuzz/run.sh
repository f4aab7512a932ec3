#!/usr/bin/env bash
# test/fuzz/run.sh [OUTDIR]: builds the libFuzzer harness of the ClientHello
# parser (test/fuzz/fuzz_client_hello.c + src/audit/client_hello.c, with
# clang -fsanitize=fuzzer,address,undefined, outside the server) and runs it
# for ${PGTLS_FUZZ_SECONDS:-30} seconds from the seed corpus
# test/fuzz/corpus/ (real ClientHello messages, see README).  The seeds are
# never modified: the fuzzer grows a copy in OUTDIR/corpus (default: a
# temporary directory, removed unless a crash was found); crashing inputs
# are written to OUTDIR/crash-*.
#
# Prints TAP-style lines ("ok 1 - ..." / "not ok 1 - ..."); exits 0 when the
# run found nothing, 1 on a crash or build failure, 77 when clang with
# libFuzzer is not available (as root it installs clang and libclang-rt-dev
# with apt-get first).  PGTLS_FUZZ_JOBS=N runs N processes in parallel.
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
secs=${PGTLS_FUZZ_SECONDS:-30}
jobs=${PGTLS_FUZZ_JOBS:-1}
out=${1:-}
keep=yes
if [ -z "$out" ]; then
	out=$(mktemp -d /tmp/pgtls_fuzz.XXXXXX)
	keep=no
fi
mkdir -p "$out/corpus"

find_clang() {
	local c
	for c in clang $(ls /usr/bin/clang-[0-9]* 2>/dev/null | sort -t- -k2 -n -r); do
		command -v "$c" >/dev/null 2>&1 || continue
		echo 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { return 0; }' >"$out/probe.c"
		if "$c" -fsanitize=fuzzer "$out/probe.c" -o "$out/probe" >/dev/null 2>&1; then
			echo "$c"
			return 0
		fi
	done
	return 1
}

cc=$(find_clang)
if [ -z "$cc" ] && [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
	echo "# installing clang and libclang-rt-dev (libFuzzer)"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null 2>&1 || true
	apt-get install -y -qq --no-install-recommends clang libclang-rt-dev >/dev/null 2>&1
	cc=$(find_clang)
fi
if [ -z "$cc" ]; then
	echo "ok 1 # skip fuzz: no clang with libFuzzer (Debian packages clang, libclang-rt-dev)"
	[ "$keep" = no ] && rm -rf "$out"
	exit 77
fi

if ! "$cc" -std=c99 -g -O1 -Wall -Wextra -Werror -fsanitize=fuzzer,address,undefined \
	-fno-sanitize-recover=undefined -I"$here/src" \
	"$here/test/fuzz/fuzz_client_hello.c" "$here/src/audit/client_hello.c" \
	-lcrypto -o "$out/fuzz_client_hello" >"$out/build.log" 2>&1; then
	cat "$out/build.log"
	echo "not ok 1 - fuzz: the harness does not build with $cc"
	exit 1
fi

echo "# fuzzing with $cc for $secs s ($jobs job(s)), corpus $out/corpus"
args=(-max_total_time="$secs" -print_final_stats=1 -max_len=65536 -timeout=10
	-artifact_prefix="$out/")
[ "$jobs" -gt 1 ] && args+=(-jobs="$jobs" -workers="$jobs")
(cd "$out" && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	./fuzz_client_hello "${args[@]}" corpus "$here/test/fuzz/corpus") >"$out/fuzz.log" 2>&1
rc=$?
# with -jobs, each job logs to fuzz-N.log: count executions there only
logs=("$out/fuzz.log")
[ "$jobs" -gt 1 ] && logs=("$out"/fuzz-*.log)
execs=$(cat "${logs[@]}" | grep -o 'stat::number_of_executed_units: *[0-9]*' | awk '{s += $2} END {print s + 0}')
[ "$jobs" -gt 1 ] && cat "$out"/fuzz-*.log >>"$out/fuzz.log" 2>/dev/null
crashes=$(ls "$out"/crash-* "$out"/leak-* "$out"/timeout-* "$out"/oom-* 2>/dev/null | wc -l)
ncorpus=$(ls "$out/corpus" | wc -l)
if [ $rc -eq 0 ] && [ "$crashes" -eq 0 ] && [ "$execs" -gt 0 ]; then
	echo "ok 1 - fuzz: $execs executions in $secs s, no crash (corpus grew to $ncorpus inputs)"
	[ "$keep" = no ] && rm -rf "$out"
	exit 0
fi
grep -E 'ERROR|SUMMARY|runtime error|#0 |#1 |#2 ' "$out/fuzz.log" | head -n 30
echo "not ok 1 - fuzz: exit status $rc, $crashes crashing input(s) in $out ($execs executions)"
exit 1
