// Package mongosh_test runs replicaset.Script() under real mongosh against
// sim.js, a JavaScript SIMULATION of a MongoDB replica set (no mongod is involved).
package mongosh_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	localAlias = "127.0.0.1:27017"
	killCode   = 137
)

// mongoshPath prefers RCHA_MONGOSH_BIN, then the pinned copy installed by
// `npm ci` in this directory, then mongosh on PATH.
func mongoshPath(t *testing.T) string {
	t.Helper()
	if os.Getenv("RCHA_MONGOSH_BIN") == "" {
		if p, err := filepath.Abs(filepath.Join("node_modules", ".bin", "mongosh")); err == nil {
			if _, err := os.Stat(p); err == nil {
				return p
			}
		}
	}
	return testenv.LookPath(t, "mongosh", "run `npm ci` in tests/mongosh")
}

func host(i int) string { return replicaset.MemberHost(fmt.Sprintf("node%d", i), 27017) }

func hosts(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = host(i)
	}
	return out
}

// secrets is one set of passwords.
type secrets struct{ root, rocket, oplog string }

func pw(gen int) secrets {
	return secrets{
		root:   fmt.Sprintf("R00t-pw-gen%d-Zq", gen),
		rocket: fmt.Sprintf("Rock-pw-gen%d-Xy", gen),
		oplog:  fmt.Sprintf("Oplg-pw-gen%d-Wv", gen),
	}
}

func desired(n int, s secrets, wait int) replicaset.DesiredState {
	return replicaset.DesiredState{
		ReplicaSet: "rs0",
		Local:      localAlias,
		Members:    replicaset.Members(hosts(n)),
		Users: []replicaset.DesiredUser{
			{User: "rocket", DB: "admin", Password: s.rocket, Roles: []replicaset.Role{{Role: "readWrite", DB: "rocketchat"}, {Role: "clusterMonitor", DB: "admin"}}},
			{User: "oploguser", DB: "admin", Password: s.oplog, Roles: []replicaset.Role{{Role: "read", DB: "local"}, {Role: "clusterMonitor", DB: "admin"}}},
		},
		RootUser:    "root",
		WaitSeconds: wait,
	}
}

// simState is what the tests read back from the simulation's state file.
type simState struct {
	Config *struct {
		ID      string `json:"_id"`
		Version int    `json:"version"`
		Members []struct {
			ID          int      `json:"_id"`
			Host        string   `json:"host"`
			Votes       *int     `json:"votes"`
			Priority    *float64 `json:"priority"`
			ArbiterOnly bool     `json:"arbiterOnly"`
		} `json:"members"`
		Settings struct {
			ReplicaSetID string `json:"replicaSetId"`
		} `json:"settings"`
	} `json:"config"`
	Primary    *string            `json:"primary"`
	NewlyAdded map[string]bool    `json:"newlyAdded"`
	Users      []simUser          `json:"users"`
	Writes     []simWrite         `json:"writes"`
	Commands   map[string]int     `json:"commands"`
	Nodes      map[string]simNode `json:"nodes"`
	Clock      float64            `json:"clock"`
	RunStart   float64            `json:"runStartClock"`
	RunSlept   float64            `json:"runSleptMs"`
	Forced     int                `json:"forcedReconfigs"` // replSetReconfig with force: true received, accepted or not
	ForcedOK   int                `json:"forcedReconfigsAccepted"`
	LocalNode  string             `json:"localNode"`
	LocalAlias string             `json:"localAlias"`
	LocalhostX int                `json:"localhostExceptionUses"`
	ExitCode   *int               `json:"exitCode"`
	Killed     bool               `json:"killed"`
	// The set's featureCompatibilityVersion, and the ends of a change in transition.
	FCV         string  `json:"fcv"`
	FCVTarget   *string `json:"fcvTarget"`
	FCVPrevious *string `json:"fcvPrevious"`
}

type simUser struct {
	User  string            `json:"user"`
	DB    string            `json:"db"`
	Pwd   string            `json:"pwd"`
	Roles []replicaset.Role `json:"roles"`
}

