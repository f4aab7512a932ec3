#!/usr/bin/env bash
# test/client_hello/run.sh [WORKDIR]: the tests of the ClientHello parser and
# JA4 (src/audit/client_hello.c), compiled outside the server with gcc.
# TAP-style output ("ok N - ...", "not ok N - ...", "ok N # skip ..."), run
# and counted by test/lib/run_suite.sh; exits non-zero on any failure.
#
#  1. hello_unit: built messages (the JA4 specification's example and its
#     ALPN rules, GREASE, truncation, malformed input) and, for each seed of
#     test/fuzz/corpus/, every prefix and length change refused.
#  2. Each seed's parsed fields and JA4 (hello_dump) equal
#     test/client_hello/expected/NAME.out.  The seeds are real ClientHellos of
#     Debian 12 (OpenSSL 3.0, libpq 15), captured by capture.sh.
#  3. Fresh ClientHellos of this machine's openssl s_client and libpq, captured
#     on 127.0.0.1:${PGTLS_HELLO_PORT:-55780}: each parses, with the version,
#     SNI, suites, groups and ALPN its command line asked for.
#  4. JA4 of every seed and fresh capture against Wireshark's own JA4
#     (tshark -e tls.handshake.ja4, tshark 4.2 and newer), read from a pcap
#     holding the same messages.  As root, tshark is installed with apt-get
#     when missing; without a tshark that knows JA4 (Debian 12 has 4.0) this
#     check is one skip.  test/run --pg 17 runs in the trixie root (4.4).
#  5. A short fuzz run, test/fuzz/run.sh, ${PGTLS_FUZZ_SECONDS:-10} seconds
#     here (a skip when clang's libFuzzer is not installed).
#
#   run.sh --install   as root: only install tshark (and what the fuzz run
#                      needs), then exit
set -uo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
t=$here/test/client_hello
seeds=$here/test/fuzz/corpus
n=0
failed=0

# tshark, as root, when the archive's is 4.2 or newer (the first with JA4):
# Debian 12's 4.0 would be of no use, so it is not installed
install_tools() {
	local cand
	[ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null || return 0
	command -v tshark >/dev/null && return 0
	cand=$(apt-cache policy tshark 2>/dev/null | sed -n 's/^ *Candidate: *//p')
	if [ -z "$cand" ] || [ "$cand" = "(none)" ]; then
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq >/dev/null 2>&1 || true
		cand=$(apt-cache policy tshark 2>/dev/null | sed -n 's/^ *Candidate: *//p')
	fi
	case "$cand" in
		""|"(none)"|[0-3].*|4.[01].*) return 0 ;;
	esac
	echo "# installing tshark $cand"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tshark >/dev/null 2>&1 ||
		echo "# apt-get could not install tshark"
}

if [ "${1:-}" = --install ]; then
	install_tools
	PGTLS_FUZZ_SECONDS=1 bash "$here/test/fuzz/run.sh" >/dev/null 2>&1
	exit 0
fi
work=${1:-$(mktemp -d /tmp/pgtls_client_hello.XXXXXX)}
mkdir -p "$work"

say() {						# say ok|fail|skip TEXT
	n=$((n + 1))
	case $1 in
		ok) echo "ok $n - $2" ;;
		skip) echo "ok $n # skip $2" ;;
		*) echo "not ok $n - $2"; failed=1 ;;
	esac
}

# ---- build
cflags=(-std=c99 -O2 -Wall -Wextra -Werror -I"$here/src")
for prog in hello_unit hello_dump; do
	if ! gcc "${cflags[@]}" "$t/$prog.c" "$here/src/audit/client_hello.c" -lcrypto \
		-o "$work/$prog" >"$work/build.log" 2>&1; then
		cat "$work/build.log"
		say fail "$prog builds warning-free outside the server"
		echo "1..$n"
		exit 1
	fi
done
if ! gcc -O2 -Wall -Wextra -Werror "$t/hello_capture.c" -o "$work/hello_capture" >"$work/build.log" 2>&1; then
	cat "$work/build.log"
	say fail "hello_capture builds"
	echo "1..$n"
	exit 1
fi

