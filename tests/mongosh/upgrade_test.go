package mongosh_test

// MongoDB upgrades: the prune step's upgrade check (binaries, featureCompatibilityVersion,
// target release) before any container changes, and the full step's FCV raise once every
// member runs the target. Real mongosh, simulated replica set (sim.js), whose version
// rules are MongoDB's as documented (docs/facts.md, Upgrades): a binary starts only on
// data whose FCV is its release or the one before it, setFeatureCompatibilityVersion
// needs confirm: true from 7.0 on, runs on the primary only, and (a rule of the
// simulation) only once every member runs a binary that accepts the value.

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
	"github.com/rocketchat-ha/rocketchat-ha/internal/versions"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const opSetFCV = "setFeatureCompatibilityVersion"

// upgrading is d with the target MongoDB release and the release order, as
// the steps pass them, and for the full step the FCV mode.
func upgrading(d replicaset.DesiredState, target, mode string) replicaset.DesiredState {
	d.MongoVersion = target
	d.MongoReleases = versions.MongoReleaseNames()
	if d.Mode == replicaset.ReconcileModeFull {
		d.FeatureCompatibility = mode
	}
	return d
}

// setVersions puts binary release bin on every node and the set's
// featureCompatibilityVersion at fcv (a test's starting point; no transition).
func (c *cluster) setVersions(bin, fcv string) {
	c.mutate(func(st map[string]any) {
		for _, n := range st["nodes"].(map[string]any) {
			n.(map[string]any)["version"] = bin
		}
		st["fcv"], st["fcvTarget"], st["fcvPrevious"] = fcv, nil, nil
	})
}

// roll gives the given nodes the binary release bin, as the rolling image
// change between the prune and the full step does: each mongod restarts with
// the new binary (a primary among them is gone until the next election), and
// one whose binary does not accept the set's FCV does not start.
func (c *cluster) roll(bin string, nodes ...int) {
	c.mutate(func(st map[string]any) {
		for _, i := range nodes {
			st["nodes"].(map[string]any)[host(i)].(map[string]any)["version"] = bin
			if p, ok := st["primary"].(string); ok && p == host(i) {
				st["primary"], st["electionAt"] = nil, nil
			}
		}
	})
}

// fcvWrites returns the setFeatureCompatibilityVersion writes among ws.
func fcvWrites(ws []simWrite) []simWrite {
	var out []simWrite
	for _, w := range ws {
		if w.Op == opSetFCV {
			out = append(out, w)
		}
	}
	return out
}

func TestMongoshUpgradeInSteps(t *testing.T) {
	t.Parallel()
	// 6.0 -> 7.0 -> 8.0, one release per update: the prune step allows each,
	// the images roll, and the full step raises the FCV (with confirm: true)
	// once every member runs the new release.
	c := newCluster(t, 3, nil)
	s := c.convergeCached(3)
	c.setVersions("6.0", "6.0")
	all := host(0) + ", " + host(1) + ", " + host(2)
	for _, step := range []struct{ from, to string }{{"6.0", "7.0"}, {"7.0", "8.0"}} {
		full := upgrading(desired(3, s, 60), step.to, replicaset.FeatureCompatibilityAuto)
		prune := upgrading(pruneOf(desired(3, s, 60)), step.to, "")

		r := c.assertNoWrites(prune, s.root, s.root)
		assert.Contains(t, r.out, "rcha-reconcile: upgrade check: binaries "+step.from+" ("+all+"); featureCompatibilityVersion "+step.from+
			"; target "+step.to+": allowed\n", "%s -> %s", step.from, step.to)

		c.roll(step.to, 0, 1, 2)
		r = c.mustRunResult(full, s.root, s.root)
		st := c.assertConverged(full, s.root)
		ws := writesOf(st, c.lastRun())
		require.Len(t, ws, 1, "%s -> %s: %v", step.from, step.to, ops(ws))
		assert.Equal(t, opSetFCV, ws[0].Op)
		assert.Equal(t, "'"+step.from+"' -> '"+step.to+"'", ws[0].Detail)
		assert.True(t, ws[0].Confirm, "confirm: true from 7.0 on")
		assert.Equal(t, "majority", ws[0].W)
		assert.Equal(t, *st.Primary, ws[0].On, "on the primary")
		assert.Equal(t, step.to, st.FCV)
		assert.Contains(t, r.out, "every member runs "+step.to+"; raising featureCompatibilityVersion from "+step.from+" to "+step.to)
		assert.Contains(t, r.out, "featureCompatibilityVersion is now "+step.to)
		assert.Contains(t, r.out, "0 user write(s), 1 featureCompatibilityVersion write(s)")

		r = c.assertNoWritesOnRerun(full, s.root, s.root)
		assert.Contains(t, r.out, "rcha-reconcile: featureCompatibilityVersion is already "+step.to+"\n")
	}
}

