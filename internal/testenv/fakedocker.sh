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
#       is ignored);
#   docker kill --signal SIG CONTAINER
#       records "kill SIG CONTAINER" and sends SIG to $RCHA_FAKE_KILL_PID
#       when it is set (a local process standing in for the container).
# Every call fails as the docker CLI does when $DOCKER_HOST is listed in
# $RCHA_FAKE_DOWN_HOSTS (a host that does not answer).
for h in ${RCHA_FAKE_DOWN_HOSTS:-}; do
  if [ "$h" = "${DOCKER_HOST:-}" ]; then
    echo "Cannot connect to the Docker daemon at $DOCKER_HOST. Is the docker daemon running?" >&2
    exit 1
  fi
done
case "$1" in
inspect)
  format=''
  while [ $# -gt 1 ]; do
    case "$1" in --format) format=$2; shift 2 ;; *) shift ;; esac
  done
  for c in ${RCHA_FAKE_CONTAINERS:-}; do
    if [ "$c" = "$1" ]; then
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
  echo "$1" >>"$RCHA_FAKE_DOCKER_LOG"
  RCHA_FAKE_EXEC_CONTAINER=$1
  export RCHA_FAKE_EXEC_CONTAINER
  shift
  exec "$@" ;;
kill)
  [ "$2" = --signal ] || { echo "fake docker: kill wants --signal SIG NAME" >&2; exit 2; }
  echo "kill $3 $4" >>"$RCHA_FAKE_DOCKER_LOG"
  if [ -n "${RCHA_FAKE_KILL_PID:-}" ]; then kill -s "$3" "$RCHA_FAKE_KILL_PID"; fi
  echo "$4"
  exit 0 ;;
esac
echo "fake docker: unsupported: $*" >&2; exit 2