type simWrite struct {
	Run             int      `json:"run"`
	Op              string   `json:"op"`
	On              string   `json:"on"`
	Detail          string   `json:"detail"`
	UnhealthyBefore []string `json:"unhealthyBefore"`
	VoterChanges    int      `json:"voterChanges"`
	Members         []string `json:"members"`
	Forced          bool     `json:"forced"` // a replSetReconfig with force: true
	// setFeatureCompatibilityVersion: sent with confirm: true, and its write concern's w.
	Confirm bool   `json:"confirm"`
	W       string `json:"w"`
}

type simNode struct {
	Running bool   `json:"running"`
	Version string `json:"version"` // binary release, major.minor
	// FailedStart is set while the node's binary does not accept the set's
	// featureCompatibilityVersion: it did not start (real mongod: exit code 62).
	FailedStart *struct {
		Code    int    `json:"code"`
		Binary  string `json:"binary"`
		Message string `json:"message"`
	} `json:"failedStart"`
}

// cluster is one simulated replica set: a state file that every run reads and rewrites.
type cluster struct {
	t       *testing.T
	mongosh string
	sim     string
	script  string
	// reconcile is the path of the real script; successful runs of it must end
	// with the root-in-effect line (other scripts are simulation probes).
	reconcile string
	state     string
	outputs   []string
	secrets   []string
	nodes     int // simulated nodes newCluster created
	// env is added to the environment of every run; through() sets it.
	env []string
}

// throughEnv is the environment of a run through node i, reached at alias
// (a 127.0.0.1 address): the simulation's local node and local alias for
// that run (RCHA_SIM_LOCAL_NODE, RCHA_SIM_LOCAL_ALIAS, not persisted) and
// RCHA_LOCAL, the address the reconciler connects to, as the step sets it.
func throughEnv(i int, alias string) []string {
	return []string{
		"RCHA_SIM_LOCAL_NODE=" + host(i),
		"RCHA_SIM_LOCAL_ALIAS=" + alias,
		replicaset.ReconcileEnvLocal + "=" + alias,
	}
}

// through makes every later run of c go through node i, reached at alias.
func (c *cluster) through(i int, alias string) { c.env = throughEnv(i, alias) }

// newCluster creates nodes node0..node(nodes-1); node0 is the local member.
func newCluster(t *testing.T, nodes int, tweak func(st map[string]any)) *cluster {
	t.Helper()
	c := &cluster{t: t, mongosh: mongoshPath(t), nodes: nodes}
	dir := t.TempDir()
	sim, err := filepath.Abs("sim.js")
	require.NoError(t, err)
	c.sim = sim
	c.script = filepath.Join(dir, "reconcile.js")
	c.reconcile = c.script
	require.NoError(t, os.WriteFile(c.script, []byte(replicaset.Script()), 0o600))
	c.state = filepath.Join(dir, "state.json")
	ns := map[string]any{}
	for i := 0; i < nodes; i++ {
		ns[host(i)] = map[string]any{"running": true}
	}
	st := map[string]any{"replSetName": "rs0", "localAlias": localAlias, "localNode": host(0), "nodes": ns}
	if tweak != nil {
		tweak(st)
	}
	c.writeRaw(st)
	t.Cleanup(c.checkNoSecretPrinted)
	return c
}

// convergedStates caches, per "nodes/members", the state file of a cluster
// of nodes simulated nodes on which the full step converged
// desired(members, pw(1), 60) through node 0.
var convergedStates sync.Map // string -> *convergedState

type convergedState struct {
	once  sync.Once
	state []byte
}

