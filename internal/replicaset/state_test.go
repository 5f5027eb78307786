package replicaset_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func hostsN(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = replicaset.MemberHost(fmt.Sprintf("node%d", i), 27017)
	}
	return out
}

func sampleDesired() replicaset.DesiredState {
	return replicaset.DesiredState{
		ReplicaSet: "rs0",
		Local:      "127.0.0.1:27017",
		Members:    replicaset.Members(hostsN(3)),
		Users: []replicaset.DesiredUser{
			{User: "rocket", DB: "admin", Password: "rocket-secret-1", Roles: []replicaset.Role{{Role: "readWrite", DB: "rocketchat"}, {Role: "clusterMonitor", DB: "admin"}}},
			{User: "oploguser", DB: "admin", Password: "oplog-secret-1", Roles: []replicaset.Role{{Role: "read", DB: "local"}, {Role: "clusterMonitor", DB: "admin"}}},
		},
		RootUser:    "root",
		WaitSeconds: 300,
	}
}

func TestMembersVotePolicyN1To50(t *testing.T) {
	for n := 1; n <= replicaset.MaxReplicaSetMembers; n++ {
		hosts := hostsN(n)
		ms := replicaset.Members(hosts)
		require.Len(t, ms, n)
		want := n
		if want > replicaset.MaxVotingMembers {
			want = replicaset.MaxVotingMembers
		}
		if want%2 == 0 {
			want--
		}
		voters := 0
		for i, m := range ms {
			assert.Equal(t, hosts[i], m.Host, "n=%d member %d host", n, i)
			if i < want {
				assert.Equal(t, 1, m.Votes, "n=%d member %d votes", n, i)
				assert.Equal(t, 1.0, m.Priority, "n=%d member %d priority", n, i)
				voters++
			} else {
				assert.Equal(t, 0, m.Votes, "n=%d member %d votes", n, i)
				assert.Equal(t, 0.0, m.Priority, "n=%d member %d priority", n, i)
			}
		}
		assert.Equal(t, want, voters, "n=%d voters", n)
		assert.True(t, voters%2 == 1 && voters <= 7, "n=%d: %d voters must be odd and at most 7", n, voters)
		d := sampleDesired()
		d.Members = ms
		assert.NoError(t, d.Validate(), "n=%d", n)
	}
	assert.Empty(t, replicaset.Members(nil))
}

func TestMembersEightPattern(t *testing.T) {
	ms := replicaset.Members(hostsN(8))
	var votes []int
	for _, m := range ms {
		votes = append(votes, m.Votes)
	}
	assert.Equal(t, []int{1, 1, 1, 1, 1, 1, 1, 0}, votes)
	ms = replicaset.Members(hostsN(2))
	assert.Equal(t, []replicaset.DesiredMember{{Host: "node0:27017", Votes: 1, Priority: 1}, {Host: "node1:27017"}}, ms)
}

func TestMemberHost(t *testing.T) {
	assert.Equal(t, "rocket-1:27017", replicaset.MemberHost("rocket-1", 27017))
	assert.Equal(t, "db.example.org:27018", replicaset.MemberHost("db.example.org", 27018))
	assert.Equal(t, "[::1]:27017", replicaset.MemberHost("::1", 27017))
}

