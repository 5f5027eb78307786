package components_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
)

const (
	tComponent = components.TypeToken
	tProvider  = "pulumi:providers:docker"
	tContainer = "docker:index/container:Container"
	tImage     = "docker:index/remoteImage:RemoteImage"
	tVolume    = "docker:index/volume:Volume"
	tCommand   = "command:local:Command"
	tRandom    = "random:index/randomPassword:RandomPassword"
)

// testNodes returns n nodes on n hosts, rocket-1..n at 10.250.250.(10+i).
func testNodes(n int) []components.Node {
	var out []components.Node
	for i := 1; i <= n; i++ {
		out = append(out, components.Node{Name: fmt.Sprintf("rocket-%d", i), Address: fmt.Sprintf("10.250.250.%d", 10+i)})
	}
	return out
}

// run registers a component built by args under mocks.
func run(t *testing.T, args *components.RocketChatHAArgs) (*mocktest.Recorder, error) {
	t.Helper()
	return mocktest.Run(t, nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewRocketChatHA(ctx, "chat", args)
		return err
	})
}

func mustRun(t *testing.T, args *components.RocketChatHAArgs) *mocktest.Recorder {
	t.Helper()
	rec, err := run(t, args)
	if err != nil {
		t.Fatalf("program failed: %v", err)
	}
	return rec
}

func TestGraphForManyN(t *testing.T) {
	for n := 1; n <= 9; n++ {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(n), RootURL: pulumi.String("https://chat.example.com")})
			lbs := min(n, 3) // a load balancer on each of the first three nodes
			want := map[string]int{
				tComponent: 1, tProvider: n, tVolume: n + 1, tImage: 3*n + 2*lbs + 1,
				tContainer: 3*n + 2*lbs + 1, tCommand: 2 + n + lbs, tRandom: 5, // commands: the replica-set steps, a hosts step per node, a config step per load balancer
				// monitoring (on by default, no stack): a mongodb_exporter per node, an nginx exporter per load balancer, the exporter's password
				// backups (on by default): +1 volume, image, container and password
			}
			got := rec.Counts()
			for typ, c := range want {
				if got[typ] != c {
					t.Errorf("%s: %d resources, want %d", typ, got[typ], c)
				}
			}
			if len(got) != len(want) {
				t.Errorf("unexpected resource types: %v", got)
			}
			conf := mocktest.Unwrap(rec.Named(t, tContainer, lbName(n, 1)).Objects("uploads")[0]["content"]).StringValue()
			// Every load balancer has the same config: the same upstream
			// list and consistent hash, so a client reaches the same
			// Rocket.Chat server through any of them.
			for i := 2; i <= lbs; i++ {
				if other := mocktest.Unwrap(rec.Named(t, tContainer, lbName(n, i)).Objects("uploads")[0]["content"]).StringValue(); other != conf {
					t.Errorf("%s's nginx config differs from %s's", lbName(n, i), lbName(n, 1))
				}
			}
			if got := strings.Count(conf, ":3000 max_fails="); got != n {
				t.Errorf("nginx upstream has %d servers, want %d", got, n)
			}
			for i := 1; i <= n; i++ {
				if !strings.Contains(conf, fmt.Sprintf("server 10.250.250.%d:3000 ", 10+i)) {
					t.Errorf("nginx upstream lacks node %d", i)
				}
			}
			checkParentsAndProviders(t, rec, n)
			checkRollingChains(t, rec, n)
		})
	}
}

// checkParentsAndProviders: every child has the component as parent, and
// every node resource uses its own node's provider.
func checkParentsAndProviders(t *testing.T, rec *mocktest.Recorder, n int) {
	t.Helper()
	comp := rec.ByType(tComponent)[0].URN
	for _, r := range rec.Resources {
		if r.Type == tComponent {
			continue
		}
		if r.Req.GetParent() != comp {
			t.Errorf("%s %s: parent %q, want the component", r.Type, r.Name, r.Req.GetParent())
		}
	}
	for i := 1; i <= n; i++ {
		node := fmt.Sprintf("rocket-%d", i)
		prov := rec.URNOf(t, tProvider, "chat-docker-"+node)
		for _, name := range []string{
			"chat-mongo-" + node, "chat-mongo-" + node + "-data", "chat-mongo-" + node + "-image",
			"chat-rocketchat-" + node, "chat-rocketchat-" + node + "-image",
		} {
			r := findAny(t, rec, name)
			if !strings.HasPrefix(r.Req.GetProvider(), prov+"::") {
				t.Errorf("%s: provider %q, want %s's", name, r.Req.GetProvider(), node)
			}
		}
		if h := rec.Named(t, tProvider, "chat-docker-"+node).String("host"); h != "ssh://root@"+fmt.Sprintf("10.250.250.%d", 10+i) {
			t.Errorf("%s: docker host %q", node, h)
		}
	}
	for i := 1; i <= min(n, 3); i++ {
		lbProv := rec.URNOf(t, tProvider, fmt.Sprintf("chat-docker-rocket-%d", i))
		if p := rec.Named(t, tContainer, lbName(n, i)).Req.GetProvider(); !strings.HasPrefix(p, lbProv+"::") {
			t.Errorf("load balancer %d provider %q, want node %d's", i, p, i)
		}
	}
}

