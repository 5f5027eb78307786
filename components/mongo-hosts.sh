# shellcheck shell=sh
# A mongod's hosts step, after docker-prelude.sh. It gives the running
# mongod container $RCHA_CONTAINER the cluster's current name-to-address
# entries ($RCHA_HOSTS, "address name" lines) without restarting it: it
# stores them in the container (/etc/rocketchat-ha/hosts) and applies them
# to /etc/hosts with the installed mongo-apply-hosts.sh, which the
# container's entrypoint also runs on every start. So a scale event or a
# retired node never restarts a mongod: in a set that has just lost a
# member, restarting its only voter would leave it without a primary.
#
# Environment: RCHA_CONTAINER, RCHA_HOSTS.
: "${RCHA_CONTAINER:?the mongod container name}"
echo "rocketchat-ha: updating the member host names in $RCHA_CONTAINER on $DOCKER_HOST"
# shellcheck disable=SC2016 # the inner script expands inside the container
docker exec -i -e RCHA_HOSTS "$RCHA_CONTAINER" sh -c '
set -eu
mkdir -p /etc/rocketchat-ha
printf "%s" "$RCHA_HOSTS" >/etc/rocketchat-ha/hosts.new
mv /etc/rocketchat-ha/hosts.new /etc/rocketchat-ha/hosts
sh /etc/rocketchat-ha/apply-hosts.sh
' 2>&1
echo "rocketchat-ha: member host names updated"