func TestMongoshUpgradeRefusedBeforeAnyChange(t *testing.T) {
	const exact = "rcha-reconcile: ERROR: upgrade check: "
	cases := []struct {
		name        string
		bins        [3]string
		fcv, target string
		fcvTarget   string // a change in transition (upwards)
		want        string
	}{
		{
			name: "6.0 to 8.0 skips 7.0", bins: [3]string{"6.0", "6.0", "6.0"}, fcv: "6.0", target: "8.0",
			want: exact + "MongoDB cannot skip a release: " + host(0) + " runs 6.0, the target is 8.0; upgrade to 7.0 first " +
				"(set mongoImage to a 7.0 tag and run the update; featureCompatibilityVersion then follows), then to 8.0 (no write)",
		},
		{
			name: "one member left on 6.0", bins: [3]string{"7.0", "7.0", "6.0"}, fcv: "6.0", target: "8.0",
			want: exact + "MongoDB cannot skip a release: " + host(2) + " runs 6.0, the target is 8.0; upgrade to 7.0 first",
		},
		{
			name: "7.0 binaries, FCV still 6.0, target 8.0", bins: [3]string{"7.0", "7.0", "7.0"}, fcv: "6.0", target: "8.0",
			want: exact + "featureCompatibilityVersion is 6.0, but MongoDB 8.0 needs 7.0: raise it first, while the 7.0 binaries run: " +
				"set mongoFeatureCompatibility to auto and run the update with the 7.0 image (the full step raises it), " +
				"or run db.adminCommand({setFeatureCompatibilityVersion: '7.0', confirm: true}) on the primary; then change the image to 8.0 (no write)",
		},
		{
			name: "downgrade below the FCV", bins: [3]string{"8.0", "8.0", "8.0"}, fcv: "8.0", target: "7.0",
			want: exact + "MongoDB 7.0 cannot run on data whose featureCompatibilityVersion is 8.0: lower it first with " +
				"setFeatureCompatibilityVersion '7.0' (confirm: true), then change the image",
		},
		{
			name: "FCV in transition up", bins: [3]string{"7.0", "7.0", "7.0"}, fcv: "6.0", fcvTarget: "7.0", target: "7.0",
			want: exact + "featureCompatibilityVersion is in transition from 6.0 to 7.0 (an interrupted setFeatureCompatibilityVersion): " +
				"finish the transition first, on the primary: db.adminCommand({setFeatureCompatibilityVersion: '7.0', confirm: true}), then run the update again (no write)",
		},
	}
	s := pw(1)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, 3, nil)
			c.convergeCached(3)
			c.mutate(func(st map[string]any) {
				for i, b := range tc.bins {
					st["nodes"].(map[string]any)[host(i)].(map[string]any)["version"] = b
				}
				st["fcv"] = tc.fcv
				if tc.fcvTarget != "" {
					st["fcvTarget"] = tc.fcvTarget
				}
			})
			r := c.assertRefusedNoWrite(upgrading(pruneOf(desired(3, s, 60)), tc.target, ""), s.root, s.root, replicaset.ReconcileExitFailed, tc.want)
			assert.NotContains(t, r.out, "allowed")
			assert.Equal(t, tc.fcv, c.read().FCV)
		})
	}

	t.Run("force mode checks before its forced reconfig", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 3, nil)
		c.convergeCached(3)
		c.setVersions("6.0", "6.0")
		c.setRunning(false, 0, 1)
		c.through(2, aliasOf(2))
		d := upgrading(forceOf(keeping(3, s, 60, 2)), "8.0", "")
		c.assertRefusedNoWrite(d, s.root, s.root, replicaset.ReconcileExitFailed,
			exact+"MongoDB cannot skip a release: "+host(2)+" runs 6.0, the target is 8.0; upgrade to 7.0 first")
		assert.Zero(t, c.read().Forced, "no force was sent")

		// To 7.0 the survivor may go: the check passes (the lost members are
		// skipped) and the forced recovery goes on.
		d.MongoVersion = "7.0"
		r := c.mustRunResult(d, s.root, s.root)
		assert.Contains(t, r.out, "rcha-reconcile: upgrade check: binaries 6.0 ("+host(2)+"); featureCompatibilityVersion 6.0; target 7.0: allowed; "+
			"not answering, skipped: "+host(0)+" (DOWN), "+host(1)+" (DOWN)\n")
		assert.Less(t, strings.Index(r.out, "upgrade check:"), strings.Index(r.out, "WARNING: forcing"), "the check comes first")
		c.assertMembershipForced(keeping(3, s, 60, 2), 1)
	})
}

