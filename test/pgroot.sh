#!/usr/bin/env bash
# test/pgroot.sh: cached Debian chroots holding PostgreSQL versions that this
# machine (Debian 12, PostgreSQL 15) cannot install itself, so the test suite
# can run against them.  Needs root (debootstrap, chroot, mount) and Debian's
# archive (http://deb.debian.org/debian, override with PGTLS_DEBIAN_MIRROR).
#
#   test/pgroot.sh path VERSION
#       Print the root directory for VERSION:
#       ${PGTLS_ROOTS_DIR:-/var/cache/pgtls_audit/roots}/pgVERSION
#
#   test/pgroot.sh ensure VERSION
#       Build the root unless it is already complete (a stamp file, written
#       last, records the suite and package list; a root without a matching
#       stamp, e.g. from an interrupted build, is deleted and built again).
#       17 -> trixie, 18 -> sid, 19 -> sid + experimental (best effort).
#       debootstrap --variant=minbase, with the PostgreSQL server, server-dev
#       and client packages plus gcc, make, libssl-dev, libkrb5-dev, openssl,
#       jq, perl and libipc-run-perl (the TAP modules), procps, iproute2.
#       Installs debootstrap on the host if it is missing.  Takes a few
#       minutes and about 1 GB per root.  Inside the root: a policy-rc.d
#       that keeps packages from starting services, no recommends, and on
#       sid Release files are accepted after Valid-Until (the archive seen
#       here serves an expired one).  The package's own 'main' cluster is
#       created but never started.
#       Exit 0: ready.  Exit 3 with one line on stderr starting "SKIPPED:":
#       the archive could not deliver (no network, debootstrap or apt-get
#       failed, no suite known to ship that version).  Exit 1: any other
#       failure (not root, no disk space, root built but broken).
#
#   test/pgroot.sh exec VERSION SRC_DIR -- CMD [ARGS...]
#       Copy SRC_DIR afresh to ROOT/build/pgtls_audit (without .git, *.o,
#       *.so, *.bc, tmp_check, results, regression.*, test/tmp; files owned
#       by root), mount proc, bind /dev (private), a new tmpfs on /dev/shm,
#       then run CMD as root in `chroot ROOT` from /build/pgtls_audit with a
#       clean environment: PATH starting with /usr/lib/postgresql/VERSION/bin,
#       HOME=/root, LANG=C.UTF-8, plus CI and every PGTLS_* variable of the
#       caller.  Returns CMD's exit status; 125 if the root is not ready or
#       the mounts fail.  The root shares the host's network: servers
#       started inside listen on the host's ports.
#       Afterwards, always (also on failure, Ctrl-C or TERM): processes still
#       running inside the root (a server a test left behind) are sent TERM,
#       then KILL, and everything mounted under the root is unmounted (lazily
#       if busy).  The same clean-up runs first, so mounts or processes left
#       by a killed earlier run are removed.
#
# ensure and exec on one root are serialized with flock on
# ROOTS_DIR/pgVERSION.lock; different versions can run concurrently.
set -euo pipefail

roots_dir=${PGTLS_ROOTS_DIR:-/var/cache/pgtls_audit/roots}
mirror=${PGTLS_DEBIAN_MIRROR:-http://deb.debian.org/debian}
recipe_rev=1
common_pkgs=(make gcc libc6-dev libssl-dev openssl libkrb5-dev jq perl
	libipc-run-perl ca-certificates procps iproute2)

usage() {
	sed -n '2,47p' "$0" >&2
	exit 1
}

msg() { echo "pgroot: $*" >&2; }
die() { echo "pgroot: error: $*" >&2; exit 1; }
skip() { echo "SKIPPED: PostgreSQL $v root: $*" >&2; exit 3; }

need_root() {
	[ "$(id -u)" -eq 0 ] || die "must run as root (debootstrap, chroot, mount)"
}

take_lock() {
	mkdir -p "$roots_dir"
	exec 8>"$roots_dir/pg$v.lock"
	if ! flock -n 8; then
		msg "waiting for another pgroot.sh on PostgreSQL $v ($roots_dir/pg$v.lock)"
		flock 8
	fi
}

# mount points at or below $root, most recent first
mounts_under() {
	awk -v r="$root" '{ mp = $5; gsub(/\\040/, " ", mp);
		if (mp == r || index(mp, r "/") == 1) print mp }' /proc/self/mountinfo | tac
}

