# shellcheck shell=bash
# Shared helpers of scripts/terraform-tools.sh and scripts/azurerm-provider.sh.
# Sourced, not run. Everything they build comes from the Go module proxy into the
# cache below; nothing third-party is committed to this repository.
#
# Cache layout (kept between CI runs; delete it to force a rebuild):
#   $PRIVLINK_CACHE                      default ${XDG_CACHE_HOME:-$HOME/.cache}/privlink
#     terraform/bin/terraform            the terraform that callers should run (a symlink)
#     terraform/terraform-<version>/     a terraform built from the module proxy, if one was needed
#     terraform/mirror/                  Terraform filesystem_mirror, unpacked layout:
#       registry.terraform.io/<namespace>/<type>/<version>/<os>_<arch>/terraform-provider-<type>_v<version>
#     terraform/terraformrc              CLI config (TF_CLI_CONFIG_FILE) using that mirror
#     terraform/logs/                    build logs with /usr/bin/time -v figures
#
# Output convention: stdout carries only `export ...` lines for eval; every
# message goes to stderr.

PRIVLINK_CACHE="${PRIVLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/privlink}"
TF_CACHE="$PRIVLINK_CACHE/terraform"
TF_MIRROR="$TF_CACHE/mirror"
TF_RC="$TF_CACHE/terraformrc"
TF_LOGS="$TF_CACHE/logs"

tf_log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }
tf_die() { tf_log "error: $*"; exit 1; }

tf_platform() {
	local os arch
	os=$(go env GOOS) arch=$(go env GOARCH)
	printf '%s_%s' "$os" "$arch"
}

# tf_lock: serialise concurrent runs on one cache (two CI jobs, two shells).
tf_lock() {
	mkdir -p "$TF_CACHE" "$TF_LOGS" "$TF_MIRROR"
	if command -v flock >/dev/null 2>&1; then
		exec 9>"$TF_CACHE/.lock"
		flock 9
	fi
}

# tf_go_env: a predictable Go environment for third-party builds, whatever the
# caller's GOFLAGS or go.work say. -mod=readonly: the modules' vendor/ folders
# are not in their module proxy zips (only vendor/modules.txt is), so the
# dependencies come from the module proxy and go.sum must already cover them.
tf_go_env() {
	export GOWORK=off GOFLAGS='-mod=readonly -buildvcs=false' CGO_ENABLED=0
}

