// Package replicaset is the replica-set reconciler: the desired state the
// steps hand to the embedded mongosh script (reconcile.js), its keyed hash,
// the vote policy, and the script's contract (environment, exit codes,
// report lines).
package replicaset

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	_ "embed" // for script
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/rocketchat-ha/rocketchat-ha/internal/check"
)

// Script() is the mongosh script that brings the replica set to the
// desired state: it initiates the set, changes membership one voting member
// per reconfig, and creates, updates and rotates the database users; in
// ReconcileModePrune it only removes departing members; in
// ReconcileModeForce it first recovers from a lost majority with a forced
// reconfig. It reads its input only from the environment variables named by
// ReconcileEnvDesired, ReconcileEnvRootPassword,
// ReconcileEnvRootPasswordPrevious, ReconcileEnvLocal and ReconcileEnvProbe,
// prints progress lines prefixed with "rcha-reconcile:" on stdout, never
// prints a password, and exits with one of the ReconcileExit* codes. On
// success its last line starts with ReconcileRootInEffectPrefix; in probe
// mode (ReconcileEnvProbe) it prints one ReconcileProbePrefix line instead.
//
//go:embed reconcile.js
var script string

// Script returns the reconciler, reconcile.js.
func Script() string { return script }

// Environment variables read by Script().
const (
	// ReconcileEnvDesired carries DesiredState.JSON(); it holds user passwords,
	// so it must only travel in secret inputs.
	ReconcileEnvDesired = "RCHA_DESIRED"
	// ReconcileEnvRootPassword is the root password wanted now.
	ReconcileEnvRootPassword = "RCHA_ROOT_PASSWORD"
	// ReconcileEnvRootPasswordPrevious is the root password applied by the
	// previous successful run, or empty on the first run.
	ReconcileEnvRootPasswordPrevious = "RCHA_ROOT_PASSWORD_PREVIOUS"
	// ReconcileEnvLocal, when set and not empty, is the host:port of the
	// mongod to run through (the one the script runs next to, for example
	// "127.0.0.1:<that node's mongod port>"); it overrides DesiredState.Local,
	// so that the steps can run through any member, not only node 0. It is
	// validated like DesiredState.Local (exit ReconcileExitInput, naming
	// RCHA_LOCAL).
	ReconcileEnvLocal = "RCHA_LOCAL"
	// ReconcileEnvProbe set to "1" selects probe mode: the script reads
	// neither ReconcileEnvDesired nor any password, connects without logging
	// in to ReconcileEnvLocal (required: ReconcileExitInput without it), runs
	// hello and prints exactly one line, ReconcileProbePrefix followed by
	// one of the ReconcileProbe* states, and exits ReconcileExitOK; when
	// connecting or hello fails it prints ReconcileProbePrefix +
	// ReconcileProbeFailed + the error and exits ReconcileExitFailed. Any
	// other non-empty value is invalid input (ReconcileExitInput).
	ReconcileEnvProbe = "RCHA_PROBE"
)

// Probe mode's output (see ReconcileEnvProbe).
const (
	// ReconcileProbePrefix starts the one line probe mode prints.
	ReconcileProbePrefix = "rcha-reconcile: probe: "
	// ReconcileProbePrimary: hello says isWritablePrimary.
	ReconcileProbePrimary = "PRIMARY"
	// ReconcileProbeSecondary: hello says secondary.
	ReconcileProbeSecondary = "SECONDARY"
	// ReconcileProbeOther: the mongod is in a replica set (hello has a
	// setName) but neither primary nor secondary (STARTUP2, RECOVERING, ...).
	ReconcileProbeOther = "OTHER"
	// ReconcileProbeEmpty: the mongod is in no replica set (hello has no
	// setName): never initiated, or removed from its set.
	ReconcileProbeEmpty = "EMPTY"
	// ReconcileProbeFailed follows ReconcileProbePrefix, then the error,
	// when connecting or hello failed (exit ReconcileExitFailed).
	ReconcileProbeFailed = "failed: "
)

