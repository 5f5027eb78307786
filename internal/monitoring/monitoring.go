// Package monitoring renders the monitoring configuration of a cluster from
// plain data: the Prometheus scrape config, the alert rules, the
// Alertmanager config, Grafana's provisioning and the dashboards. The
// components package turns its arguments into a Config; the renderers here
// are pure and are tested with the real Prometheus tools (promtool, a
// Prometheus server on loopback).
package monitoring

import (
	"embed"
	"errors"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// Job names of the scrape config. Alert rules and dashboards select by them.
const (
	JobMongoDB    = "mongodb"
	JobRocketChat = "rocketchat"
	JobNginx      = "nginx"
	// JobUpstream probes every Rocket.Chat server through every load
	// balancer's status server (UpstreamPath).
	JobUpstream     = "rocketchat-upstream"
	JobVRRP         = "vrrp"
	JobPrometheus   = "prometheus"
	JobAlertmanager = "alertmanager"
)

// Paths served by a load balancer's status server (internal/nginx Status).
const (
	// StubStatusPath is nginx's stub_status, read by the nginx exporter.
	StubStatusPath = "/stub_status"
	// UpstreamPathPrefix + server name answers 200 with
	// rcha_upstream_reachable 1 when that load balancer gets a 2xx from the
	// server's /api/info, and fails otherwise.
	UpstreamPathPrefix = "/rcha/upstream/"
	// VRRPPath serves this node's keepalived state as rcha_vrrp_master.
	VRRPPath = "/rcha/vrrp"
)

// Defaults of Timing and Thresholds.
const (
	DefaultScrapeInterval     = 15 * time.Second
	DefaultEvaluationInterval = 15 * time.Second
	DefaultFor                = 2 * time.Minute
	DefaultForSlow            = 10 * time.Minute
	DefaultReplicationLag     = 30 * time.Second
	DefaultOplogWindow        = 24 * time.Hour
	// MaxVoters is MongoDB's limit of voting members.
	MaxVoters = 7
)

// Config is everything the renderers need, as plain data.
type Config struct {
	// Cluster labels every series (cluster="..."), so one Prometheus can
	// watch several clusters.
	Cluster string
	// ReplicaSet is the replica-set name.
	ReplicaSet string
	// Nodes are the cluster's nodes, in order.
	Nodes []Node
	// LoadBalancers are the load-balancer sites.
	LoadBalancers []LoadBalancer
	// VirtualIP says keepalived moves a virtual IP between the load
	// balancers: the VRRP endpoints are scraped and the holder alerts on.
	VirtualIP bool
	// Alertmanager is host:port of the Alertmanager Prometheus sends to;
	// empty means none.
	Alertmanager string
	// Self is host:port of this Prometheus (scraped as job prometheus);
	// empty means it is not scraped.
	Self string
	// Timing sets intervals and the `for:` durations of the rules.
	Timing Timing
	// Thresholds are the alert thresholds.
	Thresholds Thresholds
	// ExtraJobs are more scrape jobs (for example a backup-status
	// endpoint), rendered after the built-in ones.
	ExtraJobs []ScrapeJob
	// ExtraGroups are more rule groups, rendered after the built-in one.
	ExtraGroups []RuleGroup
}

// Node is one node's metric endpoints.
type Node struct {
	Name    string
	Address string
	// MongoExporterPort is the port of its mongodb_exporter.
	MongoExporterPort int
	// RocketChatPort is the port of Rocket.Chat's built-in exporter.
	RocketChatPort int
}

// LoadBalancer is one load-balancer site's metric endpoints.
type LoadBalancer struct {
	// Name is the site's name (its container name).
	Name string
	// Node is the node it runs on ("" on a separate Docker host).
	Node    string
	Address string
	// StatusPort is its private status server (stub_status, upstream
	// probes, VRRP state).
	StatusPort int
	// ExporterPort is its nginx-prometheus-exporter.
	ExporterPort int
}

// Timing are the intervals of Prometheus and the `for:` durations.
type Timing struct {
	ScrapeInterval, EvaluationInterval time.Duration
	// For is how long a down or missing condition lasts before it alerts.
	For time.Duration
	// ForSlow is for slow conditions: replication lag, the oplog window.
	ForSlow time.Duration
}

// Thresholds are the alert thresholds.
type Thresholds struct {
	// ReplicationLag alerts when a secondary is further behind the primary.
	ReplicationLag time.Duration
	// OplogWindow alerts when a member's oplog covers less time.
	OplogWindow time.Duration
}

// ScrapeJob is an extra scrape job.
type ScrapeJob struct {
	Name        string
	MetricsPath string // "/metrics" when empty
	Targets     []Target
}

// Target is one scrape target with its extra labels.
type Target struct {
	Address string // host:port
	Labels  map[string]string
}

// RuleGroup is a group of alert rules.
type RuleGroup struct {
	Name  string `yaml:"name"`
	Rules []Rule `yaml:"rules"`
}

// Rule is one alert rule. Every rule has a summary and a runbook line.
type Rule struct {
	Alert       string            `yaml:"alert"`
	Expr        string            `yaml:"expr"`
	For         string            `yaml:"for,omitempty"`
	Labels      map[string]string `yaml:"labels,omitempty"`
	Annotations map[string]string `yaml:"annotations"`
}

// WithDefaults fills the zero Timing and Thresholds fields.
func (c Config) WithDefaults() Config {
	t := &c.Timing
	if t.ScrapeInterval == 0 {
		t.ScrapeInterval = DefaultScrapeInterval
	}
	if t.EvaluationInterval == 0 {
		t.EvaluationInterval = DefaultEvaluationInterval
	}
	if t.For == 0 {
		t.For = DefaultFor
	}
	if t.ForSlow == 0 {
		t.ForSlow = DefaultForSlow
	}
	if c.Thresholds.ReplicationLag == 0 {
		c.Thresholds.ReplicationLag = DefaultReplicationLag
	}
	if c.Thresholds.OplogWindow == 0 {
		c.Thresholds.OplogWindow = DefaultOplogWindow
	}
	return c
}

var (
	labelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	jobName   = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,64}$`)
	word      = regexp.MustCompile(`^[a-zA-Z0-9_.-]{1,253}$`)
)

// Validate reports every problem of c (after defaults).
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("monitoring config: "+format, a...)) }
	if !word.MatchString(c.Cluster) {
		bad("Cluster %q: want letters, digits, '_', '.' or '-'", c.Cluster)
	}
	if !word.MatchString(c.ReplicaSet) {
		bad("ReplicaSet %q: want letters, digits, '_', '.' or '-'", c.ReplicaSet)
	}
	if len(c.Nodes) == 0 {
		bad("Nodes is empty")
	}
	hp := func(field, host string, port int) {
		if !word.MatchString(host) && net.ParseIP(host) == nil {
			bad("%s: %q is not a host", field, host)
		}
		if port < 1 || port > 65535 {
			bad("%s: port %d is out of range 1-65535", field, port)
		}
	}
	for i, n := range c.Nodes {
		if !word.MatchString(n.Name) {
			bad("Nodes[%d].Name %q", i, n.Name)
		}
		hp(fmt.Sprintf("Nodes[%d].MongoExporterPort", i), n.Address, n.MongoExporterPort)
		hp(fmt.Sprintf("Nodes[%d].RocketChatPort", i), n.Address, n.RocketChatPort)
	}
	for i, lb := range c.LoadBalancers {
		if !word.MatchString(lb.Name) {
			bad("LoadBalancers[%d].Name %q", i, lb.Name)
		}
		hp(fmt.Sprintf("LoadBalancers[%d].StatusPort", i), lb.Address, lb.StatusPort)
		hp(fmt.Sprintf("LoadBalancers[%d].ExporterPort", i), lb.Address, lb.ExporterPort)
	}
	for _, a := range []struct{ field, v string }{{"Alertmanager", c.Alertmanager}, {"Self", c.Self}} {
		if a.v == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a.v)
		p, _ := strconv.Atoi(port)
		if err != nil {
			bad("%s %q: want host:port", a.field, a.v)
		} else {
			hp(a.field, host, p)
		}
	}
	t := c.Timing
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"ScrapeInterval", t.ScrapeInterval}, {"EvaluationInterval", t.EvaluationInterval}, {"For", t.For}, {"ForSlow", t.ForSlow}} {
		if d.v < time.Second || d.v%time.Second != 0 {
			bad("Timing.%s %s: want whole seconds, at least 1s", d.name, d.v)
		}
	}
	if c.Thresholds.ReplicationLag < time.Second {
		bad("Thresholds.ReplicationLag %s: want at least 1s", c.Thresholds.ReplicationLag)
	}
	if c.Thresholds.OplogWindow < time.Minute {
		bad("Thresholds.OplogWindow %s: want at least 1m", c.Thresholds.OplogWindow)
	}
	builtin := map[string]bool{JobMongoDB: true, JobRocketChat: true, JobNginx: true, JobUpstream: true, JobVRRP: true, JobPrometheus: true, JobAlertmanager: true}
	for i, j := range c.ExtraJobs {
		if !jobName.MatchString(j.Name) || builtin[j.Name] {
			bad("ExtraJobs[%d].Name %q: want a new job name of letters, digits, '_', '.' or '-'", i, j.Name)
		}
		builtin[j.Name] = true
		if j.MetricsPath != "" && (!strings.HasPrefix(j.MetricsPath, "/") || strings.ContainsAny(j.MetricsPath, " \"'\n")) {
			bad("ExtraJobs[%d].MetricsPath %q", i, j.MetricsPath)
		}
		for k, tg := range j.Targets {
			host, port, err := net.SplitHostPort(tg.Address)
			p, _ := strconv.Atoi(port)
			if err != nil {
				bad("ExtraJobs[%d].Targets[%d] %q: want host:port", i, k, tg.Address)
			} else {
				hp(fmt.Sprintf("ExtraJobs[%d].Targets[%d]", i, k), host, p)
			}
			for l, v := range tg.Labels {
				if !labelName.MatchString(l) || strings.ContainsAny(v, "\"\n\\") {
					bad("ExtraJobs[%d].Targets[%d].Labels %q=%q", i, k, l, v)
				}
			}
		}
	}
	for i, g := range c.ExtraGroups {
		if !jobName.MatchString(g.Name) || g.Name == GroupName {
			bad("ExtraGroups[%d].Name %q", i, g.Name)
		}
		for k, r := range g.Rules {
			if r.Annotations["summary"] == "" || r.Annotations["runbook"] == "" {
				bad("ExtraGroups[%d].Rules[%d] (%s): every rule needs a summary and a runbook annotation", i, k, r.Alert)
			}
		}
	}
	return errors.Join(errs...)
}

//go:embed prometheus.yml.tmpl
var templates embed.FS

var promTemplate = template.Must(template.New("prometheus.yml.tmpl").Funcs(template.FuncMap{
	"dur":   promDuration,
	"quote": strconv.Quote,
	"sortedLabels": func(m map[string]string) [][2]string {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		out := make([][2]string, len(keys))
		for i, k := range keys {
			out[i] = [2]string{k, m[k]}
		}
		return out
	},
}).ParseFS(templates, "prometheus.yml.tmpl"))

// promDuration spells d as Prometheus does (1h30m, 15s, 0s).
func promDuration(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	var sb strings.Builder
	for _, u := range []struct {
		unit string
		d    time.Duration
	}{{"d", 24 * time.Hour}, {"h", time.Hour}, {"m", time.Minute}, {"s", time.Second}} {
		if n := d / u.d; n > 0 {
			fmt.Fprintf(&sb, "%d%s", n, u.unit)
			d -= n * u.d
		}
	}
	return sb.String()
}

// RulesFile is the name the Prometheus config gives its rules file; the
// rules are written next to it.
const RulesFile = "rules.yml"

// Jobs returns every scrape job of c, built-in ones first.
func (c Config) Jobs() []ScrapeJob {
	var jobs []ScrapeJob
	node := func(n Node, port int) Target {
		return Target{Address: net.JoinHostPort(n.Address, strconv.Itoa(port)), Labels: map[string]string{"node": n.Name}}
	}
	var mongo, rocket, nginx, upstream, vrrp []Target
	for _, n := range c.Nodes {
		mongo = append(mongo, node(n, n.MongoExporterPort))
		rocket = append(rocket, node(n, n.RocketChatPort))
	}
	for _, lb := range c.LoadBalancers {
		labels := map[string]string{"lb": lb.Name}
		if lb.Node != "" {
			labels["node"] = lb.Node
		}
		nginx = append(nginx, Target{Address: net.JoinHostPort(lb.Address, strconv.Itoa(lb.ExporterPort)), Labels: labels})
		status := net.JoinHostPort(lb.Address, strconv.Itoa(lb.StatusPort))
		for _, n := range c.Nodes {
			upstream = append(upstream, Target{Address: status, Labels: map[string]string{
				"lb": lb.Name, "server": n.Name, "instance": lb.Name + "/" + n.Name,
				"__metrics_path__": UpstreamPathPrefix + n.Name,
			}})
		}
		if c.VirtualIP {
			vl := map[string]string{"lb": lb.Name, "__metrics_path__": VRRPPath}
			if lb.Node != "" {
				vl["node"] = lb.Node
			}
			vrrp = append(vrrp, Target{Address: status, Labels: vl})
		}
	}
	jobs = append(jobs, ScrapeJob{Name: JobMongoDB, Targets: mongo}, ScrapeJob{Name: JobRocketChat, Targets: rocket})
	if len(c.LoadBalancers) > 0 {
		jobs = append(jobs, ScrapeJob{Name: JobNginx, Targets: nginx}, ScrapeJob{Name: JobUpstream, Targets: upstream})
	}
	if len(vrrp) > 0 {
		jobs = append(jobs, ScrapeJob{Name: JobVRRP, Targets: vrrp})
	}
	if c.Self != "" {
		jobs = append(jobs, ScrapeJob{Name: JobPrometheus, Targets: []Target{{Address: c.Self}}})
	}
	if c.Alertmanager != "" {
		jobs = append(jobs, ScrapeJob{Name: JobAlertmanager, Targets: []Target{{Address: c.Alertmanager}}})
	}
	return append(jobs, c.ExtraJobs...)
}

// RenderPrometheus validates c and renders prometheus.yml. It reads its
// rules from RulesFile in the same directory.
func RenderPrometheus(c Config) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	c = c.WithDefaults()
	var sb strings.Builder
	err := promTemplate.Execute(&sb, struct {
		Config
		Jobs          []ScrapeJob
		RulesFile     string
		ScrapeTimeout time.Duration
	}{c, c.Jobs(), RulesFile, min(c.Timing.ScrapeInterval, 10*time.Second)})
	if err != nil {
		return "", fmt.Errorf("rendering prometheus.yml: %w", err)
	}
	return sb.String(), nil
}
