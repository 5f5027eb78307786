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

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
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
	gen := func(suffix string) (pulumi.StringOutput, error) {
		p, err := random.NewRandomPassword(b.ctx, b.name+"-"+suffix, &random.RandomPasswordArgs{
			Length: pulumi.Int(32), Special: pulumi.Bool(false),
		}, pulumi.Parent(b.comp))
		if err != nil {
			return pulumi.StringOutput{}, fmt.Errorf("%s: %w", suffix, err)
		}
		return secret(p.Result), nil
	}
	var err error
	if b.mon.exporterPassword, err = gen("exporter-password"); err != nil {
		return err
	}
	b.addDBUser(ExporterUser, "admin", b.mon.exporterPassword,
		replicaset.Role{Role: "clusterMonitor", DB: "admin"}, replicaset.Role{Role: "read", DB: "local"})
	if m.Node != "" {
		if b.mon.grafanaPassword, err = gen("grafana-admin-password"); err != nil {
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

// monitoringReload is the config step of the stack's containers
// (monitoring-reload.sh, after the docker prelude).
//
//go:embed monitoring-reload.sh
var monitoringReload string

// stackContainer is what differs between the stack's containers.
type stackContainer struct {
	role     string
	image    pulumi.StringInput
	files    []configFile // rendered config, kept current by the config step
	dataPath string       // where the retained data volume is mounted
	// internal and external are the service's port in the container and
	// on the node's address.
	internal, external int
	command            []string
	env                pulumi.StringArray
	// check runs in the container after new files are written; signal is
	// sent after it passes (empty: the service rereads them itself).
	check, signal string
	healthPath    string // HTTP path of the healthcheck
	// user, entrypoint and uploads, when set: the user the container
	// starts as, its entrypoint, and uploads beside the config files that
	// the config step does not rewrite (the entrypoint wrapper, secrets).
	user       string
	entrypoint []string
	uploads    docker.ContainerUploadArray
}

// configFile is one rendered file of a stack container.
type configFile struct {
	path    string
	content pulumi.StringInput
	mode    string
}

// newStackContainer registers one container of the stack on n with its
// data volume (retained like mongod's), its config files uploaded for its
// first start, and its config step, which writes later versions of the
// files into the running container, checks them with check and sends
// signal (empty: the service reads them on its own), so that a change of
// the node list replaces nothing. It returns the config step.
func (b *builder) newStackContainer(n *node, sc stackContainer) error {
	role, image, files := sc.role, sc.image, sc.files
	dataPath, internal, external, command, env := sc.dataPath, sc.internal, sc.external, sc.command, sc.env
	check, signal, healthPath := sc.check, sc.signal, sc.healthPath
	name := fmt.Sprintf("%s-%s", b.name, role)
	volArgs := &docker.VolumeArgs{
		Name: pulumi.String(name + "-data"),
		Labels: docker.VolumeLabelArray{
			docker.VolumeLabelArgs{Label: pulumi.String(LabelCluster), Value: pulumi.String(b.name)},
			docker.VolumeLabelArgs{Label: pulumi.String(LabelNode), Value: pulumi.String(n.Name)},
			docker.VolumeLabelArgs{Label: pulumi.String(LabelRole), Value: pulumi.String(role + "-data")},
		},
	}
	var vol *docker.Volume
	if n.down {
		b.record(n, name+"-data", volArgs, nil)
	} else {
		var err error
		vol, err = docker.NewVolume(b.ctx, name+"-data", volArgs, pulumi.Parent(b.comp), pulumi.Provider(n.provider),
			pulumi.RetainOnDelete(!b.args.DeleteDataOnDestroy))
		if err != nil {
			return fmt.Errorf("volume: %w", err)
		}
		b.record(n, name+"-data", volArgs, vol)
	}
	img, err := b.newImage(n, name+"-image", image, n.provider)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	var uploads docker.ContainerUploadArray
	env2 := pulumi.StringMap{stepEnvContainer: pulumi.String(name)}
	var lines []string
	for i, f := range files {
		uploads = append(uploads, docker.ContainerUploadArgs{File: pulumi.String(f.path), Content: f.content.ToStringOutput().ToStringPtrOutput(), Permissions: pulumi.String(f.mode)})
		v := fmt.Sprintf("RCHA_FILE_%d", i)
		lines = append(lines, v+" "+f.path+" "+f.mode)
		env2[v] = f.content
	}
	uploads = append(uploads, sc.uploads...)
	env2["RCHA_FILES"] = pulumi.String(strings.Join(lines, "\n"))
	if check != "" {
		env2["RCHA_CHECK"] = pulumi.String(check)
	}
	if signal != "" {
		env2["RCHA_SIGNAL"] = pulumi.String(signal)
	}
	args := &docker.ContainerArgs{
		Name:    pulumi.String(name),
		Image:   imageID(img),
		Envs:    env,
		Uploads: uploads,
		Volumes: docker.ContainerVolumeArray{docker.ContainerVolumeArgs{VolumeName: pulumi.String(name + "-data"), ContainerPath: pulumi.String(dataPath)}},
		// No hosts entries: the stack reaches every node by address, and a
		// change of the node list must not replace it.
		Ports:  publish(n.Address, map[int]int{internal: external}),
		Labels: labels(b.name, n.Name, role),
		// busybox wget is in the Prometheus, Alertmanager and Grafana
		// images.
		Healthcheck: b.healthcheck(health{
			Test:     []string{"CMD", "wget", "-q", "-T", "3", "-O", "/dev/null", fmt.Sprintf("http://127.0.0.1:%d%s", internal, healthPath)},
			Interval: 15 * time.Second, Timeout: 5 * time.Second, Retries: 4, StartPeriod: 60 * time.Second, StartInterval: 2 * time.Second,
		}),
	}
	if len(command) > 0 {
		args.Command = pulumi.ToStringArray(command)
	}
	if sc.user != "" {
		args.User = pulumi.String(sc.user)
	}
	if len(sc.entrypoint) > 0 {
		args.Entrypoints = pulumi.ToStringArray(sc.entrypoint)
	}
	hygiene(args, b.args.WaitSeconds)
	dockerCLIEnv(env2, n.DockerHost, n.DockerTLS)
	stepArgs := containerStep(monitoringReload, env2)
	if n.down {
		b.recordContainer(n, name, args, image, nil)
		b.record(n, name+"-config", stepArgs, nil)
		return nil
	}
	// The uploads give a new container its first config; later changes go
	// through the config step, in place.
	opts := append(containerOptions(n.provider, b.comp, []pulumi.Resource{vol}), pulumi.IgnoreChanges([]string{"uploads"}))
	c, err := docker.NewContainer(b.ctx, name, args, opts...)
	if err != nil {
		return fmt.Errorf("container: %w", err)
	}
	b.recordContainer(n, name, args, image, c)
	fp := *stepArgs
	stepArgs.Triggers = pulumi.Array{c.ID()}
	step, err := local.NewCommand(b.ctx, name+"-config", stepArgs, pulumi.Parent(b.comp), pulumi.DependsOn([]pulumi.Resource{c}))
	if err != nil {
		return fmt.Errorf("config step: %w", err)
	}
	b.record(n, name+"-config", &fp, step)
	return nil
}

// newPrometheus registers Prometheus on n: the rendered scrape config and
// rules, reloaded with SIGHUP after `promtool check config`.
func (b *builder) newPrometheus(n *node, cfg monitoring.Config, image pulumi.StringInput) error {
	prom, err := monitoring.RenderPrometheus(cfg)
	if err != nil {
		return err
	}
	rules, err := monitoring.RenderRules(cfg)
	if err != nil {
		return err
	}
	conf := monitoringDir + "/prometheus.yml"
	return b.newStackContainer(n, stackContainer{
		role: "prometheus", image: image,
		files: []configFile{
			{conf, pulumi.String(prom), publicFileMode},
			{monitoringDir + "/" + monitoring.RulesFile, pulumi.String(rules), publicFileMode},
		},
		dataPath: "/prometheus", internal: prometheusPort, external: b.args.Monitoring.Ports.Prometheus,
		command: []string{
			"--config.file=" + conf,
			"--storage.tsdb.path=/prometheus",
			"--storage.tsdb.retention.time=" + b.args.Monitoring.Retention,
			"--web.listen-address=:" + strconv.Itoa(prometheusPort),
			"--web.enable-lifecycle",
		},
		check: "promtool check config " + strings.TrimPrefix(conf, "/"), signal: "HUP", healthPath: "/-/healthy",
	})
}

// newAlertmanager registers Alertmanager on n with Monitoring.Alertmanager
// (a secret), reloaded with SIGHUP after `amtool check-config`.
func (b *builder) newAlertmanager(n *node, image pulumi.StringInput) error {
	text, err := monitoring.RenderAlertmanager(b.args.Monitoring.Alertmanager)
	if err != nil {
		return err
	}
	conf := monitoringDir + "/alertmanager.yml"
	// The config holds the receivers' secrets: root-only (0400), so
	// Alertmanager runs as root in its container (the image's user is
	// nobody, and its busybox has no way to hand it the file otherwise).
	return b.newStackContainer(n, stackContainer{
		role: "alertmanager", image: image,
		files:    []configFile{{conf, secret(pulumi.String(text)), secretFileMode}},
		dataPath: "/alertmanager", internal: alertmanagerPort, external: b.args.Monitoring.Ports.Alertmanager,
		command: []string{
			"--config.file=" + conf,
			"--storage.path=/alertmanager",
			"--web.listen-address=:" + strconv.Itoa(alertmanagerPort),
			"--cluster.listen-address=",
		},
		check: "amtool check-config " + strings.TrimPrefix(conf, "/"), signal: "HUP", healthPath: "/-/healthy",
		user: "root",
	})
}

// grafanaUser is the grafana/grafana image's user (uid 472).
const grafanaUser = "grafana"

// grafanaCommand is the grafana/grafana image's entrypoint, which the
// wrapper execs.
var grafanaCommand = []string{"/run.sh"}

// newGrafana registers Grafana on n: the datasource (this Prometheus), the
// dashboard provider and the dashboards, which Grafana rereads every 30
// seconds, so the config step sends no signal. The admin password is not in
// the container's environment: the Rocket.Chat entrypoint wrapper exports
// GF_SECURITY_ADMIN_PASSWORD from an uploaded root-only file and drops to
// the image's user (Grafana reads it when it creates its database).
func (b *builder) newGrafana(n *node, image pulumi.StringInput) error {
	dashboards, err := monitoring.RenderDashboards()
	if err != nil {
		return err
	}
	promURL := "http://" + net.JoinHostPort(n.Address, strconv.Itoa(b.args.Monitoring.Ports.Prometheus))
	files := []configFile{
		{monitoring.GrafanaDatasourcesFile, pulumi.String(monitoring.RenderGrafanaDatasource(promURL)), publicFileMode},
		{monitoring.GrafanaProvidersFile, pulumi.String(monitoring.RenderGrafanaProviders()), publicFileMode},
	}
	for _, f := range monitoring.DashboardFiles(dashboards) {
		files = append(files, configFile{monitoring.GrafanaDashboardsDir + "/" + f, pulumi.String(dashboards[f]), publicFileMode})
	}
	env := pulumi.StringArray{
		pulumi.String("GF_USERS_ALLOW_SIGN_UP=false"),
		pulumi.String("GF_ANALYTICS_REPORTING_ENABLED=false"),
		pulumi.String("GF_ANALYTICS_CHECK_FOR_UPDATES=false"),
	}
	secrets := secret(b.mon.grafanaPassword.ApplyT(func(pw string) string {
		return envFile([][2]string{{"GF_SECURITY_ADMIN_PASSWORD", pw}})
	}).(pulumi.StringOutput))
	return b.newStackContainer(n, stackContainer{
		role: "grafana", image: image, files: files,
		dataPath: "/var/lib/grafana", internal: grafanaPort, external: b.args.Monitoring.Ports.Grafana,
		command: grafanaCommand, env: env, healthPath: "/api/health",
		user:       "root",
		entrypoint: []string{"/bin/sh", rocketChatEntrypointPath, grafanaUser, rocketChatSecretsUpload, rocketChatSecretsCopy},
		uploads: docker.ContainerUploadArray{
			docker.ContainerUploadArgs{File: pulumi.String(rocketChatEntrypointPath), Content: pulumi.String(rocketChatEntrypoint), Permissions: pulumi.String(scriptFileMode)},
			docker.ContainerUploadArgs{File: pulumi.String(rocketChatSecretsUpload), Content: secrets.ToStringPtrOutput(), Permissions: pulumi.String(secretFileMode)},
		},
	})
}

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
