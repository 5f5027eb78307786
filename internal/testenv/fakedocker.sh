#!/bin/sh
# A stand-in for the two docker CLI calls the command steps make, for tests
# that run the steps' real shell text on this machine:
#   docker inspect --type container NAME
#       succeeds when NAME is listed in $RCHA_FAKE_CONTAINERS, else fails
#       with the daemon's "No such container" text;
#   docker exec -i -e NAME... CONTAINER cmd...
#       records CONTAINER in $RCHA_FAKE_DOCKER_LOG and runs cmd here (the
#       -e variables are already in the environment).
case "$1" in
inspect)
  for c in ${RCHA_FAKE_CONTAINERS:-}; do [ "$c" = "$4" ] && exit 0; done
  echo "Error: No such container: $4" >&2; exit 1 ;;
exec)
  shift
  while [ $# -gt 0 ]; do
    case "$1" in -i) shift ;; -e) shift 2 ;; *) break ;; esac
  done
  echo "$1" >>"$RCHA_FAKE_DOCKER_LOG"
  shift
  exec "$@" ;;
esac
echo "fake docker: unsupported: $*" >&2; exit 2
