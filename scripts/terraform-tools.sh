#!/usr/bin/env bash
# Ensure Terraform and the azapi provider for using Terraform with privlink,
# offline except for the Go module proxy, and print the environment for them:
#
#   eval "$(bash scripts/terraform-tools.sh)"
#   terraform init && terraform validate     # azure/azapi comes from the local mirror
#
# What it does (idempotent; a second run only checks and prints):
#  1. terraform: the one on PATH if it is 1.x >= 1.5, else Terraform
#     $PRIVLINK_TERRAFORM_VERSION (1.11.4) built from the Go module proxy into
#     the cache (PRIVLINK_TERRAFORM_FROM_SOURCE=1 builds it even when PATH has one).
#     $CACHE/terraform/bin/terraform points at the one chosen.
#  2. registry.terraform.io/azure/azapi $PRIVLINK_AZAPI_VERSION (1.15.0, the newest
#     the module proxy serves) built from github.com/Azure/terraform-provider-azapi
#     into a Terraform filesystem mirror (unpacked layout) in the cache.
#  3. $CACHE/terraform/terraformrc: a CLI config whose provider_installation takes
#     the mirrored providers from the mirror only and everything else from its registry.
#  4. stdout: export lines for PATH, PRIVLINK_TERRAFORM, TF_CLI_CONFIG_FILE and
#     CHECKPOINT_DISABLE (no version check calls to HashiCorp). Messages go to stderr.
#
# The cache is ${PRIVLINK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/privlink}; see
# scripts/terraform-lib.sh for its layout. A binary is rebuilt only when it is
# missing (or, for terraform, reports another version). Builds run under
# nice -n 10; their logs, with /usr/bin/time -v figures, are in $CACHE/terraform/logs.
set -euo pipefail

# shellcheck source=scripts/terraform-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/terraform-lib.sh"

TERRAFORM_VERSION="${PRIVLINK_TERRAFORM_VERSION:-1.11.4}"
# Terraform's go.mod replaces nine nested modules (the remote-state backends and
# internal/legacy) with ./ directories, which its module zip leaves out (a zip
# never holds nested modules); that is also why `go install ...@v1.11.4` refuses
# it. The proxy serves each of them at a pseudo-version of the release commit;
# the timestamp is checked against the release's commit time below.
TERRAFORM_SUBMODULES="${PRIVLINK_TERRAFORM_SUBMODULES:-v0.0.0-20250409131005-35645b8fca68}"
AZAPI_VERSION="${PRIVLINK_AZAPI_VERSION:-1.15.0}"

# tf_version_of BINARY: "1.11.4" (empty when it is not a terraform that runs).
tf_version_of() {
	TF_CLI_CONFIG_FILE=/dev/null CHECKPOINT_DISABLE=1 "$1" version 2>/dev/null |
		sed -n '1s/^Terraform v\([0-9][0-9.]*[^ ]*\).*/\1/p' || true
}

# usable_on_path: print the first terraform on PATH that is 1.x >= 1.5.
usable_on_path() {
	local d t v minor
	local IFS=:
	for d in $PATH; do
		t="${d:-.}/terraform"
		if [ ! -x "$t" ] || [ -d "$t" ]; then continue; fi
		t=$(readlink -f "$t")
		v=$(tf_version_of "$t")
		case "$v" in
		1.*)
			minor=${v#1.}
			minor=${minor%%.*}
			if [ "$minor" -ge 5 ] 2>/dev/null; then
				printf '%s\n' "$t"
				return 0
			fi
			tf_log "ignoring $t: Terraform $v is older than 1.5"
			;;
		esac
	done
	return 1
}