func TestMongoshUpgradeMixedSetMidRoll(t *testing.T) {
	t.Parallel()
	// Two members run 7.0, one still 6.0, FCV 6.0, target 7.0 (a roll that
	// stopped half way): the prune step allows going on, the full step does
	// not raise the FCV and says why; once the last member runs 7.0 it does.
	c := newCluster(t, 3, nil)
	s := c.convergeCached(3)
	c.setVersions("6.0", "6.0")
	c.roll("7.0", 0, 1)
	prune := upgrading(pruneOf(desired(3, s, 60)), "7.0", "")
	full := upgrading(desired(3, s, 60), "7.0", replicaset.FeatureCompatibilityAuto)

	r := c.assertNoWrites(prune, s.root, s.root)
	assert.Contains(t, r.out, "rcha-reconcile: upgrade check: binaries 7.0 ("+host(0)+", "+host(1)+"), 6.0 ("+host(2)+
		"); featureCompatibilityVersion 6.0; target 7.0: allowed\n")
	r = c.assertNoWritesOnRerun(full, s.root, s.root)
	assert.Contains(t, r.out, "rcha-reconcile: featureCompatibilityVersion is 6.0 (binaries 7.0 ("+host(0)+", "+host(1)+"), 6.0 ("+host(2)+
		")): not raised to 7.0, not every member runs 7.0 yet ("+host(2)+" runs 6.0); a later full step raises it once every member does\n")
	assert.Equal(t, "6.0", c.read().FCV)

	c.roll("7.0", 2)
	c.mustRun(full, s.root, s.root)
	st := c.assertConverged(full, s.root)
	assert.Equal(t, "7.0", st.FCV)
	assert.Len(t, fcvWrites(st.Writes), 1)
}

func TestMongoshUpgradeSkipsAMemberThatIsDown(t *testing.T) {
	t.Parallel()
	// node2 is DOWN for good and leaves in the same update: the check skips
	// it (it runs nothing), says so, and the prune step removes it.
	c := newCluster(t, 3, nil)
	s := c.convergeCached(3)
	c.setVersions("6.0", "6.0")
	c.setRunning(false, 2)
	d := upgrading(pruneOf(keeping(3, s, 60, 0, 1)), "7.0", "")
	r := c.mustRunResult(d, s.root, s.root)
	assert.Contains(t, r.out, "rcha-reconcile: upgrade check: binaries 6.0 ("+host(0)+", "+host(1)+"); featureCompatibilityVersion 6.0; target 7.0: allowed; "+
		"not answering, skipped: "+host(2)+" (DOWN)\n")
	c.assertMembership(keeping(3, s, 60, 0, 1))
}

func TestMongoshUpgradeManualFCV(t *testing.T) {
	t.Parallel()
	// Every member runs 7.0 on FCV 6.0; mongoFeatureCompatibility manual (and
	// absent, which the script takes as manual): the full step writes nothing
	// and says how to raise it; the next release is then refused until it is.
	c := newCluster(t, 3, nil)
	s := c.convergeCached(3)
	c.setVersions("7.0", "6.0")
	want := "rcha-reconcile: featureCompatibilityVersion is 6.0 (binaries 7.0 (" + host(0) + ", " + host(1) + ", " + host(2) + ")); " +
		"mongoFeatureCompatibility is manual: raise it with db.adminCommand({setFeatureCompatibilityVersion: '7.0', confirm: true})\n"
	for _, mode := range []string{replicaset.FeatureCompatibilityManual, ""} {
		r := c.assertNoWritesOnRerun(upgrading(desired(3, s, 60), "7.0", mode), s.root, s.root)
		assert.Contains(t, r.out, want, "mode %q", mode)
	}
	assert.Equal(t, "6.0", c.read().FCV)
	c.assertRefusedNoWrite(upgrading(pruneOf(desired(3, s, 60)), "8.0", ""), s.root, s.root, replicaset.ReconcileExitFailed,
		"featureCompatibilityVersion is 6.0, but MongoDB 8.0 needs 7.0")
}

func TestMongoshUpgradeTargetUnknown(t *testing.T) {
	t.Parallel()
	// The image tag names no version: nothing is checked, the FCV is never
	// raised, and each step says so in one line.
	c := newCluster(t, 3, nil)
	s := c.convergeCached(3)
	c.setVersions("6.0", "6.0")
	prune := upgrading(pruneOf(desired(3, s, 60)), "", "")
	full := upgrading(desired(3, s, 60), "", replicaset.FeatureCompatibilityAuto)
	r := c.assertNoWrites(prune, s.root, s.root)
	assert.Equal(t, 1, strings.Count(r.out, "upgrade check skipped: the target MongoDB release is unknown"), r.out)
	assert.NotContains(t, r.out, "allowed")
	c.roll("7.0", 0, 1, 2)
	r = c.assertNoWritesOnRerun(full, s.root, s.root)
	assert.Equal(t, 1, strings.Count(r.out, "featureCompatibilityVersion not checked: the target MongoDB release is unknown"), r.out)
	st := c.read()
	assert.Equal(t, "6.0", st.FCV)
	assert.Zero(t, st.Commands["buildInfo"], "no version was read")
	assert.Zero(t, st.Commands["getParameter"], "no version was read")
}

