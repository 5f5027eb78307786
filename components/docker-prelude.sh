# shellcheck shell=sh
# Prelude of every command step's script. The steps run on the machine
# running pulumi and reach a node with its docker CLI. It makes a private
# temporary directory, $RCHA_TMP, removed on exit, and defines use_host,
# which points the docker CLI at one host; a step that talks to one host
# (DOCKER_HOST in its environment) is pointed at it here.
set -eu
RCHA_TMP=$(mktemp -d)
trap 'rm -rf "$RCHA_TMP"' EXIT
# use_host HOST CA CERT KEY: DOCKER_HOST=HOST; for a tcp:// host with TLS
# material, the material goes into a private directory under $RCHA_TMP
# (from the secret environment, so no key is on a command line).
use_host() {
  DOCKER_HOST=$1
  export DOCKER_HOST
  unset DOCKER_CERT_PATH DOCKER_TLS_VERIFY
  if [ -n "$2" ]; then
    DOCKER_CERT_PATH=$(umask 077 && mktemp -d "$RCHA_TMP/certs.XXXXXX")
    (umask 077
     printf '%s' "$2" >"$DOCKER_CERT_PATH/ca.pem"
     printf '%s' "$3" >"$DOCKER_CERT_PATH/cert.pem"
     printf '%s' "$4" >"$DOCKER_CERT_PATH/key.pem")
    DOCKER_TLS_VERIFY=1
    export DOCKER_CERT_PATH DOCKER_TLS_VERIFY
  fi
}
if [ -n "${DOCKER_HOST:-}" ]; then
  use_host "$DOCKER_HOST" "${RCHA_DOCKER_CA:-}" "${RCHA_DOCKER_CERT:-}" "${RCHA_DOCKER_KEY:-}"
fi
