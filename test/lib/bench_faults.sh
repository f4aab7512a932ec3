#!/usr/bin/env bash
# bench_faults.sh [REPORT]: minor page faults per backend, exactly.  A part
# of test/bench (BENCH_FAULTS=0 there skips it); runs on its own too, as
# root:
#
#   bash test/lib/bench_faults.sh
#   BENCH_FAULTS_BASE=main bash test/lib/bench_faults.sh   # and another build
#   BENCH_FAULTS_CONNS=600 ...                              # connections a run
#
# Why: a new backend starts with its page tables empty for everything but
# the postmaster's private anonymous memory, so each page of the module's
# code, data and BSS, of the shared inventory and of new stack it touches
# is a minor page fault in every connection; part 2 of test/bench
# (bench_cpu.sh) found those faults to be about half of the module's CPU
# samples.  The count of one backend is exact (the kernel counts every
# fault of a process, and adds a reaped child's count to the parent's
# cminflt, /proc/PID/stat field 11), but it changes with the memory layout:
# address space randomization moves the stack, the heap and the libraries
# (every run a different count), the test PKI's random keys change sizes
# and so allocations, and the page cache's state of a file decides what a
# fault maps around it.  So, for repeatable counts:
#   - the script runs itself under `setarch -R` (no randomization, for the
#     postmaster and so for every backend it forks);
#   - one PKI for every run;
#   - one copy of the installation (in a temporary directory, PostgreSQL
#     finds its files relative to its binaries) for every configuration;
#     the module's library of each build is copied into it before its run,
#     so that each is a file freshly written in the same way.
# Then the same build gives the same count to a hundredth of a fault per
# backend from run to run, and a difference between configurations is the
# module's (or a build's) own.
#
# Configurations, each a new cluster (test/lib/cluster.sh, autovacuum off;
# the same data directory path for each),
# over tls13, tls12 and plain (client_env in bench_common.sh):
#   bare   module not loaded
#   core   module not loaded, core log_connections = on
#   json   pgtls_audit loaded, log_format = json (the default)
#   off    pgtls_audit loaded, log_connections = off (inventory only)
# and json of the BENCH_FAULTS_BASE build as base-json.  A run is a
# discarded warm-up of 20 connections (the first backends write the
# relation cache's init file), then BENCH_FAULTS_CONNS connections
# (default 300, pgbench -C -c 2); the postmaster's cminflt is read before
# and after, once every backend of the run is reaped.
#
# Figures only, never a verdict.  About 3 minutes (5 with a base).
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
report=${1:-}
v=${BENCH_PG_VERSION:-15}
conns=${BENCH_FAULTS_CONNS:-300}
layouts=${BENCH_FAULTS_LAYOUTS:-4}
base_rev=${BENCH_FAULTS_BASE:-}
case "$conns" in '' | *[!0-9]* | 0 | 1) echo "bench_faults: BENCH_FAULTS_CONNS must be an integer of at least 2" >&2; exit 2 ;; esac
case "$layouts" in '' | *[!0-9]* | 0) echo "bench_faults: BENCH_FAULTS_LAYOUTS must be a positive integer" >&2; exit 2 ;; esac
if [ "$(id -u)" -ne 0 ]; then
	echo "bench_faults: run as root (the server runs as the postgres user)" >&2
	exit 2
fi
command -v setarch >/dev/null || { echo "bench_faults: setarch (util-linux) is not installed" >&2; exit 1; }
if [ -z "${BENCH_FAULTS_NORANDOM:-}" ]; then
	BENCH_FAULTS_NORANDOM=1 exec setarch "$(uname -m)" -R bash "$0" "$@"
fi

tmp=$(mktemp -d /tmp/pgtls_audit_faults.XXXXXX)
bc=$tmp/clusters
prefix=$tmp/install
BENCH_PG_BINDIR=$prefix/usr/lib/postgresql/$v/bin
# shellcheck source=bench_common.sh
source "$here/test/lib/bench_common.sh"
trap 'bc_cleanup; rm -rf "$tmp"' EXIT

mkdir -p "$tmp/src/test"
cp -r "$here/test/lib" "$here/test/conf" "$here/test/pki" "$tmp/src/test/"
chown -R postgres:postgres "$tmp"
chmod 0755 "$tmp"
as_postgres bash "$tmp/src/test/pki/make_pki.sh" "$tmp/pki" >/dev/null

# one copy of the installation; each build's library is kept aside
mkdir -p "$prefix/usr/lib/postgresql" "$prefix/usr/share/postgresql" "$prefix/usr/include" "$tmp/lib"
cp -a "/usr/lib/postgresql/$v" "$prefix/usr/lib/postgresql/"
cp -a "/usr/share/postgresql/$v" "$prefix/usr/share/postgresql/"
cp -a /usr/include/postgresql "$prefix/usr/include/"
libdir=$prefix/usr/lib/postgresql/$v/lib

# build NAME SRC: the module built from the tree at SRC, installed into the
# copy (the SQL files are the same for both builds' runs), its library kept
# as $tmp/lib/NAME.so
build() {
	local name=$1 src=$2
	(cd "$src" && make -s clean PG_CONFIG="$bindir/pg_config" >/dev/null 2>&1;
	 make -s PG_CONFIG="$bindir/pg_config" >/dev/null && make -s install PG_CONFIG="$bindir/pg_config" >/dev/null) || {
		echo "bench_faults: building $name failed" >&2; return 1; }
	cp "$libdir/pgtls_audit.so" "$tmp/lib/$name.so"
}

