package components

import (
	_ "embed"
	"fmt"
	"net"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/internal/monitoring"
	"github.com/rocketchat-ha/rocketchat-ha/internal/nginx"
	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
)

// Pinned images and defaults of monitoring.
const (
	// DefaultMongoExporterImage is Percona's PMM client image, which ships
	// Percona's mongodb_exporter (MongoExporterBinary) with a shell. The
	// exporter's own image, percona/mongodb_exporter, is a scratch image
	// that takes its password only from the environment, which the Docker
	// provider prints in clear in its diagnostics; here the password comes
	// from an uploaded file instead.
	DefaultMongoExporterImage = "percona/pmm-client:3.1.0"
	// MongoExporterBinary is mongodb_exporter in DefaultMongoExporterImage
	// (PMM 3's layout, from its build/docker/client/Dockerfile).
	MongoExporterBinary = "/usr/local/percona/pmm/exporters/mongodb_exporter"
	// mongoExporterCredentials is the uploaded credentials file.
	mongoExporterCredentials = "/etc/rocketchat-ha/exporter.env"
	// DefaultNginxExporterImage reads nginx's stub_status.
	DefaultNginxExporterImage = "nginx/nginx-prometheus-exporter:1.3.0"
	DefaultPrometheusImage    = "prom/prometheus:v2.53.3"
	DefaultAlertmanagerImage  = "prom/alertmanager:v0.27.0"
	DefaultGrafanaImage       = "grafana/grafana:11.3.0"

	DefaultMongoExporterPort     = 9216
	DefaultRocketChatMetricsPort = 9458
	DefaultNginxStatusPort       = 8090
	DefaultNginxExporterPort     = 9113
	DefaultPrometheusPort        = 9090
	DefaultAlertmanagerPort      = 9093
	// DefaultGrafanaPort is not Grafana's 3000, which Rocket.Chat uses.
	DefaultGrafanaPort = 3300
	// DefaultRetention is Prometheus' retention.
	DefaultRetention             = "15d"
	DefaultReplicationLagSeconds = 30
	DefaultOplogWindowHours      = 24

	// ExporterUser is the mongodb_exporter's database user: clusterMonitor
	// on admin and read on local, nothing else.
	ExporterUser = "exporter"
	// RocketChatMetricsPort is the port of Rocket.Chat's built-in exporter
	// inside its container (OVERWRITE_SETTING_Prometheus_Port).
	RocketChatMetricsPort = 9458
)

// Ports inside the monitoring containers.
const (
	mongoExporterPort = 9216
	nginxExporterPort = 9113
	prometheusPort    = 9090
	alertmanagerPort  = 9093
	grafanaPort       = 3000
	// monitoringDir holds the rendered configuration in the stack's
	// containers.
	monitoringDir = "/etc/rcha-monitoring"
	// vrrpStateDir is shared by a load balancer's keepalived (which writes
	// vrrpStateFile from its notify script) and nginx (which serves it).
	vrrpStateDir  = "/var/run/rcha-vrrp"
	vrrpStateFile = vrrpStateDir + "/state.prom"
	// vrrpNotifyPath is the notify script in the keepalived container.
	vrrpNotifyPath = "/etc/keepalived/rcha-notify.sh"
)

