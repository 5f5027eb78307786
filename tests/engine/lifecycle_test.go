package engine

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

const labDockerHost = "unix:///var/run/docker.sock"

// nodeNames returns n1..nN.
func nodeNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("n%d", i+1)
	}
	return out
}

// devConfig is a dev-like stack config: every node on the local Docker
// socket at 172.17.0.1 with distinct ports.
func devConfig(n int, rocketImage, mongoImage string, deleteData bool) map[string]any {
	var nodes []map[string]any
	for i, name := range nodeNames(n) {
		nodes = append(nodes, map[string]any{
			"name": name, "address": "172.17.0.1", "dockerHost": labDockerHost,
			"ports": map[string]int{"mongo": 27017 + i, "rocketchat": 3000 + i, "instance": 3100 + i},
		})
	}
	return map[string]any{
		"nodes":           nodes,
		"rootUrl":         "https://chat.example.test",
		"rocketchatImage": rocketImage,
		"mongoImage":      mongoImage,
		// One load balancer: every node shares the one simulated Docker
		// host, where several would claim the same port (the layout with
		// several is TestLoadBalancerLayouts, on one host per node).
		"loadBalancer":        map[string]any{"node": "n1", "httpPort": 8080, "httpsPort": 8443},
		"deleteDataOnDestroy": fmt.Sprint(deleteData),
		// Monitoring (on by default) has its own scenarios
		// (monitoring_test.go); these keep the containers they count.
		"monitoring": map[string]any{"enabled": false},
	}
}

// memberHosts are the replica-set members of nodes n1..nN in devConfig.
func memberHosts(n int) []string {
	out := make([]string, n)
	for i, name := range nodeNames(n) {
		out[i] = fmt.Sprintf("%s:%d", name, 27017+i)
	}
	return out
}

func password(prefix string) string {
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b)
}

const (
	rocketImageV1 = "registry.rocket.chat/rocketchat/rocket.chat:7.10.0"
	rocketImageV2 = "registry.rocket.chat/rocketchat/rocket.chat:7.10.1"
	mongoImageV1  = "mongo:7.0.16"
	mongoImageV2  = "mongo:7.0.17"
)

// clusterOf finds the cluster name from the first node's mongod container.
func clusterOf(t *testing.T, events []providers.Event) string {
	t.Helper()
	for _, e := range events {
		if e.Type == providers.ContainerType && e.Op == providers.OpCreate && strings.HasSuffix(e.Name, "-mongo-n1") {
			return strings.TrimSuffix(e.Name, "-mongo-n1")
		}
	}
	t.Fatalf("no container named <cluster>-mongo-n1 was created:\n%s", traceSummary(events))
	return ""
}

// checkHA asserts the invariant for one operation: never more than one
// node's mongod and never more than one node's Rocket.Chat down at once.
func checkHA(t *testing.T, res opResult, cluster string, keep []string) {
	t.Helper()
	for _, role := range []string{roleMongo, roleRocket} {
		n, at, who := maxDown(res.events, cluster, role, keep)
		if n > 1 {
			t.Errorf("%s: %d %s containers down at once (%v) at %s\n%s", res.name, n, role, who,
				describe(res.events, at), traceSummary(res.events))
		}
	}
	if d := first(res.events, container(cluster, roleLB, "", providers.OpDown)); d >= 0 {
		h := first(res.events[d:], container(cluster, roleLB, "", providers.OpHealthy))
		if h >= 0 {
			h += d
		}
		t.Logf("note: %s: the load balancer %s-lb, the single entry point, was replaced: down from %s until %s",
			res.name, cluster, describe(res.events, d), describe(res.events, h))
	}
}

