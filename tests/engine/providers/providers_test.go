package providers

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

func urn(typ, name string) resource.URN {
	return resource.NewURN("dev", "rocketchat-ha", "", tokens.Type(typ), name)
}

func props(m map[string]any) resource.PropertyMap { return resource.NewPropertyMapFromMap(m) }

func diff(t *testing.T, p plugin.Provider, typ string, olds, news resource.PropertyMap) plugin.DiffResult {
	t.Helper()
	d, err := p.Diff(context.Background(), plugin.DiffRequest{URN: urn(typ, "x"), Type: tokens.Type(typ),
		OldInputs: olds, OldOutputs: olds, NewInputs: news})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func keys(ks []resource.PropertyKey) string { return strings.Join(keyStrings(ks), ",") }

func TestDockerDiffReplacesOnlyOnSchemaFields(t *testing.T) {
	t.Setenv("RCHA_LAB_TRACE", "")
	p := newDocker()
	base := map[string]any{"name": "c", "image": "sha256:1", "networkMode": "bridge", "restart": "unless-stopped",
		"envs": []any{"A=1"}, "wait": true}
	cases := []struct {
		field       string
		value       any
		wantReplace bool
	}{
		{"envs", []any{"A=2"}, true},
		{"image", "sha256:2", true},
		{"hosts", []any{map[string]any{"host": "n1", "ip": "10.0.0.1"}}, true},
		{"uploads", []any{map[string]any{"file": "/k", "content": "x"}}, true},
		{"restart", "always", false},
		{"memory", 512.0, false},
		{"healthcheck", map[string]any{"tests": []any{"CMD", "true"}}, false},
		{"wait", false, false},
	}
	for _, c := range cases {
		news := props(base)
		news[resource.PropertyKey(c.field)] = resource.NewPropertyValue(c.value)
		d := diff(t, p, ContainerType, props(base), news)
		if d.Changes != plugin.DiffSome || keys(d.ChangedKeys) != c.field {
			t.Errorf("%s: changes %v %q, want only %s", c.field, d.Changes, keys(d.ChangedKeys), c.field)
		}
		if got := len(d.ReplaceKeys) > 0; got != c.wantReplace {
			t.Errorf("%s: replace=%v, want %v", c.field, got, c.wantReplace)
		}
		if c.wantReplace && !d.DeleteBeforeReplace {
			t.Errorf("%s: the docker fake should report delete-before-replace for containers by default", c.field)
		}
	}
}

func TestDockerDiffIgnoresSecretnessAndSeesUnknowns(t *testing.T) {
	t.Setenv("RCHA_LAB_TRACE", "")
	t.Setenv("RCHA_LAB_PROVIDER_DBR", "0")
	p := newDocker()
	olds := props(map[string]any{"name": "c", "image": "i", "networkMode": "bridge", "envs": []any{"P=x"}})
	news := olds.Copy()
	news["envs"] = resource.NewProperty([]resource.PropertyValue{resource.MakeSecret(resource.NewProperty("P=x"))})
	if d := diff(t, p, ContainerType, olds, news); d.Changes != plugin.DiffNone {
		t.Errorf("a value that only became secret is reported as changed: %q", keys(d.ChangedKeys))
	}
	news["image"] = resource.MakeComputed(resource.NewProperty(""))
	d := diff(t, p, ContainerType, olds, news)
	if keys(d.ReplaceKeys) != "image" || d.DeleteBeforeReplace {
		t.Errorf("unknown image: replaces %q dbr %v, want image without provider DBR (RCHA_LAB_PROVIDER_DBR=0)", keys(d.ReplaceKeys), d.DeleteBeforeReplace)
	}
	// pulumi-docker #1272: without networkMode the state's "bridge" diffs forever.
	delete(news, "networkMode")
	news["image"] = olds["image"]
	if d := diff(t, p, ContainerType, olds, news); keys(d.ReplaceKeys) != "networkMode" {
		t.Errorf("missing networkMode: replaces %q, want networkMode", keys(d.ReplaceKeys))
	}
}

func TestImageVolumeCommandRandomReplaceRules(t *testing.T) {
	t.Setenv("RCHA_LAB_TRACE", "")
	cases := []struct {
		p           plugin.Provider
		typ, field  string
		wantReplace bool
	}{
		{newDocker(), RemoteImageType, "name", true},
		{newDocker(), RemoteImageType, "pullTriggers", true},
		{newDocker(), RemoteImageType, "keepLocally", false},
		{newDocker(), VolumeType, "labels", true},
		{newDocker(), VolumeType, "driverOpts", true},
		{newCommand(), LocalCommandType, "triggers", true},
		{newCommand(), LocalCommandType, "environment", false},
		{newCommand(), LocalCommandType, "create", false},
		{newCommand(), LocalCommandType, "stdin", false},
		{newRandom(), RandomPasswordType, "length", true},
		{newRandom(), RandomPasswordType, "keepers", true},
	}
	for _, c := range cases {
		olds := props(map[string]any{"name": "n"})
		news := olds.Copy()
		news[resource.PropertyKey(c.field)] = resource.NewPropertyValue([]any{"changed"})
		d := diff(t, c.p, c.typ, olds, news)
		if got := len(d.ReplaceKeys) > 0; got != c.wantReplace || d.Changes != plugin.DiffSome {
			t.Errorf("%s %s: replace=%v changes=%v, want replace=%v", c.typ, c.field, got, d.Changes, c.wantReplace)
		}
	}
}

func TestTraceRedactsSecretsAndCommandSimulation(t *testing.T) {
	dir := t.TempDir()
	trace := filepath.Join(dir, "trace.jsonl")
	t.Setenv("RCHA_LAB_TRACE", trace)
	t.Setenv("RCHA_LAB_WORLD", "") // no world: the node choice is not modelled
	p := newCommand()
	env := resource.PropertyMap{
		"RCHA_NODES":         resource.NewProperty("n1 unix:///var/run/docker.sock rs-mongo-n1 27017\n"),
		"RCHA_MODE":          resource.NewProperty("full"),
		"RCHA_ROOT_PASSWORD": resource.MakeSecret(resource.NewProperty("very-secret-root")),
		"RCHA_DESIRED": resource.MakeSecret(resource.NewProperty(
			`{"members":[{"host":"n1:27017"},{"host":"n2:27018"}],"users":[{"pwd":"very-secret-user"}]}`)),
	}
	in := resource.PropertyMap{"create": resource.NewProperty("docker exec ..."), "environment": resource.NewProperty(env)}
	resp, err := p.Create(context.Background(), plugin.CreateRequest{URN: urn(LocalCommandType, "rs"), Type: LocalCommandType, Properties: in})
	if err != nil {
		t.Fatal(err)
	}
	stdout := resp.Properties["stdout"]
	if !stdout.IsSecret() || stdout.SecretValue().Element.StringValue() != "very-secret-root" {
		t.Errorf("stdout = %v, want the root password as a secret", stdout)
	}
	raw, err := os.ReadFile(trace)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), "very-secret") {
		t.Errorf("trace holds a secret in plain text:\n%s", raw)
	}
	events, err := ReadTrace(trace)
	if err != nil {
		t.Fatal(err)
	}
	var run *Event
	for i := range events {
		if events[i].Op == OpRun {
			run = &events[i]
		}
	}
	if run == nil {
		t.Fatalf("no run event in %v", events)
	}
	if strings.Join(run.Members, ",") != "n1:27017,n2:27018" || strings.Join(run.EnvKeys, ",") != "RCHA_DESIRED,RCHA_MODE,RCHA_NODES,RCHA_ROOT_PASSWORD" {
		t.Errorf("run event members %v env keys %v", run.Members, run.EnvKeys)
	}
	if !strings.Contains(string(raw), `"RCHA_NODES":"n1 unix:///var/run/docker.sock rs-mongo-n1 27017\n"`) {
		t.Errorf("non-secret values should be traced as they are (so leaks are visible):\n%s", raw)
	}
}

