# shellcheck shell=sh
# A replica-set step, after docker-prelude.sh. It runs the embedded mongosh
# reconciler (given on stdin) in mode $RCHA_MODE (full, prune or force)
# inside the mongod container of one node (see below). Secrets reach mongosh only through the
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
# Which node it runs through: the first node, in list order, whose Docker
# host answers and whose mongod is PRIMARY or SECONDARY (asked with the
# reconciler's probe mode, which needs no password). A node that is new and
# empty (no container yet, or a mongod in no replica set) is skipped. When
# no node is a member: if every node answered and is empty, the cluster is
# fresh (the prune step has nothing to do, the full step initiates through
# node 0); otherwise the step refuses, because a node that does not answer
# may hold the replica set and initiating would start a second one. "No
# such container" is the only docker error taken as "not there yet"; any
# other error (the host does not answer, TLS, permissions) counts as a node
# that does not answer.
#
# Environment: RCHA_NODES (one line per node, in list order: name, docker
# host, mongod container, mongod port, separated by spaces), for a tcp://
# node with TLS RCHA_DOCKER_CA_<i>, RCHA_DOCKER_CERT_<i>, RCHA_DOCKER_KEY_<i>
# (i from 0, secrets), RCHA_MODE (full, prune or force),
# RCHA_IN_EFFECT_PREFIX (the line prefix with which the reconciler reports
# the root password in effect), RCHA_DESIRED, RCHA_ROOT_PASSWORD (secrets),
# PULUMI_COMMAND_STDOUT; for the prune step RCHA_ROCKETCHAT_TARGET (the
# target major.minor, empty when the image tag has none),
# RCHA_ROCKETCHAT_CONTAINERS (in node order) and RCHA_ROCKETCHAT_INFO (the
# node script that prints /api/info's version).
: "${RCHA_NODES:?one line per node: name host container port}" "${RCHA_MODE:?full, prune or force}" "${RCHA_IN_EFFECT_PREFIX:?}"
b64() { printf '%s' "$1" | base64 | tr -d '\n'; }
unb64() { printf '%s' "$1" | base64 -d 2>/dev/null || true; }
remember() { printf '%s\n%s\n' "$(b64 "$1")" "$(b64 "$RCHA_ROOT_PASSWORD")"; }
say() { echo "rocketchat-ha: $*" >&2; }
effect_before=$(unb64 "$(printf '%s\n' "${PULUMI_COMMAND_STDOUT:-}" | sed -n 1p)")
given_before=$(unb64 "$(printf '%s\n' "${PULUMI_COMMAND_STDOUT:-}" | sed -n 2p)")
cat >"$RCHA_TMP/reconcile.js"

# use_node I: NODE_NAME, NODE_HOST, NODE_CONTAINER, NODE_PORT of node I,
# and the docker CLI pointed at its host.
use_node() {
  # shellcheck disable=SC2046 # the line's fields hold no spaces
  set -- $(printf '%s\n' "$RCHA_NODES" | sed -n "$(($1 + 1))p") "$1"
  NODE_NAME=$1 NODE_HOST=$2 NODE_CONTAINER=$3 NODE_PORT=$4
  eval "ca=\${RCHA_DOCKER_CA_$5:-} cert=\${RCHA_DOCKER_CERT_$5:-} key=\${RCHA_DOCKER_KEY_$5:-}"
  # shellcheck disable=SC2154 # set by the eval above
  use_host "$NODE_HOST" "$ca" "$cert" "$key"
}

# in_container CMD...: run the reconciler (stdin) in the node's mongod
# container with the given environment names, printing its output.
in_container() {
  # shellcheck disable=SC2016 # the inner script expands inside the container
  docker exec -i "$@" -e RCHA_LOCAL="127.0.0.1:$NODE_PORT" "$NODE_CONTAINER" sh -c '
f=$(mktemp); o=$(mktemp); r=$(mktemp)
cat >"$f"
{ mongosh --nodb --quiet --norc "$f"; echo $? >"$r"; } 2>&1 | tee "$o" >&2
rc=$(cat "$r")
last=$(tail -n 1 "$o")
case "$last" in "$RCHA_IN_EFFECT_PREFIX"*) printf "%s\n" "${last#"$RCHA_IN_EFFECT_PREFIX"}" ;; esac
rm -f "$f" "$o" "$r"
exit "$rc"' <"$RCHA_TMP/reconcile.js"
}

