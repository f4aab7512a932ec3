#!/usr/bin/env bash
# test/client_hello/capture.sh CAPTURE_TOOL OUTDIR PORT: real ClientHello
# messages from this machine's openssl s_client and libpq (psql), each saved
# as OUTDIR/NAME.bin by test/client_hello/hello_capture.c listening on
# 127.0.0.1:PORT.  Used to make the seed corpus (test/fuzz/corpus/: OpenSSL
# 3.0 and libpq 15 of Debian 12, and trixie_* from OpenSSL 3.5 and libpq 17
# of Debian 13, the PostgreSQL 17 root) and, by test/client_hello/run.sh, to
# capture afresh from whatever openssl and libpq the machine has.
# Prints the names captured; a client that sent nothing is reported on
# stderr and missing from OUTDIR.
set -uo pipefail
tool=$1 out=$2 port=$3
mkdir -p "$out"

# name|command (run with bash -c; $P is the port)
clients=(
	"openssl_default|openssl s_client -connect 127.0.0.1:\$P"
	"openssl_sni_alpn|openssl s_client -connect 127.0.0.1:\$P -servername db.example.com -alpn h2,http/1.1"
	"openssl_tls12_two_suites|openssl s_client -connect 127.0.0.1:\$P -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384 -servername db.example.com -alpn postgresql"
	"openssl_tls11_seclevel0|openssl s_client -connect 127.0.0.1:\$P -tls1_1 -cipher DEFAULT:@SECLEVEL=0"
	"openssl_tls13_only|openssl s_client -connect 127.0.0.1:\$P -tls1_3 -ciphersuites TLS_AES_256_GCM_SHA384 -groups X448:P-256 -sigalgs ed25519:rsa_pss_rsae_sha256"
	"openssl_alpn_nonalnum|openssl s_client -connect 127.0.0.1:\$P -alpn _pg_,h2 -noservername"
	"openssl_starttls_postgres|openssl s_client -connect 127.0.0.1:\$P -starttls postgres -servername localhost"
	"libpq_ip|psql 'host=127.0.0.1 port='\$P' sslmode=require gssencmode=disable connect_timeout=10' -c 'select 1'"
	"libpq_hostname|psql 'host=localhost port='\$P' sslmode=require gssencmode=disable connect_timeout=10' -c 'select 1'"
)
# direct TLS (no SSLRequest) is libpq 17's
if [ "$(psql --version | sed -n 's/^psql (PostgreSQL) \([0-9]*\).*/\1/p')" -ge 17 ] 2>/dev/null; then
	clients+=("libpq_direct|psql 'host=localhost port='\$P' sslmode=require sslnegotiation=direct gssencmode=disable connect_timeout=10' -c 'select 1'")
fi

names=()
for c in "${clients[@]}"; do names+=("${c%%|*}"); done
"$tool" "$port" "$out" "${names[@]}" >"$out/capture.log" 2>&1 &
cap=$!
for i in $(seq 50); do grep -q ready "$out/capture.log" 2>/dev/null && break; sleep 0.1; done
for c in "${clients[@]}"; do
	P=$port timeout 20 bash -c "${c#*|}" </dev/null >/dev/null 2>&1
done
wait $cap
cat "$out/capture.log" | grep -v '^ready$' >&2
rm -f "$out/capture.log"
for n in "${names[@]}"; do [ -f "$out/$n.bin" ] && echo "$n"; done
exit 0
