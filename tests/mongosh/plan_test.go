package mongosh_test

// Table-driven tests of the reconciler's pure plan(observed, desired), in the
// style of the Percona operator's vote tests. replicaset.Script() is
// loaded under real mongosh in library mode (globalThis.RCHA_RECONCILE_LIBRARY
// set beforehand, so main() does not run), with Mongo replaced by a function
// that throws: nothing connects anywhere. No simulation is involved.

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// cfgMember is a member of an observed replica-set config. Votes and Priority
// nil mean the field is absent (the server defaults both to 1).
type cfgMember struct {
	ID          int      `json:"_id"`
	Host        string   `json:"host"`
	Votes       *int     `json:"votes,omitempty"`
	Priority    *float64 `json:"priority,omitempty"`
	ArbiterOnly bool     `json:"arbiterOnly,omitempty"`
}

type observedConfig struct {
	ID      string      `json:"_id"`
	Version int         `json:"version"`
	Members []cfgMember `json:"members"`
}

// observed is plan()'s first argument: what the reconciler read from the primary.
type observed struct {
	Config    observedConfig `json:"config"`
	Committed bool           `json:"committed"`
	Primary   string         `json:"primary"`
	States    map[string]int `json:"states"`
}

// desiredPlan is plan()'s second argument.
type desiredPlan struct {
	Members []replicaset.DesiredMember `json:"members"`
	Mode    string                     `json:"mode"`
}

// planChange is what plan() returns (null decodes to nil).
type planChange struct {
	Kind     string   `json:"kind"`
	Host     string   `json:"host"`
	ID       *int     `json:"id"`
	Votes    *int     `json:"votes"`
	Priority *float64 `json:"priority"`
	Voter    *bool    `json:"voter"`
	Detail   string   `json:"detail"`
	Fixes    []struct {
		Host     string  `json:"host"`
		Votes    int     `json:"votes"`
		Priority float64 `json:"priority"`
	} `json:"fixes"`
	Then *planChange `json:"then"`
}

func short(h string) string { return strings.TrimSuffix(h, ":27017") }

func intp(p *int) string {
	if p == nil {
		return "?"
	}
	return fmt.Sprint(*p)
}

func floatp(p *float64) string {
	if p == nil {
		return "?"
	}
	return fmt.Sprint(*p)
}

// String renders a change compactly, e.g. "add node3 id=3 votes=1 priority=1".
func (c *planChange) String() string {
	if c == nil {
		return "none"
	}
	voter := "?"
	if c.Voter != nil {
		voter = map[bool]string{true: "voter", false: "non-voter"}[*c.Voter]
	}
	switch c.Kind {
	case "wait":
		return "wait (" + c.Detail + ") then " + c.Then.String()
	case "stepDown":
		return "stepDown " + short(c.Host) + " then " + c.Then.String()
	case "remove":
		return "remove " + voter + " " + short(c.Host) + " id=" + intp(c.ID)
	case "add", "promote", "demote":
		s := c.Kind + " " + short(c.Host) + " id=" + intp(c.ID) + " votes=" + intp(c.Votes) + " priority=" + floatp(c.Priority)
		// The voter flag says whether the reconfig changes a voter; it must match the votes.
		if c.Kind == "add" && c.Voter != nil && c.Votes != nil && *c.Voter != (*c.Votes == 1) {
			s += " (voter flag " + voter + ")"
		}
		return s
	case "priority":
		var fs []string
		for _, f := range c.Fixes {
			fs = append(fs, fmt.Sprintf("%s=%g", short(f.Host), f.Priority))
		}
		return "priority " + strings.Join(fs, ",")
	}
	return "unknown kind " + c.Kind
}

func iv(v int) *int         { return &v }
func fv(v float64) *float64 { return &v }
func mem(id int, h string, votes int, prio float64) cfgMember {
	return cfgMember{ID: id, Host: h, Votes: iv(votes), Priority: fv(prio)}
}

// configOf is the config a converged reconciler leaves for desired members:
// _id = position, votes and priority as desired.
func configOf(ms []replicaset.DesiredMember) []cfgMember {
	out := make([]cfgMember, len(ms))
	for i, m := range ms {
		out[i] = mem(i, m.Host, m.Votes, m.Priority)
	}
	return out
}

// obs is a settled observation: committed, the first member primary, every
// configured member healthy.
func obs(ms ...cfgMember) observed {
	o := observed{Config: observedConfig{ID: "rs0", Version: 5, Members: ms}, Committed: true, States: map[string]int{}}
	for i, m := range ms {
		if i == 0 {
			o.Primary = m.Host
			o.States[m.Host] = 1
		} else {
			o.States[m.Host] = 2
		}
	}
	return o
}