// convergeCached puts c (fresh, from newCluster without tweak) in the state
// the full step leaves after converging desired(members, pw(1), 60) through
// node 0, and returns pw(1). The state is computed, and checked, once per
// shape by the first test that asks, and copied for the others: it saves a
// run per test.
func (c *cluster) convergeCached(members int) secrets {
	c.t.Helper()
	s := pw(1)
	v, _ := convergedStates.LoadOrStore(fmt.Sprintf("%d/%d", c.nodes, members), &convergedState{})
	e := v.(*convergedState)
	e.once.Do(func() {
		ref := newCluster(c.t, c.nodes, nil)
		d := desired(members, s, 60)
		ref.mustRun(d, s.root, "")
		ref.assertConverged(d, s.root)
		b, err := os.ReadFile(ref.state)
		require.NoError(c.t, err)
		e.state = b
	})
	require.NotNil(c.t, e.state, "computing the converged %d/%d state failed in another test", c.nodes, members)
	require.NoError(c.t, os.WriteFile(c.state, e.state, 0o600))
	return s
}

func (c *cluster) writeRaw(st map[string]any) {
	b, err := json.Marshal(st)
	require.NoError(c.t, err)
	require.NoError(c.t, os.WriteFile(c.state, b, 0o600))
}

// mutate edits the raw simulation state between runs (bring a node up, move the primary).
func (c *cluster) mutate(f func(st map[string]any)) {
	b, err := os.ReadFile(c.state)
	require.NoError(c.t, err)
	var st map[string]any
	require.NoError(c.t, json.Unmarshal(b, &st))
	f(st)
	c.writeRaw(st)
}

func (c *cluster) read() simState {
	b, err := os.ReadFile(c.state)
	require.NoError(c.t, err)
	var st simState
	require.NoError(c.t, json.Unmarshal(b, &st))
	return st
}

type result struct {
	code int
	out  string
	// inEffect is the value of the last line (replicaset.ReconcileRootCurrent
	// or ReconcileRootPrevious) of a successful run of the real script.
	inEffect string
}

// run executes mongosh sim.js reconcile.js with the contract's environment.
func (c *cluster) run(d replicaset.DesiredState, root, previous string, killAfter int) result {
	c.t.Helper()
	dj, err := d.JSON()
	require.NoError(c.t, err)
	for _, u := range d.Users {
		c.secrets = append(c.secrets, u.Password)
	}
	c.secrets = append(c.secrets, root, previous)
	r := c.runEnv(killAfter,
		replicaset.ReconcileEnvDesired+"="+string(dj),
		replicaset.ReconcileEnvRootPassword+"="+root,
		replicaset.ReconcileEnvRootPasswordPrevious+"="+previous,
	)
	if r.code == 0 && c.script == c.reconcile {
		// Every successful run ends with the line the step's shell wrapper reads
		// to remember the root password; a full run always ends on the current one.
		which, err := replicaset.ReconcileRootInEffect(r.out)
		if assert.NoError(c.t, err, "output:\n%s", r.out) {
			r.inEffect = which
			if d.Mode == replicaset.ReconcileModeFull {
				assert.Equal(c.t, replicaset.ReconcileRootCurrent, which, "a full run ends with root on the current password:\n%s", r.out)
			}
		}
		assert.Equal(c.t, 1, strings.Count(r.out, replicaset.ReconcileRootInEffectPrefix), "the root-in-effect line is printed once:\n%s", r.out)
	}
	return r
}

// runEnv executes mongosh sim.js <script> with exactly the given variables,
// c.env and the simulation's own: no other RCHA_ variable of the test's
// environment reaches it.
func (c *cluster) runEnv(killAfter int, env ...string) result {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, c.mongosh, "--nodb", "--quiet", "--norc", c.sim, c.script)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RCHA_") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "HOME="+filepath.Dir(c.state)) // keep mongosh's history and logs out of the real home
	cmd.Env = append(cmd.Env, env...)
	cmd.Env = append(cmd.Env, c.env...)
	cmd.Env = append(cmd.Env, "RCHA_SIM_STATE="+c.state, fmt.Sprintf("RCHA_SIM_KILL_AFTER=%d", killAfter))
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else {
		require.NoError(c.t, err, "running mongosh")
	}
	c.outputs = append(c.outputs, out.String())
	return result{code: code, out: out.String()}
}

