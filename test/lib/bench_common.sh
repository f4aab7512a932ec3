# bench_common.sh: shared pieces of test/lib/bench_cpu.sh and
# test/lib/bench_volume.sh (parts of test/bench).  Source it as root with
# $tmp (the benchmark's temporary directory, holding the PKI in $tmp/pki and
# the harness copy in $tmp/src) and $bc (this part's own directory under
# $tmp) set.  Each part runs its own throwaway cluster (test/lib/cluster.sh)
# on a free loopback port chosen at run time, with autovacuum off so that no
# worker process is forked during a measurement, and stops it on exit.

v=${BENCH_PG_VERSION:-15}
# BENCH_PG_BINDIR: another installation of that version (a private copy
# with another build of the module, for an old-against-new run)
bindir=${BENCH_PG_BINDIR:-/usr/lib/postgresql/$v/bin}
as_postgres() { runuser -u postgres -- "$@"; }
median() { sort -g | awk '{a[NR]=$1} END {if (NR == 0) exit 1; print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
# med "v1 v2 ...": median of a space-separated list
med() { tr ' ' '\n' <<<"$1" | grep -v '^$' | median; }

# free_port: a loopback TCP port nobody listens on and no socket file uses
free_port() {
	local p i
	for i in $(seq 1 200); do
		p=$((20000 + RANDOM % 30000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null && [ ! -e "/tmp/.s.PGSQL.$p" ]; then
			echo "$p"
			return 0
		fi
	done
	echo "bench: no free port found" >&2
	return 1
}

# clusters by name: bc_start NAME ... makes one, use_cluster NAME points
# $port, $data and $log (and so sql, bc_set, logins) at it
declare -A bc_ports=()
use_cluster() {
	port=${bc_ports[$1]}
	data=$bc/$1/data
	log=$bc/$1/server.log
}
bc_cleanup() {
	local c
	for c in "${!bc_ports[@]}"; do
		if [ -f "$bc/$c/data/postmaster.pid" ]; then
			as_postgres "$bindir/pg_ctl" -D "$bc/$c/data" -m fast -w stop >/dev/null 2>&1 || \
				as_postgres "$bindir/pg_ctl" -D "$bc/$c/data" -m immediate -w stop >/dev/null 2>&1 || true
		fi
	done
}
trap bc_cleanup EXIT

# bc_start NAME PRELOAD [CONF_LINE...]: a new cluster (roles of
# test/conf/setup.sql, the extension created), then use_cluster NAME
bc_start() {
	local name=$1 preload=$2
	shift 2
	mkdir -p "$bc"
	chown postgres:postgres "$bc"
	bc_ports[$name]=$(free_port)
	use_cluster "$name"
	local lines=("shared_preload_libraries = '$preload'" "autovacuum = off" "$@") q='' l
	for l in "${lines[@]}"; do q+=" $(printf '%q' "$l")"; done
	as_postgres env PATH="$bindir:$PATH" bash -c "
		set -e
		source '$tmp/src/test/lib/cluster.sh'
		cluster_start '$bc/$name' '$port' '$tmp/pki' $q"
	PGOPTIONS='-c client_min_messages=error' sql 'CREATE EXTENSION pgtls_audit' >/dev/null
}

# sql STATEMENT: run as superuser over the socket, print unaligned tuples
sql() {
	as_postgres "$bindir/psql" -X -q -A -t -h /tmp -p "$port" -U postgres -d postgres \
		-v ON_ERROR_STOP=1 -c "$1"
}

bc_restart() {
	as_postgres "$bindir/pg_ctl" -D "$data" -l "$log" -m fast -w -t 60 restart >/dev/null
}

# bc_set NAME VALUE...: ALTER SYSTEM SET each pair, reload, wait until a new
# session sees every value
bc_set() {
	local args=("$@") i k
	for ((i = 0; i < ${#args[@]}; i += 2)); do
		sql "ALTER SYSTEM SET ${args[i]} = '${args[i + 1]}'"
	done
	sql 'SELECT pg_reload_conf()' >/dev/null
	for k in $(seq 1 50); do
		local ok=1
		for ((i = 0; i < ${#args[@]}; i += 2)); do
			[ "$(sql "SHOW ${args[i]}")" = "${args[i + 1]}" ] || { ok=0; break; }
		done
		[ $ok = 1 ] && return 0
		sleep 0.1
	done
	echo "bench: settings ${args[*]} not in effect after reload" >&2
	exit 1
}

# client_env TRANSPORT: the environment of a client of that transport
#   tls13   regress_alice, SCRAM, TLS 1.3, no client certificate
#   tls12   regress_cert_user, cert authentication, TLS 1.2 (client
#           certificate of the test PKI, pg_hba "hostssl ... cert")
#   cert13  regress_cert_user, cert authentication, TLS 1.3
#   plain   regress_plain_user, SCRAM, no TLS (pg_hba "hostnossl")
client_env() {
	local common=(PGPASSWORD=regress_pw PGPASSFILE=/nonexistent PGSERVICEFILE=/nonexistent
		PGHOST=127.0.0.1 PGPORT="$port" PGDATABASE=postgres PGAPPNAME=pgtls_audit_bench
		PGSSLROOTCERT="$tmp/pki/root.crt")
	case $1 in
		tls13) echo "${common[@]}" PGUSER=regress_alice PGSSLMODE=require PGSSLMINPROTOCOLVERSION=TLSv1.3 \
			PGSSLCERT="$tmp/pki/none.crt" PGSSLKEY="$tmp/pki/none.key" ;;
		tls12) echo "${common[@]}" PGUSER=regress_cert_user PGSSLMODE=require PGSSLMAXPROTOCOLVERSION=TLSv1.2 \
			PGSSLCERT="$tmp/pki/client_regress_cert_user.crt" PGSSLKEY="$tmp/pki/client_regress_cert_user.key" ;;
		cert13) echo "${common[@]}" PGUSER=regress_cert_user PGSSLMODE=require PGSSLMINPROTOCOLVERSION=TLSv1.3 \
			PGSSLCERT="$tmp/pki/client_regress_cert_user.crt" PGSSLKEY="$tmp/pki/client_regress_cert_user.key" ;;
		plain) echo "${common[@]}" PGUSER=regress_plain_user PGSSLMODE=disable ;;
		*) echo "bench: unknown transport $1" >&2; return 1 ;;
	esac
}

# logins TRANSPORT CLIENTS TRANSACTIONS [pgbench args]: pgbench -C, one new
# connection per transaction, plus pgbench's own set-up connection (so
# CLIENTS * TRANSACTIONS + 1 logins); prints its tps (including connection
# times)
logins() {
	local tr=$1 c=$2 t=$3 out rc=0 tps
	shift 3
	# shellcheck disable=SC2046
	out=$(as_postgres env $(client_env "$tr") "$bindir/pgbench" -n -C -c "$c" -j "$(( c < 2 ? c : 2 ))" -t "$t" \
		-f "$tmp/select1.sql" "$@" 2>&1) || rc=$?
	tps=$(sed -n 's/^tps = \([0-9.]*\) (including reconnection times)$/\1/p' <<<"$out")
	if [ "$rc" -ne 0 ] || [ -z "$tps" ] || ! grep -q "^number of transactions actually processed: $((c * t))/" <<<"$out"; then
		echo "bench: pgbench ($tr) failed (status $rc):" >&2
		echo "$out" >&2
		exit 1
	fi
	echo "$tps"
}
