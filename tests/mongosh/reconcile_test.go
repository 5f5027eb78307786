package mongosh_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestMongoshFreshInitiate(t *testing.T) {
	for _, n := range []int{1, 3, 5, 8} {
		t.Run(fmt.Sprintf("N=%d", n), func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, n, nil)
			s := pw(1)
			d := desired(n, s, 60)
			out := c.mustRun(d, s.root, "")
			st := c.assertConverged(d, s.root)

			ws := writesOf(st, 0)
			require.GreaterOrEqual(t, len(ws), 2, "writes: %v", ops(ws))
			// Initiated with member 0 alone, under its cluster host name, via the localhost exception.
			assert.Equal(t, "replSetInitiate", ws[0].Op)
			assert.Equal(t, "version 1 members "+host(0), ws[0].Detail)
			assert.Equal(t, "createUser", ws[1].Op)
			assert.Equal(t, "root@admin", ws[1].Detail)
			assert.GreaterOrEqual(t, st.LocalhostX, 2)
			// Then one member per reconfig, then the other users.
			reconfigs := 0
			for _, w := range ws[2:] {
				if w.Op == "replSetReconfig" {
					reconfigs++
				}
			}
			assert.Equal(t, n-1, reconfigs, "writes: %v", ops(ws))
			assert.ElementsMatch(t, []string{"createUser rocket@admin", "createUser oploguser@admin"}, ops(ws[len(ws)-2:]))
			assert.Contains(t, out, "initiating replica set rs0 with member 0 "+host(0))

			if n == 8 {
				votes := map[string]int{}
				for _, m := range st.Config.Members {
					votes[m.Host] = *m.Votes
				}
				for i := 0; i < 7; i++ {
					assert.Equal(t, 1, votes[host(i)], "node%d votes", i)
				}
				assert.Equal(t, 0, votes[host(7)], "node7 votes")
				for _, m := range st.Config.Members {
					if m.Host == host(7) {
						assert.Equal(t, 0.0, *m.Priority)
					}
				}
			}
			c.assertNoWritesOnRerun(d, s.root, s.root)
		})
	}
}

func TestMongoshScaling(t *testing.T) {
	for _, tc := range []struct{ from, to int }{{3, 5}, {5, 3}, {7, 9}, {9, 7}, {3, 1}, {2, 3}, {5, 4}} {
		t.Run(fmt.Sprintf("%d->%d", tc.from, tc.to), func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, 9, nil)
			s := pw(1)
			c.mustRun(desired(tc.from, s, 60), s.root, "")
			first := len(c.read().Writes)
			d := desired(tc.to, s, 60)
			out := c.mustRun(d, s.root, s.root)
			st := c.assertConverged(d, s.root)
			for _, w := range st.Writes[first:] {
				assert.Contains(t, []string{"replSetReconfig", "replSetStepDown"}, w.Op, "scaling wrote %s", w.Op)
			}
			assert.NotEmpty(t, st.Writes[first:], "scaling made no change")
			for i := tc.to; i < tc.from; i++ {
				assert.Contains(t, out, "removing")
				assert.Contains(t, out, host(i))
			}
			c.assertNoWritesOnRerun(d, s.root, s.root)
		})
	}
}

func TestMongoshScaleInStepsDownARemovedPrimary(t *testing.T) {
	c := newCluster(t, 5, nil)
	s := pw(1)
	c.mustRun(desired(5, s, 60), s.root, "")
	// An election moved the primary to node4, which is about to be removed.
	c.mutate(func(st map[string]any) { st["primary"] = host(4) })
	d := desired(3, s, 60)
	out := c.mustRun(d, s.root, s.root)
	st := c.assertConverged(d, s.root)
	assert.Contains(t, out, "stepping down primary "+host(4))
	assertStepDownBeforeRemoval(t, writesOf(st, 2), host(4))
	c.assertNoWritesOnRerun(d, s.root, s.root)
}