func TestWorldRejectsNameAndPortConflicts(t *testing.T) {
	w := &world{dir: t.TempDir()}
	h := "unix:///var/run/docker.sock"
	if err := w.startContainer(h, "a", []publishedPort{{IP: "172.17.0.1", Port: 3000, Protocol: "tcp"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.startContainer(h, "a", nil); err == nil || !strings.Contains(err.Error(), "already in use") {
		t.Errorf("duplicate name: %v", err)
	}
	if err := w.startContainer(h, "b", []publishedPort{{IP: "0.0.0.0", Port: 3000, Protocol: "tcp"}}); err == nil || !strings.Contains(err.Error(), "port is already allocated") {
		t.Errorf("port conflict: %v", err)
	}
	if err := w.startContainer(h, "b", []publishedPort{{IP: "172.17.0.1", Port: 3001, Protocol: "tcp"}}); err != nil {
		t.Errorf("distinct port: %v", err)
	}
	if err := w.startContainer("ssh://root@other", "a", nil); err != nil {
		t.Errorf("same name on another host: %v", err)
	}
	if reused, err := w.createVolume(h, "v"); err != nil || reused {
		t.Errorf("first volume create: reused=%v err=%v", reused, err)
	}
	if reused, err := w.createVolume(h, "v"); err != nil || !reused {
		t.Errorf("second volume create: reused=%v err=%v, want the existing volume", reused, err)
	}
}
