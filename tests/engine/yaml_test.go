package engine

// The component provider under the real engine: a Pulumi YAML program
// declares rocketchat-ha:index:RocketChatHA with the seed's three nodes;
// the real CLI runs it with the YAML language host, the component provider
// binary (cmd/pulumi-resource-rocketchat-ha) and the lab's fake providers.
// The same config runs as the Go program (stacks.Program) in a second lab,
// and the two states must hold the same children with the same types,
// names, parents, providers and dependencies, and the same outputs.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/nodeops"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
	"github.com/rocketchat-ha/rocketchat-ha/stacks"
	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// seedYAML is the YAML program: the dev stack's three nodes
// (Pulumi.dev.yaml) on the lab's Docker socket, the seed's oploguser
// through a secret config value.
const seedYAML = `name: rcha-yaml
runtime: yaml
description: The RocketChatHA component from Pulumi YAML (tests/engine/yaml_test.go).
config:
  oplogPassword:
    type: string
resources:
  rocketchat:
    type: rocketchat-ha:index:RocketChatHA
    properties:
      rootUrl: http://localhost:8080
      oplogPassword: ${oplogPassword}
      nodes:
        - name: rocket-1
          address: 172.17.0.1
          dockerHost: unix:///var/run/docker.sock
          ports: {mongo: 27017, rocketchat: 3001, instance: 3101, mongoExporter: 9216, rocketchatMetrics: 9458}
        - name: rocket-2
          address: 172.17.0.1
          dockerHost: unix:///var/run/docker.sock
          ports: {mongo: 27018, rocketchat: 3002, instance: 3102, mongoExporter: 9217, rocketchatMetrics: 9459}
        - name: rocket-3
          address: 172.17.0.1
          dockerHost: unix:///var/run/docker.sock
          ports: {mongo: 27019, rocketchat: 3003, instance: 3103, mongoExporter: 9218, rocketchatMetrics: 9460}
      loadBalancer:
        node: rocket-1
        bindAddress: 127.0.0.1
        address: localhost
        httpPort: 8080
outputs:
  url: ${rocketchat.url}
  mongoUrl: ${rocketchat.mongoUrl}
  members: ${rocketchat.members}
  loadBalancers: ${rocketchat.loadBalancers}
`

// seedStackConfig is the same cluster as stack config for stacks.Program.
func seedStackConfig() map[string]any {
	var nodes []map[string]any
	for i := range 3 {
		nodes = append(nodes, map[string]any{
			"name": fmt.Sprintf("rocket-%d", i+1), "address": "172.17.0.1", "dockerHost": labDockerHost,
			// One Docker host: the exporters need a port each too.
			"ports": map[string]int{"mongo": 27017 + i, "rocketchat": 3001 + i, "instance": 3101 + i,
				"mongoExporter": 9216 + i, "rocketchatMetrics": 9458 + i},
		})
	}
	return map[string]any{
		"rootUrl":      "http://localhost:8080",
		"nodes":        nodes,
		"loadBalancer": map[string]any{"node": "rocket-1", "bindAddress": "127.0.0.1", "address": "localhost", "httpPort": 8080},
	}
}

// requireYAMLHost skips (or fails under RCHA_REQUIRE_TOOLS=1) before any
// work when the YAML language host is not built.
func requireYAMLHost(t *testing.T) {
	t.Helper()
	if p, why := testenv.PulumiYAML(); p == "" {
		testenv.Missing(t, why)
	}
}

var (
	componentPluginOnce sync.Once
	componentPluginDir  string
	componentPluginErr  error
)

