package components

import (
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Ports nginx listens on inside its container.
const (
	lbHTTPPort  = 80
	lbHTTPSPort = 443
)

// lbHost returns the provider and the address the load balancer runs on.
func (b *builder) lbHost() (pulumi.ProviderResource, string, error) {
	lb := b.args.LoadBalancer
	if lb.DockerHost != "" {
		p, err := newDockerProvider(b.ctx, b.name+"-docker-lb", lb.DockerHost, lb.DockerTLS, pulumi.Parent(b.comp))
		if err != nil {
			return nil, "", err
		}
		u, _ := url.Parse(lb.DockerHost)
		return p, u.Hostname(), nil
	}
	for i, n := range b.args.Nodes {
		if n.Name == lb.Node {
			return b.providers[i], n.Address, nil
		}
	}
	return nil, "", fmt.Errorf("loadBalancer.node: %q is not in nodes", lb.Node)
}

// nginxConfig is the load balancer's configuration for a root URL.
func (b *builder) nginxConfig(rootURL string) NginxConfig {
	lb := b.args.LoadBalancer
	ups := make([]string, len(b.args.Nodes))
	for i, n := range b.args.Nodes {
		ups[i] = net.JoinHostPort(n.Address, strconv.Itoa(n.Ports.RocketChat))
	}
	server := "_"
	if u, err := url.Parse(rootURL); err == nil && u.Hostname() != "" {
		server = u.Hostname()
	}
	return NginxConfig{
		Upstreams:         ups,
		HTTPPort:          lbHTTPPort,
		HTTPSPort:         lbHTTPSPort,
		PublicHTTPSPort:   lb.HTTPSPort,
		TLS:               lb.Certificate != nil,
		ServerName:        server,
		ClientMaxBodySize: lb.ClientMaxBodySize,
		HTTP2On:           true,
		TrustedProxies:    lb.TrustedProxies,
	}
}

// newLoadBalancer registers the nginx image and container. It depends on
// every Rocket.Chat container, so it starts after its upstreams exist and,
// on scale-in, is reconfigured before removed nodes are deleted. Its
// configuration is an upload, so a change of nodes or certificate replaces
// the container: clients reconnect once (see README).
func (b *builder) newLoadBalancer(rockets []pulumi.Resource) (*docker.Container, pulumi.StringOutput, error) {
	lb := b.args.LoadBalancer
	provider, hostAddr, err := b.lbHost()
	if err != nil {
		return nil, pulumi.StringOutput{}, err
	}
	name := b.name + "-lb"
	img, err := docker.NewRemoteImage(b.ctx, name+"-image", &docker.RemoteImageArgs{
		Name:        b.nginxImage,
		KeepLocally: pulumi.Bool(true),
	}, pulumi.Parent(b.comp), pulumi.Provider(provider))
	if err != nil {
		return nil, pulumi.StringOutput{}, fmt.Errorf("load balancer image: %w", err)
	}

	conf := b.args.RootURL.ToStringOutput().ApplyT(func(root string) (string, error) {
		text, err := RenderNginx(b.nginxConfig(root))
		if err != nil {
			return "", fmt.Errorf("load balancer config: %w", err)
		}
		return text, nil
	}).(pulumi.StringOutput)
	uploads := docker.ContainerUploadArray{docker.ContainerUploadArgs{
		File: pulumi.String("/etc/nginx/nginx.conf"), Content: conf.ToStringPtrOutput(),
	}}
	ports := docker.ContainerPortArray{docker.ContainerPortArgs{
		Internal: pulumi.Int(lbHTTPPort), External: pulumi.Int(lb.HTTPPort), Ip: pulumi.String(lb.BindAddress),
	}}
	cfg := b.nginxConfig("")
	if cfg.TLS {
		uploads = append(uploads,
			docker.ContainerUploadArgs{File: pulumi.String(DefaultNginxCertFile), Content: secretPtr(lb.Certificate)},
			docker.ContainerUploadArgs{File: pulumi.String(DefaultNginxKeyFile), Content: secretPtr(lb.PrivateKey)},
		)
		ports = append(ports, docker.ContainerPortArgs{
			Internal: pulumi.Int(lbHTTPSPort), External: pulumi.Int(lb.HTTPSPort), Ip: pulumi.String(lb.BindAddress),
		})
	}
	args := &docker.ContainerArgs{
		Name:    pulumi.String(name),
		Image:   img.ImageId,
		Uploads: uploads,
		Ports:   ports,
		Labels:  labels(b.name, "", "loadbalancer"),
		Healthcheck: docker.ContainerHealthcheckArgs{
			Tests:       pulumi.ToStringArray(NginxHealthcheck(cfg)),
			Interval:    pulumi.String("10s"),
			Timeout:     pulumi.String("5s"),
			Retries:     pulumi.Int(3),
			StartPeriod: pulumi.String("5s"),
		},
	}
	hygiene(args, b.args.WaitSeconds)
	c, err := docker.NewContainer(b.ctx, name, args, containerOptions(provider, b.comp, rockets)...)
	if err != nil {
		return nil, pulumi.StringOutput{}, fmt.Errorf("load balancer container: %w", err)
	}
	return c, pulumi.String(lbURL(lb, hostAddr, cfg.TLS)).ToStringOutput(), nil
}

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