func TestMongoshRotatePasswordsAndRoles(t *testing.T) {
	c := newCluster(t, 3, nil)
	s1 := pw(1)
	c.mustRun(desired(3, s1, 60), s1.root, "")

	t.Run("rocket", func(t *testing.T) {
		s := s1
		s.rocket = "Rock-rotated-A1"
		d := desired(3, s, 60)
		out := c.mustRun(d, s.root, s.root)
		c.assertConverged(d, s.root)
		assert.Equal(t, []string{"updateUser rocket@admin pwd"}, ops(writesOf(c.read(), c.lastRun())))
		assert.Contains(t, out, "updating password of user rocket@admin")
		s1 = s
	})
	t.Run("oplog", func(t *testing.T) {
		s := s1
		s.oplog = "Oplg-rotated-B2"
		d := desired(3, s, 60)
		c.mustRun(d, s.root, s.root)
		c.assertConverged(d, s.root)
		assert.Equal(t, []string{"updateUser oploguser@admin pwd"}, ops(writesOf(c.read(), c.lastRun())))
		s1 = s
	})
	t.Run("root", func(t *testing.T) {
		s := s1
		old := s.root
		s.root = "R00t-rotated-C3"
		d := desired(3, s, 60)
		c.mustRun(d, s.root, old)
		c.assertConverged(d, s.root)
		assert.Equal(t, []string{"updateUser root@admin pwd"}, ops(writesOf(c.read(), c.lastRun())))
		// The next update passes the applied password back as previous.
		c.assertNoWritesOnRerun(d, s.root, s.root)
		s1 = s
	})
	t.Run("all at once, root last", func(t *testing.T) {
		old := s1.root
		s := pw(7)
		d := desired(3, s, 60)
		d.Users[0].Roles = []replicaset.Role{{Role: "readWrite", DB: "rocketchat"}}
		c.mustRun(d, s.root, old)
		c.assertConverged(d, s.root)
		got := ops(writesOf(c.read(), c.lastRun()))
		require.Len(t, got, 3)
		assert.ElementsMatch(t, []string{"updateUser rocket@admin pwd+roles", "updateUser oploguser@admin pwd"}, got[:2])
		assert.Equal(t, "updateUser root@admin pwd", got[2], "root is updated last")
		c.assertNoWritesOnRerun(d, s.root, s.root)
	})
	t.Run("wrong root passwords", func(t *testing.T) {
		d := desired(3, pw(7), 60)
		r := c.run(d, "not-the-root-pw-1", "not-the-root-pw-2", 0)
		assert.Equal(t, replicaset.ReconcileExitAuth, r.code, r.out)
		assert.Contains(t, r.out, "ERROR: authenticating as root on "+localAlias)
		assert.Contains(t, r.out, "current and the previous root password")
	})
}

func (c *cluster) lastRun() int {
	st := c.read()
	max := 0
	for _, w := range st.Writes {
		if w.Run > max {
			max = w.Run
		}
	}
	return max
}

// scenario is a sequence of desired states applied to a fresh cluster; the last
// step is the one killed after each of its writes.
type scenario struct {
	name  string
	nodes int
	setup func(c *cluster) (d replicaset.DesiredState, root, previous string)
}