// componentPlugins builds the component provider once and returns a
// directory holding it and the YAML language host, for the stack's PATH.
func componentPlugins(t *testing.T) string {
	t.Helper()
	yamlHost, why := testenv.PulumiYAML()
	if yamlHost == "" {
		testenv.Missing(t, why)
	}
	componentPluginOnce.Do(func() {
		// TestMain's directory of fakes, removed when the tests end.
		dir := filepath.Join(providersDir, "component")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			componentPluginErr = err
			return
		}
		build := exec.Command("go", "build", "-o", filepath.Join(dir, "pulumi-resource-rocketchat-ha"),
			"github.com/rocketchat-ha/rocketchat-ha/cmd/pulumi-resource-rocketchat-ha")
		if out, err := build.CombinedOutput(); err != nil {
			componentPluginErr = fmt.Errorf("building the component provider: %v\n%s", err, out)
			return
		}
		if err := os.Symlink(yamlHost, filepath.Join(dir, "pulumi-language-yaml")); err != nil {
			componentPluginErr = err
			return
		}
		componentPluginDir = dir
	})
	if componentPluginErr != nil {
		t.Fatal(componentPluginErr)
	}
	return componentPluginDir
}

// newYAMLLab is a lab (newLabWith: its own backend, Pulumi home, world,
// traces, fake providers) whose stack runs program from a project
// directory with the YAML runtime instead of an inline Go program.
func newYAMLLab(t *testing.T, stackName, program string) *lab {
	t.Helper()
	l := newLabWith(t, stackName, func(*pulumi.Context) error { return nil }, "", nil)
	plugins := componentPlugins(t)
	dir := filepath.Join(l.dir, "yaml")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), []byte(program), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for k, v := range l.env {
		env[k] = v
	}
	// The component provider and the YAML host join the fakes on PATH,
	// for this stack only.
	env["PATH"] = plugins + string(os.PathListSeparator) + os.Getenv("PATH")
	stack, err := auto.UpsertStackLocalSource(l.ctx, stackName, dir,
		auto.PulumiHome(l.stack.Workspace().PulumiHome()),
		auto.Pulumi(l.cli),
		auto.SecretsProvider("passphrase"),
		auto.EnvVars(env),
	)
	if err != nil {
		t.Fatalf("create YAML stack %s: %v", stackName, err)
	}
	l.stack, l.env, l.program = stack, env, nil
	return l
}

// child is what the comparison keeps of one resource of the state.
type child struct {
	Type, Parent, Provider string
	Custom                 bool
	Deps                   []string
	PropertyDeps           map[string][]string
	InputKeys, OutputKeys  []string
}

