package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// This file is a labelled MODEL of components/replicaset-step.sh, the
// script of the component's two replica-set command steps
// (<cluster>-replicaset-prune and <cluster>-replicaset). The fake never
// runs the script; it decides, from the simulated world, which node the
// real script would run through, or that it would refuse, and keeps the
// replica set's membership in the world. What it cannot see is modelled
// coarsely: a running mongod is PRIMARY or SECONDARY exactly when its
// member host is in the world's membership (the lab has no primaries, no
// votes and no elections; the reconciler's own rules, force included, are
// tested against a simulation in internal/replicaset), and any other
// running mongod is EMPTY.
//
// The script, for each RCHA_NODES line in order: `docker inspect` (only
// "No such container" means absent; any other error is a host that does
// not answer), a stopped container is a node that does not answer, then a
// mongosh probe. It runs through the first PRIMARY or SECONDARY node;
// absent and EMPTY nodes are skipped. When no node is a member: if every
// node answered and is absent or EMPTY the cluster is fresh (prune:
// success, nothing to do; full: through node 0, which must be running;
// force: fail); otherwise it refuses with exit status 1.

// Replica-set step modes (RCHA_MODE).
const (
	StepModeFull  = "full"
	StepModePrune = "prune"
	StepModeForce = "force"
)

// stepNode is one line of RCHA_NODES: name, docker host, mongod container
// and port.
type stepNode struct {
	Name, Host, Container string
	Port                  int
}

// memberHost is the node's replica-set member host, <name>:<port>.
func (n stepNode) memberHost() string { return fmt.Sprintf("%s:%d", n.Name, n.Port) }

// parseStepNodes reads RCHA_NODES.
func parseStepNodes(s string) ([]stepNode, error) {
	var out []stepNode
	for i, line := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 4 {
			return nil, fmt.Errorf("RCHA_NODES line %d %q: want name, docker host, container and port", i+1, line)
		}
		port, err := strconv.Atoi(f[3])
		if err != nil {
			return nil, fmt.Errorf("RCHA_NODES line %d %q: port: %v", i+1, line, err)
		}
		out = append(out, stepNode{Name: f[0], Host: f[1], Container: f[2], Port: port})
	}
	if len(out) == 0 {
		return nil, errors.New("RCHA_NODES lists no node")
	}
	return out, nil
}

// stepChoice is what the modelled script decided.
type stepChoice struct {
	// Through is the node the step runs through; "" when it has nothing to
	// do (a prune step on a fresh cluster) or failed.
	Through string
	// Log is what the script writes to stderr, one line each.
	Log []string
	// Err is the script's refusal (exit status 1), nil on success.
	Err error
}

// chooseThrough models the script's choice of node on the simulated
// hosts, given the replica set's current membership.
func (w *world) chooseThrough(mode string, nodes []stepNode, members []string) stepChoice {
	var c stepChoice
	say := func(format string, a ...any) { c.Log = append(c.Log, "rocketchat-ha: "+fmt.Sprintf(format, a...)) }
	fail := func(format string, a ...any) stepChoice {
		say(format, a...)
		c.Err = fmt.Errorf("exit status 1")
		return c
	}
	isMember := map[string]bool{}
	for _, m := range members {
		isMember[m] = true
	}
	through, fresh, first := -1, true, ""
	for i, n := range nodes {
		what := ""
		switch rec, ok := w.container(n.Host, n.Container); {
		case w.hostDown(n.Host):
			what = "down"
			fresh = false
			say("%s: its Docker host %s does not answer: %v", n.Name, n.Host, unreachable(n.Host))
		case !ok:
			what = "absent"
			say("%s: no mongod container yet", n.Name)
		case !rec.Running:
			what = "down"
			fresh = false
			say("%s: its container %s is not running", n.Name, n.Container)
		case isMember[n.memberHost()]:
			what = "member"
		default:
			what = "EMPTY"
			say("%s: its mongod is in no replica set yet", n.Name)
		}
		if first == "" {
			first = what
		}
		if what == "member" {
			through = i
			break
		}
	}
	if through < 0 {
		if !fresh {
			return fail("no node answers as a member of the replica set: refusing to run the %s step "+
				"(a node that does not answer may hold the replica set; initiating another could start a second one)", mode)
		}
		switch mode {
		case StepModePrune:
			say("no replica set yet (a fresh cluster): no member to remove")
			return c
		case StepModeFull:
			if first != "EMPTY" {
				return fail("the first node's mongod is not running: cannot initiate the replica set")
			}
			through = 0
		default:
			return fail("no member of the replica set answers: nothing to reconfigure")
		}
	}
	n := nodes[through]
	c.Through = n.Name
	say("replica-set step (%s) through %s (container %s on %s)", mode, n.Name, n.Container, n.Host)
	return c
}