// checkStateMatchesWorld asserts that every container in state runs in the
// simulated Docker host and nothing else runs there: no orphans, no losses.
func (l *lab) checkStateMatchesWorld(t *testing.T, res opResult, cluster string, n int) {
	t.Helper()
	d, _ := l.export(t)
	inState := map[string]bool{}
	for _, r := range d.Resources {
		if string(r.Type) == providers.ContainerType {
			name, _ := r.Inputs["name"].(string)
			inState[name] = true
			if !providers.ContainerExists(l.world, labDockerHost, name) {
				t.Errorf("%s: container %s is in state but not running", res.name, name)
			}
		}
	}
	// The backup job, named after its host (every node shares one here).
	if c := components.BackupContainerName(cluster, labDockerHost); providers.ContainerExists(l.world, labDockerHost, c) && !inState[c] {
		t.Errorf("%s: container %s runs but is not in state (orphan)", res.name, c)
	}
	for _, name := range nodeNames(5) {
		for _, role := range []string{roleMongo, roleRocket} {
			c := cluster + "-" + role + "-" + name
			if providers.ContainerExists(l.world, labDockerHost, c) && !inState[c] {
				t.Errorf("%s: container %s runs but is not in state (orphan)", res.name, c)
			}
		}
	}
	if want := 2*n + 2; len(inState) != want {
		t.Errorf("%s: %d containers in state, want %d (%d nodes x mongod+rocketchat, + lb, + the backup job)", res.name, len(inState), want, n)
	}
}

// checkResolvable asserts that no running mongod ever lacks a hosts entry
// for a current replica-set member, or resolves it to another address than
// addrs gives, counting the entries its hosts step wrote into it; and notes
// (without failing) the same for Rocket.Chat servers.
func checkResolvable(t *testing.T, res opResult, cluster string, keep, before []string, addrs map[string]string) {
	t.Helper()
	for _, v := range unresolvable(res.events, cluster, roleMongo, keep, before, addrs) {
		t.Errorf("%s: %s", res.name, v)
	}
	for _, v := range unresolvable(res.events, cluster, roleRocket, keep, before, addrs) {
		t.Logf("note: %s: %s", res.name, v)
	}
}

// checkLBFollows asserts the load balancer's upstreams follow a node-list
// change without taking the load balancer down: its config step runs with
// exactly the Rocket.Chat servers of nodes (rocketchatPort 3000+i on
// 172.17.0.1), after every added server is healthy and before any removed
// server is deleted.
func checkLBFollows(t *testing.T, res opResult, cluster string, nodes, added, removed []string) {
	t.Helper()
	ev := res.events
	if d := first(ev, container(cluster, roleLB, "", providers.OpDown)); d >= 0 {
		t.Errorf("%s: the load balancer, the single entry point, went down (%s) for a node-list change", res.name, describe(ev, d))
	}
	run := first(ev, lbConfigRun)
	if run < 0 {
		t.Errorf("%s: the load balancer's config step did not run after the node list changed\n%s", res.name, traceSummary(ev))
		return
	}
	conf, ok := nginxConfAt(ev, run)
	if !ok {
		t.Errorf("%s: cannot read RCHA_NGINX_CONF of the load balancer's config step (%s)", res.name, describe(ev, run))
		return
	}
	for i, n := range nodeNames(5) {
		up := fmt.Sprintf("172.17.0.1:%d", 3000+i)
		if has, want := strings.Contains(conf, up), contains(nodes, n); has != want {
			t.Errorf("%s: load balancer config has upstream %s (node %s) = %v, want %v", res.name, up, n, has, want)
		}
	}
	for _, n := range added {
		if h := first(ev, container(cluster, roleRocket, n, providers.OpHealthy)); h < 0 || h > run {
			t.Errorf("%s: load balancer sent traffic to %s (%s) before its Rocket.Chat was healthy (%s)", res.name, n, describe(ev, run), describe(ev, h))
		}
	}
	for _, n := range removed {
		if d := first(ev, container(cluster, roleRocket, n, providers.OpDown)); d >= 0 && d < run {
			t.Errorf("%s: Rocket.Chat on removed node %s stopped (%s) while the load balancer still routed to it (config step %s)",
				res.name, n, describe(ev, d), describe(ev, run))
		}
	}
}

// rolled asserts that each listed node's container of role was replaced
// (went down and came back healthy) during the operation.
func rolled(t *testing.T, res opResult, cluster, role string, nodes []string) {
	t.Helper()
	for _, n := range nodes {
		d := first(res.events, container(cluster, role, n, providers.OpDown))
		h := last(res.events, container(cluster, role, n, providers.OpHealthy))
		if d < 0 || h < d {
			t.Errorf("%s: %s on %s was not replaced (down %s, healthy %s)\n%s", res.name, role, n,
				describe(res.events, d), describe(res.events, h), traceSummary(res.events))
		}
	}
}

func untouched(t *testing.T, res opResult, cluster, role string, nodes []string) {
	t.Helper()
	for _, n := range nodes {
		if i := first(res.events, container(cluster, role, n, providers.OpDown, providers.OpCreate)); i >= 0 {
			t.Errorf("%s: %s on %s was restarted (%s) but nothing it runs changed", res.name, role, n, describe(res.events, i))
		}
	}
}