func TestMongoshKilledAfterEachStepConverges(t *testing.T) {
	scenarios := []scenario{
		{"fresh 3", 3, func(c *cluster) (replicaset.DesiredState, string, string) {
			s := pw(1)
			return desired(3, s, 60), s.root, ""
		}},
		{"3 to 5 with all passwords rotated", 5, func(c *cluster) (replicaset.DesiredState, string, string) {
			s := pw(1)
			c.mustRun(desired(3, s, 60), s.root, "")
			s2 := pw(2)
			return desired(5, s2, 60), s2.root, s.root
		}},
		{"5 to 3 removing the primary", 5, func(c *cluster) (replicaset.DesiredState, string, string) {
			s := pw(1)
			c.mustRun(desired(5, s, 60), s.root, "")
			c.mutate(func(st map[string]any) { st["primary"] = host(3) })
			return desired(3, s, 60), s.root, s.root
		}},
		{"9 to 2", 9, func(c *cluster) (replicaset.DesiredState, string, string) {
			s := pw(1)
			c.mustRun(desired(9, s, 60), s.root, "")
			return desired(2, s, 60), s.root, s.root
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			var d replicaset.DesiredState
			var root, prev string
			killAfterEachWrite(t, sc.nodes, 1, func(c *cluster) (replicaset.DesiredState, string, string) {
				d, root, prev = sc.setup(c)
				return d, root, prev
			}, func(t *testing.T, c *cluster, _ result) {
				// The failed step recorded nothing, so the next run gets the same inputs.
				out := c.mustRun(d, root, prev)
				c.assertConverged(d, root)
				assert.Contains(t, out, "converged")
			})
		})
	}
}

func TestMongoshMemberNeverComesUp(t *testing.T) {
	const wait = 20
	c := newCluster(t, 3, func(st map[string]any) {
		st["nodes"].(map[string]any)[host(2)] = map[string]any{"running": false}
	})
	s := pw(1)
	d := desired(3, s, wait)
	r := c.run(d, s.root, "", 0)
	require.Equal(t, replicaset.ReconcileExitTimeout, r.code, r.out)
	lines := strings.Split(strings.TrimSpace(r.out), "\n")
	last := lines[len(lines)-1]
	assert.True(t, strings.HasPrefix(last, replicaset.ReconcileProgressPrefix+" ERROR: timed out after 20s waiting for adding member "+host(2)), last)
	assert.Contains(t, last, "member "+host(2)+" (_id 2) is DOWN, want SECONDARY")
	st := c.read()
	// Bounded: the failing wait gave up after its bound; the whole run stayed well within
	// a few bounds of virtual time (the earlier waits were short).
	elapsed := st.Clock - st.RunStart
	assert.LessOrEqual(t, elapsed, float64(2*wait*1000), "virtual ms spent")
	assert.GreaterOrEqual(t, st.RunSlept, float64(wait*1000), "it waited its full bound")

	// A re-run also fails within its bound while the member is down...
	r = c.run(d, s.root, s.root, 0)
	require.Equal(t, replicaset.ReconcileExitTimeout, r.code, r.out)
	assert.Contains(t, r.out, host(2))
	// ...and converges once it is up.
	c.mutate(func(st map[string]any) {
		st["nodes"].(map[string]any)[host(2)].(map[string]any)["running"] = true
	})
	c.mustRun(d, s.root, s.root)
	c.assertConverged(d, s.root)
	c.assertNoWritesOnRerun(d, s.root, s.root)
}

func TestMongoshInvalidInput(t *testing.T) {
	c := newCluster(t, 1, nil)
	s := pw(1)
	d := desired(1, s, 60)
	r := c.run(d, "", "", 0)
	assert.Equal(t, replicaset.ReconcileExitInput, r.code, r.out)
	assert.Contains(t, r.out, "RCHA_ROOT_PASSWORD is empty")
	assert.Empty(t, c.read().Writes)
}

