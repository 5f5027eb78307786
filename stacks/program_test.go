package stacks_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
	"github.com/rocketchat-ha/rocketchat-ha/stacks"
)

const (
	tContainer = "docker:index/container:Container"
	tCommand   = "command:local:Command"
)

// seedConfig is the seed document's setup: rocket-1..3, the seed's
// addresses and root URL, and "password" for rocket and oploguser.
func seedConfig() map[string]string {
	return map[string]string{
		"rocketchat-ha:nodes": `[{"name":"rocket-1","address":"10.250.250.13"},` +
			`{"name":"rocket-2","address":"10.250.250.14"},{"name":"rocket-3","address":"10.250.250.17"}]`,
		"rocketchat-ha:rootUrl":        "https://chat.domain.de",
		"rocketchat-ha:rocketPassword": "password",
		"rocketchat-ha:oplogPassword":  "password",
	}
}

var seedSecrets = []string{"rocketchat-ha:rocketPassword", "rocketchat-ha:oplogPassword"}

func TestSeedConformance(t *testing.T) {
	rec, err := mocktest.Run(t, seedConfig(), seedSecrets, stacks.Program)
	if err != nil {
		t.Fatal(err)
	}
	hosts := "rocket-1:27017,rocket-2:27017,rocket-3:27017"
	addr := map[string]string{"rocket-1": "10.250.250.13", "rocket-2": "10.250.250.14", "rocket-3": "10.250.250.17"}
	for node, ip := range addr {
		rc := rec.Named(t, tContainer, "rocketchat-rocketchat-"+node)
		// What the Rocket.Chat process sees: the container's environment
		// plus the secrets file the entrypoint wrapper exports.
		env := rc.ProcessEnv(t, "/etc/rocketchat-ha/secrets.env")
		for _, want := range []string{
			"PORT=3000",
			"ROOT_URL=https://chat.domain.de",
			"MONGO_URL=mongodb://rocket:password@" + hosts + "/rocketchat?authSource=admin&replicaSet=rs0&w=majority",
			"MONGO_OPLOG_URL=mongodb://oploguser:password@" + hosts + "/local?authSource=admin&replicaSet=rs0",
			"INSTANCE_IP=" + ip,
		} {
			if !slices.Contains(env, want) {
				t.Errorf("%s: env lacks %q\nhave %q", node, want, env)
			}
		}
		published := false
		for _, p := range rc.Objects("ports") {
			if p["internal"].NumberValue() == 3000 && p["external"].NumberValue() == 3000 && p["ip"].StringValue() == ip {
				published = true
			}
		}
		if !published {
			t.Errorf("%s: port 3000 is not published on %s: %v", node, ip, rc.Objects("ports"))
		}
		got := map[string]string{}
		for _, h := range rc.Objects("hosts") {
			got[h["host"].StringValue()] = h["ip"].StringValue()
		}
		if fmt.Sprint(got) != fmt.Sprint(addr) {
			t.Errorf("%s: hosts entries %v, want %v", node, got, addr)
		}
	}

	// The users the replica-set step creates are the seed's, with the
	// seed's roles.
	cmd := rec.Named(t, tCommand, "rocketchat-replicaset")
	env := mocktest.Unwrap(cmd.Inputs["environment"]).ObjectValue()
	var desired replicaset.DesiredState
	if err := json.Unmarshal([]byte(mocktest.Unwrap(env["RCHA_DESIRED"]).StringValue()), &desired); err != nil {
		t.Fatal(err)
	}
	wantUsers := map[string]string{
		"rocket":    "password [clusterMonitor@admin readWrite@rocketchat]",
		"oploguser": "password [clusterMonitor@admin read@local]",
		// monitoring's mongodb_exporter (on by default), beside the seed's
		"exporter": "generated [clusterMonitor@admin read@local]",
	}
	// Besides the seed's users: the backup job's, with only the backup
	// role and a generated password.
	for i, u := range desired.Users {
		if u.User == "backup" {
			if len(u.Roles) != 1 || u.Roles[0] != (replicaset.Role{Role: "backup", DB: "admin"}) || u.DB != "admin" || len(u.Password) != 32 {
				t.Errorf("backup user %+v", u)
			}
			desired.Users = slices.Delete(desired.Users, i, i+1)
			break
		}
	}
	if len(desired.Users) != len(wantUsers) {
		t.Errorf("users %v", desired.Users)
	}
	for _, u := range desired.Users {
		var roles []string
		for _, r := range u.Roles {
			roles = append(roles, r.Role+"@"+r.DB)
		}
		slices.Sort(roles)
		pw := u.Password
		if u.User == "exporter" && len(pw) == 32 {
			pw = "generated"
		}
		if got := fmt.Sprintf("%s %v", pw, roles); got != wantUsers[u.User] || u.DB != "admin" {
			t.Errorf("user %s@%s: %s, want %s", u.User, u.DB, got, wantUsers[u.User])
		}
	}
	if desired.ReplicaSet != "rs0" || len(desired.Members) != 3 || desired.Members[0].Host != "rocket-1:27017" {
		t.Errorf("desired replica set: %+v", desired)
	}
}