// mustRun runs and requires exit 0.
func (c *cluster) mustRun(d replicaset.DesiredState, root, previous string) string {
	c.t.Helper()
	return c.mustRunResult(d, root, previous).out
}

// mustRunResult runs, requires exit 0 and returns the whole result.
func (c *cluster) mustRunResult(d replicaset.DesiredState, root, previous string) result {
	c.t.Helper()
	r := c.run(d, root, previous, 0)
	require.Equal(c.t, 0, r.code, "reconcile failed:\n%s", r.out)
	return r
}

func (c *cluster) checkNoSecretPrinted() {
	all := strings.Join(c.outputs, "\n")
	for _, s := range c.secrets {
		if s != "" && strings.Contains(all, s) {
			c.t.Errorf("a password was printed:\n%s", all)
			return
		}
	}
	for _, o := range c.outputs {
		for _, line := range strings.Split(strings.TrimSpace(o), "\n") {
			if line != "" && !strings.HasPrefix(line, replicaset.ReconcileProgressPrefix) && !strings.HasPrefix(line, "[sim]") {
				c.t.Errorf("output line without the %q prefix: %q", replicaset.ReconcileProgressPrefix, line)
			}
		}
	}
}

// assertConverged checks that the simulated set matches d and the passwords,
// and that no reconfig was ever forced.
func (c *cluster) assertConverged(d replicaset.DesiredState, root string) simState {
	c.t.Helper()
	return c.assertConvergedForced(d, root, 0)
}

// assertConvergedForced is assertConverged for a set that received exactly
// forced replSetReconfig commands with force: true.
func (c *cluster) assertConvergedForced(d replicaset.DesiredState, root string, forced int) simState {
	c.t.Helper()
	t := c.t
	st := c.assertMembershipForced(d, forced)

	users := map[string]simUser{}
	for _, u := range st.Users {
		users[u.User+"@"+u.DB] = u
	}
	assert.Len(t, users, len(d.Users)+1)
	check := func(name, pwd string, roles []replicaset.Role) {
		u, ok := users[name]
		if !assert.True(t, ok, "user %s missing", name) {
			return
		}
		assert.True(t, u.Pwd == pwd, "user %s has a stale password", name)
		assert.ElementsMatch(t, roles, u.Roles, "roles of %s", name)
	}
	check(d.RootUser+"@admin", root, []replicaset.Role{{Role: "root", DB: "admin"}})
	for _, u := range d.Users {
		check(u.User+"@"+u.DB, u.Password, u.Roles)
	}
	return st
}

// assertMembership checks that the simulated set's members, votes and
// priorities match d (users are not checked), that it has a desired primary,
// that no reconfig was ever forced, and that every reconfig so far kept
// MongoDB's rules.
func (c *cluster) assertMembership(d replicaset.DesiredState) simState {
	c.t.Helper()
	return c.assertMembershipForced(d, 0)
}

