// Package nodeops is what `rcha` needs to keep operating a cluster while a
// node's Docker host does not answer: which resources of a stack's state
// live on that host, whether a change must reach them, and how to drop
// them from the state once the node is retired.
//
// Both operations work with the engine's own means. An update that must
// not contact a host excludes that host's resources (`--exclude`): the
// engine then neither configures its Docker provider (pulumi-docker pings
// the daemon when it is configured) nor diffs nor deletes them. Retiring a
// node is such an update with the node gone from the program, followed by
// removing the excluded resources from the state, as `pulumi state delete`
// would, one document edit for all of them.
package nodeops

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// FingerprintsOutput is the name of the RocketChatHA component's output
// that maps each node name to a keyed hash of every input of every
// resource on that node's Docker host (see components' fingerprints).
const FingerprintsOutput = "nodeFingerprints"

// ComponentType is the RocketChatHA component's type token.
const ComponentType = "rocketchat-ha:index:RocketChatHA"

const (
	dockerProviderType = "pulumi:providers:docker"
	commandType        = "command:local:Command"
)

// State is a stack's state document (an exported deployment), kept as
// generic JSON so that a round trip loses no field this package does not
// know.
type State struct {
	version int
	doc     map[string]any
}

// ParseState reads an exported deployment.
func ParseState(d apitype.UntypedDeployment) (*State, error) {
	var doc map[string]any
	if err := json.Unmarshal(d.Deployment, &doc); err != nil {
		return nil, fmt.Errorf("reading the stack's state: %w", err)
	}
	return &State{version: d.Version, doc: doc}, nil
}

// Deployment writes the state back for an import.
func (s *State) Deployment() (apitype.UntypedDeployment, error) {
	raw, err := json.Marshal(s.doc)
	if err != nil {
		return apitype.UntypedDeployment{}, err
	}
	return apitype.UntypedDeployment{Version: s.version, Deployment: raw}, nil
}

// resource is one resource of the state, as this package reads it.
type resource struct {
	raw      map[string]any
	urn      string
	typ      string
	name     string
	parent   string
	provider string
}

func (s *State) resources() []resource {
	list, _ := s.doc["resources"].([]any)
	out := make([]resource, 0, len(list))
	for _, r := range list {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		res := resource{raw: m}
		res.urn, _ = m["urn"].(string)
		res.typ, _ = m["type"].(string)
		res.parent, _ = m["parent"].(string)
		res.provider, _ = m["provider"].(string)
		if i := strings.LastIndex(res.urn, "::"); i >= 0 {
			res.name = res.urn[i+2:]
		}
		out = append(out, res)
	}
	return out
}

// Component is the RocketChatHA component of the state: its name and URN.
// It fails unless there is exactly one.
func (s *State) Component() (name, urn string, err error) {
	var found []resource
	for _, r := range s.resources() {
		if r.typ == ComponentType {
			found = append(found, r)
		}
	}
	switch len(found) {
	case 0:
		return "", "", fmt.Errorf("the stack's state holds no %s component (has it been deployed?)", ComponentType)
	case 1:
		return found[0].name, found[0].urn, nil
	}
	return "", "", fmt.Errorf("the stack's state holds %d %s components; this works on a stack with one", len(found), ComponentType)
}

// HasNode reports whether the state holds the Docker provider of node.
func (s *State) HasNode(node string) bool {
	urns, _ := s.NodeResources(node)
	return len(urns) > 0
}

// NodeResources returns the URNs of everything on node's Docker host, in
// state order: the node's Docker provider (<component>-docker-<node>, a
// child of the component), every resource that provider manages, and
// every command step that runs `docker exec` in one of those containers
// (its RCHA_CONTAINER names it). It returns nil when the state has no such
// provider.
func (s *State) NodeResources(node string) ([]string, error) {
	comp, compURN, err := s.Component()
	if err != nil {
		return nil, err
	}
	all := s.resources()
	var providerURN string
	for _, r := range all {
		if r.typ == dockerProviderType && r.parent == compURN && r.name == comp+"-docker-"+node {
			providerURN = r.urn
		}
	}
	if providerURN == "" {
		return nil, nil
	}
	in := map[string]bool{providerURN: true}
	containers := map[string]bool{}
	for _, r := range all {
		if strings.HasPrefix(r.provider, providerURN+"::") {
			in[r.urn] = true
			if name := plainString(inputs(r)["name"]); name != "" && r.typ == "docker:index/container:Container" {
				containers[name] = true
			}
		}
	}
	for _, r := range all {
		if r.typ != commandType {
			continue
		}
		env, _ := inputs(r)["environment"].(map[string]any)
		if c := plainString(env["RCHA_CONTAINER"]); c != "" && containers[c] {
			in[r.urn] = true
		}
	}
	var out []string
	for _, r := range all {
		if in[r.urn] {
			out = append(out, r.urn)
		}
	}
	return out, nil
}

