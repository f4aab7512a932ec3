#!/usr/bin/env bash
# bench_inventory.sh: the inventory views at scale, and the inventory's
# shared memory.  Called by test/bench (BENCH_INVENTORY=0 there skips it);
# runs on its own too:
#
#   bash test/lib/bench_inventory.sh                 10k, 100k and 1M entries
#   BENCH_INVENTORY_SIZES="1000 10000" bash test/lib/bench_inventory.sh
#   BENCH_INVENTORY_REPS=5 ...                       median of 5 (default 3)
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
#   - times, median of BENCH_INVENTORY_REPS runs, each in a new session
#     (psql \timing): SELECT count(*) over connections, clients,
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
as_postgres() { runuser -u postgres -- "$@"; }

tmp=$(mktemp -d /tmp/pgtls_audit_bench_inv.XXXXXX)
inst=$tmp/inst
bindir=$inst/usr/lib/postgresql/$v/bin
data=$tmp/data
log=$tmp/server.log
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	if [ -f "$data/postmaster.pid" ]; then
		as_postgres "$bindir/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	if [ "$rc" -ne 0 ] && [ -f "$log" ]; then
		echo "bench_inventory: failed (status $rc); last lines of the server log:" >&2
		tail -n 15 "$log" | cut -c1-300 >&2
	fi
	rm -rf "$tmp"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== inventory at scale: private PostgreSQL $v installation in $tmp"
mkdir -p "$inst/usr/lib/postgresql" "$inst/usr/share/postgresql" "$tmp/src"
cp -a "/usr/lib/postgresql/$v" "$inst/usr/lib/postgresql/"
cp -a "/usr/share/postgresql/$v" "$inst/usr/share/postgresql/"
tar -C "$here" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
	--exclude=tmp_check --exclude=results --exclude=test/tmp -cf - . | tar -C "$tmp/src" -xf -
pg_config=/usr/lib/postgresql/$v/bin/pg_config
{
	make -s -C "$tmp/src" PG_CONFIG="$pg_config" &&
	make -s -C "$tmp/src" install PG_CONFIG="$pg_config" DESTDIR="$inst" &&
	make -s -C "$tmp/src/test/modules/pgtls_audit_fill" PG_CONFIG="$pg_config" &&
	make -s -C "$tmp/src/test/modules/pgtls_audit_fill" install PG_CONFIG="$pg_config" DESTDIR="$inst"
} >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log" >&2; echo "bench_inventory: build failed" >&2; exit 1; }
cp "$tmp/src/test/modules/pgtls_audit_fill/pgtls_audit_fill.sql" "$tmp/"
chown -R postgres:postgres "$tmp"
chmod 0755 "$tmp"

as_postgres "$bindir/initdb" -D "$data" -A trust -U postgres --no-sync >"$tmp/initdb.log" 2>&1 || {
	cat "$tmp/initdb.log" >&2; exit 1; }
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
cat >>"$data/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$tmp'
fsync = off
shared_buffers = 32MB
shared_preload_libraries = 'pgtls_audit'
pgtls_audit.save = off
pgtls_audit.log_connections = off
pgtls_audit.log_failures = off
EOF

# psql -c as superuser over the socket, unaligned tuples only
sql() {
	local args=() a
	for a in "$@"; do [ "$a" = -c ] || args+=(-c "$a"); done
	as_postgres "$bindir/psql" -X -q -A -t -h "$tmp" -p "$port" -U postgres -d postgres \
		-v ON_ERROR_STOP=1 "${args[@]}"
}
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) exit 1; print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# qtime SQL: median ms of reps runs, each in a new session
qtime() {
	local i
	for i in $(seq 1 "$reps"); do
		as_postgres "$bindir/psql" -X -q -A -t -h "$tmp" -p "$port" -U postgres -d postgres \
			-v ON_ERROR_STOP=1 -c '\timing on' -c "$1" | sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p'
	done | median
}
# start_with N|default: (re)start the server with the four sizes at N
start_with() {
	local n=$1
	[ -f "$data/postmaster.pid" ] && as_postgres "$bindir/pg_ctl" -D "$data" -m fast -w stop >/dev/null
	sed -i '/^pgtls_audit\.\(history_size\|max_clients\|max_certificates\|max_fingerprints\) = /d' "$data/postgresql.conf"
	if [ "$n" != default ]; then
		printf 'pgtls_audit.%s = %s\n' history_size "$n" max_clients "$n" max_certificates "$n" \
			max_fingerprints "$n" >>"$data/postgresql.conf"
	fi
	as_postgres "$bindir/pg_ctl" -D "$data" -l "$log" -w -t 300 start >/dev/null
}

