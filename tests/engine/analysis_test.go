package engine

import (
	"fmt"
	"strings"

	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// Container roles, from the contract's fixed names <cluster>-mongo-<node>,
// <cluster>-rocketchat-<node>, and <cluster>-lb (one load balancer) or
// <cluster>-lb-<node> and <cluster>-lb-<node>-keepalived (several).
const (
	roleMongo      = "mongo"
	roleRocket     = "rocketchat"
	roleLB         = "lb"
	roleKeepalived = "keepalived"
)

// roleOf parses a container name of the cluster into role and node.
func roleOf(cluster, name string) (role, node string) {
	if name == cluster+"-lb" {
		return roleLB, ""
	}
	rest, ok := strings.CutPrefix(name, cluster+"-")
	if !ok {
		return "", ""
	}
	if n, ok := strings.CutPrefix(rest, "lb-"); ok {
		if k, ok := strings.CutSuffix(n, "-keepalived"); ok {
			return roleKeepalived, k
		}
		return roleLB, n
	}
	for _, r := range []string{roleMongo, roleRocket} {
		if n, ok := strings.CutPrefix(rest, r+"-"); ok {
			return r, n
		}
	}
	return "", ""
}

// container matches trace events of one container.
func container(cluster, role, node string, ops ...string) func(providers.Event) bool {
	return func(e providers.Event) bool {
		if e.Type != providers.ContainerType {
			return false
		}
		r, n := roleOf(cluster, e.Name)
		if r != role || (role != roleLB && n != node) {
			return false
		}
		return len(ops) == 0 || contains(ops, e.Op)
	}
}

// commandRun matches the full replica-set step actually running: the
// command that carries RCHA_DESIRED and is not the prune step.
func commandRun(e providers.Event) bool {
	return replicaSetRun(e) && !strings.HasSuffix(e.URN, "-replicaset-prune")
}

// pruneRun matches the replica-set prune step actually running. It runs
// before any mongod changes and only removes departing members.
func pruneRun(e providers.Event) bool {
	return replicaSetRun(e) && strings.HasSuffix(e.URN, "-replicaset-prune")
}

func replicaSetRun(e providers.Event) bool {
	return e.Op == providers.OpRun && e.Type == providers.LocalCommandType && e.Command != "delete" &&
		contains(e.EnvKeys, "RCHA_DESIRED")
}

// lbConfigRun matches the load balancer's config step running: the
// command that carries RCHA_NGINX_CONF.
func lbConfigRun(e providers.Event) bool {
	return e.Op == providers.OpRun && e.Type == providers.LocalCommandType && e.Command != "delete" &&
		contains(e.EnvKeys, "RCHA_NGINX_CONF")
}

// nginxConfAt returns the RCHA_NGINX_CONF text the command run at index i
// carried, from its create or update event.
func nginxConfAt(events []providers.Event, i int) (string, bool) {
	for j := i - 1; j >= 0; j-- {
		e := events[j]
		if e.URN == events[i].URN && (e.Op == providers.OpCreate || e.Op == providers.OpUpdate) {
			env, _ := e.Inputs["environment"].(map[string]any)
			conf, ok := env["RCHA_NGINX_CONF"].(string)
			return conf, ok
		}
	}
	return "", false
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

// first and last return the index of the first/last matching event, or -1.
func first(events []providers.Event, match func(providers.Event) bool) int {
	for i, e := range events {
		if match(e) {
			return i
		}
	}
	return -1
}

func last(events []providers.Event, match func(providers.Event) bool) int {
	for i := len(events) - 1; i >= 0; i-- {
		if match(events[i]) {
			return i
		}
	}
	return -1
}

func count(events []providers.Event, match func(providers.Event) bool) int {
	n := 0
	for _, e := range events {
		if match(e) {
			n++
		}
	}
	return n
}

// maxDown replays the down/healthy events of one role's containers and
// returns the largest number of nodes (among keep) that were down at the
// same moment, with the trace index where that happened. A node is down
// from its container's "down" (delete) until its next "healthy".
func maxDown(events []providers.Event, cluster, role string, keep []string) (int, int, []string) {
	down := map[string]bool{}
	best, at := 0, -1
	var who []string
	for i, e := range events {
		if e.Type != providers.ContainerType {
			continue
		}
		r, n := roleOf(cluster, e.Name)
		if r != role || !contains(keep, n) {
			continue
		}
		switch e.Op {
		case providers.OpDown:
			down[n] = true
		case providers.OpHealthy:
			delete(down, n)
		}
		if len(down) > best {
			best, at, who = len(down), i, nil
			for k := range down {
				who = append(who, k)
			}
		}
	}
	return best, at, who
}

// describe names an event for assertion messages.
func describe(events []providers.Event, i int) string {
	if i < 0 || i >= len(events) {
		return "(never)"
	}
	e := events[i]
	s := fmt.Sprintf("#%d %s %s", i, e.Op, shortURN(e.URN))
	if e.Name != "" {
		s += " (" + e.Name + ")"
	}
	return s
}

// unresolvable replays one operation and reports every moment a running
// container of role (on a node in keep) had no extra-hosts entry for a
// current replica-set member. Members are resolved by node name through
// the containers' `hosts` entries (the contract's member host is
// <nodeName>:<port>), so a mongod that cannot resolve a member cannot
// heartbeat, vote with or sync from it, and a Rocket.Chat server cannot
// reach it if it becomes primary. before are the members at the start of
// the operation; containers not recreated keep the entries they had, which
// were all of before.
func unresolvable(events []providers.Event, cluster, role string, keep, before []string) []string {
	nameOf := func(hostPort string) string {
		if i := strings.LastIndex(hostPort, ":"); i >= 0 {
			return hostPort[:i]
		}
		return hostPort
	}
	members := map[string]bool{}
	for _, m := range before {
		members[nameOf(m)] = true
	}
	hosts := map[string]map[string]bool{}
	for _, n := range keep {
		if members[n] { // the node ran before this operation
			hosts[n] = map[string]bool{}
			for m := range members {
				hosts[n][m] = true
			}
		}
	}
	seen := map[string]bool{}
	var out []string
	for i, e := range events {
		switch {
		case commandRun(e):
			members = map[string]bool{}
			for _, m := range e.Members {
				members[nameOf(m)] = true
			}
		case pruneRun(e):
			// The prune step only removes: what remains is the current
			// members that are still desired.
			want := map[string]bool{}
			for _, m := range e.Members {
				want[nameOf(m)] = true
			}
			for m := range members {
				if !want[m] {
					delete(members, m)
				}
			}
		case e.Type == providers.ContainerType:
			r, n := roleOf(cluster, e.Name)
			if r != role || !contains(keep, n) {
				continue
			}
			switch e.Op {
			case providers.OpDown:
				delete(hosts, n)
			case providers.OpCreate:
				hosts[n] = map[string]bool{}
				if list, ok := e.Inputs["hosts"].([]any); ok {
					for _, h := range list {
						if m, ok := h.(map[string]any); ok {
							name, _ := m["host"].(string)
							hosts[n][name] = true
						}
					}
				}
			default:
				continue
			}
		default:
			continue
		}
		for n, hs := range hosts {
			for m := range members {
				if !hs[m] && !seen[n+"/"+m] {
					seen[n+"/"+m] = true
					out = append(out, fmt.Sprintf("from %s, %s on %s runs without a hosts entry for member %s", describe(events, i), role, n, m))
				}
			}
		}
	}
	return out
}
