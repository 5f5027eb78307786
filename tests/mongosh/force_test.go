package mongosh_test

// Force mode: the opt-in recovery from a lost majority (`rcha retire
// --force-reconfig`). Real mongosh, simulated replica set (sim.js), whose
// forced-reconfig rules are stricter than mongod's: it refuses a force while
// any member is primary.

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// forceOf is d as the forced prune step passes it: force mode, no users.
func forceOf(d replicaset.DesiredState) replicaset.DesiredState {
	d.Mode = replicaset.ReconcileModeForce
	d.Users = nil
	return d
}

// keeping is desired(n, s, wait) with the vote policy over the given nodes only.
func keeping(n int, s secrets, wait int, nodes ...int) replicaset.DesiredState {
	d := desired(n, s, wait)
	d.Members = replicaset.Members(hostsOf(nodes))
	return d
}

// hostsOf is the member hosts of the given nodes.
func hostsOf(nodes []int) []string {
	out := make([]string, len(nodes))
	for i, k := range nodes {
		out[i] = host(k)
	}
	return out
}

const primaryExistsMsg = "a forced reconfig is refused; retire without --force-reconfig"

// assertRefusedNoWrite runs d, requires exit code and message, and checks
// that the run sent no write command and forced nothing more.
func (c *cluster) assertRefusedNoWrite(d replicaset.DesiredState, root, previous string, code int, msg string) result {
	c.t.Helper()
	before := c.read()
	r := c.run(d, root, previous, 0)
	require.Equal(c.t, code, r.code, "want a refusal:\n%s", r.out)
	assert.Contains(c.t, r.out, msg)
	assert.NotContains(c.t, r.out, "WARNING: forcing")
	assert.NotContains(c.t, r.out, replicaset.ReconcileRootInEffectPrefix)
	after := c.read()
	assert.Equal(c.t, len(before.Writes), len(after.Writes), "the refused run wrote: %v", ops(after.Writes[len(before.Writes):]))
	for _, cmd := range writeCommands {
		assert.Equal(c.t, before.Commands[cmd], after.Commands[cmd], "the refused run sent %s:\n%s", cmd, r.out)
	}
	assert.Equal(c.t, before.Forced, after.Forced, "the refused run sent a force")
	return r
}