build_terraform() {
	local dest="$TF_CACHE/terraform-$TERRAFORM_VERSION" main work line mod rel sub want got
	if [ -x "$dest/terraform" ] && [ "$(tf_version_of "$dest/terraform")" = "$TERRAFORM_VERSION" ]; then
		tf_log "cached: $dest/terraform"
		return 0
	fi
	main=$(tf_mod_dir "github.com/hashicorp/terraform@v$TERRAFORM_VERSION")
	grep -q '^replace[[:space:]]*($' "$main/go.mod" && tf_die "$main/go.mod has a replace block; this script reads single-line replaces only"
	want=$(tf_mod_time "github.com/hashicorp/terraform@v$TERRAFORM_VERSION")
	got=$(printf '%s\n' "$TERRAFORM_SUBMODULES" | cut -d- -f2)
	[ "$want" = "$got" ] || tf_die "PRIVLINK_TERRAFORM_SUBMODULES=$TERRAFORM_SUBMODULES is not a pseudo-version of the v$TERRAFORM_VERSION commit (committed $want); set it to the matching v0.0.0-$want-<commit> pseudo-version"

	mkdir -p "$TF_CACHE"
	work=$(mktemp -d "$TF_CACHE/.build.terraform.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$work'" EXIT
	cp -R "$main/." "$work/src"
	chmod -R u+w "$work/src"
	while read -r line; do
		mod=${line%% *} rel=${line#* }
		sub=$(tf_mod_dir "$mod@$TERRAFORM_SUBMODULES")
		rm -rf "${work:?}/src/$rel"
		mkdir -p "$work/src/$rel"
		cp -R "$sub/." "$work/src/$rel"
		chmod -R u+w "$work/src/$rel"
	done < <(sed -n 's/^replace[[:space:]]\{1,\}\([^[:space:]]\{1,\}\)[[:space:]]\{1,\}=>[[:space:]]\{1,\}\(\.\/[^[:space:]]\{1,\}\)[[:space:]]*$/\1 \2/p' "$main/go.mod")

	tf_go_env
	# Go 1.24 removed the `tlskyber` GODEBUG that Terraform 1.11's go.mod sets to 0
	# (no post-quantum TLS key exchange, for middleboxes that choke on it) and that
	# newer Go refuses to load ("unknown godebug"). Go 1.24+'s name for the same
	# switch is `tlsmlkem`; set that instead so the build behaves as the release.
	if ! (cd "$work/src" && go list -m >/dev/null 2>"$work/golist.err"); then
		if grep -q 'unknown godebug "tlskyber"' "$work/golist.err"; then
			tf_log "this Go has no tlskyber GODEBUG: building with tlsmlkem=0 instead"
			(cd "$work/src" && go mod edit -dropgodebug=tlskyber -godebug=tlsmlkem=0)
		else
			cat "$work/golist.err" >&2
			tf_die "cannot load terraform's go.mod"
		fi
	fi
	# version.dev=no: what release builds set; without it the binary says 1.11.4-dev.
	tf_timed "terraform-v$TERRAFORM_VERSION" "$work/src" \
		go build -trimpath -ldflags "-s -w -X github.com/hashicorp/terraform/version.dev=no" -o "$work/terraform" .
	got=$(tf_version_of "$work/terraform")
	[ "$got" = "$TERRAFORM_VERSION" ] || tf_die "the terraform just built says version '$got', not $TERRAFORM_VERSION"
	mkdir -p "$dest"
	mv -f "$work/terraform" "$dest/terraform"
	rm -rf "$work"
	trap - EXIT
	tf_log "$(du -h "$dest/terraform" | cut -f1) $dest/terraform"
}

main() {
	local tf
	command -v go >/dev/null 2>&1 || tf_die "go is needed (Go 1.26 at /usr/local/go on privlink's machines)"
	tf_lock

	if [ "${PRIVLINK_TERRAFORM_FROM_SOURCE:-0}" != 1 ] && tf=$(usable_on_path); then
		tf_log "using $tf (Terraform $(tf_version_of "$tf"))"
	else
		build_terraform
		tf="$TF_CACHE/terraform-$TERRAFORM_VERSION/terraform"
	fi
	mkdir -p "$TF_CACHE/bin"
	ln -sfn "$tf" "$TF_CACHE/bin/terraform"

	tf_build_provider azure azapi "$AZAPI_VERSION" \
		"github.com/Azure/terraform-provider-azapi@v$AZAPI_VERSION" \
		"-X github.com/Azure/terraform-provider-azapi/version.ProviderVersion=v$AZAPI_VERSION"
	tf_write_rc

	# shellcheck disable=SC2016 # $PATH is for the caller's eval to expand
	printf 'export PATH=%q:"$PATH"\n' "$TF_CACHE/bin"
	printf 'export PRIVLINK_TERRAFORM=%q\n' "$TF_CACHE/bin/terraform"
	printf 'export TF_CLI_CONFIG_FILE=%q\n' "$TF_RC"
	printf 'export CHECKPOINT_DISABLE=1\n'
}

main "$@"