func noChanges(t *testing.T, res opResult) {
	t.Helper()
	for i, e := range res.events {
		switch e.Op {
		case providers.OpCreate, providers.OpUpdate, providers.OpDelete, providers.OpRun:
			t.Errorf("%s: expected no changes, provider did %s", res.name, describe(res.events, i))
		}
	}
	for op, n := range res.changes {
		if op != "same" && n > 0 {
			t.Errorf("%s: engine reports %d %q step(s), want only \"same\"", res.name, n, op)
		}
	}
}

// converged is the check after every scenario: a second `up` does
// nothing, and `refresh --expect-no-changes` (the README's CI drift check)
// finds the state exactly as the simulated daemon reports it.
func (l *lab) converged(t *testing.T, what string) {
	t.Helper()
	noChanges(t, l.up(t, what+"-second-up"))
	res := l.refresh(t, what+"-refresh", true)
	for i, e := range res.events {
		if e.Op == providers.OpRead && e.Gone {
			t.Errorf("%s: refresh dropped %s", res.name, describe(res.events, i))
		}
	}
}

// TestLifecycle runs scenarios 1-7 on one stack, in order, checking the
// secrets of scenario 8 after every operation.
func TestLifecycle(t *testing.T) {
	l := newLab(t, "dev", labProgram, repoProject)
	root, rocket := password("root-pw-"), password("rocket-pw-")
	l.setConfig(t, devConfig(3, rocketImageV1, mongoImageV1, false), map[string]string{"mongoRootPassword": root, "rocketPassword": rocket})

	var cluster string
	t.Run("1-up-from-empty", func(t *testing.T) {
		res := l.up(t, "up-n3")
		cluster = clusterOf(t, res.events)
		ev := res.events
		run := first(ev, commandRun)
		if run < 0 {
			t.Fatalf("the replica-set command never ran:\n%s", traceSummary(ev))
		}
		if got := ev[run].Members; strings.Join(got, ",") != strings.Join(memberHosts(3), ",") {
			t.Errorf("replica-set command ran with members %v, want %v", got, memberHosts(3))
		}
		if p, m := first(ev, pruneRun), first(ev, container(cluster, roleMongo, "n1", providers.OpCreate)); p < 0 || p > m {
			t.Errorf("the prune step ran at %s, not before the first mongod was created (%s)", describe(ev, p), describe(ev, m))
		}
		nodes := nodeNames(3)
		for i, n := range nodes {
			h := first(ev, container(cluster, roleMongo, n, providers.OpHealthy))
			if h < 0 || h > run {
				t.Errorf("mongod on %s healthy at %s, not before the replica-set command %s", n, describe(ev, h), describe(ev, run))
			}
			rc := first(ev, container(cluster, roleRocket, n, providers.OpCreate))
			if rc < run {
				t.Errorf("rocketchat on %s created at %s, before the replica-set command %s", n, describe(ev, rc), describe(ev, run))
			}
			if i > 0 {
				prevHealthy := first(ev, container(cluster, roleRocket, nodes[i-1], providers.OpHealthy))
				if prevHealthy < 0 || prevHealthy > rc {
					t.Errorf("rocketchat on %s created at %s before rocketchat on %s was healthy (%s)",
						n, describe(ev, rc), nodes[i-1], describe(ev, prevHealthy))
				}
				prevMongo := first(ev, container(cluster, roleMongo, nodes[i-1], providers.OpHealthy))
				mc := first(ev, container(cluster, roleMongo, n, providers.OpCreate))
				if prevMongo > mc {
					t.Errorf("mongod on %s created at %s before mongod on %s was healthy (%s)", n, describe(ev, mc), nodes[i-1], describe(ev, prevMongo))
				}
			}
		}
		lb := first(ev, container(cluster, roleLB, "", providers.OpCreate))
		lastRocket := last(ev, func(e providers.Event) bool {
			r, _ := roleOf(cluster, e.Name)
			return e.Type == providers.ContainerType && r == roleRocket && e.Op == providers.OpHealthy
		})
		if lb < 0 || lb < lastRocket {
			t.Errorf("load balancer created at %s, not after its last upstream was healthy (%s)", describe(ev, lb), describe(ev, lastRocket))
		}
		checkHA(t, res, cluster, nodes)
		checkResolvable(t, res, cluster, nodes, nil, devAddrs(3))
		l.checkStateMatchesWorld(t, res, cluster, 3)
		l.converged(t, "after-up-n3")
	})
	if cluster == "" {
		t.Fatal("scenario 1 failed; the rest depends on it")
	}

	t.Run("2-re-up-no-changes", func(t *testing.T) {
		noChanges(t, l.preview(t, "preview-unchanged"))
		noChanges(t, l.up(t, "up-unchanged"))
		l.refresh(t, "refresh-unchanged", true)
	})

	t.Run("3-scale-3-to-5", func(t *testing.T) {
		mongods := l.mongodIDs(t, cluster, nodeNames(3), onLabHost)
		l.setConfig(t, devConfig(5, rocketImageV1, mongoImageV1, false), map[string]string{"mongoRootPassword": root, "rocketPassword": rocket})
		res := l.up(t, "up-n5")
		ev := res.events
		run := first(ev, commandRun)
		if run < 0 {
			t.Fatalf("the replica-set command did not re-run on scale-out:\n%s", traceSummary(ev))
		}
		if got := ev[run].Members; strings.Join(got, ",") != strings.Join(memberHosts(5), ",") {
			t.Errorf("replica-set command ran with members %v, want %v", got, memberHosts(5))
		}
		if ev[run].Command != "update" && ev[run].Command != "create" {
			t.Errorf("replica-set command ran its %q text", ev[run].Command)
		}
		for _, n := range []string{"n4", "n5"} {
			h := first(ev, container(cluster, roleMongo, n, providers.OpHealthy))
			if h < 0 || h > run {
				t.Errorf("new mongod on %s healthy at %s, not before the replica-set command added it (%s)", n, describe(ev, h), describe(ev, run))
			}
			if rc := first(ev, container(cluster, roleRocket, n, providers.OpCreate)); rc < run {
				t.Errorf("new rocketchat on %s created at %s, before the replica-set command %s", n, describe(ev, rc), describe(ev, run))
			}
		}
		// The running mongods learn n4 and n5 from their hosts steps,
		// before the full step adds them, and are not restarted; the
		// Rocket.Chat servers are rolled for their MONGO_URL.
		l.checkMongodsKept(t, res, cluster, nodeNames(3), mongods, onLabHost)
		l.checkHostsSteps(t, res, cluster, nodeNames(5), devAddrs(5), nil, onLabHost)
		rolled(t, res, cluster, roleRocket, nodeNames(3))
		checkHA(t, res, cluster, nodeNames(5))
		checkOneDown(t, res, cluster, nodeNames(5), nil)
		checkResolvable(t, res, cluster, nodeNames(5), memberHosts(3), devAddrs(5))
		checkLBFollows(t, res, cluster, nodeNames(5), []string{"n4", "n5"}, nil)
		l.checkStateMatchesWorld(t, res, cluster, 5)
		l.converged(t, "after-up-n5")
	})

	t.Run("4-image-upgrades", func(t *testing.T) {
		l.setConfig(t, devConfig(5, rocketImageV2, mongoImageV1, false), map[string]string{"mongoRootPassword": root, "rocketPassword": rocket})
		res := l.up(t, "up-rocketchat-image")
		rolled(t, res, cluster, roleRocket, nodeNames(5))
		untouched(t, res, cluster, roleMongo, nodeNames(5))
		checkHA(t, res, cluster, nodeNames(5))
		l.checkStateMatchesWorld(t, res, cluster, 5)

		l.setConfig(t, devConfig(5, rocketImageV2, mongoImageV2, false), map[string]string{"mongoRootPassword": root, "rocketPassword": rocket})
		res = l.up(t, "up-mongo-image")
		rolled(t, res, cluster, roleMongo, nodeNames(5))
		untouched(t, res, cluster, roleRocket, nodeNames(5))
		checkHA(t, res, cluster, nodeNames(5))
		l.checkStateMatchesWorld(t, res, cluster, 5)
		l.converged(t, "after-upgrades")
	})

	t.Run("5-password-rotation", func(t *testing.T) {
		root, rocket = password("root-pw2-"), password("rocket-pw2-")
		l.setConfig(t, devConfig(5, rocketImageV2, mongoImageV2, false), map[string]string{"mongoRootPassword": root, "rocketPassword": rocket})
		res := l.up(t, "up-rotate-passwords")
		ev := res.events
		run := first(ev, commandRun)
		if run < 0 {
			t.Fatalf("the replica-set command did not re-run on password rotation:\n%s", traceSummary(ev))
		}
		if !ev[run].PreviousStdout {
			t.Errorf("the replica-set command's update had no previous stdout: RCHA_ROOT_PASSWORD_PREVIOUS would be empty and the old root password unknown")
		}
		if d := first(ev, func(e providers.Event) bool {
			r, _ := roleOf(cluster, e.Name)
			return e.Type == providers.ContainerType && r == roleRocket && e.Op == providers.OpDown
		}); d >= 0 && d < run {
			t.Errorf("rocketchat restarted with the new password (%s) before the replica-set command applied it (%s)", describe(ev, d), describe(ev, run))
		}
		rolled(t, res, cluster, roleRocket, nodeNames(5))
		if n := count(ev, func(e providers.Event) bool {
			r, _ := roleOf(cluster, e.Name)
			return e.Type == providers.ContainerType && r == roleMongo && e.Op == providers.OpDown
		}); n > 0 {
			t.Logf("note: password rotation restarted %d mongod container(s)", n)
		}
		checkHA(t, res, cluster, nodeNames(5))
		l.checkStateMatchesWorld(t, res, cluster, 5)
		l.converged(t, "after-rotation")
	})

	t.Run("6-scale-5-to-3", func(t *testing.T) {
		mongods := l.mongodIDs(t, cluster, nodeNames(3), onLabHost)
		l.setConfig(t, devConfig(3, rocketImageV2, mongoImageV2, false), map[string]string{"mongoRootPassword": root, "rocketPassword": rocket})
		res := l.up(t, "up-n3-again")
		ev := res.events
		run := first(ev, commandRun)
		if run < 0 {
			t.Fatalf("the replica-set command did not re-run on scale-in:\n%s", traceSummary(ev))
		}
		if got := ev[run].Members; strings.Join(got, ",") != strings.Join(memberHosts(3), ",") {
			t.Errorf("replica-set command ran with members %v, want %v", got, memberHosts(3))
		}
		prune := first(ev, pruneRun)
		if prune < 0 {
			t.Fatalf("the replica-set prune step did not run on scale-in:\n%s", traceSummary(ev))
		}
		if got := ev[prune].Members; strings.Join(got, ",") != strings.Join(memberHosts(3), ",") {
			t.Errorf("prune step ran with members %v, want %v", got, memberHosts(3))
		}
		if d := first(ev, func(e providers.Event) bool {
			r, _ := roleOf(cluster, e.Name)
			return e.Type == providers.ContainerType && r == roleMongo && e.Op == providers.OpDown
		}); d >= 0 && d < prune {
			t.Errorf("a mongod went down (%s) before the prune step removed the departing members (%s)", describe(ev, d), describe(ev, prune))
		}
		for _, n := range []string{"n4", "n5"} {
			for _, role := range []string{roleMongo, roleRocket} {
				d := first(ev, container(cluster, role, n, providers.OpDelete))
				if d < 0 {
					t.Errorf("%s on removed node %s was not deleted", role, n)
				} else if d < run {
					t.Errorf("%s on removed node %s deleted at %s, before the replica-set command removed the member (%s)",
						role, n, describe(ev, d), describe(ev, run))
				}
			}
			vol := first(ev, func(e providers.Event) bool {
				return e.Type == providers.VolumeType && e.Op == providers.OpDelete && strings.Contains(e.Name, "-"+n+"-")
			})
			if vol >= 0 {
				t.Errorf("data volume of removed node %s was deleted (%s); it must be retained", n, describe(ev, vol))
			}
		}
		d, _ := l.export(t)
		vols := 0
		for _, r := range d.Resources {
			if string(r.Type) == providers.VolumeType {
				vols++
				if name, _ := r.Inputs["name"].(string); strings.Contains(name, "-n4-") || strings.Contains(name, "-n5-") {
					t.Errorf("volume %s of a removed node is still in state", name)
				}
			}
		}
		// The mongod data volumes, and the backup job's archive volume (one
		// per Docker host: the same one as the job moved from n5 to n3).
		if vols != 4 {
			t.Errorf("%d volumes in state, want 4", vols)
		}
		for _, n := range []string{"n4", "n5"} {
			if !providers.VolumeExists(l.world, labDockerHost, cluster+"-mongo-"+n+"-data") {
				t.Errorf("retained data volume %s-mongo-%s-data is gone from the docker host", cluster, n)
			}
		}
		// The remaining mongods keep running; their hosts steps drop
		// n4 and n5 from the list they are given.
		l.checkMongodsKept(t, res, cluster, nodeNames(3), mongods, onLabHost)
		l.checkHostsSteps(t, res, cluster, nodeNames(3), devAddrs(3), []string{"n4", "n5"}, onLabHost)
		rolled(t, res, cluster, roleRocket, nodeNames(3))
		checkHA(t, res, cluster, nodeNames(3))
		checkOneDown(t, res, cluster, nodeNames(3), nil)
		checkResolvable(t, res, cluster, nodeNames(3), memberHosts(5), devAddrs(3))
		checkLBFollows(t, res, cluster, nodeNames(3), nil, []string{"n4", "n5"})
		l.checkStateMatchesWorld(t, res, cluster, 3)
		l.converged(t, "after-n3-again")
	})

	t.Run("6b-scale-out-again-adopts-retained-volumes", func(t *testing.T) {
		mongods := l.mongodIDs(t, cluster, nodeNames(3), onLabHost)
		l.setConfig(t, devConfig(5, rocketImageV2, mongoImageV2, false), map[string]string{"mongoRootPassword": root, "rocketPassword": rocket})
		res := l.up(t, "up-n5-again")
		for _, n := range []string{"n4", "n5"} {
			i := first(res.events, func(e providers.Event) bool {
				return e.Type == providers.VolumeType && e.Op == providers.OpCreate && e.Name == cluster+"-mongo-"+n+"-data"
			})
			if i < 0 || !res.events[i].Reused {
				t.Errorf("re-added node %s did not find its retained data volume (%s)", n, describe(res.events, i))
			}
		}
		t.Logf("note: re-added nodes n4, n5 adopt their retained data volumes; their mongod starts on data as old as the scale-in")
		l.checkMongodsKept(t, res, cluster, nodeNames(3), mongods, onLabHost)
		l.checkHostsSteps(t, res, cluster, nodeNames(5), devAddrs(5), nil, onLabHost)
		rolled(t, res, cluster, roleRocket, nodeNames(3))
		checkHA(t, res, cluster, nodeNames(5))
		checkOneDown(t, res, cluster, nodeNames(5), nil)
		checkResolvable(t, res, cluster, nodeNames(5), memberHosts(3), devAddrs(5))
		checkLBFollows(t, res, cluster, nodeNames(5), []string{"n4", "n5"}, nil)
		l.checkStateMatchesWorld(t, res, cluster, 5)
		l.converged(t, "after-n5-again")
	})

	t.Run("6c-crashed-rocketchat-repaired-by-up", func(t *testing.T) {
		// Pulumi.yaml sets `options: refresh: always`, so a plain
		// `pulumi up` reads the containers back first: the killed one
		// is found stopped (mustRun) and the removed one gone, and both
		// are recreated. TestPlainUpLeavesCrashedContainer shows what
		// happens without that option.
		killed, removed := cluster+"-rocketchat-n2", cluster+"-rocketchat-n4"
		if err := providers.KillContainer(l.world, labDockerHost, killed); err != nil {
			t.Fatal(err)
		}
		if err := providers.RemoveContainer(l.world, labDockerHost, removed); err != nil {
			t.Fatal(err)
		}
		res := l.up(t, "up-after-crash")
		for _, n := range []string{"n2", "n4"} {
			c := first(res.events, container(cluster, roleRocket, n, providers.OpCreate))
			h := last(res.events, container(cluster, roleRocket, n, providers.OpHealthy))
			if c < 0 || h < c {
				t.Errorf("a plain up (project option refresh: always) did not recreate the crashed Rocket.Chat on %s (create %s, healthy %s)\n%s",
					n, describe(res.events, c), describe(res.events, h), traceSummary(res.events))
			}
		}
		untouched(t, res, cluster, roleMongo, nodeNames(5))
		untouched(t, res, cluster, roleRocket, []string{"n1", "n3", "n5"})
		checkHA(t, res, cluster, nodeNames(5))
		l.checkStateMatchesWorld(t, res, cluster, 5)
		l.converged(t, "after-crash")
	})

	t.Run("7-destroy-retains-data", func(t *testing.T) {
		res := l.destroy(t, "destroy")
		ev := res.events
		if n := count(ev, func(e providers.Event) bool { return e.Type == providers.VolumeType && e.Op == providers.OpDelete }); n > 0 {
			t.Errorf("destroy deleted %d data volume(s); deleteDataOnDestroy is false", n)
		}
		lastRocketDown := last(ev, func(e providers.Event) bool {
			r, _ := roleOf(cluster, e.Name)
			return e.Type == providers.ContainerType && r == roleRocket && e.Op == providers.OpDown
		})
		firstMongoDown := first(ev, func(e providers.Event) bool {
			r, _ := roleOf(cluster, e.Name)
			return e.Type == providers.ContainerType && r == roleMongo && e.Op == providers.OpDown
		})
		if firstMongoDown < lastRocketDown {
			t.Errorf("destroy stopped a mongod (%s) while Rocket.Chat still ran (%s)", describe(ev, firstMongoDown), describe(ev, lastRocketDown))
		}
		d, _ := l.export(t)
		if len(d.Resources) != 0 {
			var left []string
			for _, r := range d.Resources {
				left = append(left, string(r.URN))
			}
			t.Errorf("destroy left %d resources in state: %v", len(left), left)
		}
		for _, n := range nodeNames(5) {
			for _, role := range []string{roleMongo, roleRocket} {
				if providers.ContainerExists(l.world, labDockerHost, cluster+"-"+role+"-"+n) {
					t.Errorf("container %s-%s-%s still runs after destroy", cluster, role, n)
				}
			}
			if !providers.VolumeExists(l.world, labDockerHost, cluster+"-mongo-"+n+"-data") {
				t.Errorf("data volume %s-mongo-%s-data was removed by destroy", cluster, n)
			}
		}
	})
}

