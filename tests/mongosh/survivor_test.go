package mongosh_test

// Running the steps through a member other than node 0 (RCHA_LOCAL, and the
// simulation's per-run RCHA_SIM_LOCAL_NODE / RCHA_SIM_LOCAL_ALIAS), and the
// reconciler's probe mode. Real mongosh, simulated replica set (sim.js).

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// aliasOf is the 127.0.0.1 address of node i's mongod in these tests: each
// node gets its own port, as the step's RCHA_LOCAL does with the nodes' ports.
func aliasOf(i int) string { return fmt.Sprintf("127.0.0.1:%d", 27017+i) }

// setRunning starts or stops the simulated mongods of the given nodes.
func (c *cluster) setRunning(running bool, nodes ...int) {
	c.mutate(func(st map[string]any) {
		ns := st["nodes"].(map[string]any)
		for _, i := range nodes {
			ns[host(i)].(map[string]any)["running"] = running
		}
	})
}

// rawState is the state file as a generic map.
func (c *cluster) rawState() map[string]any {
	b, err := os.ReadFile(c.state)
	require.NoError(c.t, err)
	var st map[string]any
	require.NoError(c.t, json.Unmarshal(b, &st))
	return st
}

// probe runs the reconciler in probe mode: RCHA_PROBE=1, c.env and extra, and
// nothing else (no desired state, no password).
func (c *cluster) probe(extra ...string) result {
	c.t.Helper()
	return c.runEnv(0, append([]string{replicaset.ReconcileEnvProbe + "=1"}, extra...)...)
}

// probeAnswer checks that r printed exactly one line, the probe line, and
// returns what follows the probe prefix.
func probeAnswer(t *testing.T, r result) string {
	t.Helper()
	lines := strings.Split(strings.TrimRight(r.out, "\n"), "\n")
	require.Len(t, lines, 1, "probe mode prints one line:\n%s", r.out)
	answer, ok := strings.CutPrefix(lines[0], replicaset.ReconcileProbePrefix)
	require.True(t, ok, "not a probe line: %q", lines[0])
	return answer
}

func TestMongoshThroughSurvivorRemovesADownVoter(t *testing.T) {
	for _, through := range []int{1, 2} {
		t.Run(fmt.Sprintf("through node%d", through), func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, 3, nil)
			s := c.convergeCached(3)
			// Node 0 (the former primary) is DOWN for good. The steps run through a
			// survivor, reached at its own address: desired.local still names node
			// 0's 127.0.0.1:27017, which this run's simulation refuses, so only
			// RCHA_LOCAL gets there.
			c.setRunning(false, 0)
			c.through(through, aliasOf(through))
			d := desired(3, s, 60)
			d.Members = replicaset.Members(hosts(3)[1:])
			require.Equal(t, []replicaset.DesiredMember{{Host: host(1), Votes: 1, Priority: 1}, {Host: host(2)}}, d.Members,
				"the vote policy for two members: one voter")

			r := c.mustRunResult(pruneOf(d), s.root, s.root)
			assert.Equal(t, replicaset.ReconcileRootCurrent, r.inEffect)
			assert.Contains(t, r.out, "removing voting member "+host(0)+" (_id 0)")
			assert.Contains(t, r.out, "making member "+host(2)+" (_id 2) non-voting")
			st := c.assertMembership(d)
			assert.Equal(t, host(1), *st.Primary, "node1 won the election after node0 went down")
			ws := writesOf(st, c.lastRun())
			require.Len(t, ws, 2, "writes: %v", ops(ws))
			for _, w := range ws {
				assert.Equal(t, "replSetReconfig", w.Op)
				assert.Equal(t, host(1), w.On, "changes run on the primary")
				assert.False(t, w.Forced)
			}
			assert.False(t, hostsIn(ws[0])[host(0)], "node0 removed first: %v", ws[0].Members)
			assert.Contains(t, ws[1].Members, host(2)+"/0/0")
			// The vote policy is reapplied and a re-run of either step writes nothing.
			c.assertNoWritesOnRerun(pruneOf(d), s.root, s.root)
			c.assertNoWritesOnRerun(d, s.root, s.root)
			c.assertConverged(d, s.root)

			// The per-run local node and alias were never written back.
			raw := c.rawState()
			assert.Equal(t, host(0), raw["localNode"])
			assert.Equal(t, localAlias, raw["localAlias"])
			if through != 2 {
				return
			}

			// Node 0 comes back: it was removed, so it is in no replica set (EMPTY),
			// and the steps leave it out.
			c.setRunning(true, 0)
			saved := c.env
			c.env = nil
			assert.Equal(t, replicaset.ReconcileProbeEmpty, probeAnswer(t, c.probe(replicaset.ReconcileEnvLocal+"="+localAlias)))
			c.env = saved
			c.assertNoWritesOnRerun(d, s.root, s.root)
			c.assertConverged(d, s.root)
		})
	}
}

