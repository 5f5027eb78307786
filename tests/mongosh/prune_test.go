package mongosh_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pruneOf is d as the prune step passes it: prune mode, no users.
func pruneOf(d replicaset.DesiredState) replicaset.DesiredState {
	d.Mode = replicaset.ReconcileModePrune
	d.Users = nil
	return d
}

// reconfigsOf returns the replSetReconfig writes among ws.
func reconfigsOf(ws []simWrite) []simWrite {
	var out []simWrite
	for _, w := range ws {
		if w.Op == "replSetReconfig" {
			out = append(out, w)
		}
	}
	return out
}

// hostsIn returns the member hosts of a reconfig write.
func hostsIn(w simWrite) map[string]bool {
	out := map[string]bool{}
	for _, m := range w.Members {
		out[strings.SplitN(m, "/", 2)[0]] = true
	}
	return out
}

func TestMongoshPruneOnUninitiatedSetWritesNothing(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 3, nil)
	s := pw(1)
	r := c.assertNoWrites(pruneOf(desired(3, s, 60)), s.root, "")
	assert.Equal(t, replicaset.ReconcileRootCurrent, r.inEffect)
	assert.Contains(t, r.out, "nothing to prune: the local mongod "+localAlias+" has no replica-set config yet")
	st := c.read()
	assert.Nil(t, st.Config, "prune mode never initiates")
	assert.Empty(t, st.Users, "prune mode never creates users")
	assert.Equal(t, 1, st.Commands["auth"], "one failed root login, with the current password (there is no previous)")

	// The first deployment then runs the full step, which initiates.
	d := desired(3, s, 60)
	c.mustRun(d, s.root, s.root)
	c.assertConverged(d, s.root)
}

func TestMongoshPruneOnUninitiatedSetWithImageRootUser(t *testing.T) {
	// The mongo image created root before mongod ran with --replSet, and the
	// stack already asks for a new root password: prune logs in with the
	// previous one, sees NotYetInitialized and reports the previous as in effect.
	t.Parallel()
	old, s := pw(1), pw(2)
	c := newCluster(t, 3, func(st map[string]any) {
		st["users"] = []any{map[string]any{"user": "root", "db": "admin", "pwd": old.root,
			"roles": []any{map[string]any{"role": "root", "db": "admin"}}}}
		st["nodes"].(map[string]any)[host(0)] = map[string]any{"running": true, "hasData": true}
	})
	r := c.assertNoWrites(pruneOf(desired(3, s, 60)), s.root, old.root)
	assert.Equal(t, replicaset.ReconcileRootPrevious, r.inEffect)
	assert.Contains(t, r.out, "nothing to prune")
	assert.Nil(t, c.read().Config)

	d := desired(3, s, 60)
	r = c.mustRunResult(d, s.root, old.root)
	assert.Equal(t, replicaset.ReconcileRootCurrent, r.inEffect)
	c.assertConverged(d, s.root)
}

func TestMongoshPruneUnderLocalhostExceptionWritesNothing(t *testing.T) {
	// A full run was killed right after replSetInitiate: the set has member 0
	// and no user, so only the localhost exception would let anyone in.
	t.Parallel()
	c := newCluster(t, 3, nil)
	s := pw(1)
	d := desired(3, s, 60)
	k := c.run(d, s.root, "", 1)
	require.Equal(t, killCode, k.code, k.out)
	st := c.read()
	require.NotNil(t, st.Config)
	require.Empty(t, st.Users)

	r := c.assertNoWrites(pruneOf(d), s.root, "")
	assert.Equal(t, replicaset.ReconcileRootCurrent, r.inEffect)
	assert.Contains(t, r.out, "nothing to prune: replica set rs0 has only member 0 and no user yet (localhost exception)")
	assert.Empty(t, c.read().Users, "prune mode never creates users")

	c.mustRun(d, s.root, "")
	c.assertConverged(d, s.root)
}