func TestDesiredValidateRejects(t *testing.T) {
	cases := map[string]func(d *replicaset.DesiredState){
		"replica set name":   func(d *replicaset.DesiredState) { d.ReplicaSet = "rs 0" },
		"local":              func(d *replicaset.DesiredState) { d.Local = "localhost" },
		"no members":         func(d *replicaset.DesiredState) { d.Members = nil },
		"51 members":         func(d *replicaset.DesiredState) { d.Members = replicaset.Members(hostsN(51)) },
		"duplicate host":     func(d *replicaset.DesiredState) { d.Members[2].Host = d.Members[1].Host },
		"bad host":           func(d *replicaset.DesiredState) { d.Members[1].Host = "node1" },
		"even voters":        func(d *replicaset.DesiredState) { d.Members[2].Votes, d.Members[2].Priority = 0, 0 },
		"votes 2":            func(d *replicaset.DesiredState) { d.Members[1].Votes = 2 },
		"non-voter priority": func(d *replicaset.DesiredState) { d.Members = replicaset.Members(hostsN(4)); d.Members[3].Priority = 1 },
		"member 0 passive":   func(d *replicaset.DesiredState) { d.Members[0].Priority = 0 },
		"eight voters": func(d *replicaset.DesiredState) {
			d.Members = replicaset.Members(hostsN(9))
			d.Members[7].Votes, d.Members[7].Priority = 1, 1
			d.Members[8].Votes, d.Members[8].Priority = 1, 1
		},
		"root user":         func(d *replicaset.DesiredState) { d.RootUser = "" },
		"user is root":      func(d *replicaset.DesiredState) { d.Users[0].User = "root" },
		"duplicate user":    func(d *replicaset.DesiredState) { d.Users[1].User = "rocket" },
		"empty password":    func(d *replicaset.DesiredState) { d.Users[0].Password = "" },
		"no roles":          func(d *replicaset.DesiredState) { d.Users[0].Roles = nil },
		"bad role":          func(d *replicaset.DesiredState) { d.Users[0].Roles[0].Role = "" },
		"wait 0":            func(d *replicaset.DesiredState) { d.WaitSeconds = 0 },
		"user db":           func(d *replicaset.DesiredState) { d.Users[0].DB = "a b" },
		"user name":         func(d *replicaset.DesiredState) { d.Users[0].User = "a b" },
		"negative priority": func(d *replicaset.DesiredState) { d.Members[1].Priority = -1 },
		"mode":              func(d *replicaset.DesiredState) { d.Mode = "full" },
		"mode case":         func(d *replicaset.DesiredState) { d.Mode = "Prune" },
		"force mode case":   func(d *replicaset.DesiredState) { d.Mode = "Force" },
		"force mode local":  func(d *replicaset.DesiredState) { d.Mode = replicaset.ReconcileModeForce; d.Local = "127.0.0.1" },
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			d := sampleDesired()
			mutate(&d)
			err := d.Validate()
			require.Error(t, err)
			assert.Contains(t, err.Error(), "desired state")
			_, jerr := d.JSON()
			assert.Error(t, jerr, "JSON must validate")
		})
	}
	require.NoError(t, sampleDesired().Validate())
}

func TestDesiredJSONDeterministicAndCanonical(t *testing.T) {
	d := sampleDesired()
	a, err := d.JSON()
	require.NoError(t, err)
	b, err := d.JSON()
	require.NoError(t, err)
	assert.Equal(t, a, b)

	// Reordered users and roles encode to the same bytes.
	r := sampleDesired()
	r.Users[0], r.Users[1] = r.Users[1], r.Users[0]
	r.Users[1].Roles[0], r.Users[1].Roles[1] = r.Users[1].Roles[1], r.Users[1].Roles[0]
	c, err := r.JSON()
	require.NoError(t, err)
	assert.Equal(t, string(a), string(c))
	// The caller's slices are not reordered.
	assert.Equal(t, "oploguser", r.Users[0].User)

	// Field names follow the contract read by reconcile.js.
	var m map[string]any
	require.NoError(t, json.Unmarshal(a, &m))
	for _, k := range []string{"replicaSet", "local", "members", "users", "rootUser", "waitSeconds"} {
		assert.Contains(t, m, k)
	}
	u := m["users"].([]any)[0].(map[string]any)
	for _, k := range []string{"user", "db", "pwd", "roles"} {
		assert.Contains(t, u, k)
	}
	mem := m["members"].([]any)[0].(map[string]any)
	for _, k := range []string{"host", "votes", "priority"} {
		assert.Contains(t, mem, k)
	}
	assert.False(t, strings.HasSuffix(string(a), "\n"))

	// Round trip.
	var back replicaset.DesiredState
	require.NoError(t, json.Unmarshal(a, &back))
	again, err := back.JSON()
	require.NoError(t, err)
	assert.Equal(t, a, again)
}