// MonitoringArgs configures the metric endpoints and the optional
// Prometheus/Alertmanager/Grafana stack.
type MonitoringArgs struct {
	// Enabled turns the metric endpoints on: Rocket.Chat's exporter, a
	// mongodb_exporter per node, an nginx exporter and a status server per
	// load balancer. Nil means true.
	Enabled *bool `pulumi:"enabled,optional"`
	// Node names the node that runs Prometheus, Alertmanager and Grafana.
	// Empty: no stack; scrape the endpoints from your own Prometheus.
	Node string `pulumi:"node,optional"`
	// Retention is how long Prometheus keeps samples, as a Prometheus
	// duration (15d by default).
	Retention string `pulumi:"retention,optional"`
	// Alertmanager is the complete Alertmanager configuration (YAML) with
	// your receivers. Empty: one receiver that sends nothing. It is kept
	// as a secret (it usually holds webhook URLs or passwords).
	Alertmanager string `pulumi:"alertmanager,optional"`
	// ReplicationLagSeconds alerts when a secondary lags the primary by
	// more (30 by default).
	ReplicationLagSeconds int `pulumi:"replicationLagSeconds,optional"`
	// OplogWindowHours alerts when a member's oplog covers fewer hours (24
	// by default).
	OplogWindowHours int `pulumi:"oplogWindowHours,optional"`
	// MongoExporterImage, NginxExporterImage, PrometheusImage,
	// AlertmanagerImage and GrafanaImage are pinned image references (the
	// Default…Image constants when nil).
	MongoExporterImage pulumi.StringInput `pulumi:"mongoExporterImage,optional"`
	NginxExporterImage pulumi.StringInput `pulumi:"nginxExporterImage,optional"`
	PrometheusImage    pulumi.StringInput `pulumi:"prometheusImage,optional"`
	AlertmanagerImage  pulumi.StringInput `pulumi:"alertmanagerImage,optional"`
	GrafanaImage       pulumi.StringInput `pulumi:"grafanaImage,optional"`
	// Ports are the host ports of the load balancers' status servers and
	// exporters and of the stack, all published on private addresses.
	Ports MonitoringPorts `pulumi:"ports,optional"`
}

// MonitoringPorts are monitoring's host ports besides the per-node ones
// (Ports.MongoExporter, Ports.RocketChatMetrics).
type MonitoringPorts struct {
	// NginxStatus is each load balancer's status server (stub_status, the
	// upstream probes, the VRRP state); 8090 by default.
	NginxStatus int `pulumi:"nginxStatus,optional"`
	// NginxExporter is each load balancer's nginx exporter; 9113 by default.
	NginxExporter int `pulumi:"nginxExporter,optional"`
	// Prometheus, Alertmanager and Grafana are the stack's ports on the
	// monitoring node's address (9090, 9093, 3300 by default).
	Prometheus   int `pulumi:"prometheus,optional"`
	Alertmanager int `pulumi:"alertmanager,optional"`
	Grafana      int `pulumi:"grafana,optional"`
}

// On reports whether the metric endpoints are on (Enabled, default true).
func (m MonitoringArgs) On() bool { return m.Enabled == nil || *m.Enabled }

// WithDefaults fills the zero plain fields.
func (m MonitoringArgs) WithDefaults() MonitoringArgs {
	if m.Retention == "" {
		m.Retention = DefaultRetention
	}
	if m.ReplicationLagSeconds == 0 {
		m.ReplicationLagSeconds = DefaultReplicationLagSeconds
	}
	if m.OplogWindowHours == 0 {
		m.OplogWindowHours = DefaultOplogWindowHours
	}
	p := &m.Ports
	for _, f := range []struct {
		v   *int
		def int
	}{{&p.NginxStatus, DefaultNginxStatusPort}, {&p.NginxExporter, DefaultNginxExporterPort},
		{&p.Prometheus, DefaultPrometheusPort}, {&p.Alertmanager, DefaultAlertmanagerPort}, {&p.Grafana, DefaultGrafanaPort}} {
		if *f.v == 0 {
			*f.v = f.def
		}
	}
	return m
}

var promRetention = regexp.MustCompile(`^([0-9]+(y|w|d|h|ms|m|s))+$`)