func TestMongoshPruneThenFullScaleIn(t *testing.T) {
	for _, tc := range []struct{ from, to int }{{5, 3}, {9, 7}, {8, 6}, {4, 2}, {3, 1}} {
		t.Run(fmt.Sprintf("%d->%d", tc.from, tc.to), func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, tc.from, nil)
			s := pw(1)
			c.mustRun(desired(tc.from, s, 60), s.root, "")
			d := desired(tc.to, s, 60)

			// The prune step, before any mongod changes: removes every departing member.
			r := c.mustRunResult(pruneOf(d), s.root, s.root)
			assert.Equal(t, replicaset.ReconcileRootCurrent, r.inEffect)
			st := c.assertMembership(d)
			ws := writesOf(st, c.lastRun())
			for _, w := range ws {
				assert.Contains(t, []string{"replSetReconfig", "replSetStepDown"}, w.Op, "prune wrote %s %s", w.Op, w.Detail)
			}
			removals := 0
			prev := hostsIn(simWrite{Members: memberStrings(tc.from)})
			for _, w := range reconfigsOf(ws) {
				now := hostsIn(w)
				for h := range prev {
					if !now[h] {
						removals++
					}
				}
				for h := range now {
					assert.True(t, prev[h], "prune added %s", h)
				}
				prev = now
			}
			assert.Equal(t, tc.from-tc.to, removals, "writes: %v", ops(ws))
			for i := tc.to; i < tc.from; i++ {
				assert.Contains(t, r.out, "removing")
				assert.Contains(t, r.out, host(i))
			}
			// Its re-run writes nothing.
			c.assertNoWritesOnRerun(pruneOf(d), s.root, s.root)

			// The departing containers are gone before the full step runs.
			c.mutate(func(st map[string]any) {
				for i := tc.to; i < tc.from; i++ {
					delete(st["nodes"].(map[string]any), host(i))
				}
			})
			// The full step then has no membership change and no user write to make.
			c.assertNoWritesOnRerun(d, s.root, s.root)
			c.assertConverged(d, s.root)
		})
	}
}

// memberStrings is the "host/votes/priority" list of Members(hosts(n)).
func memberStrings(n int) []string {
	var out []string
	for _, m := range replicaset.Members(hosts(n)) {
		out = append(out, fmt.Sprintf("%s/%d/%g", m.Host, m.Votes, m.Priority))
	}
	return out
}

func TestMongoshPruneNeverAdds(t *testing.T) {
	t.Run("3 members, 5 desired", func(t *testing.T) {
		t.Parallel()
		// node3 and node4 do not exist yet: prune must not even look them up.
		c := newCluster(t, 3, nil)
		s := pw(1)
		c.mustRun(desired(3, s, 60), s.root, "")
		r := c.assertNoWritesOnRerun(pruneOf(desired(5, s, 60)), s.root, s.root)
		assert.Equal(t, replicaset.ReconcileRootCurrent, r.inEffect)
		assert.Contains(t, r.out, "nothing to prune")
		assert.NotContains(t, r.out, host(3))
		assert.NotContains(t, r.out, host(4))
		c.assertMembership(desired(3, s, 60))
	})
	t.Run("6 members, 7 desired: votes of staying members only", func(t *testing.T) {
		t.Parallel()
		// Members(6) leaves node5 without a vote; Members(7) gives it one. Prune
		// applies that vote (one voter change) and does not add node6.
		c := newCluster(t, 6, nil)
		s := pw(1)
		c.mustRun(desired(6, s, 60), s.root, "")
		d := desired(7, s, 60)
		c.mustRun(pruneOf(d), s.root, s.root)
		st := c.read()
		ws := writesOf(st, c.lastRun())
		require.Len(t, ws, 1, "writes: %v", ops(ws))
		assert.Equal(t, "replSetReconfig", ws[0].Op)
		assert.Equal(t, 1, ws[0].VoterChanges)
		assert.Contains(t, ws[0].Members, host(5)+"/1/1")
		assert.Len(t, ws[0].Members, 6, "no member added")
		c.assertNoWritesOnRerun(pruneOf(d), s.root, s.root)

		// node6's container comes up; the full step adds it.
		c.mutate(func(st map[string]any) {
			st["nodes"].(map[string]any)[host(6)] = map[string]any{"running": true}
		})
		c.mustRun(d, s.root, s.root)
		c.assertConverged(d, s.root)
	})
}

func TestMongoshPruneStepsDownARemovedPrimary(t *testing.T) {
	t.Parallel()
	c := newCluster(t, 5, nil)
	s := pw(1)
	c.mustRun(desired(5, s, 60), s.root, "")
	c.mutate(func(st map[string]any) { st["primary"] = host(4) })
	d := desired(3, s, 60)
	r := c.mustRunResult(pruneOf(d), s.root, s.root)
	assert.Contains(t, r.out, "stepping down primary "+host(4))
	st := c.assertMembership(d)
	assertStepDownBeforeRemoval(t, writesOf(st, c.lastRun()), host(4))
	c.assertNoWritesOnRerun(d, s.root, s.root)
}

