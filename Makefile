# `make test` installs what every test tier needs, then runs them all with
# RCHA_REQUIRE_TOOLS=1, so that no tier can pass by skipping.

SHELL := /bin/bash
MONGOSH_BIN := $(CURDIR)/tests/mongosh/node_modules/.bin/mongosh

.PHONY: test deps nginx keepalived busybox shellcheck mongosh pulumi-cli prometheus check unit bench provider schema sdk dist pulumi-yaml sdk-ts mypy

test: deps check
	RCHA_REQUIRE_TOOLS=1 RCHA_PULUMI_BIN=$$(tools/build-pulumi.sh) RCHA_MONGOSH_BIN=$(MONGOSH_BIN) \
		RCHA_PULUMI_YAML_BIN=$$(tools/build-pulumi-yaml.sh) \
		go test -count=1 -timeout 45m ./...

## deps: the Debian nginx (and wrk for the benchmark), mongosh from npm at the
## pinned version, and the Pulumi CLI built from the Go module proxy.
deps: nginx keepalived busybox shellcheck mongosh pulumi-cli prometheus pulumi-yaml sdk-ts mypy

shellcheck:
	@if command -v shellcheck >/dev/null; then echo "shellcheck: $$(shellcheck --version | sed -n 2p)"; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq shellcheck >/dev/null; fi

## busybox: the applets the official Rocket.Chat image (Alpine) has, for the
## entrypoint wrapper's test.
busybox:
	@if command -v busybox >/dev/null; then echo "busybox: $$(busybox | head -n 1)"; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null; fi

nginx:
	@if command -v nginx >/dev/null && command -v wrk >/dev/null && command -v haproxy >/dev/null && command -v wget >/dev/null; then echo "nginx: $$(nginx -v 2>&1)"; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx haproxy wrk wget >/dev/null; fi

## keepalived: Debian's keepalived, with iproute2 and iptables, for the
## virtual-IP tier (tests/keepalived, network namespaces, needs root).
keepalived:
	@if command -v keepalived >/dev/null && command -v ip >/dev/null && command -v iptables >/dev/null; then echo "keepalived: $$(keepalived --version 2>&1 | head -n 1)"; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq keepalived iproute2 iptables >/dev/null; fi

## prometheus: Debian's prometheus (promtool and the server the monitoring
## tiers run on loopback). The package's service is not started: the tests
## run the binary themselves.
prometheus:
	@if command -v promtool >/dev/null && command -v prometheus >/dev/null; then echo "prometheus: $$(prometheus --version 2>&1 | head -n 1)"; \
	else apt-get update -qq && printf '#!/bin/sh\nexit 101\n' >/tmp/rcha-policy-rc.d && \
	if [ -e /usr/sbin/policy-rc.d ]; then DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; \
	else install -m 0755 /tmp/rcha-policy-rc.d /usr/sbin/policy-rc.d && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >/dev/null; \
	rc=$$?; rm -f /usr/sbin/policy-rc.d; exit $$rc; fi; fi

mongosh:
	@if [ -x $(MONGOSH_BIN) ] && [ "$$($(MONGOSH_BIN) --version)" = "2.12.0" ]; then echo "mongosh: 2.12.0"; \
	else cd tests/mongosh && npm ci --no-audit --no-fund; fi

pulumi-cli:
	tools/build-pulumi.sh

## check: formatting, vet, and shellcheck on every shell file.
check: shellcheck
	shellcheck -s sh components/*.sh
	shellcheck $$(git ls-files '*.sh' | grep -v '^components/')
	@unformatted=$$(gofmt -l $$(git ls-files '*.go') 2>/dev/null); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	go vet ./...

## unit: the offline tiers only (mocks, unit tests); tool tiers skip.
unit:
	go test ./...

## bench: the nginx load-balancer benchmark (see bench/nginx).
bench: nginx
	bench/nginx/run.sh

## The component provider (docs/providers.md). After changing the args or
## outputs of package components: `make sdk`, then commit
## internal/provider/types_gen.go, schema.json and sdk/.
PROVIDER_BIN := bin/pulumi-resource-rocketchat-ha

provider:
	go build -o $(PROVIDER_BIN) ./cmd/pulumi-resource-rocketchat-ha

## schema: regenerate the provider's types from components/*.go, build it,
## and write the schema the real CLI reads from the binary.
schema:
	go generate ./internal/provider
	$(MAKE) provider
	PULUMI_SKIP_UPDATE_CHECK=true $$(tools/build-pulumi.sh) package get-schema ./$(PROVIDER_BIN) > schema.json.tmp
	mv schema.json.tmp schema.json

## sdk: schema.json, then the Node.js, Python and .NET SDKs under sdk/.
sdk: schema
	cd tools/sdkgen && go run . -schema ../../schema.json -out ../../sdk

## dist: release archives pulumi-resource-rocketchat-ha-v<version>-<os>-<arch>.tar.gz
## in dist/ for linux and darwin, amd64 and arm64 (VERSION=x.y.z to override
## the provider's default version).
dist:
	tools/dist.sh $(VERSION)

## pulumi-yaml: the Pulumi YAML language host, for the YAML program test.
pulumi-yaml:
	tools/build-pulumi-yaml.sh

## sdk-ts: TypeScript and @pulumi/pulumi for the Node.js SDK's type check.
sdk-ts:
	cd tests/provider/ts && npm ci --no-audit --no-fund

## mypy: Debian's mypy and python3, for the Python SDK's checks (the pulumi
## Python SDK comes from the Go module cache; PyPI is not used).
mypy:
	@if command -v mypy >/dev/null && command -v python3 >/dev/null; then echo "mypy: $$(mypy --version)"; \
	else apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mypy python3 >/dev/null; fi