// lbName is the name of the i-th (1-based) load balancer of a cluster
// named chat with n nodes and the default placement: chat-lb alone, or
// chat-lb-<node> on each of the first three nodes.
func lbName(n, i int) string {
	if n == 1 {
		return "chat-lb"
	}
	return fmt.Sprintf("chat-lb-rocket-%d", i)
}

func findAny(t *testing.T, rec *mocktest.Recorder, name string) mocktest.Resource {
	t.Helper()
	for _, r := range rec.Resources {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("no resource named %s", name)
	return mocktest.Resource{}
}

// checkRollingChains: mongod i depends on mongod i-1; the replica-set step
// on every mongod; Rocket.Chat 0 on the step and Rocket.Chat i on i-1; the
// load balancer on every Rocket.Chat. Fixed-name containers are
// delete-before-replace and roll on health changes.
func checkRollingChains(t *testing.T, rec *mocktest.Recorder, n int) {
	t.Helper()
	cmd := rec.Named(t, tCommand, "chat-replicaset")
	var rockets []string
	for i := 1; i <= n; i++ {
		node := fmt.Sprintf("rocket-%d", i)
		m := rec.Named(t, tContainer, "chat-mongo-"+node)
		r := rec.Named(t, tContainer, "chat-rocketchat-"+node)
		rockets = append(rockets, r.URN)
		if !slices.Contains(cmd.Req.GetDependencies(), m.URN) {
			t.Errorf("replica-set step does not depend on %s", m.Name)
		}
		if i > 1 {
			prevM := rec.URNOf(t, tContainer, fmt.Sprintf("chat-mongo-rocket-%d", i-1))
			if !slices.Contains(m.Req.GetDependencies(), prevM) {
				t.Errorf("%s does not depend on the previous mongod", m.Name)
			}
			prevR := rec.URNOf(t, tContainer, fmt.Sprintf("chat-rocketchat-rocket-%d", i-1))
			if !slices.Contains(r.Req.GetDependencies(), prevR) {
				t.Errorf("%s does not depend on the previous Rocket.Chat", r.Name)
			}
			if slices.Contains(r.Req.GetDependencies(), cmd.URN) {
				t.Errorf("%s depends on the replica-set step directly; it must wait for the previous node", r.Name)
			}
		} else {
			for _, d := range m.Req.GetDependencies() {
				if strings.Contains(d, tContainer) {
					t.Errorf("first mongod depends on container %s", d)
				}
			}
			prune := rec.Named(t, tCommand, "chat-replicaset-prune")
			if !slices.Contains(m.Req.GetDependencies(), prune.URN) {
				t.Error("first mongod does not depend on the replica-set prune step")
			}
			for _, d := range prune.Req.GetDependencies() {
				if strings.Contains(d, tContainer) {
					t.Errorf("the prune step depends on container %s; it must run before any mongod changes", d)
				}
			}
			if !slices.Contains(r.Req.GetDependencies(), cmd.URN) {
				t.Errorf("first Rocket.Chat does not depend on the replica-set step")
			}
		}
		for _, c := range []mocktest.Resource{m, r} {
			if !c.Req.GetDeleteBeforeReplace() {
				t.Errorf("%s is not delete-before-replace", c.Name)
			}
			for _, f := range []string{"healthcheck", "wait", "mustRun"} {
				if !slices.Contains(c.Req.GetReplaceOnChanges(), f) {
					t.Errorf("%s: replaceOnChanges lacks %s", c.Name, f)
				}
			}
			if w := mocktest.Unwrap(c.Inputs["wait"]); !w.IsBool() || !w.BoolValue() {
				t.Errorf("%s does not wait for health", c.Name)
			}
		}
	}
	// The load balancers: each after every Rocket.Chat server and after
	// the previous load balancer's config step, so they roll one at a time.
	for i := 1; i <= min(n, 3); i++ {
		lb := rec.Named(t, tContainer, lbName(n, i))
		for _, u := range rockets {
			if !slices.Contains(lb.Req.GetDependencies(), u) {
				t.Errorf("%s does not depend on %s", lb.Name, u)
			}
		}
		if i > 1 {
			prevStep := rec.URNOf(t, tCommand, lbName(n, i-1)+"-config")
			if !slices.Contains(lb.Req.GetDependencies(), prevStep) {
				t.Errorf("%s does not wait for %s-config", lb.Name, lbName(n, i-1))
			}
		}
		if !lb.Req.GetDeleteBeforeReplace() {
			t.Errorf("%s is not delete-before-replace", lb.Name)
		}
	}
}

func TestVolumesRetainedUnlessOptIn(t *testing.T) {
	for _, del := range []bool{false, true} {
		rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"), DeleteDataOnDestroy: del})
		for _, v := range rec.ByType(tVolume) {
			if v.Req.GetRetainOnDelete() == del {
				t.Errorf("deleteData=%v: %s retainOnDelete=%v", del, v.Name, v.Req.GetRetainOnDelete())
			}
			if !strings.HasSuffix(v.String("name"), "-data") && !strings.HasPrefix(v.String("name"), "chat-backups-") {
				t.Errorf("%s: volume name %q", v.Name, v.String("name"))
			}
		}
		m := rec.Named(t, tContainer, "chat-mongo-rocket-2")
		vols := m.Objects("volumes")
		if len(vols) != 1 || vols[0]["containerPath"].StringValue() != "/data/db" || vols[0]["volumeName"].StringValue() != "chat-mongo-rocket-2-data" {
			t.Errorf("mongod volumes: %v", vols)
		}
	}
}

func TestMongodKeyfileAndExposure(t *testing.T) {
	nodes := testNodes(3)
	nodes[1].Ports = components.Ports{Mongo: 27100}
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: nodes, RootURL: pulumi.String("https://c.example.com")})
	m := rec.Named(t, tContainer, "chat-mongo-rocket-2")
	cmd := strings.Join(m.Strings("command"), " ")
	for _, want := range []string{"--replSet rs0", "--keyFile /tmp/rocketchat-ha-keyfile", "--port 27100", "--bind_ip_all"} {
		if !strings.Contains(cmd, want) {
			t.Errorf("mongod command %q lacks %q", cmd, want)
		}
	}
	entry := strings.Join(m.Strings("entrypoints"), " ")
	if !strings.Contains(entry, "install -o 999 -g 999 -m 0400") {
		t.Errorf("entrypoint does not install the keyfile as 999/0400: %q", entry)
	}
	// The keyfile content itself must be secret (a secret list around a
	// plain content would not survive a state rewrite of the element).
	ups := m.Objects("uploads")
	if len(ups) != 2 || !mocktest.Secret(ups[0]["content"]) {
		t.Errorf("keyfile upload content is not secret: %v", ups)
	}
	ports := m.Objects("ports")
	if len(ports) != 1 || ports[0]["ip"].StringValue() != "10.250.250.12" || ports[0]["external"].NumberValue() != 27100 || ports[0]["internal"].NumberValue() != 27100 {
		t.Errorf("mongod ports: %v", ports)
	}
	for _, c := range rec.ByType(tContainer) {
		for _, p := range c.Objects("ports") {
			if ip := p["ip"].StringValue(); ip == "0.0.0.0" && !strings.HasPrefix(c.Name, "chat-lb") {
				t.Errorf("%s publishes on 0.0.0.0", c.Name)
			}
		}
		if hc := mocktest.Unwrap(c.Inputs["healthcheck"]); !hc.IsObject() || len(mocktest.Unwrap(hc.ObjectValue()["tests"]).ArrayValue()) == 0 {
			t.Errorf("%s has no healthcheck test", c.Name)
		}
		if c.String("restart") != "unless-stopped" || c.String("logDriver") != "json-file" {
			t.Errorf("%s: restart %q, log driver %q", c.Name, c.String("restart"), c.String("logDriver"))
		}
		if len(c.Objects("labels")) != 3 {
			t.Errorf("%s: labels %v", c.Name, c.Objects("labels"))
		}
		if c.String("networkMode") != "bridge" {
			t.Errorf("%s: networkMode %q", c.Name, c.String("networkMode"))
		}
	}
}

