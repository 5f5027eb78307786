#!/bin/sh
# Entrypoint wrapper of every Rocket.Chat container (POSIX sh: the official
# image is Alpine-based and has no bash).
#
# Usage, as the container's entrypoint followed by the image's command:
#   /bin/sh /etc/rocketchat-ha/entrypoint.sh USER UPLOAD COPY node main.js
#
# The container starts as root. The secret settings (MONGO_URL,
# MONGO_OPLOG_URL, ROCKETCHAT_LICENSE, REG_TOKEN) are not in the container's
# environment, where `docker inspect` and the Docker provider's logs would show
# them: Pulumi uploads them to UPLOAD (root, mode 0400) as lines of
# NAME='value'. This script installs a copy at COPY owned by USER (the image's
# own user), mode 0400, in a directory only USER can enter; then it becomes
# USER, keeping the container's environment, exports the settings from COPY
# and execs the image's command. The Rocket.Chat process therefore sees the
# container's environment plus exactly those settings, and runs as USER.
set -eu
user=$1 upload=$2 copy=$3
shift 3
if [ "$(id -u)" = 0 ]; then
  if ! command -v su >/dev/null; then
    echo "rocketchat-ha-entrypoint: the image has no su: cannot drop from root to $user" >&2
    exit 1
  fi
  # Plain mkdir/cp/chown/chmod: busybox builds need not have install(1).
  owner="$user:$(id -g "$user")"
  umask 077
  mkdir -p "${copy%/*}"
  cp "$upload" "$copy"
  chown "$owner" "${copy%/*}" "$copy"
  chmod 0700 "${copy%/*}"
  chmod 0400 "$copy"
  # su keeps the environment (-p) and runs sh as USER; the arguments after
  # the user become that shell's $0, $1, ...: this script runs again. The
  # `--` keeps su's option parser off the command's own options (-c, -e).
  # shellcheck disable=SC2016 # expanded by the shell su starts
  exec su -p -s /bin/sh -c 'exec /bin/sh "$0" "$@"' -- "$user" "$0" "$user" "$upload" "$copy" "$@"
fi
if [ "$(id -un)" != "$user" ]; then
  echo "rocketchat-ha-entrypoint: running as $(id -un), not $user, and not root: cannot install $copy" >&2
  exit 1
fi
set -a
# shellcheck disable=SC1090 # written by Pulumi, read at run time
. "$copy"
set +a
exec "$@"
