package components

import (
	_ "embed"
	"fmt"
	"hash/fnv"
	"net"
	"net/url"
	"strconv"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/internal/nginx"
)

// Ports nginx listens on inside its container.
const (
	lbHTTPPort  = 80
	lbHTTPSPort = 443
)

// lbSite is one load balancer: where it runs and the names of its resources.
type lbSite struct {
	// name prefixes its resources and names its containers: <cluster>-lb
	// for a single load balancer, <cluster>-lb-<node> for several.
	name       string
	node       *node // nil on a separate LoadBalancer.DockerHost
	provider   pulumi.ProviderResource
	address    string // the host's address: url, endpoints, VRRP peers
	dockerHost string
	tls        *DockerTLS
	// formerly lists the names this site's resources had in the other
	// layout (one load balancer <-> several), so that switching layouts
	// replaces them in place instead of adding new ones beside orphans.
	formerly string
}

// aliases are the resource options that carry a site's former name.
func (s lbSite) aliases(suffix string) []pulumi.ResourceOption {
	if s.formerly == "" {
		return nil
	}
	return []pulumi.ResourceOption{pulumi.Aliases([]pulumi.Alias{{Name: pulumi.String(s.formerly + suffix)}})}
}

// lbSites returns where the load balancers run: the separate Docker host,
// or each of LoadBalancer.Nodes in order (Validate made sure they exist).
func (b *builder) lbSites() ([]lbSite, error) {
	lb := b.args.LoadBalancer
	single := b.name + "-lb"
	if lb.DockerHost != "" {
		p, err := newDockerProvider(b.ctx, b.name+"-docker-lb", lb.DockerHost, lb.DockerTLS, pulumi.Parent(b.comp))
		if err != nil {
			return nil, err
		}
		u, _ := url.Parse(lb.DockerHost)
		return []lbSite{{name: single, provider: p, address: u.Hostname(), dockerHost: lb.DockerHost, tls: lb.DockerTLS}}, nil
	}
	byName := map[string]*node{}
	for _, n := range b.nodes {
		byName[n.Name] = n
	}
	var sites []lbSite
	for i, name := range lb.Nodes {
		n := byName[name]
		s := lbSite{name: single + "-" + n.Name, node: n, provider: n.provider, address: n.Address, dockerHost: n.DockerHost, tls: n.DockerTLS}
		switch {
		case len(lb.Nodes) == 1:
			s.name, s.formerly = single, single+"-"+n.Name
		case i == 0:
			s.formerly = single
		}
		sites = append(sites, s)
	}
	return sites, nil
}

