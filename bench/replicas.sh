#!/usr/bin/env bash
# Load run of replicas: GET and durable PUT of managed private endpoints with
# 1, 2 and 3 privlink replicas on one PostgreSQL, beside the embedded store
# (SQLite, one server) as the baseline, in the same run. wrk over HTTPS, 64
# connections in all, spread evenly over the replicas (one wrk per replica,
# as a TCP load balancer would spread connections), each setup on a fresh
# schema. Settings as bench/run.sh: defaults (the access log on, to a file),
# no provisioning delay.
# PostgreSQL: $PRIVLINK_STORE when set, else a throwaway server with the
# package's default settings (fsync on), like deploy/three-replicas.sh.
# Needs wrk (Debian package "wrk").
# Usage: bench/replicas.sh [seconds]   (a table on stdout; wrk's output in the work directory)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}
conns=64
work=$(mktemp -d)
pids=()
# shellcheck source=scripts/pg-throwaway.sh
. scripts/pg-throwaway.sh
stop_servers() {
	if [ ${#pids[@]} -gt 0 ]; then
		kill "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
	pids=()
}
cleanup() { stop_servers; pg_throwaway_stop; rm -rf "$work"; }
trap cleanup EXIT
command -v wrk >/dev/null || { echo "bench/replicas.sh: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
CGO_ENABLED=0 go build -o "$work/privlink" ./cmd/privlink
export PRIVLINK_PROFILE="$work/profile.json"

store=${PRIVLINK_STORE:-}
if [ -z "$store" ]; then
	pg_throwaway_bin >/dev/null || { echo "bench/replicas.sh: no PostgreSQL (apt-get install postgresql), and PRIVLINK_STORE is not set" >&2; exit 2; }
	pg_throwaway_start -c max_connections=300
	store=$PG_THROWAWAY_URL
fi
case $store in *\?*) sep='&' ;; *) sep='?' ;; esac

# shellcheck source=bench/seed.sh
. bench/seed.sh

# start NAME N [serve flags...]: N servers on ports 19451.., data in $work/NAME-i.
start() {
	local name=$1 n=$2 i
	shift 2
	for i in $(seq "$n"); do
		"$work/privlink" serve --addr "127.0.0.1:1945$i" --data "$work/$name-$i" --provisioning-delay 0s "$@" \
			>/dev/null 2>"$work/$name-$i.log" &
		pids+=($!)
	done
	for i in $(seq "$n"); do
		for _ in $(seq 100); do curl -skf "https://127.0.0.1:1945$i/_privlink/health" >/dev/null && break; sleep 0.1; done
		curl -skf "https://127.0.0.1:1945$i/_privlink/health" >/dev/null || { echo "$name-$i did not start:" >&2; cat "$work/$name-$i.log" >&2; exit 1; }
	done
	# The seed through the first server; its token serves on all of them.
	local ca
	ca=$(curl -sk https://127.0.0.1:19451/_privlink/info | sed -n 's/.*"caFile":"\([^"]*\)".*/\1/p')
	rm -f "$PRIVLINK_PROFILE"
	"$work/privlink" login --endpoint https://127.0.0.1:19451 --ca "$ca" >/dev/null
	bench_seed "$work/privlink"
}

# load NAME N get|put: wrk on each of the N servers at once ($conns/N
# connections each); prints requests/s (sum), the worst p99 in ms, and the
# non-2xx answers (sum).
load() {
	local name=$1 n=$2 kind=$3 i wrks=()
	local c=$((conns / n))
	for i in $(seq "$n"); do
		if [ "$kind" = get ]; then
			wrk -t1 -c"$c" -d"${secs}s" --latency -H "Authorization: Bearer $TOKEN" "https://127.0.0.1:1945$i$MPE" >"$work/$name-$kind-$i.txt" &
		else
			wrk -t1 -c"$c" -d"${secs}s" --latency -s bench/put-mpe.lua "https://127.0.0.1:1945$i" -- "$CLUSTER" "$TARGET" "$TOKEN" 0 "r$i" >"$work/$name-$kind-$i.txt" &
		fi
		wrks+=($!)
	done
	wait "${wrks[@]}"
	cat "$work/$name-$kind"-*.txt | awk '
		/Requests\/sec:/ { rps += $2 }
		/Non-2xx or 3xx responses:/ { bad += $5 }
		$1 == "99%" { v = $2; ms = v + 0
			if (v ~ /us$/) ms /= 1000; else if (v ~ /ms$/) ms += 0; else if (v ~ /s$/) ms *= 1000
			if (ms > p99) p99 = ms }
		END { printf "%.0f %.1f %d\n", rps, p99, bad }'
}

rows=()
# run LABEL NAME N [serve flags...]
run() {
	local label=$1 name=$2 n=$3 get put
	shift 3
	start "$name" "$n" "$@"
	get=$(load "$name" "$n" get)
	put=$(load "$name" "$n" put)
	stop_servers
	# What the servers said about their errors, if any (the access log is at info).
	grep -h 'level=WARN\|level=ERROR' "$work/$name"-*.log | sed 's/.*level=[A-Z]* //; s/ request_id=[^ ]*//; s/ path=[^ ]*//' |
		cut -c1-160 | sort | uniq -c | sort -rn | head -3 >&2 || true
	rows+=("$label|$get|$put")
	echo "$label: GET $get, PUT $put (requests/s, worst p99 ms, non-2xx)" >&2
}

run "embedded SQLite, 1 server (baseline)" sqlite 1 --store ""
for n in 1 2 3; do
	PGOPTIONS="-c client_min_messages=warning" psql -q "$store" -c "CREATE SCHEMA bench_replicas_${n}_$$" >/dev/null
	run "PostgreSQL, $n replica$([ "$n" = 1 ] || echo s)" "pg$n" "$n" --store "$store${sep}search_path=bench_replicas_${n}_$$"
	PGOPTIONS="-c client_min_messages=warning" psql -q "$store" -c "DROP SCHEMA bench_replicas_${n}_$$ CASCADE" >/dev/null
done

echo
echo "wrk, HTTPS, $conns connections in all (split evenly over the servers), ${secs}s per phase, $(nproc) cores shared with the load generator"
echo
echo "| Setup | GET/s | GET p99 (ms) | PUT/s | PUT p99 (ms) | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|"
for r in "${rows[@]}"; do
	IFS='|' read -r label get put <<<"$r"
	read -r grps gp99 gbad <<<"$get"
	read -r prps pp99 pbad <<<"$put"
	echo "| $label | $grps | $gp99 | $prps | $pp99 | $((gbad + pbad)) |"
done