// assertMembershipForced is assertMembership for a set that received exactly
// forced replSetReconfig commands with force: true; the forced reconfigs
// that it accepted are exempt from the rules of a normal reconfig (they run
// on a set that lost its majority).
func (c *cluster) assertMembershipForced(d replicaset.DesiredState, forced int) simState {
	c.t.Helper()
	t := c.t
	st := c.read()
	require.NotNil(t, st.Config, "replica set not initiated")
	assert.Equal(t, d.ReplicaSet, st.Config.ID)
	got := map[string]string{}
	ids := map[int]bool{}
	voters := 0
	for _, m := range st.Config.Members {
		v, p := 1, 1.0
		if m.Votes != nil {
			v = *m.Votes
		}
		if m.Priority != nil {
			p = *m.Priority
		}
		got[m.Host] = fmt.Sprintf("%d/%g", v, p)
		assert.False(t, m.ArbiterOnly, "arbiter %s", m.Host)
		assert.False(t, ids[m.ID], "duplicate _id %d", m.ID)
		ids[m.ID] = true
		voters += v
	}
	want := map[string]string{}
	for _, m := range d.Members {
		want[m.Host] = fmt.Sprintf("%d/%g", m.Votes, m.Priority)
	}
	assert.Equal(t, want, got, "members host -> votes/priority")
	assert.True(t, voters%2 == 1 && voters <= 7, "%d voters", voters)
	assert.Empty(t, st.NewlyAdded, "members still newlyAdded")
	require.NotNil(t, st.Primary, "no primary")
	assert.Contains(t, want, *st.Primary)
	assert.Equal(t, forced, st.Forced, "forced reconfigs")
	// Rules the simulation cannot reject by itself: each reconfig started from a
	// healthy set (the previous change was committed and new members were
	// SECONDARY). The one exception is the member the reconfig removes: a
	// member that is DOWN for good must be able to leave.
	for _, w := range st.Writes {
		if w.Op == "replSetReconfig" && !w.Forced {
			in := hostsIn(w)
			for _, h := range w.UnhealthyBefore {
				assert.False(t, in[h], "reconfig %s started while member %s, which stays, was not healthy", w.Detail, h)
			}
			assert.LessOrEqual(t, len(w.UnhealthyBefore), 1, "reconfig %s started while members %v were not healthy", w.Detail, w.UnhealthyBefore)
			assert.LessOrEqual(t, w.VoterChanges, 1)
		}
	}
	return st
}

// writeCommands are the commands that change a replica set or its users.
var writeCommands = []string{"replSetInitiate", "replSetReconfig", "replSetStepDown", "createUser", "updateUser", "setFeatureCompatibilityVersion"}

// assertNoWritesOnRerun re-runs the script and checks that it wrote nothing.
func (c *cluster) assertNoWritesOnRerun(d replicaset.DesiredState, root, previous string) result {
	c.t.Helper()
	r := c.assertNoWrites(d, root, previous)
	assert.Contains(c.t, r.out, "0 membership change(s), 0 user write(s)")
	return r
}

// assertNoWrites runs the script, requires success, and checks that it sent
// no write command and used no localhost exception.
func (c *cluster) assertNoWrites(d replicaset.DesiredState, root, previous string) result {
	c.t.Helper()
	before := c.read()
	r := c.mustRunResult(d, root, previous)
	after := c.read()
	assert.Equal(c.t, len(before.Writes), len(after.Writes), "the run wrote:\n%s", r.out)
	for _, cmd := range writeCommands {
		assert.Equal(c.t, before.Commands[cmd], after.Commands[cmd], "the run sent %s:\n%s", cmd, r.out)
	}
	assert.Equal(c.t, before.LocalhostX, after.LocalhostX, "the run used the localhost exception")
	return r
}

func writesOf(st simState, run int) []simWrite {
	var out []simWrite
	for _, w := range st.Writes {
		if run == 0 || w.Run == run {
			out = append(out, w)
		}
	}
	return out
}

func ops(ws []simWrite) []string {
	out := make([]string, len(ws))
	for i, w := range ws {
		out[i] = w.Op + " " + w.Detail
	}
	return out
}

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o600) }

// assertStepDownBeforeRemoval checks that the writes step the primary h down
// exactly once, that every later write runs on another member, and that h
// leaves the config only after it stepped down.
func assertStepDownBeforeRemoval(t *testing.T, ws []simWrite, h string) {
	t.Helper()
	down := -1
	for i, w := range ws {
		if w.Op == "replSetStepDown" {
			require.Equal(t, -1, down, "one step-down only: %v", ops(ws))
			assert.Equal(t, h, w.On)
			down = i
		}
	}
	require.NotEqual(t, -1, down, "no step-down: %v", ops(ws))
	removed := false
	for i, w := range ws {
		if i > down {
			assert.NotEqual(t, h, w.On, "after stepping down, changes run on the new primary")
		}
		if w.Op == "replSetReconfig" && !hostsIn(w)[h] && !removed {
			assert.Greater(t, i, down, "%s was removed before it stepped down", h)
			removed = true
		}
	}
	assert.True(t, removed, "%s was never removed: %v", h, ops(ws))
}

