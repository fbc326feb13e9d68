#!/usr/bin/env bash
# Three privlink replicas on one PostgreSQL, behind haproxy, on this machine:
# the commands of README's "Several replicas on one PostgreSQL", in one go.
#   replicas   https://127.0.0.1:8451, :8452, :8453 (data in DIR/replicaN)
#   haproxy    https://127.0.0.1:8443 (deploy/haproxy.cfg, TLS passthrough)
#   PostgreSQL $PRIVLINK_STORE when set, else a throwaway server of its own
#              (Debian's package postgresql), removed when the script ends
# Usage: deploy/three-replicas.sh [DIR]   (DIR defaults to ./privlink-replicas)
# Ctrl-C stops everything. Needs haproxy (Debian package "haproxy").
set -euo pipefail
cd "$(dirname "$0")/.."
dir=$(realpath -m "${1:-privlink-replicas}")
mkdir -p "$dir"
command -v haproxy >/dev/null || { echo "three-replicas.sh: haproxy is not installed (apt-get install haproxy)" >&2; exit 2; }

pids=()
# shellcheck source=scripts/pg-throwaway.sh
. scripts/pg-throwaway.sh
cleanup() {
	trap - EXIT INT TERM
	if [ ${#pids[@]} -gt 0 ]; then
		kill "${pids[@]}" 2>/dev/null || true
		wait "${pids[@]}" 2>/dev/null || true
	fi
	pg_throwaway_stop
}
trap cleanup EXIT
trap 'exit 130' INT TERM

go build -o "$dir/privlink" ./cmd/privlink

if [ -z "${PRIVLINK_STORE:-}" ]; then
	# A throwaway PostgreSQL, as .ci/run starts one (scripts/pg-throwaway.sh).
	pg_throwaway_bin >/dev/null || { echo "three-replicas.sh: no PostgreSQL (apt-get install postgresql), and PRIVLINK_STORE is not set" >&2; exit 2; }
	# shellcheck disable=SC2119 # no server options of its own
	pg_throwaway_start
	export PRIVLINK_STORE=$PG_THROWAWAY_URL
fi

# One command per replica: the same store, a data directory and a port each.
for i in 1 2 3; do
	"$dir/privlink" serve --store "$PRIVLINK_STORE" --data "$dir/replica$i" --addr "127.0.0.1:845$i" --replica-name "replica$i" \
		>"$dir/replica$i.out" 2>"$dir/replica$i.log" &
	pids+=($!)
done
for i in 1 2 3; do
	for _ in $(seq 100); do curl -skf "https://127.0.0.1:845$i/_privlink/health" >/dev/null && break; sleep 0.1; done
	curl -skf "https://127.0.0.1:845$i/_privlink/health" >/dev/null || { echo "replica$i did not start:" >&2; cat "$dir/replica$i.log" >&2; exit 1; }
done

haproxy -db -f deploy/haproxy.cfg >"$dir/haproxy.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do curl -skf https://127.0.0.1:8443/_privlink/health >/dev/null && break; sleep 0.1; done

cat <<EOF
three privlink replicas on one PostgreSQL, behind haproxy at https://127.0.0.1:8443
  replicas: https://127.0.0.1:8451 8452 8453 (logs and data in $dir)
  store:    $PRIVLINK_STORE
In another shell:
  eval "\$($dir/privlink env --addr 127.0.0.1:8443 --store '$PRIVLINK_STORE')"
Ctrl-C stops everything.
EOF
wait "${pids[@]}"