func (o observed) primary(h string) observed {
	st := map[string]int{}
	for k, v := range o.States {
		if v == 1 {
			v = 2
		}
		st[k] = v
	}
	st[h] = 1
	o.States, o.Primary = st, h
	return o
}

func (o observed) state(h string, s int) observed {
	st := map[string]int{}
	for k, v := range o.States {
		st[k] = v
	}
	if s < 0 {
		delete(st, h)
	} else {
		st[h] = s
	}
	o.States = st
	return o
}

func (o observed) uncommitted() observed { o.Committed = false; return o }

func planFull(ms []replicaset.DesiredMember) desiredPlan {
	return desiredPlan{Members: ms, Mode: "full"}
}

func planPrune(ms []replicaset.DesiredMember) desiredPlan {
	return desiredPlan{Members: ms, Mode: "prune"}
}

// planForce is force mode, which plans as prune mode after its forced reconfig.
func planForce(ms []replicaset.DesiredMember) desiredPlan {
	return desiredPlan{Members: ms, Mode: "force"}
}

// membersOf is replicaset.Members over the given hosts (the vote policy).
func membersOf(hs ...string) []replicaset.DesiredMember { return replicaset.Members(hs) }

func with(ms []replicaset.DesiredMember, i int, votes int, prio float64) []replicaset.DesiredMember {
	out := append([]replicaset.DesiredMember{}, ms...)
	out[i].Votes, out[i].Priority = votes, prio
	return out
}

type planCase struct {
	Name     string      `json:"name"`
	Observed observed    `json:"observed"`
	Desired  desiredPlan `json:"desired"`
	want     string
}

const (
	// Replica-set states as replSetGetStatus reports them.
	stStartup2 = 5
	stDown     = 8
	stMissing  = -1
)