// TestDestroyDeletesDataWhenAsked is scenario 7's opt-in: with
// deleteDataOnDestroy=true and generated passwords, destroy removes the
// data volumes too.
func TestDestroyDeletesDataWhenAsked(t *testing.T) {
	l := newLab(t, "wipe", labProgram, repoProject)
	cfg := devConfig(3, rocketImageV1, mongoImageV1, true)
	cfg["loadBalancer"] = map[string]any{"node": "n1", "httpPort": 8080, "httpsPort": 8443,
		"certificate": "-----BEGIN CERTIFICATE-----\nMIIBlabcertificate\n-----END CERTIFICATE-----\n"}
	key := "-----BEGIN PRIVATE KEY-----\n" + password("MIIEvlabkey") + "\n-----END PRIVATE KEY-----\n"
	l.setConfig(t, cfg, map[string]string{"loadBalancer.privateKey": key})
	res := l.up(t, "up-n3-generated-passwords")
	cluster := clusterOf(t, res.events)
	checkHA(t, res, cluster, nodeNames(3))
	if n := count(res.events, func(e providers.Event) bool {
		return e.Type == providers.RandomPasswordType && e.Op == providers.OpCreate
	}); n < 3 {
		t.Errorf("%d RandomPasswords created, want root, rocket and keyfile", n)
	}
	res = l.destroy(t, "destroy-with-data")
	for _, n := range nodeNames(3) {
		vol := cluster + "-mongo-" + n + "-data"
		if first(res.events, func(e providers.Event) bool {
			return e.Type == providers.VolumeType && e.Op == providers.OpDelete && e.Name == vol
		}) < 0 {
			t.Errorf("destroy did not delete volume %s although deleteDataOnDestroy=true", vol)
		}
		if providers.VolumeExists(l.world, labDockerHost, vol) {
			t.Errorf("volume %s still exists after destroy", vol)
		}
	}
}

