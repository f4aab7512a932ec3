#!/usr/bin/env bash
# bench_instr.sh [REPORT]: instructions per connection, counted by
# valgrind's callgrind.  A part of test/bench (BENCH_INSTR=0 there skips
# it); runs on its own too, as root:
#
#   bash test/lib/bench_instr.sh
#   BENCH_INSTR_BASE=main bash test/lib/bench_instr.sh   # and another build
#   BENCH_INSTR_CONNS=9 ...                               # connections per cell
#
# Why: CPU time per connection (bench_cpu.sh) is too noisy on a small shared
# machine to resolve a cost of 1 %.  An instruction count is exact and
# repeatable for the same binaries and inputs whatever else the machine is
# doing (a TLS handshake's random numbers change it by a few hundred
# instructions in millions), so the module's cost and core's own
# log_connections cost are differences of counts taken in the same run.
# What it does not count: the kernel (system calls, page faults: bench_cpu
# prints the page faults per backend) and cache misses (a new backend runs
# every step cold).
#
# What it does:
#   - copies the PostgreSQL installation into a temporary directory and
#     installs there pgtls_audit built from this tree (and, with
#     BENCH_INSTR_BASE=REV, a second copy with the module built from git
#     revision REV of this repository, for old against new in one run);
#     bin/postgres of each copy is a wrapper that runs the server under
#     `valgrind --tool=callgrind`, one output file per process (backends
#     are forked, so each connection's backend has a file of its own, named
#     by its pid);
#   - per configuration, one cluster (test/lib/cluster.sh, the test PKI):
#       bare   module not loaded, core log_connections off
#       core   module not loaded, core log_connections = on
#       json   pgtls_audit loaded, log_format = json (the default)
#       text   pgtls_audit loaded, log_format = text
#       off    pgtls_audit loaded, log_connections = off (inventory only)
#     (and json/text/off of the BENCH_INSTR_BASE build as base-json, ...);
#   - per transport (tls13: SCRAM over TLS 1.3; tls12: client certificate
#     and cert authentication over TLS 1.2; plain: SCRAM in plaintext; see
#     client_env in bench_common.sh), BENCH_INSTR_CONNS connections
#     (default 5) each running `SELECT pg_backend_pid()`, so that each
#     backend's file is known; a discarded first connection warms nothing
#     (every backend starts cold from the postmaster) but is kept out for
#     symmetry with bench_cpu.sh;
#   - reads each backend's total instruction count (callgrind's "totals")
#     and, in module configurations, the inclusive count of each of the
#     module's entry points (callgrind_annotate --inclusive=yes): the
#     TLS message and ClientHello callbacks, the authentication hook, the
#     log hook, the commit and exit callbacks;
#   - prints per transport: the median instructions per backend of each
#     configuration (min..max), its difference to bare, the module's own
#     entry points' sum, and the ratios: module / backend, module / core's
#     log_connections difference.
#
# Figures only, never a verdict.  About 4 minutes on 2 CPUs at the default.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
report=${1:-}
v=${BENCH_PG_VERSION:-15}
conns=${BENCH_INSTR_CONNS:-5}
base_rev=${BENCH_INSTR_BASE:-}
case "$conns" in '' | *[!0-9]* | 0) echo "bench_instr: BENCH_INSTR_CONNS must be a positive integer" >&2; exit 2 ;; esac
if [ "$(id -u)" -ne 0 ]; then
	echo "bench_instr: run as root (the server runs as the postgres user)" >&2
	exit 2
fi
# valgrind (callgrind_annotate is in the same package), the packages
# test/lib/packages.sh names for the memory checkers
source "$here/test/lib/packages.sh"
install_checker_packages valgrind >/dev/null || exit 1
command -v valgrind >/dev/null && command -v callgrind_annotate >/dev/null || {
	echo "bench_instr: valgrind (with callgrind_annotate) is not installed" >&2; exit 1; }

tmp=$(mktemp -d /tmp/pgtls_audit_instr.XXXXXX)
bc=$tmp/clusters
# shellcheck source=bench_common.sh
source "$here/test/lib/bench_common.sh"
trap 'bc_cleanup; [ -n "${BENCH_INSTR_KEEP:-}" ] || rm -rf "$tmp"' EXIT