func planCases() []planCase {
	h := host
	m := func(n int) []replicaset.DesiredMember { return replicaset.Members(hosts(n)) }
	c := func(n int) []cfgMember { return configOf(m(n)) }
	obsN := func(n int) observed { return obs(c(n)...) }
	// replace3 replaces node2 by nodex; replace7 replaces node6 by nodex.
	replace3 := membersOf(h(0), h(1), "nodex:27017")
	seven := hosts(7)
	seven[6] = "nodex:27017"
	replace7 := membersOf(seven...)
	arbiter := append(c(3), cfgMember{ID: 3, Host: h(3), Votes: iv(1), Priority: fv(0), ArbiterOnly: true})
	var cs []planCase
	add := func(name string, o observed, d desiredPlan, want string) {
		cs = append(cs, planCase{Name: name, Observed: o, Desired: d, want: want})
	}

	// Fresh set and scale-out, one member per reconfig.
	add("fresh set: member 0 alone is the whole desired set", obsN(1), planFull(m(1)), "none")
	add("1->3: add node1 as a voter", obsN(1), planFull(m(3)), "add node1 id=1 votes=1 priority=1")
	add("1->3: node1 newlyAdded, in initial sync: wait", obs(mem(0, h(0), 1, 1), mem(1, h(1), 1, 1)).state(h(1), stStartup2), planFull(m(3)),
		"wait (member node1:27017 (_id 1) is STARTUP2) then add node2 id=2 votes=1 priority=1")
	add("1->3: node1 added but its config not committed: wait", obs(mem(0, h(0), 1, 1), mem(1, h(1), 1, 1)).uncommitted(), planFull(m(3)),
		"wait (config version 5 is not committed yet on primary node0:27017) then add node2 id=2 votes=1 priority=1")
	add("1->3: node1 SECONDARY: add node2", obs(mem(0, h(0), 1, 1), mem(1, h(1), 1, 1)), planFull(m(3)), "add node2 id=2 votes=1 priority=1")
	add("1->3 done", obsN(3), planFull(m(3)), "none")
	add("3->5: add node3 as a voter", obsN(3), planFull(m(5)), "add node3 id=3 votes=1 priority=1")
	add("3->5: node3 newlyAdded: wait before node4", obs(append(c(3), mem(3, h(3), 1, 1))...).state(h(3), stStartup2), planFull(m(5)),
		"wait (member node3:27017 (_id 3) is STARTUP2) then add node4 id=4 votes=1 priority=1")
	add("3->5: add node4", obs(append(c(3), mem(3, h(3), 1, 1))...), planFull(m(5)), "add node4 id=4 votes=1 priority=1")
	add("3->5 done", obsN(5), planFull(m(5)), "none")

	// Even counts: the last member neither votes nor can be elected.
	add("1->2: node1 added without a vote", obsN(1), planFull(m(2)), "add node1 id=1 votes=0 priority=0")
	add("3->4: node3 added without a vote", obsN(3), planFull(m(4)), "add node3 id=3 votes=0 priority=0")
	add("5->6: node5 added without a vote", obsN(5), planFull(m(6)), "add node5 id=5 votes=0 priority=0")
	add("6->7: node6 added as a voter first (one voter change)", obsN(6), planFull(m(7)), "add node6 id=6 votes=1 priority=1")
	add("6->7: then node5 gets its vote", obs(append(c(6), mem(6, h(6), 1, 1))...), planFull(m(7)), "promote node5 id=5 votes=1 priority=1")
	add("2->3: node1 gets its vote after node2 joins", obs(append(c(2), mem(2, h(2), 1, 1))...), planFull(m(3)), "promote node1 id=1 votes=1 priority=1")
	add("4 converged: 3 voters and one non-voter", obsN(4), planFull(m(4)), "none")

	// At most 7 voters, then non-voting members up to 50.
	add("7->8: node7 added without a vote", obsN(7), planFull(m(8)), "add node7 id=7 votes=0 priority=0")
	add("8->9: node8 added without a vote", obsN(8), planFull(m(9)), "add node8 id=8 votes=0 priority=0")
	add("7 voters: an 8th desired voter is added without a vote", obsN(7), planFull(with(m(8), 7, 1, 1)), "add node7 id=7 votes=0 priority=0")
	add("7 voters: an 8th desired voter is not promoted", obs(append(c(7), mem(7, h(7), 0, 0))...), planFull(with(m(8), 7, 1, 1)), "none")
	add("49->50: node49 added without a vote", obsN(49), planFull(m(50)), "add node49 id=49 votes=0 priority=0")
	add("50 converged", obsN(50), planFull(m(50)), "none")

	// Scale-in: non-voters first, one voter per reconfig, the primary steps down first.
	add("5->3: remove voter node3", obsN(5), planFull(m(3)), "remove voter node3 id=3")
	add("5->3: node3 is primary: step down first", obsN(5).primary(h(3)), planFull(m(3)), "stepDown node3 then remove voter node3 id=3")
	add("5->3: primary node3, config not committed: wait before the step-down", obsN(5).primary(h(3)).uncommitted(), planFull(m(3)),
		"wait (config version 5 is not committed yet on primary node3:27017) then remove voter node3 id=3")
	add("5->3: a departing member's state does not block", obsN(5).state(h(4), stDown), planFull(m(3)), "remove voter node3 id=3")
	add("4->3: remove non-voter node3", obsN(4), planFull(m(3)), "remove non-voter node3 id=3")
	add("9->7: remove non-voter node7 first", obsN(9), planFull(m(7)), "remove non-voter node7 id=7")
	add("8->6: non-voter node7 first", obsN(8), planFull(m(6)), "remove non-voter node7 id=7")
	add("8->6: then voter node6", obsN(7), planFull(m(6)), "remove voter node6 id=6")
	add("8->6: then node5 loses its vote", obs(c(7)[:6]...), planFull(m(6)), "demote node5 id=5 votes=0 priority=0")
	add("3->2: demoting the primary steps it down first", obs(configOf(m(3))[:2]...).primary(h(1)), planFull(m(2)),
		"stepDown node1 then demote node1 id=1 votes=0 priority=0")
	add("3->1: remove voter node1", obsN(3), planFull(m(1)), "remove voter node1 id=1")
	add("3->1: node1 is primary", obsN(3).primary(h(1)), planFull(m(1)), "stepDown node1 then remove voter node1 id=1")
	add("never the last voter: prune cannot reach a set without node0", obsN(1), planPrune(membersOf(h(1))), "none")

	// A member being replaced (host change): add the new one, then remove the old.
	add("replace node2 by nodex: add nodex as a voter", obsN(3), planFull(replace3), "add nodex id=3 votes=1 priority=1")
	add("replace: nodex in initial sync: wait before removing node2", obs(append(c(3), mem(3, "nodex:27017", 1, 1))...).state("nodex:27017", stStartup2),
		planFull(replace3), "wait (member nodex:27017 (_id 3) is STARTUP2) then remove voter node2 id=2")
	add("replace: remove node2", obs(append(c(3), mem(3, "nodex:27017", 1, 1))...), planFull(replace3), "remove voter node2 id=2")
	add("replace the primary: step it down once the new member is in",
		obs(append(c(3), mem(3, "nodex:27017", 1, 1))...).primary(h(2)), planFull(replace3), "stepDown node2 then remove voter node2 id=2")
	add("replace at 7 voters: the new member joins without a vote", obsN(7), planFull(replace7), "add nodex id=7 votes=0 priority=0")
	add("replace at 7 voters: the old voter leaves", obs(append(c(7), mem(7, "nodex:27017", 0, 0))...), planFull(replace7), "remove voter node6 id=6")
	add("replace at 7 voters: the new member gets its vote", obs(append(c(7)[:6], mem(7, "nodex:27017", 0, 0))...), planFull(replace7), "promote nodex id=7 votes=1 priority=1")
	add("a freed _id is reused", obs(mem(0, h(0), 1, 1), mem(2, h(2), 1, 1)), planFull(membersOf(h(0), h(2), h(3))), "add node3 id=1 votes=1 priority=1")

	// No-op and what plan ignores when there is nothing to do.
	add("no-op: converged", obsN(3), planFull(m(3)), "none")
	add("no-op: a member DOWN, nothing to change", obsN(3).state(h(2), stDown), planFull(m(3)), "none")
	add("no-op: not committed, nothing to change", obsN(3).uncommitted(), planFull(m(3)), "none")
	add("no-op: server defaults (no votes or priority fields) count as 1/1",
		obs(cfgMember{ID: 0, Host: h(0)}, cfgMember{ID: 1, Host: h(1)}, cfgMember{ID: 2, Host: h(2)}), planFull(m(3)), "none")

	// Health gates a pending change.
	add("a desired member DOWN blocks the next change", obsN(3).state(h(1), stDown), planFull(m(5)),
		"wait (member node1:27017 (_id 1) is DOWN) then add node3 id=3 votes=1 priority=1")
	add("a desired member missing from the status blocks the next change", obsN(3).state(h(2), stMissing), planFull(m(5)),
		"wait (member node2:27017 (_id 2) is missing from the status) then add node3 id=3 votes=1 priority=1")

	// Prune mode: removals and votes only.
	add("prune 3 with 5 desired: never adds", obsN(3), planPrune(m(5)), "none")
	add("prune 5->3: remove voter node3", obsN(5), planPrune(m(3)), "remove voter node3 id=3")
	add("prune 5->3: node3 is primary", obsN(5).primary(h(3)), planPrune(m(3)), "stepDown node3 then remove voter node3 id=3")
	add("prune 4->2: remove non-voter node3", obsN(4), planPrune(m(2)), "remove non-voter node3 id=3")
	add("prune 6 with 7 desired: node5 gets its vote, node6 is not added", obsN(6), planPrune(m(7)), "promote node5 id=5 votes=1 priority=1")

	// Force mode, after its forced reconfig, plans as prune mode: never adds.
	add("force 3 with 5 desired: never adds", obsN(3), planForce(m(5)), "none")
	add("force 5->3: remove voter node3", obsN(5), planForce(m(3)), "remove voter node3 id=3")
	add("force 5->3: node3 is primary", obsN(5).primary(h(3)), planForce(m(3)), "stepDown node3 then remove voter node3 id=3")
	add("force 6 with 7 desired: node5 gets its vote, node6 is not added", obsN(6), planForce(m(7)), "promote node5 id=5 votes=1 priority=1")
	add("force after the forced reconfig: 2 voters kept, a third desired is not added",
		obs(mem(3, h(3), 1, 1), mem(4, h(4), 1, 1)), planForce(membersOf(h(3), h(4), h(5))), "none")

	// Arbiters are never kept; priorities are fixed last, in one reconfig.
	add("an arbiter is removed", obs(arbiter...), planFull(m(3)), "remove voter node3 id=3")
	add("a desired host that is an arbiter is removed first", obs(arbiter...), planFull(m(4)), "remove voter node3 id=3")
	add("priorities are fixed together", obsN(3), planFull(with(with(m(3), 1, 1, 2), 2, 1, 3)), "priority node1=2,node2=3")
	return cs
}

