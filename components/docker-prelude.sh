# shellcheck shell=sh
# Prelude of every command step's script. The steps run on the machine
# running pulumi and reach a node with its docker CLI (DOCKER_HOST comes from
# the step's environment). It makes a private temporary directory, $RCHA_TMP,
# removed on exit; for a tcp:// host it writes the TLS material from the
# (secret) environment into it, so no key is on a command line.
set -eu
RCHA_TMP=$(mktemp -d)
trap 'rm -rf "$RCHA_TMP"' EXIT
if [ -n "${RCHA_DOCKER_CA:-}" ]; then
  DOCKER_CERT_PATH="$RCHA_TMP/docker-certs"
  (umask 077
   mkdir "$DOCKER_CERT_PATH"
   printf '%s' "$RCHA_DOCKER_CA" >"$DOCKER_CERT_PATH/ca.pem"
   printf '%s' "$RCHA_DOCKER_CERT" >"$DOCKER_CERT_PATH/cert.pem"
   printf '%s' "$RCHA_DOCKER_KEY" >"$DOCKER_CERT_PATH/key.pem")
  DOCKER_TLS_VERIFY=1
  export DOCKER_CERT_PATH DOCKER_TLS_VERIFY
fi
