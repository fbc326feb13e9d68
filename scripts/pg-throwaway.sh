# shellcheck shell=bash
# A throwaway PostgreSQL server, as .ci/run, bench/replicas.sh and
# deploy/three-replicas.sh start one: a cluster made with initdb in a new
# directory /tmp/privlink-pg-XXXXXX, listening on a unix socket there only
# (no TCP), with trust authentication for the user postgres. Sourced, not run:
#
#   pg_throwaway_bin            prints the directory of PostgreSQL's server
#                               programs: initdb's on PATH, else the newest
#                               Debian package's (/usr/lib/postgresql/N/bin);
#                               fails, printing nothing, when there is none
#   pg_throwaway_start [ARG...] makes the cluster and starts it, ARGs being more
#                               server options (-c max_connections=300); sets
#                               PG_THROWAWAY_BIN, PG_THROWAWAY_DIR and
#                               PG_THROWAWAY_URL (postgres://postgres@/postgres?host=DIR)
#   pg_throwaway_stop           stops it and removes its directory; does nothing
#                               when none was started (so it may be an EXIT trap
#                               from the start)
#
# PostgreSQL refuses to run as root: as root, the package's postgres user owns
# and runs the cluster.

PG_THROWAWAY_DIR=

pg_throwaway_bin() {
	local initdb
	initdb=$(command -v initdb || { ls /usr/lib/postgresql/*/bin/initdb 2>/dev/null | sort -V | tail -1; } || true)
	[ -n "$initdb" ] && [ -x "$initdb" ] || return 1
	dirname "$initdb"
}

# pg_throwaway_sh CMD runs the shell command CMD, as the postgres user when root.
pg_throwaway_sh() {
	if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$1"; else sh -c "$1"; fi
}

pg_throwaway_start() {
	local opts arg
	PG_THROWAWAY_BIN=$(pg_throwaway_bin) || { echo "pg-throwaway.sh: no PostgreSQL (apt-get install postgresql)" >&2; return 2; }
	PG_THROWAWAY_DIR=$(mktemp -d /tmp/privlink-pg-XXXXXX)
	if [ "$(id -u)" = 0 ]; then chown postgres "$PG_THROWAWAY_DIR"; fi
	pg_throwaway_sh "'$PG_THROWAWAY_BIN/initdb' -D '$PG_THROWAWAY_DIR/data' -A trust -U postgres" >/dev/null
	opts="-k '$PG_THROWAWAY_DIR' -c listen_addresses=''"
	for arg in "$@"; do opts+=" $arg"; done
	pg_throwaway_sh "'$PG_THROWAWAY_BIN/pg_ctl' -D '$PG_THROWAWAY_DIR/data' -o \"$opts\" -l '$PG_THROWAWAY_DIR/log' -w start" >/dev/null
	# shellcheck disable=SC2034 # for the scripts that source this one
	PG_THROWAWAY_URL="postgres://postgres@/postgres?host=$PG_THROWAWAY_DIR"
}

pg_throwaway_stop() {
	[ -n "${PG_THROWAWAY_DIR:-}" ] || return 0
	pg_throwaway_sh "'$PG_THROWAWAY_BIN/pg_ctl' -D '$PG_THROWAWAY_DIR/data' -m fast stop" >/dev/null 2>&1 || true
	rm -rf "$PG_THROWAWAY_DIR"
	PG_THROWAWAY_DIR=
}