# pids of processes whose root directory is $root or below it
procs_in_root() {
	local p r
	for p in /proc/[0-9]*; do
		r=$(readlink "$p/root" 2>/dev/null) || continue
		if [ "$r" = "$root" ] || [[ "$r" == "$root"/* ]]; then
			echo "${p#/proc/}"
		fi
	done
}

stop_leftover_procs() {
	local pids
	pids=$(procs_in_root)
	[ -n "$pids" ] || return 0
	msg "stopping processes left running in $root:"
	# shellcheck disable=SC2086
	ps -o pid=,args= -p "$(echo $pids | tr ' ' ,)" >&2 || true
	# shellcheck disable=SC2086
	kill -TERM $pids 2>/dev/null || true
	for _ in $(seq 1 20); do
		sleep 0.5
		pids=$(procs_in_root)
		[ -n "$pids" ] || return 0
	done
	# shellcheck disable=SC2086
	kill -KILL $pids 2>/dev/null || true
	sleep 0.5
}

unmount_all() {
	local mp left
	for _ in 1 2 3; do
		left=$(mounts_under)
		[ -n "$left" ] || return 0
		while IFS= read -r mp; do
			umount "$mp" 2>/dev/null || true
		done <<<"$left"
	done
	left=$(mounts_under)
	[ -n "$left" ] || return 0
	while IFS= read -r mp; do
		msg "busy, detaching lazily: $mp"
		umount -l "$mp" 2>/dev/null || true
	done <<<"$left"
	left=$(mounts_under)
	if [ -n "$left" ]; then
		msg "could not unmount: $left"
		return 1
	fi
}

release_root() {
	stop_leftover_procs
	unmount_all
}

mount_root() {
	mount -t proc proc "$root/proc"
	mount --bind /dev "$root/dev"
	# never let mounts below ROOT/dev propagate to the host's /dev
	mount --make-private "$root/dev"
	[ -d "$root/dev/shm" ] || die "$root/dev/shm missing (host has no /dev/shm?)"
	mount -t tmpfs -o mode=1777,nosuid,nodev pgroot_shm "$root/dev/shm"
}

in_root() {
	env -i PATH="/usr/lib/postgresql/$v/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" \
		HOME=/root LANG=C.UTF-8 DEBIAN_FRONTEND=noninteractive \
		chroot "$root" "$@" 8>&-
}

# ------------------------------------------------------------------ recipe
set_recipe() {
	case "$v" in
		17) suite=trixie; extra_suite= ;;
		18) suite=sid; extra_suite= ;;
		19) suite=sid; extra_suite=experimental ;;
		*) suite= ;;
	esac
	pg_pkgs=("postgresql-$v" "postgresql-server-dev-$v" "postgresql-client-$v")
	if [ -n "${suite:-}" ] && [ -z "$extra_suite" ]; then
		include=("${common_pkgs[@]}" "${pg_pkgs[@]}")
	else
		include=("${common_pkgs[@]}")
	fi
	recipe="pgroot recipe $recipe_rev: suite=${suite:-none}${extra_suite:++$extra_suite} packages=${common_pkgs[*]} ${pg_pkgs[*]}"
}

stamp_ok() {
	[ -f "$root/.pgtls_audit_root" ] && [ "$(head -n 1 "$root/.pgtls_audit_root")" = "$recipe" ]
}

ensure_debootstrap() {
	command -v debootstrap >/dev/null 2>&1 && return 0
	[ -x /usr/sbin/debootstrap ] && return 0
	msg "installing debootstrap on the host"
	export DEBIAN_FRONTEND=noninteractive
	apt-get install -y -qq -o DPkg::Lock::Timeout=600 debootstrap >/dev/null 2>&1 && return 0
	apt-get update -qq -o DPkg::Lock::Timeout=600 >/dev/null 2>&1 || true
	apt-get install -y -qq -o DPkg::Lock::Timeout=600 debootstrap >/dev/null 2>&1
}

# run a build step, output to the log; on failure show the log's tail
logged() {
	echo "+ $*" >>"$log"
	if "$@" >>"$log" 2>&1 8>&-; then
		return 0
	fi
	echo "---- last lines of $log" >&2
	tail -n 15 "$log" >&2
	return 1
}

cmd_ensure() {
	need_root
	set_recipe
	[ -n "$suite" ] || skip "no Debian suite reachable here ships postgresql-$v (17: trixie, 18: sid, 19: experimental)"
	take_lock
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	if stamp_ok; then
		msg "PostgreSQL $v root ready: $root"
		return 0
	fi
	if [ -e "$root" ]; then
		msg "removing incomplete or outdated root $root"
		release_root || die "cannot clean up mounts under $root"
		rm -rf --one-file-system "$root"
	fi
	local avail_kb
	avail_kb=$(df -Pk "$roots_dir" | awk 'NR == 2 { print $4 }')
	[ "$avail_kb" -ge $((2500 * 1024)) ] ||
		die "only $((avail_kb / 1024)) MB free in $roots_dir; a root needs about 2.5 GB while building"
	ensure_debootstrap || skip "debootstrap is missing and apt-get could not install it"

	local start=$SECONDS
	log=$roots_dir/pg$v.build.log
	: >"$log"
	msg "building PostgreSQL $v root: debootstrap $suite into $root (log: $log)"
	mkdir -p "$root"
	local inc
	inc=$(IFS=,; echo "${include[*]}")
	if ! logged debootstrap --variant=minbase --components=main --include="$inc" \
		"$suite" "$root" "$mirror"; then
		release_root || true
		skip "debootstrap $suite from $mirror failed (log: $log)"
	fi
	# debootstrap may leave its own proc/sys mounts behind
	release_root || die "cannot clean up mounts under $root"

	# keep apt in the root quiet, small and usable for later installs
	printf '#!/bin/sh\n# pgroot.sh: never start services in this chroot\nexit 101\n' \
		>"$root/usr/sbin/policy-rc.d"
	chmod 755 "$root/usr/sbin/policy-rc.d"
	{
		echo 'APT::Install-Recommends "false";'
		echo 'APT::Install-Suggests "false";'
		# sid's (and experimental's) Release files may be past Valid-Until here
		[ "$suite" = sid ] && echo 'Acquire::Check-Valid-Until "false";'
	} >"$root/etc/apt/apt.conf.d/90pgroot"
	[ -s "$root/etc/hosts" ] || printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts"
	if [ -n "$extra_suite" ]; then
		echo "deb $mirror $extra_suite main" >"$root/etc/apt/sources.list.d/$extra_suite.list"
	fi

	mount_root
	trap 'release_root || true' EXIT
	if ! logged in_root apt-get update -q; then
		release_root || true
		skip "apt-get update inside the $suite root failed (log: $log)"
	fi
	if [ -n "$extra_suite" ]; then
		if ! logged in_root apt-get install -y -q -t "$extra_suite" "${pg_pkgs[@]}"; then
			release_root || true
			skip "apt-get -t $extra_suite install ${pg_pkgs[*]} failed (log: $log)"
		fi
	fi
	# no-op when debootstrap got everything; fills gaps otherwise
	if ! logged in_root apt-get install -y -q "${common_pkgs[@]}"; then
		release_root || true
		skip "apt-get install inside the $suite root failed (log: $log)"
	fi
	logged in_root apt-get clean || true

	# verify before stamping
	local p bad=()
	for p in "${common_pkgs[@]}" "${pg_pkgs[@]}"; do
		in_root dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || bad+=("$p")
	done
	[ ${#bad[@]} -eq 0 ] || die "packages missing in $root: ${bad[*]} (log: $log)"
	if ! in_root getent passwd postgres >/dev/null; then
		msg "no postgres user in the root; creating it"
		logged in_root useradd --system --home-dir /var/lib/postgresql --create-home \
			--shell /bin/bash --user-group postgres || die "cannot create the postgres user"
	fi
	local ver
	ver=$(in_root pg_config --version) || die "pg_config does not run in $root"
	[[ "$ver" == "PostgreSQL $v"* ]] || die "pg_config in $root says '$ver', expected PostgreSQL $v"
	release_root || die "cannot clean up mounts under $root"
	trap - EXIT

	{
		echo "$recipe"
		echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) from $mirror in $((SECONDS - start)) s: $ver"
	} >"$root/.pgtls_audit_root"
	msg "PostgreSQL $v root ready in $((SECONDS - start)) s: $root ($ver)"
}

# ------------------------------------------------------------------ exec
cmd_exec() {
	{ [ $# -ge 3 ] && [ "$2" = "--" ]; } || usage
	local src=$1
	shift 2
	[ -d "$src" ] || { echo "pgroot: error: no such directory: $src" >&2; exit 125; }
	src=$(cd "$src" && pwd -P)
	[ "$(id -u)" -eq 0 ] || { echo "pgroot: error: must run as root" >&2; exit 125; }
	set_recipe
	if [ ! -f "$root/.pgtls_audit_root" ]; then
		echo "pgroot: error: no complete PostgreSQL $v root at $root; run: $0 ensure $v" >&2
		exit 125
	fi
	case "$src/" in "$root"/*) echo "pgroot: error: $src is inside the root" >&2; exit 125 ;; esac
	take_lock

	trap 'rc=$?; set +e; release_root; exit $rc' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
	trap 'exit 129' HUP
	# whatever an earlier run left behind
	release_root || { echo "pgroot: error: stale mounts under $root" >&2; exit 125; }

	local dst=$root/build/pgtls_audit
	rm -rf --one-file-system "$dst"
	mkdir -p "$dst"
	tar -C "$src" --exclude=.git --exclude='*.o' --exclude='*.so' --exclude='*.bc' \
		--exclude=tmp_check --exclude=results --exclude=regression.diffs \
		--exclude=regression.out --exclude=./test/tmp -cf - . |
		tar -C "$dst" --no-same-owner -xf - ||
		{ echo "pgroot: error: copying $src failed" >&2; exit 125; }

	mount_root || { echo "pgroot: error: mounting inside $root failed" >&2; exit 125; }

	local envs=(
		"PATH=/usr/lib/postgresql/$v/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
		HOME=/root LANG=C.UTF-8 "TERM=${TERM:-dumb}" DEBIAN_FRONTEND=noninteractive
	)
	local name
	for name in $(compgen -e); do
		case "$name" in PGTLS_ROOTS_DIR) ;; PGTLS_*|CI) envs+=("$name=${!name}") ;; esac
	done
	local rc=0
	env -i "${envs[@]}" chroot "$root" /bin/sh -c 'cd /build/pgtls_audit && exec "$@"' pgroot "$@" 8>&- || rc=$?
	exit "$rc"
}

# ------------------------------------------------------------------ main
[ $# -ge 2 ] || usage
cmd=$1
v=$2
shift 2
[[ "$v" =~ ^[0-9]+$ ]] || usage
root=$(realpath -m "$roots_dir/pg$v")

case "$cmd" in
	path) [ $# -eq 0 ] || usage; echo "$root" ;;
	ensure) [ $# -eq 0 ] || usage; cmd_ensure ;;
	exec) cmd_exec "$@" ;;
	*) usage ;;
esac