func TestMongoshForceReconfigMajorityLost(t *testing.T) {
	type forceCase struct {
		name    string
		nodes   int // simulated nodes; the set is desired(members)
		members int
		down    []int
		primary int // the primary before the loss (-1: as elected)
		through int
		// all also checks that the prune step cannot recover and, at the end, the prune and full steps.
		all  bool
		keep []int // desired members of the force step
		// kept is what the forced config keeps (keep minus members not configured).
		kept []int
	}
	cases := []forceCase{
		{"3 members, 2 down for good, 1 survivor", 3, 3, []int{0, 1}, -1, 2, true, []int{2}, []int{2}},
		{"3 members, the survivor was primary", 3, 3, []int{0, 1}, 2, 2, false, []int{2}, []int{2}},
		{"5 members, 3 down, 2 survivors, through the one left without a vote", 5, 5, []int{0, 1, 2}, -1, 4, false, []int{3, 4}, []int{3, 4}},
		{"5 members, 3 down, a new node to add afterwards", 6, 5, []int{0, 1, 2}, 3, 3, true, []int{3, 4, 5}, []int{3, 4}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, tc.nodes, nil)
			s := c.convergeCached(tc.members)
			before := c.read()
			if tc.primary >= 0 {
				c.mutate(func(st map[string]any) { st["primary"] = host(tc.primary) })
			}
			c.setRunning(false, tc.down...)
			c.through(tc.through, aliasOf(tc.through))
			d := keeping(tc.members, s, 60, tc.keep...)
			afterForce := keeping(tc.members, s, 60, tc.kept...)
			for i := range afterForce.Members {
				afterForce.Members[i] = d.Members[i] // the votes the force step gives: d's
			}

			if tc.all {
				// The prune step cannot help: no primary, and none can be elected.
				short := pruneOf(d)
				short.WaitSeconds = 5
				r := c.run(short, s.root, s.root, 0)
				require.Equal(t, replicaset.ReconcileExitTimeout, r.code, r.out)
				assert.Contains(t, r.out, "no member is primary")
			}

			r := c.mustRunResult(forceOf(d), s.root, s.root)
			assert.Equal(t, replicaset.ReconcileRootCurrent, r.inEffect)
			for _, want := range []string{
				"rcha-reconcile: force mode: recovering replica set rs0 from a lost majority through " + aliasOf(tc.through),
				"rcha-reconcile: WARNING: forcing a replica-set reconfig of rs0 on " + host(tc.through) + ": no member is primary",
				"rcha-reconcile: WARNING: writes acknowledged only by the lost members may be lost",
				"rcha-reconcile: forced reconfig accepted on " + host(tc.through),
				"rcha-reconcile: forced recovery of replica set rs0 converged: " + fmt.Sprint(len(tc.kept)) + " member(s) configured",
			} {
				assert.Contains(t, r.out, want)
			}
			var st simState
			if len(tc.keep) == len(tc.kept) {
				st = c.assertMembershipForced(afterForce, 1)
			} else {
				// Two voters are left until the full step adds the new member.
				st = c.read()
				require.NotNil(t, st.Primary)
				assert.Equal(t, 1, st.Forced)
			}
			assert.Equal(t, 1, st.ForcedOK)
			require.Len(t, st.Config.Members, len(tc.kept))
			ws := writesOf(st, c.lastRun())
			require.Len(t, ws, 1, "one write, the forced reconfig: %v", ops(ws))
			assert.Equal(t, "replSetReconfig", ws[0].Op)
			assert.True(t, ws[0].Forced)
			assert.Equal(t, host(tc.through), ws[0].On, "forced on the local survivor")
			assert.Greater(t, st.Config.Version, before.Config.Version+10000, "the server raises a forced config's version")
			assert.Equal(t, before.Config.Settings.ReplicaSetID, st.Config.Settings.ReplicaSetID, "the replicaSetId is kept")
			require.NotEmpty(t, before.Config.Settings.ReplicaSetID)
			for i, m := range st.Config.Members {
				assert.Equal(t, host(tc.kept[i]), m.Host)
				assert.Equal(t, tc.kept[i], m.ID, "the _id is kept")
				require.NotNil(t, m.Votes)
				require.NotNil(t, m.Priority)
				assert.Equal(t, afterForce.Members[i].Votes, *m.Votes, "votes of %s as desired", m.Host)
				assert.Equal(t, afterForce.Members[i].Priority, *m.Priority, "priority of %s as desired", m.Host)
			}
			assert.Contains(t, hostsOf(tc.kept), *st.Primary, "the primary is a survivor")
			assert.Equal(t, before.Users, st.Users, "force mode touches no user")

			// Re-running the one-shot refuses: a primary exists now.
			c.assertRefusedNoWrite(forceOf(d), s.root, s.root, replicaset.ReconcileExitFailed,
				"rcha-reconcile: ERROR: a primary exists ("+*st.Primary+"): "+primaryExistsMsg)
			if !tc.all {
				return
			}
			// The steps that follow: prune has nothing left to do; full adds the
			// desired members that were not configured, and is then converged.
			c.assertNoWritesOnRerun(pruneOf(d), s.root, s.root)
			if len(tc.keep) == len(tc.kept) {
				c.assertNoWritesOnRerun(d, s.root, s.root)
			} else {
				c.mustRun(d, s.root, s.root)
				c.assertNoWritesOnRerun(d, s.root, s.root)
			}
			c.assertConvergedForced(d, s.root, 1)
		})
	}
}

