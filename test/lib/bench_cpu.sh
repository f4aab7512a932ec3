#!/usr/bin/env bash
# bench_cpu.sh TMPDIR REPORT: the "CPU time per connection" part of
# test/bench (run by it as root; prints progress, writes its table to
# REPORT).  Wall-clock rates are too noisy on a small shared machine to see
# the module, so this measures the CPU time the server spends per
# connection:
#
#   - backend CPU: the backends are children of the postmaster, and when
#     the postmaster reaps one, the kernel adds the child's utime + stime to
#     the postmaster's cutime + cstime (/proc/PID/stat fields 16 and 17).
#     The difference of that sum before and after a run of N connections,
#     divided by N, is the mean CPU time of one backend, from fork to exit.
#     The kernel keeps these sums in nanoseconds (utime + stime of a task
#     is its exact scheduler runtime) but /proc prints them in clock ticks
#     (10 ms), so one run's figure is within 10 ms / N of the truth: 10 us
#     per connection at the default N = 1000 (BENCH_CPU_CONNS; pgbench -C
#     -c 4, BENCH_CPU_CLIENTS).  On a shared machine the run-to-run spread
#     (other processes' cache and memory traffic) is far larger than that;
#     the report prints it;
#   - postmaster CPU: its own utime + stime over the same run (fork, reap);
#   - nothing else is a child that exits during a run: autovacuum is off,
#     the other auxiliary processes live as long as the postmaster, and
#     the checks between runs are made before the first and after the last
#     reading (the script waits until every backend of the run is reaped).
#
# Configurations (each over tls13, tls12 and plain, see client_env in
# bench_common.sh), in interleaved rounds (BENCH_CPU_ROUNDS, default 3):
#   bare   module not loaded, core log_connections off
#   core   module not loaded, core log_connections = on
#   text   module loaded, pgtls_audit.log_format = text
#   json   module loaded, log_format = json
#   file   json, log_destination = 'server_log, file' (the audit file too)
#   new    text, pgtls_audit.log_connections = new (one record per client
#          tuple and log_repeat_interval, default 1h: the decision only)
#   off    text, pgtls_audit.log_connections = off (inventory only)
# With the module loaded its ClientHello capture is always on (there is no
# setting to switch it off), so every module configuration includes it.
# Two clusters run side by side, one without the module (bare, core) and
# one with it, so that switching configurations is a reload, never a
# restart, and the runs interleave closely: odd rounds run bare text core
# json file new off, even rounds the reverse (drift, warm caches); each
# cluster gets a discarded warm-up of 51 connections per transport.
# Then, with perf (Debian's linux-perf; BENCH_PERF=0 skips it), one
# profiled json run per transport says which share of the cluster's CPU
# samples has pgtls_audit.so in its call chain, by entry point and by what
# ran (page faults, write(), code).  The per-run page fault count of the
# backends (the postmaster's cminflt) is printed too.
# BENCH_CPU_CONFIGS and BENCH_CPU_TRANSPORTS choose a subset (bare and core
# are always needed for the differences).
# Each run is checked: the records it claims are in the server log (and the
# audit file) in that format, one per connection, with the expected
# protocol and certificate, or absent; the clients count grows by exactly N.
set -euo pipefail

tmp=$1
report=$2
bc=$tmp/cpu
# shellcheck source=bench_common.sh
source "$(dirname "$0")/bench_common.sh"

n_conns=${BENCH_CPU_CONNS:-1000}
rounds=${BENCH_CPU_ROUNDS:-3}
case "$n_conns" in '' | *[!0-9]* | 0 | 1) echo "bench: BENCH_CPU_CONNS must be an integer >= 2" >&2; exit 2 ;; esac
case "$rounds" in '' | *[!0-9]* | 0) echo "bench: BENCH_CPU_ROUNDS must be a positive integer" >&2; exit 2 ;; esac
clients=${BENCH_CPU_CLIENTS:-4}
case "$clients" in '' | *[!0-9]* | 0) echo "bench: BENCH_CPU_CLIENTS must be a positive integer" >&2; exit 2 ;; esac
per_client=$((n_conns / clients))
n=$((clients * per_client + 1))	# plus pgbench's set-up connection
hz=$(getconf CLK_TCK)

configs=${BENCH_CPU_CONFIGS:-bare core text json file new off}
transports=${BENCH_CPU_TRANSPORTS:-tls13 tls12 plain}
declare -A label=(
	[bare]='bare server (no module)'
	[core]='core log_connections = on'
	[text]='pgtls_audit, text'
	[json]='pgtls_audit, json'
	[file]='pgtls_audit, json + audit file'
	[new]='pgtls_audit, text, log_conn. = new'
	[off]='pgtls_audit, log_connections = off'
)
declare -A tr_label=([tls13]='TLS 1.3, SCRAM' [tls12]='TLS 1.2, client certificate (cert)' [plain]='plaintext, SCRAM')