func keysOf(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// providerURN drops the ID from a provider reference (urn::id): the IDs
// are random per stack.
func providerURN(ref string) string {
	if i := strings.LastIndex(ref, "::"); i > strings.LastIndex(ref, "pulumi:providers:") {
		return ref[:i]
	}
	return ref
}

// children maps every resource of the state except the stack to what
// the comparison keeps, with URNs relative to the stack (urn:<type>::<name>).
func children(d deployment, stack, proj string) map[string]child {
	out := map[string]child{}
	rel := func(urn string) string {
		urn = strings.Replace(urn, "urn:pulumi:"+stack+"::"+proj+"::", "urn:", 1)
		if strings.HasPrefix(urn, "urn:pulumi:pulumi:Stack::") {
			return "urn:pulumi:pulumi:Stack" // named <project>-<stack>
		}
		return urn
	}
	for _, r := range d.Resources {
		if r.Type == "pulumi:pulumi:Stack" {
			continue
		}
		c := child{Type: string(r.Type), Parent: rel(string(r.Parent)), Provider: rel(providerURN(r.Provider)), Custom: r.Custom,
			InputKeys: keysOf(r.Inputs), OutputKeys: keysOf(r.Outputs), PropertyDeps: map[string][]string{}}
		for _, dep := range r.Dependencies {
			c.Deps = append(c.Deps, rel(string(dep)))
		}
		sort.Strings(c.Deps)
		for k, deps := range r.PropertyDependencies {
			var ds []string
			for _, dep := range deps {
				ds = append(ds, rel(string(dep)))
			}
			sort.Strings(ds)
			if len(ds) > 0 {
				c.PropertyDeps[string(k)] = ds
			}
		}
		out[rel(string(r.URN))] = c
	}
	return out
}

func componentOf(t *testing.T, d deployment) apitype.ResourceV3 {
	t.Helper()
	for _, r := range d.Resources {
		if string(r.Type) == components.TypeToken {
			return r
		}
	}
	t.Fatalf("no %s in the state", components.TypeToken)
	return apitype.ResourceV3{}
}

// TestYAMLProgramMatchesGoProgram is the component provider's proof under
// the real engine (issue 15 §3).
func TestYAMLProgramMatchesGoProgram(t *testing.T) {
	requireYAMLHost(t)
	oplog := password("oplog-")

	goLab := newLab(t, "go", labProgram, repoProject)
	goLab.setConfig(t, seedStackConfig(), map[string]string{"oplogPassword": oplog})
	goLab.up(t, "go-up")
	goState := goLab.exportShowingSecrets(t)
	goEnc, _ := goLab.export(t)

	yl := newYAMLLab(t, "yaml", seedYAML)
	if err := yl.stack.SetConfig(yl.ctx, "rcha-yaml:oplogPassword", auto.ConfigValue{Value: oplog, Secret: true}); err != nil {
		t.Fatal(err)
	}
	yl.known["config oplogPassword"] = oplog
	// A preview constructs the component with unknown values and changes
	// nothing.
	pre := yl.preview(t, "yaml-preview")
	for _, e := range pre.events {
		switch e.Op {
		case providers.OpCheckConfig, providers.OpConfigure, "diffConfig":
		default:
			t.Errorf("the preview ran %s on %s outside preview mode", e.Op, shortURN(e.URN))
		}
	}
	if pre.changes["create"] < 20 {
		t.Errorf("the preview plans %v", pre.changes)
	}
	res, up, err := yl.runUp(t, "yaml-up", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	yl.checkSecrets(t, res)
	yamlState := yl.exportShowingSecrets(t)
	yamlEnc, _ := yl.export(t)

	// The same children, with the same types, names (URNs relative to
	// their stacks), parents, providers and dependencies.
	sameChildren(t, goState, "go", project, yamlState, "yaml", "rcha-yaml")

	// The same component outputs, the internal one included; mongoUrl is
	// secret in state and in the stack outputs.
	gc, yc := componentOf(t, goState), componentOf(t, yamlState)
	for _, k := range []string{"url", "members", "loadBalancers"} {
		if fmt.Sprint(gc.Outputs[k]) != fmt.Sprint(yc.Outputs[k]) {
			t.Errorf("output %s: YAML %v, Go %v", k, yc.Outputs[k], gc.Outputs[k])
		}
	}
	if fmt.Sprint(yc.Outputs["url"]) != "http://localhost:8080" {
		t.Errorf("url = %v", yc.Outputs["url"])
	}
	if _, ok := yc.Outputs[nodeops.FingerprintsOutput]; !ok {
		t.Errorf("the YAML component has no %s output (rcha reads it)", nodeops.FingerprintsOutput)
	} else if keys := keysOf(plaintextOf(yc.Outputs[nodeops.FingerprintsOutput]).(map[string]any)); !slices.Equal(keys, []string{"rocket-1", "rocket-2", "rocket-3"}) {
		t.Errorf("%s covers %v", nodeops.FingerprintsOutput, keys)
	}
	mongo := fmt.Sprint(plaintextOf(yc.Outputs["mongoUrl"]))
	if !strings.HasPrefix(mongo, "mongodb://rocket:") || !strings.Contains(mongo, "@rocket-1:27017,rocket-2:27018,rocket-3:27019/rocketchat?") {
		t.Errorf("mongoUrl = %s", redactURL(mongo))
	}
	for what, d := range map[string]deployment{"YAML": yamlEnc, "Go": goEnc} {
		m, ok := componentOf(t, d).Outputs["mongoUrl"].(map[string]any)
		if !ok || m[secretSig] == nil {
			t.Errorf("%s state: mongoUrl is not a secret: %v", what, componentOf(t, d).Outputs["mongoUrl"])
		}
	}
	out, ok := up.Outputs["mongoUrl"]
	if !ok || !out.Secret {
		t.Errorf("stack output mongoUrl is not secret: %+v", out)
	}
	if fmt.Sprint(up.Outputs["members"].Value) != "[rocket-1:27017 rocket-2:27018 rocket-3:27019]" {
		t.Errorf("members = %v", up.Outputs["members"].Value)
	}

	// A second update changes nothing: the provider's component converges.
	again := yl.up(t, "yaml-up-again")
	for op, n := range again.changes {
		if op != "same" && n > 0 {
			t.Errorf("second update: %d %s", n, op)
		}
	}

	// Destroy removes every resource from the state.
	yl.destroy(t, "yaml-destroy")
	if d, _ := yl.export(t); len(d.Resources) != 0 {
		t.Errorf("%d resources left in state after destroy", len(d.Resources))
	}
}

// sameChildren fails t unless the YAML program's state holds the Go
// program's resources (URNs relative to their stacks) with the same types,
// parents, providers, dependencies and input and output keys, plus the
// rocketchat-ha provider.
func sameChildren(t *testing.T, goState deployment, goStack, goProject string, yamlState deployment, yamlStack, yamlProject string) {
	t.Helper()
	goChildren, yamlChildren := children(goState, goStack, goProject), children(yamlState, yamlStack, yamlProject)
	compURN := "urn:" + components.TypeToken + "::" + stacks.DefaultClusterName
	if _, ok := goChildren[compURN]; !ok {
		t.Fatalf("no %s in the Go program's state", compURN)
	}
	deps := 0
	for _, c := range goChildren {
		deps += len(c.Deps)
	}
	if deps < 10 {
		t.Fatalf("only %d dependencies in the Go program's state; the comparison would be vacuous", deps)
	}
	var yamlOnly []string
	for urn, yc := range yamlChildren {
		gc, ok := goChildren[urn]
		switch {
		case !ok && yc.Type == "pulumi:providers:"+components.TypeToken[:strings.Index(components.TypeToken, ":")]:
			// The YAML program reaches the component through its provider.
			yamlOnly = append(yamlOnly, urn)
		case !ok:
			t.Errorf("YAML program registered %s, which the Go program does not", urn)
		case urn == compURN:
			// Its inputs are what the YAML program passed; the Go
			// component records none.
			yc.InputKeys, gc.InputKeys = nil, nil
			yc.Deps, gc.Deps = nil, nil
			yc.PropertyDeps, gc.PropertyDeps = nil, nil
			fallthrough
		default:
			if fmt.Sprint(yc) != fmt.Sprint(gc) {
				t.Errorf("%s differs:\nYAML %+v\nGo   %+v", urn, yc, gc)
			}
		}
	}
	for urn := range goChildren {
		if _, ok := yamlChildren[urn]; !ok {
			t.Errorf("Go program registered %s, which the YAML program does not", urn)
		}
	}
	if len(yamlOnly) != 1 {
		t.Errorf("want exactly one rocketchat-ha provider in the YAML state, got %v", yamlOnly)
	}
	if n := len(goChildren); n < 20 {
		t.Fatalf("only %d resources in the Go program's state; the comparison would be vacuous", n)
	}
	t.Logf("%d resources compared", len(goChildren))

}

func redactURL(s string) string {
	if i := strings.Index(s, "@"); i > 0 {
		if j := strings.LastIndex(s[:i], ":"); j > 0 {
			return s[:j+1] + "[redacted]" + s[i:]
		}
	}
	return s
}

// TestYAMLProgramBadInput: bad input through the provider fails the update
// with the component's message naming the setting, before any resource of
// the cluster is created.
func TestYAMLProgramBadInput(t *testing.T) {
	requireYAMLHost(t)
	bad := strings.Replace(seedYAML, "        - name: rocket-2\n", "        - name: rocket-1\n", 1)
	bad = strings.Replace(bad, "      oplogPassword: ${oplogPassword}\n", "", 1)
	bad = strings.Replace(bad, "config:\n  oplogPassword:\n    type: string\n", "", 1)
	if bad == seedYAML {
		t.Fatal("the bad program is the seed program")
	}
	yl := newYAMLLab(t, "bad", bad)
	res, err := yl.tryUp(t, "yaml-bad-up")
	if err == nil {
		t.Fatal("the update with two nodes named rocket-1 succeeded")
	}
	for _, want := range []string{"invalid arguments", `Nodes[1].Name: "rocket-1" duplicates Nodes[0].Name`} {
		if !strings.Contains(res.log, want) {
			t.Errorf("the engine output lacks %q:\n%s", want, tail(res.log, 30))
		}
	}
	for _, e := range res.events {
		if e.Op == providers.OpCreate {
			t.Errorf("created %s despite the bad input", shortURN(e.URN))
		}
	}
}

// TestDocsYAMLExample runs the YAML example of docs/providers.md (the
// seed's cluster: rocket-1..3 at 10.250.250.13, .14 and .17 over
// ssh://root@<address>, the seed's passwords as secret config) under the
// real engine, and compares its state with the Go program's for the seed's
// stack config (tests/seed).
func TestDocsYAMLExample(t *testing.T) {
	requireYAMLHost(t)
	doc, err := os.ReadFile("../../docs/providers.md")
	if err != nil {
		t.Fatal(err)
	}
	const start = "\nYAML:\n\n```yaml\n"
	i := strings.Index(string(doc), start)
	if i < 0 {
		t.Fatal("docs/providers.md has no YAML example")
	}
	program := string(doc)[i+len(start):]
	program = program[:strings.Index(program, "```")]
	rocket, oplog := password("rocket-"), password("oplog-")

	goLab := newLab(t, "go", labProgram, repoProject)
	goLab.setConfig(t, map[string]any{
		"rootUrl": "https://chat.domain.de",
		"nodes": []map[string]any{
			{"name": "rocket-1", "address": "10.250.250.13"},
			{"name": "rocket-2", "address": "10.250.250.14"},
			{"name": "rocket-3", "address": "10.250.250.17"},
		},
	}, map[string]string{"rocketPassword": rocket, "oplogPassword": oplog})
	goLab.up(t, "go-up")

	yl := newYAMLLab(t, "yaml", program)
	for k, v := range map[string]string{"rocketPassword": rocket, "oplogPassword": oplog} {
		if err := yl.stack.SetConfig(yl.ctx, "chat:"+k, auto.ConfigValue{Value: v, Secret: true}); err != nil {
			t.Fatal(err)
		}
		yl.known["config "+k] = v
	}
	_, up, err := yl.runUp(t, "yaml-up", true, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameChildren(t, goLab.exportShowingSecrets(t), "go", project, yl.exportShowingSecrets(t), "yaml", "chat")
	if out := up.Outputs["mongoUrl"]; !out.Secret {
		t.Errorf("stack output mongoUrl is not secret")
	}
	mongo := fmt.Sprint(up.Outputs["mongoUrl"].Value)
	if !strings.HasPrefix(mongo, "mongodb://rocket:"+rocket+"@rocket-1:27017,rocket-2:27017,rocket-3:27017/rocketchat?") {
		t.Errorf("mongoUrl = %s, want the seed's rocket user and members", redactURL(mongo))
	}
	// The seed's users reach the replica-set step: its input names
	// oploguser and rocket.
	var users []string
	for _, r := range yl.exportShowingSecrets(t).Resources {
		if r.Type == "command:local:Command" && strings.HasSuffix(string(r.URN), "::rocketchat-replicaset") {
			text := fmt.Sprint(r.Inputs)
			for _, u := range []string{"oploguser", "rocket"} {
				if strings.Contains(text, u) {
					users = append(users, u)
				}
			}
		}
	}
	if !slices.Equal(users, []string{"oploguser", "rocket"}) {
		t.Errorf("the replica-set step's inputs name users %v, want oploguser and rocket", users)
	}
}
