#!/usr/bin/env bash
# bench_inventory.sh: the inventory views at scale, and the inventory's
# shared memory.  Called by test/bench (BENCH_INVENTORY=0 there skips it);
# runs on its own too:
#
#   bash test/lib/bench_inventory.sh                 10k, 100k and 1M entries
#   BENCH_INVENTORY_SIZES="1000 10000" bash test/lib/bench_inventory.sh
#   BENCH_INVENTORY_REPS=5 ...                       median of 5 (default 3)
#   BENCH_INVENTORY_BASELINE=main ...                and the git revision
#                                                    main, in the same run
#
# Prints figures, never a verdict (no pass/fail on time).  Run as root on
# Debian 12 with PostgreSQL 15 (PGVERSION=17 ... for another installed
# version); the server runs as the postgres user.
#
# What it does:
#   - copies the PostgreSQL installation (/usr/lib/postgresql/V and
#     /usr/share/postgresql/V, about 50 MB) into a temporary directory and
#     installs into that copy the extension and the test-only fill module
#     (test/modules/pgtls_audit_fill), both built from a copy of this
#     tree: the shared installation, which test/run and other checkouts
#     use, is never touched, and the fill module is never installed where
#     a real server could load it;
#   - starts one server per size N on a free loopback port (socket in the
#     temporary directory), pgtls_audit preloaded with history_size,
#     max_clients, max_certificates and max_fingerprints = N, save = off;
#   - fills the inventory with pgtls_fill.fill(N): N synthetic successful
#     TLS attempts, each a distinct client (address), client certificate
#     (serial; 20 issuers, 400 users, 30 databases) and ClientHello
#     fingerprint (JA4), added by the inventory's own code (inventory_add)
#     under its spinlock; checks that every view then has exactly N rows
#     (fails otherwise: the figures would be of something else);
#   - with BENCH_INVENTORY_BASELINE=REV does all of this twice, side by
#     side: for this tree and for revision REV of its git repository (git
#     archive), in a second private installation with a server of its own,
#     started and filled with this tree's; the runs of each query
#     interleave (the baseline first in odd runs, this tree in even ones),
#     so both see the same load;
#   - times, median of BENCH_INVENTORY_REPS runs, each in a new session
#     (psql \timing, and the backend's CPU time from /proc/self/schedstat,
#     less disturbed by other processes' load): SELECT count(*) over
#     connections, clients,
#     client_certificates and client_fingerprints, SELECT * FROM stats, two
#     typical DBA queries with GROUP BY, and settings_impact('TLSv1.3') over
#     min(N, 10000) fingerprints; prints the growth ratio per tenfold (10 is
#     linear);
#   - prints the inventory's shared memory per part at the defaults and at
#     each N (pgtls_fill.shmem_sizes(): sizeof each entry, its LRU slot,
#     each table) against pg_shmem_allocations.
#
# The cluster is stopped and the temporary directory removed on every exit.
set -euo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
v=${PGVERSION:-15}
sizes=${BENCH_INVENTORY_SIZES:-10000 100000 1000000}
reps=${BENCH_INVENTORY_REPS:-3}
baseline=${BENCH_INVENTORY_BASELINE:-}
impact_max=10000

case "$reps" in
	'' | *[!0-9]* | 0) echo "bench_inventory: BENCH_INVENTORY_REPS must be a positive integer" >&2; exit 2 ;;
esac
for n in $sizes; do
	case "$n" in
		'' | *[!0-9]* | 0) echo "bench_inventory: sizes must be positive integers" >&2; exit 2 ;;
	esac
	[ "$n" -ge 10 ] && [ "$n" -le 1000000 ] || { echo "bench_inventory: sizes must be between 10 and 1000000" >&2; exit 2; }
done
if [ "$(id -u)" -ne 0 ]; then
	echo "bench_inventory: run as root (the server runs as the postgres user)" >&2
	exit 2
fi
[ -x "/usr/lib/postgresql/$v/bin/postgres" ] || { echo "bench_inventory: PostgreSQL $v not installed" >&2; exit 1; }
if [ -n "$baseline" ]; then
	base_rev=$(git -C "$here" rev-parse --verify --quiet "$baseline^{commit}") || {
		echo "bench_inventory: BENCH_INVENTORY_BASELINE: no such revision: $baseline" >&2; exit 2; }
	builds="base new"
else
	builds="new"
fi
as_postgres() { runuser -u postgres -- "$@"; }

