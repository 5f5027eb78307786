#!/usr/bin/env bash
# Builds the pinned Pulumi CLI from the Go module proxy and caches it.
#
#   tools/build-pulumi.sh            # prints the path of the cached CLI
#
# The version comes from tools/pulumi-cli/go.mod (github.com/pulumi/pulumi/pkg/v3).
# The binary is cached at $RCHA_CACHE_DIR/bin/pulumi (default
# $HOME/.cache/rocketchat-ha/bin/pulumi); when the cached binary already reports
# that version nothing is built. A cold build takes 6-10 minutes on 2 cores.
# The version ldflag is required: without it the CLI reports no version and the
# Automation API refuses it.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/pulumi-cli"
cache="${RCHA_CACHE_DIR:-$HOME/.cache/rocketchat-ha}"
bin="$cache/bin/pulumi"

version="$(awk '$1 == "github.com/pulumi/pulumi/pkg/v3" { print $2; exit } $1 == "require" && $2 == "github.com/pulumi/pulumi/pkg/v3" { print $3; exit }' "$mod/go.mod")"
if [[ -z "$version" ]]; then
	echo "build-pulumi: cannot find github.com/pulumi/pulumi/pkg/v3 in $mod/go.mod" >&2
	exit 1
fi

if [[ -x "$bin" ]]; then
	have="$(PULUMI_SKIP_UPDATE_CHECK=true "$bin" version 2>/dev/null || true)"
	if [[ "$have" == "$version" ]]; then
		echo "$bin"
		exit 0
	fi
	echo "build-pulumi: cached $bin reports '${have:-nothing}', want $version; rebuilding" >&2
fi

mkdir -p "$cache/bin"
tmp="$(mktemp "$cache/bin/.pulumi-build.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

echo "build-pulumi: building pulumi $version (cold builds take several minutes)" >&2
cd "$mod"
go mod download github.com/pulumi/pulumi/pkg/v3
go build -o "$tmp" \
	-ldflags "-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$version" \
	github.com/pulumi/pulumi/pkg/v3/cmd/pulumi

got="$(PULUMI_SKIP_UPDATE_CHECK=true "$tmp" version)"
if [[ "$got" != "$version" ]]; then
	echo "build-pulumi: built binary reports '$got', want $version" >&2
	exit 1
fi
chmod 0755 "$tmp"
mv -f "$tmp" "$bin"
trap - EXIT
echo "$bin"