// libraryShim is loaded before the script: library mode, and no connection possible.
const libraryShim = `globalThis.RCHA_RECONCILE_LIBRARY = true;
globalThis.Mongo = function () { throw new Error('plan tests must not connect'); };
`

// planDriver calls plan() on every case, checks that it changed neither
// argument, and runs sequences of plan() and nextConfig() to a fixpoint.
const planDriver = `
function planDriver() {
  for (let i = 0; i < cases.length; i++) {
    const c = cases[i];
    const before = JSON.stringify([c.observed, c.desired]);
    const got = plan(c.observed, c.desired);
    const again = plan(c.observed, c.desired);
    print('rcha-plan: ' + JSON.stringify({ name: c.name, got: got,
      pure: before === JSON.stringify([c.observed, c.desired]) && JSON.stringify(got) === JSON.stringify(again) }));
  }
  for (let i = 0; i < sequences.length; i++) {
    const q = sequences[i];
    const o = q.observed;
    const steps = [];
    for (let n = 0; n < 200; n++) {
      const ch = plan(o, q.desired);
      if (!ch) break;
      if (ch.kind === 'wait') { steps.push({ change: ch, error: 'unexpected wait' }); break; }
      if (ch.kind === 'stepDown') {
        // An election among the other electable voters.
        let next = null;
        for (let k = 0; k < o.config.members.length && !next; k++) {
          const m = o.config.members[k];
          if (m.host !== ch.host && isVoter(m) && priorityOf(m) > 0) next = m.host;
        }
        o.primary = next;
        steps.push({ change: ch, config: o.config, primary: o.primary });
        continue;
      }
      o.config = nextConfig(o.config, ch);
      for (let k = 0; k < o.config.members.length; k++) {
        const h = o.config.members[k].host;
        o.states[h] = h === o.primary ? 1 : 2;
      }
      steps.push({ change: ch, config: o.config, primary: o.primary });
    }
    print('rcha-seq: ' + JSON.stringify({ name: q.name, steps: steps }));
  }
}
planDriver();
print('rcha-err: ' + JSON.stringify(ERR));
`

