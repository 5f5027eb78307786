package components

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/rocketchat-ha/rocketchat-ha/internal/check"
	"github.com/rocketchat-ha/rocketchat-ha/internal/nginx"
	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
)

var apiVer = regexp.MustCompile(`^1\.([0-9]{1,3})$`)

// WithDefaults returns a copy of args with every empty plain field set to
// its default: the nodes' and the load balancer's too. It does not validate.
func (a RocketChatHAArgs) WithDefaults() RocketChatHAArgs {
	out := a
	if out.ReplicaSetName == "" {
		out.ReplicaSetName = DefaultReplicaSetName
	}
	if out.WaitSeconds == 0 {
		out.WaitSeconds = DefaultWaitSeconds
	}
	if out.MongoFeatureCompatibility == "" {
		out.MongoFeatureCompatibility = featureCompatibilityAuto
	}
	if out.DockerAPIVersion == "" {
		out.DockerAPIVersion = DefaultDockerAPIVersion
	}
	out.Nodes = make([]Node, len(a.Nodes))
	for i, n := range a.Nodes {
		out.Nodes[i] = n.WithDefaults()
	}
	out.LoadBalancer = a.LoadBalancer.WithDefaults(out.Nodes)
	out.Monitoring = a.Monitoring.WithDefaults()
	out.Backup = a.Backup.WithDefaults(out.Nodes)
	return out
}

// WithDefaults returns a copy of n with the default Docker host
// (ssh://root@<Address>) and default ports filled in.
func (n Node) WithDefaults() Node {
	if n.DockerHost == "" && n.Address != "" {
		n.DockerHost = "ssh://root@" + n.Address
	}
	n.Ports = n.Ports.WithDefaults()
	return n
}

// WithDefaults returns a copy of p with zero ports set to the defaults.
func (p Ports) WithDefaults() Ports {
	if p.Mongo == 0 {
		p.Mongo = DefaultMongoPort
	}
	if p.RocketChat == 0 {
		p.RocketChat = DefaultRocketChatPort
	}
	if p.Instance == 0 {
		p.Instance = DefaultInstancePort
	}
	if p.MongoExporter == 0 {
		p.MongoExporter = DefaultMongoExporterPort
	}
	if p.RocketChatMetrics == 0 {
		p.RocketChatMetrics = DefaultRocketChatMetricsPort
	}
	return p
}

// WithDefaults returns a copy of lb with its defaults: the first of nodes
// three (or all) host one each unless Node or DockerHost says otherwise, they
// bind 0.0.0.0 on ports 80 and 443, and accept bodies up to 200M.
func (lb LoadBalancer) WithDefaults(nodes []Node) LoadBalancer {
	switch {
	case len(lb.Nodes) > 0 || lb.DockerHost != "":
	case lb.Node != "":
		lb.Nodes = []string{lb.Node}
	default:
		for _, n := range nodes[:min(len(nodes), DefaultLoadBalancerCount)] {
			lb.Nodes = append(lb.Nodes, n.Name)
		}
	}
	if lb.BindAddress == "" {
		lb.BindAddress = "0.0.0.0"
	}
	if lb.HTTPPort == 0 {
		lb.HTTPPort = DefaultHTTPPort
	}
	if lb.HTTPSPort == 0 {
		lb.HTTPSPort = DefaultHTTPSPort
	}
	if lb.ClientMaxBodySize == "" {
		lb.ClientMaxBodySize = nginx.DefaultClientMaxBodySize
	}
	return lb
}

