package components_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
	"gopkg.in/yaml.v3"
)

// monitored is three nodes with the stack on rocket-2 and a virtual IP.
func monitored() *components.RocketChatHAArgs {
	return &components.RocketChatHAArgs{
		Nodes: testNodes(3), RootURL: pulumi.String("https://chat.example.com"),
		LoadBalancer: components.LoadBalancer{VirtualIP: "10.250.250.100", Interface: "eth0"},
		Monitoring: components.MonitoringArgs{Node: "rocket-2",
			Alertmanager: "route:\n  receiver: team\nreceivers:\n  - name: team\n    webhook_configs:\n      - url: https://hooks.example.com/s3cr3t-token\n"},
	}
}

// providerOf returns the provider reference of a resource.
func providerOf(r mocktest.Resource) string { return r.Req.GetProvider() }

// ports returns "ip:external->internal" for a container's ports.
func portsOf(c mocktest.Resource) []string {
	var out []string
	for _, p := range c.Objects("ports") {
		out = append(out, mocktest.Unwrap(p["ip"]).StringValue()+":"+
			strings.TrimSuffix(strings.TrimSuffix(p["external"].String(), "}"), "{")+"->"+p["internal"].String())
	}
	return out
}

func TestMonitoringEndpointsAndStackPlacement(t *testing.T) {
	rec := mustRun(t, monitored())
	provider := func(node string) string {
		return rec.URNOf(t, tProvider, "chat-docker-"+node)
	}
	hasPort := func(c mocktest.Resource, ip string, external, internal float64) bool {
		for _, p := range c.Objects("ports") {
			if mocktest.Unwrap(p["ip"]).StringValue() == ip && p["external"].NumberValue() == external && p["internal"].NumberValue() == internal {
				return true
			}
		}
		return false
	}
	for i, n := range testNodes(3) {
		exp := rec.Named(t, tContainer, "chat-exporter-mongo-"+n.Name)
		if !strings.HasPrefix(providerOf(exp), provider(n.Name)) {
			t.Errorf("%s on provider %s, want %s's", exp.Name, providerOf(exp), n.Name)
		}
		if !hasPort(exp, n.Address, 9216, 9216) || len(exp.Objects("ports")) != 1 {
			t.Errorf("%s: ports %v, want 9216 on %s only", exp.Name, portsOf(exp), n.Address)
		}
		if img := rec.Named(t, tImage, exp.Name+"-image").String("name"); img != components.DefaultMongoExporterImage {
			t.Errorf("%s: image %q", exp.Name, img)
		}
		// The exporter waits for the full replica-set step, which creates its user.
		if !slices.Contains(exp.Req.GetDependencies(), rec.URNOf(t, tCommand, "chat-replicaset")) {
			t.Errorf("%s does not depend on the full replica-set step", exp.Name)
		}
		cmd := strings.Join(exp.Strings("command"), " ")
		for _, want := range []string{"--compatible-mode", "--collector.replicasetstatus", "--web.listen-address=:9216"} {
			if !strings.Contains(cmd, want) {
				t.Errorf("%s: command %q lacks %s", exp.Name, cmd, want)
			}
		}
		rc := rec.Named(t, tContainer, "chat-rocketchat-"+n.Name)
		if !hasPort(rc, n.Address, 9458, 9458) {
			t.Errorf("node %d: Rocket.Chat ports %v lack its exporter on %s", i, portsOf(rc), n.Address)
		}
		env := strings.Join(rc.Strings("envs"), "\n")
		for _, want := range []string{"OVERWRITE_SETTING_Prometheus_Enabled=true", "OVERWRITE_SETTING_Prometheus_Port=9458"} {
			if !strings.Contains(env, want) {
				t.Errorf("node %d: Rocket.Chat env lacks %s", i, want)
			}
		}
		ng := rec.Named(t, tContainer, "chat-exporter-nginx-"+n.Name)
		if !strings.HasPrefix(providerOf(ng), provider(n.Name)) || !hasPort(ng, n.Address, 9113, 9113) {
			t.Errorf("%s: provider %s, ports %v", ng.Name, providerOf(ng), portsOf(ng))
		}
		if cmd := strings.Join(ng.Strings("command"), " "); !strings.Contains(cmd, "--nginx.scrape-uri=http://"+n.Address+":8090/stub_status") {
			t.Errorf("%s: command %q", ng.Name, cmd)
		}
		lb := rec.Named(t, tContainer, "chat-lb-"+n.Name)
		if !hasPort(lb, n.Address, 8090, 8090) {
			t.Errorf("%s: ports %v lack the status server on %s", lb.Name, portsOf(lb), n.Address)
		}
		conf, _ := lb.Upload("/etc/nginx/nginx.conf")
		for _, want := range []string{"stub_status;", "location = /rcha/upstream/rocket-3", "proxy_pass http://10.250.250.13:3000/api/info;", "alias /var/run/rcha-vrrp/state.prom;"} {
			if !strings.Contains(conf, want) {
				t.Errorf("%s: nginx.conf lacks %q", lb.Name, want)
			}
		}
		k := rec.Named(t, tContainer, "chat-lb-"+n.Name+"-keepalived")
		kconf := mocktest.Unwrap(k.Objects("uploads")[0]["content"]).StringValue()
		if !strings.Contains(kconf, `notify "/etc/keepalived/rcha-notify.sh"`) {
			t.Errorf("%s: keepalived.conf has no notify script", k.Name)
		}
		for _, c := range []mocktest.Resource{lb, k} {
			vols := c.Objects("volumes")
			if len(vols) != 1 || mocktest.Unwrap(vols[0]["volumeName"]).StringValue() != "chat-lb-"+n.Name+"-vrrp-state" {
				t.Errorf("%s: volumes %v, want the shared VRRP state volume", c.Name, vols)
			}
		}
	}
	stack := map[string]float64{"chat-prometheus": 9090, "chat-alertmanager": 9093, "chat-grafana": 3300}
	internal := map[string]float64{"chat-prometheus": 9090, "chat-alertmanager": 9093, "chat-grafana": 3000}
	for name, port := range stack {
		c := rec.Named(t, tContainer, name)
		if !strings.HasPrefix(providerOf(c), provider("rocket-2")) {
			t.Errorf("%s on provider %s, want rocket-2's", name, providerOf(c))
		}
		if len(c.Objects("ports")) != 1 || !hasPort(c, "10.250.250.12", port, internal[name]) {
			t.Errorf("%s: ports %v, want %v on rocket-2's private address only", name, portsOf(c), port)
		}
		vol := rec.Named(t, tVolume, name+"-data")
		if !vol.Req.GetRetainOnDelete() {
			t.Errorf("%s-data is not retained on delete", name)
		}
		step := rec.Named(t, tCommand, name+"-config")
		env := mocktest.Unwrap(step.Inputs["environment"]).ObjectValue()
		if got := mocktest.Unwrap(env["RCHA_CONTAINER"]).StringValue(); got != name {
			t.Errorf("%s-config targets %q", name, got)
		}
		if !slices.Contains(c.Req.GetIgnoreChanges(), "uploads") {
			t.Errorf("%s: uploads are not ignored (a config change would replace it)", name)
		}
	}
	prom := rec.Named(t, tContainer, "chat-prometheus")
	if args := strings.Join(prom.Strings("command"), " "); !strings.Contains(args, "--storage.tsdb.retention.time=15d") || !strings.Contains(args, "--web.enable-lifecycle") {
		t.Errorf("prometheus command %q", args)
	}
	text, _ := prom.Upload("/etc/rcha-monitoring/prometheus.yml")
	var doc struct {
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			StaticConfigs []struct {
				Targets []string `yaml:"targets"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
		Alerting struct {
			Alertmanagers []struct {
				StaticConfigs []struct {
					Targets []string `yaml:"targets"`
				} `yaml:"static_configs"`
			} `yaml:"alertmanagers"`
		} `yaml:"alerting"`
	}
	if err := yaml.Unmarshal([]byte(text), &doc); err != nil {
		t.Fatalf("prometheus.yml: %v", err)
	}
	targets := map[string][]string{}
	for _, sc := range doc.ScrapeConfigs {
		for _, s := range sc.StaticConfigs {
			targets[sc.JobName] = append(targets[sc.JobName], s.Targets...)
		}
	}
	if want := []string{"10.250.250.11:9216", "10.250.250.12:9216", "10.250.250.13:9216"}; !slices.Equal(targets["mongodb"], want) {
		t.Errorf("mongodb targets %v, want %v", targets["mongodb"], want)
	}
	if len(targets["rocketchat-upstream"]) != 9 || len(targets["vrrp"]) != 3 || len(targets["nginx"]) != 3 || len(targets["rocketchat"]) != 3 {
		t.Errorf("targets %v", targets)
	}
	// The backup job (on by default, on the last node) is scraped, and its
	// rules are loaded with the default schedule's threshold (1.5 x 24h).
	if want := []string{"10.250.250.13:9639"}; !slices.Equal(targets["backup"], want) {
		t.Errorf("backup targets %v, want %v", targets["backup"], want)
	}
	if rules, _ := prom.Upload("/etc/rcha-monitoring/rules.yml"); !strings.Contains(rules, "alert: BackupTooOld") || !strings.Contains(rules, "> 129600") {
		t.Errorf("the rules have no BackupTooOld at 129600s:\n%s", rules)
	}
	if am := doc.Alerting.Alertmanagers; len(am) != 1 || am[0].StaticConfigs[0].Targets[0] != "10.250.250.12:9093" {
		t.Errorf("alerting %+v", doc.Alerting)
	}
	graf := rec.Named(t, tContainer, "chat-grafana")
	ds, _ := graf.Upload("/etc/grafana/provisioning/datasources/rocketchat-ha.yml")
	if !strings.Contains(ds, `url: "http://10.250.250.12:9090"`) {
		t.Errorf("grafana datasource: %s", ds)
	}
	for _, f := range []string{"rcha-cluster", "rcha-replicaset", "rcha-rocketchat", "rcha-loadbalancers"} {
		js, ok := graf.Upload("/etc/rcha-monitoring/dashboards/" + f + ".json")
		if !ok || !json.Valid([]byte(js)) {
			t.Errorf("grafana dashboard %s missing or not JSON", f)
		}
	}
	// The stack is on rocket-2 only; no other node has it.
	for _, r := range rec.ByType(tContainer) {
		if strings.Contains(r.Name, "prometheus") && r.Name != "chat-prometheus" {
			t.Errorf("unexpected %s", r.Name)
		}
	}
}

func TestMonitoringSecrets(t *testing.T) {
	rec := mustRun(t, monitored())
	// The exporter user: exactly clusterMonitor@admin and read@local, with
	// a generated password.
	env := mocktest.Unwrap(rec.Named(t, tCommand, "chat-replicaset").Inputs["environment"]).ObjectValue()
	var d replicaset.DesiredState
	if err := json.Unmarshal([]byte(mocktest.Unwrap(env["RCHA_DESIRED"]).StringValue()), &d); err != nil {
		t.Fatal(err)
	}
	var exporterPW string
	for _, u := range d.Users {
		if u.User == components.ExporterUser {
			exporterPW = u.Password
			var roles []string
			for _, r := range u.Roles {
				roles = append(roles, r.Role+"@"+r.DB)
			}
			slices.Sort(roles)
			if !slices.Equal(roles, []string{"clusterMonitor@admin", "read@local"}) || u.DB != "admin" {
				t.Errorf("exporter user %s@%s roles %v", u.User, u.DB, roles)
			}
		}
	}
	if len(exporterPW) != 32 {
		t.Fatalf("exporter password %q, want 32 generated characters", exporterPW)
	}
	// The exporter's password is in an uploaded secret file that a shell
	// exports before it execs the exporter, not in its environment.
	exp := rec.Named(t, tContainer, "chat-exporter-mongo-rocket-1")
	if env := strings.Join(exp.Strings("envs"), " "); strings.Contains(env, exporterPW) || !strings.Contains(env, "MONGODB_URI=mongodb://10.250.250.11:27017/admin?directConnection=true") {
		t.Errorf("exporter env %q", env)
	}
	var creds mocktest.Resource
	for _, u := range exp.Objects("uploads") {
		if mocktest.Unwrap(u["file"]).StringValue() == "/etc/rocketchat-ha/exporter.env" {
			creds.Inputs = u
		}
	}
	if creds.Inputs == nil || !mocktest.Secret(creds.Inputs["content"]) || creds.String("permissions") != "0400" ||
		creds.String("content") != "MONGODB_USER='exporter'\nMONGODB_PASSWORD='"+exporterPW+"'\n" {
		t.Errorf("exporter credentials upload %v", creds.Inputs)
	}
	if ep := exp.Strings("entrypoints"); len(ep) != 4 || ep[0] != "/bin/sh" || ep[3] != "/etc/rocketchat-ha/exporter.env" {
		t.Errorf("exporter entrypoint %v", ep)
	}
	if cmd := exp.Strings("command"); len(cmd) == 0 || cmd[0] != components.MongoExporterBinary {
		t.Errorf("exporter command %v", cmd)
	}
	graf := rec.Named(t, tContainer, "chat-grafana")
	var grafanaPW string
	for _, u := range graf.Objects("uploads") {
		if mocktest.Unwrap(u["file"]).StringValue() == "/etc/rocketchat-ha/secrets.env" {
			if !mocktest.Secret(u["content"]) || mocktest.Unwrap(u["permissions"]).StringValue() != "0400" {
				t.Errorf("grafana admin password upload is not a secret 0400 file")
			}
			grafanaPW = strings.TrimSuffix(strings.TrimPrefix(mocktest.Unwrap(u["content"]).StringValue(), "GF_SECURITY_ADMIN_PASSWORD='"), "'\n")
		}
	}
	if len(grafanaPW) != 32 {
		t.Errorf("grafana admin password %q", grafanaPW)
	}
	if env := strings.Join(graf.Strings("envs"), " "); strings.Contains(env, grafanaPW) || strings.Contains(env, "GF_SECURITY_ADMIN_PASSWORD") {
		t.Errorf("grafana env %q", env)
	}
	if ep := graf.Strings("entrypoints"); len(ep) != 5 || ep[2] != "grafana" || !slices.Equal(graf.Strings("command"), []string{"/run.sh"}) {
		t.Errorf("grafana entrypoint %v command %v", ep, graf.Strings("command"))
	}
	// The Alertmanager config (receivers' secrets) is a secret 0400 file.
	for _, u := range rec.Named(t, tContainer, "chat-alertmanager").Objects("uploads") {
		if !mocktest.Secret(u["content"]) || mocktest.Unwrap(u["permissions"]).StringValue() != "0400" {
			t.Errorf("alertmanager upload %v is not a secret 0400 file", mocktest.Unwrap(u["file"]))
		}
	}
	// No plain input anywhere holds a password or the Alertmanager's webhook token.
	for path, v := range rec.PlainStrings() {
		for _, s := range []string{exporterPW, grafanaPW, "s3cr3t-token"} {
			if strings.Contains(v, s) {
				t.Errorf("%s holds a secret in plain text", path)
			}
		}
	}
}

func TestMonitoringDisabledAndWithoutStack(t *testing.T) {
	off := false
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
		Monitoring: components.MonitoringArgs{Enabled: &off}})
	for _, r := range rec.Resources {
		if strings.Contains(r.Name, "exporter") || strings.Contains(r.Name, "prometheus") || strings.Contains(r.Name, "grafana") {
			t.Errorf("monitoring off registers %s", r.Name)
		}
	}
	rc := rec.Named(t, tContainer, "chat-rocketchat-rocket-1")
	if strings.Contains(strings.Join(rc.Strings("envs"), " "), "Prometheus") || len(rc.Objects("ports")) != 2 {
		t.Errorf("monitoring off: Rocket.Chat env or ports still have the exporter")
	}
	if conf, _ := rec.Named(t, tContainer, "chat-lb-rocket-1").Upload("/etc/nginx/nginx.conf"); strings.Contains(conf, "stub_status") {
		t.Errorf("monitoring off: nginx has a status server")
	}
	// On, without a node: the endpoints, no stack.
	rec = mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com")})
	if n := len(rec.ByType(tContainer)); n != 3*3+3*2+1 {
		t.Errorf("%d containers, want 16 (mongod, Rocket.Chat, mongodb_exporter per node; nginx and its exporter per load balancer; the backup job)", n)
	}
}

func TestMonitoringValidation(t *testing.T) {
	off := false
	for name, tc := range map[string]struct {
		edit func(a *components.RocketChatHAArgs)
		want string
	}{
		"unknown node":    {func(a *components.RocketChatHAArgs) { a.Monitoring.Node = "rocket-9" }, `Monitoring.Node: "rocket-9" is not the name`},
		"node while off":  {func(a *components.RocketChatHAArgs) { a.Monitoring.Enabled = &off }, "Monitoring.Node: is set while Monitoring.Enabled is false"},
		"retention":       {func(a *components.RocketChatHAArgs) { a.Monitoring.Retention = "15 days" }, "Monitoring.Retention"},
		"alertmanager":    {func(a *components.RocketChatHAArgs) { a.Monitoring.Alertmanager = "route:\n  receiver: x\n" }, "Monitoring.Alertmanager: receivers"},
		"lag":             {func(a *components.RocketChatHAArgs) { a.Monitoring.ReplicationLagSeconds = -1 }, "Monitoring.ReplicationLagSeconds"},
		"oplog":           {func(a *components.RocketChatHAArgs) { a.Monitoring.OplogWindowHours = 10000 }, "Monitoring.OplogWindowHours"},
		"grafana on 3000": {func(a *components.RocketChatHAArgs) { a.Monitoring.Ports.Grafana = 3000 }, "Monitoring.Ports.Grafana: port 3000"},
		"exporter port":   {func(a *components.RocketChatHAArgs) { a.Nodes[1].Ports.MongoExporter = 27017 }, "Nodes[1].Ports.MongoExporter: port 27017"},
		"status on 80":    {func(a *components.RocketChatHAArgs) { a.Monitoring.Ports.NginxStatus = 80 }, "Monitoring.Ports.NginxStatus"},
		"instance on 9458": {func(a *components.RocketChatHAArgs) {
			a.Nodes[2].Ports.Instance, a.Nodes[2].Ports.RocketChatMetrics = 9458, 9459
		}, "Nodes[2].Ports.Instance: 9458 is the port of Rocket.Chat's Prometheus exporter"},
		"metrics too high": {func(a *components.RocketChatHAArgs) { a.Nodes[0].Ports.RocketChatMetrics = 70000 }, "Nodes[0].Ports.RocketChatMetrics: 70000 is not a TCP port"},
	} {
		t.Run(name, func(t *testing.T) {
			a := monitored()
			tc.edit(a)
			rec, err := run(t, a)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
			if rec != nil && len(rec.Resources) != 0 {
				t.Errorf("%d resources registered before the error", len(rec.Resources))
			}
		})
	}
}

// TestMonitoringNodeDown: with the monitoring node down, nothing of the
// stack is registered and its fingerprint is unchanged.
func TestMonitoringNodeDown(t *testing.T) {
	args := func(down ...string) *components.RocketChatHAArgs {
		a := monitored()
		a.MongoRootPassword, a.RocketPassword = pulumi.String("root-1"), pulumi.String("rocket-1")
		a.Unreachable = down
		return a
	}
	rec := mustRun(t, args("rocket-2"))
	for _, r := range rec.Resources {
		if r.Type == tRandom { // generated in state, not on the host
			continue
		}
		for _, s := range []string{"chat-prometheus", "chat-alertmanager", "chat-grafana", "exporter-rocket-2"} {
			if strings.HasPrefix(r.Name, s) {
				t.Errorf("%s registered with rocket-2 down", r.Name)
			}
		}
	}
	if a, b := fingerprints(t, args()), fingerprints(t, args("rocket-2")); a["rocket-2"] != b["rocket-2"] {
		t.Errorf("rocket-2's fingerprint differs when it is down")
	}
}
