# shellcheck shell=sh
# The backup job's commands, run inside the backup container (from the
# pinned mongo image, which ships mongodump, mongorestore and mongosh):
#
#   sh backup-run.sh backup          one backup now (the scheduler and
#                                    `rcha backup` run this)
#   sh backup-run.sh list            the archives: "local NAME BYTES EPOCH"
#                                    and "s3 NAME BYTES ISO-TIME" lines
#   sh backup-run.sh restore NAME    mongorestore NAME through the primary
#                                    (`rcha restore` runs this, after it has
#                                    stopped every Rocket.Chat server)
#
# A backup reads from a secondary when one is healthy (a member that says
# `secondary: true` to hello, which needs no login), else from the primary,
# and writes `mongodump --archive --gzip --oplog` to a hidden partial file;
# only a complete archive that gzip accepts is renamed to its final name,
# RS-YYYYMMDDTHHMMSSZ.archive.gz (UTC start time). It is then uploaded to S3
# when configured. Retention (keep the newest RCHA_BACKUP_KEEP) runs, locally
# and in S3, only after everything succeeded. On any failure the partial
# archive is deleted, the status says failed, and the exit code is not 0.
#
# Secrets are never on a command line: mongodump and mongorestore read the
# password from a YAML file (--config, mode 0600): the backup user's is
# installed with the container; the root password for a restore comes in
# the environment (RCHA_RESTORE_PASSWORD, docker exec -e NAME) and is
# written to a private temporary file.
#
# Environment: RCHA_BACKUP_DIR (the archive volume), RCHA_BACKUP_RS,
# RCHA_BACKUP_HOSTS (host:port,...), RCHA_BACKUP_USER, RCHA_BACKUP_CONFIG
# (the --config file), RCHA_BACKUP_KEEP, RCHA_BACKUP_LIB (this directory),
# optional RCHA_BACKUP_S3_CONFIG (the S3 settings file, mode 0600) and
# RCHA_BACKUP_S3_CLIENT (a program taking put/get/list/delete; by default
# backup-s3.js under mongosh).
set -eu
: "${RCHA_BACKUP_DIR:?}" "${RCHA_BACKUP_RS:?}" "${RCHA_BACKUP_HOSTS:?}" "${RCHA_BACKUP_USER:?}" "${RCHA_BACKUP_CONFIG:?}" "${RCHA_BACKUP_KEEP:?}"
LIB=${RCHA_BACKUP_LIB:-$(dirname "$0")}
say() { echo "rocketchat-ha backup: $*" >&2; }
STATE=$RCHA_BACKUP_DIR/.rocketchat-ha
mkdir -p "$STATE"

# s3 OP ARGS...: put KEY FILE | get KEY FILE | list | delete KEY. Keys are
# relative to the configured prefix.
s3() {
  if [ -n "${RCHA_BACKUP_S3_CLIENT:-}" ]; then
    "$RCHA_BACKUP_S3_CLIENT" "$@"
  else
    RCHA_S3_OP=$1 RCHA_S3_KEY=${2:-} RCHA_S3_FILE=${3:-} RCHA_S3_CONFIG=$RCHA_BACKUP_S3_CONFIG \
      mongosh --nodb --quiet --norc "$LIB/backup-s3.js"
  fi
}

# archives: the local archives of this replica set, oldest first (the
# names sort by time).
archives() {
  for f in "$RCHA_BACKUP_DIR/$RCHA_BACKUP_RS"-*.archive.gz; do
    [ -e "$f" ] && basename "$f"
  done | sort
}

# read_preference: secondary when a member answers hello as a secondary.
read_preference() {
  for h in $(printf '%s' "$RCHA_BACKUP_HOSTS" | tr ',' ' '); do
    if mongosh --quiet --norc "mongodb://$h/?directConnection=true&serverSelectionTimeoutMS=5000" \
      --eval 'quit(db.hello().secondary === true ? 0 : 1)' >/dev/null 2>&1; then
      say "$h is a healthy secondary: reading with readPreference=secondary"
      echo secondary
      return
    fi
  done
  say "no healthy secondary answers: reading from the primary (readPreference=primary)"
  echo primary
}

