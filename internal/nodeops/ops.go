package nodeops

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

// Engine is what Down and Retire need from a stack. rcha implements it
// with the Automation API and its progress lines; the engine lab with its
// recording harness.
type Engine interface {
	// Export and Import read and replace the stack's state.
	Export(ctx context.Context) (apitype.UntypedDeployment, error)
	Import(ctx context.Context, d apitype.UntypedDeployment) error
	// Preview previews an update of the program with the one-shot
	// requests p that excludes the given URNs, without refreshing, and
	// returns its engine events.
	Preview(ctx context.Context, exclude []string, p OneShot) ([]events.EngineEvent, error)
	// Up runs such an update.
	Up(ctx context.Context, exclude []string, p OneShot) error
}

// OneShot is what the program must be told for one update, beyond the
// stack config (stacks.OneShot; this package cannot import stacks).
type OneShot struct {
	// Unreachable: nodes whose hosts the program must register nothing on
	// (the engine configures every provider a program registers, even an
	// excluded one, and pulumi-docker then pings its daemon).
	Unreachable []string
	// ForceReconfig: the forced replica-set reconfig of a lost majority.
	ForceReconfig bool
}

// Request names the nodes an operation is about and the node list of the
// stack's configuration (in order).
type Request struct {
	Nodes  []string
	Config []string
	// ForceReconfig (Retire only) forces the replica-set reconfig that
	// recovers from a lost majority.
	ForceReconfig bool
	// Progress receives one line per step; nil discards them.
	Progress func(string)
}

func (r Request) say(format string, a ...any) {
	if r.Progress != nil {
		r.Progress(fmt.Sprintf(format, a...))
	}
}

// excludes returns the URNs of the nodes' resources in st, all of them and
// node by node; every node must have some.
func excludes(st *State, nodes []string) (all []string, byNode [][]string, err error) {
	for _, n := range nodes {
		u, err := st.NodeResources(n)
		if err != nil {
			return nil, nil, err
		}
		if len(u) == 0 {
			return nil, nil, fmt.Errorf("node %s: the stack's state has no resources on its Docker host", n)
		}
		all = append(all, u...)
		byNode = append(byNode, u)
	}
	return all, byNode, nil
}

func checkNames(nodes []string) error {
	if len(nodes) == 0 {
		return fmt.Errorf("name at least one node")
	}
	for i, n := range nodes {
		if slices.Contains(nodes[:i], n) {
			return fmt.Errorf("node %s is named twice", n)
		}
	}
	return nil
}

// Down runs an update that leaves the given nodes' Docker hosts alone: the
// program registers nothing on them (OneShot.Unreachable) and the update
// excludes every resource the state holds there, so the engine neither
// contacts those hosts nor deletes what runs on them. It
// first previews the same update and refuses, before anything changes,
// when the change would have to reach one of them: when the node's
// fingerprint in the preview differs from the one the last complete
// update recorded, or is unknown. The replica-set steps then run through
// a member that answers.
func Down(ctx context.Context, e Engine, r Request) error {
	if err := checkNames(r.Nodes); err != nil {
		return fmt.Errorf("--down: %w", err)
	}
	for _, n := range r.Nodes {
		if !slices.Contains(r.Config, n) {
			return fmt.Errorf("--down %s: nodes has no node named %s (nodes: %s)", n, n, strings.Join(r.Config, ", "))
		}
	}
	if len(r.Nodes) >= len(r.Config) {
		return fmt.Errorf("--down: every node is named; at least one must answer")
	}
	st, err := exportState(ctx, e)
	if err != nil {
		return err
	}
	urns, _, err := excludes(st, r.Nodes)
	if err != nil {
		return fmt.Errorf("--down: %w", err)
	}
	old := st.Fingerprints()
	r.say("previewing without %s (%d resources left alone)", strings.Join(r.Nodes, ", "), len(urns))
	once := OneShot{Unreachable: r.Nodes}
	evs, err := e.Preview(ctx, urns, once)
	if err != nil {
		return fmt.Errorf("preview without %s: %w", strings.Join(r.Nodes, ", "), err)
	}
	fps := FingerprintsFromEvents(evs)
	for _, n := range r.Nodes {
		switch was, now := old[n], fps[n]; {
		case was == "":
			return fmt.Errorf("node %s: the stack's state records no fingerprint for it (it was written by an older version, or no update has completed since); run one update with every Docker host answering first. Nothing was changed", n)
		case !Known(now):
			return fmt.Errorf("node %s: this change may have to reach %s's Docker host, which is marked down (its fingerprint is not known before the update). Nothing was changed. Bring the host back, or retire the node (docs/runbooks.md)", n, n)
		case now != was:
			return fmt.Errorf("node %s: this change must update resources on %s's Docker host, which is marked down. Nothing was changed. Bring the host back and run the update, or retire the node (docs/runbooks.md)", n, n)
		}
	}
	r.say("nothing changes on %s: updating the other nodes", strings.Join(r.Nodes, ", "))
	return e.Up(ctx, urns, once)
}