// Exit codes of Script(). Any non-zero code means the replica set may be
// only partly reconciled; re-running the script is always safe.
const (
	ReconcileExitOK      = 0 // converged
	ReconcileExitFailed  = 1 // a server command failed, or force mode or the upgrade check refused (no write)
	ReconcileExitInput   = 2 // the environment or desired state is invalid
	ReconcileExitTimeout = 3 // a bounded wait ran out
	ReconcileExitAuth    = 4 // root authentication failed with both passwords
)

// Modes of Script(), set in DesiredState.Mode.
const (
	// ReconcileModeFull initiates the set, adds, removes and re-votes members,
	// creates, updates and rotates the users, raises the
	// featureCompatibilityVersion to DesiredState.MongoVersion once every
	// member runs it (FeatureCompatibilityAuto), and rotates root last.
	ReconcileModeFull = ""
	// ReconcileModePrune only removes the configured members that are not in
	// DesiredState.Members and applies the desired votes and priorities of the
	// members that stay. It never initiates the set, never adds a member (a
	// desired member that is not configured is ignored) and never touches a
	// user. On a set that is not initiated yet, or has no user yet, it does
	// nothing. It runs before any mongod changes, so that on scale-in the
	// departing members leave while every member still resolves every other.
	// Before any write it checks the MongoDB upgrade path (every member's
	// binary, the set's featureCompatibilityVersion, DesiredState.MongoVersion)
	// and refuses a release skipped, an FCV behind the target or a downgrade
	// below the FCV.
	ReconcileModePrune = "prune"
	// ReconcileModeForce is the explicit, opt-in recovery from a lost
	// majority: a one-shot run of the prune step by `rcha retire
	// --force-reconfig`, never run by itself and never left set. Through a
	// surviving member that is not primary it logs in as root and refuses
	// (exit ReconcileExitFailed, no write, "a primary exists (HOST): a forced
	// reconfig is refused; retire without --force-reconfig") while any member
	// is primary, so a re-run after the recovery refuses; it also refuses
	// while a majority of the configured voters is reachable, and when the
	// members it would keep have no reachable majority of their voters.
	// Otherwise it prints "rcha-reconcile: WARNING: ..." lines (writes
	// acknowledged only by the lost members may be lost), forces a reconfig
	// on the local member that keeps only the members of DesiredState.Members
	// that are already configured (same _id and host, the desired votes and
	// priorities), waits for a primary among them (ReconcileExitTimeout after
	// WaitSeconds), and then carries on exactly as ReconcileModePrune (it
	// adds no member and touches no user; the full step does that). When the
	// config already holds only those members (an earlier forced run was
	// interrupted before the election) it forces nothing and only waits.
	ReconcileModeForce = "force"
)

// ReconcileRootInEffectPrefix starts the last line Script() prints
// when it succeeds; the rest of that line is ReconcileRootCurrent or
// ReconcileRootPrevious: which root password (ReconcileEnvRootPassword or
// ReconcileEnvRootPasswordPrevious) authenticates as root now. A full run
// always ends with the current one, because it updates root last; a prune
// run reports the one it authenticated with (current when the set had no
// user or no config yet).
const ReconcileRootInEffectPrefix = "rcha-reconcile: root password in effect: "

// Values after ReconcileRootInEffectPrefix.
const (
	// ReconcileRootCurrent: ReconcileEnvRootPassword is in effect.
	ReconcileRootCurrent = "current"
	// ReconcileRootPrevious: ReconcileEnvRootPasswordPrevious is in effect.
	ReconcileRootPrevious = "previous"
)

