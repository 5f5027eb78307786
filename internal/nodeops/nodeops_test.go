package nodeops

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
)

const prefix = "urn:pulumi:prod::rocketchat-ha::"

func urn(typ, name string) string {
	if typ == ComponentType {
		return prefix + typ + "::" + name
	}
	return prefix + ComponentType + "$" + typ + "::" + name
}

// testState is a deployment shaped like the component's: three nodes, a
// load balancer on n1 and n2, the replica-set steps, and a resource of a
// future version this package does not know.
func testState(t *testing.T, fingerprints map[string]any) apitype.UntypedDeployment {
	t.Helper()
	comp := urn(ComponentType, "chat")
	var res []map[string]any
	add := func(m map[string]any) { res = append(res, m) }
	compOut := map[string]any{"url": "http://x"}
	if fingerprints != nil {
		compOut[FingerprintsOutput] = fingerprints
	}
	add(map[string]any{"urn": prefix + "pulumi:pulumi:Stack::rocketchat-ha-prod", "type": "pulumi:pulumi:Stack"})
	add(map[string]any{"urn": comp, "type": ComponentType, "outputs": compOut})
	var mongos []any
	for _, n := range []string{"n1", "n2", "n3"} {
		p := urn(dockerProviderType, "chat-docker-"+n)
		add(map[string]any{"urn": p, "type": dockerProviderType, "parent": comp, "id": "pid-" + n, "custom": true})
		ref := p + "::pid-" + n
		add(map[string]any{"urn": urn("docker:index/volume:Volume", "chat-mongo-"+n+"-data"), "type": "docker:index/volume:Volume",
			"parent": comp, "provider": ref, "inputs": map[string]any{"name": "chat-mongo-" + n + "-data"}})
		m := urn("docker:index/container:Container", "chat-mongo-"+n)
		add(map[string]any{"urn": m, "type": "docker:index/container:Container", "parent": comp, "provider": ref,
			"inputs": map[string]any{"name": "chat-mongo-" + n}})
		mongos = append(mongos, m)
		if n != "n3" {
			lb := urn("docker:index/container:Container", "chat-lb-"+n)
			add(map[string]any{"urn": lb, "type": "docker:index/container:Container", "parent": comp, "provider": ref,
				"inputs": map[string]any{"name": "chat-lb-" + n}})
			add(map[string]any{"urn": urn(commandType, "chat-lb-"+n+"-config"), "type": commandType, "parent": comp,
				"dependencies": []any{lb}, "propertyDependencies": map[string]any{"triggers": []any{lb}},
				"inputs": map[string]any{"environment": map[string]any{"RCHA_CONTAINER": "chat-lb-" + n, "DOCKER_HOST": "ssh://" + n}}})
		}
	}
	add(map[string]any{"urn": urn(commandType, "chat-replicaset"), "type": commandType, "parent": comp, "dependencies": mongos,
		"inputs": map[string]any{"environment": map[string]any{"RCHA_NODES": "n1 ...\n"}}, "futureField": "kept"})
	raw, err := json.Marshal(map[string]any{"manifest": map[string]any{"time": "t"}, "resources": res,
		"pending_operations": []any{map[string]any{"resource": map[string]any{"urn": urn("docker:index/container:Container", "chat-mongo-n2")}, "type": "updating"}}})
	if err != nil {
		t.Fatal(err)
	}
	return apitype.UntypedDeployment{Version: 3, Deployment: raw}
}

func names(urns []string) []string {
	var out []string
	for _, u := range urns {
		out = append(out, u[strings.LastIndex(u, "::")+2:])
	}
	return out
}

