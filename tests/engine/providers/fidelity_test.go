package providers

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
)

// These tests pin the docker fake's behaviour to what pulumi-docker 4.11.2
// (terraform-provider-docker v3.9.0, pulumi-terraform-bridge v3.125.0)
// does against a Docker 20.10 daemon; docs/engine-lab.md lists the sources.

const labHost = "unix:///var/run/docker.sock"

// fakeDocker is a docker fake on a fresh world, with its debug lines
// captured.
func fakeDocker(t *testing.T) (*dockerProvider, *[]string) {
	t.Helper()
	t.Setenv("RCHA_LAB_TRACE", "")
	t.Setenv("RCHA_LAB_WORLD", t.TempDir())
	t.Setenv("RCHA_LAB_HEALTH_DELAY", "0s")
	t.Setenv("RCHA_LAB_DOCKER_API_VERSION", "")
	var lines []string
	old := hostLog
	hostLog = func(_ context.Context, _ resource.URN, line string) { lines = append(lines, line) }
	t.Cleanup(func() { hostLog = old })
	return newDocker(), &lines
}

func rocketProps(hc map[string]any) resource.PropertyMap {
	m := props(map[string]any{
		"name": "rc-n1", "image": "registry.rocket.chat/rocketchat/rocket.chat:7.10.0", "networkMode": "bridge",
		"wait": true, "healthcheck": hc,
		"ports": []any{
			map[string]any{"internal": 3100.0, "external": 3100.0, "ip": "172.17.0.1"},
			map[string]any{"internal": 3000.0, "external": 3000.0, "ip": "172.17.0.1"},
		},
		"hosts": []any{map[string]any{"host": "n1", "ip": "172.17.0.1"}},
	})
	m["envs"] = resource.NewProperty([]resource.PropertyValue{
		resource.NewProperty("ROOT_URL=https://chat.example.test"),
		resource.MakeSecret(resource.NewProperty("MONGO_URL=mongodb://rocket:s3cret-pw@n1:27017/rocketchat")),
	})
	return m
}

func create(t *testing.T, p *dockerProvider, in resource.PropertyMap) (plugin.CreateResponse, error) {
	t.Helper()
	return p.Create(context.Background(), plugin.CreateRequest{URN: urn(ContainerType, "c"), Type: ContainerType, Properties: in})
}

