#!/bin/sh
# keepalived's notify script (monitoring, with a virtual IP): keepalived runs
# it as root on every state change with "INSTANCE <name> <state> <priority>".
# It writes this node's state as a metric, rcha_vrrp_master 1 while it holds
# the virtual IP (MASTER) and 0 otherwise, into the directory the load
# balancer's nginx serves at /rcha/vrrp. RCHA_VRRP_DIR lets a test point it
# elsewhere.
dir=${RCHA_VRRP_DIR:-/var/run/rcha-vrrp}
value=0
if [ "${3:-}" = MASTER ]; then value=1; fi
mkdir -p "$dir"
printf '# HELP rcha_vrrp_master Whether this load balancer holds the virtual IP (keepalived MASTER).\n# TYPE rcha_vrrp_master gauge\nrcha_vrrp_master %s\n' "$value" >"$dir/state.prom.tmp"
chmod 0644 "$dir/state.prom.tmp"
mv "$dir/state.prom.tmp" "$dir/state.prom"