mkdir -p "$tmp/src/test"
cp -r "$here/test/lib" "$here/test/conf" "$here/test/pki" "$tmp/src/test/"
chown -R postgres:postgres "$tmp"
chmod 0755 "$tmp"
as_postgres bash "$tmp/src/test/pki/make_pki.sh" "$tmp/pki" >/dev/null

# make_install NAME SRC: a copy of the installation in $tmp/NAME with the
# module built from the tree at SRC, bin/postgres wrapped in callgrind
make_install() {
	local name=$1 src=$2 prefix=$tmp/$1 ib
	mkdir -p "$prefix/usr/lib/postgresql" "$prefix/usr/share/postgresql" "$prefix/usr/include" "$prefix/cg"
	cp -a "/usr/lib/postgresql/$v" "$prefix/usr/lib/postgresql/"
	cp -a "/usr/share/postgresql/$v" "$prefix/usr/share/postgresql/"
	cp -a /usr/include/postgresql "$prefix/usr/include/"
	ib=$prefix/usr/lib/postgresql/$v/bin
	rm -f "$prefix/usr/lib/postgresql/$v/lib/pgtls_audit.so"
	(cd "$src" && make -s clean PG_CONFIG="$ib/pg_config" >/dev/null 2>&1;
	 make -s PG_CONFIG="$ib/pg_config" >/dev/null && make -s install PG_CONFIG="$ib/pg_config" >/dev/null) || {
		echo "bench_instr: building $name failed" >&2; return 1; }
	mv "$ib/postgres" "$ib/postgres.bin"
	cat >"$ib/postgres" <<EOF
#!/bin/bash
# bench_instr.sh: the server under callgrind, one file per process
for a in "\$@"; do
	case "\$a" in --boot|--single|-V|--version|-C|--describe-config|--check) exec "$ib/postgres.bin" "\$@" ;; esac
done
exec valgrind --tool=callgrind --callgrind-out-file=$prefix/cg/cg.%p --dump-instr=no --zero-before=InitPostmasterChild \\
	--log-file=$prefix/cg/vg.%p "$ib/postgres.bin" "\$@"
EOF
	chmod 755 "$ib/postgres"
	chmod 1777 "$prefix/cg"
}

echo "== building the module into private installations"
mkdir -p "$tmp/srcnew"
tar -C "$here" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
	--exclude=tmp_check --exclude=results -cf - . | tar -C "$tmp/srcnew" -xf -
make_install new "$tmp/srcnew"
builds=(new)
if [ -n "$base_rev" ]; then
	mkdir -p "$tmp/srcbase"
	git -C "$here" archive "$base_rev" | tar -C "$tmp/srcbase" -xf -
	make_install base "$tmp/srcbase"
	builds+=(base)
fi
echo 'SELECT pg_backend_pid();' >"$tmp/pid.sql"
chown -R postgres:postgres "$tmp"

# configuration -> build, preload, extra settings
declare -A cfg_build=() cfg_conf=()
configs=()
add_config() { configs+=("$1"); cfg_build[$1]=$2; cfg_conf[$1]=$3; }
add_config bare new "shared_preload_libraries = ''|log_connections = off"
add_config core new "shared_preload_libraries = ''|log_connections = on"
for b in "${builds[@]}"; do
	p=; [ "$b" = base ] && p=base-
	add_config "${p}json" "$b" "shared_preload_libraries = 'pgtls_audit'|pgtls_audit.log_format = 'json'"
	add_config "${p}text" "$b" "shared_preload_libraries = 'pgtls_audit'|pgtls_audit.log_format = 'text'"
	add_config "${p}off" "$b" "shared_preload_libraries = 'pgtls_audit'|pgtls_audit.log_connections = off"
done
transports=${BENCH_INSTR_TRANSPORTS:-tls13 tls12 plain}