echo "== CPU time per connection: $rounds rounds x configurations ($configs) x transports ($transports) x $n connections (pgbench -C -c $clients -t $per_client)"
# set_config CFG: point at its cluster, set what it needs (reload only)
set_config() {
	local c=$1
	case $c in
		bare | core) use_cluster bare; loaded=off; afile=/nonexistent ;;
		*) use_cluster mod; loaded=on; afile=$data/log/pgtls_audit.jsonl ;;
	esac
	case $c in
		bare) bc_set log_connections off ;;
		core) bc_set log_connections on ;;
		text) bc_set pgtls_audit.log_format text pgtls_audit.log_connections on pgtls_audit.log_destination server_log ;;
		json) bc_set pgtls_audit.log_format json pgtls_audit.log_connections on pgtls_audit.log_destination server_log ;;
		file) bc_set pgtls_audit.log_format json pgtls_audit.log_connections on pgtls_audit.log_destination 'server_log, file' ;;
		new) bc_set pgtls_audit.log_format text pgtls_audit.log_connections new pgtls_audit.log_destination server_log ;;
		off) bc_set pgtls_audit.log_format text pgtls_audit.log_connections off pgtls_audit.log_destination server_log ;;
	esac
}

# pm_times: the postmaster's own CPU ticks, its reaped children's CPU
# ticks, its reaped children's minor page faults
pm_times() {
	local pm
	pm=$(head -n 1 "$data/postmaster.pid")
	sed 's/^.*) //' "/proc/$pm/stat" | awk '{print $12 + $13, $14 + $15, $9}'
}
pm_children() { ps -o pid= --ppid "$(head -n 1 "$data/postmaster.pid")" | wc -l; }
# wait_reaped: until every backend has exited and been reaped
wait_reaped() {
	local i cluster=bare
	[ "$loaded" = on ] && cluster=mod
	for i in $(seq 1 200); do [ "$(pm_children)" -le "${aux[$cluster]}" ] && return 0; sleep 0.05; done
	echo "bench: backends of the postmaster still running after 10 s" >&2
	exit 1
}
user_of() { case $1 in tls13) echo regress_alice ;; tls12) echo regress_cert_user ;; plain) echo regress_plain_user ;; esac; }
client_count() {
	sql "SELECT coalesce(sum(connections), 0) FROM pgtls_audit.clients WHERE user_name = '$(user_of "$1")' AND outcome = 'success'"
}