// TestPlainUpLeavesCrashedContainer shows the provider behaviour behind
// issue 9's item 4, with the project's `refresh: always` option removed: a
// plain `up` never reads the containers back, so a Rocket.Chat container
// killed (`docker kill`: stopped, still there) or removed (`docker rm -f`)
// behind Pulumi's back stays down; `up --refresh` finds it (stopped with
// mustRun, or gone), drops it from the state and recreates it.
func TestPlainUpLeavesCrashedContainer(t *testing.T) {
	l := newLabWith(t, "crash", labProgram, repoProject, func(p *workspace.Project) {
		if p.Options != nil {
			p.Options.Refresh = ""
		}
	})
	root, rocket := password("root-pw-"), password("rocket-pw-")
	l.setConfig(t, devConfig(3, rocketImageV1, mongoImageV1, false), map[string]string{"mongoRootPassword": root, "rocketPassword": rocket})
	cluster := clusterOf(t, l.up(t, "up-n3").events)
	for _, c := range []struct{ how, node string }{{"kill", "n2"}, {"rm -f", "n3"}} {
		name := cluster + "-rocketchat-" + c.node
		var err error
		if c.how == "kill" {
			err = providers.KillContainer(l.world, labDockerHost, name)
		} else {
			err = providers.RemoveContainer(l.world, labDockerHost, name)
		}
		if err != nil {
			t.Fatal(err)
		}
		res := l.up(t, "plain-up-after-"+strings.ReplaceAll(c.how, " ", ""))
		noChanges(t, res)
		running := false
		for _, ci := range providers.Containers(l.world, labDockerHost) {
			running = running || (ci.Name == name && ci.Running)
		}
		if running {
			t.Errorf("after docker %s of %s, the simulated host runs it again without any create", c.how, name)
		}
		res = l.up(t, "up-refresh-after-"+strings.ReplaceAll(c.how, " ", ""), optup.Refresh())
		cr := first(res.events, container(cluster, roleRocket, c.node, providers.OpCreate))
		h := last(res.events, container(cluster, roleRocket, c.node, providers.OpHealthy))
		if cr < 0 || h < cr {
			t.Errorf("up --refresh did not recreate %s after docker %s (create %s, healthy %s)\n%s",
				name, c.how, describe(res.events, cr), describe(res.events, h), traceSummary(res.events))
		}
		untouched(t, res, cluster, roleMongo, nodeNames(3))
		checkHA(t, res, cluster, nodeNames(3))
		l.checkStateMatchesWorld(t, res, cluster, 3)
	}
	l.converged(t, "after-crashes")
}

