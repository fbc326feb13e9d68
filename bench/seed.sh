# shellcheck shell=bash
# The load runs' seed, shared by bench/run.sh and bench/replicas.sh. Sourced,
# not run. It names the resources (S, RG, CLUSTER, TARGET, MPE: the endpoint's
# URL path with its api-version) and defines
#   bench_seed PRIVLINK   with the privlink binary PRIVLINK, signed in (its
#                         profile in $PRIVLINK_PROFILE): a group, a cluster, a
#                         storage account and the endpoint mpe1 between them;
#                         sets TOKEN to the profile's access token.
#   bench_start PRIVLINK DATA ADDR [serve flags...]
#                         starts PRIVLINK serve on ADDR (host:port) with its
#                         data in DATA and its log in DATA.log, defaults but
#                         no provisioning delay (and the settings in
#                         BENCH_ENV, NAME=VALUE words, in its environment);
#                         waits until it is healthy, signs in (the profile in
#                         $PRIVLINK_PROFILE) and seeds (bench_seed); sets PID.
#   bench_workdir SCRIPT  checks that wrk is installed (SCRIPT names the caller
#                         in the message), makes a scratch directory (work) and
#                         on exit kills the server whose pid is in pid, if
#                         any, and removes the directory.
#   bench_builds WORK BUILD...
#                         builds privlink for each BUILD, a revision (anything
#                         git archive takes; "." is the work tree), optionally
#                         with environment settings for its server after "@",
#                         comma separated ("HEAD@GOGC=300"), into WORK/p0,
#                         WORK/p1, ...; sets the arrays builds (the BUILDs) and
#                         envs (their settings as NAME=VALUE words).
#   bench_ticks           prints the machine's CPU time so far from
#                         /proc/stat: "all stolen", in clock ticks over
#                         every CPU.
#   bench_steal BEFORE AFTER
#                         prints the share of the machine's CPU time the
#                         hypervisor took between two bench_ticks ("steal
#                         23%"): on a shared virtual machine it moves the
#                         figures more than most changes do (47% in one
#                         PUT run on 2026-12-03, a third fewer PUT/s).
# shellcheck disable=SC2034 # the variables are for the scripts that source this one

S=00000000-0000-4000-8000-000000000002
RG=/subscriptions/$S/resourceGroups/adx
CLUSTER=$RG/providers/Microsoft.Kusto/clusters/mycluster
TARGET=$RG/providers/Microsoft.Storage/storageAccounts/share
MPE="$CLUSTER/managedPrivateEndpoints/mpe1?api-version=2024-04-13"

bench_seed() {
	local privlink=$1
	"$privlink" put "$RG?api-version=2021-04-01" '{"location":"westus"}' >/dev/null
	"$privlink" put "$CLUSTER?api-version=2024-04-13" '{"location":"westus","sku":{"name":"Standard_E2a_v4","tier":"Standard"}}' >/dev/null
	"$privlink" put "$TARGET?api-version=2024-01-01" '{"location":"westus","kind":"StorageV2","sku":{"name":"Standard_LRS"}}' >/dev/null
	"$privlink" put "$MPE" "{\"properties\":{\"privateLinkResourceId\":\"$TARGET\",\"groupId\":\"blob\",\"requestMessage\":\"Please Approve.\"}}" >/dev/null
	sleep 0.5
	TOKEN=$(sed -n 's/.*"accessToken": "\(.*\)".*/\1/p' "$PRIVLINK_PROFILE")
}

bench_start() {
	local privlink=$1 data=$2 addr=$3 i
	shift 3
	# shellcheck disable=SC2086 # BENCH_ENV holds NAME=VALUE words
	env ${BENCH_ENV:-} "$privlink" serve --addr "$addr" --data "$data" --provisioning-delay 0s "$@" 2>"$data.log" >/dev/null &
	PID=$!
	for i in $(seq 100); do
		curl -skf "https://$addr/_privlink/health" >/dev/null && break
		[ "$i" = 100 ] && { echo "bench: privlink did not start:" >&2; cat "$data.log" >&2; return 1; }
		sleep 0.1
	done
	"$privlink" login --endpoint "https://$addr" --data "$data" >/dev/null
	bench_seed "$privlink"
}

bench_workdir() {
	command -v wrk >/dev/null || { echo "$1: wrk is not installed (apt-get install wrk)" >&2; exit 2; }
	work=$(mktemp -d)
	pid=""
	trap 'if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT
}

bench_builds() {
	local work=$1 spec rev env n
	shift
	builds=()
	envs=()
	for spec in "$@"; do
		rev=${spec%%@*}
		env=""
		[ "$rev" != "$spec" ] && env=${spec#*@}
		n=${#builds[@]}
		if [ "$rev" = . ]; then
			CGO_ENABLED=0 go build -o "$work/p$n" ./cmd/privlink
		else
			mkdir "$work/src$n"
			git archive "$rev" | tar -x -C "$work/src$n"
			(cd "$work/src$n" && CGO_ENABLED=0 go build -o "$work/p$n" ./cmd/privlink)
			rm -rf "$work/src$n"
		fi
		builds+=("$spec")
		envs+=("${env//,/ }")
	done
}

bench_ticks() {
	awk '/^cpu /{all = 0; for (i = 2; i <= NF; i++) all += $i; print all, $9}' /proc/stat
}

bench_steal() {
	# shellcheck disable=SC2086 # each argument is "all stolen"
	set -- $1 $2
	if [ "$3" -gt "$1" ]; then
		echo "steal $(((($4 - $2) * 100) / ($3 - $1)))%"
	else
		echo "steal ?"
	fi
}