echo "   $(nproc) CPUs, $(awk '/MemTotal/ {printf "%.0f GB", $2 / 1048576}' /proc/meminfo) RAM, load average $(cut -d' ' -f1-3 /proc/loadavg), tree at $(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo '?')"
start_with default
PGOPTIONS='-c client_min_messages=error' sql 'CREATE EXTENSION pgtls_audit' >/dev/null
as_postgres "$bindir/psql" -X -q -h "$tmp" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
	-f "$tmp/pgtls_audit_fill.sql" >/dev/null

# shmem_report LABEL: the parts of the inventory and the allocation
shmem_report() {
	echo "-- shared memory of the inventory, $1"
	sql "SELECT rpad(part, 31) || lpad(coalesce(entry_bytes::text, ''), 7) || ' B/entry' ||
	            lpad(coalesce(slot_bytes::text, ''), 7) || ' B/slot' ||
	            lpad(coalesce(capacity::text, ''), 9) || ' entries' ||
	            lpad(pg_size_pretty(bytes), 12)
	       FROM pgtls_fill.shmem_sizes()"
	sql "SELECT 'pg_shmem_allocations ''' || name || ''': ' || size || ' bytes (' || pg_size_pretty(size) || ')' ||
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

for n in $sizes; do
	echo "== $n entries"
	start_with "$n"
	shmem_report "at $n entries per table"
	# reset, fill and count in one session: nothing real in between
	out=$(sql "SELECT pgtls_audit.reset()" '\timing on' "SELECT pgtls_fill.fill($n)" '\timing off' "SELECT
	                  (SELECT count(*) FROM pgtls_audit.connections) || ' ' ||
	                  (SELECT count(*) FROM pgtls_audit.clients) || ' ' ||
	                  (SELECT count(*) FROM pgtls_audit.client_certificates) || ' ' ||
	                  (SELECT count(*) FROM pgtls_audit.client_fingerprints) || ' ' ||
	                  (SELECT records_total FROM pgtls_audit.stats)")
	t[fill,$n]=$(sed -n 's/^Time: \([0-9.]*\) ms.*/\1/p' <<<"$out" | head -n 1)
	got=$(tail -n 1 <<<"$out")
	[ "$got" = "$n $n $n $n $n" ] || {
		echo "bench_inventory: after fill($n) the views have $got rows (connections clients client_certificates client_fingerprints records_total), expected $n each" >&2
		exit 1; }
	for l in "${labels[@]}" impact; do
		[ "$l" = fill ] && continue
		# settings_impact only up to impact_max fingerprints
		[ "$l" = impact ] && [ "$n" -gt "$impact_max" ] && continue
		t[$l,$n]=$(qtime "${query[$l]}")
	done
	echo "   filled in ${t[fill,$n]} ms; views checked: $n rows each"
done
# settings_impact at 1k and 10k fingerprints, on servers of those sizes
# when the loop above did not run one
for m in 1000 $impact_max; do
	[ -n "${t[impact,$m]:-}" ] && continue
	echo "== $m fingerprints (settings_impact)"
	start_with "$m"
	sql "SELECT pgtls_fill.fill($m)" >/dev/null
	t[impact,$m]=$(qtime "${query[impact]}")
done
echo "-- settings_impact('TLSv1.3') over $(sql 'SELECT count(*) FROM pgtls_audit.client_fingerprints') filled fingerprints: $(sql "${query[impact]}" | cut -d'|' -f1) break"

echo
echo "== inventory views at scale: $(date -u '+%F %T UTC'), PostgreSQL $v, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "   ms, median of $reps runs each in a new session (psql \\timing); (xR) = growth per tenfold, 10 = linear"
hdr=$(printf '%-46s' 'query')
for n in $sizes; do hdr+=$(printf ' %18s' "$n"); done
echo "$hdr"
for l in "${labels[@]}"; do
	row=$(printf '%-46s' "${title[$l]}")
	prev='' pn=''
	for n in $sizes; do
		val=${t[$l,$n]:-}
		ratio=''
		if [ -n "$prev" ] && [ -n "$val" ] && [ $((n / pn)) -eq 10 ]; then
			ratio=$(awk -v a="$val" -v b="$prev" 'BEGIN {printf "(x%.1f)", a / b}')
		fi
		row+=$(printf ' %10s %7s' "${val:--}" "$ratio")
		prev=$val pn=$n
	done
	echo "$row"
done
echo
t1=${t[impact,1000]} t2=${t[impact,$impact_max]}
printf '%-46s %10s %18s %s\n' "settings_impact('TLSv1.3'), fingerprints" "1000: $t1" "$impact_max: $t2" \
	"$(awk -v a="$t2" -v b="$t1" 'BEGIN {printf "(x%.1f)", a / b}')"