// TestDockerAPIVersionGate: a field the simulated Docker 20.10 daemon (API
// 1.41) does not know is refused with the Docker client's own error, and
// the same stack deploys once the daemon is new enough. dockerApiVersion
// 1.44 makes the component use healthcheck startInterval. The passwords
// are generated (RandomPassword): the engine masks config secrets in
// diagnostics, but not values a provider generated, so this stack is the
// one where a secret in a container's environment reaches the event
// stream in clear, as in the dev stack's real run.
func TestDockerAPIVersionGate(t *testing.T) {
	l := newLab(t, "api", labProgram, repoProject)
	cfg := devConfig(1, rocketImageV1, mongoImageV1, false)
	cfg["dockerApiVersion"] = "1.44"
	l.setConfig(t, cfg, nil)
	res, err := l.tryUp(t, "up-api-1.44-on-1.41")
	want := "1 error occurred:\n\t* Unable to create container: \"specify health-check start interval\" requires API version 1.44, " +
		"but the Docker daemon API version is 1.41"
	if err == nil {
		t.Fatalf("dockerApiVersion 1.44 against a 1.41 daemon succeeded; the simulated daemon should refuse startInterval\n%s", traceSummary(res.events))
	}
	i := first(res.events, func(e providers.Event) bool {
		return e.Type == providers.ContainerType && e.Op == providers.OpCreate && e.Error != ""
	})
	if i < 0 || !strings.Contains(res.events[i].Error, want) {
		t.Errorf("the failed create does not carry the real error %q: %v\n%s", want, err, traceSummary(res.events))
	}
	if !strings.Contains(res.log, "requires API version 1.44, but the Docker daemon API version is 1.41") {
		t.Errorf("the engine output does not show the daemon's refusal:\n%s", tail(res.log, 30))
	}
	d, _ := l.export(t)
	for _, r := range d.Resources {
		if string(r.Type) == providers.ContainerType {
			t.Errorf("a refused container create left %s in the state (the provider sets no ID on that error)", r.URN)
		}
	}
	if err := providers.SetDockerAPIVersion(l.world, labDockerHost, "1.44"); err != nil {
		t.Fatal(err)
	}
	res = l.up(t, "up-api-1.44-on-1.44")
	if first(res.events, container(clusterOf(t, res.events), roleRocket, "n1", providers.OpHealthy)) < 0 {
		t.Errorf("Rocket.Chat did not come up on the 1.44 daemon\n%s", traceSummary(res.events))
	}
	l.converged(t, "after-api-1.44")
}