// Validate checks the plain (non-Input) parts of args, which must already
// have their defaults (WithDefaults). Each error names the field at fault as
// it is spelled in Go, for example `Nodes[1].Name`, and all problems are
// reported together; the stacks package maps the names to its config keys.
func (a RocketChatHAArgs) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}

	switch {
	case len(a.Nodes) == 0:
		bad("Nodes", "at least one node is required")
	case len(a.Nodes) > replicaset.MaxReplicaSetMembers:
		bad("Nodes", "%d nodes given; a MongoDB replica set has at most %d members", len(a.Nodes), replicaset.MaxReplicaSetMembers)
	}
	for i, u := range a.Unreachable {
		known := false
		for _, n := range a.Nodes {
			known = known || n.Name == u
		}
		switch {
		case !known:
			bad(fmt.Sprintf("Unreachable[%d]", i), "%q is not the name of a node", u)
		case len(a.Unreachable) >= len(a.Nodes):
			bad("Unreachable", "every node is unreachable")
		}
	}
	if !check.ReplicaSetName(a.ReplicaSetName) {
		bad("ReplicaSetName", "%q must be 1-64 letters, digits, '-' or '_'", a.ReplicaSetName)
	}
	if a.WaitSeconds < 1 || a.WaitSeconds > 86400 {
		bad("WaitSeconds", "must be between 1 and 86400 seconds, got %d", a.WaitSeconds)
	}
	if m := a.MongoFeatureCompatibility; m != featureCompatibilityAuto && m != featureCompatibilityManual {
		bad("MongoFeatureCompatibility", "%q, want %q or %q", m, featureCompatibilityAuto, featureCompatibilityManual)
	}
	if _, err := apiMinor(a.DockerAPIVersion); err != nil {
		bad("DockerAPIVersion", "%v", err)
	}

	names := map[string]int{}
	claims := portClaims{}
	// claim reserves port on addr of host for key; who, when set, says
	// which of several users of the same key it is.
	claim := func(key, who, host, addr string, port int) {
		label, prefix := key, ""
		if who != "" {
			label, prefix = key+" of "+who, who+": "
		}
		if prev := claims.claim(label, host, addr, port); prev != "" {
			bad(key, "%sport %d on %s is already used by %s on the same Docker host %s", prefix, port, addr, prev, host)
		}
	}
	for i, n := range a.Nodes {
		key := fmt.Sprintf("Nodes[%d]", i)
		if !check.DNSLabel(n.Name) {
			bad(key+".Name", "%q is not a DNS label (lower-case letters, digits and '-', at most 63)", n.Name)
		} else if j, dup := names[n.Name]; dup {
			bad(key+".Name", "%q duplicates Nodes[%d].Name", n.Name, j)
		} else {
			names[n.Name] = i
		}
		if err := checkAddress(n.Address); err != nil {
			bad(key+".Address", "%v", err)
		} else if ip := net.ParseIP(n.Address); ip != nil && ip.To4() == nil {
			bad(key+".Address", "%q is an IPv6 address: pulumi-docker stores a container's extra hosts entries as name:ip and "+
				"cannot read an IPv6 one back, so every `pulumi up` would replace every container; give a host name that resolves to it", n.Address)
		}
		if err := checkDockerHost(n.DockerHost, n.DockerTLS); err != nil {
			bad(key+".DockerHost", "%v", err)
		}
		ports := []struct {
			name string
			port int
		}{{"Mongo", n.Ports.Mongo}, {"RocketChat", n.Ports.RocketChat}, {"Instance", n.Ports.Instance}}
		for _, p := range ports {
			pk := key + ".Ports." + p.name
			if p.port < 1 || p.port > 65535 {
				bad(pk, "%d is not a TCP port (1-65535)", p.port)
				continue
			}
			claim(pk, "", n.DockerHost, n.Address, p.port)
		}
	}

	lb := a.LoadBalancer
	// The Docker hosts that run a load balancer, and which one it is.
	type lbHost struct{ host, who string }
	var lbHosts []lbHost
	if lb.DockerHost != "" {
		lbHosts = []lbHost{{lb.DockerHost, ""}}
		if err := checkDockerHost(lb.DockerHost, lb.DockerTLS); err != nil {
			bad("LoadBalancer.DockerHost", "%v", err)
		}
		if lb.Node != "" || len(lb.Nodes) > 0 {
			bad("LoadBalancer", "set either Nodes (or Node) or DockerHost, not both")
		}
		// A unix:// host has no host name for the url output.
		if strings.HasPrefix(lb.DockerHost, "unix://") && lb.Address == "" && isUnspecified(lb.BindAddress) {
			bad("LoadBalancer.Address", "is required with a unix:// LoadBalancer.DockerHost that binds %s: "+
				"the host name or IP clients use for the url", lb.BindAddress)
		}
	}
	if lb.Node != "" && (len(lb.Nodes) != 1 || lb.Nodes[0] != lb.Node) {
		bad("LoadBalancer", "set either Nodes or Node (the older spelling of one node), not both")
	}
	var lbNodes []Node
	seenLB := map[string]int{}
	for i, name := range lb.Nodes {
		key := fmt.Sprintf("LoadBalancer.Nodes[%d]", i)
		if lb.Node != "" {
			key = "LoadBalancer.Node"
		}
		j, ok := names[name]
		switch {
		case !ok:
			if len(a.Nodes) > 0 {
				bad(key, "%q is not the name of any entry in Nodes", name)
			}
		case seenLB[name] > 0:
			bad(key, "%q repeats LoadBalancer.Nodes[%d]", name, seenLB[name]-1)
		default:
			lbNodes = append(lbNodes, a.Nodes[j])
			lbHosts = append(lbHosts, lbHost{a.Nodes[j].DockerHost, "the load balancer on " + name})
		}
		seenLB[name] = i + 1
	}
	if lb.DockerHost == "" && len(lb.Nodes) == 0 && len(a.Nodes) > 0 {
		bad("LoadBalancer.Nodes", "is empty: at least one node must run a load balancer")
	}
	checkVirtualIP(lb, lbNodes, a.Nodes, bad)
	lbAddr := lb.BindAddress
	if ip := net.ParseIP(lb.BindAddress); ip == nil {
		bad("LoadBalancer.BindAddress", "%q is not an IP address", lb.BindAddress)
	}
	if lb.Address != "" {
		if err := checkAddress(lb.Address); err != nil {
			bad("LoadBalancer.Address", "%v", err)
		}
	}
	tls := lb.Certificate != nil
	for _, p := range []struct {
		key  string
		port int
		use  bool
	}{{"LoadBalancer.HTTPPort", lb.HTTPPort, true}, {"LoadBalancer.HTTPSPort", lb.HTTPSPort, tls}} {
		if p.port < 1 || p.port > 65535 {
			bad(p.key, "%d is not a TCP port (1-65535)", p.port)
		} else if p.use {
			for _, h := range lbHosts {
				claim(p.key, h.who, h.host, lbAddr, p.port)
			}
		}
	}
	if (lb.Certificate == nil) != (lb.PrivateKey == nil) {
		if lb.Certificate != nil {
			bad("LoadBalancer.PrivateKey", "a TLS certificate was given without its private key")
		} else {
			bad("LoadBalancer.Certificate", "a TLS private key was given without its certificate")
		}
	}
	if !check.NginxSize(lb.ClientMaxBodySize) {
		bad("LoadBalancer.ClientMaxBodySize", "%q is not an nginx size such as 0, 512k or 200M", lb.ClientMaxBodySize)
	}
	for i, p := range lb.TrustedProxies {
		if _, _, err := net.ParseCIDR(p); err != nil && net.ParseIP(p) == nil {
			bad(fmt.Sprintf("LoadBalancer.TrustedProxies[%d]", i), "%q is neither an IP address nor a CIDR", p)
		}
	}
	a.validateMonitoring(bad, claim)
	a.Backup.validate(a, bad)
	return errors.Join(errs...)
}