type seqStep struct {
	Change  *planChange    `json:"change"`
	Config  observedConfig `json:"config"`
	Primary string         `json:"primary"`
	Error   string         `json:"error"`
}

type seqCase struct {
	Name     string      `json:"name"`
	Observed observed    `json:"observed"`
	Desired  desiredPlan `json:"desired"`
	want     []string
}

func seqCases() []seqCase {
	m := func(n int) []replicaset.DesiredMember { return replicaset.Members(hosts(n)) }
	obsN := func(n int) observed { return obs(configOf(m(n))...) }
	var qs []seqCase
	for _, tc := range []struct{ from, to int }{{1, 3}, {1, 9}, {3, 5}, {5, 3}, {9, 2}, {7, 9}, {9, 7}, {2, 3}, {5, 4}, {6, 7}, {8, 6}, {3, 1}, {1, 50}, {50, 1}} {
		qs = append(qs, seqCase{Name: fmt.Sprintf("%d->%d", tc.from, tc.to), Observed: obsN(tc.from), Desired: planFull(m(tc.to))})
	}
	qs = append(qs,
		seqCase{Name: "5->3 from primary node4", Observed: obsN(5).primary(host(4)), Desired: planFull(m(3)), want: []string{
			"remove voter node3 id=3",
			"stepDown node4 then remove voter node4 id=4",
			"remove voter node4 id=4",
		}},
		seqCase{Name: "4->2 from primary node1", Observed: obsN(4).primary(host(1)), Desired: planFull(m(2)), want: []string{
			"remove non-voter node3 id=3",
			"remove voter node2 id=2",
			"stepDown node1 then demote node1 id=1 votes=0 priority=0",
			"demote node1 id=1 votes=0 priority=0",
		}},
		seqCase{Name: "replace node1 by nodex in 3", Observed: obsN(3), Desired: planFull(membersOf(host(0), "nodex:27017", host(2))), want: []string{
			"add nodex id=3 votes=1 priority=1",
			"remove voter node1 id=1",
		}},
		seqCase{Name: "force 9->3 (as prune)", Observed: obsN(9), Desired: planForce(m(3)), want: []string{
			"remove non-voter node7 id=7",
			"remove non-voter node8 id=8",
			"remove voter node3 id=3",
			"remove voter node4 id=4",
			"remove voter node5 id=5",
			"remove voter node6 id=6",
		}},
		seqCase{Name: "prune 9->3", Observed: obsN(9), Desired: planPrune(m(3)), want: []string{
			"remove non-voter node7 id=7",
			"remove non-voter node8 id=8",
			"remove voter node3 id=3",
			"remove voter node4 id=4",
			"remove voter node5 id=5",
			"remove voter node6 id=6",
		}},
	)
	return qs
}

func TestPlanTable(t *testing.T) {
	t.Parallel()
	cases := planCases()
	seqs := seqCases()
	casesJSON, err := json.Marshal(cases)
	require.NoError(t, err)
	seqJSON, err := json.Marshal(seqs)
	require.NoError(t, err)
	out := runLibrary(t, "const cases = "+string(casesJSON)+";\nconst sequences = "+string(seqJSON)+";\n"+planDriver)

	got := map[string]json.RawMessage{}
	var errTable map[string]int
	gotSeq := map[string][]seqStep{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "rcha-plan: "):
			var r struct {
				Name string          `json:"name"`
				Got  json.RawMessage `json:"got"`
				Pure bool            `json:"pure"`
			}
			require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "rcha-plan: ")), &r))
			assert.True(t, r.Pure, "%s: plan() changed its arguments or answered differently twice", r.Name)
			got[r.Name] = r.Got
		case strings.HasPrefix(line, "rcha-err: "):
			require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "rcha-err: ")), &errTable))
		case strings.HasPrefix(line, "rcha-seq: "):
			var r struct {
				Name  string    `json:"name"`
				Steps []seqStep `json:"steps"`
			}
			require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(line, "rcha-seq: ")), &r))
			gotSeq[r.Name] = r.Steps
		default:
			// Library mode runs nothing: no progress line, no error, no root-in-effect line.
			t.Errorf("unexpected output line (did main() run?): %q", line)
		}
	}
	require.NoError(t, sc.Err())

	names := map[string]bool{}
	for _, c := range cases {
		require.False(t, names[c.Name], "duplicate case name %q", c.Name)
		names[c.Name] = true
		raw, ok := got[c.Name]
		if !assert.True(t, ok, "no answer for %q", c.Name) {
			continue
		}
		var ch *planChange
		require.NoError(t, json.Unmarshal(raw, &ch), "%s: %s", c.Name, raw)
		assert.Equal(t, c.want, ch.String(), "%s\n  raw: %s", c.Name, raw)
	}
	assert.GreaterOrEqual(t, len(cases), 50)

	checkErrTable(t, errTable)

	for _, q := range seqs {
		steps, ok := gotSeq[q.Name]
		if !assert.True(t, ok, "no sequence for %q", q.Name) {
			continue
		}
		checkSequence(t, q, steps)
	}
}