func TestDesiredHash(t *testing.T) {
	key := []byte("0123456789abcdef0123456789abcdef")
	hashOf := func(d replicaset.DesiredState, root string, k []byte) string {
		t.Helper()
		j, err := d.JSON()
		require.NoError(t, err)
		return replicaset.DesiredHash(k, j, root)
	}
	base := hashOf(sampleDesired(), "root-secret-1", key)
	assert.Len(t, base, 64)
	assert.Equal(t, base, hashOf(sampleDesired(), "root-secret-1", key), "deterministic")

	changes := map[string]func(d *replicaset.DesiredState) string{
		"root password": func(d *replicaset.DesiredState) string { return "root-secret-2" },
		"rocket pwd": func(d *replicaset.DesiredState) string {
			d.Users[0].Password = "rocket-secret-2"
			return "root-secret-1"
		},
		"oplog pwd": func(d *replicaset.DesiredState) string {
			d.Users[1].Password = "oplog-secret-2"
			return "root-secret-1"
		},
		"role":      func(d *replicaset.DesiredState) string { d.Users[0].Roles[0].Role = "dbOwner"; return "root-secret-1" },
		"role db":   func(d *replicaset.DesiredState) string { d.Users[0].Roles[0].DB = "other"; return "root-secret-1" },
		"drop user": func(d *replicaset.DesiredState) string { d.Users = d.Users[:1]; return "root-secret-1" },
		"add member": func(d *replicaset.DesiredState) string {
			d.Members = replicaset.Members(hostsN(5))
			return "root-secret-1"
		},
		"remove member": func(d *replicaset.DesiredState) string {
			d.Members = replicaset.Members(hostsN(1))
			return "root-secret-1"
		},
		"member host": func(d *replicaset.DesiredState) string { d.Members[2].Host = "other:27017"; return "root-secret-1" },
		"votes": func(d *replicaset.DesiredState) string {
			d.Members = replicaset.Members(hostsN(4))[:3]
			d.Members[2].Votes, d.Members[2].Priority = 1, 1
			d.Members[1].Priority = 2
			return "root-secret-1"
		},
		"replica set":    func(d *replicaset.DesiredState) string { d.ReplicaSet = "rs1"; return "root-secret-1" },
		"root user name": func(d *replicaset.DesiredState) string { d.RootUser = "admin"; return "root-secret-1" },
		"wait":           func(d *replicaset.DesiredState) string { d.WaitSeconds = 60; return "root-secret-1" },
		"mode": func(d *replicaset.DesiredState) string {
			d.Mode = replicaset.ReconcileModePrune
			return "root-secret-1"
		},
		"force mode": func(d *replicaset.DesiredState) string {
			d.Mode = replicaset.ReconcileModeForce
			return "root-secret-1"
		},
	}
	seen := map[string]string{base: "base"}
	for name, mutate := range changes {
		d := sampleDesired()
		root := mutate(&d)
		h := hashOf(d, root, key)
		if prev, dup := seen[h]; dup {
			t.Errorf("change %q gives the same hash as %q", name, prev)
		}
		seen[h] = name
	}

	other := hashOf(sampleDesired(), "root-secret-1", []byte("another key of thirty-two bytes!"))
	assert.NotEqual(t, base, other, "the hash depends on the key")

	// The hash reveals nothing readable: no password or its plain SHA-256 appears.
	for _, secret := range []string{"root-secret-1", "rocket-secret-1", "oplog-secret-1"} {
		assert.NotContains(t, base, secret)
	}
	j, err := sampleDesired().JSON()
	require.NoError(t, err)
	assert.NotEqual(t, base, replicaset.DesiredHash(nil, j, "root-secret-1"), "an empty key gives a different hash")
	// Length prefixes keep JSON and root password apart.
	assert.NotEqual(t, replicaset.DesiredHash(key, []byte("ab"), "c"), replicaset.DesiredHash(key, []byte("a"), "bc"))
}