// Containers returns the names of the containers and volumes among urns,
// for the cleanup a retired host needs if it ever comes back.
func (s *State) Containers(urns []string) (containers, volumes []string) {
	want := setOf(urns)
	for _, r := range s.resources() {
		if !want[r.urn] {
			continue
		}
		name := plainString(inputs(r)["name"])
		switch r.typ {
		case "docker:index/container:Container":
			containers = append(containers, name)
		case "docker:index/volume:Volume":
			volumes = append(volumes, name)
		}
	}
	return containers, volumes
}

// Fingerprints returns the component's FingerprintsOutput in the state
// (nil when the state was written by a version without it).
func (s *State) Fingerprints() map[string]string {
	_, urn, err := s.Component()
	if err != nil {
		return nil
	}
	for _, r := range s.resources() {
		if r.urn == urn {
			outs, _ := r.raw["outputs"].(map[string]any)
			return stringMap(outs[FingerprintsOutput])
		}
	}
	return nil
}

// Forget removes urns from the state, with every reference to them that
// other resources keep (dependencies, property dependencies, deleted-with)
// and any pending operation on them. It refuses when another resource is
// a child of one of them or is managed by a provider among them, because
// the state would then be broken. It returns how many references it
// dropped.
func (s *State) Forget(urns []string) (int, error) {
	gone := setOf(urns)
	found := map[string]bool{}
	var keep []any
	var blockers []string
	for _, r := range s.resources() {
		if gone[r.urn] {
			found[r.urn] = true
			continue
		}
		if gone[r.parent] {
			blockers = append(blockers, fmt.Sprintf("%s is a child of %s", r.urn, r.parent))
		}
		if i := strings.LastIndex(r.provider, "::"); i >= 0 && gone[r.provider[:i]] {
			blockers = append(blockers, fmt.Sprintf("%s is managed by %s", r.urn, r.provider[:i]))
		}
		keep = append(keep, r.raw)
	}
	for _, u := range urns {
		if !found[u] {
			return 0, fmt.Errorf("%s is not in the stack's state", u)
		}
	}
	if len(blockers) > 0 {
		sort.Strings(blockers)
		return 0, fmt.Errorf("cannot remove the resources from the state:\n  %s", strings.Join(blockers, "\n  "))
	}
	dropped := 0
	for _, r := range keep {
		m := r.(map[string]any)
		if deps, ok := m["dependencies"].([]any); ok {
			m["dependencies"], dropped = without(deps, gone, dropped)
		}
		if pd, ok := m["propertyDependencies"].(map[string]any); ok {
			for k, v := range pd {
				if deps, ok := v.([]any); ok {
					pd[k], dropped = without(deps, gone, dropped)
				}
			}
		}
		if dw, _ := m["deletedWith"].(string); gone[dw] {
			delete(m, "deletedWith")
			dropped++
		}
	}
	s.doc["resources"] = keep
	if ops, ok := s.doc["pending_operations"].([]any); ok {
		var left []any
		for _, op := range ops {
			om, _ := op.(map[string]any)
			res, _ := om["resource"].(map[string]any)
			if u, _ := res["urn"].(string); gone[u] {
				continue
			}
			left = append(left, op)
		}
		s.doc["pending_operations"] = left
	}
	return dropped, nil
}

func without(deps []any, gone map[string]bool, dropped int) ([]any, int) {
	out := make([]any, 0, len(deps))
	for _, d := range deps {
		if u, _ := d.(string); gone[u] {
			dropped++
			continue
		}
		out = append(out, d)
	}
	return out, dropped
}

func inputs(r resource) map[string]any {
	m, _ := r.raw["inputs"].(map[string]any)
	return m
}

// plainString is v when it is a plain (not secret) string.
func plainString(v any) string {
	s, _ := v.(string)
	return s
}

func stringMap(v any) map[string]string {
	m, ok := v.(map[string]any)
	if !ok {
		return nil
	}
	out := map[string]string{}
	for k, x := range m {
		if s, ok := x.(string); ok {
			out[k] = s
		}
	}
	return out
}

func setOf(list []string) map[string]bool {
	m := make(map[string]bool, len(list))
	for _, s := range list {
		m[s] = true
	}
	return m
}

var fingerprintRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// Known reports whether fp is a computed fingerprint (not the engine's
// placeholder for a value unknown in a preview).
func Known(fp string) bool { return fingerprintRE.MatchString(fp) }
