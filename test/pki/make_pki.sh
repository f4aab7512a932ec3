#!/usr/bin/env bash
# make_pki.sh OUTDIR: generate the throwaway test PKI of pgtls_audit's test
# harness with the openssl CLI (OpenSSL 3.0 or later).  Nothing here is
# secret or reused: every key and certificate is made anew on each run.
#
# OUTDIR is wiped and recreated (only if it is empty or was made by this
# script, which leaves a .pgtls_audit_pki marker in it).  All files are PEM;
# keys are RSA 2048 except those of server_ec, client_ec and client_serial_*
# (EC P-256), mode 0600, owned by the invoking user; signatures are
# SHA-256.  It makes:
#
#   root_ca.crt/.key            root CA "CN=pgtls_audit Test Root CA,
#                               O=pgtls_audit tests", 10 years
#   intermediate_ca.crt/.key    "CN=pgtls_audit Test Intermediate CA",
#                               signed by the root, pathlen:0
#   root.crt                    the root CA alone (clients' sslrootcert)
#   ca_bundle.crt               root + intermediate (the server's ssl_ca_file)
#   untrusted_ca.crt/.key       unrelated self-signed "CN=pgtls_audit
#                               Untrusted CA"
#   server.crt/.key             server leaf (CN=localhost, SAN localhost,
#                               127.0.0.1, ::1) followed by the intermediate
#   server_leaf.crt             the same leaf alone
#   server_ec.crt/.key          the same with an EC P-256 key, chained
#   server_expiring.crt/.key    RSA server leaf valid 5 days, chained
#   server_future.crt/.key      RSA server leaf not yet valid: from 30 days
#                               from now to 395 days from now, chained
#   client_<name>.crt/.key      client certificates (clientAuth), signed by
#                               the intermediate unless said otherwise, each
#                               with O=pgtls_audit tests,OU=clients:
#       regress_cert_user, regress_scram_user, regress_plain_user,
#       regress_app, regress_alice, regress_bob   CN = the role name
#       longdn      CN=regress_longdn, RFC 2253 DN > 120 bytes with a comma,
#                   a double quote, a backslash and UTF-8 in values
#       expired     CN=regress_cert_user, valid 2020-01-01..2021-01-01
#       untrusted   CN=regress_cert_user, signed by the untrusted CA
#       expiring    CN=regress_alice, valid 10 days
#       ec          CN=regress_bob, EC P-256 key
#       revoked     CN=regress_bob, revoked in crl.pem
#       serial_small  CN=regress_serial_small, EC, serial 0x0A1B2C
#       serial_big    CN=regress_serial_big, EC, a 20-byte serial with the
#                     top bit set (chosen in decimal)
#   client_<name>.serial        its serial number in decimal (random, 63 bit)
#   client_<name>.serial_hex    its serial as `openssl x509 -serial` prints it
#   client_<name>.fp256         its SHA-256 fingerprint, lowercase hex
#   client_<name>.not_before, .not_after
#                               its validity dates as openssl prints them
#                               with -dateopt iso_8601 ("2025-01-31 12:00:00Z")
#   root_ca, intermediate_ca, server_leaf, server_ec, server_expiring,
#   server_future: the same .serial, .serial_hex, .fp256, .not_before and
#                               .not_after files (of the leaf for a chain)
#   client_longdn.dn            its subject as printed by
#                               openssl x509 -subject -nameopt RFC2253,-esc_msb
#   crl.pem                     CRL of the intermediate revoking
#                               client_revoked, nextUpdate in 30 days
#   crl_stale.pem               empty CRL of the root whose nextUpdate is in
#                               the past (issued 10 days ago, due yesterday)
#   crl_root.pem                empty CRL of the root, nextUpdate in 30 days
#   crl_chain.pem               crl.pem + crl_root.pem: as ssl_crl_file it
#                               lets valid client certificates through (the
#                               server wants a CRL for every CA of the chain)
#                               and rejects client_revoked
#   crl_dir/                    crl.pem and crl_stale.pem plus `openssl
#                               rehash` hash links (as ssl_crl_dir it makes
#                               every client certificate fail: root CRL
#                               expired)
#
# Prints the list of files made on stdout.  Works as root and as an
# unprivileged user; needs only openssl and coreutils (GNU date).
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
out=$1
marker=.pgtls_audit_pki

case "$out" in
	/ | /. | /.. | . | ..) echo "make_pki.sh: refusing to wipe '$out'" >&2; exit 2 ;;
esac
if [ -e "$out" ] && [ ! -d "$out" ]; then
	echo "make_pki.sh: $out exists and is not a directory" >&2
	exit 1
