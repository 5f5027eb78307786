package monitoring

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// JobBackup scrapes the backup job's metrics server (components'
// backup-metrics.js), on the backup node's private address.
const JobBackup = "backup"

// Alert names of the backup rules.
const (
	AlertBackupTooOld  = "BackupTooOld"
	AlertBackupFailed  = "BackupFailed"
	AlertBackupJobDown = "BackupJobDown"
)

// BackupGroupName is the name of the backup rule group.
const BackupGroupName = "rocketchat-ha-backup"

// Backup is the backup job's metrics endpoint and how old its last
// success may get before BackupTooOld fires.
type Backup struct {
	// Node is the node that runs the job (the node label).
	Node string
	// Address is host:port of its metrics server.
	Address string
	// MaxAge is 1.5 times the schedule's longest gap between two runs.
	MaxAge time.Duration
}

// Job is the scrape job of the backup job's metrics server.
func (b Backup) Job() ScrapeJob {
	return ScrapeJob{Name: JobBackup, Targets: []Target{{Address: b.Address, Labels: map[string]string{"node": b.Node}}}}
}

// Rules is the backup rule group, with the `for:` durations of t (the
// defaults when zero).
func (b Backup) Rules(t Timing) RuleGroup {
	t = Config{Timing: t}.WithDefaults().Timing
	maxAge := int64(b.MaxAge / time.Second)
	rule := func(alert, expr, severity, summary, description, runbook string) Rule {
		return Rule{
			Alert: alert, Expr: expr, For: promDuration(t.For),
			Labels: map[string]string{"severity": severity},
			Annotations: map[string]string{
				"summary":     summary,
				"description": description,
				"runbook":     runbook + " (" + RunbookDoc + strings.ToLower(alert) + ")",
			},
		}
	}
	return RuleGroup{Name: BackupGroupName, Rules: []Rule{
		// Before the first success the age counts from when the job first
		// started on its volume, so a new cluster does not alert before its
		// first scheduled backup is due.
		rule(AlertBackupTooOld,
			fmt.Sprintf(`time() - (rcha_backup_last_success_timestamp_seconds > 0 or rcha_backup_since_timestamp_seconds) > %d`, maxAge),
			SeverityCritical,
			"No successful backup for more than "+promDuration(b.MaxAge),
			"The last successful backup on {{ $labels.node }} is older than 1.5 times the schedule's longest gap ("+strconv.FormatInt(maxAge, 10)+"s).",
			"Read the backup container's log (`docker logs <cluster>-backup-<host>`), fix the cause, then run `rcha backup --stack S` and check `rcha backups`."),
		rule(AlertBackupFailed,
			`rcha_backup_last_run_success == 0`,
			SeverityWarning,
			"The last backup on {{ $labels.node }} failed",
			"The backup job's last run failed; its partial archive was deleted. The older archives are kept.",
			"Read the backup container's log for the failed run, then run `rcha backup --stack S` once the cause is fixed."),
		rule(AlertBackupJobDown,
			fmt.Sprintf(`up{job=%q} == 0`, JobBackup),
			SeverityWarning,
			"The backup job's metrics on {{ $labels.node }} do not answer",
			"Prometheus cannot scrape the backup job: the container, its metrics server or its host is down, so backups are not watched.",
			"Look at the backup container on the node (`docker ps -a`, `docker logs`); `rcha up` recreates it."),
	}}
}