func mustCreate(t *testing.T, p *dockerProvider, in resource.PropertyMap) plugin.CreateResponse {
	t.Helper()
	r, err := create(t, p, in)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func diffState(t *testing.T, p *dockerProvider, oldIn, state, news resource.PropertyMap) plugin.DiffResult {
	t.Helper()
	d, err := p.Diff(context.Background(), plugin.DiffRequest{URN: urn(ContainerType, "c"), Type: ContainerType,
		OldInputs: oldIn, OldOutputs: state, NewInputs: news})
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func read(t *testing.T, p *dockerProvider, id resource.ID, in, state resource.PropertyMap) plugin.ReadResponse {
	t.Helper()
	r, err := p.Read(context.Background(), plugin.ReadRequest{URN: urn(ContainerType, "c"), Type: ContainerType,
		ID: id, Inputs: in, State: state})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestDurationsAreStoredAsReadBack(t *testing.T) {
	p, _ := fakeDocker(t)
	in := rocketProps(map[string]any{"tests": []any{"CMD", "true"}, "interval": "1m", "timeout": "5s", "startPeriod": "180s", "retries": 3.0})
	r := mustCreate(t, p, in)
	hc := r.Properties["healthcheck"].ObjectValue()
	for k, want := range map[string]string{"interval": "1m0s", "timeout": "5s", "startPeriod": "3m0s", "startInterval": "0s"} {
		if got := hc[resource.PropertyKey(k)].StringValue(); got != want {
			t.Errorf("state healthcheck.%s = %q, want %q (time.Duration.String())", k, got, want)
		}
	}
	// The same program again: "180s" vs the state's "3m0s" is a diff,
	// in place (the program's ReplaceOnChanges turns it into a replace).
	d := diffState(t, p, in, r.Properties, in)
	if keys(d.ChangedKeys) != "healthcheck" || len(d.ReplaceKeys) != 0 {
		t.Errorf("re-run with \"180s\": changes %q replaces %q, want an in-place healthcheck change", keys(d.ChangedKeys), keys(d.ReplaceKeys))
	}
	// Written in read-back form, nothing changes.
	canon := rocketProps(map[string]any{"tests": []any{"CMD", "true"}, "interval": "1m0s", "timeout": "5s", "startPeriod": "3m0s", "retries": 3.0})
	if d := diffState(t, p, canon, r.Properties, canon); d.Changes != plugin.DiffNone {
		t.Errorf("canonical durations still diff: %q", keys(d.ChangedKeys))
	}
	// Update does not re-read: the state holds the written "180s", so
	// the next run is clean, until a refresh normalizes it again.
	u, err := p.Update(context.Background(), plugin.UpdateRequest{URN: urn(ContainerType, "c"), Type: ContainerType,
		ID: r.ID, OldInputs: in, OldOutputs: r.Properties, NewInputs: in})
	if err != nil {
		t.Fatal(err)
	}
	if got := u.Properties["healthcheck"].ObjectValue()["startPeriod"].StringValue(); got != "180s" {
		t.Errorf("state after Update has startPeriod %q, want the written 180s", got)
	}
	if d := diffState(t, p, in, u.Properties, in); d.Changes != plugin.DiffNone {
		t.Errorf("third run after an Update diffs: %q", keys(d.ChangedKeys))
	}
	rr := read(t, p, r.ID, in, u.Properties)
	if got := rr.Outputs["healthcheck"].ObjectValue()["startPeriod"].StringValue(); got != "3m0s" {
		t.Errorf("refresh left startPeriod %q, want 3m0s", got)
	}
}

func TestReadBackPortsHostsUser(t *testing.T) {
	p, _ := fakeDocker(t)
	in := rocketProps(map[string]any{"tests": []any{"CMD", "true"}})
	r := mustCreate(t, p, in)
	ports := r.Properties["ports"].ArrayValue()
	if ports[0].ObjectValue()["internal"].NumberValue() != 3000 || ports[0].ObjectValue()["protocol"].StringValue() != "tcp" {
		t.Errorf("ports not read back sorted by internal with protocol tcp: %v", ports)
	}
	if d := diffState(t, p, in, r.Properties, in); d.Changes != plugin.DiffNone {
		t.Errorf("port order / protocol default diffs: %q", keys(d.ChangedKeys))
	}
	if got := r.Properties["user"].StringValue(); got != "rocketchat" {
		t.Errorf("unset user reads back as %q, want the image's rocketchat", got)
	}
	withUser := in.Copy()
	withUser["user"] = resource.NewProperty("root")
	if d := diffState(t, p, in, r.Properties, withUser); keys(d.ReplaceKeys) != "user" {
		t.Errorf("user root vs image user: replaces %q, want user", keys(d.ReplaceKeys))
	}
	// IPv6 extra hosts come back cut at the first ":": a perpetual diff.
	v6 := in.Copy()
	v6["name"] = resource.NewProperty("rc-v6")
	v6["ports"] = resource.NewProperty([]resource.PropertyValue{})
	v6["hosts"] = resource.NewPropertyValue([]any{map[string]any{"host": "n1", "ip": "fd00::1"}})
	r6 := mustCreate(t, p, v6)
	if ip := r6.Properties["hosts"].ArrayValue()[0].ObjectValue()["ip"].StringValue(); ip != "fd00" {
		t.Errorf("IPv6 host entry reads back with ip %q, want the mangled fd00", ip)
	}
	if d := diffState(t, p, v6, r6.Properties, v6); keys(d.ReplaceKeys) != "hosts" {
		t.Errorf("IPv6 hosts: replaces %q, want hosts (every run)", keys(d.ReplaceKeys))
	}
}

func TestAPIVersionGates(t *testing.T) {
	p, _ := fakeDocker(t)
	in := rocketProps(map[string]any{"tests": []any{"CMD", "true"}, "startInterval": "5s"})
	_, err := create(t, p, in)
	want := "1 error occurred:\n\t* Unable to create container: \"specify health-check start interval\" requires API version 1.44, but the Docker daemon API version is 1.41"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Fatalf("startInterval on 1.41: %v, want %q", err, want)
	}
	if ContainerExists(p.world.dir, labHost, "rc-n1") {
		t.Errorf("a refused create left a container behind")
	}
	zero := rocketProps(map[string]any{"tests": []any{"CMD", "true"}, "startInterval": "0s"})
	if _, err := create(t, p, zero); err != nil {
		t.Errorf("startInterval 0s is not sent, so 1.41 accepts it: %v", err)
	}
	if err := SetDockerAPIVersion(p.world.dir, labHost, "1.44"); err != nil {
		t.Fatal(err)
	}
	in["name"] = resource.NewProperty("rc-n2")
	in["ports"] = resource.NewProperty([]resource.PropertyValue{})
	if _, err := create(t, p, in); err != nil {
		t.Errorf("startInterval on 1.44: %v", err)
	}
	sub := props(map[string]any{"name": "m", "image": "mongo:7.0.16", "networkMode": "bridge",
		"mounts": []any{map[string]any{"target": "/x", "type": "volume", "volumeOptions": map[string]any{"subpath": "a"}}}})
	if _, err := create(t, p, sub); err == nil || !strings.Contains(err.Error(), "Setting VolumeOptions.Subpath requires docker version 1.45 or higher") {
		t.Errorf("volume subpath on 1.44: %v", err)
	}
}

func TestUploadPermissions(t *testing.T) {
	p, _ := fakeDocker(t)
	in := props(map[string]any{"name": "m", "image": "mongo:7.0.16", "networkMode": "bridge",
		"uploads": []any{map[string]any{"file": "/k", "content": "x", "permissions": "400"}}})
	r, err := p.Check(context.Background(), plugin.CheckRequest{URN: urn(ContainerType, "m"), Type: ContainerType, News: in})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Failures) != 1 || r.Failures[0].Reason != "'400' doesn't match the pattern '^0[0-7]{3}$'" {
		t.Errorf("permissions 400: failures %v", r.Failures)
	}
	ups := []resource.PropertyValue{
		resource.NewProperty(resource.PropertyMap{"file": resource.NewProperty("/etc/keyfile"),
			"content": resource.MakeSecret(resource.NewProperty("k3y")), "permissions": resource.NewProperty("0400")}),
		resource.NewProperty(resource.PropertyMap{"file": resource.NewProperty("/etc/leaky"),
			"content": resource.MakeSecret(resource.NewProperty("k3y"))}),
		resource.NewProperty(resource.PropertyMap{"file": resource.NewProperty("/bin/run"),
			"content": resource.NewProperty("#!/bin/sh"), "executable": resource.NewProperty(true)}),
	}
	in = props(map[string]any{"name": "m", "image": "mongo:7.0.16", "networkMode": "bridge"})
	in["uploads"] = resource.NewProperty(ups)
	mustCreate(t, p, in)
	got := map[string]UploadedFile{}
	for _, c := range Containers(p.world.dir, labHost) {
		for _, u := range c.Uploads {
			got[u.Path] = u
		}
	}
	if u := got["/etc/keyfile"]; u.Mode != "0400" || !u.Secret || u.GroupOrWorldBits() || u.UID != 0 {
		t.Errorf("keyfile upload %+v", u)
	}
	if u := got["/etc/leaky"]; u.Mode != "0644" || !u.GroupOrWorldBits() {
		t.Errorf("upload without permissions %+v, want 0644 (world-readable)", u)
	}
	if u := got["/bin/run"]; u.Mode != "0744" || u.Secret {
		t.Errorf("executable upload %+v", u)
	}
}

func TestInspectDiagnostics(t *testing.T) {
	p, lines := fakeDocker(t)
	in := rocketProps(map[string]any{"tests": []any{"CMD", "true"}, "interval": "10s"})
	mustCreate(t, p, in)
	text := strings.Join(*lines, "\n")
	if (*lines)[0] != "[DEBUG] Docker container inspect: {" {
		t.Errorf("first line %q", (*lines)[0])
	}
	for _, want := range []string{"\t\t\"Env\": [", "\t\t\t\"MONGO_URL=mongodb://rocket:s3cret-pw@n1:27017/rocketchat\"",
		"\t\t\t\"NODE_ENV=production\",", "\t\"Name\": \"/rc-n1\",", "\t\t\t\"Interval\": 10000000000",
		"[DEBUG] Docker container inspect from stateFunc: {"} {
		if !strings.Contains(text, want) {
			t.Errorf("inspect diagnostics lack %q", want)
		}
	}
	if !strings.Contains(text, "[DEBUG] Container ") || !strings.Contains(text, " is running: true") {
		t.Errorf("no 'Container ... is running' line")
	}
	// The dump is the real document shape.
	dump := text[len("[DEBUG] Docker container inspect: "):strings.Index(text, "\n[DEBUG] Container")]
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(dump), &doc); err != nil {
		t.Fatalf("dump is not JSON: %v", err)
	}
	for _, k := range []string{"Id", "Created", "Path", "Args", "State", "Image", "Name", "HostConfig", "GraphDriver", "Mounts", "Config", "NetworkSettings"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("dump lacks top-level %s", k)
		}
	}
}