func TestMongoshForceReconfigRefused(t *testing.T) {
	s := pw(1)
	t.Run("a primary exists, through a secondary", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 3, nil)
		c.convergeCached(3)
		c.through(1, aliasOf(1))
		c.assertRefusedNoWrite(forceOf(keeping(3, s, 60, 1, 2)), s.root, s.root, replicaset.ReconcileExitFailed,
			"rcha-reconcile: ERROR: a primary exists ("+host(0)+"): "+primaryExistsMsg)
		assert.Zero(t, c.read().Forced)
	})
	t.Run("through the primary", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 3, nil)
		c.convergeCached(3)
		c.assertRefusedNoWrite(forceOf(keeping(3, s, 60, 0)), s.root, s.root, replicaset.ReconcileExitFailed,
			"rcha-reconcile: ERROR: a primary exists ("+host(0)+"): "+primaryExistsMsg)
		assert.Zero(t, c.read().Forced)
	})
	t.Run("one member lost: the majority elects, no force", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 3, nil)
		c.convergeCached(3)
		c.setRunning(false, 0)
		c.through(2, aliasOf(2))
		d := keeping(3, s, 60, 1, 2)
		// Right after the loss nobody is primary yet, but two of three voters answer.
		c.assertRefusedNoWrite(forceOf(d), s.root, s.root, replicaset.ReconcileExitFailed,
			"force mode: 2 of the 3 voting members are reachable, a majority that elects a primary by itself: a forced reconfig is refused")
		// The prune step waits for the election and removes node0; then force refuses.
		c.mustRun(pruneOf(d), s.root, s.root)
		c.assertMembership(d)
		c.assertRefusedNoWrite(forceOf(d), s.root, s.root, replicaset.ReconcileExitFailed,
			"rcha-reconcile: ERROR: a primary exists ("+host(1)+"): "+primaryExistsMsg)
		assert.Zero(t, c.read().Forced)
	})
	t.Run("the kept voters would have no majority", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 5, nil)
		c.convergeCached(5)
		c.setRunning(false, 0, 1, 2)
		c.through(3, aliasOf(3))
		c.assertRefusedNoWrite(forceOf(keeping(5, s, 60, 0, 1, 3)), s.root, s.root, replicaset.ReconcileExitFailed,
			"force mode: only 1 of the 3 voting members the forced config would keep ("+host(0)+", "+host(1)+", "+host(3)+") are reachable")
		assert.Zero(t, c.read().Forced)
	})
	t.Run("the local member is not kept", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 3, nil)
		c.convergeCached(3)
		c.setRunning(false, 0, 1)
		c.through(2, aliasOf(2))
		c.assertRefusedNoWrite(forceOf(keeping(3, s, 60, 1)), s.root, s.root, replicaset.ReconcileExitInput,
			"force mode: the local mongod "+host(2)+" is not a desired member")
		assert.Zero(t, c.read().Forced)
	})
	t.Run("no primary within the bound after the forced reconfig", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 3, nil)
		c.convergeCached(3)
		c.setRunning(false, 0, 1)
		c.mutate(func(st map[string]any) { st["electionDelayMs"] = 1e9 }) // the survivor takes its time
		c.through(2, aliasOf(2))
		d := keeping(3, s, 5, 2)
		r := c.run(forceOf(d), s.root, s.root, 0)
		require.Equal(t, replicaset.ReconcileExitTimeout, r.code, r.out)
		assert.Contains(t, r.out, "rcha-reconcile: ERROR: timed out after 5s waiting for a primary among "+host(2)+" after the forced reconfig: no member is primary yet")
		st := c.read()
		assert.Equal(t, 1, st.ForcedOK)
		assert.Nil(t, st.Primary)
		// The re-run, once the survivor can be elected, forces nothing more and converges.
		c.mutate(func(st map[string]any) {
			st["electionDelayMs"] = 2000
			st["electionAt"] = st["clock"].(float64) + 2000 // due during the re-run's wait
		})
		r = c.mustRunResult(forceOf(d), s.root, s.root)
		assert.Contains(t, r.out, "nothing to force; waiting for a primary")
		c.assertMembershipForced(d, 1)
	})
	t.Run("no replica set yet", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 3, nil)
		c.assertRefusedNoWrite(forceOf(desired(3, s, 60)), s.root, "", replicaset.ReconcileExitFailed,
			"force mode: the local mongod "+localAlias+" has no replica-set config: nothing to force (no write)")
		assert.Nil(t, c.read().Config)
	})
}