func TestMongoshUpgradeKilledBetweenRollAndRaiseConverges(t *testing.T) {
	t.Parallel()
	// Every member was rolled to 7.0 (FCV 6.0) and the update also rotates
	// every password: the full step's writes are the two users, the FCV raise
	// and root. Killed after each, the re-run converges, raising the FCV once.
	old, s := pw(1), pw(2)
	d := upgrading(desired(3, s, 60), "7.0", replicaset.FeatureCompatibilityAuto)
	killAfterEachWrite(t, 3, 4, func(c *cluster) (replicaset.DesiredState, string, string) {
		c.convergeCached(3)
		c.setVersions("7.0", "6.0")
		return d, s.root, old.root
	}, func(t *testing.T, c *cluster, ref result) {
		c.mustRun(d, s.root, old.root)
		st := c.assertConverged(d, s.root)
		assert.Equal(t, "7.0", st.FCV)
		ws := fcvWrites(st.Writes)
		require.Len(t, ws, 1, "the FCV is raised exactly once: %v", ops(st.Writes))
		assert.True(t, ws[0].Confirm)
	})
}

func TestMongoshSimulationVersionRules(t *testing.T) {
	// Guards the simulation's version rules themselves, with small scripts
	// instead of the reconciler.
	t.Parallel()
	c := newCluster(t, 3, nil)
	s := c.convergeCached(3)
	c.setVersions("7.0", "6.0")
	script := func(body string) string {
		t.Helper()
		old := c.script
		defer func() { c.script = old }()
		c.script = c.script + ".version-probe.js"
		require.NoError(t, writeFile(c.script, fmt.Sprintf(`
function probe() {
  function tryIt(label, f) {
    try { const r = f(); print('rcha-reconcile: ' + label + ' ok ' + JSON.stringify(r)); }
    catch (e) { print('rcha-reconcile: ' + label + ' code ' + e.code + ' ' + e.name + ': ' + e.message); }
  }
  function conn(addr) { return new Mongo('mongodb://' + addr + '/?directConnection=true').getDB('admin'); }
  function login(addr) { const db = conn(addr); db.auth('root', %q); return db; }
  %s
}
probe();
quit(0);
`, s.root, body)))
		r := c.run(desired(3, s, 60), s.root, "", 0)
		require.Equal(t, 0, r.code, r.out)
		return r.out
	}
	before := len(c.read().Writes)
	out := script(fmt.Sprintf(`
  tryIt('buildInfo without login', () => conn('%[2]s').runCommand({buildInfo: 1}).version);
  tryIt('getParameter without login', () => conn('%[1]s').runCommand({getParameter: 1, featureCompatibilityVersion: 1}));
  const a = login('%[1]s');
  const b = login('%[2]s');
  tryIt('getParameter', () => a.runCommand({getParameter: 1, featureCompatibilityVersion: 1}).featureCompatibilityVersion);
  tryIt('set without confirm', () => a.runCommand({setFeatureCompatibilityVersion: '7.0'}));
  tryIt('set on a secondary', () => b.runCommand({setFeatureCompatibilityVersion: '7.0', confirm: true}));
  tryIt('set beyond the binary', () => a.runCommand({setFeatureCompatibilityVersion: '8.0', confirm: true}));
  tryIt('set', () => a.runCommand({setFeatureCompatibilityVersion: '7.0', confirm: true, writeConcern: {w: 'majority'}}).ok);
  tryIt('getParameter after', () => a.runCommand({getParameter: 1, featureCompatibilityVersion: 1}).featureCompatibilityVersion);
`, host(0), host(1)))
	for _, want := range []string{
		`buildInfo without login ok "7.0.0"`,
		"getParameter without login code 13",
		`getParameter ok {"version":"6.0"}`,
		"set without confirm code 7369100 MongoServerError: ",
		"Please re-run this command with 'confirm: true'",
		"set on a secondary code 10107",
		"set beyond the binary code 4926900 MongoServerError: Invalid feature compatibility version value '8.0'; expected '6.0' or '7.0'",
		"set ok 1",
		`getParameter after ok {"version":"7.0"}`,
	} {
		assert.Contains(t, out, want)
	}
	ws := c.read().Writes[before:]
	require.Len(t, ws, 1, "one write, the accepted set: %v", ops(ws))
	assert.Equal(t, opSetFCV, ws[0].Op)
	assert.Equal(t, "'6.0' -> '7.0'", ws[0].Detail)

	// Every member must run a binary that accepts the value (a simulation
	// rule); before 7.0 there is no confirm field; a change in transition is
	// reported and completed by setting its target.
	c.setVersions("6.0", "5.0")
	c.roll("5.0", 2)
	out = script(fmt.Sprintf(`
  const a = login('%[1]s');
  tryIt('set with a member left behind', () => a.runCommand({setFeatureCompatibilityVersion: '6.0'}));
  const m = new Mongo('mongodb://%[1]s/?directConnection=true');
  m.getDB('admin').auth('root', %[2]q);
  tryIt('set on another database', () => m.getDB('test').runCommand({setFeatureCompatibilityVersion: '5.0'}));
`, host(0), s.root))
	assert.Contains(t, out, "set with a member left behind code 2 MongoServerError: simulation rule: setFeatureCompatibilityVersion 6.0 is refused while "+host(2)+" runs 5.0")
	assert.Contains(t, out, "set on another database code 13")

	c.roll("6.0", 2)
	c.mutate(func(st map[string]any) { st["fcvTarget"] = "6.0" })
	out = script(fmt.Sprintf(`
  const a = login('%[1]s');
  tryIt('getParameter in transition', () => a.runCommand({getParameter: 1, featureCompatibilityVersion: 1}).featureCompatibilityVersion);
  tryIt('confirm before 7.0', () => a.runCommand({setFeatureCompatibilityVersion: '6.0', confirm: true}));
  tryIt('complete', () => a.runCommand({setFeatureCompatibilityVersion: '6.0'}).ok);
  tryIt('getParameter completed', () => a.runCommand({getParameter: 1, featureCompatibilityVersion: 1}).featureCompatibilityVersion);
`, host(0)))
	for _, want := range []string{
		`getParameter in transition ok {"version":"5.0","targetVersion":"6.0"}`,
		"confirm before 7.0 code 40415",
		"complete ok 1",
		`getParameter completed ok {"version":"6.0"}`,
	} {
		assert.Contains(t, out, want)
	}

	// A binary that does not accept the data's FCV does not start: an 8.0
	// binary on FCV 6.0 stays DOWN (real mongod exits with code 62) until it
	// is rolled to a binary that does.
	c.roll("8.0", 2)
	out = script(fmt.Sprintf(`
  tryIt('hello on the 8.0 member', () => conn('%[2]s').runCommand({hello: 1}).ok);
  const a = login('%[1]s');
  tryIt('its state', () => a.runCommand({replSetGetStatus: 1}).members.filter((m) => m.name === '%[2]s').map((m) => m.stateStr + '/' + m.health));
`, host(0), host(2)))
	assert.Contains(t, out, "hello on the 8.0 member code undefined MongoNetworkError: connect ECONNREFUSED "+host(2))
	assert.Contains(t, out, `its state ok ["DOWN/0"]`)
	n := c.read().Nodes[host(2)]
	require.NotNil(t, n.FailedStart, "the 8.0 member did not start")
	assert.Equal(t, 62, n.FailedStart.Code)
	assert.Equal(t, "8.0", n.FailedStart.Binary)
	assert.Contains(t, n.FailedStart.Message, "UPGRADE PROBLEM: Found an invalid featureCompatibilityVersion document")
	assert.Contains(t, n.FailedStart.Message, "Invalid feature compatibility version value '6.0'; expected '7.0' or '8.0'")

	c.roll("6.0", 2)
	out = script(fmt.Sprintf(`tryIt('hello after the roll back', () => conn('%s').runCommand({hello: 1}).ok);`, host(2)))
	assert.Contains(t, out, "hello after the roll back ok 1")
	assert.Nil(t, c.read().Nodes[host(2)].FailedStart)
}