func TestDriftBehindPulumisBack(t *testing.T) {
	p, _ := fakeDocker(t)
	in := rocketProps(map[string]any{"tests": []any{"CMD", "true"}})
	r := mustCreate(t, p, in)
	dir := p.world.dir
	// docker kill: stopped, still there; Read with mustRun removes it
	// and drops the resource.
	if err := KillContainer(dir, labHost, "rc-n1"); err != nil {
		t.Fatal(err)
	}
	if rr := read(t, p, r.ID, in, r.Properties); rr.ID != "" || rr.Outputs != nil {
		t.Errorf("read of a killed mustRun container kept it: %v", rr.ID)
	}
	if ContainerExists(dir, labHost, "rc-n1") {
		t.Errorf("read of a killed mustRun container did not remove it")
	}
	r = mustCreate(t, p, in)
	// A leftover container of the same name blocks a create.
	_, err := create(t, p, in)
	want := "Unable to create container: Error response from daemon: Conflict. The container name \"/rc-n1\" is already in use by container \"" +
		string(r.ID) + "\". You have to remove (or rename) that container to be able to reuse that name."
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("create over a leftover: %v\nwant %q", err, want)
	}
	// docker rm -f: Read drops it; Delete without a refresh fails.
	if err := RemoveContainer(dir, labHost, "rc-n1"); err != nil {
		t.Fatal(err)
	}
	if rr := read(t, p, r.ID, in, r.Properties); rr.ID != "" {
		t.Errorf("read of a removed container kept it")
	}
	_, err = p.Delete(context.Background(), plugin.DeleteRequest{URN: urn(ContainerType, "c"), Type: tokens.Type(ContainerType),
		ID: r.ID, Inputs: in, Outputs: r.Properties})
	want = "Error stopping container " + string(r.ID) + ": Error response from daemon: No such container: " + string(r.ID)
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("delete of a removed container: %v, want %q", err, want)
	}
}