# backend_counts FILE: "total module elog" instructions of one backend's
# file: its total; the inclusive sum of the module's entry points (the
# functions core or OpenSSL call: hooks and callbacks, none of which calls
# another); the inclusive sum of core's error-reporting calls (errstart,
# errmsg, errdetail, errfinish, ...: none calls another), which is the
# cost of core's log_connections lines in the core configuration
backend_counts() {
	local f=$1 total
	total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$f" | head -n 1)
	[ -n "$total" ] || total=$(sed -n 's/^summary: *\([0-9]*\).*/\1/p' "$f" | head -n 1)
	callgrind_annotate --inclusive=yes --threshold=100 "$f" 2>/dev/null |
		awk -v total="$total" '
			/pgtls_audit\.so/ && /:(audit_client_authentication|audit_emit_log|audit_xact_callback|audit_exit_callback|audit_msg_callback|audit_client_hello_callback) / {
				gsub(",", "", $1); mod += $1 }
			/postgres(\.bin)?\]/ && /:(errstart|errmsg|errmsg_internal|errdetail|errdetail_internal|errdetail_log|errhint|errcode|errhidestmt|errhidecontext|errfinish) / {
				gsub(",", "", $1); elog += $1 }
			END { print total, mod + 0, elog + 0 }'
}

declare -A res_total=() res_mod=() res_elog=()
for c in "${configs[@]}"; do
	b=${cfg_build[$c]}
	bindir=$tmp/$b/usr/lib/postgresql/$v/bin
	IFS='|' read -r -a lines <<<"${cfg_conf[$c]}"
	echo "== $c: starting a cluster under callgrind"
	bc_start "$c" "$(sed -n "s/^shared_preload_libraries = '\(.*\)'$/\1/p" <<<"${lines[0]}")" "${lines[@]:1}"
	for tr in $transports; do
		tots=() mods=() elogs=()
		for i in $(seq 0 "$conns"); do
			# shellcheck disable=SC2046
			pid=$(as_postgres env $(client_env "$tr") "$bindir/psql" -X -A -t -q -f "$tmp/pid.sql")
			[ "$i" = 0 ] && continue
			f=$tmp/$b/cg/cg.$pid
			for k in $(seq 1 300); do
				[ -s "$f" ] && grep -q '^totals:\|^summary:' "$f" && break
				sleep 0.2
			done
			read -r t m e < <(backend_counts "$f")
			tots+=("$t") mods+=("$m") elogs+=("$e")
		done
		res_total[$c.$tr]="${tots[*]}"
		res_mod[$c.$tr]="${mods[*]}"
		res_elog[$c.$tr]="${elogs[*]}"
	done
	as_postgres "$bindir/pg_ctl" -D "$data" -m fast -w -t 120 stop >/dev/null
done

{
	echo "== instructions per connection (callgrind), PostgreSQL $v, $conns connections per cell"
	echo "   backend: median instructions of one backend, fork to exit (min..max);"
	echo "   module: the module's entry points, inclusive (median; exact, what the module runs);"
	echo "   core lines: core's error-reporting calls, inclusive, less bare's (core's log_connections lines)"
	for tr in $transports; do
		echo "-- $tr"
		core_lines=$(awk -v a="$(med "${res_elog[core.$tr]}")" -v b="$(med "${res_elog[bare.$tr]}")" 'BEGIN { print a - b }')
		printf '   %-10s %12s  %-23s %9s %9s %7s %12s\n' config backend 'min..max' module 'µs@3GHz' '% bknd' '/core lines'
		for c in "${configs[@]}"; do
			t=$(med "${res_total[$c.$tr]}")
			lo=$(tr ' ' '\n' <<<"${res_total[$c.$tr]}" | sort -n | head -n 1)
			hi=$(tr ' ' '\n' <<<"${res_total[$c.$tr]}" | sort -n | tail -n 1)
			m=$(med "${res_mod[$c.$tr]}")
			[ "$c" = core ] && m=$core_lines
			awk -v c="$c" -v t="$t" -v lo="$lo" -v hi="$hi" -v m="$m" -v k="$core_lines" 'BEGIN {
				printf "   %-10s %12d  %-23s %9d %9.1f %6.2f%% %12s\n", c, t, lo ".." hi, m, m / 3000,
					100 * m / t, (k > 0 && m > 0) ? sprintf("%.2f", m / k) : "-" }'
		done
	done
	echo "   (core: its module column is core's own log lines; µs@3GHz: instructions / 3,000, one"
	echo "   instruction a cycle, an order of magnitude only)"
} | tee ${report:+"$report"}