// serverName is nginx's server_name for a root URL: its host, or "_".
func serverName(rootURL string) string {
	if u, err := url.Parse(rootURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "_"
}

// nginxConfig is the load balancers' configuration from the plain
// arguments; ServerName, which comes from the root URL (an Input), is "_".
// Every load balancer gets the same one: the same upstream list in node
// order and the same consistent hash, so a client reaches the same
// Rocket.Chat server whichever load balancer it lands on.
func (b *builder) nginxConfig() nginx.Config {
	lb := b.args.LoadBalancer
	ups := make([]string, len(b.nodes))
	for i, n := range b.nodes {
		ups[i] = net.JoinHostPort(n.Address, strconv.Itoa(n.Ports.RocketChat))
	}
	return nginx.Config{
		Upstreams:         ups,
		HTTPPort:          lbHTTPPort,
		HTTPSPort:         lbHTTPSPort,
		PublicHTTPSPort:   lb.HTTPSPort,
		TLS:               lb.Certificate != nil,
		ServerName:        "_",
		ClientMaxBodySize: lb.ClientMaxBodySize,
		HTTP2On:           true,
		TrustedProxies:    lb.TrustedProxies,
		Status:            b.nginxStatus(),
	}
}

// loadBalancers is what newLoadBalancers returns.
type loadBalancers struct {
	url       pulumi.StringOutput
	endpoints []string // host:port of every load balancer
	sites     []lbSite
}

// newLoadBalancers registers every load balancer (and, with a virtual IP,
// its keepalived). They form a chain: each one depends on every Rocket.Chat
// container and on the previous load balancer's config step, so a change
// that replaces them goes one load balancer at a time and the next starts
// only after the previous one is healthy and configured.
func (b *builder) newLoadBalancers(rockets []pulumi.Resource) (loadBalancers, error) {
	lb := b.args.LoadBalancer
	sites, err := b.lbSites()
	if err != nil {
		return loadBalancers{}, err
	}
	cfg := b.nginxConfig()
	conf := b.args.RootURL.ToStringOutput().ApplyT(func(root string) (string, error) {
		c := cfg
		c.ServerName = serverName(root)
		text, err := nginx.Render(c)
		if err != nil {
			return "", fmt.Errorf("load balancer config: %w", err)
		}
		return text, nil
	}).(pulumi.StringOutput)

	var vrrp *vrrpGroup // with a virtual IP
	if lb.VirtualIP != "" {
		if vrrp, err = b.newVRRPGroup(sites); err != nil {
			return loadBalancers{}, err
		}
	}
	out := loadBalancers{sites: sites}
	prev := rockets
	var prevKeepalived pulumi.Resource
	for _, s := range sites {
		step, err := b.newLoadBalancer(s, cfg, conf, prev)
		if err != nil {
			return loadBalancers{}, fmt.Errorf("load balancer %s: %w", s.name, err)
		}
		if step != nil { // nil: its node is down, nothing was registered
			prev = append(append([]pulumi.Resource{}, rockets...), step)
		}
		if vrrp != nil {
			if prevKeepalived, err = b.newKeepalived(s, sites, vrrp, step, prevKeepalived); err != nil {
				return loadBalancers{}, fmt.Errorf("load balancer %s: keepalived: %w", s.name, err)
			}
		}
		out.endpoints = append(out.endpoints, lbEndpoint(lb, s.address, cfg.TLS))
	}
	host := sites[0].address
	if vrrp != nil {
		host = vrrp.ip.Addr().String()
	}
	out.url = pulumi.String(lbURL(lb, host, cfg.TLS)).ToStringOutput()
	return out, nil
}

// newLoadBalancer registers one site's nginx image, container and config
// step, and returns the config step. Its uploads give a new container a
// complete configuration; later changes of the node list or the certificate
// do not replace it: the config step writes them into the running container,
// checks them with `nginx -t` and reloads nginx, which keeps open
// connections.
func (b *builder) newLoadBalancer(s lbSite, cfg nginx.Config, conf pulumi.StringOutput, deps []pulumi.Resource) (*local.Command, error) {
	lb := b.args.LoadBalancer
	img, err := b.newImage(s.node, s.name+"-image", b.nginxImage, s.provider, s.aliases("-image")...)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	uploads := docker.ContainerUploadArray{docker.ContainerUploadArgs{
		File: pulumi.String(nginxConfPath), Content: conf.ToStringPtrOutput(), Permissions: pulumi.String(publicFileMode),
	}}
	published := map[int]int{lbHTTPPort: lb.HTTPPort}
	if cfg.TLS {
		uploads = append(uploads,
			docker.ContainerUploadArgs{File: pulumi.String(nginx.DefaultCertFile), Content: secretPtr(lb.Certificate), Permissions: pulumi.String(secretFileMode)},
			docker.ContainerUploadArgs{File: pulumi.String(nginx.DefaultKeyFile), Content: secretPtr(lb.PrivateKey), Permissions: pulumi.String(secretFileMode)},
		)
		published[lbHTTPSPort] = lb.HTTPSPort
	}
	nodeName := ""
	if s.node != nil {
		nodeName = s.node.Name
	}
	args := &docker.ContainerArgs{
		Name:    pulumi.String(s.name),
		Image:   imageID(img),
		Uploads: uploads,
		Ports:   mergePorts(publish(lb.BindAddress, published), b.statusPorts(s)),
		Volumes: b.vrrpVolume(s, true),
		Labels:  labels(b.name, nodeName, "loadbalancer"),
		Healthcheck: b.healthcheck(health{
			Test:     nginx.Healthcheck(cfg),
			Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 3, StartPeriod: 5 * time.Second,
		}),
	}
	hygiene(args, b.args.WaitSeconds)
	opts := append(containerOptions(s.provider, b.comp, deps), pulumi.IgnoreChanges([]string{"uploads"}))
	var c *docker.Container
	if s.node != nil && s.node.down {
		b.recordContainer(s.node, s.name, args, b.nginxImage, nil)
	} else {
		if c, err = docker.NewContainer(b.ctx, s.name, args, append(opts, s.aliases("")...)...); err != nil {
			return nil, fmt.Errorf("container: %w", err)
		}
		b.recordContainer(s.node, s.name, args, b.nginxImage, c)
	}

	env := pulumi.StringMap{"RCHA_NGINX_CONF": conf, stepEnvContainer: pulumi.String(s.name)}
	if cfg.TLS {
		env["RCHA_TLS_CERT"] = secret(lb.Certificate)
		env["RCHA_TLS_KEY"] = secret(lb.PrivateKey)
	}
	dockerCLIEnv(env, s.dockerHost, s.tls)
	// It runs on the machine running pulumi, with the docker CLI, and reads
	// RCHA_CONTAINER, RCHA_NGINX_CONF (and RCHA_TLS_CERT, RCHA_TLS_KEY).
	stepArgs := containerStep(loadBalancerReload, env)
	// The fingerprint covers what the step is given, not the container
	// it is triggered by (recorded above).
	if c == nil {
		b.record(s.node, s.name+"-config", stepArgs, nil)
		return nil, nil
	}
	fpArgs := *stepArgs
	// A new container (replaced for any reason) gets the current config.
	stepArgs.Triggers = pulumi.Array{c.ID()}
	step, err := local.NewCommand(b.ctx, s.name+"-config", stepArgs, append([]pulumi.ResourceOption{pulumi.Parent(b.comp), pulumi.DependsOn(append(append([]pulumi.Resource{}, deps...), c))}, s.aliases("-config")...)...)
	if err != nil {
		return nil, fmt.Errorf("config step: %w", err)
	}
	b.record(s.node, s.name+"-config", &fpArgs, step)
	return step, nil
}

// loadBalancerReload is the load balancer's config step
// (loadbalancer-reload.sh, after the docker prelude).
//
//go:embed loadbalancer-reload.sh
var loadBalancerReload string

// nginxConfPath is where the official image reads its configuration.
const nginxConfPath = "/etc/nginx/nginx.conf"

// publicHost is the address a load balancer answers on at hostAddr: its
// BindAddress, or hostAddr when it binds every interface.
func publicHost(lb LoadBalancer, hostAddr string) string {
	if lb.BindAddress != "" && !isUnspecified(lb.BindAddress) {
		return lb.BindAddress
	}
	return hostAddr
}

// lbEndpoint is one load balancer's host:port for an outer load balancer
// or DNS: its HTTPS port with TLS, else its HTTP port.
func lbEndpoint(lb LoadBalancer, hostAddr string, tls bool) string {
	port := lb.HTTPPort
	if tls {
		port = lb.HTTPSPort
	}
	return net.JoinHostPort(publicHost(lb, hostAddr), strconv.Itoa(port))
}

// lbURL is the URL clients use: LoadBalancer.Address when set, else host
// (the virtual IP, or the first load balancer's address).
func lbURL(lb LoadBalancer, host string, tls bool) string {
	if lb.Address != "" {
		host = lb.Address
	} else {
		host = publicHost(lb, host)
	}
	scheme, port, def := "http", lb.HTTPPort, DefaultHTTPPort
	if tls {
		scheme, port, def = "https", lb.HTTPSPort, DefaultHTTPSPort
	}
	if port == def {
		return scheme + "://" + hostForURL(host)
	}
	return scheme + "://" + net.JoinHostPort(host, strconv.Itoa(port))
}

// hostForURL brackets IPv6 literals.
func hostForURL(h string) string {
	if ip := net.ParseIP(h); ip != nil && ip.To4() == nil {
		return "[" + h + "]"
	}
	return h
}

// virtualRouterID is LoadBalancer.VirtualRouterID, or one derived from the
// component's name (1..255), so that clusters with different names on one
// network usually differ.
func (b *builder) virtualRouterID() int {
	if id := b.args.LoadBalancer.VirtualRouterID; id != 0 {
		return id
	}
	h := fnv.New32a()
	h.Write([]byte(b.name))
	return 1 + int(h.Sum32()%255)
}