func TestMongoshPruneWithRootRotationPending(t *testing.T) {
	// The stack changes the root (and the other) passwords and scales 5 -> 3 in
	// one update. The prune step runs first: the current root password is not
	// applied yet, so it logs in with the previous one, touches no user and says
	// so; the full step then rotates.
	t.Parallel()
	c := newCluster(t, 5, nil)
	old, s := pw(1), pw(2)
	c.mustRun(desired(5, old, 60), old.root, "")
	d := desired(3, s, 60)

	pd := d
	pd.Mode = replicaset.ReconcileModePrune // users kept, with new passwords: still untouched
	usersInfoBefore := c.read().Commands["usersInfo"]
	r := c.mustRunResult(pd, s.root, old.root)
	assert.Equal(t, replicaset.ReconcileRootPrevious, r.inEffect)
	st := c.assertMembership(d)
	for _, w := range writesOf(st, c.lastRun()) {
		assert.Equal(t, "replSetReconfig", w.Op, "prune wrote %s %s", w.Op, w.Detail)
	}
	for _, u := range st.Users {
		want := map[string]string{"root": old.root, "rocket": old.rocket, "oploguser": old.oplog}[u.User]
		assert.True(t, u.Pwd == want, "prune changed the password of %s", u.User)
	}
	assert.Equal(t, usersInfoBefore, st.Commands["usersInfo"], "prune mode reads no user")
	// A re-run is a no-op and still reports the previous password.
	r = c.assertNoWritesOnRerun(pd, s.root, old.root)
	assert.Equal(t, replicaset.ReconcileRootPrevious, r.inEffect)

	r = c.mustRunResult(d, s.root, old.root)
	assert.Equal(t, replicaset.ReconcileRootCurrent, r.inEffect)
	c.assertConverged(d, s.root)
	got := ops(writesOf(c.read(), c.lastRun()))
	require.Len(t, got, 3, "full step writes: %v", got)
	assert.ElementsMatch(t, []string{"updateUser rocket@admin pwd", "updateUser oploguser@admin pwd"}, got[:2])
	assert.Equal(t, "updateUser root@admin pwd", got[2])

	// After the rotation a prune run authenticates with the current password.
	r = c.assertNoWritesOnRerun(pruneOf(d), s.root, old.root)
	assert.Equal(t, replicaset.ReconcileRootCurrent, r.inEffect)
	// Wrong passwords fail with the auth exit code, as in full mode.
	bad := c.run(pruneOf(d), "not-the-root-pw-1", "not-the-root-pw-2", 0)
	assert.Equal(t, replicaset.ReconcileExitAuth, bad.code, bad.out)
	assert.NotContains(t, bad.out, replicaset.ReconcileRootInEffectPrefix)
}

func TestMongoshPruneKilledAfterEachStepConverges(t *testing.T) {
	type pruneScenario struct {
		name  string
		nodes int
		// setup prepares the cluster and returns the prune step's input, the
		// full step's input that follows it, and the root passwords of both.
		setup func(c *cluster) (prune, full replicaset.DesiredState, root, previous string)
	}
	scenarios := []pruneScenario{
		{"5 to 3 removing the primary, root rotation pending", 5, func(c *cluster) (replicaset.DesiredState, replicaset.DesiredState, string, string) {
			old, s := pw(1), pw(2)
			c.mustRun(desired(5, old, 60), old.root, "")
			c.mutate(func(st map[string]any) { st["primary"] = host(3) })
			d := desired(3, s, 60)
			return pruneOf(d), d, s.root, old.root
		}},
		{"4 to 2: non-voter, voter, demotion", 4, func(c *cluster) (replicaset.DesiredState, replicaset.DesiredState, string, string) {
			s := pw(1)
			c.mustRun(desired(4, s, 60), s.root, "")
			d := desired(2, s, 60)
			return pruneOf(d), d, s.root, s.root
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			var pd, full replicaset.DesiredState
			var root, prev string
			killAfterEachWrite(t, sc.nodes, 3, func(c *cluster) (replicaset.DesiredState, string, string) {
				pd, full, root, prev = sc.setup(c)
				return pd, root, prev
			}, func(t *testing.T, c *cluster, ref result) {
				// The failed step recorded nothing, so the re-run gets the same inputs.
				r := c.mustRunResult(pd, root, prev)
				assert.Equal(t, ref.inEffect, r.inEffect)
				assert.Contains(t, r.out, "prune of replica set rs0 converged")
				c.assertMembership(full)

				// The full step afterwards changes no membership.
				n := len(c.read().Writes)
				c.mustRun(full, root, prev)
				for _, w := range c.read().Writes[n:] {
					assert.NotContains(t, []string{"replSetReconfig", "replSetStepDown", "replSetInitiate"}, w.Op,
						"the full step after prune changed membership: %s %s", w.Op, w.Detail)
				}
				c.assertConverged(full, root)
			})
		})
	}
}