// rsStep runs a replica-set step of the command fake in mode over nodes
// ("name" each, on host unix:///var/run/docker-<name>.sock, container
// rs-mongo-<name>, port 27017) with the desired members, and returns its
// run event and error.
func rsStep(t *testing.T, p *commandProvider, mode string, nodes []string, desired []string) (Event, error) {
	t.Helper()
	var lines, members []string
	for _, n := range nodes {
		lines = append(lines, n+" "+rsHost(n)+" rs-mongo-"+n+" 27017")
	}
	for _, m := range desired {
		members = append(members, `{"host":"`+m+`"}`)
	}
	env := resource.PropertyMap{
		"RCHA_NODES":         resource.NewProperty(strings.Join(lines, "\n") + "\n"),
		"RCHA_MODE":          resource.NewProperty(mode),
		"RCHA_ROOT_PASSWORD": resource.MakeSecret(resource.NewProperty("root")),
		"RCHA_DESIRED": resource.MakeSecret(resource.NewProperty(
			`{"replicaSet":"rs0","members":[` + strings.Join(members, ",") + `]}`)),
	}
	trace := p.trace.path
	before, _ := ReadTrace(trace)
	_, err := p.Create(context.Background(), plugin.CreateRequest{URN: urn(LocalCommandType, "rs-replicaset"), Type: LocalCommandType,
		Properties: resource.PropertyMap{"create": resource.NewProperty("script"), "environment": resource.NewProperty(env)}})
	after, rerr := ReadTrace(trace)
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, e := range after[len(before):] {
		if e.Op == OpRun {
			return e, err
		}
	}
	t.Fatalf("%s step over %v recorded no run event", mode, nodes)
	return Event{}, err
}

