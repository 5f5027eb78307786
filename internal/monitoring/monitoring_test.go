package monitoring

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

const installPrometheus = "apt-get install prometheus (Debian's package ships prometheus and promtool)"

// testConfig is a cluster of n nodes on 10.0.0.x with a load balancer on
// each of the first three and the stack's Alertmanager and Prometheus.
func testConfig(n int) Config {
	c := Config{Cluster: "chat", ReplicaSet: "rs0", Alertmanager: "10.0.0.1:9093", Self: "10.0.0.1:9090", VirtualIP: n > 1}
	for i := 1; i <= n; i++ {
		name, addr := fmt.Sprintf("rocket-%d", i), fmt.Sprintf("10.0.0.%d", i)
		c.Nodes = append(c.Nodes, Node{Name: name, Address: addr, MongoExporterPort: 9216, RocketChatPort: 9458})
		if i <= 3 {
			c.LoadBalancers = append(c.LoadBalancers, LoadBalancer{Name: "chat-lb-" + name, Node: name, Address: addr, StatusPort: 8090, ExporterPort: 9113})
		}
	}
	return c
}

// writeConfig renders c's prometheus.yml and rules into a new directory.
func writeConfig(t *testing.T, c Config) string {
	t.Helper()
	dir := t.TempDir()
	prom, err := RenderPrometheus(c)
	if err != nil {
		t.Fatal(err)
	}
	rules, err := RenderRules(c)
	if err != nil {
		t.Fatal(err)
	}
	for name, text := range map[string]string{"prometheus.yml": prom, RulesFile: rules} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func promtool(t *testing.T, args ...string) string {
	t.Helper()
	bin := testenv.LookPath(t, "promtool", installPrometheus)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtoolCheckConfig(t *testing.T) {
	for _, n := range []int{1, 3, 8} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			c := testConfig(n)
			dir := writeConfig(t, c)
			out := promtool(t, "check", "config", filepath.Join(dir, "prometheus.yml"))
			if !strings.Contains(out, "SUCCESS") {
				t.Fatalf("promtool check config: %s", out)
			}
			// Every exporter of every node is a target.
			var doc struct {
				ScrapeConfigs []struct {
					JobName       string `yaml:"job_name"`
					StaticConfigs []struct {
						Targets []string          `yaml:"targets"`
						Labels  map[string]string `yaml:"labels"`
					} `yaml:"static_configs"`
				} `yaml:"scrape_configs"`
			}
			text, _ := os.ReadFile(filepath.Join(dir, "prometheus.yml"))
			if err := yaml.Unmarshal(text, &doc); err != nil {
				t.Fatal(err)
			}
			count := map[string]int{}
			for _, sc := range doc.ScrapeConfigs {
				count[sc.JobName] += len(sc.StaticConfigs)
			}
			lbs := min(n, 3)
			want := map[string]int{JobMongoDB: n, JobRocketChat: n, JobNginx: lbs, JobUpstream: lbs * n, JobPrometheus: 1, JobAlertmanager: 1}
			if n > 1 {
				want[JobVRRP] = lbs
			}
			for job, w := range want {
				if count[job] != w {
					t.Errorf("job %s: %d targets, want %d", job, count[job], w)
				}
			}
			if len(count) != len(want) {
				t.Errorf("jobs %v, want %v", count, want)
			}
		})
	}
}

// testBackup is the backup job of the test configs: on the third node,
// the default schedule (daily, so 36h).
var testBackup = Backup{Node: "rocket-3", Address: "10.0.0.3:9639", MaxAge: 36 * time.Hour}

func TestPromtoolCheckRules(t *testing.T) {
	c := testConfig(3)
	c.ExtraJobs = []ScrapeJob{testBackup.Job()}
	c.ExtraGroups = []RuleGroup{testBackup.Rules(c.Timing)}
	dir := writeConfig(t, c)
	out := promtool(t, "check", "rules", filepath.Join(dir, RulesFile))
	if !strings.Contains(out, "SUCCESS: 15 rules found") {
		t.Fatalf("promtool check rules: %s", out)
	}
	promtool(t, "check", "config", filepath.Join(dir, "prometheus.yml"))
	// Every rule has a summary and a runbook line.
	for _, r := range append(c.Rules().Rules, c.ExtraGroups[0].Rules...) {
		if r.Annotations["summary"] == "" || !strings.Contains(r.Annotations["runbook"], RunbookDoc) {
			t.Errorf("%s: summary %q, runbook %q", r.Alert, r.Annotations["summary"], r.Annotations["runbook"])
		}
	}
}