# tf_mod_dir MODULE@VERSION: download a module (a no-op when the module cache
# has it) and print its directory in the module cache.
tf_mod_dir() {
	local json dir
	json=$(cd / && tf_go_env && go mod download -json "$1") || { printf '%s\n' "$json" >&2; tf_die "go mod download $1 failed"; }
	dir=$(printf '%s\n' "$json" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",\{0,1\}$/\1/p')
	if [ -z "$dir" ] || [ ! -d "$dir" ]; then
		printf '%s\n' "$json" >&2
		tf_die "no directory for $1"
	fi
	printf '%s\n' "$dir"
}

# tf_mod_time MODULE@VERSION: the module's commit time as a pseudo-version
# timestamp (yyyymmddhhmmss, UTC), from the proxy's .info.
tf_mod_time() {
	local t
	t=$(cd / && tf_go_env && go list -m -json "$1" | sed -n 's/^[[:space:]]*"Time": "\(.*\)",\{0,1\}$/\1/p')
	[ -n "$t" ] || tf_die "no time for $1"
	printf '%s\n' "$t" | tr -d -- '-:TZ' | cut -c1-14
}

# tf_tree_rss PID: total RSS (KiB) of PID and all its descendants.
tf_tree_rss() {
	ps -e -o pid= -o ppid= -o rss= 2>/dev/null | awk -v root="$1" '
		{ parent[$1] = $2; rss[$1] = $3 }
		END {
			for (p in rss) {
				q = p
				for (i = 0; i < 64 && q != "" && q != 0; i++) {
					if (q == root) { sum += rss[p]; break }
					q = parent[q]
				}
			}
			print sum + 0
		}'
}

# tf_timed NAME DIR CMD...: run CMD in DIR at low priority (the 2 cores are
# shared), log its output and /usr/bin/time -v figures to $TF_LOGS/NAME.log,
# and report wall time and memory on stderr: the peak RSS of the largest single
# process (time -v) and the peak of the whole process tree (compiler and linker
# processes running at once), sampled every second.
tf_timed() {
	local name=$1 dir=$2 log="$TF_LOGS/$1.log" start rc=0 rss wall pid cur peak=0
	shift 2
	start=$(date +%s)
	tf_log "building $name (log: $log) ..."
	if [ -x /usr/bin/time ]; then
		(cd "$dir" && exec nice -n 10 /usr/bin/time -v "$@") >"$log" 2>&1 &
	else
		(cd "$dir" && exec nice -n 10 "$@") >"$log" 2>&1 &
	fi
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		cur=$(tf_tree_rss "$pid")
		[ "$cur" -gt "$peak" ] && peak=$cur
		sleep 1
	done
	wait "$pid" || rc=$?
	wall=$(($(date +%s) - start))
	rss=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$log")
	rss=${rss:-0}
	[ "$rss" -gt "$peak" ] && peak=$rss # the sampling can miss a short peak of the largest process
	if [ "$rc" -ne 0 ]; then
		tail -n 40 "$log" >&2
		tf_die "building $name failed after ${wall}s (exit $rc; full log $log)"
	fi
	printf 'built %s in %ss (%s); peak RSS: largest process %s MiB, whole build %s MiB\n' \
		"$name" "$wall" "$(go version | cut -d' ' -f3)" "$((rss / 1024))" "$((peak / 1024))" | tee -a "$log" >&2
}

# tf_build_provider NAMESPACE TYPE VERSION MODULE@MODVERSION [LDFLAGS]:
# ensure the provider binary in the mirror's unpacked layout, building it from
# the module proxy only when it is missing or was built from another module
# version (a stamp outside the mirror records which). Prints nothing on stdout.
tf_build_provider() {
	local ns=$1 type=$2 version=$3 mod=$4 ldflags=${5:-} dir src out tmp stamp
	dir="$TF_MIRROR/registry.terraform.io/$ns/$type/$version/$(tf_platform)"
	out="$dir/terraform-provider-${type}_v$version"
	stamp="$TF_CACHE/stamps/$ns.$type.$version.$(tf_platform)"
	if [ -x "$out" ] && [ -s "$out" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$mod" ]; then
		tf_log "cached: $out ($mod)"
		return 0
	fi
	src=$(tf_mod_dir "$mod")
	mkdir -p "$dir" "$TF_CACHE/stamps"
	# Built outside the mirror: a leftover there would look like a second plugin.
	tmp="$TF_CACHE/.build.terraform-provider-$type.$$"
	rm -f "$stamp"
	# Built in the (read-only) module cache directory: go build writes only -o.
	tf_go_env
	tf_timed "terraform-provider-${type}_v$version" "$src" \
		go build -trimpath -ldflags "-s -w $ldflags" -o "$tmp" .
	chmod 0755 "$tmp"
	mv -f "$tmp" "$out"
	printf '%s\n' "$mod" >"$stamp"
	tf_log "$(du -h "$out" | cut -f1) $out ($mod)"
}

# tf_write_rc: the CLI config. Every provider in the mirror is installed from
# it and only from it (include + direct.exclude), so `terraform init` never asks
# a registry about them; other providers still come from their registries.
tf_write_rc() {
	local addrs="" p tmp
	for p in "$TF_MIRROR"/*/*/*; do
		[ -d "$p" ] || continue
		p=${p#"$TF_MIRROR"/}
		addrs="$addrs${addrs:+, }\"$p\""
	done
	tmp="$TF_RC.tmp.$$"
	cat >"$tmp" <<EOF
# Written by privlink's scripts/terraform-tools.sh; rewritten on every run.
# Providers in the filesystem mirror come from it only; others from their registries.
provider_installation {
  filesystem_mirror {
    path    = "$TF_MIRROR"
    include = [$addrs]
  }
  direct {
    exclude = [$addrs]
  }
}
EOF
	mv -f "$tmp" "$TF_RC"
}
