#!/bin/sh
# Benchmark: requests/s and latency through the generated nginx config (real
# nginx, stand-in backends) against the same wrk load sent straight to one
# backend, in the same run. Loopback only; about 2 x (duration + 2 s).
# Needs: apt-get install -y nginx wrk
# Usage: bench/nginx/run.sh [-duration 10s] [-connections 64] [-threads 2] [-out FILE]
set -eu
cd "$(dirname "$0")/../.."
exec go run ./bench/nginx -out bench/nginx/results.md "$@"