// validateMonitoring checks a.Monitoring (with defaults) and claims its
// ports; bad and claim are Validate's.
func (a RocketChatHAArgs) validateMonitoring(bad func(key, format string, args ...any), claim func(key, who, host, addr string, port int)) {
	m := a.Monitoring
	if !m.On() {
		if m.Node != "" {
			bad("Monitoring.Node", "is set while Monitoring.Enabled is false: the stack needs the metric endpoints")
		}
		return
	}
	var stack *Node
	if m.Node != "" {
		for i := range a.Nodes {
			if a.Nodes[i].Name == m.Node {
				stack = &a.Nodes[i]
			}
		}
		if stack == nil && len(a.Nodes) > 0 {
			bad("Monitoring.Node", "%q is not the name of any entry in Nodes", m.Node)
		}
	}
	if !promRetention.MatchString(m.Retention) {
		bad("Monitoring.Retention", "%q is not a Prometheus duration such as 15d, 4w or 1y", m.Retention)
	}
	if m.Alertmanager != "" {
		if err := monitoring.CheckAlertmanager(m.Alertmanager); err != nil {
			bad("Monitoring.Alertmanager", "%v", err)
		}
	}
	if m.ReplicationLagSeconds < 1 || m.ReplicationLagSeconds > 86400 {
		bad("Monitoring.ReplicationLagSeconds", "must be between 1 and 86400, got %d", m.ReplicationLagSeconds)
	}
	if m.OplogWindowHours < 1 || m.OplogWindowHours > 8760 {
		bad("Monitoring.OplogWindowHours", "must be between 1 and 8760, got %d", m.OplogWindowHours)
	}
	port := func(key string, p int) bool {
		if p < 1 || p > 65535 {
			bad(key, "%d is not a TCP port (1-65535)", p)
			return false
		}
		return true
	}
	for i, n := range a.Nodes {
		if n.Ports.Instance == RocketChatMetricsPort {
			bad(fmt.Sprintf("Nodes[%d].Ports.Instance", i), "%d is the port of Rocket.Chat's Prometheus exporter inside its container (monitoring); choose another", RocketChatMetricsPort)
		}
		for _, p := range []struct {
			name string
			port int
		}{{"MongoExporter", n.Ports.MongoExporter}, {"RocketChatMetrics", n.Ports.RocketChatMetrics}} {
			key := fmt.Sprintf("Nodes[%d].Ports.%s", i, p.name)
			if port(key, p.port) {
				claim(key, "", n.DockerHost, n.Address, p.port)
			}
		}
	}
	lb := a.LoadBalancer
	var lbHosts [][3]string // docker host, address, who
	if lb.DockerHost != "" {
		lbHosts = append(lbHosts, [3]string{lb.DockerHost, lbPrivateAddress(lb, ""), ""})
	}
	for _, name := range lb.Nodes {
		for _, n := range a.Nodes {
			if n.Name == name {
				lbHosts = append(lbHosts, [3]string{n.DockerHost, n.Address, "the load balancer on " + name})
			}
		}
	}
	for _, p := range []struct {
		key  string
		port int
	}{{"Monitoring.Ports.NginxStatus", m.Ports.NginxStatus}, {"Monitoring.Ports.NginxExporter", m.Ports.NginxExporter}} {
		if port(p.key, p.port) {
			for _, h := range lbHosts {
				claim(p.key, h[2], h[0], h[1], p.port)
			}
		}
	}
	if stack != nil {
		for _, p := range []struct {
			key  string
			port int
		}{{"Monitoring.Ports.Prometheus", m.Ports.Prometheus}, {"Monitoring.Ports.Alertmanager", m.Ports.Alertmanager}, {"Monitoring.Ports.Grafana", m.Ports.Grafana}} {
			if port(p.key, p.port) {
				claim(p.key, "", stack.DockerHost, stack.Address, p.port)
			}
		}
	}
}

// lbPrivateAddress is where a load balancer's status server and exporter
// are published: the node's address, or, on a separate Docker host, the
// load balancer's BindAddress when it is one address, else its host's
// address when that is an IP, else 0.0.0.0 (documented: firewall it).
func lbPrivateAddress(lb LoadBalancer, nodeAddr string) string {
	if nodeAddr != "" && net.ParseIP(nodeAddr) != nil {
		return nodeAddr
	}
	if !isUnspecified(lb.BindAddress) {
		return lb.BindAddress
	}
	if lb.DockerHost != "" {
		if h := hostOfURL(lb.DockerHost); net.ParseIP(h) != nil {
			return h
		}
	}
	return "0.0.0.0"
}