// checkSequence checks a run of plan() to its fixpoint: it ends at the desired
// members and votes, every reconfig changes at most one voter and keeps 1 to
// 7 voters, the primary is never removed or demoted, and it terminates.
func checkSequence(t *testing.T, q seqCase, steps []seqStep) {
	t.Helper()
	var got []string
	prev := q.Observed.Config
	primary := q.Observed.Primary
	for i, s := range steps {
		got = append(got, s.Change.String())
		require.Empty(t, s.Error, "%s step %d: %s", q.Name, i, s.Change)
		if s.Change.Kind == "stepDown" {
			assert.NotEqual(t, primary, s.Primary, "%s step %d: the step-down elected no other primary", q.Name, i)
			primary = s.Primary
			continue
		}
		before, after := voterSet(prev), voterSet(s.Config)
		changed := 0
		for h := range before {
			if !after[h] {
				changed++
			}
		}
		for h := range after {
			if !before[h] {
				changed++
			}
		}
		assert.LessOrEqual(t, changed, 1, "%s step %d (%s) changes %d voters", q.Name, i, s.Change, changed)
		assert.True(t, len(after) >= 1 && len(after) <= 7, "%s step %d: %d voters", q.Name, i, len(after))
		assert.True(t, after[primary], "%s step %d (%s): the primary %s lost its vote or membership", q.Name, i, s.Change, primary)
		assert.LessOrEqual(t, len(s.Config.Members), 50)
		assert.Equal(t, prev.Version+1, s.Config.Version, "%s step %d: version", q.Name, i)
		prev = s.Config
	}
	require.Less(t, len(steps), 200, "%s did not converge: %v", q.Name, got)
	want := map[string]string{}
	for _, m := range q.Desired.Members {
		want[m.Host] = fmt.Sprintf("%d/%g", m.Votes, m.Priority)
	}
	have := map[string]string{}
	ids := map[int]bool{}
	for _, m := range prev.Members {
		v, p := 1, 1.0
		if m.Votes != nil {
			v = *m.Votes
		}
		if m.Priority != nil {
			p = *m.Priority
		}
		have[m.Host] = fmt.Sprintf("%d/%g", v, p)
		assert.False(t, ids[m.ID], "%s: duplicate _id %d", q.Name, m.ID)
		ids[m.ID] = true
	}
	if (q.Desired.Mode != "prune" && q.Desired.Mode != "force") || len(q.Desired.Members) <= len(q.Observed.Config.Members) {
		assert.Equal(t, want, have, "%s: final members host -> votes/priority after %v", q.Name, got)
	}
	if q.want != nil {
		assert.Equal(t, q.want, got, q.Name)
	}
}

func voterSet(c observedConfig) map[string]bool {
	out := map[string]bool{}
	for _, m := range c.Members {
		if m.Votes == nil || *m.Votes > 0 {
			out[m.Host] = true
		}
	}
	return out
}

// checkErrTable checks the script's ERR table against MongoDB's documented
// codes (error_codes.yml) and against the names sim.js gives its codes.
func checkErrTable(t *testing.T, errTable map[string]int) {
	t.Helper()
	documented := map[string]int{
		"UserNotFound": 11, "Unauthorized": 13, "AuthenticationFailed": 18, "AlreadyInitialized": 23,
		"NodeNotFound": 74, "InvalidReplicaSetConfig": 93, "NotYetInitialized": 94,
		"NewReplicaSetConfigurationIncompatible": 103, "ConfigurationInProgress": 109,
		"CannotInitializeNodeWithData": 110,
	}
	for name, code := range documented {
		assert.Equal(t, code, errTable[name], "ERR.%s", name)
	}
	sim, err := os.ReadFile("sim.js")
	require.NoError(t, err)
	simNames := map[int]string{}
	for _, m := range regexp.MustCompile(`(\d+): '([A-Za-z0-9]+)'`).FindAllStringSubmatch(string(sim), -1) {
		code, _ := strconv.Atoi(m[1])
		simNames[code] = m[2]
	}
	require.NotEmpty(t, simNames)
	for name, code := range errTable {
		if simName, ok := simNames[code]; ok && code != 51003 { // sim: Location51003, the server's codeName
			assert.Equal(t, simName, name, "code %d: sim.js and reconcile.js disagree on its name", code)
		}
	}
}

