#!/usr/bin/env bash
# Builds the component provider's release archives, as GitHub release assets
# for the schema's pluginDownloadURL (github://api.github.com/rocketchat-ha/rocketchat-ha):
#
#   tools/dist.sh [version]        # default: the provider's built-in version
#
# writes dist/pulumi-resource-rocketchat-ha-v<version>-<os>-<arch>.tar.gz for
# linux and darwin, amd64 and arm64 (RCHA_DIST_PLATFORMS="linux-amd64 ..." to
# choose; RCHA_DIST_DIR to write elsewhere). Each archive holds the plugin
# binary pulumi-resource-rocketchat-ha at its root, plus LICENSE and README.md
# when the repository has them: the layout `pulumi plugin install resource
# rocketchat-ha <version> --file <archive>` and the engine's download expect.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
version="${1:-}"
if [[ -z "$version" ]]; then
	version="$(sed -n 's/^var Version = "\(.*\)"$/\1/p' internal/provider/provider.go)"
fi
version="${version#v}"
if [[ ! "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+([-+][0-9A-Za-z.+-]+)?$ ]]; then
	echo "dist: version '$version' is not semver" >&2
	exit 1
fi
out="${RCHA_DIST_DIR:-$root/dist}"
platforms="${RCHA_DIST_PLATFORMS:-linux-amd64 linux-arm64 darwin-amd64 darwin-arm64}"
mkdir -p "$out"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

for platform in $platforms; do
	os="${platform%-*}"
	arch="${platform#*-}"
	stage="$work/$platform"
	mkdir -p "$stage"
	CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" go build -trimpath \
		-ldflags "-s -w -X github.com/rocketchat-ha/rocketchat-ha/internal/provider.Version=$version" \
		-o "$stage/pulumi-resource-rocketchat-ha" ./cmd/pulumi-resource-rocketchat-ha
	files=(pulumi-resource-rocketchat-ha)
	for extra in LICENSE README.md; do
		if [[ -f "$extra" ]]; then
			cp "$extra" "$stage/"
			files+=("$extra")
		fi
	done
	archive="$out/pulumi-resource-rocketchat-ha-v$version-$os-$arch.tar.gz"
	tar -C "$stage" --owner=0 --group=0 --numeric-owner -czf "$archive" "${files[@]}"
	echo "$archive"
done