func TestDevStackFile(t *testing.T) {
	cfg := readStackFile(t, "../Pulumi.dev.yaml")
	rec, err := mocktest.Run(t, cfg, nil, stacks.Program)
	if err != nil {
		t.Fatal(err)
	}
	// 3 mongod, 3 Rocket.Chat, 1 nginx; monitoring: 3 mongodb_exporter, 1
	// nginx exporter, Prometheus, Alertmanager, Grafana; the backup job.
	if n := len(rec.ByType(tContainer)); n != 15 {
		t.Errorf("%d containers, want 15", n)
	}
	lb := rec.Named(t, tContainer, "rocketchat-lb")
	ports := lb.Objects("ports")
	if len(ports) != 2 || ports[0]["ip"].StringValue() != "127.0.0.1" || ports[0]["external"].NumberValue() != 8080 ||
		ports[1]["ip"].StringValue() != "172.17.0.1" || ports[1]["external"].NumberValue() != 8090 {
		t.Errorf("dev load balancer ports: %v", ports)
	}
	for _, p := range rec.ByType("pulumi:providers:docker") {
		if p.String("host") != "unix:///var/run/docker.sock" {
			t.Errorf("%s: host %q", p.Name, p.String("host"))
		}
	}
}

// The example production stack deploys as its comments say: a load
// balancer with TLS and keepalived on each of the three hosts, over SSH.
func TestProdStackFile(t *testing.T) {
	cfg := readStackFile(t, "../Pulumi.prod.yaml")
	lb := map[string]any{}
	if err := json.Unmarshal([]byte(cfg["rocketchat-ha:loadBalancer"]), &lb); err != nil {
		t.Fatal(err)
	}
	// The secrets its comments tell the operator to set.
	lb["certificate"], lb["privateKey"] = "-----BEGIN CERTIFICATE-----", "-----BEGIN PRIVATE KEY-----"
	b, _ := json.Marshal(lb)
	cfg["rocketchat-ha:loadBalancer"] = string(b)
	rec, err := mocktest.Run(t, cfg, []string{"rocketchat-ha:loadBalancer"}, stacks.Program)
	if err != nil {
		t.Fatal(err)
	}
	for i, ip := range []string{"10.250.250.13", "10.250.250.14", "10.250.250.17"} {
		node := fmt.Sprintf("rocket-%d", i+1)
		if h := rec.Named(t, "pulumi:providers:docker", "rocketchat-docker-"+node).String("host"); h != "ssh://root@"+ip {
			t.Errorf("%s: docker host %q", node, h)
		}
		nginx := rec.Named(t, tContainer, "rocketchat-lb-"+node)
		if ports := nginx.Objects("ports"); len(ports) != 3 || ports[1]["external"].NumberValue() != 443 || ports[2]["ip"].StringValue() != ip {
			t.Errorf("%s: load balancer ports %v, want 80, 443 and the status server on %s", node, ports, ip)
		}
		k := rec.Named(t, tContainer, "rocketchat-lb-"+node+"-keepalived")
		conf := mocktest.Unwrap(k.Objects("uploads")[0]["content"]).StringValue()
		if !strings.Contains(conf, "10.250.250.100/24 dev eth0") || !strings.Contains(conf, "unicast_src_ip "+ip) {
			t.Errorf("%s: keepalived config does not carry the virtual IP and its own address", node)
		}
	}
}

