package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// monitoredConfig is multiHostConfig with monitoring on and the stack on n1.
func monitoredConfig(n int) map[string]any {
	cfg := multiHostConfig(n, map[string]any{})
	cfg["monitoring"] = map[string]any{"node": "n1"}
	return cfg
}

// envOf returns a command event's environment value key ("" when absent
// or secret).
func envOf(e providers.Event, key string) string {
	env, _ := e.Inputs["environment"].(map[string]any)
	s, _ := env[key].(string)
	return s
}

// TestMonitoringScaleReloadsInPlace: a cluster with the monitoring stack
// scales from three nodes to four. The Prometheus config step runs with a
// scrape config that has the new node's exporters; no container of the
// stack is replaced, stopped or restarted; the new node gets its exporter;
// and the stack converges (a second up and a refresh change nothing).
func TestMonitoringScaleReloadsInPlace(t *testing.T) {
	l := newLab(t, "monitoring", labProgram, repoProject)
	secrets := map[string]string{"mongoRootPassword": password("root-pw-"), "rocketPassword": password("rocket-pw-")}
	l.setConfig(t, monitoredConfig(3), secrets)
	res := l.up(t, "three")
	cluster := clusterOf(t, res.events)
	stack := []string{cluster + "-prometheus", cluster + "-alertmanager", cluster + "-grafana"}
	for _, name := range stack {
		if first(res.events, named(name, hostOf("n1"), providers.OpCreate)) < 0 {
			t.Fatalf("three: %s was not created on n1\n%s", name, traceSummary(res.events))
		}
	}
	for _, n := range nodeNames(3) {
		if first(res.events, named(cluster+"-exporter-mongo-"+n, hostOf(n), providers.OpCreate)) < 0 {
			t.Errorf("three: no mongodb exporter created on %s", n)
		}
	}
	l.converged(t, "three")

	l.setConfig(t, monitoredConfig(4), secrets)
	res = l.up(t, "four")
	ev := res.events
	for _, name := range stack {
		for i, e := range ev {
			if e.Type == providers.ContainerType && e.Name == name && e.Op != providers.OpRead && e.Op != providers.OpDiff && e.Op != providers.OpConfigure {
				t.Errorf("four: the scale event touched %s (%s)", name, describe(ev, i))
			}
		}
	}
	// The step runs its update (not a replacement's create), with the new
	// files in the inputs of its update.
	ran, step := -1, -1
	for i, e := range ev {
		if e.Type == providers.LocalCommandType && strings.HasSuffix(e.URN, "::"+cluster+"-prometheus-config") {
			switch {
			case e.Op == providers.OpRun && e.Command == "update":
				ran = i
			case e.Op == providers.OpUpdate:
				step = i
			}
		}
	}
	if ran < 0 || step < 0 {
		t.Fatalf("four: the Prometheus config step did not run its update\n%s", traceSummary(ev))
	}
	conf := envOf(ev[step], "RCHA_FILE_0")
	for _, want := range []string{`targets: ["10.250.250.14:9216"]`, `targets: ["10.250.250.14:9458"]`, `__metrics_path__: "/rcha/upstream/n4"`} {
		if !strings.Contains(conf, want) {
			t.Errorf("four: the re-rendered scrape config lacks %s:\n%s", want, conf)
		}
	}
	if rules := envOf(ev[step], "RCHA_FILE_1"); !strings.Contains(rules, "< 3") {
		t.Errorf("four: the re-rendered rules do not require a majority of 3 of 4 voters")
	}
	if envOf(ev[step], "RCHA_SIGNAL") != "HUP" {
		t.Errorf("four: the config step does not reload with SIGHUP")
	}
	// Grafana's and Alertmanager's files do not depend on the node list:
	// their steps do not run.
	for _, name := range []string{cluster + "-alertmanager-config", cluster + "-grafana-config"} {
		for i, e := range ev {
			if e.Op == providers.OpRun && strings.HasSuffix(e.URN, "::"+name) {
				t.Errorf("four: %s ran (%s)", name, describe(ev, i))
			}
		}
	}
	if first(ev, named(cluster+"-exporter-mongo-n4", hostOf("n4"), providers.OpCreate)) < 0 {
		t.Errorf("four: no mongodb exporter on n4\n%s", traceSummary(ev))
	}
	for _, n := range nodeNames(3) {
		for _, name := range []string{cluster + "-exporter-mongo-" + n} {
			if i := first(ev, named(name, hostOf(n), providers.OpDown, providers.OpCreate)); i >= 0 {
				t.Errorf("four: %s was restarted (%s)", name, describe(ev, i))
			}
		}
	}
	l.converged(t, "four")
	fmt.Fprintln(testWriter{t}, "monitoring: scale 3 -> 4 reloaded Prometheus in place")
}

// testWriter logs through t.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}