func rsHost(node string) string { return "unix:///var/run/docker-" + node + ".sock" }

// TestReplicaSetStepNodeChoice pins the command fake's model of
// components/replicaset-step.sh: the step runs through the first node
// whose host answers and whose running mongod is a member; absent and
// non-member (EMPTY) mongods are skipped; with no member, a cluster where
// every node answered and none is stopped is fresh (prune does nothing,
// full initiates through node 0, force fails), otherwise the step refuses.
func TestReplicaSetStepNodeChoice(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RCHA_LAB_WORLD", dir)
	t.Setenv("RCHA_LAB_TRACE", dir+"/trace.jsonl")
	p := newCommand()
	all := []string{"n1", "n2", "n3"}
	want := []string{"n1:27017", "n2:27017", "n3:27017"}
	members := func() string { return strings.Join(ReplicaSetMembers(dir, "rs0"), ",") }

	// Fresh: no container anywhere.
	if ev, err := rsStep(t, p, StepModePrune, all, want); err != nil || ev.Through != "" || members() != "" {
		t.Errorf("fresh prune: through %q err %v members %q, want success doing nothing", ev.Through, err, members())
	}
	if _, err := rsStep(t, p, StepModeForce, all, want); err == nil || !strings.Contains(err.Error(), "no member of the replica set answers: nothing to reconfigure") {
		t.Errorf("fresh force: %v, want a failure", err)
	}
	if _, err := rsStep(t, p, StepModeFull, all, want); err == nil || !strings.Contains(err.Error(), "the first node's mongod is not running: cannot initiate the replica set") {
		t.Errorf("fresh full without node 0's mongod: %v", err)
	}
	for _, n := range all {
		if err := p.world.startContainer(rsHost(n), "rs-mongo-"+n, nil); err != nil {
			t.Fatal(err)
		}
	}
	ev, err := rsStep(t, p, StepModeFull, all, want)
	if err != nil || ev.Through != "n1" || ev.Mode != StepModeFull || members() != strings.Join(want, ",") {
		t.Errorf("fresh full: through %q mode %q err %v members %q, want through n1 and every member", ev.Through, ev.Mode, err, members())
	}

	// n1's host does not answer: through n2; prune keeps the desired members.
	if err := SetHostDown(dir, rsHost("n1"), true); err != nil {
		t.Fatal(err)
	}
	if ev, err := rsStep(t, p, StepModePrune, []string{"n2", "n3"}, want[1:]); err != nil || ev.Through != "n2" || members() != "n2:27017,n3:27017" {
		t.Errorf("prune with n1 down and retired: through %q err %v members %q", ev.Through, err, members())
	}
	// n2 stopped too: through n3.
	if err := KillContainer(dir, rsHost("n2"), "rs-mongo-n2"); err != nil {
		t.Fatal(err)
	}
	if ev, err := rsStep(t, p, StepModeFull, all, want[1:]); err != nil || ev.Through != "n3" {
		t.Errorf("full with n1 down and n2 stopped: through %q err %v, want n3", ev.Through, err)
	}
	// n3 removed behind the fake's back (absent) and n1 still down:
	// no member answers, and a node does not answer: refused.
	if err := RemoveContainer(dir, rsHost("n3"), "rs-mongo-n3"); err != nil {
		t.Fatal(err)
	}
	ev, err = rsStep(t, p, StepModeFull, all, want)
	for _, s := range []string{
		"exit status 1",
		"rocketchat-ha: n1: its Docker host " + rsHost("n1") + " does not answer: Cannot connect to the Docker daemon at " + rsHost("n1"),
		"rocketchat-ha: n2: its container rs-mongo-n2 is not running",
		"rocketchat-ha: n3: no mongod container yet",
		"refusing to run the full step",
	} {
		if err == nil || !strings.Contains(err.Error(), s) || !strings.Contains(ev.Error, s) {
			t.Errorf("no member answers: error %v does not say %q", err, s)
		}
	}
	if ev.Through != "" || members() != "n2:27017,n3:27017" {
		t.Errorf("a refused step ran through %q or changed the members (%q)", ev.Through, members())
	}

	// Majority loss: n2 and n3 gone for good, n1 back; force keeps n1.
	if err := SetHostDown(dir, rsHost("n1"), false); err != nil {
		t.Fatal(err)
	}
	if err := (&world{dir: dir}).writeMembers("rs0", want); err != nil {
		t.Fatal(err)
	}
	if ev, err := rsStep(t, p, StepModeForce, []string{"n1"}, want[:1]); err != nil || ev.Through != "n1" || ev.Mode != StepModeForce || members() != "n1:27017" {
		t.Errorf("force with only n1: through %q err %v members %q", ev.Through, err, members())
	}
	// A running mongod that is not a member is skipped as EMPTY.
	if err := (&world{dir: dir}).writeMembers("rs0", []string{"n2:27017"}); err != nil {
		t.Fatal(err)
	}
	if err := p.world.startContainer(rsHost("n3"), "rs-mongo-n3", nil); err != nil {
		t.Fatal(err)
	}
	if err := RemoveContainer(dir, rsHost("n2"), "rs-mongo-n2"); err != nil {
		t.Fatal(err)
	}
	if err := p.world.startContainer(rsHost("n2"), "rs-mongo-n2", nil); err != nil {
		t.Fatal(err)
	}
	if ev, err := rsStep(t, p, StepModeFull, all, want); err != nil || ev.Through != "n2" {
		t.Errorf("n1 running but not a member: through %q err %v, want n2", ev.Through, err)
	}
}

