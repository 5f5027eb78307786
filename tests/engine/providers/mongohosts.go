package providers

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
)

// This file is a labelled MODEL of components/mongo-hosts.sh (the script
// of each node's hosts step, <cluster>-mongo-<node>-hosts) and of
// components/mongo-apply-hosts.sh, which that script runs inside the
// mongod container. The fake never runs either script; it applies their
// effect to the simulated container.
//
// The real step `docker exec`s into the running container RCHA_CONTAINER
// on DOCKER_HOST, stores RCHA_HOSTS ("address name" lines) in the
// container and rewrites its /etc/hosts in place: every older line that
// names one of those hosts is dropped, then the new lines are appended.
// Lines for other names stay. The container keeps running; `docker
// inspect` (HostConfig.ExtraHosts, what pulumi-docker reads back) still
// shows the hosts it was created with. The world therefore keeps the
// container's /etc/hosts entries (containerRecord.EtcHosts) apart from its
// ExtraHosts.
//
// docker exec fails, and with it the step (exit status 1), when the
// container does not exist ("Error response from daemon: No such
// container: NAME") or does not run ("Error response from daemon:
// Container ID is not running", moby's errNotRunning with the container's
// ID). A host that does not answer fails earlier, as for every step with a
// DOCKER_HOST (commandProvider.hostDownError).
//
// The entrypoint of the real mongod applies the stored lines again on
// every start. The simulated daemon never restarts a container (a killed
// one stays stopped, a replacement is a new container with the hosts it is
// created with), so that has nothing to model.

// Environment of the hosts step.
const (
	hostsStepEnvHosts     = "RCHA_HOSTS"
	hostsStepEnvContainer = "RCHA_CONTAINER"
)

// isHostsStep reports whether a command's environment is a hosts step's.
func isHostsStep(env map[string]string) bool {
	_, hosts := env[hostsStepEnvHosts]
	_, container := env[hostsStepEnvContainer]
	return hosts && container
}

// hostsLine is one name-to-address entry, as an /etc/hosts line
// "address name".
type hostsLine struct{ Address, Name string }

func (h hostsLine) String() string { return h.Address + " " + h.Name }

// parseHostsLines reads "address name..." lines (RCHA_HOSTS, or the lines
// of /etc/hosts); blank lines and comments are skipped. A line with
// several names gives one entry per name.
func parseHostsLines(s string) []hostsLine {
	var out []hostsLine
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		for _, name := range f[1:] {
			out = append(out, hostsLine{Address: f[0], Name: name})
		}
	}
	return out
}

// etcHostsFromExtraHosts is what dockerd writes into a new container's
// /etc/hosts for its extra hosts ("host:ip" each; the address may hold
// colons, a host name cannot): one "ip host" line each, in order. The
// lines dockerd adds for localhost and the container itself are left out.
func etcHostsFromExtraHosts(extra []string) []string {
	var out []string
	for _, h := range extra {
		name, ip, ok := strings.Cut(h, ":")
		if !ok {
			continue
		}
		out = append(out, hostsLine{Address: ip, Name: name}.String())
	}
	return out
}

// applyHostsLines is mongo-apply-hosts.sh on a list of /etc/hosts lines:
// every line that names one of the new entries' hosts is dropped, then the
// new entries are appended in their order.
func applyHostsLines(current []string, entries []hostsLine) []string {
	names := map[string]bool{}
	for _, e := range entries {
		names[e.Name] = true
	}
	var out []string
	for _, line := range current {
		keep := true
		for _, e := range parseHostsLines(line) {
			if names[e.Name] {
				keep = false
			}
		}
		if keep {
			out = append(out, line)
		}
	}
	for _, e := range entries {
		out = append(out, e.String())
	}
	return out
}

// execError is the daemon's refusal of a `docker exec`, as the docker CLI
// prints it on stderr.
type execError struct{ msg string }

func (e execError) Error() string { return "Error response from daemon: " + e.msg }

// runHostsStep models one run of the hosts step: it writes the entries of
// RCHA_HOSTS into the /etc/hosts of the running container RCHA_CONTAINER
// on DOCKER_HOST. It returns what the script writes and, when docker exec
// fails, the docker CLI's error.
func (w *world) runHostsStep(env map[string]string) (host, name string, entries []hostsLine, log []string, err error) {
	host, name = env["DOCKER_HOST"], env[hostsStepEnvContainer]
	if host == "" {
		host = defaultDockerHost // the docker CLI's default, as the provider's
	}
	entries = parseHostsLines(env[hostsStepEnvHosts])
	log = []string{fmt.Sprintf("rocketchat-ha: updating the member host names in %s on %s", name, host)}
	if w == nil {
		return host, name, entries, append(log, "rocketchat-ha: member host names updated"), nil
	}
	err = w.locked(func() error {
		rec, rerr := w.readRecord(w.containerPath(host, name))
		if errors.Is(rerr, os.ErrNotExist) {
			return execError{"No such container: " + name}
		}
		if rerr != nil {
			return rerr
		}
		if !rec.Running {
			return execError{fmt.Sprintf("Container %s is not running", rec.ID)}
		}
		rec.EtcHosts = applyHostsLines(rec.EtcHosts, entries)
		return w.writeRecord(host, rec)
	})
	if err != nil {
		return host, name, entries, append(log, err.Error()), err
	}
	return host, name, entries, append(log, "rocketchat-ha: member host names updated"), nil
}

// EtcHosts returns the name-to-address lines ("address name") of the
// /etc/hosts of the named container on a simulated docker host in world
// directory dir, as the container's processes see them now: the extra
// hosts it was created with, as rewritten by every hosts step since. ok is
// false when there is no such container.
func EtcHosts(dir, host, name string) (lines []string, ok bool) {
	rec, ok := (&world{dir: dir}).container(host, name)
	if !ok {
		return nil, false
	}
	return slices.Clone(rec.EtcHosts), true
}
