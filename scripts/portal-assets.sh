#!/usr/bin/env bash
# The portal's third-party asset, htmx, comes from the npm registry and is
# committed (internal/portal/static/htmx.min.js), so that running privlink
# needs no Node.js and no build step. This script fetches it again:
#
#   bash scripts/portal-assets.sh          # write the file from npm
#   bash scripts/portal-assets.sh --check  # fail if the committed file differs
#
# The version and the integrity npm publishes for it are pinned here.
set -euo pipefail
cd "$(dirname "$0")/.."
HTMX_VERSION=2.0.11
HTMX_INTEGRITY=sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA==
DEST=internal/portal/static/htmx.min.js

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && npm pack --silent "htmx.org@$HTMX_VERSION" >/dev/null)
tgz="$tmp/htmx.org-$HTMX_VERSION.tgz"
got="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$got" != "$HTMX_INTEGRITY" ]; then
	echo "portal-assets.sh: htmx.org@$HTMX_VERSION has integrity $got, want $HTMX_INTEGRITY" >&2
	exit 1
fi
tar -xzf "$tgz" -C "$tmp" package/dist/htmx.min.js
if [ "${1:-}" = "--check" ]; then
	if ! cmp -s "$tmp/package/dist/htmx.min.js" "$DEST"; then
		echo "portal-assets.sh: $DEST is not htmx.org@$HTMX_VERSION's dist/htmx.min.js; run: bash scripts/portal-assets.sh" >&2
		exit 1
	fi
	echo "portal-assets.sh: $DEST is htmx.org@$HTMX_VERSION" >&2
	exit 0
fi
cp "$tmp/package/dist/htmx.min.js" "$DEST"
echo "portal-assets.sh: wrote $DEST (htmx.org@$HTMX_VERSION)" >&2