# probe I prints what node I is: PRIMARY, SECONDARY, EMPTY (mongod in no
# replica set), OTHER (in a set, but neither), absent (no container), or
# "down: REASON" (the host or mongod does not answer).
probe() {
  use_node "$1"
  if ! out=$(docker inspect --type container --format '{{.State.Running}}' "$NODE_CONTAINER" 2>&1); then
    case "$out" in
      *"No such container"* | *"No such object"*) echo absent ;;
      *) echo "down: its Docker host $NODE_HOST does not answer: $(printf '%s\n' "$out" | head -n 1)" ;;
    esac
    return
  fi
  if [ "$out" != true ]; then
    echo "down: its container $NODE_CONTAINER is not running"
    return
  fi
  if ! res=$(in_container -e RCHA_PROBE=1 2>&1); then
    echo "down: its mongod does not answer: $(printf '%s\n' "$res" | tail -n 1)"
    return
  fi
  state=$(printf '%s\n' "$res" | sed -n 's/^rcha-reconcile: probe: //p' | tail -n 1)
  case "$state" in
    PRIMARY | SECONDARY | EMPTY | OTHER) echo "$state" ;;
    *) echo "down: its mongod gave no probe answer" ;;
  esac
}

# Rocket.Chat's upgrade path, checked by the prune step before any
# container changes: one major release at a time (each major drops the
# migrations of the one before it), never back to an older major. The
# running version is what the first server that answers reports on
# /api/info ("X.Y" without a login).
if [ "$RCHA_MODE" != full ] && [ -n "${RCHA_ROCKETCHAT_TARGET:-}" ]; then
  running='' from='' i=0
  for c in ${RCHA_ROCKETCHAT_CONTAINERS:-}; do
    use_node "$i"
    if v=$(docker exec "$c" node -e "$RCHA_ROCKETCHAT_INFO" 2>/dev/null) && [ -n "$v" ]; then
      running=$v from="$NODE_NAME ($c)"
      break
    fi
    i=$((i + 1))
  done
  rmajor=${running%%.*} tmajor=${RCHA_ROCKETCHAT_TARGET%%.*}
  case "$rmajor" in
    '') say "no Rocket.Chat server answers /api/info (a fresh cluster, or none running): the Rocket.Chat upgrade path is not checked" ;;
    *[!0-9]*) say "Rocket.Chat on $from reports version \"$running\": the upgrade path is not checked" ;;
    *)
      if [ "$tmajor" -gt $((rmajor + 1)) ]; then
        say "Rocket.Chat upgrades one major release at a time: $from runs $running, the target is $RCHA_ROCKETCHAT_TARGET. Upgrade to the newest $((rmajor + 1)).x release first (its database migrations cannot be skipped). Nothing was changed."
        exit 1
      fi
      if [ "$tmajor" -lt "$rmajor" ]; then
        say "Rocket.Chat cannot go back a major release: $from runs $running, the target is $RCHA_ROCKETCHAT_TARGET, and the database has been migrated. Restore a backup taken before the upgrade instead. Nothing was changed."
        exit 1
      fi
      say "Rocket.Chat $running on $from to $RCHA_ROCKETCHAT_TARGET: an allowed step" ;;
  esac
fi

count=$(printf '%s\n' "$RCHA_NODES" | grep -c .)
through='' fresh=1 first=''
i=0
while [ "$i" -lt "$count" ]; do
  what=$(probe "$i")
  name=$(printf '%s\n' "$RCHA_NODES" | sed -n "$((i + 1))p" | cut -d' ' -f1)
  [ -n "$first" ] || first=$what
  case "$what" in
    PRIMARY | SECONDARY) through=$i; break ;;
    absent) say "$name: no mongod container yet" ;;
    EMPTY) say "$name: its mongod is in no replica set yet" ;;
    OTHER) fresh=0; say "$name: its mongod is in the replica set but neither primary nor secondary" ;;
    *) fresh=0; say "$name: ${what#down: }" ;;
  esac
  i=$((i + 1))
done
if [ -z "$through" ]; then
  if [ "$fresh" = 0 ]; then
    say "no node answers as a member of the replica set: refusing to run the $RCHA_MODE step (a node that does not answer may hold the replica set; initiating another could start a second one)"
    exit 1
  fi
  case "$RCHA_MODE" in
    prune)
      say "no replica set yet (a fresh cluster): no member to remove"
      remember "${effect_before:-$RCHA_ROOT_PASSWORD}"
      exit 0 ;;
    full)
      if [ "$first" != EMPTY ]; then
        say "the first node's mongod is not running: cannot initiate the replica set"
        exit 1
      fi
      through=0 ;;
    *)
      say "no member of the replica set answers: nothing to reconfigure"
      exit 1 ;;
  esac
fi
use_node "$through"
reconcile() {
  RCHA_ROOT_PASSWORD_PREVIOUS=$1
  export RCHA_ROOT_PASSWORD_PREVIOUS
  say "replica-set step ($RCHA_MODE) through $NODE_NAME (container $NODE_CONTAINER on $NODE_HOST)"
  in_container -e RCHA_DESIRED -e RCHA_ROOT_PASSWORD -e RCHA_ROOT_PASSWORD_PREVIOUS -e RCHA_IN_EFFECT_PREFIX
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
