#!/usr/bin/env bash
# Prove that Terraform configurations initialise and validate with no registry:
#
#   bash scripts/terraform-check.sh                               # testdata/terraform/seed
#   bash scripts/terraform-check.sh testdata/terraform/azurerm    # after scripts/azurerm-provider.sh
#
# Runs scripts/terraform-tools.sh (builds what is missing; cached), then for each
# directory copies its *.tf files to a scratch directory (the repository stays
# clean: no .terraform/, no lock file) and runs `terraform init -backend=false`
# and `terraform validate` there with no network at all: in a new network
# namespace (unshare -n, which root can do) or, where that is refused, through a
# dead proxy so that any registry request fails at once. The providers must
# therefore come from the filesystem mirror. Ends with "terraform: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

eval "$(bash scripts/terraform-tools.sh)"

offline() {
	if unshare -n true 2>/dev/null; then
		unshare -n "$@"
	else
		HTTPS_PROXY=http://127.0.0.1:9 HTTP_PROXY=http://127.0.0.1:9 NO_PROXY='' https_proxy=http://127.0.0.1:9 http_proxy=http://127.0.0.1:9 no_proxy='' "$@"
	fi
}

[ "$#" -gt 0 ] || set -- testdata/terraform/seed
passed=0 failed=0
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
for dir in "$@"; do
	name=$(basename "$dir")
	work="$scratch/$name"
	mkdir -p "$work"
	cp "$dir"/*.tf "$work/"
	echo "== $dir (offline: init, validate)"
	if (cd "$work" &&
		offline env TF_IN_AUTOMATION=1 "$PRIVLINK_TERRAFORM" init -input=false -backend=false -no-color &&
		offline env TF_IN_AUTOMATION=1 "$PRIVLINK_TERRAFORM" validate -no-color); then
		echo "ok   $dir"
		passed=$((passed + 1))
	else
		echo "FAIL $dir"
		failed=$((failed + 1))
	fi
done
echo "terraform: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