// ReconcileRootInEffect returns ReconcileRootCurrent or ReconcileRootPrevious
// from the output of a successful Script() run, whose last non-empty
// line must be ReconcileRootInEffectPrefix followed by one of them.
func ReconcileRootInEffect(output string) (string, error) {
	lines := strings.Split(strings.TrimRight(output, "\r\n"), "\n")
	last := strings.TrimRight(lines[len(lines)-1], "\r")
	which, ok := strings.CutPrefix(last, ReconcileRootInEffectPrefix)
	if !ok || (which != ReconcileRootCurrent && which != ReconcileRootPrevious) {
		return "", fmt.Errorf("replica-set script output: the last line %q is not %q followed by %q or %q",
			last, ReconcileRootInEffectPrefix, ReconcileRootCurrent, ReconcileRootPrevious)
	}
	return which, nil
}

// ReconcileProgressPrefix starts every line Script() prints; failures
// are printed as ReconcileProgressPrefix + " ERROR: " + what + " on " + member.
const ReconcileProgressPrefix = "rcha-reconcile:"

// Limits of a MongoDB replica set.
const (
	// MaxVotingMembers is the most voting members a replica set may have.
	MaxVotingMembers = 7
	// MaxReplicaSetMembers is the most members a replica set may have.
	MaxReplicaSetMembers = 50
)

// Role is a MongoDB role granted on a database.
type Role struct {
	Role string `json:"role"`
	DB   string `json:"db"`
}

// DesiredUser is a database user that the reconciler creates or updates so that
// it has exactly these roles and this password.
type DesiredUser struct {
	User     string `json:"user"`
	DB       string `json:"db"`
	Password string `json:"pwd"`
	Roles    []Role `json:"roles"`
}

// DesiredMember is one replica-set member. Members are listed in node order;
// member 0 initiates the set (the reconciler then runs next to it). Later
// runs may go through any member (ReconcileEnvLocal).
type DesiredMember struct {
	Host     string  `json:"host"`
	Votes    int     `json:"votes"`
	Priority float64 `json:"priority"`
}

// DesiredState is the input of Script(), passed as JSON in
// ReconcileEnvDesired. The root password travels separately.
type DesiredState struct {
	ReplicaSet  string          `json:"replicaSet"`
	Local       string          `json:"local"` // host:port of the mongod the script runs next to (ReconcileEnvLocal overrides it)
	Members     []DesiredMember `json:"members"`
	Users       []DesiredUser   `json:"users"` // non-root users (rocket, optional oploguser)
	RootUser    string          `json:"rootUser"`
	WaitSeconds int             `json:"waitSeconds"` // bound for every wait
	// Mode is ReconcileModeFull (omitted from the JSON), ReconcileModePrune
	// or ReconcileModeForce.
	Mode string `json:"mode,omitempty"`
	// MongoVersion is the target MongoDB release ("7.0"), read from the
	// image tag; empty when the tag has none, and then neither the upgrade
	// path is checked nor featureCompatibilityVersion raised.
	MongoVersion string `json:"mongoVersion,omitempty"`
	// MongoReleases is the order in which MongoDB releases are upgraded
	// through (versions.MongoReleaseNames).
	MongoReleases []string `json:"mongoReleases,omitempty"`
	// FeatureCompatibility is FeatureCompatibilityAuto (raise FCV to
	// MongoVersion once every member runs it) or FeatureCompatibilityManual
	// (report it only). The full step uses it.
	FeatureCompatibility string `json:"featureCompatibility,omitempty"`
}

var mongoRelease = regexp.MustCompile(`^[0-9]{1,3}\.[0-9]{1,3}$`)

// Values of DesiredState.FeatureCompatibility.
const (
	FeatureCompatibilityAuto   = "auto"
	FeatureCompatibilityManual = "manual"
)

// MemberHost returns the replica-set host name of a node: "<nodeName>:<port>",
// the name under which every member and client reaches that node's mongod.
func MemberHost(nodeName string, port int) string {
	return net.JoinHostPort(nodeName, strconv.Itoa(port))
}

