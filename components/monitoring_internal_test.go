package components

import (
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/monitoring"
)

// TestAddMonitoring: another feature's scrape job and rule group reach the
// rendered Prometheus config and rules; with monitoring off they are
// dropped.
func TestAddMonitoring(t *testing.T) {
	args := RocketChatHAArgs{Nodes: []Node{{Name: "rocket-1", Address: "10.0.0.1"}}, Monitoring: MonitoringArgs{Node: "rocket-1"}}.WithDefaults()
	b := &builder{name: "chat", args: args, mon: &monitoringState{}}
	for i, n := range args.Nodes {
		b.nodes = append(b.nodes, &node{Node: n, index: i})
	}
	b.addMonitoring([]monitoring.ScrapeJob{{Name: "backup", Targets: []monitoring.Target{{Address: "10.0.0.1:9500", Labels: map[string]string{"node": "rocket-1"}}}}},
		monitoring.RuleGroup{Name: "backup", Rules: []monitoring.Rule{{Alert: "BackupTooOld", Expr: "time() - rcha_backup_last_success_timestamp_seconds > 86400",
			Annotations: map[string]string{"summary": "no backup for a day", "runbook": "see the backup runbook"}}}})
	cfg := b.monitoringConfig(nil)
	prom, err := monitoring.RenderPrometheus(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := monitoring.RenderRules(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(prom, `job_name: "backup"`) || !strings.Contains(prom, `targets: ["10.0.0.1:9500"]`) || !strings.Contains(rules, "alert: BackupTooOld") {
		t.Errorf("the extra job or group is missing:\n%s\n%s", prom, rules)
	}
	off := false
	b.args.Monitoring.Enabled = &off
	b.mon = &monitoringState{}
	b.addMonitoring([]monitoring.ScrapeJob{{Name: "backup"}})
	if len(b.mon.extraJobs) != 0 {
		t.Errorf("addMonitoring with monitoring off kept %v", b.mon.extraJobs)
	}
}