// killAfterEachWrite is the crash test both steps share. setup prepares a
// reference cluster of nodes members and returns the step's input; the
// helper snapshots it, runs the step once uninterrupted to count its writes
// (at least minWrites; setup may choose the node it runs through with
// c.through, which the kill runs keep), and then, for every k, restores the snapshot into a
// fresh cluster, runs the step killed right after its k-th write, checks
// that the kill happened there, and hands the cluster to check, which re-runs
// and asserts convergence. ref is the uninterrupted run's result.
func killAfterEachWrite(t *testing.T, nodes, minWrites int,
	setup func(c *cluster) (d replicaset.DesiredState, root, previous string),
	check func(t *testing.T, c *cluster, ref result)) {
	t.Helper()
	refCluster := newCluster(t, nodes, nil)
	d, root, prev := setup(refCluster)
	snapshot, err := os.ReadFile(refCluster.state)
	require.NoError(t, err)
	before := len(refCluster.read().Writes)
	ref := refCluster.mustRunResult(d, root, prev)
	total := len(refCluster.read().Writes) - before
	require.GreaterOrEqual(t, total, minWrites, "writes: %v", ops(refCluster.read().Writes[before:]))
	for k := 1; k <= total; k++ {
		t.Run(fmt.Sprintf("kill after write %d of %d", k, total), func(t *testing.T) {
			t.Parallel()
			c := newCluster(t, nodes, nil)
			c.env = refCluster.env // the node the step runs through, if setup chose one
			require.NoError(t, os.WriteFile(c.state, snapshot, 0o600))
			r := c.run(d, root, prev, k)
			require.Equal(t, killCode, r.code, "expected the simulated kill:\n%s", r.out)
			st := c.read()
			require.True(t, st.Killed)
			require.Len(t, st.Writes, before+k)
			check(t, c, ref)
		})
	}
}

// runLibrary runs the embedded reconcile.js in library mode (libraryShim
// first, so that it defines its functions and runs nothing) under real
// mongosh, then driver, and returns what they printed. No RCHA_
// variable of the test's environment reaches it.
func runLibrary(t *testing.T, driver string) string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"--nodb", "--quiet", "--norc"}
	for _, f := range []struct{ name, text string }{
		{"shim.js", libraryShim},
		{"reconcile.js", replicaset.Script()},
		{"driver.js", driver},
	} {
		p := filepath.Join(dir, f.name)
		require.NoError(t, os.WriteFile(p, []byte(f.text), 0o600))
		args = append(args, p)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mongoshPath(t), args...)
	cmd.Env = []string{"HOME=" + dir}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RCHA_") && !strings.HasPrefix(kv, "HOME=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Run(), "mongosh:\n%s", out.String())
	return out.String()
}

// componentUser is the user name exactly as the component puts it in the
// full replica-set step's desired state, for the seed's three nodes with
// the defaults (monitoring and backups on).
func componentUser(t *testing.T, name string) replicaset.DesiredUser {
	t.Helper()
	rec, err := mocktest.Run(t, nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewRocketChatHA(ctx, "chat", &components.RocketChatHAArgs{
			Nodes:   []components.Node{{Name: "rocket-1", Address: "10.0.0.1"}, {Name: "rocket-2", Address: "10.0.0.2"}, {Name: "rocket-3", Address: "10.0.0.3"}},
			RootURL: pulumi.String("https://chat.example.com"),
		})
		return err
	})
	require.NoError(t, err)
	env := mocktest.Unwrap(rec.Named(t, "command:local:Command", "chat-replicaset").Inputs["environment"]).ObjectValue()
	var d replicaset.DesiredState
	require.NoError(t, json.Unmarshal([]byte(mocktest.Unwrap(env["RCHA_DESIRED"]).StringValue()), &d))
	for _, u := range d.Users {
		if u.User == name {
			return u
		}
	}
	t.Fatalf("the component's desired state has no %s user: %+v", name, d.Users)
	return replicaset.DesiredUser{}
}