// Members applies the vote policy to the member hosts, in order: at most
// MaxVotingMembers voters, always an odd number of them, voters first with
// votes 1 and priority 1, every other member votes 0 and priority 0 (a
// non-voting data member, never an arbiter).
func Members(hosts []string) []DesiredMember {
	voters := len(hosts)
	if voters > MaxVotingMembers {
		voters = MaxVotingMembers
	}
	if voters%2 == 0 && voters > 0 {
		voters--
	}
	out := make([]DesiredMember, len(hosts))
	for i, h := range hosts {
		out[i] = DesiredMember{Host: h}
		if i < voters {
			out[i].Votes, out[i].Priority = 1, 1
		}
	}
	return out
}

var (
	userNameRE = regexp.MustCompile(`^[A-Za-z0-9_.@-]{1,128}$`)
	dbNameRE   = regexp.MustCompile(`^[A-Za-z0-9_-]{1,63}$`)
)

func validHostPort(hp string) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %v", hp, err)
	}
	if !check.Host(host) {
		return fmt.Errorf("%q has an invalid host name %q", hp, host)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q has an invalid port %q", hp, port)
	}
	return nil
}

// Validate checks the desired state against MongoDB's rules and the
// reconciler's assumptions, and names the offending field.
func (d DesiredState) Validate() error {
	if d.MongoVersion != "" && !mongoRelease.MatchString(d.MongoVersion) {
		return fmt.Errorf("desired state: mongoVersion %q is not major.minor", d.MongoVersion)
	}
	for _, r := range d.MongoReleases {
		if !mongoRelease.MatchString(r) {
			return fmt.Errorf("desired state: mongoReleases: %q is not major.minor", r)
		}
	}
	if f := d.FeatureCompatibility; f != "" && f != FeatureCompatibilityAuto && f != FeatureCompatibilityManual {
		return fmt.Errorf("desired state: featureCompatibility %q, want %q or %q", f, FeatureCompatibilityAuto, FeatureCompatibilityManual)
	}
	if !check.ReplicaSetName(d.ReplicaSet) {
		return fmt.Errorf("desired state: replicaSet %q must be 1-64 letters, digits, '_' or '-'", d.ReplicaSet)
	}
	if err := validHostPort(d.Local); err != nil {
		return fmt.Errorf("desired state: local: %v", err)
	}
	if len(d.Members) == 0 || len(d.Members) > MaxReplicaSetMembers {
		return fmt.Errorf("desired state: %d members, want 1 to %d", len(d.Members), MaxReplicaSetMembers)
	}
	seen := map[string]int{}
	voters := 0
	for i, m := range d.Members {
		if err := validHostPort(m.Host); err != nil {
			return fmt.Errorf("desired state: member %d: %v", i, err)
		}
		if j, dup := seen[m.Host]; dup {
			return fmt.Errorf("desired state: members %d and %d have the same host %q", j, i, m.Host)
		}
		seen[m.Host] = i
		switch m.Votes {
		case 0:
			if m.Priority != 0 {
				return fmt.Errorf("desired state: member %d (%s) has votes 0 but priority %v; a non-voting member must have priority 0", i, m.Host, m.Priority)
			}
		case 1:
			voters++
		default:
			return fmt.Errorf("desired state: member %d (%s) has votes %d, want 0 or 1", i, m.Host, m.Votes)
		}
		if m.Priority < 0 || m.Priority > 1000 {
			return fmt.Errorf("desired state: member %d (%s) has priority %v, want 0 to 1000", i, m.Host, m.Priority)
		}
	}
	if d.Members[0].Votes != 1 || d.Members[0].Priority <= 0 {
		return fmt.Errorf("desired state: member 0 (%s) initiates the set and must have votes 1 and a positive priority", d.Members[0].Host)
	}
	if voters > MaxVotingMembers || voters%2 == 0 {
		return fmt.Errorf("desired state: %d voting members, want an odd number of at most %d", voters, MaxVotingMembers)
	}
	if !userNameRE.MatchString(d.RootUser) {
		return fmt.Errorf("desired state: rootUser %q must be 1-128 letters, digits or '_.@-'", d.RootUser)
	}
	users := map[string]bool{"admin\x00" + d.RootUser: true}
	for i, u := range d.Users {
		if !userNameRE.MatchString(u.User) {
			return fmt.Errorf("desired state: user %d: name %q must be 1-128 letters, digits or '_.@-'", i, u.User)
		}
		if !dbNameRE.MatchString(u.DB) {
			return fmt.Errorf("desired state: user %q: database %q is invalid", u.User, u.DB)
		}
		key := u.DB + "\x00" + u.User
		if users[key] {
			return fmt.Errorf("desired state: user %q on database %q is listed twice or is the root user", u.User, u.DB)
		}
		users[key] = true
		if u.Password == "" {
			return fmt.Errorf("desired state: user %q on database %q has an empty password", u.User, u.DB)
		}
		if len(u.Roles) == 0 {
			return fmt.Errorf("desired state: user %q on database %q has no roles", u.User, u.DB)
		}
		for _, r := range u.Roles {
			if r.Role == "" || !dbNameRE.MatchString(r.DB) {
				return fmt.Errorf("desired state: user %q has an invalid role %q on database %q", u.User, r.Role, r.DB)
			}
		}
	}
	if d.WaitSeconds < 1 || d.WaitSeconds > 24*3600 {
		return fmt.Errorf("desired state: waitSeconds %d, want 1 to 86400", d.WaitSeconds)
	}
	if d.Mode != ReconcileModeFull && d.Mode != ReconcileModePrune && d.Mode != ReconcileModeForce {
		return fmt.Errorf("desired state: mode %q, want %q (full), %q or %q", d.Mode, ReconcileModeFull, ReconcileModePrune, ReconcileModeForce)
	}
	return nil
}