tmp=$(mktemp -d /tmp/pgtls_audit_bench_inv.XXXXXX)
pg_config=/usr/lib/postgresql/$v/bin/pg_config
# per build B (new: this tree; base: the baseline): $tmp/B holds its
# installation, source, data directory, log and socket
bindir_of() { echo "$tmp/$1/inst/usr/lib/postgresql/$v/bin"; }
declare -A port
cleanup() {
	local rc=$? b
	trap - EXIT INT TERM
	for b in $builds; do
		if [ -f "$tmp/$b/data/postmaster.pid" ]; then
			as_postgres "$(bindir_of "$b")/pg_ctl" -D "$tmp/$b/data" -m immediate -w stop >/dev/null 2>&1 || true
		fi
		if [ "$rc" -ne 0 ] && [ -f "$tmp/$b/server.log" ]; then
			echo "bench_inventory: failed (status $rc); last lines of the server log ($b):" >&2
			tail -n 15 "$tmp/$b/server.log" | cut -c1-300 >&2
		fi
	done
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# build B: a private PostgreSQL installation with the extension and the
# fill module of B's source, and an initialized data directory
build() {
	local b=$1 d=$tmp/$1
	mkdir -p "$d/inst/usr/lib/postgresql" "$d/inst/usr/share/postgresql" "$d/src"
	cp -a "/usr/lib/postgresql/$v" "$d/inst/usr/lib/postgresql/"
	cp -a "/usr/share/postgresql/$v" "$d/inst/usr/share/postgresql/"
	if [ "$b" = new ]; then
		tar -C "$here" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
			--exclude=tmp_check --exclude=results --exclude=test/tmp -cf - . | tar -C "$d/src" -xf -
	else
		git -C "$here" archive "$base_rev" | tar -C "$d/src" -xf -
	fi
	{
		make -s -C "$d/src" PG_CONFIG="$pg_config" &&
		make -s -C "$d/src" install PG_CONFIG="$pg_config" DESTDIR="$d/inst" &&
		make -s -C "$d/src/test/modules/pgtls_audit_fill" PG_CONFIG="$pg_config" &&
		make -s -C "$d/src/test/modules/pgtls_audit_fill" install PG_CONFIG="$pg_config" DESTDIR="$d/inst"
	} >"$d/build.log" 2>&1 || { cat "$d/build.log" >&2; echo "bench_inventory: build of $b failed" >&2; exit 1; }
	cp "$d/src/test/modules/pgtls_audit_fill/pgtls_audit_fill.sql" "$d/"
	chown -R postgres:postgres "$d"
	chmod 0755 "$tmp" "$d"
	as_postgres "$(bindir_of "$b")/initdb" -D "$d/data" -A trust -U postgres --no-sync >"$d/initdb.log" 2>&1 || {
		cat "$d/initdb.log" >&2; exit 1; }
	port[$b]=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >>"$d/data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = ${port[$b]}
unix_socket_directories = '$d'
fsync = off
shared_buffers = 32MB
shared_preload_libraries = 'pgtls_audit'
pgtls_audit.save = off
pgtls_audit.log_connections = off
pgtls_audit.log_failures = off
EOF
}

echo "== inventory at scale: private PostgreSQL $v installation(s) in $tmp"
for b in $builds; do build "$b"; done

# sql B SQL...: psql -c as superuser over B's socket, unaligned tuples only
sql() {
	local b=$1 args=() a
	shift
	for a in "$@"; do [ "$a" = -c ] || args+=(-c "$a"); done
	as_postgres "$(bindir_of "$b")/psql" -X -q -A -t -h "$tmp/$b" -p "${port[$b]}" -U postgres -d postgres \
		-v ON_ERROR_STOP=1 "${args[@]}"
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) exit 1; print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# one_run B SQL: "wall_ms cpu_ms" of SQL in a new session of B (CPU: the
# backend's time on a CPU from /proc/self/schedstat, in ns)
cpu_sql="SELECT 'cpu ' || split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)"
one_run() {
	sql "$1" "$cpu_sql" '\timing on' "$2" '\timing off' "$cpu_sql" |
		awk '/^cpu / {c[++k] = $2} /^Time: / {w = $2} END {printf "%s %.1f\n", w, (c[2] - c[1]) / 1e6}'
}
# qtime SQL: per build, "wall cpu" medians (ms) of reps runs, each in a new
# session, the builds' runs interleaved (reversed in even runs); sets qt[B]
declare -A qt
qtime() {
	local i b order
	local -A runs=()
	for i in $(seq 1 "$reps"); do
		order=$builds
		[ $((i % 2)) -eq 0 ] && order=$(echo "$builds" | awk '{for (i = NF; i > 0; i--) printf "%s ", $i}')
		for b in $order; do runs[$b]+="$(one_run "$b" "$1")"$'\n'; done
	done
	for b in $builds; do
		qt[$b]="$(awk 'NF {print $1}' <<<"${runs[$b]}" | median) $(awk 'NF {print $2}' <<<"${runs[$b]}" | median)"
	done
}
# start_with N|default: (re)start every build's server with the four sizes at N
start_with() {
	local n=$1 b d
	for b in $builds; do
		d=$tmp/$b/data
		[ -f "$d/postmaster.pid" ] && as_postgres "$(bindir_of "$b")/pg_ctl" -D "$d" -m fast -w stop >/dev/null
		sed -i '/^pgtls_audit\.\(history_size\|max_clients\|max_certificates\|max_fingerprints\) = /d' "$d/postgresql.conf"
		if [ "$n" != default ]; then
			printf 'pgtls_audit.%s = %s\n' history_size "$n" max_clients "$n" max_certificates "$n" \
				max_fingerprints "$n" >>"$d/postgresql.conf"
		fi
		as_postgres "$(bindir_of "$b")/pg_ctl" -D "$d" -l "$tmp/$b/server.log" -w -t 300 start >/dev/null
	done
}

echo "   $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo) RAM, load average $(cut -d' ' -f1-3 /proc/loadavg), tree at $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')${baseline:+, baseline $baseline = $(git -C "$here" rev-parse --short "$base_rev")}"
start_with default
for b in $builds; do
	PGOPTIONS='-c client_min_messages=error' sql "$b" 'CREATE EXTENSION pgtls_audit' >/dev/null
	as_postgres "$(bindir_of "$b")/psql" -X -q -h "$tmp/$b" -p "${port[$b]}" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-f "$tmp/$b/pgtls_audit_fill.sql" >/dev/null
done

# shmem_report LABEL: the parts of the inventory and the allocation (this tree's)
shmem_report() {
	echo "-- shared memory of the inventory, $1"
	sql new "SELECT rpad(part, 31) || lpad(coalesce(entry_bytes::text, ''), 7) || ' B/entry' ||
	            lpad(coalesce(slot_bytes::text, ''), 7) || ' B/slot' ||
	            lpad(coalesce(capacity::text, ''), 9) || ' entries' ||
	            lpad(pg_size_pretty(bytes), 12)
	       FROM pgtls_fill.shmem_sizes()"
	sql new "SELECT 'pg_shmem_allocations ''' || name || ''': ' || size || ' bytes (' || pg_size_pretty(size) || ')' ||
	            CASE WHEN size = (SELECT bytes FROM pgtls_fill.shmem_sizes() WHERE part = 'total')
	                 THEN ', as computed' ELSE ', NOT as computed' END
	       FROM pg_shmem_allocations WHERE name = 'pgtls_audit inventory'"
}
shmem_report "at the defaults"

declare -A t
labels=(fill connections clients client_certificates client_fingerprints stats group_clients group_certs)
declare -A title=(
	[fill]='pgtls_fill.fill(N) (N inventory_add calls)'
	[connections]='SELECT count(*) FROM connections'
	[clients]='SELECT count(*) FROM clients'
	[client_certificates]='SELECT count(*) FROM client_certificates'
	[client_fingerprints]='SELECT count(*) FROM client_fingerprints'
	[stats]='SELECT * FROM stats'
	[group_clients]='clients GROUP BY user_name, top 10'
	[group_certs]='client_certificates GROUP BY issuer, expiry'
)
declare -A query=(
	[connections]='SELECT count(*) FROM pgtls_audit.connections'
	[clients]='SELECT count(*) FROM pgtls_audit.clients'
	[client_certificates]='SELECT count(*) FROM pgtls_audit.client_certificates'
	[client_fingerprints]='SELECT count(*) FROM pgtls_audit.client_fingerprints'
	[stats]='SELECT * FROM pgtls_audit.stats'
	[group_clients]='SELECT user_name, count(*) AS clients, sum(connections) AS connections, max(last_seen) FROM pgtls_audit.clients GROUP BY user_name ORDER BY 3 DESC, 1 LIMIT 10'
	[group_certs]="SELECT issuer_dn, count(*), count(*) FILTER (WHERE not_after < now() + interval '90 days') AS expiring, min(not_after) FROM pgtls_audit.client_certificates GROUP BY issuer_dn ORDER BY 1"
	[impact]="SELECT count(*) FILTER (WHERE breaks), count(*) FROM pgtls_audit.settings_impact('TLSv1.3')"
)

# fill_all N: reset and fill every build's inventory with N attempts and
# check the row counts; sets t[fill,B,N] (wall ms only)
fill_all() {
	local n=$1 b out got
	for b in $builds; do
		# reset, fill and count in one session: nothing real in between
		out=$(sql "$b" "SELECT pgtls_audit.reset()" '\timing on' "SELECT pgtls_fill.fill($n)" '\timing off' "SELECT
		                  (SELECT count(*) FROM pgtls_audit.connections) || ' ' ||
		                  (SELECT count(*) FROM pgtls_audit.clients) || ' ' ||
		                  (SELECT count(*) FROM pgtls_audit.client_certificates) || ' ' ||
		                  (SELECT count(*) FROM pgtls_audit.client_fingerprints) || ' ' ||
		                  (SELECT records_total FROM pgtls_audit.stats)")
		t[fill,$b,$n]=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$out" | head -n 1)
		got=$(tail -n 1 <<<"$out")
		[ "$got" = "$n $n $n $n $n" ] || {
			echo "bench_inventory: after fill($n) the views of $b have $got rows (connections clients client_certificates client_fingerprints records_total), expected $n each" >&2
			exit 1; }
	done
}

for n in $sizes; do
	echo "== $n entries"
	start_with "$n"
	shmem_report "at $n entries per table"
	fill_all "$n"
	for l in "${labels[@]}" impact; do
		[ "$l" = fill ] && continue
		# settings_impact only up to impact_max fingerprints
		[ "$l" = impact ] && [ "$n" -gt "$impact_max" ] && continue
		qtime "${query[$l]}"
		for b in $builds; do t[$l,$b,$n]=${qt[$b]}; done
	done
	echo "   filled in$(for b in $builds; do printf ' %s ms (%s)' "${t[fill,$b,$n]}" "$b"; done); views checked: $n rows each"
done
# settings_impact at 1k and 10k fingerprints, on servers of those sizes
# when the loop above did not run one
for m in 1000 $impact_max; do
	[ -n "${t[impact,new,$m]:-}" ] && continue
	echo "== $m fingerprints (settings_impact)"
	start_with "$m"
	for b in $builds; do sql "$b" "SELECT pgtls_fill.fill($m)" >/dev/null; done
	qtime "${query[impact]}"
	for b in $builds; do t[impact,$b,$m]=${qt[$b]}; done
done
for b in $builds; do
	echo "-- settings_impact('TLSv1.3') over $(sql "$b" 'SELECT count(*) FROM pgtls_audit.client_fingerprints') filled fingerprints ($b): $(sql "$b" "${query[impact]}" | cut -d'|' -f1) break"
done

echo
echo "== inventory views at scale: $(date -u '+%F %T UTC'), PostgreSQL $v, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   ms, median of $reps runs each in a new session: wall (psql \\timing) / CPU of the backend (fill: wall only);"
echo "   (xR) = growth of the wall time per tenfold, 10 = linear"
[ -n "$baseline" ] && echo "   two lines per query: base = $baseline ($(git -C "$here" rev-parse --short "$base_rev")), new = this tree; their runs interleaved"
hdr=$(printf '%-46s %4s' 'query' '')
for n in $sizes; do hdr+=$(printf ' %26s' "$n"); done
echo "$hdr"
for l in "${labels[@]}"; do
	for b in $builds; do
		row=$(printf '%-46s %4s' "${title[$l]}" "$([ -n "$baseline" ] && echo "$b")")
		prev='' pn=''
		for n in $sizes; do
			val=${t[$l,$b,$n]:-}
			wall=${val%% *} cpu=${val#* }
			[ "$cpu" = "$val" ] && cpu=''
			ratio=''
			if [ -n "$prev" ] && [ -n "$val" ] && [ $((n / pn)) -eq 10 ]; then
				ratio=$(awk -v a="$wall" -v b="$prev" 'BEGIN {printf "(x%.1f)", a / b}')
			fi
			row+=$(printf ' %18s %7s' "${val:+$wall${cpu:+ / $cpu}}" "$ratio")
			prev=$wall pn=$n
		done
		echo "$row"
	done
done
echo
for b in $builds; do
	t1=${t[impact,$b,1000]} t2=${t[impact,$b,$impact_max]}
	printf '%-46s %4s %22s %24s %s\n' "settings_impact('TLSv1.3'), fingerprints" "$([ -n "$baseline" ] && echo "$b")" \
		"1000: ${t1/ / / }" "$impact_max: ${t2/ / / }" \
		"$(awk -v a="${t2%% *}" -v b="${t1%% *}" 'BEGIN {printf "(x%.1f)", a / b}')"
done
