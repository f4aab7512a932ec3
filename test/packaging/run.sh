#!/usr/bin/env bash
# test/packaging/run.sh: the Debian package and the PGXN distribution, built
# and installed as a DBA would, and tested.  As root.
#
#   test/packaging/run.sh --install    install the packaging tools only
#   test/packaging/run.sh [--pg N]     the whole test for PostgreSQL N (15)
#
# For version N (15 on this Debian 12 machine; 17/18/19 inside the roots of
# test/pgroot.sh: `test/pgroot.sh exec N . -- test/packaging/run.sh --pg N`):
#  1. copies the tree (without .git and build products) to a private
#     directory; on 15 checks that the committed debian/control is what
#     `pg_buildext updatecontrol` makes from debian/control.in, elsewhere
#     regenerates it for N (as apt.postgresql.org does per distribution);
#  2. builds with `dpkg-buildpackage -us -uc -b` (PG_SUPPORTED_VERSIONS=N),
#     without compiler warnings, and checks that postgresql-N-pgtls-audit's
#     .deb holds the module, the control file and the install scripts;
#  3. lintian on the .changes: no error, no warning (the overrides, with
#     their reasons, are in debian/lintian-overrides.in);
#  4. under the lock test/run takes for installs: purges the package and
#     removes whatever `make install` left (pgtls_audit* in the extension
#     and lib directories), checks none is left, installs the package with
#     `apt-get install ./postgresql-N-pgtls-audit_*.deb`, checks that dpkg
#     owns the module and the control file and that every pgtls_audit file
#     there belongs to the package, runs the suite against the installed
#     files (test/packaging/installed_suite.sh), checks with dpkg --verify
#     that the files tested are still the package's, and purges it;
#  5. PGXN (needs git and pgxnclient, so on this machine only, not in a
#     root: a skip there): `make dist`, `pgxn install ./pgtls_audit-V.zip`
#     into the server that has no pgtls_audit files, CREATE EXTENSION in a
#     fresh cluster with shared_preload_libraries, `pgxn uninstall`.
# Prints TAP lines and ends with "N passed, N failed, N skipped" (the steps
# plus the suite's own counts), also written to
# /tmp/pgtls_audit_package_summary_N.txt.  PGTLS_TAP_ONLY narrows the TAP
# tests of step 4 (test/run --matrix runs the package test with a subset:
# see README, "Tests").  Build and step times are printed.
set -uo pipefail

here=$(cd "$(dirname "$0")/../.." && pwd)
v=15
install_only=
while [ $# -gt 0 ]; do
	case "$1" in
		--install) install_only=1 ;;
		--pg) v=$2; shift ;;
		-h|--help) sed -n '2,36p' "$0"; exit 0 ;;
		*) echo "test/packaging/run.sh: unknown argument $1" >&2; exit 2 ;;
	esac
	shift
done

packaging_pkgs=(build-essential debhelper dpkg-dev fakeroot lintian
	postgresql-server-dev-all libssl-dev libkrb5-dev zip unzip git pgxnclient)