func TestSecretsStaySecret(t *testing.T) {
	pw := map[string]string{"root": "R00t-pass!", "rocket": "r0cket:p@ss/w", "oplog": "0plog pass", "lic": "LICENSEDATA", "cert": "-----BEGIN CERT", "key": "-----BEGIN KEY"}
	rec := mustRun(t, &components.RocketChatHAArgs{
		Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
		MongoRootPassword: pulumi.String(pw["root"]), RocketPassword: pulumi.String(pw["rocket"]),
		OplogPassword: pulumi.String(pw["oplog"]), License: pulumi.String(pw["lic"]),
		LoadBalancer: components.LoadBalancer{Certificate: pulumi.String(pw["cert"]), PrivateKey: pulumi.String(pw["key"])},
	})
	if n := len(rec.ByType(tRandom)); n != 3 {
		t.Errorf("%d random passwords with both passwords given, want 3 (the keyfile, monitoring's exporter password, the backup user's)", n)
	}
	keyfile := ""
	for _, r := range rec.ByType(tContainer) {
		if r.Name == "chat-mongo-rocket-1" {
			keyfile = mocktest.Unwrap(r.Objects("uploads")[0]["content"]).StringValue()
		}
	}
	if len(keyfile) != 756 {
		t.Fatalf("keyfile length %d, want 756", len(keyfile))
	}
	for path, v := range rec.PlainStrings() {
		for what, s := range pw {
			if strings.Contains(v, s) {
				t.Errorf("%s password appears in plain input %s", what, path)
			}
		}
		if strings.Contains(v, keyfile[:40]) {
			t.Errorf("keyfile appears in plain input %s", path)
		}
	}
	cmd := rec.Named(t, tCommand, "chat-replicaset")
	env := mocktest.Unwrap(cmd.Inputs["environment"]).ObjectValue()
	for _, k := range []string{"RCHA_DESIRED", "RCHA_ROOT_PASSWORD"} {
		if !mocktest.Secret(env[pulumiKey(k)]) {
			t.Errorf("command environment %s is not secret", k)
		}
	}
	if mocktest.Secret(env["RCHA_DESIRED_HASH"]) {
		t.Error("the desired-state hash should be plain so previews show the step will run")
	}
	if !slices.Contains(cmd.Req.GetAdditionalSecretOutputs(), "stdout") {
		t.Error("command stdout (the applied root password) is not an additional secret output")
	}
	for _, s := range []string{cmd.String("create"), cmd.String("update"), cmd.String("stdin")} {
		for what, p := range pw {
			if strings.Contains(s, p) {
				t.Errorf("%s password in command text", what)
			}
		}
	}
	rc := rec.Named(t, tContainer, "chat-rocketchat-rocket-1")
	// Secrets never sit in a container's environment (docker inspect and
	// the provider's debug logs show it); they reach Rocket.Chat through the
	// uploaded secrets file, whose content is secret.
	for _, s := range rc.Strings("envs") {
		for _, name := range []string{"MONGO_URL=", "MONGO_OPLOG_URL=", "ROCKETCHAT_LICENSE=", "REG_TOKEN="} {
			if strings.HasPrefix(s, name) {
				t.Errorf("%s is in the container environment", strings.TrimSuffix(name, "="))
			}
		}
	}
	found := false
	for _, u := range rc.Objects("uploads") {
		if mocktest.Unwrap(u["file"]).StringValue() != rocketSecretsFile {
			continue
		}
		found = true
		if !mocktest.Secret(u["content"]) {
			t.Error("the uploaded secrets file's content is not secret")
		}
	}
	if !found {
		t.Errorf("no %s upload", rocketSecretsFile)
	}
}

