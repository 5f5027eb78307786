# shellcheck shell=sh
# A replica-set step, after docker-prelude.sh. It runs the embedded mongosh
# reconciler (given on stdin) in mode $RCHA_MODE (full or prune) inside the
# mongod container $RCHA_CONTAINER. Secrets reach mongosh only through the
# environment: `docker exec -e NAME` copies the value from the docker CLI's
# own environment, so no secret is on any command line. mongosh's progress
# goes to stderr, which is logged, as it happens.
#
# Remembering the root password: the step's stdout, a secret output that is
# never logged, holds two base64 lines: the root password in effect after
# this run, and the root password this run was given. The next update
# receives them as PULUMI_COMMAND_STDOUT. It offers the given one as the
# previous root password, and when root login fails with both (exit 4) it
# retries once with the one that was in effect. Every root password a full
# step ever applies was first given to both steps, so the password in
# effect is always one of the three candidates (current, given, in effect),
# even after failed or partial runs; the script never writes before it has
# logged in, so the retry is safe.
#
# The prune step runs before any mongod changes, so the container may not
# exist yet (a fresh cluster): then there is nothing to prune.
#
# Environment: RCHA_CONTAINER, RCHA_MODE, RCHA_IN_EFFECT_PREFIX (the line
# prefix with which the reconciler reports the root password in effect),
# RCHA_DESIRED, RCHA_ROOT_PASSWORD (secrets), PULUMI_COMMAND_STDOUT.
# shellcheck disable=SC2154 # RCHA_TMP is set by docker-prelude.sh
: "${RCHA_CONTAINER:?the mongod container name}" "${RCHA_MODE:?full or prune}" "${RCHA_IN_EFFECT_PREFIX:?}"
b64() { printf '%s' "$1" | base64 | tr -d '\n'; }
unb64() { printf '%s' "$1" | base64 -d 2>/dev/null || true; }
remember() { printf '%s\n%s\n' "$(b64 "$1")" "$(b64 "$RCHA_ROOT_PASSWORD")"; }
effect_before=$(unb64 "$(printf '%s\n' "${PULUMI_COMMAND_STDOUT:-}" | sed -n 1p)")
given_before=$(unb64 "$(printf '%s\n' "${PULUMI_COMMAND_STDOUT:-}" | sed -n 2p)")
if [ "$RCHA_MODE" = prune ] && ! docker inspect --type container "$RCHA_CONTAINER" >/dev/null 2>&1; then
  echo "rocketchat-ha: container $RCHA_CONTAINER does not exist yet: no replica-set member to remove" >&2
  remember "${effect_before:-$RCHA_ROOT_PASSWORD}"
  exit 0
fi
cat >"$RCHA_TMP/reconcile.js"
reconcile() {
  RCHA_ROOT_PASSWORD_PREVIOUS=$1
  export RCHA_ROOT_PASSWORD_PREVIOUS
  echo "rocketchat-ha: replica-set step ($RCHA_MODE) through container $RCHA_CONTAINER on $DOCKER_HOST" >&2
  # shellcheck disable=SC2016 # the inner script expands inside the container
  docker exec -i -e RCHA_DESIRED -e RCHA_ROOT_PASSWORD -e RCHA_ROOT_PASSWORD_PREVIOUS -e RCHA_IN_EFFECT_PREFIX "$RCHA_CONTAINER" sh -c '
f=$(mktemp); o=$(mktemp); r=$(mktemp)
cat >"$f"
{ mongosh --nodb --quiet --norc "$f"; echo $? >"$r"; } 2>&1 | tee "$o" >&2
rc=$(cat "$r")
last=$(tail -n 1 "$o")
case "$last" in "$RCHA_IN_EFFECT_PREFIX"*) printf "%s\n" "${last#"$RCHA_IN_EFFECT_PREFIX"}" ;; esac
rm -f "$f" "$o" "$r"
exit "$rc"' <"$RCHA_TMP/reconcile.js"
}
previous=$given_before
rc=0
in_effect=$(reconcile "$previous") || rc=$?
if [ "$rc" -eq 4 ] && [ -n "$effect_before" ] && [ "$effect_before" != "$given_before" ]; then
  echo "rocketchat-ha: retrying with the root password that was in effect after the last run" >&2
  previous=$effect_before
  rc=0
  in_effect=$(reconcile "$previous") || rc=$?
fi
[ "$rc" -eq 0 ] || exit "$rc"
case "$in_effect" in
  current) remember "$RCHA_ROOT_PASSWORD" ;;
  previous) remember "$previous" ;;
  *) echo "rocketchat-ha: the replica-set script did not say which root password is in effect" >&2; exit 1 ;;
esac
