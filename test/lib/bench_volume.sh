#!/usr/bin/env bash
# bench_volume.sh TMPDIR REPORT: the "audit volume" part of test/bench (run
# by it as root; prints progress, writes its tables to REPORT).  One cluster
# with the module loaded and pgtls_audit.log_destination = 'server_log,
# file', log_line_prefix '%m [%p] ' (test/conf), autovacuum off.
#
#   1. Bytes per record, measured on real records: for each log_format
#      (text, json, json_compact) BENCH_VOLUME_SAMPLES (default 20) attempts
#      of each kind: a TLS 1.3 login with a client certificate (cert
#      authentication, the test PKI), a TLS 1.3 SCRAM login without one, a
#      plaintext SCRAM login, and a failure (wrong password over TLS 1.3).
#      The size of a record is counted from the "PGTLS_AUDIT " marker to
#      the end of its line, newline included (the log_line_prefix comes on
#      top); the audit file's line (always full json) is measured in the
#      json pass.  Median and range.
#   2. Log volume of 10,000 logins (BENCH_VOLUME_LOGINS) from 10 distinct
#      client tuples (TLS 1.3 certificate logins to 10 databases, pgbench
#      -C) in log_format = json, under pgtls_audit.log_connections = on and
#      = new (default log_repeat_interval, 1h), each after
#      pgtls_audit.reset(); for new the cluster is then stopped cleanly, so
#      that the summaries are written.  Records, record bytes, all bytes the
#      server log grew by, and the audit file's bytes.  Checked: with on one
#      record per login; with new the success records plus the repeats of
#      the records and summaries equal the logins, and the inventory
#      counted every login.
set -euo pipefail

tmp=$1
report=$2
bc=$tmp/volume
# shellcheck source=bench_common.sh
source "$(dirname "$0")/bench_common.sh"

samples=${BENCH_VOLUME_SAMPLES:-20}
total=${BENCH_VOLUME_LOGINS:-10000}
case "$samples" in '' | *[!0-9]* | 0 | 1) echo "bench: BENCH_VOLUME_SAMPLES must be an integer >= 2" >&2; exit 2 ;; esac
case "$total" in '' | *[!0-9]* | ?) echo "bench: BENCH_VOLUME_LOGINS must be an integer >= 10" >&2; exit 2 ;; esac
per_db=$((total / 10))
# pgbench -C -c 3 -t T makes 3T logins plus its set-up connection
[ $(((per_db - 1) % 3)) -eq 0 ] || { echo "bench: BENCH_VOLUME_LOGINS / 10 - 1 must be a multiple of 3 (e.g. 10000)" >&2; exit 2; }

echo "== audit volume: $samples records of each kind x 3 formats; $total logins from 10 client tuples under log_connections = on and new"
bc_start vol pgtls_audit "log_line_prefix = '%m [%p] '" "pgtls_audit.log_destination = 'server_log, file'"
afile=$data/log/pgtls_audit.jsonl

# sizes FILE: "median min max" of the bytes of FILE's lines (newline included)
sizes() { LC_ALL=C awk '{print length($0) + 1}' "$1" | sort -g | awk '{a[NR]=$1} END {printf "%s %d %d\n", (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2, a[1], a[NR]}'; }

# ---- 1. bytes per record
declare -A size nrec
kinds='cert13 tls13 plain fail'
declare -A kind_label=(
	[cert13]='TLS 1.3 success, client certificate (cert)'
	[tls13]='TLS 1.3 success, no certificate (SCRAM)'
	[plain]='plaintext success (SCRAM)'
	[fail]='failure: wrong password, TLS 1.3'
)
for fmt in text json json_compact; do
	bc_set pgtls_audit.log_format "$fmt"
	for k in $kinds; do
		off0=$(stat -c %s "$log")
		f0=$(wc -l <"$afile" 2>/dev/null || echo 0)
		if [ "$k" = fail ]; then
			for i in $(seq 1 "$samples"); do
				# shellcheck disable=SC2046
				as_postgres env $(client_env tls13) PGPASSWORD=wrong_pw "$bindir/psql" -X -c 'SELECT 1' >/dev/null 2>&1 && {
					echo "bench: a login with a wrong password succeeded" >&2; exit 1; }
			done
			user=regress_alice; outcome=failed
		else
			logins "$k" 1 $((samples - 1)) >/dev/null
			case $k in cert13) user=regress_cert_user ;; tls13) user=regress_alice ;; plain) user=regress_plain_user ;; esac
			outcome=success
		fi
		tail -c +$((off0 + 1)) "$log" | grep 'PGTLS_AUDIT ' | sed 's/^.*PGTLS_AUDIT /PGTLS_AUDIT /' >"$bc/rec"
		# every record of the pass is one of this kind, in this format
		case $fmt in
			text) pat="^PGTLS_AUDIT v=1 .* outcome=\"$outcome\" .* user=\"$user\" " ;;
			*) pat="^PGTLS_AUDIT {\"v\":1,.*\"outcome\":\"$outcome\",.*\"user\":\"$user\"," ;;
		esac
		got=$(wc -l <"$bc/rec")
		[ "$got" -eq "$samples" ] && [ "$(grep -c "$pat" "$bc/rec" || true)" -eq "$samples" ] || {
			echo "bench: volume $fmt/$k: $got records, $(grep -c "$pat" "$bc/rec" || true) of them as expected, $samples wanted" >&2
			head -n 2 "$bc/rec" >&2; exit 1; }
		if [ "$fmt" = json_compact ] && grep -q ':null' "$bc/rec"; then
			echo "bench: json_compact record with a null field" >&2; exit 1
		fi
		size[$fmt,$k]=$(sizes "$bc/rec")
		if [ "$fmt" = json ]; then
			tail -n +$((f0 + 1)) "$afile" >"$bc/file"
			[ "$(wc -l <"$bc/file")" -eq "$samples" ] || { echo "bench: volume $k: audit file has $(wc -l <"$bc/file") new lines, $samples wanted" >&2; exit 1; }
			size[file,$k]=$(sizes "$bc/file")
		fi
	done
