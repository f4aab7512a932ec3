#!/usr/bin/env bash
# check_exports.sh POSTGRES MAIN_SO PROBE_SO SQL...: what the built
# libraries export to the server and what they need from it, as TAP lines
# ("ok N - ...", "not ok N - ..."), run by run_suite.sh.
#
#   POSTGRES  the server executable the libraries are loaded into
#   MAIN_SO   the installed pgtls_audit.so
#   PROBE_SO  the installed test-only cost probe
#             (test/modules/pgtls_audit_cost_probe), or "" to skip it
#   SQL...    the extension's installed scripts (every version) and the
#             probe's pgtls_audit_cost_probe.sql; with the fill module's
#             pgtls_audit_fill.sql among them, the test-only fill module
#             (test/modules/pgtls_audit_fill) installed beside MAIN_SO is
#             checked too
#
# Checks, for each library:
#   - the dynamic symbols it defines are exactly what the server looks up:
#     Pg_magic_func, _PG_init (main module only), and for every C function
#     named in the SQL scripts (AS 'MODULE_PATHNAME', 'symbol' or, for the
#     probe, AS '$libdir/pgtls_audit_cost_probe', 'symbol') the symbol and
#     its pg_finfo_ record.
#     Anything else exported (hba_analyze, inventory_add, a setting's
#     variable) is a failure: modules share one address space and
#     PostgreSQL loads them RTLD_GLOBAL.
#   - every symbol it leaves undefined (other than versioned library
#     symbols such as SSL_new@OPENSSL_3.0.0, and weak ones) is exported by
#     the server executable or a shared library it links (ldd): a library
#     that needs a symbol only the other module defines (the probe calling
#     the main module's inventory_add) fails here instead of binding to it.
set -uo pipefail
postgres=$1 main_so=$2 probe_so=$3
shift 3
n=0 failed=0

ok() { n=$((n + 1)); echo "ok $n - $1"; }
not_ok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $1"; }

# C symbols named by SQL function definitions, for one kind of AS clause
sql_symbols() {
	local as=$1
	shift
	grep -hoE "AS +$as, *'[A-Za-z0-9_]+'" "$@" | sed -E "s/.*, *'([A-Za-z0-9_]+)'$/\1/" | sort -u
}

check_library() {
	local name=$1 so=$2 init=$3 symbols=$4 got want extra missing undef
	if [ ! -r "$so" ]; then
		not_ok "$name: $so is readable"
		return
	fi
	if [ -z "$symbols" ]; then
		not_ok "$name: the SQL scripts name C functions"
		return
	fi
	got=$(nm -D --defined-only "$so" | awk '{print $3}' | sort -u)
	want=$( { echo Pg_magic_func; [ "$init" = yes ] && echo _PG_init;
		for s in $symbols; do echo "$s"; echo "pg_finfo_$s"; done; } | sort -u)
	extra=$(comm -23 <(echo "$got") <(echo "$want"))
	missing=$(comm -13 <(echo "$got") <(echo "$want"))
	if [ -z "$extra" ] && [ -z "$missing" ]; then
		ok "$name exports exactly its $(echo "$symbols" | wc -w) SQL functions, their pg_finfo records, Pg_magic_func${init:+ and _PG_init}"
	else
		not_ok "$name exports exactly what the server looks up"
		[ -n "$extra" ] && echo "#   exported but not looked up: $(echo $extra)"
		[ -n "$missing" ] && echo "#   looked up but not exported: $(echo $missing)"
	fi
	undef=$(nm -D --undefined-only "$so" | awk '$1 == "U" {print $2}' | grep -v '@' | sort -u)
	missing=$(comm -23 <(echo "$undef") <(echo "$server_syms") | grep -v '^$')
	if [ -z "$missing" ]; then
		ok "$name needs from outside only symbols the server exports ($(echo "$undef" | wc -l) of them)"
	else
		not_ok "$name needs from outside only symbols the server exports"
		echo "#   not exported by $postgres or its libraries: $(echo $missing)"
	fi
}

if ! command -v nm >/dev/null; then
	not_ok "nm (binutils) is installed"
	exit 1
fi
# the server process's global scope before any module: the executable and
# the shared libraries it links (libc, libm, libssl ...)
server_libs=$(ldd "$postgres" | awk '$2 == "=>" && $3 ~ /^\// {print $3}')
server_syms=$(for f in "$postgres" $server_libs; do nm -D --defined-only "$f"; done |
	awk '{print $3}' | sed 's/@.*//' | sort -u)
if [ -z "$server_syms" ] || [ -z "$server_libs" ]; then
	not_ok "$postgres and the libraries it links export symbols"
	exit 1
fi

main_sql=() probe_sql=() fill_sql=()
for f in "$@"; do
	case "$f" in
		*pgtls_audit_cost_probe.sql) probe_sql+=("$f") ;;
		*pgtls_audit_fill.sql) fill_sql+=("$f") ;;
		*) main_sql+=("$f") ;;
	esac
done
check_library pgtls_audit.so "$main_so" yes \
	"$(sql_symbols "'MODULE_PATHNAME'" "${main_sql[@]}")"
if [ -n "$probe_so" ]; then
	check_library pgtls_audit_cost_probe.so "$probe_so" "" \
		"$(sql_symbols "'[$]libdir/pgtls_audit_cost_probe'" "${probe_sql[@]}")"
fi
if [ ${#fill_sql[@]} -gt 0 ]; then
	check_library pgtls_audit_fill.so "$(dirname "$main_so")/pgtls_audit_fill.so" "" \
		"$(sql_symbols "'[$]libdir/pgtls_audit_fill'" "${fill_sql[@]}")"
fi
echo "1..$n"
[ "$failed" -eq 0 ]