// forcedCase is one call of the pure forcedConfig(cfg, desired) of force mode.
type forcedCase struct {
	Name    string         `json:"name"`
	Config  map[string]any `json:"config"`
	Desired desiredPlan    `json:"desired"`
	// want: the members of the forced config ("_id=host/votes/priority"),
	// kept and dropped hosts, and whether it equals the current config.
	wantMembers []string
	wantKept    []string
	wantDropped []string
	wantSame    bool
}

// forcedDriver prints, for every case, what forcedConfig returned, whether it
// left its arguments alone, whether settings went back as the very object
// the server gave (so an ObjectId replicaSetId survives), and sameMembers.
const forcedDriver = `
function forcedDriver() {
  for (let i = 0; i < forcedCases.length; i++) {
    const c = forcedCases[i];
    const before = JSON.stringify([c.config, c.desired]);
    const got = forcedConfig(c.config, c.desired);
    print('rcha-forced: ' + JSON.stringify({ name: c.name, got: got,
      pure: before === JSON.stringify([c.config, c.desired]),
      settingsShared: got.config.settings === c.config.settings,
      same: sameMembers(c.config, got.config) }));
  }
}
forcedDriver();
`

func TestForcedConfigPure(t *testing.T) {
	t.Parallel()
	cfgOf := func(version int, ms ...map[string]any) map[string]any {
		return map[string]any{
			"_id": "rs0", "version": version, "term": 7, "protocolVersion": 1,
			"settings": map[string]any{"replicaSetId": "sim0001", "electionTimeoutMillis": 10000},
			"members":  ms,
		}
	}
	m := func(id int, h string, votes int, prio float64) map[string]any {
		return map[string]any{"_id": id, "host": h, "votes": votes, "priority": prio}
	}
	tagged := m(3, host(3), 1, 1)
	tagged["tags"] = map[string]any{"dc": "b"}
	arbiter := map[string]any{"_id": 5, "host": host(5), "votes": 1, "priority": 0, "arbiterOnly": true}
	cases := []forcedCase{
		{
			Name:        "5 members, 3 lost: keep node3 and node4 with the vote policy over two",
			Config:      cfgOf(9, m(0, host(0), 1, 1), m(1, host(1), 1, 1), m(2, host(2), 1, 1), tagged, m(4, host(4), 1, 1)),
			Desired:     planForce(membersOf(host(3), host(4))),
			wantMembers: []string{"3=node3:27017/1/1", "4=node4:27017/0/0"},
			wantKept:    []string{host(3), host(4)}, wantDropped: []string{host(0), host(1), host(2)},
		},
		{
			Name:        "a desired host that is not configured is ignored, an arbiter is dropped",
			Config:      cfgOf(4, m(0, host(0), 1, 1), m(1, host(1), 1, 1), m(2, host(2), 1, 1), arbiter),
			Desired:     planForce(membersOf(host(2), host(5), "nodex:27017")),
			wantMembers: []string{"2=node2:27017/1/1"},
			wantKept:    []string{host(2)}, wantDropped: []string{host(0), host(1), host(5)},
		},
		{
			Name:        "already forced: the config is what force mode would make",
			Config:      cfgOf(10012, m(2, host(2), 1, 1)),
			Desired:     planForce(membersOf(host(2))),
			wantMembers: []string{"2=node2:27017/1/1"},
			wantKept:    []string{host(2)}, wantDropped: []string{},
			wantSame: true,
		},
		{
			Name:        "server defaults (no votes or priority) count as 1/1",
			Config:      cfgOf(3, map[string]any{"_id": 0, "host": host(0)}, map[string]any{"_id": 1, "host": host(1)}),
			Desired:     planForce(membersOf(host(0))),
			wantMembers: []string{"0=node0:27017/1/1"},
			wantKept:    []string{host(0)}, wantDropped: []string{host(1)},
		},
	}
	casesJSON, err := json.Marshal(cases)
	require.NoError(t, err)
	out := runLibrary(t, "const forcedCases = "+string(casesJSON)+";\n"+forcedDriver)

	type forcedGot struct {
		Name string `json:"name"`
		Got  struct {
			Config  map[string]any `json:"config"`
			Kept    []string       `json:"kept"`
			Dropped []string       `json:"dropped"`
		} `json:"got"`
		Pure           bool `json:"pure"`
		SettingsShared bool `json:"settingsShared"`
		Same           bool `json:"same"`
	}
	got := map[string]forcedGot{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		rest, ok := strings.CutPrefix(line, "rcha-forced: ")
		require.True(t, ok, "unexpected output line (did main() run?): %q", line)
		var g forcedGot
		require.NoError(t, json.Unmarshal([]byte(rest), &g))
		got[g.Name] = g
	}
	for _, c := range cases {
		g, ok := got[c.Name]
		if !assert.True(t, ok, "no answer for %q", c.Name) {
			continue
		}
		assert.True(t, g.Pure, "%s: forcedConfig changed its arguments", c.Name)
		assert.True(t, g.SettingsShared, "%s: settings must go back as the server gave them", c.Name)
		assert.Equal(t, c.wantSame, g.Same, "%s: sameMembers", c.Name)
		assert.Equal(t, c.wantKept, g.Got.Kept, c.Name)
		assert.Equal(t, c.wantDropped, g.Got.Dropped, c.Name)
		cfg := g.Got.Config
		assert.NotContains(t, cfg, "term", "%s: the server sets the term", c.Name)
		assert.Equal(t, c.Config["version"].(int)+1, int(cfg["version"].(float64)), "%s: version + 1 (the server raises it further)", c.Name)
		assert.Equal(t, "rs0", cfg["_id"])
		assert.Equal(t, 1.0, cfg["protocolVersion"], "%s: other fields are kept", c.Name)
		var ms []string
		for _, raw := range cfg["members"].([]any) {
			mm := raw.(map[string]any)
			ms = append(ms, fmt.Sprintf("%v=%v/%v/%v", mm["_id"], mm["host"], mm["votes"], mm["priority"]))
			assert.NotContains(t, mm, "arbiterOnly", c.Name)
			if mm["host"] == host(3) {
				assert.Equal(t, map[string]any{"dc": "b"}, mm["tags"], "%s: other member fields are kept", c.Name)
			}
		}
		assert.Equal(t, c.wantMembers, ms, c.Name)
	}
}

