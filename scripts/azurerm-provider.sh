#!/usr/bin/env bash
# Build Terraform's azurerm provider from the Go module proxy into the same
# filesystem mirror as scripts/terraform-tools.sh, and add it to the CLI config:
#
#   eval "$(bash scripts/terraform-tools.sh)"     # terraform, azapi, TF_CLI_CONFIG_FILE
#   bash scripts/azurerm-provider.sh              # + registry.terraform.io/hashicorp/azurerm 5.2.0
#   bash scripts/terraform-check.sh testdata/terraform/azurerm
#
# The module proxy has no azurerm release: only one pseudo-version of its main
# branch, $PRIVLINK_AZURERM_MODULE (v1.44.1-0.20260824201233-fae580791926,
# committed 2026-08-24, four days after the 5.2.0 release). Its version/VERSION
# file says 5.2.0, and a release build stamps that into the binary, so the
# mirror offers it as 5.2.0 ($PRIVLINK_AZURERM_VERSION): configurations that
# pin "5.2.0", "~> 5.0", ">= 4.0" and so on install it without change. It is
# not byte-for-byte HashiCorp's 5.2.0 (docs/terraform.md).
#
# The build is big (docs/terraform.md has the figures): it runs under nice -n 10
# and only when the binary is missing or came from another module version. Like
# terraform-tools.sh it prints export lines (here only TF_CLI_CONFIG_FILE).
set -euo pipefail

# shellcheck source=scripts/terraform-lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/terraform-lib.sh"

AZURERM_MODULE="${PRIVLINK_AZURERM_MODULE:-v1.44.1-0.20260824201233-fae580791926}"
AZURERM_VERSION="${PRIVLINK_AZURERM_VERSION:-5.2.0}"

command -v go >/dev/null 2>&1 || tf_die "go is needed (Go 1.26 at /usr/local/go on privlink's machines)"
tf_lock

mod="github.com/hashicorp/terraform-provider-azurerm@$AZURERM_MODULE"
dir="$TF_MIRROR/registry.terraform.io/hashicorp/azurerm/$AZURERM_VERSION/$(tf_platform)"
if [ ! -x "$dir/terraform-provider-azurerm_v$AZURERM_VERSION" ]; then
	own=$(cat "$(tf_mod_dir "$mod")/version/VERSION" 2>/dev/null || true)
	[ "$own" = "$AZURERM_VERSION" ] || tf_log "note: $mod says it is version '$own'; mirroring it as $AZURERM_VERSION"
fi
tf_build_provider hashicorp azurerm "$AZURERM_VERSION" "$mod" \
	"-X github.com/hashicorp/terraform-provider-azurerm/version.ProviderVersion=$AZURERM_VERSION"
tf_write_rc
printf 'export TF_CLI_CONFIG_FILE=%q\n' "$TF_RC"