// runReplicaSetStep models one run of a replica-set step: the node choice,
// then the membership the run leaves (a full step sets the desired
// members; prune and force keep the current members that are desired).
func (w *world) runReplicaSetStep(env map[string]string, desired []string) stepChoice {
	mode := env["RCHA_MODE"]
	nodes, err := parseStepNodes(env["RCHA_NODES"])
	if err != nil {
		return stepChoice{Log: []string{"rocketchat-ha: " + err.Error()}, Err: fmt.Errorf("exit status 1")}
	}
	switch mode {
	case StepModeFull, StepModePrune, StepModeForce:
	default:
		return stepChoice{Log: []string{fmt.Sprintf("rocketchat-ha: RCHA_MODE %q: want full, prune or force", mode)}, Err: fmt.Errorf("exit status 1")}
	}
	set := replicaSetName(env)
	var c stepChoice
	err = w.locked(func() error {
		members, err := w.readMembers(set)
		if err != nil {
			return err
		}
		c = w.chooseThrough(mode, nodes, members)
		if c.Err != nil || c.Through == "" {
			return nil
		}
		// The MongoDB version rules (mongoversions.go).
		vd := versionDocOf(env)
		fcv, err := w.readFCV(set)
		if err != nil {
			return err
		}
		if mode == StepModeFull {
			if err := w.writeMembers(set, desired); err != nil {
				return err
			}
			switch {
			case vd.MongoVersion == "":
			case members == nil: // initiated now
				return w.writeFCV(set, vd.MongoVersion)
			case vd.FeatureCompatibility == "auto" && fcv != vd.MongoVersion && w.allRunRelease(nodes, vd.MongoVersion):
				c.Log = append(c.Log, fmt.Sprintf("rocketchat-ha: every member runs MongoDB %s: featureCompatibilityVersion %s -> %s",
					vd.MongoVersion, fcv, vd.MongoVersion))
				return w.writeFCV(set, vd.MongoVersion)
			}
			return nil
		}
		if msg := w.checkUpgrade(vd, nodes, members, fcv); msg != "" {
			c.Log = append(c.Log, "rocketchat-ha: refusing the "+mode+" step: "+msg)
			c.Through, c.Err = "", fmt.Errorf("exit status 1")
			return nil
		}
		want := map[string]bool{}
		for _, m := range desired {
			want[m] = true
		}
		kept := []string{}
		for _, m := range members {
			if want[m] {
				kept = append(kept, m)
			}
		}
		return w.writeMembers(set, kept)
	})
	if err != nil {
		return stepChoice{Log: []string{"engine lab: " + err.Error()}, Err: err}
	}
	return c
}

// replicaSetName is the set's name from RCHA_DESIRED ("rs0" when unset).
func replicaSetName(env map[string]string) string {
	var doc struct {
		ReplicaSet string `json:"replicaSet"`
	}
	_ = json.Unmarshal([]byte(env["RCHA_DESIRED"]), &doc)
	if doc.ReplicaSet == "" {
		return "rs0"
	}
	return doc.ReplicaSet
}

func (w *world) membersPath(set string) string {
	return filepath.Join(w.dir, "replicasets", strings.ReplaceAll(set, string(filepath.Separator), "_")+".json")
}

// readMembers returns the replica set's members; none when it was never
// initiated.
func (w *world) readMembers(set string) ([]string, error) {
	b, err := os.ReadFile(w.membersPath(set))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var m []string
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("lab world %s: %w", w.membersPath(set), err)
	}
	return m, nil
}

func (w *world) writeMembers(set string, members []string) error {
	if err := os.MkdirAll(filepath.Dir(w.membersPath(set)), 0o700); err != nil {
		return err
	}
	if members == nil {
		members = []string{}
	}
	b, err := json.Marshal(members)
	if err != nil {
		return err
	}
	return os.WriteFile(w.membersPath(set), b, 0o600)
}

// ReplicaSetMembers returns the members ("<name>:<port>") the simulated
// replica set named set has in world directory dir, as the replica-set
// steps left them; nil when it was never initiated.
func ReplicaSetMembers(dir, set string) []string {
	m, _ := (&world{dir: dir}).readMembers(set)
	return m
}
