package verify

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// MaxVoters is MongoDB's limit on voting members in one replica set.
const MaxVoters = 7

// MaxMembers is MongoDB's limit on members in one replica set.
const MaxMembers = 50

// DefaultMaxLag is the replication lag above which a secondary fails the check.
const DefaultMaxLag = 10 * time.Second

// ExpectedUser is a database user that must exist with exactly these roles.
type ExpectedUser struct {
	User  string `json:"user"`
	DB    string `json:"db"`
	Roles []Role `json:"roles"`
}

// Name renders the user as user@db.
func (u ExpectedUser) Name() string { return u.User + "@" + u.DB }

// RocketUser is the Rocket.Chat database user the deployment creates:
// readWrite on the Rocket.Chat database and clusterMonitor on admin, defined
// in authDB (admin with authSource=admin).
func RocketUser(user, authDB, rocketchatDB string) ExpectedUser {
	return ExpectedUser{User: user, DB: authDB, Roles: []Role{
		{Role: "readWrite", DB: rocketchatDB},
		{Role: "clusterMonitor", DB: "admin"},
	}}
}

// OplogUser is the optional oplog reader: read on local and clusterMonitor on admin.
func OplogUser(user, authDB string) ExpectedUser {
	return ExpectedUser{User: user, DB: authDB, Roles: []Role{
		{Role: "read", DB: "local"},
		{Role: "clusterMonitor", DB: "admin"},
	}}
}

// Expectation is what a healthy replica set looks like for this deployment.
type Expectation struct {
	// ReplicaSet is the expected set name.
	ReplicaSet string
	// Members are the expected member hosts ("name:port"), from the stack's
	// members output.
	Members []string
	// MaxLag is the largest acceptable replication lag; DefaultMaxLag when zero.
	MaxLag time.Duration
}

func (e Expectation) maxLag() time.Duration {
	if e.MaxLag <= 0 {
		return DefaultMaxLag
	}
	return e.MaxLag
}

// CheckHello decides from a hello reply (of the connection given by the
// mongoUrl, or of one member when target names it) whether the node belongs
// to the expected set and knows a primary.
func CheckHello(target string, h Hello, exp Expectation) []Finding {
	var out []Finding
	switch {
	case h.SetName == "":
		out = append(out, fail("mongo.hello", target, "not a replica-set member: hello has no setName (mongod started without --replSet, or set not initiated)"))
		return out
	case h.SetName != exp.ReplicaSet:
		out = append(out, fail("mongo.hello", target, "set name is %q, expected %q (replicaSet= in MONGO_URL must match)", h.SetName, exp.ReplicaSet))
	case h.ArbiterOnly:
		out = append(out, fail("mongo.hello", target, "member is an arbiter; every member should hold data"))
	case h.Primary == "":
		out = append(out, fail("mongo.hello", target, "set %q: this member knows no primary", h.SetName))
	default:
		role := "secondary"
		if h.IsWritablePrimary {
			role = "primary"
		}
		out = append(out, ok("mongo.hello", target, "set %q, %s, primary is %s", h.SetName, role, h.Primary))
	}
	return out
}

// CheckStatus decides from a replSetGetStatus reply: the set name, exactly
// one primary, every expected member PRIMARY or SECONDARY and healthy, no
// unexpected members, and each member's replication lag behind the primary.
func CheckStatus(s ReplSetStatus, exp Expectation) []Finding {
	var out []Finding
	if s.Set != exp.ReplicaSet {
		out = append(out, fail("replset.name", s.Set, "replica set is named %q, expected %q", s.Set, exp.ReplicaSet))
	} else {
		out = append(out, ok("replset.name", s.Set, "replica set name matches"))
	}

	var primaries []MemberStatus
	byHost := map[string]MemberStatus{}
	for _, m := range s.Members {
		byHost[normHost(m.Name)] = m
		if m.State == StatePrimary {
			primaries = append(primaries, m)
		}
	}
	switch len(primaries) {
	case 0:
		out = append(out, fail("replset.primary", exp.ReplicaSet, "no PRIMARY; member states: %s", describeStates(s.Members)))
	case 1:
		out = append(out, ok("replset.primary", primaries[0].Name, "exactly one PRIMARY"))
	default:
		names := make([]string, len(primaries))
		for i, p := range primaries {
			names[i] = p.Name
		}
		out = append(out, fail("replset.primary", exp.ReplicaSet, "%d members claim PRIMARY: %s", len(primaries), strings.Join(names, ", ")))
	}

	expected := map[string]bool{}
	for _, host := range exp.Members {
		expected[normHost(host)] = true
		m, found := byHost[normHost(host)]
		if !found {
			out = append(out, fail("replset.member", host, "expected member is not in the replica set (members: %s)", memberNames(s.Members)))
			continue
		}
		healthy := m.Health == 1
		switch {
		case (m.State == StatePrimary || m.State == StateSecondary) && healthy:
			out = append(out, ok("replset.member", host, "%s, healthy", m.StateStr))
		default:
			msg := fmt.Sprintf("state %s (%d), health %g; want PRIMARY or SECONDARY with health 1", stateName(m), m.State, m.Health)
			if m.LastHeartbeatMessage != "" {
				msg += "; last heartbeat: " + m.LastHeartbeatMessage
			}
			out = append(out, fail("replset.member", host, "%s", msg))
		}
	}
	for _, m := range s.Members {
		if !expected[normHost(m.Name)] {
			out = append(out, warn("replset.member", m.Name, "member %s is in the replica set but not in the stack's members output", stateName(m)))
		}
	}

	if len(primaries) == 1 {
		p := primaries[0]
		for _, m := range s.Members {
			if m.State == StatePrimary {
				out = append(out, ok("replset.lag", m.Name, "0s (primary)"))
				continue
			}
			if m.State != StateSecondary || m.Health != 1 || m.OptimeDate.IsZero() || m.OptimeDate.Unix() <= 0 {
				out = append(out, skip("replset.lag", m.Name, "no lag: member is %s", stateName(m)))
				continue
			}
			lag := p.OptimeDate.Sub(m.OptimeDate)
			if lag < 0 {
				lag = 0
			}
			if lag > exp.maxLag() {
				out = append(out, fail("replset.lag", m.Name, "%s behind the primary (limit %s)", lag, exp.maxLag()))
			} else {
				out = append(out, ok("replset.lag", m.Name, "%s behind the primary", lag))
			}
		}
	} else {
		out = append(out, skip("replset.lag", exp.ReplicaSet, "lag not measured: no single primary"))
	}
	return out
}