declare -A cpu pmcpu rate faults
run_one() {
	local c=$1 tr=$2 r=$3
	local off0 f0=0 cc0=0 t0 t1 tps
	[ "$loaded" = on ] && cc0=$(client_count "$tr")
	off0=$(stat -c %s "$log")
	[ -f "$afile" ] && f0=$(wc -l <"$afile")
	wait_reaped
	read -r -a t0 <<<"$(pm_times)"
	tps=$(logins "$tr" "$clients" "$per_client")
	wait_reaped
	read -r -a t1 <<<"$(pm_times)"
	# checks, after the second reading
	local d=$bc/delta.log bad='' np nc ntext njson nf=0 cc1=0 want_proto
	tail -c +$((off0 + 1)) "$log" >"$d"
	np=$(grep -c 'PGTLS_AUDIT ' "$d" || true)
	nc=$(grep -c 'connection authorized: ' "$d" || true)
	ntext=$(grep -c "PGTLS_AUDIT v=1 .*outcome=\"success\".*user=\"$(user_of "$tr")\"" "$d" || true)
	njson=$(grep -c "PGTLS_AUDIT {\"v\":1,.*\"outcome\":\"success\".*\"user\":\"$(user_of "$tr")\"" "$d" || true)
	[ -f "$afile" ] && nf=$(( $(wc -l <"$afile") - f0 ))
	[ "$loaded" = on ] && cc1=$(client_count "$tr")
	case $tr in tls13) want_proto=TLSv1.3 ;; tls12) want_proto=TLSv1.2 ;; plain) want_proto='' ;; esac
	case $c in
		bare) [ "$np" -eq 0 ] && [ "$nc" -eq 0 ] || bad="$np audit records, $nc core lines" ;;
		core) [ "$np" -eq 0 ] && [ "$nc" -eq "$n" ] || bad="$np audit records, $nc core lines" ;;
		text) [ "$ntext" -eq "$n" ] && [ "$np" -eq "$n" ] || bad="$ntext text records of $np" ;;
		json) [ "$njson" -eq "$n" ] && [ "$np" -eq "$n" ] && [ "$nf" -eq 0 ] || bad="$njson json records of $np, $nf file lines" ;;
		file) [ "$njson" -eq "$n" ] && [ "$np" -eq "$n" ] && [ "$nf" -eq "$n" ] || bad="$njson json records of $np, $nf file lines" ;;
		new) [ "$np" -le 1 ] || bad="$np records with log_connections = new (at most 1 wanted)" ;;
		off) [ "$np" -eq 0 ] || bad="$np records with log_connections = off" ;;
	esac
	if [ -z "$bad" ] && [ "$loaded" = on ] && [ $((cc1 - cc0)) -ne "$n" ]; then
		bad="clients count grew by $((cc1 - cc0))"
	fi
	if [ -z "$bad" ] && [ -n "$want_proto" ]; then
		case $c in
			core) [ "$(grep -c "connection authorized: .*SSL enabled (protocol=$want_proto," "$d" || true)" -eq "$n" ] || bad="core lines not all $want_proto" ;;
			text | new) [ "$np" -eq 0 ] || [ "$(grep -c "protocol=\"$want_proto\".*client_cert=$([ "$tr" = tls12 ] && echo true || echo false) " "$d" || true)" -eq "$np" ] || bad="text records not all $want_proto / client_cert" ;;
			json | file) [ "$(grep -c "\"protocol\":\"$want_proto\".*\"client_cert\":$([ "$tr" = tls12 ] && echo true || echo false)," "$d" || true)" -eq "$n" ] || bad="json records not all $want_proto / client_cert" ;;
		esac
	fi
	[ -z "$bad" ] || { echo "bench: CPU run $c/$tr: $bad" >&2; exit 1; }
	rm -f "$d"
	local us pmus flt
	flt=$(( (t1[2] - t0[2]) / n ))
	us=$(awk -v a="${t0[1]}" -v b="${t1[1]}" -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) * 1e6 / hz / n}')
	pmus=$(awk -v a="${t0[0]}" -v b="${t1[0]}" -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", (b - a) * 1e6 / hz / n}')
	cpu[$c,$tr]="${cpu[$c,$tr]:-} $us"
	pmcpu[$c,$tr]="${pmcpu[$c,$tr]:-} $pmus"
	rate[$c,$tr]="${rate[$c,$tr]:-} $tps"
	faults[$c,$tr]="${faults[$c,$tr]:-} $flt"
	printf '   round %d  %-5s %-6s %8.1f us CPU/conn  postmaster %5.1f us/conn  %7.1f conn/s  %5d page faults/conn\n' "$r" "$c" "$tr" "$us" "$pmus" "$tps" "$flt"
}

# two clusters side by side, so that the configurations interleave without
# restarts: "bare" without the module (bare, core), "mod" with it
bc_start bare '' "log_line_prefix = '%m [%p] '"
bc_start mod pgtls_audit "log_line_prefix = '%m [%p] '"
declare -A aux
for cl in bare mod; do
	use_cluster "$cl"
	want=f; [ "$cl" = mod ] && want=t
	[ "$(sql 'SELECT preloaded FROM pgtls_audit.status()')" = "$want" ] || {
		echo "bench: cluster $cl: pgtls_audit.status().preloaded is not $want" >&2; exit 1; }
	sleep 1
	aux[$cl]=$(pm_children)	# the auxiliary processes, no backend
	for tr in $transports; do logins "$tr" 2 25 >/dev/null; done	# warm-up, discarded
done

for r in $(seq 1 "$rounds"); do
	# odd rounds: bare text core json file new off, even rounds reversed
	order=$(for c in bare text core json file new off; do if [[ " $configs " = *" $c "* ]]; then echo "$c"; fi; done)
	[ $((r % 2)) -eq 1 ] || order=$(tac <<<"$order")
	for c in $order; do
		set_config "$c"
		for tr in $transports; do run_one "$c" "$tr" "$r"; done
	done
done