// rocketSecretsFile is where the component uploads Rocket.Chat's secret
// settings; the entrypoint wrapper exports them.
const rocketSecretsFile = "/etc/rocketchat-ha/secrets.env"

func pulumiKey(s string) resourceKey { return resourceKey(s) }

func TestEnvAndHosts(t *testing.T) {
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"), RocketPassword: pulumi.String("a b/c")})
	for i := 1; i <= 3; i++ {
		rc := rec.Named(t, tContainer, fmt.Sprintf("chat-rocketchat-rocket-%d", i))
		env := rc.ProcessEnv(t, rocketSecretsFile)
		for _, want := range []string{
			"PORT=3000", "ROOT_URL=https://c.example.com", fmt.Sprintf("INSTANCE_IP=10.250.250.%d", 10+i),
			"TCP_PORT=3100", "DEPLOY_METHOD=docker", "HTTP_FORWARDED_COUNT=1",
			"MONGO_URL=mongodb://rocket:a%20b%2Fc@rocket-1:27017,rocket-2:27017,rocket-3:27017/rocketchat?authSource=admin&replicaSet=rs0&w=majority",
		} {
			if !slices.Contains(env, want) {
				t.Errorf("node %d env lacks %q: %v", i, want, env)
			}
		}
		for _, e := range env {
			if strings.HasPrefix(e, "MONGO_OPLOG_URL=") {
				t.Errorf("MONGO_OPLOG_URL set without an oplog password")
			}
		}
		hosts := rc.Objects("hosts")
		if len(hosts) != 3 {
			t.Errorf("node %d: %d hosts entries, want 3", i, len(hosts))
		}
		ports := rc.Objects("ports") // 3000, 3100 and, with monitoring, the exporter's 9458
		if len(ports) != 3 || ports[1]["internal"].NumberValue() != 3100 || ports[1]["external"].NumberValue() != 3100 {
			t.Errorf("node %d: instance port not published under the same number: %v", i, ports)
		}
	}
}

