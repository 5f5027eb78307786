# shellcheck shell=sh
# The config step of a monitoring container (Prometheus, Alertmanager,
# Grafana), after docker-prelude.sh. It writes the files listed in
# $RCHA_FILES into the running container $RCHA_CONTAINER, runs $RCHA_CHECK in
# it and puts the previous files back when the check fails, then sends
# $RCHA_SIGNAL (when set), with which the service rereads its config in place:
# nothing restarts. Grafana needs no signal (it rereads its dashboards).
#
# Environment: RCHA_CONTAINER; RCHA_FILES, one "VARIABLE PATH MODE" a line
# (the content of VARIABLE goes to PATH, with MODE); RCHA_CHECK, a command run from / inside
# the container (optional); RCHA_SIGNAL (optional). RCHA_ROOT is never passed
# into the container: it lets a test run this script against a local
# directory through a stand-in docker command.
: "${RCHA_CONTAINER:?the container name}"
: "${RCHA_FILES:?the files to write}"
echo "rocketchat-ha: loading the config of $RCHA_CONTAINER on $DOCKER_HOST"
set --
for v in $(printf '%s\n' "$RCHA_FILES" | awk 'NF { print $1 }'); do
  case "$v" in RCHA_FILE_[0-9]*) ;; *) echo "rocketchat-ha: bad file variable $v" >&2; exit 1 ;; esac
  set -- "$@" -e "$v"
done
# shellcheck disable=SC2016 # the inner script expands inside the container
docker exec -i -u 0 -e RCHA_FILES -e RCHA_CHECK "$@" "$RCHA_CONTAINER" sh -c '
set -eu
root=${RCHA_ROOT:-}
umask 077
paths=$(printf "%s\n" "$RCHA_FILES" | awk "NF { print \$2 }")
restore() {
  for p in $paths; do
    if [ -f "$root$p.rcha-prev" ]; then mv "$root$p.rcha-prev" "$root$p"; else rm -f "$root$p"; fi
  done
}
printf "%s\n" "$RCHA_FILES" | while read -r var path mode; do
  [ -n "$var" ] || continue
  dir=$(dirname "$root$path")
  if [ ! -d "$dir" ]; then mkdir -p "$dir" && chmod 0755 "$dir"; fi
  if [ -f "$root$path" ]; then cp -p "$root$path" "$root$path.rcha-prev"; fi
  eval "printf \"%s\" \"\${$var}\"" >"$root$path.rcha-new"
  chmod "${mode:-0644}" "$root$path.rcha-new"
  mv "$root$path.rcha-new" "$root$path"
done
if [ -n "${RCHA_CHECK:-}" ]; then
  if ! (cd "${root:-/}" && sh -c "$RCHA_CHECK"); then
    restore
    echo "rocketchat-ha: the new config was rejected ($RCHA_CHECK); the running one stays" >&2
    exit 1
  fi
fi
for p in $paths; do rm -f "$root$p.rcha-prev"; done
' 2>&1 || exit 1
if [ -n "${RCHA_SIGNAL:-}" ]; then
  docker kill --signal "$RCHA_SIGNAL" "$RCHA_CONTAINER" >/dev/null
  echo "rocketchat-ha: $RCHA_CONTAINER reloads its config ($RCHA_SIGNAL)"
else
  echo "rocketchat-ha: $RCHA_CONTAINER rereads its config on its own"
fi