func TestMongoshFullThroughAnotherMemberConvergesTheSame(t *testing.T) {
	t.Parallel()
	// The same scale-out with all passwords rotated, once through node 0 and
	// once through node 2 (a secondary, reached at its own address).
	type outcome struct {
		writes []string
		st     simState
	}
	run := func(through int) outcome {
		c := newCluster(t, 5, nil)
		s := c.convergeCached(3)
		if through != 0 {
			c.through(through, aliasOf(through))
		}
		s2 := pw(2)
		d := desired(5, s2, 60)
		r := c.mustRunResult(d, s2.root, s.root)
		assert.Contains(t, r.out, "reconciling replica set rs0")
		st := c.assertConverged(d, s2.root)
		o := outcome{writes: ops(writesOf(st, c.lastRun())), st: st}
		c.assertNoWritesOnRerun(d, s2.root, s2.root)
		return o
	}
	via0, via2 := run(0), run(2)
	assert.Equal(t, via0.writes, via2.writes, "the same writes in the same order")
	assert.Equal(t, via0.st.Config.Members, via2.st.Config.Members)
	assert.Equal(t, *via0.st.Primary, *via2.st.Primary)
	assert.NotEmpty(t, via2.writes)
}

func TestMongoshLocalOverride(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, nil)
	s := c.convergeCached(3)
	d := desired(3, s, 60)
	before := len(c.read().Writes)

	// Through node 2 at 127.0.0.1:27019 but without RCHA_LOCAL: the script
	// connects to desired.local (127.0.0.1:27017), which is refused.
	c.env = []string{"RCHA_SIM_LOCAL_NODE=" + host(2), "RCHA_SIM_LOCAL_ALIAS=" + aliasOf(2)}
	r := c.run(d, s.root, s.root, 0)
	assert.Equal(t, replicaset.ReconcileExitFailed, r.code, r.out)
	assert.Contains(t, r.out, "ERROR: connecting to the local mongod "+localAlias+": connect ECONNREFUSED "+localAlias)

	// An empty RCHA_LOCAL is unset: desired.local again.
	c.env = append(c.env, replicaset.ReconcileEnvLocal+"=")
	r = c.run(d, s.root, s.root, 0)
	assert.Equal(t, replicaset.ReconcileExitFailed, r.code, r.out)
	assert.Contains(t, r.out, "connect ECONNREFUSED "+localAlias)

	// An invalid value is an input error naming RCHA_LOCAL, before any
	// connection (TestHostPortValidation covers the forms).
	c.env = append(throughEnv(2, aliasOf(2))[:2], replicaset.ReconcileEnvLocal+"=node2:0")
	conns := c.read().Commands["hello"]
	r = c.run(d, s.root, s.root, 0)
	assert.Equal(t, replicaset.ReconcileExitInput, r.code, r.out)
	assert.Contains(t, r.out, `ERROR: RCHA_LOCAL "node2:0" has an invalid port "0"`)
	assert.Equal(t, conns, c.read().Commands["hello"], "no command sent")
	// With RCHA_LOCAL the same run gets through, and has nothing to do.
	c.env = throughEnv(2, aliasOf(2))
	c.assertNoWritesOnRerun(d, s.root, s.root)
	assert.Len(t, c.read().Writes, before, "nothing was written")

	// desired.local is validated the same way when RCHA_LOCAL is unset.
	c.env = nil
	bad := d
	bad.Local = "127.0.0.1:99999"
	cmdBad := c.runEnv(0,
		replicaset.ReconcileEnvDesired+"="+mustJSONUnchecked(t, bad),
		replicaset.ReconcileEnvRootPassword+"="+s.root)
	c.secrets = append(c.secrets, s.root, s.rocket, s.oplog)
	assert.Equal(t, replicaset.ReconcileExitInput, cmdBad.code, cmdBad.out)
	assert.Contains(t, cmdBad.out, `ERROR: reading RCHA_DESIRED: local "127.0.0.1:99999" has an invalid port "99999"`)
}

// mustJSONUnchecked encodes d without DesiredState.Validate, to feed the
// script input that the Go side would reject.
func mustJSONUnchecked(t *testing.T, d replicaset.DesiredState) string {
	t.Helper()
	b, err := json.Marshal(d)
	require.NoError(t, err)
	return string(b)
}