// upgradeCase is one call of the pure upgradeProblem(target, fcv, binaries, releases).
type upgradeCase struct {
	Name     string         `json:"name"`
	Target   string         `json:"target"`
	FCV      map[string]any `json:"fcv"`
	Binaries []binary       `json:"binaries"`
	want     string         // "" allowed; otherwise the exact message, or a prefix ending in "..."
}

type binary struct {
	Host    string `json:"host"`
	Version string `json:"version"`
}

// fcvCase is one call of the pure fcvPlan(target, fcv, binaries, silent, releases, mode).
type fcvCase struct {
	Name     string         `json:"name"`
	Target   string         `json:"target"`
	FCV      map[string]any `json:"fcv"`
	Binaries []binary       `json:"binaries"`
	Silent   []struct {
		Host string `json:"host"`
		Why  string `json:"why"`
	} `json:"silent"`
	Mode        string `json:"mode"`
	wantRaise   bool
	wantConfirm bool
	want        string // the line, exactly, or a prefix ending in "..."
}

func bins(vs ...string) []binary {
	out := make([]binary, len(vs))
	for i, v := range vs {
		out[i] = binary{Host: host(i), Version: v}
	}
	return out
}

func fcvOf(v string, more ...string) map[string]any {
	m := map[string]any{"version": v}
	if len(more) > 0 {
		m["targetVersion"] = more[0]
	}
	if len(more) > 1 {
		m["previousVersion"] = more[1]
	}
	return m
}

func matches(t *testing.T, want, got, name string) {
	t.Helper()
	if p, ok := strings.CutSuffix(want, "..."); ok {
		assert.True(t, strings.HasPrefix(got, p), "%s:\n got %q\nwant %q...", name, got, p)
		return
	}
	assert.Equal(t, want, got, name)
}