func TestFiftyNodesAndVotePolicy(t *testing.T) {
	for _, n := range []int{1, 2, 7, 8, 50} {
		nodes := testNodes(n)
		if n == 50 {
			for i := range nodes {
				nodes[i].Address = fmt.Sprintf("10.250.%d.%d", i/200, 10+i%200)
			}
		}
		rec := mustRun(t, &components.RocketChatHAArgs{Nodes: nodes, RootURL: pulumi.String("https://c.example.com")})
		env := mocktest.Unwrap(rec.Named(t, tCommand, "chat-replicaset").Inputs["environment"]).ObjectValue()
		var d replicaset.DesiredState
		if err := json.Unmarshal([]byte(mocktest.Unwrap(env["RCHA_DESIRED"]).StringValue()), &d); err != nil {
			t.Fatal(err)
		}
		voters := 0
		for i, m := range d.Members {
			if m.Host != fmt.Sprintf("rocket-%d:27017", i+1) {
				t.Errorf("n=%d member %d host %q", n, i, m.Host)
			}
			if m.Votes > 0 {
				voters++
			} else if m.Priority != 0 {
				t.Errorf("n=%d member %d: non-voter with priority %v", n, i, m.Priority)
			}
		}
		if len(d.Members) != n || voters%2 == 0 || voters > 7 {
			t.Errorf("n=%d: %d members, %d voters", n, len(d.Members), voters)
		}
	}
}

func TestTrustedProxiesCountTwoForwarders(t *testing.T) {
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(2), RootURL: pulumi.String("https://c.example.com"),
		LoadBalancer: components.LoadBalancer{TrustedProxies: []string{"192.0.2.0/24"}}})
	if env := rec.Named(t, tContainer, "chat-rocketchat-rocket-2").Strings("envs"); !slices.Contains(env, "HTTP_FORWARDED_COUNT=2") {
		t.Errorf("envs %v lack HTTP_FORWARDED_COUNT=2", env)
	}
	conf := mocktest.Unwrap(rec.Named(t, tContainer, "chat-lb-rocket-1").Objects("uploads")[0]["content"]).StringValue()
	if !strings.Contains(conf, "192.0.2.0/24") {
		t.Error("nginx config does not trust the given proxy")
	}
}