done
prefix=$(tail -n 1 "$log" | sed 's/PGTLS_AUDIT .*//' | LC_ALL=C awk '{print length($0)}')

# ---- 2. log volume of $total logins from 10 tuples
for i in $(seq 0 9); do sql "CREATE DATABASE bench_db$i" >/dev/null; done
bc_set pgtls_audit.log_format json
count_success() {
	sql "SELECT coalesce(sum(connections), 0) FROM pgtls_audit.clients WHERE user_name = 'regress_cert_user' AND outcome = 'success'"
}
declare -A vol
for mode in on new; do
	bc_set pgtls_audit.log_connections "$mode"
	sql 'SELECT pgtls_audit.reset()' >/dev/null
	off0=$(stat -c %s "$log")
	fb0=$(stat -c %s "$afile")
	t0=$(date +%s.%N)
	for i in $(seq 0 9); do
		logins cert13 3 $(((per_db - 1) / 3)) "bench_db$i" >/dev/null
	done
	t1=$(date +%s.%N)
	counted=$(count_success)
	[ "$counted" -eq "$total" ] || { echo "bench: volume $mode: clients counted $counted logins, $total made" >&2; exit 1; }
	# with new, a clean stop writes the pending counts as summaries
	[ "$mode" = new ] && bc_restart
	tail -c +$((off0 + 1)) "$log" >"$bc/delta"
	grep 'PGTLS_AUDIT ' "$bc/delta" | grep '"user":"regress_cert_user"' >"$bc/recs" || true
	nrecs=$(wc -l <"$bc/recs")
	nsucc=$(grep -c '"event":"established","outcome":"success"' "$bc/recs" || true)
	nsum=$(grep -c '"event":"summary"' "$bc/recs" || true)
	reps=$(sed -n 's/.*"repeats":\([0-9]*\).*/\1/p' "$bc/recs" | awk '{s += $1} END {print s + 0}')
	if [ "$mode" = on ]; then
		[ "$nsucc" -eq "$total" ] && [ "$nrecs" -eq "$total" ] && [ "$reps" -eq 0 ] || {
			echo "bench: volume on: $nrecs records ($nsucc successes, repeats $reps) for $total logins" >&2; exit 1; }
	else
		[ $((nsucc + reps)) -eq "$total" ] && [ "$nsucc" -eq 10 ] && [ "$nsum" -eq 10 ] || {
			echo "bench: volume new: $nsucc success records + $reps repeats ($nsum summaries) for $total logins" >&2; exit 1; }
	fi
	vol[$mode]="$nrecs $nsucc $nsum $reps $(LC_ALL=C awk '{s += length($0) + 1} END {print s + 0}' "$bc/recs") $(stat -c %s "$bc/delta") $(( $(stat -c %s "$afile") - fb0 )) $(awk -v a="$t0" -v b="$t1" -v n="$total" 'BEGIN {printf "%.0f", n / (b - a)}')"
	echo "   log_connections = $mode: ${vol[$mode]} (records successes summaries repeats record_bytes log_bytes file_bytes logins/s)"
done

{
	echo "Bytes per record (from the 'PGTLS_AUDIT ' marker to the end of the line, newline included; the log_line_prefix '%m [%p] ' adds $prefix bytes);"
	echo "median and range of $samples real records each; PostgreSQL $v, libpq $v client (psql/pgbench), test PKI:"
	printf '  %-44s %22s %22s %22s %22s\n' record text json json_compact 'audit file (json)'
	for k in $kinds; do
		row=$(printf '  %-44s' "${kind_label[$k]}")
		for f in text json json_compact file; do
			read -r m lo hi <<<"${size[$f,$k]}"
			row+=$(printf ' %22s' "$m ($lo..$hi)")
		done
		echo "$row"
	done
	echo
	echo "$total TLS 1.3 certificate logins from 10 client tuples (10 databases), log_format = json, log_destination = 'server_log, file':"
	printf '  %-36s %9s %12s %14s %14s %14s %9s\n' '' records '(succ./summ.)' 'record bytes' 'log bytes' 'file bytes' 'logins/s'
	for mode in on new; do
		read -r nrecs nsucc nsum reps rb lb fb rate <<<"${vol[$mode]}"
		printf '  %-36s %9d %12s %14d %14d %14d %9d\n' "log_connections = $mode" "$nrecs" "$nsucc/$nsum" "$rb" "$lb" "$fb" "$rate"
	done
	echo "  (new: the 10 summaries are written at the clean stop; success records + repeats = $total, as counted in pgtls_audit.clients)"
} >"$report"
echo "== audit volume: done"