// CheckConfig decides from the replica-set configuration: the set name, the
// number of voting members (odd, at least one, at most MaxVoters), the total
// member count, and arbiters (which stall majority writes when a data member
// is down).
func CheckConfig(c ReplSetConfig, exp Expectation) []Finding {
	var out []Finding
	if c.ID != exp.ReplicaSet {
		out = append(out, fail("replset.config", c.ID, "configuration _id is %q, expected %q", c.ID, exp.ReplicaSet))
	}
	voters := 0
	var voterHosts []string
	for _, m := range c.Members {
		if m.Votes > 0 {
			voters++
			voterHosts = append(voterHosts, m.Host)
		}
		if m.ArbiterOnly {
			out = append(out, warn("replset.config", m.Host, "arbiter: majority writes and change streams stall when a data member is down; prefer a non-voting data member"))
		}
		if m.Votes == 0 && m.Priority != 0 {
			out = append(out, fail("replset.voters", m.Host, "non-voting member has priority %g; it must be 0", m.Priority))
		}
	}
	switch {
	case voters == 0:
		out = append(out, fail("replset.voters", c.ID, "no voting members in the configuration"))
	case voters > MaxVoters:
		out = append(out, fail("replset.voters", c.ID, "%d voting members; MongoDB allows at most %d", voters, MaxVoters))
	case voters%2 == 0:
		out = append(out, fail("replset.voters", c.ID, "%d voting members (%s): an even number of voters; give the last one votes 0 and priority 0", voters, strings.Join(voterHosts, ", ")))
	default:
		out = append(out, ok("replset.voters", c.ID, "%d voting of %d members (config version %d)", voters, len(c.Members), c.Version))
	}
	if len(c.Members) > MaxMembers {
		out = append(out, fail("replset.config", c.ID, "%d members; MongoDB allows at most %d", len(c.Members), MaxMembers))
	}
	return out
}

// CheckUser decides whether a user exists with exactly the expected roles.
// found is the usersInfo result for that user (empty when it does not exist).
func CheckUser(exp ExpectedUser, found []UserInfo) Finding {
	var u *UserInfo
	for i := range found {
		if found[i].User == exp.User && found[i].DB == exp.DB {
			u = &found[i]
		}
	}
	if u == nil {
		return fail("mongo.user", exp.Name(), "user does not exist")
	}
	want := map[string]bool{}
	for _, r := range exp.Roles {
		want[r.String()] = true
	}
	have := map[string]bool{}
	for _, r := range u.Roles {
		have[r.String()] = true
	}
	var missing, extra []string
	for r := range want {
		if !have[r] {
			missing = append(missing, r)
		}
	}
	for r := range have {
		if !want[r] {
			extra = append(extra, r)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) == 0 && len(extra) == 0 {
		return ok("mongo.user", exp.Name(), "roles %s", strings.Join(sortedKeys(have), ", "))
	}
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, "missing "+strings.Join(missing, ", "))
	}
	if len(extra) > 0 {
		parts = append(parts, "unexpected "+strings.Join(extra, ", "))
	}
	return fail("mongo.user", exp.Name(), "roles differ: %s", strings.Join(parts, "; "))
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func stateName(m MemberStatus) string {
	if m.StateStr != "" {
		return m.StateStr
	}
	return fmt.Sprintf("state %d", m.State)
}

func describeStates(ms []MemberStatus) string {
	if len(ms) == 0 {
		return "(no members)"
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = fmt.Sprintf("%s=%s", m.Name, stateName(m))
	}
	return strings.Join(parts, ", ")
}

func memberNames(ms []MemberStatus) string {
	if len(ms) == 0 {
		return "none"
	}
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.Name
	}
	return strings.Join(parts, ", ")
}