// TestPromtoolTestRules runs testdata/rules-test.yml: for every alert, input
// series that make it fire and series that must not.
func TestPromtoolTestRules(t *testing.T) {
	c := testConfig(3)
	c.LoadBalancers = c.LoadBalancers[:2]
	c.Timing = Timing{ScrapeInterval: time.Minute, EvaluationInterval: time.Minute, For: time.Minute, ForSlow: 5 * time.Minute}
	groups := []RuleGroup{c.Rules(), testBackup.Rules(c.Timing)}
	tested, _ := os.ReadFile("testdata/rules-test.yml")
	for _, g := range groups {
		for i := range g.Rules {
			g.Rules[i].Annotations = nil
			if !strings.Contains(string(tested), "alertname: "+g.Rules[i].Alert+"\n") {
				t.Errorf("alert %s has no case in testdata/rules-test.yml", g.Rules[i].Alert)
			}
		}
	}
	rules, err := yaml.Marshal(map[string]any{"groups": groups})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, RulesFile), rules, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "rules-test.yml"), tested, 0o644); err != nil {
		t.Fatal(err)
	}
	out := promtool(t, "test", "rules", filepath.Join(dir, "rules-test.yml"))
	if !strings.Contains(out, "SUCCESS") {
		t.Fatalf("promtool test rules: %s", out)
	}
}

func TestRenderDefaultsAndValidation(t *testing.T) {
	c := testConfig(3)
	prom, err := RenderPrometheus(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"scrape_interval: 15s", "evaluation_interval: 15s", `cluster: "chat"`, `targets: ["10.0.0.1:9093"]`} {
		if !strings.Contains(prom, want) {
			t.Errorf("prometheus.yml lacks %q", want)
		}
	}
	for _, r := range c.Rules().Rules {
		if r.For != "2m" && r.For != "10m" {
			t.Errorf("%s: for %q, want the default 2m or 10m", r.Alert, r.For)
		}
	}
	bad := testConfig(1)
	bad.Nodes[0].MongoExporterPort = 0
	bad.Timing.For = 1500 * time.Millisecond
	bad.ExtraJobs = []ScrapeJob{{Name: JobMongoDB}}
	bad.ExtraGroups = []RuleGroup{{Name: "x", Rules: []Rule{{Alert: "A", Expr: "up"}}}}
	err = bad.Validate()
	for _, want := range []string{"Nodes[0].MongoExporterPort", "Timing.For", "ExtraJobs[0].Name", "summary and a runbook"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Validate: %v, want an error naming %s", err, want)
		}
	}
}

func TestCheckAlertmanager(t *testing.T) {
	good := "route:\n  receiver: team\n  routes:\n    - receiver: pager\nreceivers:\n  - name: team\n  - name: pager\n"
	if err := CheckAlertmanager(good); err != nil {
		t.Errorf("good config refused: %v", err)
	}
	if err := CheckAlertmanager(DefaultAlertmanager); err != nil {
		t.Errorf("default refused: %v", err)
	}
	for text, want := range map[string]string{
		"route: [":                  "not YAML",
		"receivers:\n  - name: a\n": "route: is required",
		"route:\n  receiver: a\n":   "at least one receiver",
		"route:\n  receiver: b\nreceivers:\n  - name: a\n": `"b" is not among receivers`,
		"rout:\n  receiver: a\nreceivers:\n  - name: a\n":  `unknown top-level key "rout"`,
	} {
		if err := CheckAlertmanager(text); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", text, err, want)
		}
	}
	if got, _ := RenderAlertmanager(""); got != DefaultAlertmanager {
		t.Errorf("empty config renders %q", got)
	}
}

