package components

import (
	_ "embed"
	"fmt"
	"net"
	"net/url"
	"slices"
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

// lbHost is where the load balancer runs.
type lbHost struct {
	provider   pulumi.ProviderResource
	address    string // the host's address, for the url output
	dockerHost string
	tls        *DockerTLS
}

// lbHost returns the Docker host the load balancer runs on: its own, or the
// named node's (Validate made sure it exists).
func (b *builder) lbHost() (lbHost, error) {
	lb := b.args.LoadBalancer
	if lb.DockerHost != "" {
		p, err := newDockerProvider(b.ctx, b.name+"-docker-lb", lb.DockerHost, lb.DockerTLS, pulumi.Parent(b.comp))
		if err != nil {
			return lbHost{}, err
		}
		u, _ := url.Parse(lb.DockerHost)
		return lbHost{p, u.Hostname(), lb.DockerHost, lb.DockerTLS}, nil
	}
	i := slices.IndexFunc(b.nodes, func(n *node) bool { return n.Name == lb.Node })
	n := b.nodes[i]
	return lbHost{n.provider, n.Address, n.DockerHost, n.DockerTLS}, nil
}

// serverName is nginx's server_name for a root URL: its host, or "_".
func serverName(rootURL string) string {
	if u, err := url.Parse(rootURL); err == nil && u.Hostname() != "" {
		return u.Hostname()
	}
	return "_"
}

// nginxConfig is the load balancer's configuration from the plain
// arguments; ServerName, which comes from the root URL (an Input), is "_".
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
	}
}

// newLoadBalancer registers the nginx image, container and config step. The
// container depends on every Rocket.Chat container, so it starts after its
// upstreams exist. Its uploads give it a complete configuration when it is
// created; later changes of the node list or the certificate do not replace
// it: the config step writes them into the running container, checks them
// with `nginx -t` and reloads nginx, which keeps open connections.
func (b *builder) newLoadBalancer(rockets []pulumi.Resource) (pulumi.StringOutput, error) {
	lb := b.args.LoadBalancer
	host, err := b.lbHost()
	if err != nil {
		return pulumi.StringOutput{}, err
	}
	name := b.name + "-lb"
	img, err := docker.NewRemoteImage(b.ctx, name+"-image", &docker.RemoteImageArgs{
		Name:        b.nginxImage,
		KeepLocally: pulumi.Bool(true),
	}, pulumi.Parent(b.comp), pulumi.Provider(host.provider))
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("load balancer image: %w", err)
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
	ports := publish(lb.BindAddress, published)
	args := &docker.ContainerArgs{
		Name:    pulumi.String(name),
		Image:   img.ImageId,
		Uploads: uploads,
		Ports:   ports,
		Labels:  labels(b.name, "", "loadbalancer"),
		Healthcheck: b.healthcheck(health{
			Test:     nginx.Healthcheck(cfg),
			Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 3, StartPeriod: 5 * time.Second,
		}),
	}
	hygiene(args, b.args.WaitSeconds)
	opts := append(containerOptions(host.provider, b.comp, rockets), pulumi.IgnoreChanges([]string{"uploads"}))
	c, err := docker.NewContainer(b.ctx, name, args, opts...)
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("load balancer container: %w", err)
	}

	env := pulumi.StringMap{"RCHA_NGINX_CONF": conf, stepEnvContainer: pulumi.String(name)}
	if cfg.TLS {
		env["RCHA_TLS_CERT"] = secret(lb.Certificate)
		env["RCHA_TLS_KEY"] = secret(lb.PrivateKey)
	}
	dockerCLIEnv(env, host.dockerHost, host.tls)
	// It runs on the machine running pulumi, with the docker CLI, and reads
	// RCHA_CONTAINER, RCHA_NGINX_CONF (and RCHA_TLS_CERT, RCHA_TLS_KEY).
	script := stepScript(loadBalancerReload)
	if _, err := local.NewCommand(b.ctx, name+"-config", &local.CommandArgs{
		Create:      pulumi.String(script),
		Update:      pulumi.String(script),
		Environment: env,
		// A new container (replaced for any reason) gets the current config.
		Triggers: pulumi.Array{c.ID()},
		Logging:  local.LoggingStdoutAndStderr,
	}, pulumi.Parent(b.comp), pulumi.DependsOn([]pulumi.Resource{c})); err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("load balancer config step: %w", err)
	}
	return pulumi.String(lbURL(lb, host.address, cfg.TLS)).ToStringOutput(), nil
}

// loadBalancerReload is the load balancer's config step
// (loadbalancer-reload.sh, after the docker prelude).
//
//go:embed loadbalancer-reload.sh
var loadBalancerReload string

// nginxConfPath is where the official image reads its configuration.
const nginxConfPath = "/etc/nginx/nginx.conf"

// lbURL is the URL the load balancer answers on.
func lbURL(lb LoadBalancer, hostAddr string, tls bool) string {
	host := lb.Address
	if host == "" {
		host = lb.BindAddress
		if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
			host = hostAddr
		}
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