# status RESULT NAME BYTES SECONDS MESSAGE: the status file and the metrics
# file (Prometheus text format, served by backup-metrics.js), both replaced
# atomically. The last success survives a failure.
status() {
  now=$(date -u +%s)
  last_ok=0 last_size=0 last_dur=0 last_name=
  if [ -f "$STATE/last-success" ]; then
    read -r last_ok last_size last_dur last_name <"$STATE/last-success" || true
  fi
  if [ "$1" = ok ]; then
    last_ok=$now last_size=$3 last_dur=$4 last_name=$2
    printf '%s %s %s %s\n' "$now" "$3" "$4" "$2" >"$STATE/last-success.tmp"
    mv "$STATE/last-success.tmp" "$STATE/last-success"
  else
    echo "$now" >"$STATE/last-failure"
  fi
  last_fail=$(cat "$STATE/last-failure" 2>/dev/null || echo 0)
  count=$(archives | wc -l | tr -d ' ')
  msg=$(printf '%s' "$5" | tr -d '\042\134\n')
  printf '{"result":"%s","time":%s,"archive":"%s","bytes":%s,"seconds":%s,"message":"%s","lastSuccess":%s,"lastSuccessArchive":"%s","archives":%s}\n' \
    "$1" "$now" "$2" "$3" "$4" "$msg" "$last_ok" "$last_name" "$count" >"$STATE/status.json.tmp"
  mv "$STATE/status.json.tmp" "$RCHA_BACKUP_DIR/status.json"
  since=$(cat "$STATE/since" 2>/dev/null || echo "$now")
  {
    echo '# HELP rcha_backup_last_success_timestamp_seconds Unix time of the last successful backup (0: none yet).'
    echo '# TYPE rcha_backup_last_success_timestamp_seconds gauge'
    echo "rcha_backup_last_success_timestamp_seconds $last_ok"
    echo '# HELP rcha_backup_last_success_size_bytes Size of the archive of the last successful backup.'
    echo '# TYPE rcha_backup_last_success_size_bytes gauge'
    echo "rcha_backup_last_success_size_bytes $last_size"
    echo '# HELP rcha_backup_last_success_duration_seconds How long the last successful backup took.'
    echo '# TYPE rcha_backup_last_success_duration_seconds gauge'
    echo "rcha_backup_last_success_duration_seconds $last_dur"
    echo '# HELP rcha_backup_last_failure_timestamp_seconds Unix time of the last failed backup (0: none).'
    echo '# TYPE rcha_backup_last_failure_timestamp_seconds gauge'
    echo "rcha_backup_last_failure_timestamp_seconds $last_fail"
    echo '# HELP rcha_backup_last_run_success 1 when the last backup succeeded, else 0.'
    echo '# TYPE rcha_backup_last_run_success gauge'
    if [ "$1" = ok ]; then echo 'rcha_backup_last_run_success 1'; else echo 'rcha_backup_last_run_success 0'; fi
    echo '# HELP rcha_backup_archives Number of archives in the local volume.'
    echo '# TYPE rcha_backup_archives gauge'
    echo "rcha_backup_archives $count"
    echo '# HELP rcha_backup_since_timestamp_seconds Unix time the backup job first started on this volume.'
    echo '# TYPE rcha_backup_since_timestamp_seconds gauge'
    echo "rcha_backup_since_timestamp_seconds $since"
  } >"$STATE/metrics.prom.tmp"
  mv "$STATE/metrics.prom.tmp" "$STATE/metrics.prom"
}

# lock: one backup or restore at a time in this container.
lock() {
  if ! mkdir "$STATE/lock" 2>/dev/null; then
    say "another backup or restore is running (lock $STATE/lock, taken at $(cat "$STATE/lock/since" 2>/dev/null || echo '?')); try again when it is done"
    exit 75
  fi
  date -u +%Y-%m-%dT%H:%M:%SZ >"$STATE/lock/since"
}
unlock() { rm -rf "$STATE/lock"; }

