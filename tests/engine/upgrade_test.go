package engine

import (
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// MongoDB upgrades through the command fake's model of the replica-set
// steps' version rules (providers/mongoversions.go): one release at a
// time, featureCompatibilityVersion (FCV) raised by the full step (auto)
// or left to the operator (manual).

const (
	mongo60  = "mongo:6.0.19"
	mongo70  = "mongo:7.0.16"
	mongo80  = "mongo:8.0.4"
	rocket82 = "registry.rocket.chat/rocketchat/rocket.chat:8.2.0"
)

// upgradeConfig is the 3-node, one-load-balancer-per-node cluster with
// the given images and, when not "", mongoFeatureCompatibility.
func upgradeConfig(rocketImage, mongoImage, fc string) map[string]any {
	cfg := clusterConfig(specsOf("n1", "n2", "n3"), map[string]any{})
	cfg["rocketchatImage"], cfg["mongoImage"] = rocketImage, mongoImage
	if fc != "" {
		cfg["mongoFeatureCompatibility"] = fc
	}
	return cfg
}

func (l *lab) fcv() string { return providers.ReplicaSetFCV(l.world, "rs0") }

// deployUpgradeLab deploys the cluster on MongoDB 6.0 and Rocket.Chat
// 7.10, and checks the set was initiated with FCV 6.0.
func deployUpgradeLab(t *testing.T, stack, fc string) (*lab, string, map[string]string) {
	t.Helper()
	l := newLab(t, stack, labProgram, repoProject)
	secrets := map[string]string{"mongoRootPassword": password("root-pw-"), "rocketPassword": password("rocket-pw-")}
	l.setConfig(t, upgradeConfig(rocketImageV1, mongo60, fc), secrets)
	res := l.up(t, "up-6.0")
	cluster := clusterOf(t, res.events)
	checkThrough(t, res, "n1", "", false, true)
	if got := l.fcv(); got != "6.0" {
		t.Fatalf("after initiating the set on %s the FCV is %q, want 6.0", mongo60, got)
	}
	return l, cluster, secrets
}

// refusedUpgrade asserts an up that failed at the prune step before
// anything changed: no container anywhere created, stopped, replaced or
// deleted, the full step not run, FCV and members as before, and the
// failure naming each of want.
func refusedUpgrade(t *testing.T, l *lab, res opResult, err error, fcvBefore string, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: the up succeeded, want it refused at the prune step\n%s", res.name, traceSummary(res.events))
	}
	p := last(res.events, pruneRun)
	if p < 0 || res.events[p].Error == "" {
		t.Fatalf("%s: the prune step did not run and fail (%s): %v\n%s", res.name, describe(res.events, p), err, traceSummary(res.events))
	}
	msg := res.events[p].Error
	for _, s := range append([]string{"exit status 1"}, want...) {
		if !strings.Contains(msg, s) {
			t.Errorf("%s: the prune step's failure does not name %q:\n%s", res.name, s, msg)
		}
		if !strings.Contains(err.Error(), s) {
			t.Errorf("%s: the up's error does not carry %q", res.name, s)
		}
	}
	for i, e := range res.events {
		if e.Type == providers.ContainerType && (e.Op == providers.OpCreate || e.Op == providers.OpDown ||
			e.Op == providers.OpDelete || e.Op == providers.OpUpdate) {
			t.Errorf("%s: a refused upgrade changed a container: %s", res.name, describe(res.events, i))
		}
	}
	if f := first(res.events, commandRun); f >= 0 {
		t.Errorf("%s: the full step ran after the prune step refused: %s", res.name, describe(res.events, f))
	}
	if got := l.fcv(); got != fcvBefore {
		t.Errorf("%s: FCV %q after a refused upgrade, want %q", res.name, got, fcvBefore)
	}
	if got := l.members(); strings.Join(got, ",") != strings.Join(memberList("n1", "n2", "n3"), ",") {
		t.Errorf("%s: members %v after a refused upgrade", res.name, got)
	}
}