# ---- where the module's time goes: one more run of json per transport
# under perf (BENCH_PERF=0 skips it; Debian's linux-perf): cpu-clock
# samples at 999 Hz of the postmaster and every backend it forks, with
# call chains (dwarf), summarized by test/lib/bench_perf_sum.pl
perf_lines=()
if [ "${BENCH_PERF:-1}" != 0 ] && command -v perf >/dev/null 2>&1; then
	for tr in $transports; do
		for c in core json; do
			set_config "$c"
			pd=$bc/perf.data
			wait_reaped
			perf record -q -p "$(head -n 1 "$data/postmaster.pid")" -e cpu-clock -F 999 --call-graph dwarf,4096 \
				-o "$pd" >"$bc/perf.log" 2>&1 &
			pp=$!
			sleep 1
			logins "$tr" "$clients" "$per_client" >/dev/null
			wait_reaped
			kill -INT "$pp"
			wait "$pp" || true
			{ read -r s_all s_mod s_elog; read -r entries; read -r whats; } < <(perf script -i "$pd" -F pid,ip,sym,dso 2>/dev/null |
				perl "$(dirname "$0")/bench_perf_sum.pl")
			rm -f "$pd"
			echo "   perf $c $tr: $s_all samples, $s_mod in the module, $s_elog in core's log lines"
			# the share of the cluster's samples, applied to the unprofiled
			# median CPU per connection (backend + postmaster) of the config
			share() {
				awk -v a="$1" -v b="$s_all" -v c="$(med "${cpu[$c,$tr]}")" -v pm="$(med "${pmcpu[$c,$tr]}")" \
					'BEGIN {printf "%4d samples = %.2f%% +-%.2f = %.0f us/conn", a, 100 * a / b, 100 * sqrt(a) / b, a / b * (c + pm)}'
			}
			if [ "$c" = core ]; then
				perf_core="core's log lines (core log_connections = on): $(share "$s_elog")"
			else
				perf_lines+=("$(printf '  %-36s %6d samples (%.0f us/conn under perf)' "${tr_label[$tr]}" "$s_all" \
					"$(awk -v s="$s_all" -v n="$n" 'BEGIN {print s * 1e6 / 999 / n}')")")
				perf_lines+=("      pgtls_audit (json):  $(share "$s_mod")")
				perf_lines+=("      $perf_core")
				perf_lines+=("      module by entry point: $entries")
				perf_lines+=("      module by what ran:    $whats")
			fi
		done
	done
fi

# ---- report: medians over rounds; differences are medians of the per-round
# differences (the rounds are interleaved, so a drift cancels)
permed() {	# permed CFG BASE TR: median over rounds of cpu(CFG) - cpu(BASE)
	paste -d' ' <(tr ' ' '\n' <<<"${cpu[$1,$3]}" | grep -v '^$') <(tr ' ' '\n' <<<"${cpu[$2,$3]}" | grep -v '^$') |
		awk '{print $1 - $2}' | median
}
{
	echo "CPU time per connection (backend utime+stime from the postmaster's cutime+cstime; $n connections per run, pgbench -C -c $clients, $rounds rounds;"
	echo "clock tick $((1000 / hz)) ms, so one run's figure is exact to $(awk -v n="$n" -v hz="$hz" 'BEGIN {printf "%.1f", 1e6 / hz / n}') us; vs = median of the per-round differences; % = of the bare connection's CPU; rate = conn/s ratio to bare):"
	for tr in $transports; do
		echo "  ${tr_label[$tr]}"
		printf '    %-36s %9s %15s %9s %9s %7s %7s %10s %7s\n' config 'us/conn' 'min..max' 'vs bare' 'vs core' '% bare' 'rate' 'postm. us' 'faults'
		mb=$(med "${cpu[bare,$tr]}")
		rb=$(med "${rate[bare,$tr]}")
		for c in $configs; do
			m=$(med "${cpu[$c,$tr]}")
			lo=$(tr ' ' '\n' <<<"${cpu[$c,$tr]}" | grep -v '^$' | sort -g | head -n 1)
			hi=$(tr ' ' '\n' <<<"${cpu[$c,$tr]}" | grep -v '^$' | sort -g | tail -n 1)
			db=$(permed "$c" bare "$tr")
			dc=$(permed "$c" core "$tr")
			printf '    %-36s %9.1f %15s %+9.1f %+9.1f %6.2f%% %7.3f %10.1f %7s\n' "${label[$c]}" "$m" "$lo..$hi" "$db" "$dc" \
				"$(awk -v d="$db" -v b="$mb" 'BEGIN {print 100 * d / b}')" \
				"$(awk -v a="$(med "${rate[$c,$tr]}")" -v b="$rb" 'BEGIN {print a / b}')" \
				"$(med "${pmcpu[$c,$tr]}")" "$(med "${faults[$c,$tr]}")"
		done
	done
	if [ ${#perf_lines[@]} -gt 0 ]; then
		echo
		echo "Where the time goes: perf record (cpu-clock, 999 Hz, dwarf call chains) of the postmaster and its backends, one run of $n connections per transport"
		echo "with pgtls_audit json and one with core log_connections = on.  A sample is the module's when pgtls_audit.so is anywhere in its call chain (its"
		echo "own code and all it calls); core's log lines are the samples in errstart/errmsg/errfinish without the module.  +- is the sampling error sqrt(n);"
		echo "perf slows every process alike, so each share is applied to the unprofiled median CPU per connection (backend + postmaster) of that config:"
		printf '%s\n' "${perf_lines[@]}"
	fi
} >"$report"
echo "== CPU time per connection: done"
