#!/bin/sh
# A stand-in for the docker CLI calls the command steps make, for tests
# that run the steps' real shell text on this machine:
#   docker inspect --type container [--format '{{.State.Running}}'] NAME
#       succeeds when NAME is listed in $RCHA_FAKE_CONTAINERS (printing
#       true, or false when NAME is also in $RCHA_FAKE_STOPPED), else fails
#       with the docker CLI's "No such container" text;
#   docker exec -i [-e NAME | -e NAME=VALUE]... CONTAINER cmd...
#       records CONTAINER in $RCHA_FAKE_DOCKER_LOG and runs cmd here, with
#       RCHA_FAKE_EXEC_CONTAINER=CONTAINER (the -e NAME variables are
#       already in the environment; -e NAME=VALUE ones are exported; -u USER
#       is ignored).
#       With $RCHA_FAKE_EXEC_ROOT set, an argument /etc/rocketchat-ha/...
#       (a file the component installs in a container) is read under it.
#   docker kill --signal SIG CONTAINER
#       records "kill SIG CONTAINER" and sends SIG to $RCHA_FAKE_KILL_PID
#       when it is set (a local process standing in for the container).
#   docker inspect --type container --format '{{.State.Status}}' NAME
#       prints running (exited when NAME is in $RCHA_FAKE_STOPPED);
#   docker inspect --type container --format '{{.State.Health.Status}}' NAME
#       prints NAME's entry of $RCHA_FAKE_HEALTH (NAME=STATUS ...), else
#       healthy;
#   docker stop [--time N] NAME, docker start NAME
#       succeed for a NAME listed in $RCHA_FAKE_CONTAINERS.
# When $RCHA_FAKE_DOCKER_CALLS is set, every call is appended to it as one
# line, "DOCKER_HOST args...". A call fails with "Error response from
# daemon" when "COMMAND:NAME" (for exec: exec:CONTAINER) is listed in
# $RCHA_FAKE_FAIL.
# Every call fails as the docker CLI does when $DOCKER_HOST is listed in
# $RCHA_FAKE_DOWN_HOSTS (a host that does not answer).
if [ -n "${RCHA_FAKE_DOCKER_CALLS:-}" ]; then
  echo "${DOCKER_HOST:-} $*" >>"$RCHA_FAKE_DOCKER_CALLS"
fi
for h in ${RCHA_FAKE_DOWN_HOSTS:-}; do
  if [ "$h" = "${DOCKER_HOST:-}" ]; then
    echo "Cannot connect to the Docker daemon at $DOCKER_HOST. Is the docker daemon running?" >&2
    exit 1
  fi
done
# fake_fails CMD NAME: CMD:NAME is listed in $RCHA_FAKE_FAIL.
fake_fails() {
  for f in ${RCHA_FAKE_FAIL:-}; do
    if [ "$f" = "$1:$2" ]; then
      echo "Error response from daemon: fake failure of $1 $2" >&2
      return 0
    fi
  done
  return 1
}
fake_known() {
  for c in ${RCHA_FAKE_CONTAINERS:-}; do [ "$c" = "$1" ] && return 0; done
  echo "Error response from daemon: No such container: $1" >&2
  return 1
}
case "$1" in
stop|start)
  cmd=$1
  shift
  while [ $# -gt 1 ]; do
    case "$1" in --time|-t) shift 2 ;; *) break ;; esac
  done
  fake_known "$1" || exit 1
  fake_fails "$cmd" "$1" && exit 1
  echo "$1"; exit 0 ;;
inspect)
  format=''
  while [ $# -gt 1 ]; do
    case "$1" in --format) format=$2; shift 2 ;; *) shift ;; esac
  done
  for c in ${RCHA_FAKE_CONTAINERS:-}; do
    if [ "$c" = "$1" ]; then
      case "$format" in
      '{{.State.Health.Status}}')
        h=healthy
        for p in ${RCHA_FAKE_HEALTH:-}; do case "$p" in "$1="*) h=${p#*=} ;; esac; done
        echo "$h"; exit 0 ;;
      '{{.State.Status}}')
        st=running
        for s in ${RCHA_FAKE_STOPPED:-}; do [ "$s" = "$1" ] && st=exited; done
        echo "$st"; exit 0 ;;
      esac
      if [ -n "$format" ]; then
        running=true
        for s in ${RCHA_FAKE_STOPPED:-}; do [ "$s" = "$1" ] && running=false; done
        echo "$running"
      fi
      exit 0
    fi
  done
  echo "Error: No such container: $1" >&2; exit 1 ;;
exec)
  shift
  while [ $# -gt 0 ]; do
    case "$1" in
      -i) shift ;;
      -u) shift 2 ;;
      -e) case "$2" in *=*) export "${2?}" ;; esac; shift 2 ;;
      *) break ;;
    esac
  done
  fake_fails exec "$1" && exit 1
  echo "$1" >>"$RCHA_FAKE_DOCKER_LOG"
  RCHA_FAKE_EXEC_CONTAINER=$1
  export RCHA_FAKE_EXEC_CONTAINER
  shift
  # Files the component installs in containers, under a test's directory.
  if [ -n "${RCHA_FAKE_EXEC_ROOT:-}" ]; then
    for a do
      shift
      case "$a" in /etc/rocketchat-ha/*) a=$RCHA_FAKE_EXEC_ROOT$a ;; esac
      set -- "$@" "$a"
    done
  fi
  exec "$@" ;;
kill)
  [ "$2" = --signal ] || { echo "fake docker: kill wants --signal SIG NAME" >&2; exit 2; }
  echo "kill $3 $4" >>"$RCHA_FAKE_DOCKER_LOG"
  if [ -n "${RCHA_FAKE_KILL_PID:-}" ]; then kill -s "$3" "$RCHA_FAKE_KILL_PID"; fi
  echo "$4"
  exit 0 ;;
esac
echo "fake docker: unsupported: $*" >&2; exit 2