# ---- 1. unit tests (renumbered into this file's sequence)
"$work/hello_unit" "$seeds"/*.bin >"$work/unit.out" 2>&1
urc=$?
while IFS= read -r line; do
	case "$line" in
		"ok "*) say ok "unit: ${line#ok * - }" ;;
		"not ok "*) say fail "unit: ${line#not ok * - }" ;;
	esac
done <"$work/unit.out"
[ $urc -ne 0 ] && ! grep -q '^not ok' "$work/unit.out" && say fail "hello_unit exited with status $urc"

# ---- 2. the seeds' fields and JA4, exactly
for s in "$seeds"/*.bin; do
	name=$(basename "$s" .bin)
	"$work/hello_dump" "$s" >"$work/$name.out"
	if diff -u "$t/expected/$name.out" "$work/$name.out" >"$work/$name.diff" 2>&1; then
		say ok "seed $name: fields and JA4 $(sed -n 's/^ja4: //p' "$work/$name.out") as expected"
	else
		cat "$work/$name.diff"
		say fail "seed $name: fields and JA4 as expected"
	fi
done

# ---- 3. fresh captures from this machine's clients
fresh=$work/fresh
rm -rf "$fresh"
bash "$t/capture.sh" "$work/hello_capture" "$fresh" "${PGTLS_HELLO_PORT:-55780}" >"$work/captured.txt" 2>"$work/capture.err"
ncap=$(wc -l <"$work/captured.txt")
want_caps=9
psqlv=$(psql --version | sed -n 's/^psql (PostgreSQL) \([0-9]*\).*/\1/p')
[ "${psqlv:-0}" -ge 17 ] && want_caps=10
if [ "$ncap" -eq "$want_caps" ]; then
	say ok "fresh capture: $ncap ClientHellos of $(openssl version | cut -d' ' -f1-2) and libpq $psqlv"
else
	cat "$work/capture.err"
	say fail "fresh capture: $ncap ClientHellos, want $want_caps"
fi
# field FILE LABEL: the value part of hello_dump's line "LABEL (N): ..."
field() { sed -n "s/^$2[^:]*: *//p" "$fresh/$1.out"; }
for name in $(cat "$work/captured.txt"); do
	"$work/hello_dump" "$fresh/$name.bin" >"$fresh/$name.out"
done
expect() {					# expect NAME DESCRIPTION CONDITION...
	local name=$1 what=$2
	shift 2
	if [ ! -f "$fresh/$name.out" ]; then
		say fail "fresh $name: not captured"
	elif "$@"; then
		say ok "fresh $name: $what"
	else
		sed 's/^/#   /' "$fresh/$name.out"
		say fail "fresh $name: $what"
	fi
}
ja4() { field "$1" ja4; }
expect openssl_default "parses, offers TLSv1.3, no SNI" \
	bash -c '[[ "$0" == t13i* ]]' "$(ja4 openssl_default)"
expect openssl_sni_alpn "SNI db.example.com, ALPN h2,http/1.1 (JA4 d, h2)" \
	bash -c '[ "$0" = "yes \"db.example.com\" (extension present)" ] && [ "$1" = "\"h2\" \"http/1.1\"" ] && [[ "$2" == t13d????h2_* ]]' \
	"$(field openssl_sni_alpn sni)" "$(field openssl_sni_alpn alpn)" "$(ja4 openssl_sni_alpn)"
# (OpenSSL 3.0 signals secure renegotiation with the SCSV 00ff, 3.5 with
# the renegotiation_info extension ff01)
expect openssl_tls12_two_suites "TLS 1.2 only, the two suites (and the SCSV or ff01), ALPN postgresql" \
	bash -c '[ -z "$1" ] && { { [ "$0" = "c02f c030 00ff" ] && [[ "$2" == t12d03??pl_* ]]; } ||
		{ [ "$0" = "c02f c030" ] && [[ "$2" == t12d02??pl_* ]] && [[ " $3 " == *" ff01 "* ]]; }; }' \
	"$(field openssl_tls12_two_suites ciphers)" "$(field openssl_tls12_two_suites versions)" "$(ja4 openssl_tls12_two_suites)" \
	"$(field openssl_tls12_two_suites extensions)"
expect openssl_tls11_seclevel0 "TLS 1.1 only (legacy version, no supported_versions)" \
	bash -c '[ "$0" = TLSv1.1 ] && [ -z "$1" ] && [[ "$2" == t11i* ]]' \
	"$(field openssl_tls11_seclevel0 legacy_version)" "$(field openssl_tls11_seclevel0 versions)" "$(ja4 openssl_tls11_seclevel0)"
expect openssl_tls13_only "TLS 1.3 only, one suite, groups X448 then P-256, key share X448, two sigalgs" \
	bash -c '[ "$0" = TLSv1.3 ] && [[ "$1" == "1302" || "$1" == "1302 00ff" ]] && [ "$2" = "001e 0017" ] && [ "$3" = 001e ] && [ "$4" = "0807 0804" ]' \
	"$(field openssl_tls13_only versions)" "$(field openssl_tls13_only ciphers)" "$(field openssl_tls13_only groups)" \
	"$(field openssl_tls13_only keyshares)" "$(field openssl_tls13_only sigalgs)"