// canonical returns a copy with users sorted by database and name and each
// user's roles sorted, so that equal states encode to equal bytes.
func (d DesiredState) canonical() DesiredState {
	c := d
	c.Members = append([]DesiredMember{}, d.Members...)
	c.Users = make([]DesiredUser, len(d.Users))
	for i, u := range d.Users {
		u.Roles = append([]Role{}, u.Roles...)
		sort.Slice(u.Roles, func(a, b int) bool {
			if u.Roles[a].DB != u.Roles[b].DB {
				return u.Roles[a].DB < u.Roles[b].DB
			}
			return u.Roles[a].Role < u.Roles[b].Role
		})
		c.Users[i] = u
	}
	sort.Slice(c.Users, func(a, b int) bool {
		if c.Users[a].DB != c.Users[b].DB {
			return c.Users[a].DB < c.Users[b].DB
		}
		return c.Users[a].User < c.Users[b].User
	})
	return c
}

// JSON validates the desired state and encodes it canonically: the same state
// always gives the same bytes, whatever the order of users and roles. The
// result contains user passwords and must be treated as a secret.
func (d DesiredState) JSON() ([]byte, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(d.canonical()); err != nil {
		return nil, fmt.Errorf("desired state: encoding JSON: %w", err)
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// DesiredHash returns the hex HMAC-SHA256, under key, of the desired-state JSON
// and the root password. It changes whenever any member, vote, user, role or
// password changes, and without the key it reveals nothing about the
// passwords. key must be a secret of at least 32 random bytes that stays the
// same across updates (for example a random.RandomBytes kept in state).
func DesiredHash(key []byte, desiredJSON []byte, rootPassword string) string {
	mac := hmac.New(sha256.New, key)
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(len(desiredJSON)))
	mac.Write([]byte("rcha-desired-v1\x00"))
	mac.Write(n[:])
	mac.Write(desiredJSON)
	binary.BigEndian.PutUint64(n[:], uint64(len(rootPassword)))
	mac.Write(n[:])
	mac.Write([]byte(rootPassword))
	return hex.EncodeToString(mac.Sum(nil))
}