fi
if [ -d "$out" ] && [ -n "$(ls -A "$out")" ] && [ ! -e "$out/$marker" ]; then
	echo "make_pki.sh: $out is not empty and was not made by make_pki.sh; not wiping it" >&2
	exit 1
fi

umask 022
rm -rf "$out"
mkdir -p "$out"
out=$(cd "$out" && pwd)
: >"$out/$marker"
chmod 0755 "$out"

work=$(mktemp -d "${TMPDIR:-/tmp}/make_pki.XXXXXX")
trap 'rm -rf "$work"' EXIT

export OPENSSL_CONF=$work/openssl.cnf   # never the system configuration

# ---------------------------------------------------------------- config
# One file for req (utf8 subjects), the certificate extensions, and the
# `openssl ca` sections used for the expired certificate and the CRLs.
cat >"$OPENSSL_CONF" <<EOF
[ req ]
distinguished_name = req_dn
prompt             = no
utf8               = yes
string_mask        = utf8only
default_md         = sha256

[ req_dn ]
CN = unused

[ v3_root ]
basicConstraints       = critical, CA:TRUE
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash

[ v3_intermediate ]
basicConstraints       = critical, CA:TRUE, pathlen:0
keyUsage               = critical, keyCertSign, cRLSign
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_server_rsa ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_server_ec ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = serverAuth
subjectAltName         = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_client_rsa ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature, keyEncipherment
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ v3_client_ec ]
basicConstraints       = critical, CA:FALSE
keyUsage               = critical, digitalSignature
extendedKeyUsage       = clientAuth
subjectKeyIdentifier   = hash
authorityKeyIdentifier = keyid:always

[ crl_ext ]
authorityKeyIdentifier = keyid:always

# openssl ca: one section per CA, selected with -name
[ ca_intermediate ]
dir              = $work/ca_intermediate
database         = \$dir/index.txt
serial           = \$dir/serial
crlnumber        = \$dir/crlnumber
new_certs_dir    = \$dir/newcerts
certificate      = $out/intermediate_ca.crt
private_key      = $out/intermediate_ca.key
default_md       = sha256
default_days     = 365
default_crl_days = 30
policy           = policy_any
unique_subject   = no
email_in_dn      = no
copy_extensions  = none
crl_extensions   = crl_ext

[ ca_root ]
dir              = $work/ca_root
database         = \$dir/index.txt
serial           = \$dir/serial
crlnumber        = \$dir/crlnumber
new_certs_dir    = \$dir/newcerts
certificate      = $out/root_ca.crt
private_key      = $out/root_ca.key
default_md       = sha256
default_days     = 365
default_crl_days = 30
policy           = policy_any
unique_subject   = no
crl_extensions   = crl_ext

[ policy_any ]
commonName             = supplied
countryName            = optional
stateOrProvinceName    = optional
localityName           = optional
organizationName       = optional
organizationalUnitName = optional
EOF

for ca in ca_intermediate ca_root; do
	mkdir -p "$work/$ca/newcerts"
	: >"$work/$ca/index.txt"
	echo 1000 >"$work/$ca/crlnumber"
done

# ---------------------------------------------------------------- helpers
declare -A used_serials=()