func TestMongoshSimulationEnforcesRules(t *testing.T) {
	// Guards that the simulation itself rejects what MongoDB rejects, so the
	// tests above would catch a script that broke these rules.
	c := newCluster(t, 3, nil)
	s := pw(1)
	c.mustRun(desired(3, s, 60), s.root, "")
	probe := func(js string) string {
		t.Helper()
		old := c.script
		defer func() { c.script = old }()
		c.script = c.script + ".probe.js"
		require.NoError(t, writeFile(c.script, fmt.Sprintf(`
function probe() {
  function tryIt(label, f) { try { f(); print('rcha-reconcile: ' + label + ' ok'); } catch (e) { print('rcha-reconcile: ' + label + ' code ' + e.code); } }
  const c = new Mongo('mongodb://%s/?directConnection=true');
  const a = c.getDB('admin');
  const l = new Mongo('mongodb://%s/?directConnection=true').getDB('admin');
  %s
}
probe();
quit(0);
`, host(0), localAlias, js)))
		r := c.run(desired(3, s, 60), s.root, "", 0)
		require.Equal(t, 0, r.code, r.out)
		return r.out
	}
	out := probe(fmt.Sprintf(`
  tryIt('unauthenticated status', () => a.runCommand({replSetGetStatus: 1}));
  tryIt('localhost exception closed', () => l.runCommand({createUser: 'x', pwd: 'y', roles: []}));
  tryIt('bad auth', () => a.auth('root', 'wrong'));
  a.auth('root', %q);
  tryIt('initiate again', () => a.runCommand({replSetInitiate: {_id: 'rs0', version: 1, members: [{_id: 0, host: '%s'}]}}));
  const cfg = a.runCommand({replSetGetConfig: 1}).config;
  const same = Object.assign({}, cfg, {version: cfg.version});
  tryIt('same version', () => a.runCommand({replSetReconfig: same}));
  const two = Object.assign({}, cfg, {version: cfg.version + 1, members: cfg.members.filter((m) => m._id === 0)});
  tryIt('two voters removed', () => a.runCommand({replSetReconfig: two}));
  const dupId = Object.assign({}, cfg, {version: cfg.version + 1, members: cfg.members.concat([{_id: 1, host: 'node3:27017', votes: 0, priority: 0}])});
  tryIt('duplicate _id', () => a.runCommand({replSetReconfig: dupId}));
  const jsonCopy = JSON.parse(JSON.stringify(cfg)); jsonCopy.version = cfg.version + 1;
  tryIt('replicaSetId through JSON', () => a.runCommand({replSetReconfig: jsonCopy}));
  const s1 = new Mongo('mongodb://%s/?directConnection=true').getDB('admin'); s1.auth('root', %q);
  const onSecondary = Object.assign({}, cfg, {version: cfg.version + 1});
  tryIt('reconfig on secondary', () => s1.runCommand({replSetReconfig: onSecondary}));
  tryIt('createUser existing', () => a.runCommand({createUser: 'rocket', pwd: 'p', roles: []}));
  tryIt('updateUser missing', () => a.runCommand({updateUser: 'nobody', pwd: 'p'}));
  tryIt('force', () => a.runCommand({replSetReconfig: onSecondary, force: true}));
  tryIt('admin-only role elsewhere', () => a.runCommand({createUser: 'bk1', pwd: 'p', roles: [{role: 'backup', db: 'rocketchat'}]}));
  tryIt('unknown role', () => a.runCommand({createUser: 'bk2', pwd: 'p', roles: [{role: 'backups', db: 'admin'}]}));
  tryIt('backup role', () => a.runCommand({createUser: 'bk3', pwd: 'p', roles: [{role: 'backup', db: 'admin'}]}));
`, s.root, host(0), host(1), s.root))
	for _, want := range []string{
		"unauthenticated status code 13",
		"localhost exception closed code 13",
		"bad auth code 18",
		"initiate again code 23",
		"same version code 103",
		"two voters removed code 103",
		"duplicate _id code 93",
		"replicaSetId through JSON code 103",
		"reconfig on secondary code 10107",
		"createUser existing code 51003",
		"updateUser missing code 11",
		"force code 2",
		"admin-only role elsewhere code 31",
		"unknown role code 31",
		"backup role ok",
	} {
		assert.Contains(t, out, want)
	}

	// Fresh nodes: not initiated (94), a member with data cannot be in an initiate (110),
	// an initiate that does not name this node (74), and SECONDARY needs a running member.
	f := newCluster(t, 3, func(st map[string]any) {
		st["nodes"].(map[string]any)[host(1)] = map[string]any{"running": true, "hasData": true}
	})
	f.script = f.script + ".probe.js"
	require.NoError(t, writeFile(f.script, fmt.Sprintf(`
function probe() {
  function tryIt(label, f) { try { f(); print('rcha-reconcile: ' + label + ' ok'); } catch (e) { print('rcha-reconcile: ' + label + ' code ' + e.code); } }
  const l = new Mongo('mongodb://%s/?directConnection=true').getDB('admin');
  tryIt('status before initiate', () => l.runCommand({replSetGetStatus: 1}));
  tryIt('reconfig before initiate', () => l.runCommand({replSetGetConfig: 1}));
  tryIt('initiate elsewhere', () => l.runCommand({replSetInitiate: {_id: 'rs0', version: 1, members: [{_id: 0, host: '%s'}]}}));
  tryIt('initiate with data member', () => l.runCommand({replSetInitiate: {_id: 'rs0', version: 1, members: [{_id: 0, host: '%s'}, {_id: 1, host: '%s'}]}}));
  tryIt('initiate', () => l.runCommand({replSetInitiate: {_id: 'rs0', version: 1, members: [{_id: 0, host: '%s'}]}}));
  tryIt('createUser before primary', () => l.runCommand({createUser: 'root', pwd: 'p', roles: [{role: 'root', db: 'admin'}]}));
}
probe();
quit(0);
`, localAlias, host(2), host(0), host(1), host(0))))
	r := f.run(desired(3, s, 60), s.root, "", 0)
	require.Equal(t, 0, r.code, r.out)
	for _, want := range []string{
		"status before initiate code 13", // localhost exception does not cover it
		"reconfig before initiate code 13",
		"initiate elsewhere code 74",
		"initiate with data member code 110",
		"initiate ok",
		"createUser before primary code 10107",
	} {
		assert.Contains(t, r.out, want)
	}
}