// checkVirtualIP checks the virtual IP settings against the load-balancer
// nodes (lbNodes) and every node.
func checkVirtualIP(lb LoadBalancer, lbNodes, nodes []Node, bad func(key, format string, args ...any)) {
	if lb.VirtualIP == "" {
		if lb.Interface != "" {
			bad("LoadBalancer.Interface", "is set without LoadBalancer.VirtualIP")
		}
		if lb.VirtualRouterID != 0 {
			bad("LoadBalancer.VirtualRouterID", "is set without LoadBalancer.VirtualIP")
		}
		return
	}
	vip, err := parseVirtualIP(lb.VirtualIP)
	if err != nil {
		bad("LoadBalancer.VirtualIP", "%v", err)
		return
	}
	if lb.Interface == "" {
		bad("LoadBalancer.Interface", "is required with LoadBalancer.VirtualIP: the host interface that carries %s, for example eth0", vip.Addr())
	} else if !ifaceName.MatchString(lb.Interface) {
		bad("LoadBalancer.Interface", "%q is not a network interface name", lb.Interface)
	}
	if lb.VirtualRouterID < 0 || lb.VirtualRouterID > 255 {
		bad("LoadBalancer.VirtualRouterID", "%d is out of range 1-255 (0 derives one from the cluster name)", lb.VirtualRouterID)
	}
	if lb.DockerHost != "" {
		bad("LoadBalancer.VirtualIP", "needs load balancers on the nodes (LoadBalancer.Nodes), not on LoadBalancer.DockerHost")
		return
	}
	if len(lbNodes) < 2 {
		bad("LoadBalancer.VirtualIP", "needs at least two load-balancer nodes (LoadBalancer.Nodes has %d): with one there is nothing to fail over to", len(lbNodes))
	}
	inNetwork := false
	for _, n := range nodes {
		if a, err := netip.ParseAddr(n.Address); err == nil && a == vip.Addr() {
			bad("LoadBalancer.VirtualIP", "%s is the address of Nodes[%s]; the virtual IP must be an unused address", vip.Addr(), n.Name)
		}
	}
	for _, n := range lbNodes {
		a, err := netip.ParseAddr(n.Address)
		if err != nil || !a.Is4() {
			bad("LoadBalancer.VirtualIP", "load-balancer node %s has address %q; VRRP's unicast peers need IPv4 node addresses", n.Name, n.Address)
			continue
		}
		if vip.Contains(a) {
			inNetwork = true
		}
	}
	if !inNetwork && len(lbNodes) > 0 {
		bad("LoadBalancer.VirtualIP", "%s is not inside the network of any load-balancer node; give the prefix if it is not /%d (for example %s/16)",
			vip, DefaultVirtualIPPrefix, vip.Addr())
	}
}