install_packaging_tools() {
	local missing=() p
	for p in "${packaging_pkgs[@]}"; do
		# pgxnclient only where the PGXN test runs (this machine, with git)
		[ "$p" = pgxnclient ] && [ ! -e "$here/.git" ] && continue
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "== installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 && return 0
	apt-get -o DPkg::Lock::Timeout=600 update -qq >/dev/null 2>&1 || true
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

[ "$(id -u)" -eq 0 ] || { echo "test/packaging/run.sh: run as root" >&2; exit 2; }
if [ -n "$install_only" ]; then
	install_packaging_tools
	exit $?
fi

n=0 pass=0 fail=0 skip=0
ok() { n=$((n + 1)); pass=$((pass + 1)); echo "ok $n - $1"; }
nok() { n=$((n + 1)); fail=$((fail + 1)); echo "not ok $n - $1"; }
skp() { n=$((n + 1)); skip=$((skip + 1)); echo "ok $n # skip $1"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else nok "$what"; fi; }
summary=/tmp/pgtls_audit_package_summary_$v.txt
finish() {
	echo "package: $n steps, $pass passed, $fail failed, $skip skipped"
	echo "package test: $((SECONDS - ${lock_wait:-0})) s (not counting ${lock_wait:-0} s waiting for the install lock)"
	local p=$pass f=$fail s=$skip line x y z
	if [ -n "${suite_summary:-}" ]; then
		line=$(tail -n 1 "$suite_summary" 2>/dev/null)
		echo "installed-package suite: ${line:-no summary}"
		x=$(echo "$line" | sed -n 's/^\([0-9]*\) passed, [0-9]* failed, [0-9]* skipped$/\1/p')
		y=$(echo "$line" | sed -n 's/^[0-9]* passed, \([0-9]*\) failed, [0-9]* skipped$/\1/p')
		z=$(echo "$line" | sed -n 's/^[0-9]* passed, [0-9]* failed, \([0-9]*\) skipped$/\1/p')
		# a suite that ended without its closing line failed
		[ -n "$y" ] || { x=0; y=1; z=0; }
		p=$((p + x)); f=$((f + y)); s=$((s + z))
	fi
	echo "$p passed, $f failed, $s skipped" | tee "$summary"
	cd /
	if [ "$f" -eq 0 ] && [ -z "${PGTLS_KEEP:-}" ]; then
		rm -rf "${work:-}"
	elif [ -n "${work:-}" ]; then
		echo "test/packaging/run.sh: work directory kept: $work"
	fi
	[ "$f" -eq 0 ]
	exit $?
}

echo "== packaging tools"
if ! install_packaging_tools; then
	if [ "$v" = 15 ]; then
		nok "install the packaging tools"
	else
		# as test/pgroot.sh does when the archive cannot deliver a root
		echo "!!!!!!!! PostgreSQL $v package test SKIPPED: apt-get could not install the packaging tools in this root !!!!!!!!"
		skp "the package test for $v: the packaging tools could not be installed"
	fi
	finish
fi

pg_config=/usr/lib/postgresql/$v/bin/pg_config
[ -x "$pg_config" ] || { nok "PostgreSQL $v is installed ($pg_config)"; finish; }
pkg=postgresql-$v-pgtls-audit
sharedir=$("$pg_config" --sharedir)
pkglibdir=$("$pg_config" --pkglibdir)
work=$(mktemp -d /tmp/pgtls_audit_package.XXXXXX)
chmod 755 "$work"
export PG_SUPPORTED_VERSIONS=$v

# ---- 1. the source tree and debian/control
echo "== source tree in $work/src"
mkdir "$work/src"
tar -C "$here" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
	--exclude=tmp_check --exclude=results --exclude=./test/tmp \
	--exclude='./build-*' --exclude='pgtls_audit-*.zip' -cf - . | tar -C "$work/src" -xf -
cd "$work/src" || exit 1
if [ "$v" = 15 ]; then
	check "debian/control is what pg_buildext updatecontrol makes for 15" \
		env -u PG_UPDATECONTROL pg_buildext checkcontrol
else
	check "pg_buildext updatecontrol for $v" pg_buildext updatecontrol
fi
check "debian/control names $pkg" grep -qx "Package: $pkg" debian/control
debver=$(dpkg-parsechangelog -S Version)
arch=$(dpkg-architecture -qDEB_HOST_ARCH)
deb=$work/${pkg}_${debver}_$arch.deb

# ---- 2. dpkg-buildpackage
echo "== dpkg-buildpackage -us -uc -b (PostgreSQL $v)"
t0=$SECONDS
dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1
rc=$?
build_s=$((SECONDS - t0))
echo "package build: ${build_s} s"
if [ $rc -ne 0 ]; then
	tail -n 40 "$work/build.log"
	nok "dpkg-buildpackage -us -uc -b (exit $rc, log $work/build.log)"
	finish
fi
ok "dpkg-buildpackage -us -uc -b in ${build_s} s"
# the compiler's (file:line: warning:) and dpkg's or debhelper's own
if grep -qE 'warning:' "$work/build.log"; then
	grep -E 'warning:' "$work/build.log"
	nok "the package build has no warnings (compiler, dpkg, debhelper)"
else
	ok "the package build has no warnings (compiler, dpkg, debhelper)"
fi
if [ -f "$deb" ]; then
	ok "built $(basename "$deb")"
	dpkg-deb -c "$deb" | awk '{print $6}' | sed 's#^\./#/#' >"$work/deb.files"
	for f in "$pkglibdir/pgtls_audit.so" "$sharedir/extension/pgtls_audit.control" \
		"$sharedir/extension/pgtls_audit--1.0.sql" "$sharedir/extension/pgtls_audit--1.0--1.1.sql" \
		"$sharedir/extension/$(sed -n 's/^DATA_built *= *//p' Makefile)" \
		"/usr/share/doc/$pkg/copyright" "/usr/share/lintian/overrides/$pkg"; do
		check "the .deb holds $f" grep -qxF "$f" "$work/deb.files"
	done
	check "the .deb depends on postgresql-$v" \
		bash -c "dpkg-deb -f '$deb' Depends | grep -q 'postgresql-$v\\b'"
else
	ls "$work"
	nok "built $(basename "$deb")"
	finish
fi

# ---- 3. lintian (not as root: lintian advises against it)
echo "== lintian"
changes=$(ls "$work"/*.changes)
chmod -R a+rX "$work"
t0=$SECONDS
runuser -u nobody -- lintian --info --fail-on error,warning "$changes" >"$work/lintian.out" 2>&1
rc=$?
cat "$work/lintian.out"
echo "lintian: $((SECONDS - t0)) s, version $(lintian --print-version)"
check "lintian: no error, no warning (overrides in debian/lintian-overrides.in)" test "$rc" -eq 0

# ---- 4. install the package into a server without make-installed files
exec 9>"/tmp/pgtls_audit_install_$v.lock"
t0=$SECONDS
flock 9
lock_wait=$((SECONDS - t0))
echo "waited ${lock_wait} s for the install lock (test/run of another checkout)"
echo "== installing $pkg"
ours() {
	ls -d "$sharedir"/extension/pgtls_audit.control "$sharedir"/extension/pgtls_audit--*.sql \
		"$pkglibdir"/pgtls_audit.so "$pkglibdir"/bitcode/pgtls_audit.index.bc \
		"$pkglibdir"/bitcode/pgtls_audit 2>/dev/null
}
export DEBIAN_FRONTEND=noninteractive
if dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q installed; then
	apt-get -o DPkg::Lock::Timeout=600 purge -y -qq "$pkg" >/dev/null 2>&1
fi
# what `make install` (test/run, a developer) put there is not the package's
ours | xargs -r rm -rf
check "no pgtls_audit file in $sharedir/extension or $pkglibdir before the install" \
	test -z "$(ours)"
t0=$SECONDS
(cd "$work" && apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends \
	"./$(basename "$deb")") >"$work/apt.log" 2>&1
rc=$?
[ $rc -eq 0 ] || tail -n 20 "$work/apt.log"
check "apt-get install ./$(basename "$deb") ($((SECONDS - t0)) s)" test $rc -eq 0
check "dpkg -S: $pkg owns $pkglibdir/pgtls_audit.so" \
	bash -c "dpkg -S '$pkglibdir/pgtls_audit.so' | grep -qx '$pkg: $pkglibdir/pgtls_audit.so'"
check "dpkg -S: $pkg owns $sharedir/extension/pgtls_audit.control" \
	bash -c "dpkg -S '$sharedir/extension/pgtls_audit.control' | grep -qx '$pkg: $sharedir/extension/pgtls_audit.control'"
stray=
for f in $(ours); do
	[ -d "$f" ] && continue
	dpkg -S "$f" 2>/dev/null | grep -qx "$pkg: $f" || stray="$stray $f"
done
check "every pgtls_audit file installed belongs to $pkg${stray:+ (not:$stray)}" test -z "$stray"

echo "== the suite against the installed package"
suite_summary=$work/suite-summary.txt
t0=$SECONDS
PGTLS_SUMMARY=$suite_summary bash "$here/test/packaging/installed_suite.sh" "$v"
echo "installed-package suite: $((SECONDS - t0)) s"
check "dpkg --verify $pkg: the files tested are the package's" dpkg --verify "$pkg"
apt-get -o DPkg::Lock::Timeout=600 purge -y -qq "$pkg" >/dev/null 2>&1
check "apt-get purge $pkg removes its files" test -z "$(ours)"

# ---- 5. PGXN
echo "== PGXN"
if [ ! -e "$here/.git" ] || ! command -v pgxn >/dev/null || ! command -v git >/dev/null; then
	skp "PGXN: needs git and pgxnclient (not in a root)"
	finish
fi
mkdir "$work/pgxn"
zip=$(make -s -C "$work/pgxn" -f "$here/Makefile" dist PG_CONFIG="$pg_config" | tail -n 1)
check "make dist: $zip ($(git -C "$here" rev-parse --short HEAD))" test -f "$work/pgxn/$zip"
check "$zip holds META.json, pgtls_audit.control, Makefile at pgtls_audit-V/" \
	bash -c "unzip -Z1 '$work/pgxn/$zip' | grep -qx '${zip%.zip}/META.json' &&
		unzip -Z1 '$work/pgxn/$zip' | grep -qx '${zip%.zip}/pgtls_audit.control' &&
		unzip -Z1 '$work/pgxn/$zip' | grep -qx '${zip%.zip}/Makefile'"
check "no pgtls_audit file before pgxn install" test -z "$(ours)"
t0=$SECONDS
(cd "$work/pgxn" && pgxn install --yes --pg_config "$pg_config" "./$zip") \
	>"$work/pgxn.log" 2>&1
rc=$?
[ $rc -eq 0 ] || tail -n 30 "$work/pgxn.log"
check "pgxn install ./$zip ($((SECONDS - t0)) s)" test $rc -eq 0
check "pgxn installed $pkglibdir/pgtls_audit.so, owned by no package" \
	bash -c "test -f '$pkglibdir/pgtls_audit.so' && ! dpkg -S '$pkglibdir/pgtls_audit.so' >/dev/null 2>&1"
# a fresh cluster, Unix socket only (no TCP port)
cl=$work/pgxn_cluster
mkdir "$cl" && chown postgres:postgres "$cl"
as_pg() { runuser -u postgres -- "$@"; }
bindir=$("$pg_config" --bindir)
as_pg "$bindir/initdb" -D "$cl/data" -A trust -U postgres --no-sync >/dev/null 2>&1
as_pg "$bindir/pg_ctl" -D "$cl/data" -l "$cl/server.log" -w -t 60 \
	-o "-c listen_addresses='' -c unix_socket_directories='$cl' -c shared_preload_libraries=pgtls_audit" \
	start >/dev/null 2>&1
out=$(as_pg "$bindir/psql" -X -At -h "$cl" -U postgres -d postgres -v ON_ERROR_STOP=1 \
	-c "CREATE EXTENSION pgtls_audit" \
	-c "SELECT extversion FROM pg_extension WHERE extname = 'pgtls_audit'" \
	-c "SELECT preloaded, version FROM pgtls_audit.status()" 2>&1)
echo "$out"
ext=$(sed -n "s/^default_version *= *'\(.*\)'/\1/p" "$here/pgtls_audit.control")
check "CREATE EXTENSION pgtls_audit from PGXN: version $ext, preloaded" \
	test "$out" = "$(printf 'CREATE EXTENSION\n%s\nt|%s' "$ext" "$ext")"
as_pg "$bindir/pg_ctl" -D "$cl/data" -m fast -w stop >/dev/null 2>&1
(cd "$work/pgxn" && pgxn uninstall --yes --pg_config "$pg_config" "./$zip") \
	>>"$work/pgxn.log" 2>&1
check "pgxn uninstall ./$zip removes every pgtls_audit file" test -z "$(ours)"
flock -u 9
finish