do_backup() {
  lock
  start=$(date -u +%s)
  name=$RCHA_BACKUP_RS-$(date -u +%Y%m%dT%H%M%SZ).archive.gz
  while [ -e "$RCHA_BACKUP_DIR/$name" ]; do
    sleep 1
    name=$RCHA_BACKUP_RS-$(date -u +%Y%m%dT%H%M%SZ).archive.gz
  done
  partial=$RCHA_BACKUP_DIR/.$name.partial
  ok=0 stage=mongodump
  # On any exit before success: no partial archive is left, the status says
  # what failed.
  trap 'if [ "$ok" = 0 ]; then rm -f "$partial"; status failed "$name" 0 $(( $(date -u +%s) - start )) "$stage failed"; say "FAILED at $stage: $name was not kept"; fi; unlock' EXIT
  trap 'exit 143' TERM INT
  pref=$(read_preference)
  uri="mongodb://$RCHA_BACKUP_USER@$RCHA_BACKUP_HOSTS/?authSource=admin&replicaSet=$RCHA_BACKUP_RS&readPreference=$pref"
  say "writing $name ($uri)"
  mongodump --config="$RCHA_BACKUP_CONFIG" --uri="$uri" --archive="$partial" --gzip --oplog
  stage="archive check"
  gzip -t "$partial"
  mv "$partial" "$RCHA_BACKUP_DIR/$name"
  bytes=$(wc -c <"$RCHA_BACKUP_DIR/$name" | tr -d ' ')
  say "wrote $name ($bytes bytes)"
  if [ -n "${RCHA_BACKUP_S3_CONFIG:-}" ]; then
    stage="S3 upload"
    say "uploading $name to S3"
    s3 put "$name" "$RCHA_BACKUP_DIR/$name"
  fi
  # Retention, after success only: the newest RCHA_BACKUP_KEEP are kept.
  stage=retention
  archives | sort -r | tail -n +"$((RCHA_BACKUP_KEEP + 1))" | while read -r old; do
    say "retention: deleting $old"
    rm -f "$RCHA_BACKUP_DIR/$old"
  done
  if [ -n "${RCHA_BACKUP_S3_CONFIG:-}" ]; then
    stage="S3 retention"
    objects=$(s3 list)
    printf '%s\n' "$objects" | awk '{print $1}' | grep -E "^$RCHA_BACKUP_RS-[0-9]{8}T[0-9]{6}Z\.archive\.gz\$" | sort -r | tail -n +"$((RCHA_BACKUP_KEEP + 1))" | while read -r old; do
      say "S3 retention: deleting $old"
      s3 delete "$old"
    done
  fi
  ok=1
  status ok "$name" "$bytes" $(( $(date -u +%s) - start )) "backup succeeded"
  say "done: $name, $bytes bytes, in $(( $(date -u +%s) - start ))s"
}

do_list() {
  archives | while read -r a; do
    f=$RCHA_BACKUP_DIR/$a
    printf 'local %s %s %s\n' "$a" "$(wc -c <"$f" | tr -d ' ')" "$(date -u -r "$f" +%s)"
  done
  if [ -n "${RCHA_BACKUP_S3_CONFIG:-}" ]; then
    objects=$(s3 list)
    printf '%s\n' "$objects" | while read -r key bytes when; do
      case "$key" in "$RCHA_BACKUP_RS"-*.archive.gz) printf 's3 %s %s %s\n' "$key" "$bytes" "$when" ;; esac
    done
  fi
}

do_restore() {
  name=$1
  case "$name" in
    "$RCHA_BACKUP_RS"-*.archive.gz) ;;
    *) say "$name is not an archive of replica set $RCHA_BACKUP_RS (want $RCHA_BACKUP_RS-YYYYMMDDTHHMMSSZ.archive.gz)"; exit 64 ;;
  esac
  case "$name" in */*) say "$name: a name, not a path"; exit 64 ;; esac
  : "${RCHA_RESTORE_PASSWORD:?the root password, in the environment}"
  lock
  tmp=$(umask 077 && mktemp -d)
  trap 'rm -rf "$tmp"; unlock' EXIT
  file=$RCHA_BACKUP_DIR/$name
  if [ ! -f "$file" ]; then
    if [ -z "${RCHA_BACKUP_S3_CONFIG:-}" ]; then
      say "$name is not in $RCHA_BACKUP_DIR and no S3 is configured"
      exit 66
    fi
    say "$name is not local: downloading it from S3"
    file=$tmp/$name
    s3 get "$name" "$file"
  fi
  gzip -t "$file"
  (umask 077 && printf 'password: "%s"\n' "$(printf '%s' "$RCHA_RESTORE_PASSWORD" | sed 's/[\\"]/\\&/g')" >"$tmp/restore.yaml")
  uri="mongodb://${RCHA_RESTORE_USER:-root}@$RCHA_BACKUP_HOSTS/?authSource=admin&replicaSet=$RCHA_BACKUP_RS&readPreference=primary"
  say "restoring $name through the primary ($uri)"
  mongorestore --config="$tmp/restore.yaml" --uri="$uri" --archive="$file" --gzip --drop --oplogReplay
  say "restored $name"
}

cmd=${1:-backup}
case "$cmd" in
  backup) do_backup ;;
  list) do_list ;;
  restore) [ $# -eq 2 ] || { say "usage: restore NAME"; exit 64; }; do_restore "$2" ;;
  *) say "unknown command $cmd (want backup, list or restore NAME)"; exit 64 ;;
esac