// The forced step killed right after its one write (the forced reconfig) and
// re-run: what happens depends on whether the survivors elected a primary in
// between. Re-run before the election (at once, as the engine's retry does),
// force mode sees the config already holds only the kept members, forces
// nothing and converges; re-run after it, force mode refuses because a
// primary exists, and the prune step then converges with no write.
func TestMongoshForceKilledAfterEachWriteConverges(t *testing.T) {
	t.Parallel()
	s := pw(1)
	d := keeping(3, s, 60, 2)
	setup := func(c *cluster) (replicaset.DesiredState, string, string) {
		c.convergeCached(3)
		c.setRunning(false, 0, 1)
		c.through(2, aliasOf(2))
		return forceOf(d), s.root, s.root
	}
	killAfterEachWrite(t, 3, 1, setup, func(t *testing.T, c *cluster, ref result) {
		st := c.read()
		require.Equal(t, 1, st.ForcedOK, "killed after the forced reconfig")
		require.Nil(t, st.Primary, "killed before the election")

		n := len(st.Writes)
		r := c.mustRunResult(forceOf(d), s.root, s.root)
		assert.Equal(t, ref.inEffect, r.inEffect)
		assert.Contains(t, r.out, "already holds only the desired members "+host(2))
		assert.Contains(t, r.out, "nothing to force; waiting for a primary")
		assert.NotContains(t, r.out, "WARNING: forcing")
		assert.Contains(t, r.out, "forced recovery of replica set rs0 converged")
		st = c.assertMembershipForced(d, 1)
		assert.Len(t, st.Writes, n, "the re-run wrote: %v", ops(st.Writes[n:]))

		c.assertRefusedNoWrite(forceOf(d), s.root, s.root, replicaset.ReconcileExitFailed,
			"rcha-reconcile: ERROR: a primary exists ("+host(2)+"): "+primaryExistsMsg)
		c.assertNoWritesOnRerun(pruneOf(d), s.root, s.root)
		c.assertNoWritesOnRerun(d, s.root, s.root)
		c.assertConvergedForced(d, s.root, 1)
	})

	t.Run("re-run after the election", func(t *testing.T) {
		t.Parallel()
		c := newCluster(t, 3, nil)
		fd, root, prev := setup(c)
		r := c.run(fd, root, prev, 1)
		require.Equal(t, killCode, r.code, r.out)
		require.Equal(t, 1, c.read().ForcedOK)
		// Time passes before the re-run: the survivor elects itself.
		c.mutate(func(st map[string]any) { st["clock"] = st["clock"].(float64) + 60000 })
		c.assertRefusedNoWrite(fd, root, prev, replicaset.ReconcileExitFailed,
			"rcha-reconcile: ERROR: a primary exists ("+host(2)+"): "+primaryExistsMsg)
		c.assertNoWritesOnRerun(pruneOf(d), root, prev)
		c.assertNoWritesOnRerun(d, root, prev)
		c.assertConvergedForced(d, root, 1)
	})
}