func TestMongoshInitiateWithExistingRootUser(t *testing.T) {
	// The mongo image created the root user before mongod ran with --replSet: the
	// script logs in, sees NotYetInitialized (94) and initiates without the localhost exception.
	s := pw(1)
	c := newCluster(t, 3, func(st map[string]any) {
		st["users"] = []any{map[string]any{"user": "root", "db": "admin", "pwd": s.root,
			"roles": []any{map[string]any{"role": "root", "db": "admin"}}}}
		st["nodes"].(map[string]any)[host(0)] = map[string]any{"running": true, "hasData": true}
	})
	d := desired(3, s, 60)
	c.mustRun(d, s.root, "")
	st := c.assertConverged(d, s.root)
	assert.Zero(t, st.LocalhostX, "the localhost exception is closed once a user exists")
	assert.Equal(t, "replSetInitiate", st.Writes[0].Op)
	for _, w := range st.Writes {
		assert.NotEqual(t, "createUser root@admin", w.Op+" "+w.Detail)
	}
	c.assertNoWritesOnRerun(d, s.root, s.root)
}

// A new, empty node listed first must not initiate a second replica set
// beside the existing one: node 0 runs the step and initiates.
func TestMongoshNewNodeFirstDoesNotSplitTheSet(t *testing.T) {
	c := newCluster(t, 4, nil)
	s := pw(1)
	c.mustRun(desired(3, s, 60), s.root, "")
	before := c.read()
	c.mutate(func(st map[string]any) { st["localNode"] = host(3) })
	d := desired(3, s, 60)
	d.Members = replicaset.Members([]string{host(3), host(0), host(1), host(2)})
	r := c.run(d, s.root, s.root, 0)
	require.Equal(t, replicaset.ReconcileExitInput, r.code, "want a refusal:\n%s", r.out)
	assert.Contains(t, r.out, "already belongs to rs0; initiating would start a second set")
	after := c.read()
	assert.Equal(t, len(before.Writes), len(after.Writes), "the refused run wrote: %v", ops(after.Writes[len(before.Writes):]))
	assert.Zero(t, after.LocalhostX-before.LocalhostX, "the refused run used the localhost exception")
}