func TestMongoshProbe(t *testing.T) {
	t.Parallel()
	// node0..node2 form the set, node3 is a mongod in no replica set yet.
	c := newCluster(t, 4, nil)
	s := c.convergeCached(3)
	before := c.read()
	at := func(i int) []string { return throughEnv(i, aliasOf(i)) }

	probeAt := func(i int, extra ...string) result {
		t.Helper()
		c.env = at(i)
		defer func() { c.env = nil }()
		return c.probe(extra...)
	}
	for i, want := range []string{replicaset.ReconcileProbePrimary, replicaset.ReconcileProbeSecondary, replicaset.ReconcileProbeEmpty} {
		n := []int{0, 1, 3}[i]
		r := probeAt(n)
		require.Equal(t, replicaset.ReconcileExitOK, r.code, "node%d:\n%s", n, r.out)
		assert.Equal(t, want, probeAnswer(t, r), "node%d", n)
	}

	// With passwords and an invalid RCHA_DESIRED in the environment, probe mode
	// still answers, reads neither, and prints no secret (checked at cleanup).
	c.secrets = append(c.secrets, s.root, s.rocket, "Prev-"+s.root)
	r := probeAt(2,
		replicaset.ReconcileEnvDesired+`={"users": [{"pwd": "`+s.rocket+`"`,
		replicaset.ReconcileEnvRootPassword+"="+s.root,
		replicaset.ReconcileEnvRootPasswordPrevious+"=Prev-"+s.root)
	require.Equal(t, replicaset.ReconcileExitOK, r.code, r.out)
	assert.Equal(t, replicaset.ReconcileProbeSecondary, probeAnswer(t, r))

	// OTHER: in the set but neither primary nor secondary (node2 in initial sync).
	c.mutate(func(st map[string]any) {
		st["syncDelayMs"] = 3600000
		st["nodes"].(map[string]any)[host(2)].(map[string]any)["syncDoneAt"] = nil
	})
	r = probeAt(2)
	require.Equal(t, replicaset.ReconcileExitOK, r.code, r.out)
	assert.Equal(t, replicaset.ReconcileProbeOther, probeAnswer(t, r))

	// failed: the mongod does not answer.
	c.setRunning(false, 1)
	r = probeAt(1)
	assert.Equal(t, replicaset.ReconcileExitFailed, r.code, r.out)
	answer := probeAnswer(t, r)
	assert.True(t, strings.HasPrefix(answer, replicaset.ReconcileProbeFailed+"hello on "+aliasOf(1)+": connect ECONNREFUSED"), answer)

	// Probe mode needs RCHA_LOCAL (exit 2) and a valid one; RCHA_PROBE is "1" or empty.
	c.env = []string{"RCHA_SIM_LOCAL_NODE=" + host(0)}
	r = c.probe()
	assert.Equal(t, replicaset.ReconcileExitInput, r.code, r.out)
	assert.Contains(t, r.out, "ERROR: probe mode (RCHA_PROBE=1) needs RCHA_LOCAL")
	r = c.probe(replicaset.ReconcileEnvLocal + "=localhost")
	assert.Equal(t, replicaset.ReconcileExitInput, r.code, r.out)
	assert.Contains(t, r.out, `ERROR: RCHA_LOCAL "localhost" is not host:port`)
	r = c.runEnv(0, replicaset.ReconcileEnvProbe+"=yes", replicaset.ReconcileEnvLocal+"="+localAlias)
	assert.Equal(t, replicaset.ReconcileExitInput, r.code, r.out)
	assert.Contains(t, r.out, `ERROR: RCHA_PROBE "yes" must be "1" (probe mode) or empty`)
	c.env = nil

	after := c.read()
	assert.Equal(t, len(before.Writes), len(after.Writes), "probe mode writes nothing")
	for _, name := range []string{"auth", "replSetGetStatus", "replSetGetConfig", "usersInfo"} {
		assert.Equal(t, before.Commands[name], after.Commands[name], "probe mode sent %s", name)
	}
	assert.Greater(t, after.Commands["hello"], before.Commands["hello"])
}

func TestMongoshThroughSurvivorKilledAfterEachWriteConverges(t *testing.T) {
	t.Parallel()
	// The prune step through node 2 removes node 0, which is DOWN for good,
	// and demotes node 2 (the vote policy over two members); killed after each
	// of its writes, its re-run converges and the full step then has nothing to do.
	s := pw(1)
	d := keeping(3, s, 60, 1, 2)
	killAfterEachWrite(t, 3, 2, func(c *cluster) (replicaset.DesiredState, string, string) {
		c.convergeCached(3)
		c.setRunning(false, 0)
		c.through(2, aliasOf(2))
		return pruneOf(d), s.root, s.root
	}, func(t *testing.T, c *cluster, ref result) {
		r := c.mustRunResult(pruneOf(d), s.root, s.root)
		assert.Equal(t, ref.inEffect, r.inEffect)
		assert.Contains(t, r.out, "prune of replica set rs0 converged")
		c.assertMembership(d)
		c.assertNoWritesOnRerun(d, s.root, s.root)
		c.assertConverged(d, s.root)
	})
}

func TestMongoshInitiateThroughAnotherMemberFails(t *testing.T) {
	t.Parallel()
	// A fresh set is initiated through member 0 (the step does so); through
	// node 2, mongod itself refuses an initiate that does not name it (74).
	c := newCluster(t, 3, nil)
	c.through(2, aliasOf(2))
	s := pw(1)
	r := c.run(desired(3, s, 60), s.root, "", 0)
	require.Equal(t, replicaset.ReconcileExitFailed, r.code, r.out)
	assert.Contains(t, r.out, "(code 74 NodeNotFound); a new set is initiated through member 0 (RCHA_LOCAL must then be member 0's mongod)")
	st := c.read()
	assert.Nil(t, st.Config)
	assert.Empty(t, st.Writes)
	assert.Empty(t, st.Users)
}