// hostsStep runs the command fake's hosts step for container name on
// host with RCHA_HOSTS hosts (its create text, or its update text when
// update is set) and returns its last event and error.
func hostsStep(t *testing.T, p *commandProvider, host, name, hosts string, update bool) (Event, error) {
	t.Helper()
	in := resource.PropertyMap{
		"create": resource.NewProperty("script"), "update": resource.NewProperty("script"),
		"environment": resource.NewProperty(resource.PropertyMap{
			"DOCKER_HOST": resource.NewProperty(host), "RCHA_CONTAINER": resource.NewProperty(name),
			"RCHA_HOSTS": resource.NewProperty(hosts),
		}),
	}
	u := urn(LocalCommandType, name+"-hosts")
	before, _ := ReadTrace(p.trace.path)
	var err error
	if update {
		_, err = p.Update(context.Background(), plugin.UpdateRequest{URN: u, Type: LocalCommandType, ID: "hosts-id",
			OldInputs: in, OldOutputs: in, NewInputs: in})
	} else {
		_, err = p.Create(context.Background(), plugin.CreateRequest{URN: u, Type: LocalCommandType, Properties: in})
	}
	after, rerr := ReadTrace(p.trace.path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	if len(after) == len(before) {
		t.Fatalf("the hosts step of %s recorded nothing", name)
	}
	return after[len(after)-1], err
}

// TestHostsStepRewritesRunningContainer pins the command fake's model of
// components/mongo-hosts.sh and mongo-apply-hosts.sh: the hosts step
// rewrites the running container's /etc/hosts entries (the lines for the
// names it carries are dropped, its lines appended, other lines kept)
// without restarting it and without changing what `docker inspect` and
// so the provider's Read report; docker exec of a stopped or absent
// container fails with the daemon's error and exit status 1; a host that
// does not answer fails as for every DOCKER_HOST step.
func TestHostsStepRewritesRunningContainer(t *testing.T) {
	d, _ := fakeDocker(t)
	dir := d.world.dir
	t.Setenv("RCHA_LAB_TRACE", dir+"/trace.jsonl")
	c := newCommand()
	const name = "rs-mongo-n1"
	in := props(map[string]any{"name": name, "image": "mongo:7.0.16", "networkMode": "bridge",
		"hosts": []any{
			map[string]any{"host": "n1", "ip": "10.0.0.1"}, map[string]any{"host": "n2", "ip": "10.0.0.2"},
			map[string]any{"host": "n3", "ip": "10.0.0.9"}, map[string]any{"host": "n5", "ip": "fd00::5"},
		}})
	r := mustCreate(t, d, in)
	etc := func() string {
		lines, ok := EtcHosts(dir, labHost, name)
		if !ok {
			t.Fatalf("no container %s", name)
		}
		return strings.Join(lines, "|")
	}
	// dockerd writes the extra hosts, IPv6 addresses whole.
	if got, want := etc(), "10.0.0.1 n1|10.0.0.2 n2|10.0.0.9 n3|fd00::5 n5"; got != want {
		t.Errorf("/etc/hosts of a new container: %q, want %q", got, want)
	}

	// n2 retired, n3 at a new address, n4 new: n2's line stays (no
	// entry names it), n1's and n3's are replaced, n4's appended.
	ev, err := hostsStep(t, c, labHost, name, "10.0.0.1 n1\n10.0.0.3 n3\n10.0.0.4 n4\n", false)
	if err != nil || ev.Op != OpRun || ev.Error != "" {
		t.Fatalf("hosts step on a running container: %v (%+v)", err, ev)
	}
	if ev.Name != name || ev.Host != labHost || strings.Join(ev.HostsEntries, "|") != "10.0.0.1 n1|10.0.0.3 n3|10.0.0.4 n4" {
		t.Errorf("run event names %q on %q with entries %v", ev.Name, ev.Host, ev.HostsEntries)
	}
	if got, want := etc(), "10.0.0.2 n2|fd00::5 n5|10.0.0.1 n1|10.0.0.3 n3|10.0.0.4 n4"; got != want {
		t.Errorf("/etc/hosts after the hosts step: %q, want %q", got, want)
	}
	if cs := Containers(dir, labHost); len(cs) != 1 || cs[0].ID != string(r.ID) || !cs[0].Running {
		t.Errorf("the hosts step restarted or replaced the container: %+v (created %s)", cs, r.ID)
	}
	// docker inspect still shows the creation-time extra hosts, so the
	// provider's Read reads back what it stored at create.
	rr := read(t, d, r.ID, in, r.Properties)
	if got, want := strings.Join(hostsForDiff(rr.Outputs["hosts"]), "|"), strings.Join(hostsForDiff(r.Properties["hosts"]), "|"); got != want {
		t.Errorf("read back hosts after the hosts step: %q, want the creation-time %q", got, want)
	}
	// The update text does the same; running it again changes nothing.
	if _, err := hostsStep(t, c, labHost, name, "10.0.0.1 n1\n10.0.0.3 n3\n10.0.0.4 n4\n", true); err != nil {
		t.Errorf("hosts step update: %v", err)
	}
	if got, want := etc(), "10.0.0.2 n2|fd00::5 n5|10.0.0.1 n1|10.0.0.3 n3|10.0.0.4 n4"; got != want {
		t.Errorf("/etc/hosts after the same hosts step again: %q, want %q", got, want)
	}

	// docker exec of a stopped container.
	if err := KillContainer(dir, labHost, name); err != nil {
		t.Fatal(err)
	}
	ev, err = hostsStep(t, c, labHost, name, "10.0.0.7 n1\n", true)
	want := "Error response from daemon: Container " + string(r.ID) + " is not running"
	for _, s := range []string{"exit status 1", want} {
		if err == nil || !strings.Contains(err.Error(), s) || !strings.Contains(ev.Error, s) {
			t.Errorf("hosts step on a stopped container: %v, want %q", err, s)
		}
	}
	if got := etc(); strings.Contains(got, "10.0.0.7") {
		t.Errorf("a failed hosts step changed /etc/hosts: %q", got)
	}
	// docker exec of an absent container.
	if err := RemoveContainer(dir, labHost, name); err != nil {
		t.Fatal(err)
	}
	_, err = hostsStep(t, c, labHost, name, "10.0.0.7 n1\n", false)
	if want := "Error response from daemon: No such container: " + name; err == nil || !strings.Contains(err.Error(), want) ||
		!strings.Contains(err.Error(), "exit status 1") {
		t.Errorf("hosts step on an absent container: %v, want %q", err, want)
	}
	// A host that does not answer: the docker CLI cannot connect, and
	// nothing runs.
	if err := SetHostDown(dir, labHost, true); err != nil {
		t.Fatal(err)
	}
	ev, err = hostsStep(t, c, labHost, name, "10.0.0.7 n1\n", false)
	if want := "Cannot connect to the Docker daemon at " + labHost; err == nil || !strings.Contains(err.Error(), want) || ev.Op == OpRun {
		t.Errorf("hosts step with its host down: %v (last event %s), want %q and no run", err, ev.Op, want)
	}
}
