#!/usr/bin/env bash
# The data path after a restart on a large seeded data directory (made by
# bench/scale.sh; SCALE_WORK keeps it): start to healthy, RSS, open file
# descriptors, then GET /_privlink/network for one cluster (the first,
# which loads its state, and again) and a decision through it. The data
# directory is written to (addresses): pass a copy.
# Usage: bench/dataplane-restart.sh <privlink binary> <data directory> [extra serve flags...]
set -euo pipefail
bin=$1 data=$2
shift 2
cd "$(dirname "$0")/.."
work=$(mktemp -d)
export PRIVLINK_PROFILE="$work/profile.json"
t0=$(date +%s%N)
"$bin" serve --addr 127.0.0.1:19643 --data "$data" --provisioning-delay 0s --access-log=false --log-level error "$@" 2>"$work/log" >/dev/null &
PID=$!
trap 'kill $PID 2>/dev/null; wait $PID 2>/dev/null; rm -rf "$work"' EXIT
until curl -skf https://127.0.0.1:19643/_privlink/health >/dev/null; do
	kill -0 $PID 2>/dev/null || { cat "$work/log"; exit 1; }
	sleep 0.05
done
echo "start to healthy: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
rss() { awk '/VmRSS|VmHWM/{printf "%s %d MB  ", $1, $2/1024}' /proc/$PID/status; echo "fds $(ls /proc/$PID/fd | wc -l)"; }
echo -n "after start: "; rss
sleep 5
echo -n "5 s later: "; rss
"$bin" login --endpoint https://127.0.0.1:19643 --data "$data" >/dev/null
TOKEN=$(sed -n 's/.*"accessToken": "\(.*\)".*/\1/p' "$PRIVLINK_PROFILE")
C=/subscriptions/00000000-0000-4000-8000-000000000002/resourceGroups/scale0042/providers/Microsoft.Kusto/clusters/c004242
get() {
	curl -sk -o "$work/out" -w '%{http_code} %{time_total}s' -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:19643$1"
}
echo "GET /_privlink/network (cluster c004242, first): $(get "/_privlink/network?cluster=$C")"
echo "  endpoints: $(grep -o '"privateLinkResourceId"' "$work/out" | wc -l), listening: $(grep -o '"listen"' "$work/out" | wc -l)"
echo "GET /_privlink/network (again): $(get "/_privlink/network?cluster=$C")"
echo "GET /_privlink/network/decide (sa004242 blob): $(get "/_privlink/network/decide?cluster=$C&host=sa004242.blob.core.windows.net&port=443")"
head -c 300 "$work/out"; echo
echo -n "after the requests: "; rss