// Cleanup is what a retired node leaves on its host, should the host ever
// come back: the engine no longer knows these containers and volumes.
type Cleanup struct {
	Node       string
	Containers []string
	Volumes    []string
}

// Retire removes dead nodes: r.Nodes must be gone from the configuration's
// node list and still be in the state. It runs one update with their
// resources excluded, in which the replica-set steps remove their members
// through a surviving member (and reapply the vote policy) and the load
// balancers drop them, and then removes those resources from the state,
// without contacting the nodes' hosts. The update and the state edit are
// separate: when the update fails, the state is untouched and Retire can
// be run again.
func Retire(ctx context.Context, e Engine, r Request) ([]Cleanup, error) {
	if err := checkNames(r.Nodes); err != nil {
		return nil, fmt.Errorf("retire: %w", err)
	}
	for _, n := range r.Nodes {
		if slices.Contains(r.Config, n) {
			return nil, fmt.Errorf("retire %s: nodes still lists %s; remove it from nodes in the stack's configuration first", n, n)
		}
	}
	if len(r.Config) == 0 {
		return nil, fmt.Errorf("retire: nodes is empty; at least one node must stay")
	}
	st, err := exportState(ctx, e)
	if err != nil {
		return nil, err
	}
	urns, byNode, err := excludes(st, r.Nodes)
	if err != nil {
		return nil, fmt.Errorf("retire: %w", err)
	}
	var cleanup []Cleanup
	for i, n := range r.Nodes {
		c, v := st.Containers(byNode[i])
		cleanup = append(cleanup, Cleanup{Node: n, Containers: c, Volumes: v})
	}
	r.say("updating the cluster without %s (%d resources on its host left alone)", strings.Join(r.Nodes, ", "), len(urns))
	if err := e.Up(ctx, urns, OneShot{ForceReconfig: r.ForceReconfig}); err != nil {
		return nil, fmt.Errorf("the update without %s failed; the state still holds their resources, and running retire again is safe: %w", strings.Join(r.Nodes, ", "), err)
	}
	// The update may have rewritten the state: read it again.
	st, err = exportState(ctx, e)
	if err != nil {
		return nil, err
	}
	dropped, err := st.Forget(urns)
	if err != nil {
		return nil, fmt.Errorf("the cluster was updated without %s, but: %w", strings.Join(r.Nodes, ", "), err)
	}
	d, err := st.Deployment()
	if err != nil {
		return nil, err
	}
	if err := e.Import(ctx, d); err != nil {
		return nil, fmt.Errorf("the cluster was updated without %s, but writing the state without their resources failed (run retire again): %w", strings.Join(r.Nodes, ", "), err)
	}
	r.say("removed %d resources of %s from the state (%d stale references dropped)", len(urns), strings.Join(r.Nodes, ", "), dropped)
	return cleanup, nil
}

func exportState(ctx context.Context, e Engine) (*State, error) {
	d, err := e.Export(ctx)
	if err != nil {
		return nil, fmt.Errorf("exporting the stack's state: %w", err)
	}
	return ParseState(d)
}

// FingerprintsFromEvents returns the component's FingerprintsOutput as an
// update or preview registered it (values unknown in a preview are
// returned as the engine's placeholder, which Known rejects).
func FingerprintsFromEvents(evs []events.EngineEvent) map[string]string {
	var out map[string]string
	for _, ev := range evs {
		var m *apitype.StepEventMetadata
		switch {
		case ev.ResOutputsEvent != nil:
			m = &ev.ResOutputsEvent.Metadata
		default:
			continue
		}
		if m.Type != ComponentType || m.New == nil {
			continue
		}
		if fp := stringMap(m.New.Outputs[FingerprintsOutput]); fp != nil {
			out = fp
		}
	}
	return out
}