func TestReconcileScriptEmbedded(t *testing.T) {
	s := replicaset.Script()
	require.NotEmpty(t, s)
	for _, want := range []string{
		replicaset.ReconcileEnvDesired, replicaset.ReconcileEnvRootPassword, replicaset.ReconcileEnvRootPasswordPrevious,
		replicaset.ReconcileEnvLocal, replicaset.ReconcileEnvProbe,
		replicaset.ReconcileProgressPrefix, replicaset.ReconcileRootInEffectPrefix,
		replicaset.ReconcileRootCurrent, replicaset.ReconcileRootPrevious,
		`mode !== 'prune'`, `mode !== 'force'`, "replSetInitiate", "replSetReconfig", "usersInfo", "updateUser",
		"' probe: '", "' probe: failed: ",
		"'" + replicaset.ReconcileProbePrimary + "'", "'" + replicaset.ReconcileProbeSecondary + "'",
		"'" + replicaset.ReconcileProbeOther + "'", "'" + replicaset.ReconcileProbeEmpty + "'",
		"a forced reconfig is refused; retire without --force-reconfig",
		"WARNING: forcing a replica-set reconfig", "writes acknowledged only by the lost members may be lost",
	} {
		assert.True(t, strings.Contains(s, want), "the script lacks %q", want)
	}
	assert.Equal(t, replicaset.ReconcileProgressPrefix+" probe: ", replicaset.ReconcileProbePrefix)
	// The script forces a reconfig in exactly one place, forceReconfig (force
	// mode only), and never puts credentials in a URI.
	assert.Equal(t, 1, strings.Count(s, "force: true"), "one forced reconfig command")
	assert.NotContains(t, s, "force:true")
	assert.NotContains(t, s, "force : true")
	fn := strings.Index(s, "\nfunction forceReconfig(")
	require.GreaterOrEqual(t, fn, 0, "forceReconfig is defined")
	end := strings.Index(s[fn+1:], "\nfunction ")
	require.Greater(t, end, 0)
	assert.Contains(t, s[fn:fn+1+end], "force: true", "the force is sent by forceReconfig")
	assert.Contains(t, s, "if (input.force) forceReconfig(s);", "forceReconfig runs in force mode only")
	assert.Equal(t, 1, strings.Count(s, "forceReconfig(s);"), "forceReconfig has one caller")
	assert.NotContains(t, s, "'@' + host")
}

func TestDesiredMode(t *testing.T) {
	assert.Equal(t, "", replicaset.ReconcileModeFull)
	assert.Equal(t, "prune", replicaset.ReconcileModePrune)
	assert.Equal(t, "force", replicaset.ReconcileModeForce)

	full := sampleDesired()
	fj, err := full.JSON()
	require.NoError(t, err)
	// Full mode leaves the JSON as it was before modes existed.
	assert.NotContains(t, string(fj), `"mode"`)

	prune := sampleDesired()
	prune.Mode = replicaset.ReconcileModePrune
	require.NoError(t, prune.Validate())
	pj, err := prune.JSON()
	require.NoError(t, err)
	assert.Contains(t, string(pj), `"mode":"prune"`)
	again, err := prune.JSON()
	require.NoError(t, err)
	assert.Equal(t, pj, again, "deterministic")
	var back replicaset.DesiredState
	require.NoError(t, json.Unmarshal(pj, &back))
	assert.Equal(t, replicaset.ReconcileModePrune, back.Mode)
	rt, err := back.JSON()
	require.NoError(t, err)
	assert.Equal(t, pj, rt, "round trip")

	// The prune step passes no users; that is valid.
	prune.Users = nil
	require.NoError(t, prune.Validate())

	key := []byte("0123456789abcdef0123456789abcdef")
	assert.NotEqual(t, replicaset.DesiredHash(key, fj, "r"), replicaset.DesiredHash(key, pj, "r"), "the hash covers the mode")

	force := sampleDesired()
	force.Mode = replicaset.ReconcileModeForce
	force.Users = nil
	require.NoError(t, force.Validate())
	xj, err := force.JSON()
	require.NoError(t, err)
	assert.Contains(t, string(xj), `"mode":"force"`)
	require.NoError(t, json.Unmarshal(xj, &back))
	assert.Equal(t, replicaset.ReconcileModeForce, back.Mode)
	assert.NotEqual(t, replicaset.DesiredHash(key, pj, "r"), replicaset.DesiredHash(key, xj, "r"), "the hash tells force from prune")

	for _, bad := range []string{"full", "PRUNE", " prune", "add", "FORCE", "force ", "forced"} {
		d := sampleDesired()
		d.Mode = bad
		err := d.Validate()
		require.Error(t, err, "mode %q", bad)
		assert.Contains(t, err.Error(), "desired state: mode")
		assert.Contains(t, err.Error(), fmt.Sprintf("%q", bad))
	}
}