// TestHostPortValidation checks, in library mode, that the script validates
// RCHA_LOCAL and desired.local exactly as replicaset.DesiredState.Validate
// validates Local on the Go side.
func TestHostPortValidation(t *testing.T) {
	t.Parallel()
	values := []string{
		"127.0.0.1:27017", "localhost:1", "node-1.example.org:65535", "rocket-2:27017", "1a:80", "A.B:27017",
		"[::1]:27017", "[::ffff:1.2.3.4]:27017", "[1:2:3:4:5:6:7:8]:1", "[1:2:3:4:5:6:1.2.3.4]:1", "[::]:1", "[1::]:1",
		"[1.2.3.4]:80", "[localhost]:80", "host:+80", "host:080", "host:0000000000080",
		"", "127.0.0.1", "localhost", "node2:0", "node2:70000", "node2:-1", "node2:", "node2:8o", "node 2:27017",
		"[::1", "[::1]", "[::1]x:1", "[::1]:1:2", "a[b]:1", "a:b:c", ":27017", "1.2.3.4.5:27017", "256.1.1.1:80",
		"01.2.3.4:80", "-bad:80", "bad-:80", "a..b:80", "[fe80::1%eth0]:27017", "[1:2:3:4:5:6:7:8:9]:1",
		"[1::2::3]:1", "[1.2.3.4::]:1", "[:1::]:1", "[12345::]:1", "[1:2:3:4:5:6:7:8::]:1", "[g::]:1",
		strings.Repeat("a", 63) + ":1", strings.Repeat("a", 64) + ":1",
		strings.Repeat("abcdefghi.", 25) + "abc:1", strings.Repeat("abcdefghi.", 25) + "abcd:1",
	}
	js, err := json.Marshal(values)
	require.NoError(t, err)
	out := runLibrary(t, "const values = "+string(js)+";\n"+
		"for (let i = 0; i < values.length; i++) print('rcha-hostport: ' + JSON.stringify({ v: values[i], why: hostPortProblem(values[i]) }));\n")
	got := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		rest, ok := strings.CutPrefix(line, "rcha-hostport: ")
		require.True(t, ok, "unexpected output line: %q", line)
		var r struct{ V, Why string }
		require.NoError(t, json.Unmarshal([]byte(rest), &r))
		got[r.V] = r.Why
	}
	require.Len(t, got, len(values))
	valid := 0
	for _, v := range values {
		d := replicaset.DesiredState{ReplicaSet: "rs0", Local: v}
		err := d.Validate()
		goOK := err == nil || !strings.Contains(err.Error(), "desired state: local:")
		if goOK {
			valid++
		}
		assert.Equal(t, goOK, got[v] == "", "%q: Go says valid=%v, the script says %q", v, goOK, got[v])
	}
	assert.GreaterOrEqual(t, valid, 10)
	assert.Less(t, valid, len(values)-20)
}
