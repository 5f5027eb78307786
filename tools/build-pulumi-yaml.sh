#!/usr/bin/env bash
# Builds the pinned Pulumi YAML language host (pulumi-language-yaml) from the
# Go module proxy and caches it.
#
#   tools/build-pulumi-yaml.sh       # prints the path of the cached binary
#
# The version comes from tools/pulumi-yaml/go.mod (github.com/pulumi/pulumi-yaml).
# The binary is cached at $RCHA_CACHE_DIR/bin/pulumi-language-yaml (default
# $HOME/.cache/rocketchat-ha), with the version it was built at in
# pulumi-language-yaml.version; when that matches, nothing is built. A cold
# build takes several minutes on 2 cores. The engine finds the host on PATH
# (tests/engine/yaml_test.go puts this directory there).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
mod="$here/pulumi-yaml"
cache="${RCHA_CACHE_DIR:-$HOME/.cache/rocketchat-ha}"
bin="$cache/bin/pulumi-language-yaml"
stamp="$bin.version"

version="$(awk '$1 == "github.com/pulumi/pulumi-yaml" { print $2; exit } $1 == "require" && $2 == "github.com/pulumi/pulumi-yaml" { print $3; exit }' "$mod/go.mod")"
if [[ -z "$version" ]]; then
	echo "build-pulumi-yaml: cannot find github.com/pulumi/pulumi-yaml in $mod/go.mod" >&2
	exit 1
fi

if [[ -x "$bin" && -f "$stamp" && "$(cat "$stamp")" == "$version" ]]; then
	echo "$bin"
	exit 0
fi

mkdir -p "$cache/bin"
tmp="$(mktemp "$cache/bin/.pulumi-language-yaml-build.XXXXXX")"
trap 'rm -f "$tmp"' EXIT

echo "build-pulumi-yaml: building pulumi-language-yaml $version (cold builds take several minutes)" >&2
cd "$mod"
go mod download github.com/pulumi/pulumi-yaml
go build -o "$tmp" \
	-ldflags "-X github.com/pulumi/pulumi-yaml/pkg/version.Version=$version" \
	github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml
chmod 0755 "$tmp"
mv -f "$tmp" "$bin"
trap - EXIT
echo "$version" >"$stamp"
echo "$bin"
