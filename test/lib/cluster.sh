# cluster.sh: start and stop a throwaway TLS cluster with pgtls_audit, for
# pg_regress (test/lib/run_suite.sh) and the demo (test/demo).  Source it.
# Must run as a non-root user (initdb refuses root); the server's socket is
# in /tmp and it listens on 127.0.0.1 only.

# cluster_start DIR PORT PKI_DIR [EXTRA_CONF_LINE...]
cluster_start() {
	local dir=$1 port=$2 pki=$3
	shift 3
	local here
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	rm -rf "$dir"
	mkdir -p "$dir"
	initdb -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log"; return 1; }
	{
		sed "s#@PKI@#$pki#g" "$here/test/conf/postgresql.conf.in"
		echo "port = $port"
		echo "unix_socket_directories = '/tmp'"
		echo "fsync = off"
		for line in "$@"; do echo "$line"; done
	} >>"$dir/data/postgresql.conf"
	cp "$here/test/conf/pg_hba.conf" "$dir/data/pg_hba.conf"
	pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
		cat "$dir/server.log"; return 1; }
	psql -X -q -h /tmp -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 \
		-f "$here/test/conf/setup.sql" >/dev/null
}

# cluster_stop DIR: stop it if it runs (safe to call twice)
cluster_stop() {
	local dir=$1
	if [ -f "$dir/data/postmaster.pid" ]; then
		pg_ctl -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || \
			pg_ctl -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
}