func TestLoadBalancerReloadsInPlace(t *testing.T) {
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://chat.example.com"),
		LoadBalancer: components.LoadBalancer{Node: "rocket-2", Certificate: pulumi.String("CERT-PEM"), PrivateKey: pulumi.String("KEY-PEM")}})
	lb := rec.Named(t, tContainer, "chat-lb")
	if !slices.Contains(lb.Req.GetIgnoreChanges(), "uploads") {
		t.Error("load balancer uploads are not ignored: a node change would replace the container")
	}
	cfg := rec.Named(t, tCommand, "chat-lb-config")
	if !slices.Contains(cfg.Req.GetDependencies(), lb.URN) {
		t.Error("config step does not depend on the load balancer container")
	}
	trig := mocktest.Unwrap(cfg.Inputs["triggers"])
	if !trig.IsArray() || len(trig.ArrayValue()) != 1 {
		t.Errorf("config step triggers %v, want the container id", trig)
	}
	env := mocktest.Unwrap(cfg.Inputs["environment"]).ObjectValue()
	conf := mocktest.Unwrap(env["RCHA_NGINX_CONF"]).StringValue()
	upload := mocktest.Unwrap(lb.Objects("uploads")[0]["content"]).StringValue()
	if conf == "" || conf != upload {
		t.Error("the config step pushes a different config than the container was created with")
	}
	for _, k := range []resourceKey{"RCHA_TLS_CERT", "RCHA_TLS_KEY"} {
		if !mocktest.Secret(env[k]) {
			t.Errorf("%s is not secret", k)
		}
	}
	if h := mocktest.Unwrap(env["DOCKER_HOST"]).StringValue(); h != "ssh://root@10.250.250.12" {
		t.Errorf("config step runs against %q, want the load balancer node's Docker host", h)
	}
	script := cfg.String("create")
	for _, want := range []string{"nginx -t", "nginx -s reload", `docker exec -i -e RCHA_NGINX_CONF -e RCHA_TLS_CERT -e RCHA_TLS_KEY "$RCHA_CONTAINER"`} {
		if !strings.Contains(script, want) {
			t.Errorf("config script lacks %q", want)
		}
	}
	if c := mocktest.Unwrap(env["RCHA_CONTAINER"]).StringValue(); c != "chat-lb" {
		t.Errorf("config step targets container %q, want chat-lb", c)
	}
	ports := lb.Objects("ports") // 80, 443 and monitoring's status server
	if len(ports) != 3 || ports[1]["internal"].NumberValue() != 443 {
		t.Errorf("TLS load balancer ports %v", ports)
	}
}

