# shellcheck shell=sh
# The backup scheduler's cron matcher, sourced by backup-scheduler.sh. It
# means what components.ParseCron means (a test runs both on the same
# expressions and times): five fields, each a comma list of `*`, N, N-M,
# with an optional /STEP (N/STEP is N to the field's maximum); day of week
# 0-7, Sunday 0 or 7; when both day fields are restricted (neither starts
# with `*`) a day matches when either does, else both must. The expression
# was validated (and a macro expanded) before it reached the container.

# cron_field_match FIELD VALUE MIN MAX: VALUE is one of FIELD's values.
cron_field_match() {
  _f=$1 _v=$2 _min=$3 _max=$4
  _rest=$_f
  while [ -n "$_rest" ]; do
    _item=${_rest%%,*}
    case "$_rest" in *,*) _rest=${_rest#*,} ;; *) _rest='' ;; esac
    _step=1
    case "$_item" in */*) _step=${_item#*/} _item=${_item%%/*} _stepped=1 ;; *) _stepped=0 ;; esac
    case "$_item" in
      '*') _lo=$_min _hi=$_max ;;
      *-*) _lo=${_item%-*} _hi=${_item#*-} ;;
      *) _lo=$_item
         if [ "$_stepped" = 1 ]; then _hi=$_max; else _hi=$_item; fi ;;
    esac
    cron_num "$_lo"; _lo=$_n
    cron_num "$_hi"; _hi=$_n
    cron_num "$_step"; _step=$_n
    if [ "$_v" -ge "$_lo" ] && [ "$_v" -le "$_hi" ] && [ $(((_v - _lo) % _step)) -eq 0 ]; then
      return 0
    fi
  done
  return 1
}

# cron_num N sets _n to N without leading zeros (so that 08 is not read
# as octal), without a subshell.
cron_num() {
  _n=$1
  while [ "${#_n}" -gt 1 ] && [ "${_n#0}" != "$_n" ]; do _n=${_n#0}; done
}

# cron_match "EXPR" MINUTE HOUR DAY MONTH WEEKDAY: the schedule fires in
# that minute (numbers as `date -u '+%M %H %d %m %w'` prints them).
cron_match() {
  set -f
  # shellcheck disable=SC2086 # the five fields are split on purpose
  set -- $1 "$2" "$3" "$4" "$5" "$6"
  set +f
  _cm=$1 _ch=$2 _cd=$3 _cmo=$4 _cw=$5
  cron_num "$6"; _m=$_n
  cron_num "$7"; _h=$_n
  cron_num "$8"; _d=$_n
  cron_num "$9"; _mo=$_n
  cron_num "${10}"; _w=$_n
  cron_field_match "$_cm" "$_m" 0 59 || return 1
  cron_field_match "$_ch" "$_h" 0 23 || return 1
  cron_field_match "$_cmo" "$_mo" 1 12 || return 1
  _dm=1 _wm=1
  cron_field_match "$_cd" "$_d" 1 31 || _dm=0
  if cron_field_match "$_cw" "$_w" 0 7; then :; elif [ "$_w" = 0 ] && cron_field_match "$_cw" 7 0 7; then :; else _wm=0; fi
  case "$_cd" in '*'*) _dstar=1 ;; *) _dstar=0 ;; esac
  case "$_cw" in '*'*) _wstar=1 ;; *) _wstar=0 ;; esac
  if [ "$_dstar" = 0 ] && [ "$_wstar" = 0 ]; then
    [ "$_dm" = 1 ] || [ "$_wm" = 1 ]
  else
    [ "$_dm" = 1 ] && [ "$_wm" = 1 ]
  fi
}