func TestReconcileRootInEffect(t *testing.T) {
	ok := map[string]string{
		"rcha-reconcile: converged\nrcha-reconcile: root password in effect: current\n": replicaset.ReconcileRootCurrent,
		"rcha-reconcile: root password in effect: previous":                             replicaset.ReconcileRootPrevious,
		"a\r\nrcha-reconcile: root password in effect: previous\r\n\n":                  replicaset.ReconcileRootPrevious,
		replicaset.ReconcileRootInEffectPrefix + replicaset.ReconcileRootCurrent + "\n": replicaset.ReconcileRootCurrent,
	}
	for out, want := range ok {
		got, err := replicaset.ReconcileRootInEffect(out)
		require.NoError(t, err, "%q", out)
		assert.Equal(t, want, got, "%q", out)
	}
	for _, out := range []string{
		"",
		"rcha-reconcile: root password in effect: current\nrcha-reconcile: ERROR: timed out",
		"rcha-reconcile: root password in effect: both",
		"rcha-reconcile: root password in effect: current extra",
		"rcha-reconcile: converged",
	} {
		_, err := replicaset.ReconcileRootInEffect(out)
		require.Error(t, err, "%q", out)
		assert.Contains(t, err.Error(), "replica-set script output")
	}
}

func TestDesiredMongoVersionFields(t *testing.T) {
	assert.Equal(t, "auto", replicaset.FeatureCompatibilityAuto)
	assert.Equal(t, "manual", replicaset.FeatureCompatibilityManual)

	// Absent, they leave the JSON as it was before they existed.
	plain, err := sampleDesired().JSON()
	require.NoError(t, err)
	for _, k := range []string{"mongoVersion", "mongoReleases", "featureCompatibility"} {
		assert.NotContains(t, string(plain), `"`+k+`"`)
	}

	d := sampleDesired()
	d.MongoVersion = "7.0"
	d.MongoReleases = []string{"4.4", "5.0", "6.0", "7.0", "8.0", "8.2"}
	d.FeatureCompatibility = replicaset.FeatureCompatibilityAuto
	require.NoError(t, d.Validate())
	j, err := d.JSON()
	require.NoError(t, err)
	// The field names reconcile.js reads.
	var m map[string]any
	require.NoError(t, json.Unmarshal(j, &m))
	assert.Equal(t, "7.0", m["mongoVersion"])
	assert.Equal(t, []any{"4.4", "5.0", "6.0", "7.0", "8.0", "8.2"}, m["mongoReleases"])
	assert.Equal(t, "auto", m["featureCompatibility"])
	var back replicaset.DesiredState
	require.NoError(t, json.Unmarshal(j, &back))
	rt, err := back.JSON()
	require.NoError(t, err)
	assert.Equal(t, j, rt, "round trip")

	key := []byte("0123456789abcdef0123456789abcdef")
	seen := map[string]string{replicaset.DesiredHash(key, j, "r"): "base", replicaset.DesiredHash(key, plain, "r"): "plain"}
	for name, mutate := range map[string]func(d *replicaset.DesiredState){
		"target":    func(d *replicaset.DesiredState) { d.MongoVersion = "8.0" },
		"no target": func(d *replicaset.DesiredState) { d.MongoVersion = "" },
		"releases":  func(d *replicaset.DesiredState) { d.MongoReleases = d.MongoReleases[1:] },
		"manual":    func(d *replicaset.DesiredState) { d.FeatureCompatibility = replicaset.FeatureCompatibilityManual },
	} {
		c := d
		c.MongoReleases = append([]string{}, d.MongoReleases...)
		mutate(&c)
		cj, err := c.JSON()
		require.NoError(t, err, name)
		h := replicaset.DesiredHash(key, cj, "r")
		if prev, dup := seen[h]; dup {
			t.Errorf("change %q gives the same hash as %q", name, prev)
		}
		seen[h] = name
	}

	for _, good := range []string{"", "4.4", "7.0", "8.2", "10.0", "123.456"} {
		c := sampleDesired()
		c.MongoVersion = good
		assert.NoError(t, c.Validate(), "mongoVersion %q", good)
	}
	for name, mutate := range map[string]func(d *replicaset.DesiredState){
		"version with patch":      func(d *replicaset.DesiredState) { d.MongoVersion = "7.0.16" },
		"version major only":      func(d *replicaset.DesiredState) { d.MongoVersion = "7" },
		"version with v":          func(d *replicaset.DesiredState) { d.MongoVersion = "v7.0" },
		"version with space":      func(d *replicaset.DesiredState) { d.MongoVersion = "7.0 " },
		"release not major.minor": func(d *replicaset.DesiredState) { d.MongoReleases = []string{"6.0", "7"} },
		"empty release":           func(d *replicaset.DesiredState) { d.MongoReleases = []string{""} },
		"mode case":               func(d *replicaset.DesiredState) { d.FeatureCompatibility = "Auto" },
		"mode other":              func(d *replicaset.DesiredState) { d.FeatureCompatibility = "on" },
	} {
		c := sampleDesired()
		mutate(&c)
		err := c.Validate()
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "desired state", name)
		_, jerr := c.JSON()
		assert.Error(t, jerr, "%s: JSON must validate", name)
	}
}

