# checker_common.sh: shared by test/lib/asan_run.sh and valgrind_run.sh.
# Source it.  As root: makes a private copy of the PostgreSQL installation
# (PostgreSQL finds its files relative to its binaries, so a copy works
# where it is), builds and installs pgtls_audit (with CHECKER_COPT) and the
# test-only modules into the copy, puts a wrapper in place of bin/postgres
# (the real binary becomes bin/postgres.bin), and runs test/lib/run_suite.sh
# against the copy as the postgres user.  The shared installation under
# /usr is never touched, so other test runs go on beside it.
#
# Settings (environment): PGTLS_CHECKER_PG (default 15), PGTLS_TAP_ONLY
# (space-separated patterns of TAP files; default: every file),
# PGTLS_NO_REGRESS=1 (TAP files only, no pg_regress nor SQL mutations),
# PGTLS_SQL_MUTATIONS (calls, default 10,000).

checker_setup() {
	local mode=$1
	here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
	v=${PGTLS_CHECKER_PG:-15}
	if [ "$(id -u)" -ne 0 ]; then
		echo "$mode: run as root (it copies the installation and runs the suite as postgres)" >&2
		return 1
	fi
	source "$here/test/lib/packages.sh"
	# ASan needs no valgrind (which a root whose libc is behind its archive,
	# as sid's can be, cannot install)
	if [ "$mode" = asan ]; then
		install_checker_packages gcc libasan8 libubsan1 || return 1
	else
		install_checker_packages || return 1
	fi
	prefix=/tmp/pgtls_${mode}_$v
	rm -rf "$prefix"
	mkdir -p "$prefix/usr/lib/postgresql" "$prefix/usr/share/postgresql" "$prefix/usr/include" \
		"$prefix/reports"
	cp -a "/usr/lib/postgresql/$v" "$prefix/usr/lib/postgresql/" &&
		cp -a "/usr/share/postgresql/$v" "$prefix/usr/share/postgresql/" &&
		cp -a /usr/include/postgresql "$prefix/usr/include/" || return 1
	chmod 1777 "$prefix/reports"
	bindir=$prefix/usr/lib/postgresql/$v/bin
	pg_config=$bindir/pg_config
	case "$("$pg_config" --pkglibdir)" in
		"$prefix"/*) ;;
		*) echo "$mode: the copy's pg_config does not point into the copy" >&2; return 1 ;;
	esac
	work=$(mktemp -d "/tmp/pgtls_audit_$mode.XXXXXX")
	tar -C "$here" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=tmp_check --exclude=results -cf - . | tar -C "$work" -xf -
	echo "== $mode: building pgtls_audit with COPT='$CHECKER_COPT' into $prefix"
	(cd "$work" && make -s clean PG_CONFIG="$pg_config" >/dev/null 2>&1 &&
		nice make -s PG_CONFIG="$pg_config" COPT="$CHECKER_COPT" &&
		make -s install PG_CONFIG="$pg_config" >/dev/null) || return 1
	local m
	for m in "$work"/test/modules/*/Makefile; do
		(cd "$(dirname "$m")" && make -s clean PG_CONFIG="$pg_config" >/dev/null 2>&1;
		 nice make -s PG_CONFIG="$pg_config" && make -s install PG_CONFIG="$pg_config" >/dev/null) || return 1
	done
	mv "$bindir/postgres" "$bindir/postgres.bin"
}

# checker_wrapper TEXT: bin/postgres becomes this shell script
checker_wrapper() {
	printf '%s\n' "$1" >"$bindir/postgres"
	chmod 755 "$bindir/postgres"
}

# checker_run_suite: run_suite.sh against the copy, as postgres, niced;
# its summary is $work/test-summary.txt
checker_run_suite() {
	chown -R postgres:postgres "$work"
	chmod 755 "$work"
	nice -n 10 runuser -u postgres -- env PGVERSION_UNDER_TEST="$v" PGTLS_BINDIR="$bindir" \
		PGTLS_NO_EXPORTS=1 PGTLS_NO_CLIENT_HELLO=1 \
		PGTLS_REGRESS_PORT=$((56000 + $$ % 1000)) \
		PG_TEST_TIMEOUT_DEFAULT="${PG_TEST_TIMEOUT_DEFAULT:-900}" PGCTLTIMEOUT="${PGCTLTIMEOUT:-900}" \
		PGTLS_TAP_ONLY="${PGTLS_TAP_ONLY:-}" PGTLS_NO_REGRESS="${PGTLS_NO_REGRESS:-}" \
		PGTLS_SQL_MUTATIONS="${PGTLS_SQL_MUTATIONS:-10000}" \
		bash "$work/test/lib/run_suite.sh" "$work" "$v"
}