// hostOfURL is the host of a Docker endpoint URL.
func hostOfURL(u string) string {
	rest := u
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if i := strings.LastIndex(rest, "@"); i >= 0 {
		rest = rest[i+1:]
	}
	if h, _, err := net.SplitHostPort(rest); err == nil {
		return h
	}
	return strings.TrimSuffix(rest, "/")
}

// monitoringState is what the monitoring steps share.
type monitoringState struct {
	exporterPassword pulumi.StringOutput // secret
	grafanaPassword  pulumi.StringOutput // secret; with a stack
	url              pulumi.StringOutput
	// extraJobs and extraGroups are other features' scrape jobs and rule
	// groups (addMonitoring).
	extraJobs   []monitoring.ScrapeJob
	extraGroups []monitoring.RuleGroup
}

// addMonitoring adds another feature's scrape jobs and alert rules (for
// example a backup-status endpoint) to the stack's Prometheus. Call it from
// a build step after "monitoring users" and before "cluster"; with
// monitoring off it does nothing.
func (b *builder) addMonitoring(jobs []monitoring.ScrapeJob, groups ...monitoring.RuleGroup) {
	if b.mon == nil || !b.args.Monitoring.On() {
		return
	}
	b.mon.extraJobs = append(b.mon.extraJobs, jobs...)
	b.mon.extraGroups = append(b.mon.extraGroups, groups...)
}

// monitoringUsers is the build step that, with monitoring on, generates the
// exporter's password once and adds its least-privilege user to the full
// replica-set step, and generates Grafana's admin password with a stack.
func (b *builder) monitoringUsers() error {
	m := b.args.Monitoring
	b.mon = &monitoringState{url: pulumi.String("").ToStringOutput(), grafanaPassword: secret(pulumi.String(""))}
	if !m.On() {
		return nil
	}
	var err error
	if b.mon.exporterPassword, err = b.generatePassword("exporter-password", 32); err != nil {
		return err
	}
	b.addDBUser(ExporterUser, "admin", b.mon.exporterPassword,
		replicaset.Role{Role: "clusterMonitor", DB: "admin"}, replicaset.Role{Role: "read", DB: "local"})
	if m.Node != "" {
		if b.mon.grafanaPassword, err = b.generatePassword("grafana-admin-password", 32); err != nil {
			return err
		}
	}
	return nil
}

// monitoringConfig is the renderer's data for the cluster.
func (b *builder) monitoringConfig(sites []lbSite) monitoring.Config {
	m := b.args.Monitoring
	c := monitoring.Config{
		Cluster:    b.name,
		ReplicaSet: b.args.ReplicaSetName,
		VirtualIP:  b.args.LoadBalancer.VirtualIP != "",
		Thresholds: monitoring.Thresholds{
			ReplicationLag: time.Duration(m.ReplicationLagSeconds) * time.Second,
			OplogWindow:    time.Duration(m.OplogWindowHours) * time.Hour,
		},
	}
	for _, n := range b.nodes {
		c.Nodes = append(c.Nodes, monitoring.Node{Name: n.Name, Address: n.Address,
			MongoExporterPort: n.Ports.MongoExporter, RocketChatPort: n.Ports.RocketChatMetrics})
	}
	for _, s := range sites {
		lb := monitoring.LoadBalancer{Name: s.name, Address: s.statusAddress(b.args.LoadBalancer),
			StatusPort: m.Ports.NginxStatus, ExporterPort: m.Ports.NginxExporter}
		if s.node != nil {
			lb.Node = s.node.Name
		}
		c.LoadBalancers = append(c.LoadBalancers, lb)
	}
	if n := b.monitoringNode(); n != nil {
		c.Self = net.JoinHostPort(n.Address, strconv.Itoa(m.Ports.Prometheus))
		c.Alertmanager = net.JoinHostPort(n.Address, strconv.Itoa(m.Ports.Alertmanager))
	}
	c.ExtraJobs, c.ExtraGroups = b.mon.extraJobs, b.mon.extraGroups
	return c
}