func TestNodeResources(t *testing.T) {
	st, err := ParseState(testState(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	for node, want := range map[string][]string{
		"n1": {"chat-docker-n1", "chat-mongo-n1-data", "chat-mongo-n1", "chat-lb-n1", "chat-lb-n1-config"},
		"n3": {"chat-docker-n3", "chat-mongo-n3-data", "chat-mongo-n3"},
		"n9": nil,
	} {
		got, err := st.NodeResources(node)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(names(got), want) {
			t.Errorf("%s: %v, want %v", node, names(got), want)
		}
	}
	c, v := st.Containers(must(st.NodeResources("n1")))
	if !slices.Equal(c, []string{"chat-mongo-n1", "chat-lb-n1"}) || !slices.Equal(v, []string{"chat-mongo-n1-data"}) {
		t.Errorf("containers %v volumes %v", c, v)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestForget(t *testing.T) {
	st := must(ParseState(testState(t, nil)))
	urns := must(st.NodeResources("n2"))
	dropped, err := st.Forget(urns)
	if err != nil {
		t.Fatal(err)
	}
	// The replica-set step's dependency on chat-mongo-n2, and the pending
	// operation on it.
	if dropped != 1 {
		t.Errorf("dropped %d references, want 1", dropped)
	}
	d := must(st.Deployment())
	var doc map[string]any
	if err := json.Unmarshal(d.Deployment, &doc); err != nil {
		t.Fatal(err)
	}
	text := string(d.Deployment)
	if strings.Contains(text, "-n2") {
		t.Errorf("n2 is still in the state: %s", text)
	}
	if !strings.Contains(text, `"futureField":"kept"`) || doc["manifest"] == nil || d.Version != 3 {
		t.Errorf("fields this package does not know were lost: %s", text)
	}
	if ops, _ := doc["pending_operations"].([]any); len(ops) != 0 {
		t.Errorf("pending operations on n2 kept: %v", ops)
	}
	st2 := must(ParseState(d))
	if st2.HasNode("n2") || !st2.HasNode("n1") || !st2.HasNode("n3") {
		t.Error("nodes after Forget are wrong")
	}
	// A provider cannot go while it still manages a resource.
	p := urn(dockerProviderType, "chat-docker-n1")
	if _, err := must(ParseState(testState(t, nil))).Forget([]string{p}); err == nil || !strings.Contains(err.Error(), "is managed by "+p) {
		t.Errorf("Forget of a provider in use: %v", err)
	}
	if _, err := st2.Forget([]string{"urn:nope"}); err == nil {
		t.Error("Forget of an unknown URN succeeded")
	}
}

// fakeEngine records what Down and Retire ask of the engine.
type fakeEngine struct {
	state       apitype.UntypedDeployment
	previewFPs  map[string]any
	upErr       error
	calls       []string
	imported    *apitype.UntypedDeployment
	excludeSeen []string
}

func (f *fakeEngine) Export(context.Context) (apitype.UntypedDeployment, error) {
	f.calls = append(f.calls, "export")
	if f.imported != nil {
		return *f.imported, nil
	}
	return f.state, nil
}

func (f *fakeEngine) Import(_ context.Context, d apitype.UntypedDeployment) error {
	f.calls = append(f.calls, "import")
	f.imported = &d
	return nil
}

func (f *fakeEngine) Preview(_ context.Context, exclude []string, p OneShot) ([]events.EngineEvent, error) {
	f.calls = append(f.calls, fmt.Sprintf("preview-%d%v", len(exclude), p.Unreachable))
	f.excludeSeen = exclude
	return []events.EngineEvent{{EngineEvent: apitype.EngineEvent{ResOutputsEvent: &apitype.ResOutputsEvent{
		Metadata: apitype.StepEventMetadata{Type: ComponentType, New: &apitype.StepEventStateMetadata{
			Outputs: map[string]any{FingerprintsOutput: f.previewFPs}}}}}}}, nil
}

func (f *fakeEngine) Up(_ context.Context, exclude []string, p OneShot) error {
	f.calls = append(f.calls, fmt.Sprintf("up-%d%v%v", len(exclude), p.Unreachable, p.ForceReconfig))
	f.excludeSeen = exclude
	return f.upErr
}

func fp(c byte) string { return strings.Repeat(string(c), 64) }

func TestDown(t *testing.T) {
	old := map[string]any{"n1": fp('a'), "n2": fp('b'), "n3": fp('c')}
	cfg := []string{"n1", "n2", "n3"}
	for _, c := range []struct {
		name    string
		req     Request
		preview map[string]any
		calls   []string
		err     string
	}{
		{"unchanged: up without n1", Request{Nodes: []string{"n1"}, Config: cfg},
			map[string]any{"n1": fp('a'), "n2": fp('d'), "n3": fp('c')}, []string{"export", "preview-5[n1]", "up-5[n1]false"}, ""},
		{"changed on n1: refused", Request{Nodes: []string{"n1"}, Config: cfg},
			map[string]any{"n1": fp('e'), "n2": fp('b'), "n3": fp('c')}, []string{"export", "preview-5[n1]"}, "node n1: this change must update resources on n1's Docker host"},
		{"unknown in the preview: refused", Request{Nodes: []string{"n3"}, Config: cfg},
			map[string]any{"n1": fp('a'), "n2": fp('b'), "n3": "04da6b54-80e4-46f7-96ec-b56ff0331ba9"}, []string{"export", "preview-3[n3]"}, "its fingerprint is not known"},
		{"not a node", Request{Nodes: []string{"n7"}, Config: cfg}, nil, nil, "--down n7: nodes has no node named n7"},
		{"every node", Request{Nodes: cfg, Config: cfg}, nil, nil, "every node is named"},
		{"named twice", Request{Nodes: []string{"n1", "n1"}, Config: cfg}, nil, nil, "named twice"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := &fakeEngine{state: testState(t, old), previewFPs: c.preview}
			err := Down(context.Background(), f, c.req)
			if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
				t.Fatalf("error %v, want %q", err, c.err)
			}
			if !slices.Equal(f.calls, c.calls) {
				t.Errorf("calls %v, want %v", f.calls, c.calls)
			}
		})
	}
	f := &fakeEngine{state: testState(t, nil), previewFPs: old}
	if err := Down(context.Background(), f, Request{Nodes: []string{"n2"}, Config: cfg}); err == nil || !strings.Contains(err.Error(), "records no fingerprint") {
		t.Errorf("a state without fingerprints: %v", err)
	}
}

func TestRetire(t *testing.T) {
	f := &fakeEngine{state: testState(t, nil)}
	var lines []string
	cleanup, err := Retire(context.Background(), f, Request{Nodes: []string{"n1"}, Config: []string{"n2", "n3"},
		Progress: func(s string) { lines = append(lines, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"export", "up-5[]false", "export", "import"}; !slices.Equal(f.calls, want) {
		t.Errorf("calls %v, want %v", f.calls, want)
	}
	if !slices.Equal(names(f.excludeSeen), []string{"chat-docker-n1", "chat-mongo-n1-data", "chat-mongo-n1", "chat-lb-n1", "chat-lb-n1-config"}) {
		t.Errorf("excluded %v", names(f.excludeSeen))
	}
	if st := must(ParseState(*f.imported)); st.HasNode("n1") || !st.HasNode("n2") {
		t.Error("the imported state still has n1, or lost n2")
	}
	if len(cleanup) != 1 || !slices.Equal(cleanup[0].Containers, []string{"chat-mongo-n1", "chat-lb-n1"}) {
		t.Errorf("cleanup %+v", cleanup)
	}
	if len(lines) != 2 {
		t.Errorf("progress %q", lines)
	}

	// Still listed: refused before anything.
	f = &fakeEngine{state: testState(t, nil)}
	if _, err := Retire(context.Background(), f, Request{Nodes: []string{"n1"}, Config: []string{"n1", "n2"}}); err == nil ||
		!strings.Contains(err.Error(), "nodes still lists n1") || len(f.calls) != 0 {
		t.Errorf("retire of a listed node: %v, calls %v", err, f.calls)
	}
	// Not in the state.
	if _, err := Retire(context.Background(), f, Request{Nodes: []string{"n9"}, Config: []string{"n1"}}); err == nil ||
		!strings.Contains(err.Error(), "node n9: the stack's state has no resources") {
		t.Errorf("retire of an unknown node: %v", err)
	}
	// A failed update leaves the state alone.
	f = &fakeEngine{state: testState(t, nil), upErr: errors.New("boom")}
	if _, err := Retire(context.Background(), f, Request{Nodes: []string{"n3"}, Config: []string{"n1", "n2"}}); err == nil ||
		!strings.Contains(err.Error(), "running retire again is safe") || f.imported != nil {
		t.Errorf("failed update: %v, imported %v", err, f.imported != nil)
	}
}