expect openssl_alpn_nonalnum "first ALPN value _pg_: JA4 takes hex digits 5f" \
	bash -c '[[ "$0" == t13i????5f_* ]]' "$(ja4 openssl_alpn_nonalnum)"
expect openssl_starttls_postgres "after SSLRequest: SNI localhost" \
	bash -c '[ "$0" = "yes \"localhost\" (extension present)" ]' "$(field openssl_starttls_postgres sni)"
expect libpq_ip "libpq to an IP address: no SNI" \
	bash -c '[ "$0" = "no \"\" (extension absent)" ] && [[ "$1" == t13i* ]]' "$(field libpq_ip sni)" "$(ja4 libpq_ip)"
expect libpq_hostname "libpq to localhost: SNI localhost" \
	bash -c '[ "$0" = "yes \"localhost\" (extension present)" ] && [[ "$1" == t13d* ]]' "$(field libpq_hostname sni)" "$(ja4 libpq_hostname)"
# OpenSSL 3.5 offers the hybrid post-quantum group X25519MLKEM768 (0x11ec)
# first, with a key share
case "$(openssl version | cut -d' ' -f2)" in
	3.[0-4].*|1.*) ;;
	*) expect openssl_default "OpenSSL 3.5+: X25519MLKEM768 (11ec) first group and key share" \
		bash -c '[[ "$0" == "11ec "* ]] && [[ " $1 " == *" 11ec "* ]]' \
		"$(field openssl_default groups)" "$(field openssl_default keyshares)" ;;
esac
if [ "$want_caps" -eq 10 ]; then
	expect libpq_direct "direct TLS of libpq $psqlv: ALPN postgresql" \
		bash -c '[ "$0" = "\"postgresql\"" ] && [[ "$1" == t13d????pl_* ]]' "$(field libpq_direct alpn)" "$(ja4 libpq_direct)"
fi

# ---- 4. JA4 against Wireshark's
install_tools
tshark_ok=no
if command -v tshark >/dev/null; then
	if tshark -G fields 2>/dev/null | awk -F'\t' '$3 == "tls.handshake.ja4"' | grep -q .; then
		tshark_ok=yes
	fi
fi
files=("$seeds"/*.bin)
for name in $(cat "$work/captured.txt"); do files+=("$fresh/$name.bin"); done
if [ "$tshark_ok" = yes ]; then
	tv="tshark $(tshark --version 2>/dev/null | sed -n '1s/^TShark (Wireshark) \([0-9.]*[0-9]\).*/\1/p')"
	"$work/hello_dump" --pcap "$work/hellos.pcap" "${files[@]}"
	tshark -n -r "$work/hellos.pcap" -T fields -e frame.number -e tls.handshake.ja4 \
		-e tls.handshake.ja4_r >"$work/tshark.out" 2>"$work/tshark.err"
	i=0
	for f in "${files[@]}"; do
		i=$((i + 1))
		label=$(basename "$(dirname "$f")")/$(basename "$f" .bin)
		ours=$("$work/hello_dump" --ja4 "$f" | cut -d' ' -f2)
		theirs=$(awk -F'\t' -v i="$i" '$1 == i { print $2 }' "$work/tshark.out")
		if [ -n "$theirs" ] && [ "$ours" = "$theirs" ]; then
			say ok "JA4 of $label equals $tv's: $ours"
		else
			echo "#   ours $ours, tshark '${theirs}', tshark raw: $(awk -F'\t' -v i="$i" '$1 == i { print $3 }' "$work/tshark.out")"
			say fail "JA4 of $label equals $tv's"
		fi
	done
else
	say skip "JA4 against tshark: no tshark with JA4 here (tshark 4.2+; Debian 12 has 4.0): runs in test/run --pg 17 (trixie root)"
fi

# ---- 5. a short fuzz run
PGTLS_FUZZ_SECONDS=${PGTLS_FUZZ_SECONDS:-10} bash "$here/test/fuzz/run.sh" >"$work/fuzz.out" 2>&1
frc=$?
grep '^#' "$work/fuzz.out"
line=$(grep -E '^(not )?ok ' "$work/fuzz.out" | tail -n 1)
case "$frc:$line" in
	0:ok*) say ok "${line#ok 1 - }" ;;
	77:*) say skip "${line#ok 1 # skip }" ;;
	*) cat "$work/fuzz.out"; say fail "fuzz run (status $frc)" ;;
esac

echo "1..$n"
[ "$failed" -eq 0 ] && [ -z "${2:-}" ] && [ -z "${PGTLS_KEEP:-}" ] && case "$work" in /tmp/pgtls_client_hello.*) rm -rf "$work" ;; esac
exit $failed
