package engine

import (
	"fmt"
	"slices"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// hostOf is node's Docker host in multiHostConfig: one simulated daemon
// per node, as on real hosts, so that every node can publish the load
// balancer's port.
func hostOf(node string) string { return "unix:///var/run/docker-" + node + ".sock" }

// multiHostConfig is n nodes n1..nN, each on its own Docker host at
// 10.250.250.(10+i) with the default ports, and the given loadBalancer.
func multiHostConfig(n int, lb map[string]any) map[string]any {
	var nodes []map[string]any
	for i, name := range nodeNames(n) {
		nodes = append(nodes, map[string]any{"name": name, "address": fmt.Sprintf("10.250.250.%d", 11+i), "dockerHost": hostOf(name)})
	}
	return map[string]any{
		"nodes":           nodes,
		"rootUrl":         "https://chat.example.test",
		"rocketchatImage": rocketImageV1,
		"mongoImage":      mongoImageV1,
		"loadBalancer":    lb,
		// Monitoring (on by default) has its own scenarios
		// (monitoring_test.go); these keep the containers they count.
		"monitoring": map[string]any{"enabled": false},
	}
}

// named matches container events of one container name on one host.
func named(name, host string, ops ...string) func(providers.Event) bool {
	return func(e providers.Event) bool {
		return e.Type == providers.ContainerType && e.Name == name && e.Host == host && (len(ops) == 0 || contains(ops, e.Op))
	}
}

// checkHostsMatchState asserts that every container in state runs on its
// simulated host and that each host runs exactly the containers of want.
func (l *lab) checkHostsMatchState(t *testing.T, what string, want map[string][]string) {
	t.Helper()
	d, _ := l.export(t)
	inState := 0
	for _, r := range d.Resources {
		if string(r.Type) == providers.ContainerType {
			inState++
		}
	}
	total := 0
	for host, names := range want {
		var running []string
		for _, c := range providers.Containers(l.world, host) {
			if c.Running {
				running = append(running, c.Name)
			}
		}
		slices.Sort(running)
		names = slices.Clone(names)
		slices.Sort(names)
		if !slices.Equal(running, names) {
			t.Errorf("%s: %s runs %v, want %v (an orphan or a loss)", what, host, running, names)
		}
		total += len(names)
	}
	if inState != total {
		t.Errorf("%s: %d containers in state, %d expected on the hosts", what, inState, total)
	}
}

// TestLoadBalancerLayouts: a stack deployed with one load balancer (the
// layout before several existed, still what loadBalancer.node gives)
// switches to one per node with one `pulumi up`: the single one is replaced
// in place on its host (deleted before its successor starts, so no port
// conflict), the others are added one at a time, nothing is left behind,
// and the cluster converges. Then a virtual IP adds keepalived beside each.
func TestLoadBalancerLayouts(t *testing.T) {
	l := newLab(t, "lbs", labProgram, repoProject)
	secrets := map[string]string{"mongoRootPassword": password("root-pw-"), "rocketPassword": password("rocket-pw-")}
	l.setConfig(t, multiHostConfig(3, map[string]any{"node": "n1"}), secrets)
	res := l.up(t, "one-lb")
	cluster := clusterOf(t, res.events)
	base := func(extra map[string][]string) map[string][]string {
		out := map[string][]string{}
		for _, n := range nodeNames(3) {
			out[hostOf(n)] = append([]string{cluster + "-mongo-" + n, cluster + "-rocketchat-" + n}, extra[n]...)
		}
		// The backup job, on the last node.
		out[hostOf("n3")] = append(out[hostOf("n3")], components.BackupContainerName(cluster, hostOf("n3")))
		return out
	}
	l.checkHostsMatchState(t, "one-lb", base(map[string][]string{"n1": {cluster + "-lb"}}))
	l.converged(t, "one-lb")

	l.setConfig(t, multiHostConfig(3, map[string]any{}), secrets)
	res = l.up(t, "three-lbs")
	ev := res.events
	oldDown := first(ev, named(cluster+"-lb", hostOf("n1"), providers.OpDown))
	newUp := first(ev, named(cluster+"-lb-n1", hostOf("n1"), providers.OpCreate))
	if oldDown < 0 || newUp < oldDown {
		t.Errorf("three-lbs: the single load balancer must go (%s) before its successor on n1 starts (%s)\n%s",
			describe(ev, oldDown), describe(ev, newUp), traceSummary(ev))
	}
	for i := 2; i <= 3; i++ {
		prevHealthy := first(ev, named(fmt.Sprintf("%s-lb-n%d", cluster, i-1), hostOf(fmt.Sprintf("n%d", i-1)), providers.OpHealthy))
		create := first(ev, named(fmt.Sprintf("%s-lb-n%d", cluster, i), hostOf(fmt.Sprintf("n%d", i)), providers.OpCreate))
		if create < 0 || prevHealthy < 0 || create < prevHealthy {
			t.Errorf("three-lbs: load balancer n%d created (%s) before n%d was healthy (%s)", i, describe(ev, create), i-1, describe(ev, prevHealthy))
		}
	}
	for _, role := range []string{roleMongo, roleRocket} {
		untouched(t, res, cluster, role, nodeNames(3))
	}
	lbs := map[string][]string{}
	for _, n := range nodeNames(3) {
		lbs[n] = []string{cluster + "-lb-" + n}
	}
	l.checkHostsMatchState(t, "three-lbs", base(lbs))
	l.converged(t, "three-lbs")

	l.setConfig(t, multiHostConfig(3, map[string]any{"virtualIp": "10.250.250.100", "interface": "eth0"}), secrets)
	res = l.up(t, "virtual-ip")
	ev = res.events
	prev := -1
	for _, n := range nodeNames(3) {
		name := cluster + "-lb-" + n + "-keepalived"
		lbs[n] = append(lbs[n], name)
		c := first(ev, named(name, hostOf(n), providers.OpCreate))
		if c < 0 || c < prev {
			t.Errorf("virtual-ip: %s created at %s, before the previous keepalived was healthy (%s)", name, describe(ev, c), describe(ev, prev))
		}
		prev = first(ev, named(name, hostOf(n), providers.OpHealthy))
		for _, ci := range providers.Containers(l.world, hostOf(n)) {
			if ci.Name != name {
				continue
			}
			if len(ci.Uploads) != 1 || ci.Uploads[0].Mode != "0400" || !ci.Uploads[0].Secret {
				t.Errorf("virtual-ip: %s uploads %+v, want its secret config with mode 0400", name, ci.Uploads)
			}
		}
	}
	if d := first(ev, func(e providers.Event) bool { return e.Type == providers.ContainerType && e.Op == providers.OpDown }); d >= 0 {
		t.Errorf("virtual-ip: adding the virtual IP took a container down: %s", describe(ev, d))
	}
	l.checkHostsMatchState(t, "virtual-ip", base(lbs))
	l.converged(t, "virtual-ip")
}