func TestPruneStepCarriesMembershipOnly(t *testing.T) {
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
		RocketPassword: pulumi.String("rocket-secret"), OplogPassword: pulumi.String("oplog-secret")})
	desired := func(name string) replicaset.DesiredState {
		env := mocktest.Unwrap(rec.Named(t, tCommand, name).Inputs["environment"]).ObjectValue()
		var d replicaset.DesiredState
		if err := json.Unmarshal([]byte(mocktest.Unwrap(env["RCHA_DESIRED"]).StringValue()), &d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	prune, full := desired("chat-replicaset-prune"), desired("chat-replicaset")
	if prune.Mode != replicaset.ReconcileModePrune || full.Mode != replicaset.ReconcileModeFull {
		t.Errorf("modes %q and %q", prune.Mode, full.Mode)
	}
	if len(prune.Users) != 0 || len(full.Users) != 4 {
		t.Errorf("prune step has %d users, full step %d; want 0 and 4 (rocket, oploguser, monitoring's exporter, backup)", len(prune.Users), len(full.Users))
	}
	if fmt.Sprint(prune.Members) != fmt.Sprint(full.Members) {
		t.Errorf("prune members %v, full members %v", prune.Members, full.Members)
	}
	wantNodes := "rocket-1 ssh://root@10.250.250.11 chat-mongo-rocket-1 27017\n" +
		"rocket-2 ssh://root@10.250.250.12 chat-mongo-rocket-2 27017\n" +
		"rocket-3 ssh://root@10.250.250.13 chat-mongo-rocket-3 27017\n"
	providers := map[string]bool{}
	for _, p := range rec.ByType(tProvider) {
		providers[p.URN] = true
	}
	for _, name := range []string{"chat-replicaset-prune", "chat-replicaset"} {
		step := rec.Named(t, tCommand, name)
		script := step.String("create")
		env := mocktest.Unwrap(step.Inputs["environment"]).ObjectValue()
		// Every node is a candidate to run through, in list order; no
		// single host is wired in.
		if got := mocktest.Unwrap(env["RCHA_NODES"]).StringValue(); got != wantNodes {
			t.Errorf("%s: RCHA_NODES\n%s\nwant\n%s", name, got, wantNodes)
		}
		for _, k := range []resourceKey{"DOCKER_HOST", "RCHA_CONTAINER"} {
			if _, ok := env[k]; ok {
				t.Errorf("%s: %s is set: the step must not depend on one node", name, k)
			}
		}
		if !strings.Contains(script, `docker exec -i "$@" -e RCHA_LOCAL="127.0.0.1:$NODE_PORT" "$NODE_CONTAINER" `) {
			t.Errorf("%s does not exec into the chosen node's mongod: %s", name, script)
		}
	}
	// The prune step, which everything else waits for, waits for every
	// node's provider: a host that does not answer fails the update there.
	pruneStep := rec.Named(t, tCommand, "chat-replicaset-prune")
	deps := 0
	for _, d := range pruneStep.Req.GetDependencies() {
		if providers[d] {
			deps++
		}
	}
	if deps != 3 {
		t.Errorf("the prune step depends on %d of the 3 node providers: %v", deps, pruneStep.Req.GetDependencies())
	}
}

func TestDockerHostSchemes(t *testing.T) {
	nodes := testNodes(3)
	tls := &components.DockerTLS{CA: pulumi.String("CA-PEM"), Cert: pulumi.String("CERT-PEM"), Key: pulumi.String("KEY-PEM")}
	nodes[0].DockerHost, nodes[0].DockerTLS = "tcp://10.250.250.11:2376", tls
	nodes[1].DockerHost = "unix:///var/run/docker.sock"
	nodes[2].DockerHost = "ssh://deploy@10.250.250.13:2222"
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: nodes, RootURL: pulumi.String("https://c.example.com")})
	want := map[string]string{
		"chat-docker-rocket-1": "tcp://10.250.250.11:2376",
		"chat-docker-rocket-2": "unix:///var/run/docker.sock",
		"chat-docker-rocket-3": "ssh://deploy@10.250.250.13:2222",
	}
	for name, host := range want {
		p := rec.Named(t, tProvider, name)
		if got := p.String("host"); got != host {
			t.Errorf("%s: host %q, want %q", name, got, host)
		}
	}
	p := rec.Named(t, tProvider, "chat-docker-rocket-1")
	for _, k := range []resourceKey{"caMaterial", "certMaterial", "keyMaterial"} {
		if v, ok := p.Inputs[k]; !ok || !mocktest.Secret(v) {
			t.Errorf("provider %s is missing or not secret", k)
		}
	}
	if _, ok := rec.Named(t, tProvider, "chat-docker-rocket-2").Inputs["keyMaterial"]; ok {
		t.Error("a unix:// provider got TLS material")
	}
	// The command steps reach node 1's tcp:// host with the same material:
	// the load balancer's step as its only host, the replica-set steps as
	// node 0 of their candidates.
	env := mocktest.Unwrap(rec.Named(t, tCommand, "chat-lb-rocket-1-config").Inputs["environment"]).ObjectValue()
	if h := mocktest.Unwrap(env["DOCKER_HOST"]).StringValue(); h != "tcp://10.250.250.11:2376" {
		t.Errorf("chat-lb-rocket-1-config: DOCKER_HOST %q", h)
	}
	for _, k := range []resourceKey{"RCHA_DOCKER_CA", "RCHA_DOCKER_CERT", "RCHA_DOCKER_KEY"} {
		if v, ok := env[k]; !ok || !mocktest.Secret(v) {
			t.Errorf("chat-lb-rocket-1-config: %s is missing or not secret", k)
		}
	}
	for _, name := range []string{"chat-replicaset-prune", "chat-replicaset"} {
		env := mocktest.Unwrap(rec.Named(t, tCommand, name).Inputs["environment"]).ObjectValue()
		for _, k := range []resourceKey{"RCHA_DOCKER_CA_0", "RCHA_DOCKER_CERT_0", "RCHA_DOCKER_KEY_0"} {
			if v, ok := env[k]; !ok || !mocktest.Secret(v) {
				t.Errorf("%s: %s is missing or not secret", name, k)
			}
		}
		for _, k := range []resourceKey{"RCHA_DOCKER_CA_1", "RCHA_DOCKER_CA_2"} {
			if _, ok := env[k]; ok {
				t.Errorf("%s: %s set for a host without TLS", name, k)
			}
		}
	}
	for path, v := range rec.PlainStrings() {
		for _, s := range []string{"CA-PEM", "CERT-PEM", "KEY-PEM"} {
			if strings.Contains(v, s) {
				t.Errorf("TLS material in plain input %s", path)
			}
		}
	}
}