func TestUpgradeRulesPure(t *testing.T) {
	t.Parallel()
	skip60to80 := "MongoDB cannot skip a release: " + host(0) + " runs 6.0, the target is 8.0; upgrade to 7.0 first " +
		"(set mongoImage to a 7.0 tag and run the update; featureCompatibilityVersion then follows), then to 8.0"
	ups := []upgradeCase{
		{Name: "nothing changes", Target: "7.0", FCV: fcvOf("7.0"), Binaries: bins("7.0", "7.0", "7.0")},
		{Name: "one release up", Target: "7.0", FCV: fcvOf("6.0"), Binaries: bins("6.0", "6.0", "6.0")},
		{Name: "mid roll", Target: "7.0", FCV: fcvOf("6.0"), Binaries: bins("7.0", "6.0", "7.0")},
		{Name: "rolled, FCV not raised yet", Target: "7.0", FCV: fcvOf("6.0"), Binaries: bins("7.0", "7.0", "7.0")},
		{Name: "back to the old binaries before the raise", Target: "7.0", FCV: fcvOf("7.0"), Binaries: bins("8.0", "8.0", "7.0")},
		{Name: "8.0 to 8.2", Target: "8.2", FCV: fcvOf("8.0"), Binaries: bins("8.0", "8.0", "8.0")},
		{Name: "5.0 to 6.0", Target: "6.0", FCV: fcvOf("5.0"), Binaries: bins("5.0")},
		{Name: "no member answered", Target: "7.0", FCV: fcvOf("7.0")},
		{Name: "6.0 to 8.0", Target: "8.0", FCV: fcvOf("6.0"), Binaries: bins("6.0", "6.0", "6.0"), want: skip60to80},
		{Name: "5.0 to 8.0", Target: "8.0", FCV: fcvOf("5.0"), Binaries: bins("5.0"),
			want: "MongoDB cannot skip a release: " + host(0) + " runs 5.0, the target is 8.0; upgrade to 6.0 first " +
				"(set mongoImage to a 6.0 tag and run the update; featureCompatibilityVersion then follows), then to 7.0, then to 8.0"},
		{Name: "7.0 to 8.2", Target: "8.2", FCV: fcvOf("7.0"), Binaries: bins("7.0"), want: "MongoDB cannot skip a release: " + host(0) + " runs 7.0, the target is 8.2; upgrade to 8.0 first..."},
		{Name: "FCV behind", Target: "8.0", FCV: fcvOf("6.0"), Binaries: bins("7.0", "7.0", "7.0"),
			want: "featureCompatibilityVersion is 6.0, but MongoDB 8.0 needs 7.0: raise it first, while the 7.0 binaries run: " +
				"set mongoFeatureCompatibility to auto and run the update with the 7.0 image (the full step raises it), " +
				"or run db.adminCommand({setFeatureCompatibilityVersion: '7.0', confirm: true}) on the primary; then change the image to 8.0"},
		{Name: "FCV behind, before 7.0: no confirm", Target: "6.0", FCV: fcvOf("4.4"), Binaries: bins("5.0"),
			want: "featureCompatibilityVersion is 4.4, but MongoDB 6.0 needs 5.0: raise it first, while the 5.0 binaries run: " +
				"set mongoFeatureCompatibility to auto and run the update with the 5.0 image (the full step raises it), " +
				"or run db.adminCommand({setFeatureCompatibilityVersion: '5.0'}) on the primary; then change the image to 6.0"},
		{Name: "downgrade below the FCV", Target: "7.0", FCV: fcvOf("8.0"), Binaries: bins("8.0"),
			want: "MongoDB 7.0 cannot run on data whose featureCompatibilityVersion is 8.0: lower it first with " +
				"setFeatureCompatibilityVersion '7.0' (confirm: true), then change the image; MongoDB does not support binary downgrades " +
				"of Community Edition from 7.0 on, so restoring a backup may be the only way back"},
		{Name: "downgrade by two", Target: "6.0", FCV: fcvOf("8.0"), Binaries: bins("8.0"),
			want: "MongoDB 6.0 cannot run on data whose featureCompatibilityVersion is 8.0: lower it first with " +
				"setFeatureCompatibilityVersion '7.0' (confirm: true), then change the image (one release at a time, down to 6.0)..."},
		{Name: "downgrade before 7.0", Target: "5.0", FCV: fcvOf("6.0"), Binaries: bins("6.0"),
			want: "MongoDB 5.0 cannot run on data whose featureCompatibilityVersion is 6.0: lower it first with " +
				"setFeatureCompatibilityVersion '5.0', then change the image"},
		{Name: "in transition up", Target: "7.0", FCV: fcvOf("6.0", "7.0"), Binaries: bins("7.0"),
			want: "featureCompatibilityVersion is in transition from 6.0 to 7.0 (an interrupted setFeatureCompatibilityVersion): finish the transition first, " +
				"on the primary: db.adminCommand({setFeatureCompatibilityVersion: '7.0', confirm: true}), then run the update again"},
		{Name: "in transition down", Target: "8.0", FCV: fcvOf("7.0", "7.0", "8.0"), Binaries: bins("8.0"),
			want: "featureCompatibilityVersion is in transition from 8.0 down to 7.0 (an interrupted setFeatureCompatibilityVersion): finish the transition first, " +
				"on the primary: db.adminCommand({setFeatureCompatibilityVersion: '7.0', confirm: true}), then run the update again"},
		{Name: "target not a known release", Target: "8.1", FCV: fcvOf("8.0"), Binaries: bins("8.0"),
			want: "the upgrade of " + host(0) + " from MongoDB 8.0 to 8.1 cannot be checked: 8.1 is not a known release (the known MongoDB release order is 4.4, 5.0, 6.0, 7.0, 8.0, 8.2)"},
		{Name: "binary not a known release", Target: "4.4", FCV: fcvOf("4.2"), Binaries: bins("4.2"),
			want: "the upgrade of " + host(0) + " from MongoDB 4.2 to 4.4 cannot be checked: 4.2 is not a known release..."},
		{Name: "FCV not a release", Target: "7.0", FCV: fcvOf("seven"), Binaries: bins("7.0"),
			want: `featureCompatibilityVersion "seven" is not major.minor: the upgrade path cannot be checked`},
	}
	silentDown := []struct {
		Host string `json:"host"`
		Why  string `json:"why"`
	}{{Host: host(2), Why: "DOWN"}}
	all := "7.0 (" + host(0) + ", " + host(1) + ", " + host(2) + ")"
	fcvs := []fcvCase{
		{Name: "already", Target: "7.0", FCV: fcvOf("7.0"), Mode: "auto", wantConfirm: true, want: "featureCompatibilityVersion is already 7.0"},
		{Name: "already, manual", Target: "7.0", FCV: fcvOf("7.0"), Mode: "manual", wantConfirm: true, want: "featureCompatibilityVersion is already 7.0"},
		{Name: "raise", Target: "7.0", FCV: fcvOf("6.0"), Binaries: bins("7.0", "7.0", "7.0"), Mode: "auto", wantRaise: true, wantConfirm: true,
			want: "featureCompatibilityVersion is 6.0 (binaries " + all + "): every member runs 7.0; raising featureCompatibilityVersion from 6.0 to 7.0"},
		{Name: "raise before 7.0", Target: "6.0", FCV: fcvOf("5.0"), Binaries: bins("6.0"), Mode: "auto", wantRaise: true, wantConfirm: false,
			want: "featureCompatibilityVersion is 5.0 (binaries 6.0 (" + host(0) + ")): every member runs 6.0; raising featureCompatibilityVersion from 5.0 to 6.0"},
		{Name: "mid roll", Target: "7.0", FCV: fcvOf("6.0"), Binaries: bins("7.0", "6.0", "7.0"), Mode: "auto", wantConfirm: true,
			want: "featureCompatibilityVersion is 6.0 (binaries 7.0 (" + host(0) + ", " + host(2) + "), 6.0 (" + host(1) + ")): not raised to 7.0, " +
				"not every member runs 7.0 yet (" + host(1) + " runs 6.0); a later full step raises it once every member does"},
		{Name: "a member does not answer", Target: "7.0", FCV: fcvOf("6.0"), Binaries: bins("7.0", "7.0"), Silent: silentDown, Mode: "auto", wantConfirm: true,
			want: "featureCompatibilityVersion is 6.0 (binaries 7.0 (" + host(0) + ", " + host(1) + ")): not raised to 7.0, " +
				"not every member runs 7.0 yet (" + host(2) + " does not answer (DOWN)); a later full step raises it once every member does"},
		{Name: "manual", Target: "7.0", FCV: fcvOf("6.0"), Binaries: bins("7.0", "7.0", "7.0"), Mode: "manual", wantConfirm: true,
			want: "featureCompatibilityVersion is 6.0 (binaries " + all + "); mongoFeatureCompatibility is manual: raise it with " +
				"db.adminCommand({setFeatureCompatibilityVersion: '7.0', confirm: true})"},
		{Name: "manual mid roll", Target: "7.0", FCV: fcvOf("6.0"), Binaries: bins("7.0", "6.0"), Mode: "manual", wantConfirm: true,
			want: "featureCompatibilityVersion is 6.0 (binaries 7.0 (" + host(0) + "), 6.0 (" + host(1) + ")); mongoFeatureCompatibility is manual: raise it with " +
				"db.adminCommand({setFeatureCompatibilityVersion: '7.0', confirm: true}) once every member runs 7.0 (" + host(1) + " runs 6.0)"},
		{Name: "manual before 7.0", Target: "6.0", FCV: fcvOf("5.0"), Binaries: bins("6.0"), Mode: "manual",
			want: "featureCompatibilityVersion is 5.0 (binaries 6.0 (" + host(0) + ")); mongoFeatureCompatibility is manual: raise it with " +
				"db.adminCommand({setFeatureCompatibilityVersion: '6.0'})"},
		{Name: "in transition up to the target", Target: "7.0", FCV: fcvOf("6.0", "7.0"), Binaries: bins("7.0", "7.0", "7.0"), Mode: "auto", wantRaise: true, wantConfirm: true,
			want: "featureCompatibilityVersion is in transition from 6.0 to 7.0 (binaries " + all + "): every member runs 7.0; completing the change to 7.0"},
		{Name: "in transition down", Target: "7.0", FCV: fcvOf("6.0", "6.0", "7.0"), Binaries: bins("7.0", "7.0", "7.0"), Mode: "auto", wantConfirm: true,
			want: "featureCompatibilityVersion is in transition from 7.0 down to 6.0 (binaries " + all + "): not raised; finish or undo that change by hand..."},
		{Name: "two behind", Target: "8.0", FCV: fcvOf("6.0"), Binaries: bins("8.0"), Mode: "auto", wantConfirm: true,
			want: "featureCompatibilityVersion is 6.0 (binaries 8.0 (" + host(0) + ")): not raised to 8.0: it is not the release before it (7.0)"},
		{Name: "target not a known release", Target: "8.1", FCV: fcvOf("8.0"), Binaries: bins("8.1"), Mode: "auto", wantConfirm: true,
			want: "featureCompatibilityVersion is 8.0 (binaries 8.1 (" + host(0) + ")): not raised to 8.1: it is not a release known to come just before it"},
	}
	upsJSON, err := json.Marshal(ups)
	require.NoError(t, err)
	fcvsJSON, err := json.Marshal(fcvs)
	require.NoError(t, err)
	relJSON, err := json.Marshal(versions.MongoReleaseNames())
	require.NoError(t, err)
	driver := "const ups = " + string(upsJSON) + ";\nconst fcvs = " + string(fcvsJSON) + ";\nconst releases = " + string(relJSON) + `;
for (let i = 0; i < ups.length; i++) {
  const c = ups[i];
  const before = JSON.stringify(c);
  const got = upgradeProblem(c.target, c.fcv, c.binaries || [], releases);
  print('rcha-upgrade: ' + JSON.stringify({ name: c.name, got: got, pure: before === JSON.stringify(c) }));
}
for (let i = 0; i < fcvs.length; i++) {
  const c = fcvs[i];
  const before = JSON.stringify(c);
  const got = fcvPlan(c.target, c.fcv, c.binaries || [], c.silent || [], releases, c.mode);
  print('rcha-fcv: ' + JSON.stringify({ name: c.name, got: got, pure: before === JSON.stringify(c) }));
}
`
	out := runLibrary(t, driver)

	gotUp := map[string]string{}
	type plan struct {
		Raise   bool   `json:"raise"`
		Confirm bool   `json:"confirm"`
		Line    string `json:"line"`
	}
	gotFcv := map[string]plan{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		var r struct {
			Name string          `json:"name"`
			Got  json.RawMessage `json:"got"`
			Pure bool            `json:"pure"`
		}
		if rest, ok := strings.CutPrefix(line, "rcha-upgrade: "); ok {
			require.NoError(t, json.Unmarshal([]byte(rest), &r))
			var s string
			require.NoError(t, json.Unmarshal(r.Got, &s))
			gotUp[r.Name] = s
		} else if rest, ok := strings.CutPrefix(line, "rcha-fcv: "); ok {
			require.NoError(t, json.Unmarshal([]byte(rest), &r))
			var p plan
			require.NoError(t, json.Unmarshal(r.Got, &p))
			gotFcv[r.Name] = p
		} else {
			t.Fatalf("unexpected output line (did main() run?): %q", line)
		}
		assert.True(t, r.Pure, "%s changed its arguments", r.Name)
	}
	for _, c := range ups {
		got, ok := gotUp[c.Name]
		if assert.True(t, ok, "no answer for %q", c.Name) {
			matches(t, c.want, got, c.Name)
		}
	}
	for _, c := range fcvs {
		got, ok := gotFcv[c.Name]
		if !assert.True(t, ok, "no answer for %q", c.Name) {
			continue
		}
		assert.Equal(t, c.wantRaise, got.Raise, "%s: raise", c.Name)
		assert.Equal(t, c.wantConfirm, got.Confirm, "%s: confirm", c.Name)
		matches(t, c.want, got.Line, c.Name)
	}
}

