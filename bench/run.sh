#!/usr/bin/env bash
# Load run: GET and durable PUT of a managed private endpoint over HTTPS with
# wrk (64 connections; PUT also at 16), GET beside a bare net/http handler
# serving the same bytes with the same certificate. Needs wrk (Debian
# package "wrk").
# Usage: bench/run.sh [seconds] [put16]   (figures go to stdout; see docs/benchmarks.md)
# With put16, only the PUT at 16 connections runs, on a fresh server: its
# latency without the WAL the 64-connection phase leaves behind.
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
only=${2:-}
work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -o "$work/privlink" ./cmd/privlink
go build -o "$work/bare" ./bench/bare
export PRIVLINK_PROFILE="$work/profile.json"
# shellcheck source=bench/seed.sh
. bench/seed.sh
# Default settings (the access log on), its log going to a file as a
# service manager's would; only the provisioning delay is removed.
# shellcheck disable=SC2086 # PRIVLINK_BENCH_FLAGS holds flags
bench_start "$work/privlink" "$work/data" 127.0.0.1:19443 ${PRIVLINK_BENCH_FLAGS:-}
# cpu prints the server's CPU time so far (user+system), in clock ticks.
cpu() { awk '{print $14+$15}' "/proc/$PID/stat"; }
# run wrk, then print the server's CPU time per request.
measure() {
  local before after out reqs t0 t1
  before=$(cpu)
  t0=$(bench_ticks)
  out=$(wrk "$@")
  t1=$(bench_ticks)
  after=$(cpu)
  echo "$out"
  reqs=$(echo "$out" | awk '/requests in/{print $1}')
  echo "server CPU per request: $(( (after - before) * 1000000 / $(getconf CLK_TCK) / reqs )) µs; the machine's CPU time stolen by the hypervisor: $(bench_steal "$t0" "$t1")"
}
URL="https://127.0.0.1:19443$MPE"
if [ "$only" = put16 ]; then
  echo "== PUT privlink, 16 connections, fresh server (new endpoint per request, durable)"
  measure -t2 -c16 -d"${secs}s" --latency -s bench/put-mpe.lua https://127.0.0.1:19443 -- "$CLUSTER" "$TARGET" "$TOKEN"
  exit 0
fi
curl -sk -H "Authorization: Bearer $TOKEN" "$URL" > "$work/body.json"
"$work/bare" --addr 127.0.0.1:19444 --data "$work/data" --body "$work/body.json" &
sleep 0.5
# GET: privlink and the bare handler in alternating rounds of a third of the
# phase each. One pair of back-to-back runs moved by a fifth between pairs on
# this machine (steal, other guests); the median of the rounds' ratios is the
# figure, and every round is printed.
gsecs=$(( secs / 3 > 2 ? secs / 3 : 2 ))
bareURL="https://127.0.0.1:19444$CLUSTER/managedPrivateEndpoints/mpe1?api-version=2024-04-13"
ratios=()
for round in 1 2 3; do
  echo "== GET privlink ($(wc -c < "$work/body.json") bytes), round $round of 3"
  mine=$(measure -t2 -c64 -d"${gsecs}s" --latency -H "Authorization: Bearer $TOKEN" "$URL")
  echo "$mine"
  echo "== GET bare handler, same bytes, round $round of 3"
  t0=$(bench_ticks)
  theirs=$(wrk -t2 -c64 -d"${gsecs}s" --latency -H "Authorization: Bearer $TOKEN" "$bareURL")
  echo "$theirs"
  echo "the machine's CPU time stolen by the hypervisor: $(bench_steal "$t0" "$(bench_ticks)")"
  a=$(echo "$mine" | awk '/Requests\/sec/{print $2}')
  b=$(echo "$theirs" | awk '/Requests\/sec/{print $2}')
  ratios+=("$(awk -v a="$a" -v b="$b" 'BEGIN{printf "%.2f", a / b}')")
  echo "round $round: privlink $a req/s, bare $b req/s, ratio ${ratios[-1]}"
done
echo "== GET against the bare handler: rounds ${ratios[*]}, median $(printf '%s\n' "${ratios[@]}" | sort -n | sed -n 2p)"
echo "== PUT privlink (new endpoint per request, durable)"
measure -t2 -c64 -d"${secs}s" --latency -s bench/put-mpe.lua https://127.0.0.1:19443 -- "$CLUSTER" "$TARGET" "$TOKEN"
echo "== PUT privlink, 16 connections (new endpoint per request, durable)"
measure -t2 -c16 -d"${secs}s" --latency -s bench/put-mpe.lua https://127.0.0.1:19443 -- "$CLUSTER" "$TARGET" "$TOKEN"
echo "== PUT privlink, paced: each connection pauses 10 ms after a response (latency of the server, not of a queue)"
measure -t2 -c64 -d"${secs}s" --latency -s bench/put-mpe.lua https://127.0.0.1:19443 -- "$CLUSTER" "$TARGET" "$TOKEN" 10
