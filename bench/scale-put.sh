#!/usr/bin/env bash
# Durable PUT of new managed private endpoints into a large seeded data
# directory (made by bench/scale.sh; SCALE_WORK keeps it): start to healthy,
# RSS, then wrk at 64 connections creating endpoints in one of its clusters.
# The data directory is written to: pass a copy.
# --private-range 127.77.0.0/23 gives one cluster a network, so that the
# data path opens a few hundred listeners, not one per seeded endpoint
# (a million seeded endpoints would need more file descriptors than a
# process may have).
# Usage: bench/scale-put.sh <privlink binary> <data directory> [seconds]
set -euo pipefail
bin=$1 data=$2 secs=${3:-10}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
export PRIVLINK_PROFILE="$work/profile.json"
t0=$(date +%s%N)
"$bin" serve --addr 127.0.0.1:19543 --data "$data" --provisioning-delay 0s --access-log=false --log-level error --private-range 127.77.0.0/23 2>"$work/log" >/dev/null &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$work"' EXIT
until curl -skf https://127.0.0.1:19543/_privlink/health >/dev/null; do sleep 0.05; done
echo "start to healthy: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
rss() { awk '/VmRSS|VmHWM/{printf "%s %d MB  ", $1, $2/1024}' /proc/$PID/status; echo; }
echo -n "after start: "; rss
sleep 20
echo -n "20 s later: "; rss
"$bin" login --endpoint https://127.0.0.1:19543 --data "$data" >/dev/null
TOKEN=$(sed -n 's/.*"accessToken": "\(.*\)".*/\1/p' "$PRIVLINK_PROFILE")
G=/subscriptions/00000000-0000-4000-8000-000000000002/resourceGroups/scale0050/providers
cpu() { awk '{print $14+$15}' "/proc/$PID/stat"; }
before=$(cpu)
out=$(wrk -t2 -c64 -d"${secs}s" --latency -s bench/put-mpe.lua https://127.0.0.1:19543 -- "$G/Microsoft.Kusto/clusters/c005000" "$G/Microsoft.Storage/storageAccounts/sa005000" "$TOKEN")
after=$(cpu)
echo "$out" | grep -E 'requests in|Requests/sec|^p50'
reqs=$(echo "$out" | awk '/requests in/{print $1}')
echo "server CPU per request: $(( (after - before) * 1000000 / $(getconf CLK_TCK) / reqs )) µs"
echo -n "after the PUTs: "; rss