echo "== building the module into a private installation"
builds=()
if [ -n "$base_rev" ]; then
	mkdir -p "$tmp/srcbase"
	git -C "$here" archive "$base_rev" | tar -C "$tmp/srcbase" -xf -
	build base "$tmp/srcbase"
	builds+=(base)
fi
mkdir -p "$tmp/srcnew"
tar -C "$here" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
	--exclude=tmp_check --exclude=results -cf - . | tar -C "$tmp/srcnew" -xf -
build new "$tmp/srcnew"
builds+=(new)
echo 'SELECT 1;' >"$tmp/select1.sql"
chown -R postgres:postgres "$tmp"

configs=(bare core json off)
[ -n "$base_rev" ] && configs+=(base-json)

# cminflt of the postmaster of the current cluster
cminflt() { awk '{ print $11 }' "/proc/$(head -n 1 "$data/postmaster.pid")/stat"; }

# run_conns TRANSPORT N: N connections, each a new backend
run_conns() {
	env $(client_env "$1") "$bindir/pgbench" -n -C -c 2 -t $(($2 / 2)) -f "$tmp/select1.sql" >/dev/null 2>&1 || {
		echo "bench_faults: pgbench failed ($1)" >&2; return 1; }
}

# wait_reaped: until the postmaster has no child left but its auxiliary
# processes (every backend of the run is reaped, its faults counted)
wait_reaped() {
	local pm i
	pm=$(head -n 1 "$data/postmaster.pid")
	for i in $(seq 1 300); do
		ps --ppid "$pm" -o args= |
			grep -qv -e checkpointer -e 'background writer' -e walwriter -e 'replication launcher' \
				-e 'autovacuum launcher' -e 'logger' || return 0
		sleep 0.1
	done
	echo "bench_faults: backends still running after 30 s" >&2
	return 1
}

declare -A faults=() spread=()
for c in "${configs[@]}"; do
	build_of=new
	[ "$c" = base-json ] && build_of=base
	cp "$tmp/lib/$build_of.so" "$libdir/pgtls_audit.so"
	declare -A per=()
	for ((k = 0; k < layouts; k++)); do
		# layout k: the postmaster's stack moved by k/layouts of a page (an
		# environment variable), its heap by k kB (a setting's value); the
		# same data directory path for every run (its length moves the
		# stack too)
		pad=$(head -c $((k * 4096 / layouts + 1)) /dev/zero | tr '\0' x)
		hpad=$(head -c $((k * 1024 + 1)) /dev/zero | tr '\0' y)
		rm -rf "$bc/run"
		export PGTLS_BENCH_PAD=$pad
		case $c in
			bare) bc_start run '' "pgtls_bench.pad = '$hpad'" ;;
			core) bc_start run '' "pgtls_bench.pad = '$hpad'" "log_connections = on" ;;
			json | base-json) bc_start run pgtls_audit "pgtls_bench.pad = '$hpad'" "pgtls_audit.log_format = 'json'" ;;
			off) bc_start run pgtls_audit "pgtls_bench.pad = '$hpad'" "pgtls_audit.log_connections = 'off'" ;;
		esac
		for tr in tls13 tls12 plain; do
			run_conns "$tr" 20
			wait_reaped
			a=$(cminflt)
			run_conns "$tr" "$conns"
			wait_reaped
			b=$(cminflt)
			per[$tr]="${per[$tr]:-} $(awk -v a="$a" -v b="$b" -v n="$conns" 'BEGIN { printf "%.2f", (b - a) / n }')"
		done
		as_postgres "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
	done
	for tr in tls13 tls12 plain; do
		faults[$c,$tr]=$(tr ' ' '\n' <<<"${per[$tr]}" | awk 'NF { s += $1; n++ } END { printf "%.2f", s / n }')
		spread[$c,$tr]=$(tr ' ' '\n' <<<"${per[$tr]}" | awk 'NF { if (n == 0 || $1 < lo) lo = $1; if (n == 0 || $1 > hi) hi = $1; n++ } END { printf "%.2f..%.2f", lo, hi }')
		printf '   %-9s %-5s %8s page faults per backend, mean of %d layouts (%s)\n' "$c" "$tr" "${faults[$c,$tr]}" "$layouts" "${spread[$c,$tr]}"
	done
	unset per
done

{
	echo
	echo "Minor page faults per backend (test/lib/bench_faults.sh): PostgreSQL $v, $conns connections a run,"
	echo "address space randomization off, one PKI and one installation copy for all runs;"
	echo "mean over $layouts memory layouts (stack and heap of the postmaster moved), min..max below each"
	printf '    %-34s %16s %16s %16s\n' config tls13 tls12 plain
	for c in "${configs[@]}"; do
		row=""
		for tr in tls13 tls12 plain; do
			if [ "$c" = bare ]; then
				row+=$(printf ' %16s' "${faults[$c,$tr]}")
			else
				row+=$(printf ' %16s' "$(awk -v x="${faults[$c,$tr]}" -v b="${faults[bare,$tr]}" 'BEGIN { printf "%.2f (%+.2f)", x, x - b }')")
			fi
		done
		printf '    %-34s%s\n' "$c" "$row"
		printf '    %-34s %16s %16s %16s\n' "" "${spread[$c,tls13]}" "${spread[$c,tls12]}" "${spread[$c,plain]}"
	done
	echo "    (in parentheses: the difference to bare, the faults the configuration adds to each backend)"
} | tee -a "${report:-/dev/null}"