// parseVirtualIP reads an IPv4 address with an optional prefix length
// (DefaultVirtualIPPrefix when absent) as the virtual IP's network.
func parseVirtualIP(s string) (netip.Prefix, error) {
	if !strings.Contains(s, "/") {
		s += "/" + strconv.Itoa(DefaultVirtualIPPrefix)
	}
	p, err := netip.ParsePrefix(s)
	if err != nil || !p.Addr().Is4() || p.Bits() < 1 {
		return netip.Prefix{}, fmt.Errorf("%q is not an IPv4 address with an optional /prefix (for example 10.0.0.100/24)", strings.TrimSuffix(s, "/"+strconv.Itoa(DefaultVirtualIPPrefix)))
	}
	return p, nil
}

var ifaceName = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,15}$`)

// portClaims records which setting uses a port on an address of a Docker
// host. 0.0.0.0 collides with every address of the same host.
type portClaims map[string]map[int]map[string]string // host -> port -> addr -> key

// claim reserves port on addr of host for key. It returns the key of an
// earlier claim that collides, or "".
func (c portClaims) claim(key, host, addr string, port int) string {
	if c[host] == nil {
		c[host] = map[int]map[string]string{}
	}
	byAddr := c[host][port]
	if byAddr == nil {
		byAddr = map[string]string{}
		c[host][port] = byAddr
	}
	for a, prev := range byAddr {
		if a == addr || a == "0.0.0.0" || addr == "0.0.0.0" {
			return prev
		}
	}
	byAddr[addr] = key
	return ""
}

// checkAddress accepts an IP address or a DNS host name.
func checkAddress(addr string) error {
	if addr == "" {
		return errors.New("is required (the node's private IP or host name)")
	}
	if net.ParseIP(addr) != nil {
		return nil
	}
	if check.HostName(addr) {
		return nil
	}
	return fmt.Errorf("%q is neither an IP address nor a host name", addr)
}

// checkDockerHost accepts ssh://user@host[:port], tcp://host:port and
// unix:///path.
func checkDockerHost(h string, tls *DockerTLS) error {
	u, err := url.Parse(h)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", h, err)
	}
	if strings.ContainsAny(h, " \t\r\n") {
		return fmt.Errorf("%q holds white space", h)
	}
	switch u.Scheme {
	case "ssh":
		if u.Host == "" {
			return fmt.Errorf("%q has no host (want ssh://user@host)", h)
		}
	case "tcp":
		if u.Hostname() == "" || u.Port() == "" {
			return fmt.Errorf("%q needs a host and a port (want tcp://host:2376)", h)
		}
		// Docker over plain TCP is unauthenticated root access to the host.
		if tls == nil || tls.CA == nil || tls.Cert == nil || tls.Key == nil {
			return fmt.Errorf("%q needs TLS: set DockerTLS (CA, Cert and Key); plain tcp:// gives anyone root on the host", h)
		}
	case "unix":
		if u.Path == "" || !strings.HasPrefix(u.Path, "/") {
			return fmt.Errorf("%q needs an absolute socket path (want unix:///var/run/docker.sock)", h)
		}
	default:
		return fmt.Errorf("%q has unknown scheme %q (want ssh://, tcp:// or unix://)", h, u.Scheme)
	}
	return nil
}

// isUnspecified reports whether addr is 0.0.0.0 or ::.
func isUnspecified(addr string) bool {
	ip := net.ParseIP(addr)
	return ip != nil && ip.IsUnspecified()
}

// apiMinor returns the minor number of a Docker Engine API version such as
// "1.41", refusing versions older than the oldest supported one.
func apiMinor(v string) (int, error) {
	m := apiVer.FindStringSubmatch(v)
	if m == nil {
		return 0, fmt.Errorf("%q is not a Docker Engine API version such as 1.41 (see `docker version`, API version)", v)
	}
	minor, _ := strconv.Atoi(m[1])
	if minor < minDockerAPIMinor {
		return 0, fmt.Errorf("%q is older than the oldest supported Docker Engine API, %s (Docker 20.10)", v, DefaultDockerAPIVersion)
	}
	return minor, nil
}

// minDockerAPIMinor is the minor number of DefaultDockerAPIVersion.
const minDockerAPIMinor = 41