func TestMongoshSimulationForcedReconfigRules(t *testing.T) {
	// Guards the simulation's forced-reconfig rules themselves, with a small
	// script instead of the reconciler.
	t.Parallel()
	c := newCluster(t, 3, nil)
	s := c.convergeCached(3)
	before := c.read()
	script := func(body string) string {
		t.Helper()
		old := c.script
		defer func() { c.script = old }()
		c.script = c.script + ".force-probe.js"
		require.NoError(t, writeFile(c.script, fmt.Sprintf(`
function probe() {
  function tryIt(label, f) {
    try { f(); print('rcha-reconcile: ' + label + ' ok'); }
    catch (e) { print('rcha-reconcile: ' + label + ' code ' + e.code + ' ' + e.name + ': ' + e.message); }
  }
  function login(addr) { const db = new Mongo('mongodb://' + addr + '/?directConnection=true').getDB('admin'); db.auth('root', %q); return db; }
  function without(cfg, keep, version) {
    return Object.assign({}, cfg, {version: version, members: cfg.members.filter((m) => keep.indexOf(m._id) >= 0)});
  }
  %s
}
probe();
quit(0);
`, s.root, body)))
		r := c.run(desired(3, s, 60), s.root, "", 0)
		require.Equal(t, 0, r.code, r.out)
		return r.out
	}

	out := script(fmt.Sprintf(`
  const a = login('%s');
  const b = login('%s');
  const cfg = a.runCommand({replSetGetConfig: 1}).config;
  tryIt('force on the primary', () => a.runCommand({replSetReconfig: without(cfg, [2], cfg.version + 1), force: true}));
  tryIt('force on a secondary while a primary exists', () => b.runCommand({replSetReconfig: without(cfg, [2], cfg.version + 1), force: true}));
`, host(0), host(1)))
	assert.Contains(t, out, "force on the primary code 2 MongoServerError: simulation rule: replSetReconfig with force: true is refused on the primary "+host(0))
	assert.Contains(t, out, "force on a secondary while a primary exists code 2 MongoServerError: simulation rule: replSetReconfig with force: true is refused on "+host(1)+" while "+host(0)+" is primary")
	st := c.read()
	assert.Equal(t, 2, st.Forced, "every force is counted")
	assert.Zero(t, st.ForcedOK)
	assert.Equal(t, before.Config.Version, st.Config.Version)

	// The majority is lost: node2 survives alone.
	c.setRunning(false, 0, 1)
	c.through(2, aliasOf(2))
	out = script(fmt.Sprintf(`
  tryIt('hello on a down member', () => new Mongo('mongodb://%s/?directConnection=true').getDB('admin').runCommand({hello: 1}));
  const l = login('%s');
  const h = l.runCommand({hello: 1});
  print('rcha-reconcile: before: primary ' + (h.primary || 'none') + ', secondary ' + h.secondary);
  const cfg = l.runCommand({replSetGetConfig: 1}).config;
  tryIt('plain reconfig on a secondary', () => l.runCommand({replSetReconfig: without(cfg, [2], cfg.version + 1)}));
  tryIt('force without this node', () => l.runCommand({replSetReconfig: without(cfg, [0], cfg.version + 1), force: true}));
  const viaJSON = JSON.parse(JSON.stringify(without(cfg, [2], cfg.version + 1)));
  tryIt('force with the replicaSetId through JSON', () => l.runCommand({replSetReconfig: viaJSON, force: true}));
  const remap = Object.assign({}, cfg, {version: cfg.version + 1, members: [{_id: 0, host: '%s'}]});
  tryIt('force remapping an _id', () => l.runCommand({replSetReconfig: remap, force: true}));
  tryIt('force with no voter', () => l.runCommand({replSetReconfig: Object.assign({}, cfg, {version: cfg.version + 1,
    members: [{_id: 2, host: '%s', votes: 0, priority: 0}]}), force: true}));
  tryIt('force keeping this node', () => l.runCommand({replSetReconfig: without(cfg, [2], 1), force: true}));
  const after = l.runCommand({replSetGetConfig: 1}).config;
  print('rcha-reconcile: version raised by ' + (after.version - cfg.version) + ', same replicaSetId ' +
    (String(after.settings.replicaSetId) === String(cfg.settings.replicaSetId)) + ', members ' + after.members.map((m) => m._id + '=' + m.host).join(','));
  let primary = false;
  for (let i = 0; i < 10 && !primary; i++) { sleep(1000); primary = l.runCommand({hello: 1}).isWritablePrimary === true; }
  print('rcha-reconcile: the survivor is primary: ' + primary);
  tryIt('force once a primary exists', () => l.runCommand({replSetReconfig: Object.assign({}, after, {version: after.version + 1}), force: true}));
`, host(0), aliasOf(2), host(2), host(2)))
	for _, want := range []string{
		"hello on a down member code undefined MongoNetworkError: connect ECONNREFUSED " + host(0),
		"before: primary none, secondary true",
		"plain reconfig on a secondary code 10107",
		"force without this node code 74",
		"force with the replicaSetId through JSON code 103",
		"force remapping an _id code 103",
		"force with no voter code 93",
		"force keeping this node ok",
		", same replicaSetId true, members 2=" + host(2),
		"the survivor is primary: true",
		"force once a primary exists code 2 MongoServerError: simulation rule: replSetReconfig with force: true is refused on the primary " + host(2),
	} {
		assert.Contains(t, out, want)
	}
	var raised int
	for _, line := range strings.Split(out, "\n") {
		if _, rest, ok := strings.Cut(line, "version raised by "); ok {
			_, err := fmt.Sscanf(rest, "%d", &raised)
			require.NoError(t, err)
		}
	}
	assert.GreaterOrEqual(t, raised, 10000, "a forced config's version is raised by the server")
	assert.Less(t, raised, 20001)
	st = c.read()
	assert.Equal(t, 2+6, st.Forced, "every force is counted, accepted or not")
	assert.Equal(t, 1, st.ForcedOK)
	require.NotNil(t, st.Primary)
	assert.Equal(t, host(2), *st.Primary, "an election among the new config's running voters")
	assert.Equal(t, before.Config.Settings.ReplicaSetID, st.Config.Settings.ReplicaSetID)
}