// statusAddress is where site s's status server and exporter answer: the
// node's address, or on a separate Docker host the address they are
// published on, else LoadBalancer.Address, else the host's name.
func (s lbSite) statusAddress(lb LoadBalancer) string {
	if s.node != nil {
		return s.address
	}
	if addr := lbPrivateAddress(lb, ""); !isUnspecified(addr) {
		return addr
	}
	if lb.Address != "" {
		return lb.Address
	}
	return s.address
}

// monitoringNode is the node that runs the stack, or nil.
func (b *builder) monitoringNode() *node {
	for _, n := range b.nodes {
		if n.Name == b.args.Monitoring.Node {
			return n
		}
	}
	return nil
}

// nginxStatus is the load balancers' status server, with monitoring on.
func (b *builder) nginxStatus() *nginx.Status {
	if !b.args.Monitoring.On() {
		return nil
	}
	st := &nginx.Status{Port: b.args.Monitoring.Ports.NginxStatus}
	for _, n := range b.nodes {
		st.Probes = append(st.Probes, nginx.Probe{Name: n.Name, Upstream: net.JoinHostPort(n.Address, strconv.Itoa(n.Ports.RocketChat))})
	}
	if b.args.LoadBalancer.VirtualIP != "" {
		st.VRRPFile = vrrpStateFile
	}
	return st
}

// rocketChatMetricsEnv is the environment that turns on Rocket.Chat's
// built-in exporter.
func (b *builder) rocketChatMetricsEnv() []string {
	if !b.args.Monitoring.On() {
		return nil
	}
	return []string{"OVERWRITE_SETTING_Prometheus_Enabled=true", "OVERWRITE_SETTING_Prometheus_Port=" + strconv.Itoa(RocketChatMetricsPort)}
}

// newMonitoring registers, with monitoring on, every node's
// mongodb_exporter (after the full replica-set step rs, which creates its
// user), every load balancer's nginx exporter, and the stack on
// Monitoring.Node.
func (b *builder) newMonitoring(rs pulumi.Resource, sites []lbSite) error {
	m := b.args.Monitoring
	if !m.On() {
		return nil
	}
	image := func(in pulumi.StringInput, def string) pulumi.StringInput {
		if in == nil {
			return pulumi.String(def)
		}
		return in
	}
	mongoImage := image(m.MongoExporterImage, DefaultMongoExporterImage)
	for _, n := range b.nodes {
		if err := b.newMongoExporter(n, mongoImage, rs); err != nil {
			return fmt.Errorf("%s: mongodb exporter: %w", n, err)
		}
	}
	nginxImage := image(m.NginxExporterImage, DefaultNginxExporterImage)
	for _, s := range sites {
		if err := b.newNginxExporter(s, nginxImage); err != nil {
			return fmt.Errorf("load balancer %s: nginx exporter: %w", s.name, err)
		}
	}
	n := b.monitoringNode()
	if n == nil {
		return nil
	}
	cfg := b.monitoringConfig(sites)
	b.mon.url = pulumi.Sprintf("http://%s", net.JoinHostPort(n.Address, strconv.Itoa(m.Ports.Grafana)))
	if err := b.newPrometheus(n, cfg, image(m.PrometheusImage, DefaultPrometheusImage)); err != nil {
		return fmt.Errorf("%s: prometheus: %w", n, err)
	}
	if err := b.newAlertmanager(n, image(m.AlertmanagerImage, DefaultAlertmanagerImage)); err != nil {
		return fmt.Errorf("%s: alertmanager: %w", n, err)
	}
	if err := b.newGrafana(n, image(m.GrafanaImage, DefaultGrafanaImage)); err != nil {
		return fmt.Errorf("%s: grafana: %w", n, err)
	}
	return nil
}

