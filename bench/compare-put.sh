#!/usr/bin/env bash
# Durable PUT of new endpoints, this tree beside other revisions, on a noisy
# machine: each round starts a fresh server of every build in turn and runs
# wrk at 64 and then 16 connections on it (as bench/run.sh: defaults, no
# provisioning delay, the access log to a file), so that a slow minute of the
# machine falls on every build alike; then it prints each build's median
# over the rounds. One bench/run.sh run per build, minutes apart, moved by
# 15-25% between runs of the same build on the project's machine
# (2026-12-02), which is more than most changes are worth.
# A build is a revision (anything git archive takes; "." is the work tree),
# optionally with environment settings for its server after "@", comma
# separated: "HEAD@GOGC=300", ".@GOGC=off,GOMEMLIMIT=300MiB".
# Needs wrk (Debian package "wrk").
# Usage: bench/compare-put.sh ROUNDS SECONDS BUILD...
#   bash bench/compare-put.sh 3 8 22c875b .
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 3 ] || { sed -n 2,15p "$0" >&2; exit 2; }
rounds=$1
secs=$2
shift 2
# shellcheck source=bench/seed.sh
. bench/seed.sh
bench_workdir bench/compare-put.sh
bench_builds "$work" "$@"

# one BIN ENV CONNS prints "req/s p50 p99 cpu-µs" of one fresh server.
one() {
	local bin=$1 conns=$3 dir out before after reqs t0 t1
	dir=$(mktemp -d -p "$work")
	export PRIVLINK_PROFILE="$dir/profile.json"
	BENCH_ENV=$2 bench_start "$bin" "$dir/data" 127.0.0.1:19443
	pid=$PID
	before=$(awk '{print $14+$15}' "/proc/$pid/stat")
	t0=$(bench_ticks)
	out=$(wrk -t2 -c"$conns" -d"${secs}s" --latency -s bench/put-mpe.lua https://127.0.0.1:19443 -- "$CLUSTER" "$TARGET" "$TOKEN")
	t1=$(bench_ticks)
	after=$(awk '{print $14+$15}' "/proc/$pid/stat")
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=""
	rm -rf "$dir"
	reqs=$(echo "$out" | awk '/requests in/{print $1}')
	echo "$(echo "$out" | awk '/Requests\/sec/{print $2}') $(echo "$out" | awk '/^p50/{print $2, $6}') $(((after - before) * 1000000 / $(getconf CLK_TCK) / reqs)) $(bench_steal "$t0" "$t1" | tr -d 'steal %')$(echo "$out" | awk '/Socket errors/{printf " (wrk: %s)", $0}')"
}

for r in $(seq "$rounds"); do
	for i in "${!builds[@]}"; do
		for c in 64 16; do
			line=$(one "$work/p$i" "${envs[$i]}" $c)
			echo "round $r  ${builds[$i]}  $c connections: $line   (req/s, p50, p99, server CPU µs per PUT, % of the machine's CPU stolen)"
			echo "$line" >>"$work/res.$i.$c"
		done
	done
done
echo
echo "median of $rounds rounds (by req/s; p99 of every round in brackets):"
for i in "${!builds[@]}"; do
	for c in 64 16; do
		med=$(sort -n "$work/res.$i.$c" | awk '{a[NR]=$0} END {print a[int((NR+1)/2)]}')
		echo "${builds[$i]}  $c connections: $med  [$(awk '{print $3}' "$work/res.$i.$c" | sort -n | tr '\n' ' ' | sed 's/ $//')]"
	done
done