func TestReconcileScriptVersionContract(t *testing.T) {
	s := replicaset.Script()
	for _, want := range []string{
		// The desired-state fields and values it reads.
		"desired.mongoVersion", "desired.mongoReleases", "desired.featureCompatibility",
		"'" + replicaset.FeatureCompatibilityAuto + "'", "'" + replicaset.FeatureCompatibilityManual + "'",
		// The commands: buildInfo (no login), the FCV read and the raise.
		"{ buildInfo: 1 }", "{ getParameter: 1, featureCompatibilityVersion: 1 }", "{ setFeatureCompatibilityVersion: target }",
		"cmd.confirm = true", "cmd.writeConcern = input.wc",
		// The refusals and what the steps log.
		"MongoDB cannot skip a release: ", "featureCompatibilityVersion then follows",
		" cannot run on data whose featureCompatibilityVersion is ", "featureCompatibilityVersion is in transition ",
		"upgrade check skipped: the target MongoDB release is unknown", "mongoFeatureCompatibility is manual: raise it with ",
		"featureCompatibilityVersion is already ",
	} {
		assert.True(t, strings.Contains(s, want), "the script lacks %q", want)
	}
	// The raise is sent in one place, the full step's featureCompatibility().
	assert.Equal(t, 1, strings.Count(s, "setFeatureCompatibilityVersion: target"))
	fn := strings.Index(s, "\nfunction featureCompatibility(")
	require.GreaterOrEqual(t, fn, 0)
	end := strings.Index(s[fn+1:], "\nfunction ")
	require.Greater(t, end, 0)
	assert.Contains(t, s[fn:fn+1+end], "setFeatureCompatibilityVersion: target")
	// The upgrade check runs in prune and force mode, before the forced reconfig.
	assert.Contains(t, s, "if (input.force) preflight(s, s.auth.c);\n  if (input.force) forceReconfig(s);")
	assert.Contains(t, s, "if (input.prune && !input.force) preflight(s, s.primary);")
}