// newMongoExporter registers node n's mongodb_exporter: it connects
// directly to the node's own member with the exporter user and is
// published on the node's address.
func (b *builder) newMongoExporter(n *node, image pulumi.StringInput, rs pulumi.Resource) error {
	// <cluster>-exporter-mongo-<node>: not a <cluster>-mongo-<node> name.
	name := fmt.Sprintf("%s-exporter-mongo-%s", b.name, n.Name)
	img, err := b.newImage(n, name+"-image", image, n.provider)
	if err != nil {
		return err
	}
	uri := fmt.Sprintf("mongodb://%s/admin?directConnection=true", net.JoinHostPort(n.Address, strconv.Itoa(n.Ports.Mongo)))
	// The exporter reads MONGODB_USER and MONGODB_PASSWORD from its
	// environment. They are not in the container's environment (docker
	// inspect, the provider's diagnostics): a shell exports them from an
	// uploaded root-only file and execs the exporter. The image has no su
	// to drop to its own user, so the exporter runs as root without any
	// capability.
	creds := secret(b.mon.exporterPassword.ApplyT(func(pw string) string {
		return envFile([][2]string{{"MONGODB_USER", ExporterUser}, {"MONGODB_PASSWORD", pw}})
	}).(pulumi.StringOutput))
	args := &docker.ContainerArgs{
		Name:  pulumi.String(name),
		Image: imageID(img),
		Entrypoints: pulumi.ToStringArray([]string{"/bin/sh", "-c",
			`set -a && . "$0" && set +a && exec "$@"`, mongoExporterCredentials}),
		Envs: pulumi.StringArray{pulumi.String("MONGODB_URI=" + uri)},
		Command: pulumi.ToStringArray([]string{
			MongoExporterBinary, "--compatible-mode", "--collector.replicasetstatus", "--collector.diagnosticdata",
			"--web.listen-address=:" + strconv.Itoa(mongoExporterPort),
		}),
		User:         pulumi.String("root"),
		Capabilities: &docker.ContainerCapabilitiesArgs{Drops: pulumi.ToStringArray([]string{"ALL"})},
		Uploads: docker.ContainerUploadArray{
			docker.ContainerUploadArgs{File: pulumi.String(mongoExporterCredentials), Content: creds.ToStringPtrOutput(), Permissions: pulumi.String(secretFileMode)},
		},
		// The node's address is an IP or resolves by DNS: no hosts
		// entries, so a change of the node list does not replace it.
		Ports:  publish(n.Address, map[int]int{mongoExporterPort: n.Ports.MongoExporter}),
		Labels: labels(b.name, n.Name, "mongo-exporter"),
	}
	hygiene(args, b.args.WaitSeconds)
	noHealthcheck(args)
	if n.down {
		b.recordContainer(n, name, args, image, nil)
		return nil
	}
	c, err := docker.NewContainer(b.ctx, name, args, containerOptions(n.provider, b.comp, []pulumi.Resource{rs})...)
	if err != nil {
		return err
	}
	b.recordContainer(n, name, args, image, c)
	return nil
}

// noHealthcheck is for the exporters: Prometheus' scrape is their health
// check (ExporterDown) and Docker restarts them when they exit; the nginx
// exporter's image is a scratch image with nothing to probe with. The
// healthcheck is explicitly off and the container is not waited for.
func noHealthcheck(args *docker.ContainerArgs) {
	args.Healthcheck = docker.ContainerHealthcheckArgs{Tests: pulumi.ToStringArray([]string{"NONE"})}
	args.Wait = pulumi.Bool(false)
}