func TestBadInput(t *testing.T) {
	node := func(name, addr string) string { return fmt.Sprintf(`{"name":%q,"address":%q}`, name, addr) }
	many := []string{}
	for i := 0; i < 51; i++ {
		many = append(many, node(fmt.Sprintf("n%d", i), fmt.Sprintf("10.0.0.%d", i+1)))
	}
	cases := []struct {
		name string
		set  map[string]string
		want string
		// plain lists keys set without --secret (the seed marks its
		// passwords secret).
		plain []string
	}{
		{"empty nodes", map[string]string{"nodes": `[]`}, "nodes: at least one node", nil},
		{"missing nodes", map[string]string{"nodes": ""}, "nodes: at least one node", nil},
		{"duplicate names", map[string]string{"nodes": "[" + node("a", "10.0.0.1") + "," + node("a", "10.0.0.2") + "]"}, `nodes[1].name: "a" duplicates nodes[0].name`, nil},
		{"duplicate address and port", map[string]string{"nodes": `[{"name":"a","address":"10.0.0.1","dockerHost":"unix:///var/run/docker.sock"},{"name":"b","address":"10.0.0.1","dockerHost":"unix:///var/run/docker.sock"}]`}, "nodes[1].ports.mongo: port 27017 on 10.0.0.1 is already used by nodes[0].ports.mongo", nil},
		{"name not a DNS label", map[string]string{"nodes": "[" + node("Rocket_1", "10.0.0.1") + "]"}, `nodes[0].name: "Rocket_1" is not a DNS label`, nil},
		{"bad address", map[string]string{"nodes": "[" + node("a", "10.0.0.300") + "]"}, `nodes[0].address: "10.0.0.300" is neither an IP address nor a host name`, nil},
		{"bad address chars", map[string]string{"nodes": "[" + node("a", "host name!") + "]"}, `nodes[0].address:`, nil},
		{"unknown docker scheme", map[string]string{"nodes": `[{"name":"a","address":"10.0.0.1","dockerHost":"http://10.0.0.1"}]`}, `nodes[0].dockerHost: "http://10.0.0.1" has unknown scheme "http"`, nil},
		{"tcp without TLS", map[string]string{"nodes": `[{"name":"a","address":"10.0.0.1","dockerHost":"tcp://10.0.0.1:2376"}]`}, `nodes[0].dockerHost: "tcp://10.0.0.1:2376" needs TLS: set dockerTls`, nil},
		{"negative timeout", map[string]string{"healthTimeoutSeconds": "-5"}, "healthTimeoutSeconds: must be between 1 and 86400 seconds, got -5", nil},
		{"more than 50 nodes", map[string]string{"nodes": "[" + strings.Join(many, ",") + "]"}, "nodes: 51 nodes given", nil},
		{"root url not http", map[string]string{"rootUrl": "ftp://chat.domain.de"}, `rootUrl: "ftp://chat.domain.de" must start with https:// or http://`, nil},
		{"root url missing", map[string]string{"rootUrl": ""}, "rootUrl: is required", nil},
		{"certificate without key", map[string]string{"loadBalancer": `{"certificate":"-----BEGIN CERTIFICATE-----"}`}, "loadBalancer.privateKey: a TLS certificate was given without its private key", nil},
		{"lb node not in nodes", map[string]string{"loadBalancer": `{"node":"rocket-9"}`}, `loadBalancer.node: "rocket-9" is not the name of any entry in nodes`, nil},
		{"unknown node field", map[string]string{"nodes": `[{"name":"a","adress":"10.0.0.1"}]`}, `nodes: unknown field "adress"`, nil},
		{"wrong type", map[string]string{"nodes": `{"name":"a"}`}, "nodes: expected []stacks.NodeConfig", nil},
		{"bad port", map[string]string{"nodes": `[{"name":"a","address":"10.0.0.1","ports":{"mongo":70000}}]`}, "nodes[0].ports.mongo: 70000 is not a TCP port", nil},
		{"incompatible images", map[string]string{"rocketchatImage": "registry.rocket.chat/rocketchat/rocket.chat:7.10.0", "mongoImage": "mongo:8.0.4"}, "rocketchatImage/mongoImage: Rocket.Chat 7.10 runs on MongoDB 5.0, 6.0, 7.0, not on 8.0", nil},
		{"unpinned image", map[string]string{"mongoImage": "mongo:latest"}, `"mongo:latest" is not pinned`, nil},
		{"bad replica set name", map[string]string{"replicaSetName": "rs 0"}, "replicaSetName:", nil},
		{"bad trusted proxy", map[string]string{"loadBalancer": `{"trustedProxies":["10.0.0.0/33"]}`}, `loadBalancer.trustedProxies[0]: "10.0.0.0/33" is neither`, nil},
		{"plain password", map[string]string{"rocketPassword": "plain"}, "rocketPassword: is a secret; set it with `pulumi config set --secret rocketPassword", []string{"rocketchat-ha:rocketPassword"}},
		{"lb port collides", map[string]string{"loadBalancer": `{"httpPort":27017}`}, "loadBalancer.httpPort: the load balancer on rocket-1: port 27017 on 0.0.0.0 is already used by nodes[0].ports.mongo", nil},
		{"vip without interface", map[string]string{"loadBalancer": `{"virtualIp":"10.250.250.100"}`}, "loadBalancer.interface: is required with loadBalancer.virtualIp", nil},
		{"vip outside the nodes' network", map[string]string{"loadBalancer": `{"virtualIp":"192.0.2.10","interface":"eth0"}`}, "loadBalancer.virtualIp: 192.0.2.10/24 is not inside the network of any load-balancer node", nil},
		{"plain vrrp password", map[string]string{"loadBalancer": `{"virtualIp":"10.250.250.100","interface":"eth0","vrrpPassword":"abc12345"}`}, "loadBalancer.vrrpPassword: is a secret", nil},
		{"unknown lb node", map[string]string{"loadBalancer": `{"nodes":["rocket-1","rocket-7"]}`}, `loadBalancer.nodes[1]: "rocket-7" is not the name of any entry in nodes`, nil},
		{"mistyped key", map[string]string{"replicaSetNme": "rs9"}, "replicaSetNme: unknown setting; did you mean replicaSetName?", nil},
		{"unknown key", map[string]string{"colour": "blue"}, "colour: unknown setting (remove it with `pulumi config rm colour`)", nil},
		{"lb on unix socket without address", map[string]string{"loadBalancer": `{"dockerHost":"unix:///var/run/docker.sock"}`}, "loadBalancer.address: is required with a unix:// loadBalancer.dockerHost", nil},
		{"bad docker api version", map[string]string{"dockerApiVersion": "1.40"}, `dockerApiVersion: "1.40" is older than the oldest supported Docker Engine API, 1.41`, nil},
		{"ipv6 node address", map[string]string{"nodes": "[" + node("a", "fd00::1") + "]"}, `nodes[0].address: "fd00::1" is an IPv6 address`, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := seedConfig()
			for k, v := range c.set {
				if v == "" {
					delete(cfg, "rocketchat-ha:"+k)
				} else {
					cfg["rocketchat-ha:"+k] = v
				}
			}
			var secrets []string
			for _, k := range seedSecrets {
				if !slices.Contains(c.plain, k) {
					secrets = append(secrets, k)
				}
			}
			rec, err := mocktest.Run(t, cfg, secrets, stacks.Program)
			if err == nil {
				t.Fatalf("accepted; want an error containing %q", c.want)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q\ndoes not contain %q", err, c.want)
			}
			if len(rec.Resources) != 0 {
				t.Errorf("%d resources registered before the error", len(rec.Resources))
			}
			if strings.Contains(err.Error(), "password") && !strings.Contains(c.want, "password") {
				t.Errorf("error mentions a password value: %v", err)
			}
		})
	}
}

