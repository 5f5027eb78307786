# shellcheck shell=sh
# The load balancer's config step, after docker-prelude.sh. It writes the
# configuration (and certificate) from the environment into the running
# load balancer $RCHA_CONTAINER, keeps the previous files if `nginx -t`
# rejects the new ones, and reloads nginx gracefully: old workers finish their
# open connections, including websockets.
#
# Environment: RCHA_CONTAINER, RCHA_NGINX_CONF, and RCHA_TLS_CERT and
# RCHA_TLS_KEY with TLS. RCHA_NGINX_DIR is never passed into the container;
# it lets the nginx test tier run this script against a local nginx prefix
# through a stand-in docker command.
: "${RCHA_CONTAINER:?the load balancer container name}"
echo "rocketchat-ha: loading the load balancer config into $RCHA_CONTAINER on $DOCKER_HOST"
# shellcheck disable=SC2016 # the inner script expands inside the container
docker exec -i -e RCHA_NGINX_CONF -e RCHA_TLS_CERT -e RCHA_TLS_KEY "$RCHA_CONTAINER" sh -c '
set -eu
cd "${RCHA_NGINX_DIR:-/etc/nginx}"
umask 077
files="nginx.conf tls/tls.crt tls/tls.key"
for f in $files; do if [ -f "$f" ]; then cp -p "$f" "$f.rcha-prev"; fi; done
mkdir -p tls
printf "%s" "$RCHA_NGINX_CONF" >nginx.conf
if [ -n "${RCHA_TLS_CERT:-}" ]; then
  printf "%s" "$RCHA_TLS_CERT" >tls/tls.crt
  printf "%s" "$RCHA_TLS_KEY" >tls/tls.key
fi
if ! nginx -t; then
  for f in $files; do if [ -f "$f.rcha-prev" ]; then mv "$f.rcha-prev" "$f"; fi; done
  echo "rocketchat-ha: nginx -t rejected the new config; the running one stays" >&2
  exit 1
fi
for f in $files; do rm -f "$f.rcha-prev"; done
nginx -s reload
echo "rocketchat-ha: load balancer reloaded"
' 2>&1