// newNginxExporter registers site s's nginx-prometheus-exporter, which
// reads the site's stub_status on the status server.
func (b *builder) newNginxExporter(s lbSite, image pulumi.StringInput) error {
	m := b.args.Monitoring
	// <cluster>-exporter-nginx[-<node>], beside <cluster>-lb[-<node>].
	name := strings.Replace(s.name, "-lb", "-exporter-nginx", 1)
	img, err := b.newImage(s.node, name+"-image", image, s.provider)
	if err != nil {
		return err
	}
	addr := s.statusAddress(b.args.LoadBalancer)
	scrape := "http://" + net.JoinHostPort(addr, strconv.Itoa(m.Ports.NginxStatus)) + monitoring.StubStatusPath
	nodeName := ""
	if s.node != nil {
		nodeName = s.node.Name
	}
	args := &docker.ContainerArgs{
		Name:  pulumi.String(name),
		Image: imageID(img),
		Command: pulumi.ToStringArray([]string{
			"--nginx.scrape-uri=" + scrape, "--web.listen-address=:" + strconv.Itoa(nginxExporterPort),
		}),
		Ports:  publish(lbPrivateAddress(b.args.LoadBalancer, nodeAddress(s)), map[int]int{nginxExporterPort: m.Ports.NginxExporter}),
		Labels: labels(b.name, nodeName, "nginx-exporter"),
	}
	hygiene(args, b.args.WaitSeconds)
	noHealthcheck(args)
	if s.node != nil && s.node.down {
		b.recordContainer(s.node, name, args, image, nil)
		return nil
	}
	c, err := docker.NewContainer(b.ctx, name, args, containerOptions(s.provider, b.comp, nil)...)
	if err != nil {
		return err
	}
	b.recordContainer(s.node, name, args, image, c)
	return nil
}

// nodeAddress is the address of site s's node, or "".
func nodeAddress(s lbSite) string {
	if s.node == nil {
		return ""
	}
	return s.node.Address
}

// statusPorts are the ports a load balancer container publishes on its
// private address for monitoring (none with monitoring off).
func (b *builder) statusPorts(s lbSite) docker.ContainerPortArray {
	if !b.args.Monitoring.On() {
		return nil
	}
	p := b.args.Monitoring.Ports.NginxStatus
	return publish(lbPrivateAddress(b.args.LoadBalancer, nodeAddress(s)), map[int]int{p: p})
}

// mergePorts joins published port lists, sorted by internal port as
// pulumi-docker reads them back.
func mergePorts(lists ...docker.ContainerPortArray) docker.ContainerPortArray {
	var out docker.ContainerPortArray
	for _, l := range lists {
		out = append(out, l...)
	}
	sort.SliceStable(out, func(i, j int) bool {
		return int(out[i].(docker.ContainerPortArgs).Internal.(pulumi.Int)) < int(out[j].(docker.ContainerPortArgs).Internal.(pulumi.Int))
	})
	return out
}

// vrrpVolume is the volume a load balancer's keepalived and nginx share
// for the VRRP state (with monitoring and a virtual IP).
func (b *builder) vrrpVolume(s lbSite, readOnly bool) docker.ContainerVolumeArray {
	if !b.args.Monitoring.On() || b.args.LoadBalancer.VirtualIP == "" {
		return nil
	}
	return docker.ContainerVolumeArray{docker.ContainerVolumeArgs{
		VolumeName: pulumi.String(s.name + "-vrrp-state"), ContainerPath: pulumi.String(vrrpStateDir), ReadOnly: pulumi.Bool(readOnly),
	}}
}

// vrrpNotify is the keepalived notify script (keepalived-notify.sh).
//
//go:embed keepalived-notify.sh
var vrrpNotify string

// vrrpNotifyScript is keepalived's notify script path, with monitoring.
func (b *builder) vrrpNotifyScript() string {
	if !b.args.Monitoring.On() {
		return ""
	}
	return vrrpNotifyPath
}

// keepalivedUploads adds the notify script to keepalived's uploads, with
// monitoring.
func (b *builder) keepalivedUploads(conf docker.ContainerUploadArgs) docker.ContainerUploadArray {
	out := docker.ContainerUploadArray{conf}
	if b.args.Monitoring.On() {
		out = append(out, docker.ContainerUploadArgs{File: pulumi.String(vrrpNotifyPath), Content: pulumi.String(vrrpNotify), Permissions: pulumi.String("0555")})
	}
	return out
}