// fixtureNames returns the metric names in the stand-in fixtures.
func fixtureNames(t *testing.T) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob("testdata/fixtures/*.prom")
	names := map[string]bool{}
	sample := regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)[{ ]`)
	for _, f := range files {
		text, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(text), "\n") {
			if m := sample.FindStringSubmatch(line); m != nil {
				names[m[1]] = true
			}
		}
	}
	if len(names) < 20 {
		t.Fatalf("only %d metric names in the fixtures", len(names))
	}
	return names
}

// promqlNames parses exprs with Prometheus' PromQL parser (the promqlcheck
// module, run with `go run`) and returns the metric names of each.
func promqlNames(t *testing.T, exprs []string) [][]string {
	t.Helper()
	goBin := testenv.LookPath(t, "go", "the Go toolchain")
	in, _ := json.Marshal(exprs)
	cmd := exec.Command(goBin, "run", ".")
	cmd.Dir = "promqlcheck"
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		testenv.Missing(t, fmt.Sprintf("cannot build the PromQL parser (promqlcheck needs github.com/prometheus/prometheus from the module proxy): %v\n%s", err, stderr.String()))
	}
	var res []struct {
		Names []string
		Error string
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(exprs) {
		t.Fatalf("promqlcheck output %q: %v", out, err)
	}
	names := make([][]string, len(exprs))
	for i, r := range res {
		if r.Error != "" {
			t.Errorf("%q does not parse: %s", exprs[i], r.Error)
		}
		names[i] = r.Names
	}
	return names
}

// TestDashboards: every dashboard is valid JSON, every panel's query parses
// with Prometheus' parser, and every metric it uses is in the fixtures.
func TestDashboards(t *testing.T) {
	files, err := RenderDashboards()
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 4 {
		t.Fatalf("%d dashboards, want cluster, replica set, Rocket.Chat and load balancers", len(files))
	}
	var exprs, where []string
	for _, name := range DashboardFiles(files) {
		var d struct {
			UID    string `json:"uid"`
			Panels []struct {
				Title   string `json:"title"`
				Targets []struct {
					Expr       string            `json:"expr"`
					Datasource map[string]string `json:"datasource"`
				} `json:"targets"`
			} `json:"panels"`
		}
		if err := json.Unmarshal([]byte(files[name]), &d); err != nil {
			t.Fatalf("%s is not valid JSON: %v", name, err)
		}
		if d.UID+".json" != name || len(d.Panels) == 0 {
			t.Errorf("%s: uid %q, %d panels", name, d.UID, len(d.Panels))
		}
		for _, p := range d.Panels {
			if len(p.Targets) == 0 {
				t.Errorf("%s: panel %q has no query", name, p.Title)
			}
			for _, tg := range p.Targets {
				if tg.Datasource["uid"] != DatasourceUID {
					t.Errorf("%s: panel %q: datasource %v", name, p.Title, tg.Datasource)
				}
				exprs = append(exprs, tg.Expr)
				where = append(where, name+": "+p.Title)
			}
		}
	}
	known := fixtureNames(t)
	known["up"], known["ALERTS"] = true, true // Prometheus' own series
	for i, names := range promqlNames(t, exprs) {
		for _, n := range names {
			if !known[n] {
				t.Errorf("%s: %q uses %s, which no stand-in fixture has", where[i], exprs[i], n)
			}
		}
	}
	// The rules use only fixture metrics too.
	var ruleExprs []string
	for _, r := range append(testConfig(3).Rules().Rules, testBackup.Rules(Timing{}).Rules...) {
		ruleExprs = append(ruleExprs, r.Expr)
	}
	known["prometheus_config_last_reload_successful"] = true // Prometheus' own
	for i, names := range promqlNames(t, ruleExprs) {
		for _, n := range names {
			if !known[n] {
				t.Errorf("rule %q uses %s, which no stand-in fixture has", ruleExprs[i], n)
			}
		}
	}
}

// standIn serves a fixture file on 127.0.0.1; stop closes it.
type standIn struct {
	srv  *httptest.Server
	port int
}

func newStandIn(t *testing.T, fixture string) *standIn {
	t.Helper()
	body, err := os.ReadFile(filepath.Join("testdata/fixtures", fixture))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4")
		w.Write(body)
	}))
	t.Cleanup(srv.Close)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	p, _ := strconv.Atoi(port)
	return &standIn{srv: srv, port: p}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRealPrometheus starts Debian's Prometheus on loopback with the
// rendered config pointed at stand-in exporters serving the fixtures,
// waits for every target to be up, stops one Rocket.Chat stand-in and waits
// for RocketChatServerDown to fire through the HTTP API.
func TestRealPrometheus(t *testing.T) {
	bin := testenv.LookPath(t, "prometheus", installPrometheus)
	c := Config{Cluster: "chat", ReplicaSet: "rs0", VirtualIP: true,
		Timing:     Timing{ScrapeInterval: time.Second, EvaluationInterval: time.Second, For: time.Second, ForSlow: time.Second},
		Thresholds: Thresholds{OplogWindow: time.Hour}}
	var rockets []*standIn
	for i := 1; i <= 3; i++ {
		mongo := "mongodb_exporter-secondary.prom"
		if i == 1 {
			mongo = "mongodb_exporter-primary.prom"
		}
		m, r := newStandIn(t, mongo), newStandIn(t, "rocketchat.prom")
		rockets = append(rockets, r)
		c.Nodes = append(c.Nodes, Node{Name: fmt.Sprintf("rocket-%d", i), Address: "127.0.0.1", MongoExporterPort: m.port, RocketChatPort: r.port})
	}
	// Each load balancer's status server: stub_status is read by the
	// exporter; /rcha/upstream/<server> and /rcha/vrrp by Prometheus.
	for i := 1; i <= 2; i++ {
		probe, _ := os.ReadFile("testdata/fixtures/upstream_probe.prom")
		vrrp, _ := os.ReadFile(fmt.Sprintf("testdata/fixtures/vrrp-%s.prom", map[bool]string{true: "master", false: "backup"}[i == 1]))
		status := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			switch {
			case strings.HasPrefix(r.URL.Path, UpstreamPathPrefix):
				w.Write(probe)
			case r.URL.Path == VRRPPath:
				w.Write(vrrp)
			default:
				http.NotFound(w, r)
			}
		}))
		t.Cleanup(status.Close)
		_, sp, _ := net.SplitHostPort(status.Listener.Addr().String())
		statusPort, _ := strconv.Atoi(sp)
		exp := newStandIn(t, "nginx_exporter.prom")
		c.LoadBalancers = append(c.LoadBalancers, LoadBalancer{Name: fmt.Sprintf("chat-lb-rocket-%d", i), Node: fmt.Sprintf("rocket-%d", i),
			Address: "127.0.0.1", StatusPort: statusPort, ExporterPort: exp.port})
	}
	port := freePort(t)
	c.Self = fmt.Sprintf("127.0.0.1:%d", port)
	dir := writeConfig(t, c)
	base := "http://" + c.Self
	cmd := exec.Command(bin, "--config.file="+filepath.Join(dir, "prometheus.yml"), "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+c.Self, "--web.enable-lifecycle")
	var log testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})

	wantTargets := 3 + 3 + 2 + 2*3 + 2 + 1 // mongodb, rocketchat, nginx, upstream probes, vrrp, prometheus
	waitFor(t, 60*time.Second, "every target up", func() (bool, string) {
		var tg struct {
			ActiveTargets []struct {
				Health    string            `json:"health"`
				Labels    map[string]string `json:"labels"`
				LastError string            `json:"lastError"`
			} `json:"activeTargets"`
		}
		if err := testenv.PrometheusAPI(base, "/api/v1/targets", &tg); err != nil {
			return false, err.Error()
		}
		up := 0
		var down []string
		for _, a := range tg.ActiveTargets {
			if a.Health == "up" {
				up++
			} else {
				down = append(down, a.Labels["job"]+"/"+a.Labels["instance"]+": "+a.Health+" "+a.LastError)
			}
		}
		return len(tg.ActiveTargets) == wantTargets && up == wantTargets, fmt.Sprintf("%d of %d targets up; %v", up, len(tg.ActiveTargets), down)
	})
	// Healthy stand-ins fire nothing (the fixtures' oplog window is 80
	// hours against a 1 hour threshold). Before the first scrape of the VRRP
	// endpoints the holder count is 0, and with For 1s that fires for a
	// moment: wait until the rules have seen the scraped series.
	waitFor(t, 15*time.Second, "no alert on a healthy cluster", func() (bool, string) {
		firing := alerts(t, base)
		return len(firing) == 0, fmt.Sprint(firing)
	})

	rockets[1].srv.Close()
	waitFor(t, 60*time.Second, AlertRocketChatDown+" firing for rocket-2", func() (bool, string) {
		firing := alerts(t, base)
		for _, a := range firing {
			if a == AlertRocketChatDown+"/rocket-2" {
				return true, ""
			}
		}
		return false, fmt.Sprint(firing)
	})
	// The reload the config step uses: POST /-/reload after a new config.
	resp, err := http.PostForm(base+"/-/reload", url.Values{})
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("reload: %v %v", resp, err)
	}
}

// alerts lists the firing alerts as alertname/node.
func alerts(t *testing.T, base string) []string {
	t.Helper()
	var res struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	if err := testenv.PrometheusAPI(base, "/api/v1/alerts", &res); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range res.Alerts {
		if a.State == "firing" {
			out = append(out, a.Labels["alertname"]+"/"+a.Labels["node"])
		}
	}
	return out
}

func waitFor(t *testing.T, limit time.Duration, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(limit)
	last := ""
	for time.Now().Before(deadline) {
		ok, state := cond()
		if ok {
			return
		}
		last = state
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("waited %s for %s; last: %s", limit, what, last)
}
