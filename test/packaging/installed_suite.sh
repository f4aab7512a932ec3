#!/usr/bin/env bash
# installed_suite.sh VERSION: the test suite (test/lib/run_suite.sh:
# pg_regress and TAP) against the pgtls_audit files already installed for
# PostgreSQL VERSION, here the postgresql-VERSION-pgtls-audit package; it
# never builds or installs the extension itself.  Run as root (by
# test/packaging/run.sh and by the autopkgtest debian/tests/installed-suite):
# copies the tree to a private directory, builds and installs the test-only
# modules of test/modules (never part of the package), and runs the suite
# as the postgres user.  Writes the suite's summary, last line "N passed,
# N failed, N skipped", to $PGTLS_SUMMARY (default
# /tmp/pgtls_audit_package_suite_VERSION.txt).  PGTLS_TAP_ONLY is honoured.
set -uo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
v=${1:?usage: installed_suite.sh VERSION}
pg_config=/usr/lib/postgresql/$v/bin/pg_config
summary_out=${PGTLS_SUMMARY:-/tmp/pgtls_audit_package_suite_$v.txt}
[ "$(id -u)" -eq 0 ] || { echo "installed_suite.sh: run as root" >&2; exit 2; }
[ -x "$pg_config" ] || { echo "installed_suite.sh: no $pg_config" >&2; exit 2; }

work=$(mktemp -d /tmp/pgtls_audit_pkgtest.XXXXXX)
tar -C "$here" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
	--exclude=tmp_check --exclude=results --exclude=./test/tmp -cf - . | tar -C "$work" -xf -

# the test-only modules (test/run installs them the same way)
for m in "$work"/test/modules/*/Makefile; do
	[ -f "$m" ] || continue
	(cd "$(dirname "$m")" && make -s PG_CONFIG="$pg_config" >/dev/null &&
	 make -s install PG_CONFIG="$pg_config" >/dev/null) ||
		{ echo "installed_suite.sh: building $(dirname "$m") failed" >&2; exit 1; }
done

chown -R postgres:postgres "$work"
chmod 755 "$work"
runuser -u postgres -- env PGVERSION_UNDER_TEST="$v" bash "$work/test/lib/run_suite.sh" "$work" "$v"
rc=$?
cp "$work/test-summary.txt" "$summary_out" 2>/dev/null || echo "0 passed, 1 failed, 0 skipped" >"$summary_out"
if [ $rc -eq 0 ] && [ -z "${PGTLS_KEEP:-}" ]; then
	rm -rf "$work"
else
	echo "installed_suite.sh: work directory kept: $work"
fi
exit $rc