func TestMongoshUpgradeInvalidInput(t *testing.T) {
	t.Parallel()
	// The script validates the version fields itself (exit 2, before any
	// connection), as DesiredState.Validate does on the Go side.
	c := newCluster(t, 1, nil)
	s := pw(1)
	c.secrets = append(c.secrets, s.root, s.rocket, s.oplog)
	for _, tc := range []struct {
		mutate func(d *replicaset.DesiredState)
		want   string
	}{
		{func(d *replicaset.DesiredState) { d.MongoVersion = "7.0.16" }, `ERROR: reading RCHA_DESIRED: mongoVersion "7.0.16" is not major.minor`},
		{func(d *replicaset.DesiredState) { d.MongoReleases = []string{"7.0", "6.0"} },
			`ERROR: reading RCHA_DESIRED: mongoReleases[1] "6.0" is not a major.minor release newer than the one before it`},
		{func(d *replicaset.DesiredState) { d.FeatureCompatibility = "always" },
			`ERROR: reading RCHA_DESIRED: featureCompatibility "always" is neither "auto" nor "manual"`},
	} {
		d := upgrading(desired(1, s, 60), "7.0", replicaset.FeatureCompatibilityAuto)
		tc.mutate(&d)
		r := c.runEnv(0, replicaset.ReconcileEnvDesired+"="+mustJSONUnchecked(t, d), replicaset.ReconcileEnvRootPassword+"="+s.root)
		assert.Equal(t, replicaset.ReconcileExitInput, r.code, r.out)
		assert.Contains(t, r.out, tc.want)
	}
	assert.Zero(t, c.read().Commands["hello"], "no command was sent")
}
