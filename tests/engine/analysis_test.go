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

// hostsRun matches a mongod's hosts step (<cluster>-mongo-<node>-hosts)
// running: the command that carries RCHA_HOSTS and RCHA_CONTAINER. Its run
// event names the container (Name), its docker host (Host) and the
// entries it wrote (HostsEntries, "address name").
func hostsRun(e providers.Event) bool {
	return e.Op == providers.OpRun && e.Type == providers.LocalCommandType && e.Command != "delete" &&
		contains(e.EnvKeys, "RCHA_HOSTS") && contains(e.EnvKeys, "RCHA_CONTAINER")
}

// unresolvable replays one operation and reports every moment a running
// container of role (on a node in keep) had no hosts entry for a current
// replica-set member, or had one with another address than the member's in
// addrs (member name to address; nil or a missing name: the name alone is
// checked). Members are resolved by node name through the containers'
// /etc/hosts (the contract's member host is <nodeName>:<port>), so a
// mongod that cannot resolve a member cannot heartbeat, vote with or sync
// from it, and a Rocket.Chat server cannot reach it if it becomes primary.
//
// A container's entries are the `hosts` it was created with, as every
// successful hosts step run since rewrote them in the running container
// (the entries for the names it carries replaced, the others kept: the
// model of mongo-hosts.sh in providers/mongohosts.go); a failed run
// changes nothing. before are the members at the start of the operation;
// containers not recreated start with an entry for each of them, at its
// address in addrs (the lab never moves a node that stays a member across
// one operation: TestReplaceNodeOnNewHost retires n2 first).
func unresolvable(events []providers.Event, cluster, role string, keep, before []string, addrs map[string]string) []string {
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
	// hosts: node -> member name -> address.
	hosts := map[string]map[string]string{}
	for _, n := range keep {
		if members[n] { // the node ran before this operation
			hosts[n] = map[string]string{}
			for m := range members {
				hosts[n][m] = addrs[m]
			}
		}
	}
	seen := map[string]bool{}
	var out []string
	for i, e := range events {
		switch {
		case commandRun(e):
			if e.Error != "" {
				continue // a refused step changes no membership
			}
			members = map[string]bool{}
			for _, m := range e.Members {
				members[nameOf(m)] = true
			}
		case pruneRun(e):
			if e.Error != "" {
				continue
			}
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
		case hostsRun(e):
			r, n := roleOf(cluster, e.Name)
			if r != role || !contains(keep, n) || e.Error != "" || hosts[n] == nil {
				continue
			}
			for _, line := range e.HostsEntries {
				if f := strings.Fields(line); len(f) == 2 {
					hosts[n][f[1]] = f[0]
				}
			}
		case e.Type == providers.ContainerType:
			r, n := roleOf(cluster, e.Name)
			if r != role || !contains(keep, n) {
				continue
			}
			switch {
			case e.Op == providers.OpDown:
				delete(hosts, n)
			case e.Op == providers.OpCreate && e.Error == "":
				hosts[n] = map[string]string{}
				if list, ok := e.Inputs["hosts"].([]any); ok {
					for _, h := range list {
						if m, ok := h.(map[string]any); ok {
							name, _ := m["host"].(string)
							ip, _ := m["ip"].(string)
							hosts[n][name] = ip
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
				addr, has := hs[m]
				switch want, known := addrs[m]; {
				case !has:
					if !seen[n+"/"+m] {
						seen[n+"/"+m] = true
						out = append(out, fmt.Sprintf("from %s, %s on %s runs without a hosts entry for member %s", describe(events, i), role, n, m))
					}
				case known && addr != want:
					if k := n + "/" + m + "@" + addr; !seen[k] {
						seen[k] = true
						out = append(out, fmt.Sprintf("from %s, %s on %s resolves member %s to %s, not its address %s", describe(events, i), role, n, m, addr, want))
					}
				}
			}
		}
	}
	return out
}
