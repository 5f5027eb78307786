# shellcheck shell=sh
# The backup container's main process. A container has no cron daemon, so
# this loop wakes at the start of every minute and runs one backup
# (backup-run.sh) when the current UTC minute matches RCHA_BACKUP_SCHEDULE
# (backup-cron.sh, which means what components.ParseCron means). It also
# starts the metrics server (backup-metrics.js under mongosh) and touches
# a heartbeat file that the container's healthcheck reads.
#
# A backup that is still running when the next matching minute comes is not
# started twice (backup-run.sh holds a lock); a minute is never run twice.
set -eu
: "${RCHA_BACKUP_SCHEDULE:?}" "${RCHA_BACKUP_DIR:?}"
LIB=${RCHA_BACKUP_LIB:-$(dirname "$0")}
# shellcheck source=components/backup-cron.sh
. "$LIB/backup-cron.sh"
say() { echo "rocketchat-ha backup scheduler: $*" >&2; }
STATE=$RCHA_BACKUP_DIR/.rocketchat-ha
mkdir -p "$STATE"
[ -f "$STATE/since" ] || date -u +%s >"$STATE/since"
# A lock left by a container that was stopped mid-backup: nothing else runs
# in this container yet.
rm -rf "$STATE/lock"
if [ -n "${RCHA_BACKUP_METRICS_PORT:-}" ]; then
  RCHA_METRICS_FILE=$STATE/metrics.prom RCHA_SINCE_FILE=$STATE/since mongosh --nodb --quiet --norc "$LIB/backup-metrics.js" &
fi
say "schedule \"$RCHA_BACKUP_SCHEDULE\" (UTC), keep ${RCHA_BACKUP_KEEP:-?}"
last=''
while :; do
  date -u +%s >"${RCHA_BACKUP_HEARTBEAT:-/tmp/rocketchat-ha-backup-alive}"
  # shellcheck disable=SC2046 # five numbers
  set -- $(date -u '+%M %H %d %m %w %Y%m%d%H%M')
  if [ "$6" != "$last" ] && cron_match "$RCHA_BACKUP_SCHEDULE" "$1" "$2" "$3" "$4" "$5"; then
    last=$6
    say "scheduled backup for $6 (UTC) starting"
    if sh "$LIB/backup-run.sh" backup; then
      say "scheduled backup succeeded"
    else
      say "scheduled backup FAILED (exit $?); see the lines above and $RCHA_BACKUP_DIR/status.json"
    fi
  fi
  [ -n "${RCHA_BACKUP_ONCE:-}" ] && exit 0
  sleep $((60 - $(date -u +%S | sed 's/^0//')))
done
