# packages.sh: the Debian packages pgtls_audit's build, tests and demo need,
# installed with apt-get when missing.  prometheus (with promtool),
# prometheus-postgres-exporter and rsyslog are run by the monitoring tests
# (test/t/013_monitoring.pl), in the foreground, never as services;
# linux-perf by test/bench (where the module's CPU time goes).  Source it, then call
# install_packages VERSION.  As a non-root user it only reports what is
# missing.

install_packages() {
	local v=$1 missing=() p
	local pkgs=(postgresql-$v postgresql-server-dev-$v postgresql-client-$v
		make gcc libc6-dev libssl-dev libkrb5-dev libipc-run-perl openssl jq
		perl procps util-linux ca-certificates
		prometheus prometheus-postgres-exporter rsyslog linux-perf)
	for p in "${pkgs[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]} (run as root to install them)" >&2
		return 1
	fi
	echo "== installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || true
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# install_checker_packages [PACKAGE...]: what the memory checkers need
# (test/lib/asan_run.sh: gcc's libasan and libubsan, which gcc brings;
# test/lib/valgrind_run.sh: valgrind), or only the packages named.  As
# root only.
install_checker_packages() {
	local missing=() p
	for p in ${*:-gcc libasan8 libubsan1 valgrind}; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	echo "== installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq || true
	apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}
