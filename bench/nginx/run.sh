#!/bin/sh
# Benchmark: requests/s and latency of the same wrk load sent straight to one
# stand-in backend, through the generated nginx config (real nginx) and through
# HAProxy with an equivalent config, interleaved in one run; writes
# bench/nginx/results.md. Loopback only; about 3 rounds x 3 x (duration + 0.3 s)
# plus 3 warm-ups, under two minutes with the defaults.
# Needs: apt-get install -y nginx haproxy wrk (make nginx)
# Usage: bench/nginx/run.sh [-duration 10s] [-rounds 3] [-connections 64] [-threads 2]
#        [-keepalive N] [-access-log file|off] [-out FILE]
set -eu
cd "$(dirname "$0")/../.."
exec go run ./bench/nginx -out bench/nginx/results.md "$@"
