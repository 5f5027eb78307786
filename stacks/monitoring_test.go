package stacks_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
	"github.com/rocketchat-ha/rocketchat-ha/stacks"
)

// TestMonitoringConfig: `monitoring` errors name the stack keys, before
// any resource is registered; a valid one deploys the stack and exports
// monitoringUrl.
func TestMonitoringConfig(t *testing.T) {
	for _, c := range []struct {
		name, value, want string
		secret            bool
	}{
		{"unknown node", `{"node":"rocket-9"}`, `monitoring.node: "rocket-9" is not the name of any entry in nodes`, false},
		{"bad retention", `{"retention":"two weeks"}`, `monitoring.retention: "two weeks" is not a Prometheus duration`, false},
		{"bad alertmanager", `{"alertmanager":"route: ["}`, "monitoring.alertmanager: is not YAML", true},
		{"plain alertmanager", `{"alertmanager":"route:\n  receiver: a\nreceivers:\n  - name: a\n"}`, "monitoring.alertmanager: is a secret", false},
		{"port collision", `{"node":"rocket-1","ports":{"grafana":3000}}`, "monitoring.ports.grafana: port 3000 on 10.250.250.13 is already used by nodes[0].ports.rocketchat", false},
		{"unknown field", `{"nodes":"rocket-1"}`, `monitoring: unknown field "nodes"`, false},
		{"node while off", `{"enabled":false,"node":"rocket-1"}`, "monitoring.node: is set while monitoring.enabled is false", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := seedConfig()
			cfg["rocketchat-ha:monitoring"] = c.value
			secrets := slices.Clone(seedSecrets)
			if c.secret {
				secrets = append(secrets, "rocketchat-ha:monitoring")
			}
			rec, err := mocktest.Run(t, cfg, secrets, stacks.Program)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if len(rec.Resources) != 0 {
				t.Errorf("%d resources registered before the error", len(rec.Resources))
			}
		})
	}
	cfg := seedConfig()
	cfg["rocketchat-ha:monitoring"] = `{"node":"rocket-3","retention":"30d","ports":{"grafana":3400}}`
	cfg["rocketchat-ha:nodes"] = strings.Replace(cfg["rocketchat-ha:nodes"], `"name":"rocket-1"`, `"name":"rocket-1","ports":{"mongoExporter":9300}`, 1)
	rec, err := mocktest.Run(t, cfg, seedSecrets, stacks.Program)
	if err != nil {
		t.Fatal(err)
	}
	prom := rec.Named(t, tContainer, "rocketchat-prometheus")
	if !slices.Contains(prom.Strings("command"), "--storage.tsdb.retention.time=30d") {
		t.Errorf("retention not passed: %v", prom.Strings("command"))
	}
	exp := rec.Named(t, tContainer, "rocketchat-exporter-mongo-rocket-1")
	if p := exp.Objects("ports"); len(p) != 1 || p[0]["external"].NumberValue() != 9300 {
		t.Errorf("nodes[0].ports.mongoExporter not used: %v", p)
	}
	graf := rec.Named(t, tContainer, "rocketchat-grafana")
	if p := graf.Objects("ports"); len(p) != 1 || p[0]["external"].NumberValue() != 3400 {
		t.Errorf("grafana ports %v", p)
	}
}
