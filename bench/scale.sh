#!/usr/bin/env bash
# The embedded store with many stored endpoints: data size, restart time to
# healthy, RSS, and p50/p99 of a page of each list, for this tree's privlink
# and, in the same run and on a copy of the same data, a baseline revision's
# ("-" for none: the baseline keeps everything in memory and needs minutes
# per list page at a million endpoints).
# Usage: bench/scale.sh [endpoints] [baseline git revision] [requests per list]
# (see docs/benchmarks.md; SCALE_WORK=dir keeps and reuses the seeded data)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-100000}
base=${2:-ae4f1a3}
samples=${3:-200}
work=${SCALE_WORK:-$(mktemp -d)}
mkdir -p "$work"
CGO_ENABLED=0 go build -o "$work/privlink" ./cmd/privlink
bins="new=$work/privlink"
if [ "$base" != "-" ]; then
	rm -rf "$work/base-src" && mkdir "$work/base-src"
	git archive "$base" | tar -x -C "$work/base-src"
	(cd "$work/base-src" && CGO_ENABLED=0 go build -o "$work/privlink-base" ./cmd/privlink)
	bins="$bins,base=$work/privlink-base"
fi
go run ./bench/scale -n "$n" -work "$work" -bins "$bins" -samples "$samples"
echo "work directory (seeded data kept for reruns with SCALE_WORK=$work): $work"