func TestPasswordsWithAnyCharacters(t *testing.T) {
	for _, pw := range []string{"p@ss:w/rd?#[]", "with space", "ünï©ødé", "%41%"} {
		cfg := seedConfig()
		cfg["rocketchat-ha:rocketPassword"] = pw
		rec, err := mocktest.Run(t, cfg, seedSecrets, stacks.Program)
		if err != nil {
			t.Fatalf("password %q rejected: %v", pw, err)
		}
		rc := rec.Named(t, tContainer, "rocketchat-rocketchat-rocket-1")
		for _, e := range rc.ProcessEnv(t, "/etc/rocketchat-ha/secrets.env") {
			if strings.HasPrefix(e, "MONGO_URL=") && strings.Contains(e, pw) && strings.ContainsAny(pw, "@:/?#[]% ") {
				t.Errorf("password %q not escaped in %s", pw, e)
			}
		}
	}
}

// Pulumi applies Pulumi.yaml's defaults to every stack that leaves a key
// unset; the program must then behave exactly as with the keys absent.
func TestProjectDefaultsMatchCode(t *testing.T) {
	defaults := projectDefaults(t)
	for _, k := range []string{"rocketchat-ha:nodes", "rocketchat-ha:rootUrl"} {
		if _, ok := defaults[k]; ok {
			t.Errorf("%s is required and must have no default", k)
		}
	}
	if len(defaults) < 10 {
		t.Fatalf("only %d defaults in Pulumi.yaml: %v", len(defaults), defaults)
	}
	cfg := map[string]string{
		"rocketchat-ha:nodes":   seedConfig()["rocketchat-ha:nodes"],
		"rocketchat-ha:rootUrl": "https://chat.domain.de",
	}
	bare, err := mocktest.Run(t, cfg, nil, stacks.Program)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range defaults {
		cfg[k] = v
	}
	withDefaults, err := mocktest.Run(t, cfg, nil, stacks.Program)
	if err != nil {
		t.Fatalf("with Pulumi.yaml defaults: %v", err)
	}
	if len(bare.Resources) != len(withDefaults.Resources) {
		t.Fatalf("%d resources with defaults, %d without", len(withDefaults.Resources), len(bare.Resources))
	}
	byURN := map[string]mocktest.Resource{}
	for _, r := range withDefaults.Resources {
		byURN[r.URN] = r
	}
	for _, r := range bare.Resources {
		d, ok := byURN[r.URN]
		if !ok {
			t.Errorf("%s is missing with Pulumi.yaml defaults", r.URN)
			continue
		}
		a, b := fmt.Sprint(r.Inputs), fmt.Sprint(d.Inputs)
		if r.Type != "random:index/randomPassword:RandomPassword" && a != b {
			t.Errorf("%s: inputs differ with Pulumi.yaml defaults:\n%s\n%s", r.Name, a, b)
		}
	}
}
