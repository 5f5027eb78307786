#!/bin/sh
# Installed in every mongod container (uploaded, mode 0555). It applies the
# cluster's name-to-address entries in $RCHA_HOSTS_FILE (default
# /etc/rocketchat-ha/hosts, "address name" lines, written by the hosts
# step) to $RCHA_ETC_HOSTS (default /etc/hosts): every older line that
# names one of those hosts is dropped, then the entries are appended. The
# file is rewritten in place (Docker bind-mounts /etc/hosts, so it cannot be
# replaced). The entrypoint runs it on every start, and the hosts step after
# each change, so mongod resolves the member names without a restart.
set -eu
f=${RCHA_HOSTS_FILE:-/etc/rocketchat-ha/hosts}
etc=${RCHA_ETC_HOSTS:-/etc/hosts}
[ -f "$f" ] || exit 0
names=$(awk '{ print $2 }' "$f" | tr '\n' ' ')
tmp=$(mktemp)
awk -v names="$names" '
BEGIN { n = split(names, a, " "); for (i = 1; i <= n; i++) drop[a[i]] = 1 }
/^[ \t]*#/ { print; next }
{ keep = 1; for (i = 2; i <= NF; i++) if ($i in drop) keep = 0; if (keep) print }
' "$etc" >"$tmp"
cat "$f" >>"$tmp"
cat "$tmp" >"$etc"
rm -f "$tmp"
