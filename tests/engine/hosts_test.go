package engine

import (
	"slices"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// A change of the node list reaches the running mongods through their
// hosts steps (<cluster>-mongo-<node>-hosts, components/mongo-hosts.sh),
// never by replacing them: the mongod containers ignore changes of their
// creation-time hosts entries. The checks below pin that: the surviving
// mongods keep running (the same container, never stopped), each one's
// hosts step runs with the new name-to-address list before the full
// replica-set step, and the running container then resolves every node.

// devAddrs is the name-to-address map of nodes n1..nN in devConfig: every
// node at 172.17.0.1.
func devAddrs(n int) map[string]string {
	out := map[string]string{}
	for _, name := range nodeNames(n) {
		out[name] = "172.17.0.1"
	}
	return out
}

// addrsOf is the name-to-address map of nodes.
func addrsOf(nodes []nodeSpec) map[string]string {
	out := map[string]string{}
	for _, n := range nodes {
		out[n.name] = n.address
	}
	return out
}

// onLabHost is the Docker host of every node in devConfig.
func onLabHost(string) string { return labDockerHost }

// mongodIDs returns the IDs of the running mongod containers of nodes on
// the simulated hosts (hostFor gives each node's Docker host); a node
// without a running mongod fails the test.
func (l *lab) mongodIDs(t *testing.T, cluster string, nodes []string, hostFor func(string) string) map[string]string {
	t.Helper()
	ids := map[string]string{}
	for _, n := range nodes {
		name := cluster + "-mongo-" + n
		for _, c := range providers.Containers(l.world, hostFor(n)) {
			if c.Name == name && c.Running {
				ids[n] = c.ID
			}
		}
		if ids[n] == "" {
			t.Fatalf("no running mongod %s on %s before the operation", name, hostFor(n))
		}
	}
	return ids
}

// checkMongodsKept asserts that the operation left the mongod of each of
// nodes alone: no provider operation replaced, stopped, deleted or updated
// it, and the simulated host runs the very container (same ID) it ran
// before (before, from mongodIDs). That is the point of the hosts step:
// after a node is retired from three, the two members left hold a single
// vote between them (the vote policy), and restarting that voter would
// leave the set without a primary.
func (l *lab) checkMongodsKept(t *testing.T, res opResult, cluster string, nodes []string, before map[string]string, hostFor func(string) string) {
	t.Helper()
	for _, n := range nodes {
		if i := first(res.events, container(cluster, roleMongo, n,
			providers.OpDown, providers.OpCreate, providers.OpDelete, providers.OpUpdate)); i >= 0 {
			t.Errorf("%s: the surviving mongod on %s was replaced, stopped or updated (%s): a node-list change must reach it "+
				"through its hosts step, without a restart\n%s", res.name, n, describe(res.events, i), traceSummary(res.events))
		}
		name := cluster + "-mongo-" + n
		found := false
		for _, c := range providers.Containers(l.world, hostFor(n)) {
			if c.Name != name {
				continue
			}
			found = true
			if c.ID != before[n] || !c.Running {
				t.Errorf("%s: %s on %s is container %s (running %v), want the same container %s running throughout",
					res.name, name, hostFor(n), c.ID, c.Running, before[n])
			}
		}
		if !found {
			t.Errorf("%s: %s is gone from %s", res.name, name, hostFor(n))
		}
	}
}

// checkHostsSteps asserts, for each of nodes, that its mongod's hosts step
// ran successfully during the operation with exactly the entries of addrs
// ("address name", every node of the new list) and none for gone (retired
// or removed nodes), that its last run came before the full replica-set
// step, and that the running mongod's /etc/hosts on the simulated host now
// maps every name of addrs to its address.
func (l *lab) checkHostsSteps(t *testing.T, res opResult, cluster string, nodes []string, addrs map[string]string, gone []string, hostFor func(string) string) {
	t.Helper()
	ev := res.events
	var want []string
	for name, addr := range addrs {
		want = append(want, addr+" "+name)
	}
	slices.Sort(want)
	full := last(ev, func(e providers.Event) bool { return commandRun(e) && e.Error == "" })
	if full < 0 {
		t.Errorf("%s: the full replica-set step did not run\n%s", res.name, traceSummary(ev))
	}
	for _, n := range nodes {
		name := cluster + "-mongo-" + n
		step := func(e providers.Event) bool { return hostsRun(e) && e.Name == name }
		for i, e := range ev {
			if step(e) && e.Error != "" {
				t.Errorf("%s: the hosts step of %s failed (%s): %s", res.name, n, describe(ev, i), e.Error)
			}
		}
		i := last(ev, func(e providers.Event) bool { return step(e) && e.Error == "" })
		if i < 0 {
			t.Errorf("%s: the hosts step of %s (%s-hosts) did not run for the node-list change\n%s", res.name, n, name, traceSummary(ev))
			continue
		}
		if ev[i].Host != hostFor(n) {
			t.Errorf("%s: the hosts step of %s ran against %s, want %s", res.name, n, ev[i].Host, hostFor(n))
		}
		got := slices.Sorted(slices.Values(ev[i].HostsEntries))
		if !slices.Equal(got, want) {
			t.Errorf("%s: the hosts step of %s wrote RCHA_HOSTS %v, want %v", res.name, n, got, want)
		}
		for _, g := range gone {
			for _, line := range got {
				if f := strings.Fields(line); len(f) == 2 && f[1] == g {
					t.Errorf("%s: the hosts step of %s still lists %s (%q)", res.name, n, g, line)
				}
			}
		}
		if full >= 0 && i > full {
			t.Errorf("%s: the hosts step of %s ran (%s) after the full replica-set step (%s): the members did not resolve %v when it ran",
				res.name, n, describe(ev, i), describe(ev, full), want)
		}
		etc, ok := providers.EtcHosts(l.world, hostFor(n), name)
		if !ok {
			t.Errorf("%s: no container %s on %s", res.name, name, hostFor(n))
			continue
		}
		resolved := map[string]string{}
		for _, line := range etc {
			if f := strings.Fields(line); len(f) == 2 {
				if _, dup := resolved[f[1]]; !dup {
					resolved[f[1]] = f[0] // the first line for a name wins, as in the files resolver
				}
			}
		}
		for m, addr := range addrs {
			if resolved[m] != addr {
				t.Errorf("%s: the running %s resolves %s to %q, want %s (its /etc/hosts: %v)", res.name, name, m, resolved[m], addr, etc)
			}
		}
	}
}

// TestUnresolvableCountsHostsSteps pins the trace analysis on synthetic
// traces (no engine): a running mongod resolves a new member once its
// hosts step gave it the name, so a scale-out whose hosts steps run
// before the full step is clean, and the analysis still catches the full
// step running before a hosts step, a failed hosts step, and a hosts step
// that wrote a stale address or not the new name.
func TestUnresolvableCountsHostsSteps(t *testing.T) {
	const cluster = "c"
	addrs := map[string]string{"n1": "10.0.0.1", "n2": "10.0.0.2", "n3": "10.0.0.3", "n4": "10.0.0.4"}
	lines := func(names ...string) []string {
		var out []string
		for _, n := range names {
			out = append(out, addrs[n]+" "+n)
		}
		return out
	}
	hosts := func(node, errText string, entries ...string) providers.Event {
		return providers.Event{Op: providers.OpRun, Type: providers.LocalCommandType, Command: "update",
			URN:     "urn:pulumi:dev::rocketchat-ha::command:local:Command::" + cluster + "-mongo-" + node + "-hosts",
			EnvKeys: []string{"DOCKER_HOST", "RCHA_CONTAINER", "RCHA_HOSTS"}, Name: cluster + "-mongo-" + node,
			HostsEntries: entries, Error: errText}
	}
	var n4Hosts []any
	for _, n := range []string{"n1", "n2", "n3", "n4"} {
		n4Hosts = append(n4Hosts, map[string]any{"host": n, "ip": addrs[n]})
	}
	create := providers.Event{Op: providers.OpCreate, Type: providers.ContainerType, Name: cluster + "-mongo-n4",
		Inputs: map[string]any{"hosts": n4Hosts}}
	full := providers.Event{Op: providers.OpRun, Type: providers.LocalCommandType, Command: "update",
		URN:     "urn:pulumi:dev::rocketchat-ha::command:local:Command::" + cluster + "-replicaset",
		EnvKeys: []string{"RCHA_DESIRED"}, Members: []string{"n1:27017", "n2:27017", "n3:27017", "n4:27017"}}
	all := lines("n1", "n2", "n3", "n4")
	keep := nodeNames(4)
	before := []string{"n1:27017", "n2:27017", "n3:27017"}
	for _, c := range []struct {
		name   string
		events []providers.Event
		want   []string
	}{
		{"hosts steps first", []providers.Event{hosts("n1", "", all...), hosts("n2", "", all...), create, hosts("n3", "", all...), full}, nil},
		{"full step before two hosts steps", []providers.Event{hosts("n1", "", all...), create, full, hosts("n2", "", all...), hosts("n3", "", all...)},
			[]string{"mongo on n2 runs without a hosts entry for member n4", "mongo on n3 runs without a hosts entry for member n4"}},
		{"a failed hosts step", []providers.Event{hosts("n1", "", all...), hosts("n2", "exit status 1", all...), create, hosts("n3", "", all...), full},
			[]string{"mongo on n2 runs without a hosts entry for member n4"}},
		{"the old list", []providers.Event{hosts("n1", "", all...), hosts("n2", "", all...), create, hosts("n3", "", lines("n1", "n2", "n3")...), full},
			[]string{"mongo on n3 runs without a hosts entry for member n4"}},
		{"a stale address", []providers.Event{hosts("n1", "", append(lines("n1", "n2", "n3"), "10.0.0.9 n4")...), hosts("n2", "", all...), create, hosts("n3", "", all...), full},
			[]string{"mongo on n1 resolves member n4 to 10.0.0.9, not its address 10.0.0.4"}},
	} {
		got := unresolvable(c.events, cluster, roleMongo, keep, before, addrs)
		if len(got) != len(c.want) {
			t.Errorf("%s: %d finding(s) %q, want %q", c.name, len(got), got, c.want)
			continue
		}
		for _, w := range c.want {
			if !slices.ContainsFunc(got, func(s string) bool { return strings.Contains(s, w) }) {
				t.Errorf("%s: findings %q lack %q", c.name, got, w)
			}
		}
	}
}