// checkMongoRoll asserts the mongods rolled one node at a time, each new
// one healthy before the next went down, all after the prune step, and
// returns the index of the last mongod's healthy event.
func checkMongoRoll(t *testing.T, res opResult, cluster string) int {
	t.Helper()
	all := []string{"n1", "n2", "n3"}
	rolled(t, res, cluster, roleMongo, all)
	checkHA(t, res, cluster, all)
	checkOneDown(t, res, cluster, all, nil)
	p := first(res.events, pruneRun)
	lastHealthy := -1
	for _, n := range all {
		d := first(res.events, container(cluster, roleMongo, n, providers.OpDown))
		if p < 0 || d < p {
			t.Errorf("%s: mongod on %s went down (%s) before the prune step checked the versions (%s)", res.name, n,
				describe(res.events, d), describe(res.events, p))
		}
		if lastHealthy >= 0 && d < lastHealthy {
			t.Errorf("%s: mongod on %s went down (%s) before the previous one was healthy (%s)", res.name, n,
				describe(res.events, d), describe(res.events, lastHealthy))
		}
		lastHealthy = last(res.events, container(cluster, roleMongo, n, providers.OpHealthy))
	}
	f := last(res.events, commandRun)
	if f < 0 || f < lastHealthy {
		t.Errorf("%s: the full step (%s) did not run after every mongod was healthy (%s)", res.name,
			describe(res.events, f), describe(res.events, lastHealthy))
	}
	return lastHealthy
}

// TestMongoUpgradePath: on MongoDB 6.0, going to 8.0 directly is refused
// at the prune step before any container changes; 6.0 -> 7.0 rolls the
// mongods and the full step raises FCV to 7.0 without touching
// Rocket.Chat; then 7.0 -> 8.0 with Rocket.Chat 7.10 -> 8.2 rolls the
// mongods, raises FCV to 8.0, then rolls the Rocket.Chat servers.
func TestMongoUpgradePath(t *testing.T) {
	l, cluster, secrets := deployUpgradeLab(t, "upgrade", "")
	all := []string{"n1", "n2", "n3"}

	// 1. 6.0 -> 8.0 directly: refused.
	l.setConfig(t, upgradeConfig(rocket82, mongo80, ""), secrets)
	res, err := l.tryUp(t, "up-6.0-to-8.0")
	refusedUpgrade(t, l, res, err, "6.0", "refusing the prune step", "runs MongoDB 6.0", "the target is 8.0", "upgrade to 7.0 first")
	checkOneDown(t, res, cluster, all, nil)

	// 2. 6.0 -> 7.0: allowed.
	l.setConfig(t, upgradeConfig(rocketImageV1, mongo70, ""), secrets)
	res = l.up(t, "up-6.0-to-7.0")
	checkMongoRoll(t, res, cluster)
	untouched(t, res, cluster, roleRocket, all)
	if got := l.fcv(); got != "7.0" {
		t.Errorf("%s: FCV %q after every mongod runs 7.0 (auto), want 7.0", res.name, got)
	}
	l.converged(t, "up-6.0-to-7.0")

	// 3. 7.0 -> 8.0 and Rocket.Chat 7.10 -> 8.2 in one up.
	l.setConfig(t, upgradeConfig(rocket82, mongo80, ""), secrets)
	res = l.up(t, "up-7.0-to-8.0")
	checkMongoRoll(t, res, cluster)
	rolled(t, res, cluster, roleRocket, all)
	f := last(res.events, commandRun)
	for _, n := range all {
		if d := first(res.events, container(cluster, roleRocket, n, providers.OpDown)); d < f {
			t.Errorf("%s: Rocket.Chat on %s went down (%s) before the full step raised FCV (%s)", res.name, n,
				describe(res.events, d), describe(res.events, f))
		}
	}
	if got := l.fcv(); got != "8.0" {
		t.Errorf("%s: FCV %q, want 8.0", res.name, got)
	}
	l.checkHostsMatchState(t, res.name, baseHosts(cluster, specsOf(all...)))
	l.converged(t, "up-7.0-to-8.0")
}

// TestMongoUpgradeManualFCV: with mongoFeatureCompatibility manual, 6.0 ->
// 7.0 rolls the mongods and leaves FCV at 6.0; 7.0 -> 8.0 is then refused
// (FCV 6.0) before any container changes.
func TestMongoUpgradeManualFCV(t *testing.T) {
	l, cluster, secrets := deployUpgradeLab(t, "upgrade-manual", "manual")
	all := []string{"n1", "n2", "n3"}

	l.setConfig(t, upgradeConfig(rocketImageV1, mongo70, "manual"), secrets)
	res := l.up(t, "up-6.0-to-7.0")
	checkMongoRoll(t, res, cluster)
	untouched(t, res, cluster, roleRocket, all)
	if got := l.fcv(); got != "6.0" {
		t.Errorf("%s: FCV %q with manual, want it left at 6.0", res.name, got)
	}
	l.converged(t, "up-6.0-to-7.0")

	l.setConfig(t, upgradeConfig(rocket82, mongo80, "manual"), secrets)
	res, err := l.tryUp(t, "up-7.0-to-8.0")
	refusedUpgrade(t, l, res, err, "6.0", "refusing the prune step", "featureCompatibilityVersion is 6.0", "the target is 8.0", "set it to 7.0")
	checkOneDown(t, res, cluster, all, nil)
}
