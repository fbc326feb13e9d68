#!/usr/bin/env bash
# Durable PUT of new endpoints at a paced load: 16 connections, each waiting
# PAUSE milliseconds after every answer before its next request, so that the
# server is not saturated and the latency is the server's, not a queue's. It
# prints wrk's p50 and p99 and the server's own (the access log's duration of
# each PUT, from its handler's start to its end), for each build in turn on a
# fresh server, ROUNDS times. A build is as for bench/compare-put.sh: a
# revision ("." is the work tree), optionally with environment settings for
# its server after "@" ("HEAD@GOGC=off"). Needs wrk (Debian package "wrk")
# and python3.
# Usage: bench/paced-put.sh ROUNDS SECONDS PAUSE BUILD...
#   bash bench/paced-put.sh 2 8 8 HEAD .
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 4 ] || { sed -n 2,12p "$0" >&2; exit 2; }
rounds=$1
secs=$2
pause=$3
shift 3
# shellcheck source=bench/seed.sh
. bench/seed.sh
bench_workdir bench/paced-put.sh
bench_builds "$work" "$@"

# serverSide prints the p50, p99 and p99.9 of the paced PUTs' durations in
# the access log LOG, in ms.
serverSide() {
	python3 - "$1" <<'EOF'
import re, sys
ds = []
for line in open(sys.argv[1]):
    m = re.search(r'method=PUT .*/managedPrivateEndpoints/p\d+n\d+ .*duration=([\d.]+)(ms|µs|s)\b', line)
    if m:
        v, u = float(m.group(1)), m.group(2)
        ds.append(v if u == 'ms' else v / 1000 if u == 'µs' else v * 1000)
ds.sort()
n = len(ds)
print("server p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms" % (ds[n // 2], ds[int(n * .99)], ds[int(n * .999)]))
EOF
}

for r in $(seq "$rounds"); do
	for i in "${!builds[@]}"; do
		dir=$(mktemp -d -p "$work")
		export PRIVLINK_PROFILE="$dir/profile.json"
		BENCH_ENV=${envs[$i]} bench_start "$work/p$i" "$dir/data" 127.0.0.1:19443
		pid=$PID
		t0=$(bench_ticks)
		out=$(wrk -t2 -c16 -d"${secs}s" --latency -s bench/put-mpe.lua https://127.0.0.1:19443 -- "$CLUSTER" "$TARGET" "$TOKEN" "$pause" p)
		t1=$(bench_ticks)
		kill "$pid"
		wait "$pid" 2>/dev/null || true
		pid=""
		echo "round $r  ${builds[$i]}: $(echo "$out" | awk '/Requests\/sec/{print $2}') PUT/s, wrk p50 $(echo "$out" | awk '/^p50/{print $2}'), p99 $(echo "$out" | awk '/^p50/{print $6}'); $(serverSide "$dir/data.log"); $(bench_steal "$t0" "$t1")"
		rm -rf "$dir"
	done
done