# next_serial: set $serial to a fresh random serial, 16 hex digits, the
# first one 1-7: always positive, 61-63 bits (fits in bash arithmetic and in
# a signed 64-bit integer), never one used before in this run
next_serial() {
	local s
	while :; do
		s=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
		s=$(printf '%x' $(( (16#${s:0:1} % 7) + 1 )))${s:1}
		if [ -z "${used_serials[$s]:-}" ]; then
			used_serials[$s]=1
			serial=$s
			return
		fi
	done
}

# run CMD...: run a command quietly; on failure show its stderr and stop
# (with RUN_ERR naming a private stderr file for background jobs)
run() {
	local err=${RUN_ERR:-$work/stderr}
	if ! "$@" 2>"$err"; then
		echo "make_pki.sh: failed: $*" >&2
		cat "$err" >&2
		exit 1
	fi
}

# genkey FILE rsa|ec: a private key, mode 0600 from the start
genkey() {
	local f=$1 type=$2
	(
		umask 077
		RUN_ERR=$f.err
		if [ "$type" = ec ]; then
			run openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
				-pkeyopt ec_param_enc:named_curve -out "$f"
		else
			run openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$f"
		fi
		rm -f "$f.err"
	)
	chmod 0600 "$f"
}

# csr KEY SUBJECT OUT: a certificate request (subject in -subj syntax, UTF-8)
csr() {
	run openssl req -new -utf8 -key "$1" -subj "$2" -out "$3"
}

# sign CSR CA_BASENAME EXT_SECTION DAYS OUT: sign with `openssl x509 -req`
sign() {
	local req=$1 ca=$2 ext=$3 days=$4 crt=$5
	next_serial
	run openssl x509 -req -sha256 -in "$req" -CA "$out/$ca.crt" -CAkey "$out/$ca.key" \
		-set_serial "0x$serial" -days "$days" \
		-extfile "$OPENSSL_CONF" -extensions "$ext" -out "$crt"
}

# write_meta BASENAME [DECIMAL_SERIAL]: facts about $out/BASENAME.crt (its
# first certificate) as the openssl CLI prints them, for the tests to
# compare with: .serial (decimal; computed here from openssl's hex, or
# DECIMAL_SERIAL when the serial was chosen in decimal and is too large for
# bash arithmetic), .serial_hex (openssl x509 -serial, as printed), .fp256,
# .not_before and .not_after (-dateopt iso_8601: "2025-01-31 12:00:00Z")
write_meta() {
	local b=$1 dec=${2:-} lines hex fp nb na
	# prints "serial=HEX", "notBefore=...", "notAfter=..." and
	# "sha256 Fingerprint=AA:BB:..." (in any order)
	mapfile -t lines < <(openssl x509 -in "$out/$b.crt" -noout -serial -startdate -enddate \
		-dateopt iso_8601 -fingerprint -sha256)
	hex='' fp='' nb='' na=''
	for l in "${lines[@]}"; do
		case "$l" in
			serial=*) hex=${l#serial=} ;;
			notBefore=*) nb=${l#notBefore=} ;;
			notAfter=*) na=${l#notAfter=} ;;
			*Fingerprint=*) fp=${l#*=} ;;
		esac
	done
	if [ -z "$hex" ] || [ -z "$fp" ] || [ -z "$nb" ] || [ -z "$na" ] ||
		{ [ -z "$dec" ] && { [ ${#hex} -gt 16 ] || [ $(( 16#${hex:0:1} )) -ge 8 ]; }; }; then
		echo "make_pki.sh: unexpected serial '$hex', fingerprint '$fp' or dates '$nb' '$na' in $b.crt" >&2
		exit 1
	fi
	if [ -n "$dec" ]; then
		echo "$dec" >"$out/$b.serial"
	else
		printf '%d\n' $(( 16#$hex )) >"$out/$b.serial"
	fi
	echo "$hex" >"$out/$b.serial_hex"
	fp=${fp//:/}
	echo "${fp,,}" >"$out/$b.fp256"
	echo "$nb" >"$out/$b.not_before"
	echo "$na" >"$out/$b.not_after"
}

# ca_sign CSR EXT_SECTION START END OUT: sign with the intermediate through
# `openssl ca`, with explicit validity dates (YYYYMMDDHHMMSSZ): OpenSSL
# 3.0's `x509 -req` has no -not_before/-not_after (3.4 has).  -preserveDN
# keeps the request's RDN order (OpenSSL 3.0 reads "preserve" only from the
# [ ca ] section, not from the -name section, and would otherwise reorder
# the DN by the policy).
ca_sign() {
	local req=$1 ext=$2 start=$3 end=$4 crt=$5
	next_serial
	echo "$serial" >"$work/ca_intermediate/serial"
	run openssl ca -batch -notext -preserveDN -name ca_intermediate -in "$req" \
		-startdate "$start" -enddate "$end" -extensions "$ext" -out "$crt"
}

# ---------------------------------------------------------------- keys
# RSA key generation is the slow part: make every key up front, in the
# background, as many at a time as there are CPUs (at least 2).
rsa_keys=(root_ca intermediate_ca untrusted_ca server server_expiring
	client_regress_cert_user client_regress_scram_user client_regress_plain_user
	client_regress_app client_regress_alice client_regress_bob client_longdn
	client_expired client_untrusted client_expiring client_revoked server_future)
ec_keys=(server_ec client_ec client_serial_small client_serial_big)

jobs_max=$(nproc 2>/dev/null || echo 2)
[ "$jobs_max" -ge 2 ] || jobs_max=2
pids=()
running=0
for k in "${rsa_keys[@]/%/:rsa}" "${ec_keys[@]/%/:ec}"; do
	if [ "$running" -ge "$jobs_max" ]; then
		wait -n || true     # statuses are collected below
		running=$((running - 1))
	fi
	genkey "$out/${k%:*}.key" "${k#*:}" &
	pids+=($!)
	running=$((running + 1))
done
for p in "${pids[@]}"; do wait "$p"; done
for k in "${rsa_keys[@]}" "${ec_keys[@]}"; do
	[ -s "$out/$k.key" ] || { echo "make_pki.sh: key $k.key was not made" >&2; exit 1; }
done

# ---------------------------------------------------------------- CAs
next_serial
run openssl req -new -x509 -utf8 -sha256 -key "$out/root_ca.key" \
	-subj "/O=pgtls_audit tests/CN=pgtls_audit Test Root CA" \
	-set_serial "0x$serial" -days 3650 -extensions v3_root \
	-out "$out/root_ca.crt"

csr "$out/intermediate_ca.key" "/CN=pgtls_audit Test Intermediate CA" "$work/intermediate_ca.csr"
sign "$work/intermediate_ca.csr" root_ca v3_intermediate 3650 "$out/intermediate_ca.crt"

next_serial
run openssl req -new -x509 -utf8 -sha256 -key "$out/untrusted_ca.key" \
	-subj "/CN=pgtls_audit Untrusted CA" \
	-set_serial "0x$serial" -days 3650 -extensions v3_root \
	-out "$out/untrusted_ca.crt"

cp "$out/root_ca.crt" "$out/root.crt"
cat "$out/root_ca.crt" "$out/intermediate_ca.crt" >"$out/ca_bundle.crt"

# ---------------------------------------------------------------- servers
# server_cert NAME EXT DAYS: NAME.crt = leaf + intermediate
server_cert() {
	local n=$1 ext=$2 days=$3
	csr "$out/$n.key" "/CN=localhost" "$work/$n.csr"
	sign "$work/$n.csr" intermediate_ca "$ext" "$days" "$work/$n.leaf"
	cat "$work/$n.leaf" "$out/intermediate_ca.crt" >"$out/$n.crt"
}
server_cert server v3_server_rsa 365
cp "$work/server.leaf" "$out/server_leaf.crt"
server_cert server_ec v3_server_ec 365
server_cert server_expiring v3_server_rsa 5
# Not yet valid: from 30 days from now, for a year
csr "$out/server_future.key" "/CN=localhost" "$work/server_future.csr"
# both dates from one instant: two clock reads a second apart made its
# lifetime 365 days and 1 second (sql/certificates.sql prints it)
future_base=$(date -u +%s)
ca_sign "$work/server_future.csr" v3_server_rsa "$(date -u -d "@$((future_base + 30 * 86400))" +%Y%m%d%H%M%SZ)" \
	"$(date -u -d "@$((future_base + 395 * 86400))" +%Y%m%d%H%M%SZ)" "$work/server_future.leaf"
cat "$work/server_future.leaf" "$out/intermediate_ca.crt" >"$out/server_future.crt"
for b in root_ca intermediate_ca server_leaf server_ec server_expiring server_future; do
	write_meta "$b"
done

# ---------------------------------------------------------------- clients
client_subj() { echo "/O=pgtls_audit tests/OU=clients/CN=$1"; }

# client_cert NAME CN [CA] [EXT] [DAYS]
client_cert() {
	local n=client_$1 cn=$2 ca=${3:-intermediate_ca} ext=${4:-v3_client_rsa} days=${5:-365}
	csr "$out/$n.key" "$(client_subj "$cn")" "$work/$n.csr"
	sign "$work/$n.csr" "$ca" "$ext" "$days" "$out/$n.crt"
	write_meta "$n"
}

for u in regress_cert_user regress_scram_user regress_plain_user regress_app \
	regress_alice regress_bob; do
	client_cert "$u" "$u"
done
client_cert untrusted regress_cert_user untrusted_ca
client_cert expiring regress_alice intermediate_ca v3_client_rsa 10
client_cert ec regress_bob intermediate_ca v3_client_ec
client_cert revoked regress_bob

# Long DN: > 120 bytes in RFC 2253, a comma, a double quote and a backslash
# inside the O value, UTF-8 in several values.  In -subj syntax a backslash
# escapes the next character, hence the doubled one.
csr "$out/client_longdn.key" \
	"/C=CH/ST=Zürich/L=Zürich Altstadt/O=Zürich \"Quoted\", Backslash\\\\ Ltd/OU=Ünïcödé Research & Development/OU=clients/CN=regress_longdn" \
	"$work/client_longdn.csr"
sign "$work/client_longdn.csr" intermediate_ca v3_client_rsa 365 "$out/client_longdn.crt"
write_meta client_longdn
dn=$(openssl x509 -in "$out/client_longdn.crt" -noout -subject -nameopt RFC2253,-esc_msb)
printf '%s\n' "${dn#subject=}" >"$out/client_longdn.dn"

# Expired: explicit dates, through `openssl ca` (see ca_sign)
csr "$out/client_expired.key" "$(client_subj regress_cert_user)" "$work/client_expired.csr"
ca_sign "$work/client_expired.csr" v3_client_rsa 20200101000000Z 20210101000000Z \
	"$out/client_expired.crt"
write_meta client_expired

# Serials chosen to test their hex form: 0x0A1B2C (a leading zero digit,
# which openssl prints) and a 20-byte serial with the top bit set, given in
# decimal (as CAs issue them; DER needs a leading zero byte, not printed)
serial_small=0A1B2C
serial_big=1178584158091728051734575768911922549436573269983
for s in small big; do
	n=client_serial_$s
	csr "$out/$n.key" "$(client_subj "regress_serial_$s")" "$work/$n.csr"
	if [ $s = small ]; then set_serial=0x$serial_small; else set_serial=$serial_big; fi
	run openssl x509 -req -sha256 -in "$work/$n.csr" -CA "$out/intermediate_ca.crt" \
		-CAkey "$out/intermediate_ca.key" -set_serial "$set_serial" -days 365 \
		-extfile "$OPENSSL_CONF" -extensions v3_client_ec -out "$out/$n.crt"
done
write_meta client_serial_small $(( 16#$serial_small ))
write_meta client_serial_big "$serial_big"
[ "$(cat "$out/client_serial_small.serial_hex")" = "$serial_small" ]

# ---------------------------------------------------------------- CRLs
run openssl ca -batch -name ca_intermediate -revoke "$out/client_revoked.crt" \
	-crl_reason keyCompromise
run openssl ca -batch -name ca_intermediate -gencrl -crldays 30 -out "$out/crl.pem"

stale_last=$(date -u -d '10 days ago' +%Y%m%d%H%M%SZ)
stale_next=$(date -u -d '1 day ago' +%Y%m%d%H%M%SZ)
run openssl ca -batch -name ca_root -gencrl \
	-crl_lastupdate "$stale_last" -crl_nextupdate "$stale_next" \
	-out "$out/crl_stale.pem"
# PostgreSQL checks CRLs for the whole chain (X509_V_FLAG_CRL_CHECK_ALL): with
# crl.pem alone every client certificate fails ("unable to get certificate
# CRL" for the intermediate).  crl_chain.pem adds a current root CRL.
run openssl ca -batch -name ca_root -gencrl -crldays 30 -out "$out/crl_root.pem"
cat "$out/crl.pem" "$out/crl_root.pem" >"$out/crl_chain.pem"

mkdir "$out/crl_dir"
cp "$out/crl.pem" "$out/crl_stale.pem" "$out/crl_dir/"
run openssl rehash "$out/crl_dir"

# ---------------------------------------------------------------- checks
# Cheap self-checks so that a broken PKI fails here, not in a test.
run openssl verify -CAfile "$out/root.crt" -untrusted "$out/intermediate_ca.crt" \
	"$out/server_leaf.crt" >/dev/null
run openssl verify -CAfile "$out/ca_bundle.crt" "$out/client_regress_cert_user.crt" >/dev/null
[ "$(openssl x509 -in "$out/client_expired.crt" -noout -enddate)" = "notAfter=Jan  1 00:00:00 2021 GMT" ]
[ "$(grep -c 'BEGIN CERTIFICATE' "$out/server.crt")" -eq 2 ]
[ "$(LC_ALL=C wc -c <"$out/client_longdn.dn")" -gt 121 ]
hash_links=("$out"/crl_dir/[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f].r[0-9])
[ ${#hash_links[@]} -eq 2 ] && [ -e "${hash_links[0]}" ] && [ -e "${hash_links[1]}" ]
run openssl verify -crl_check_all -CAfile "$out/ca_bundle.crt" -CRLfile "$out/crl_chain.pem" \
	"$out/client_regress_bob.crt" >/dev/null
if openssl verify -crl_check_all -CAfile "$out/ca_bundle.crt" -CRLfile "$out/crl_chain.pem" \
	"$out/client_revoked.crt" >/dev/null 2>&1; then
	echo "make_pki.sh: client_revoked.crt is not revoked by crl_chain.pem" >&2
	exit 1
fi

chmod 0600 "$out"/*.key
chmod 0644 "$out"/*.crt "$out"/*.pem "$out"/*.serial "$out"/*.serial_hex "$out"/*.fp256 \
	"$out"/*.not_before "$out"/*.not_after "$out"/*.dn

# ---------------------------------------------------------------- summary
echo "PKI in $out:"
(cd "$out" && find . -mindepth 1 ! -name "$marker" | sed 's#^\./##' | LC_ALL=C sort | sed 's/^/  /')
