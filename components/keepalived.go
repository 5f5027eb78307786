package components

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/internal/keepalived"
	"github.com/rocketchat-ha/rocketchat-ha/internal/nginx"
)

// keepalivedConfPath is where the keepalived container reads its config.
const keepalivedConfPath = "/etc/keepalived/keepalived.conf"

// vrrpCapabilities are the only capabilities keepalived keeps: it sets the
// address (NET_ADMIN) and sends VRRP and gratuitous ARP (NET_RAW,
// NET_BROADCAST). They are spelled as Docker 20.10 and later store and
// report them, with the CAP_ prefix: pulumi-docker reads them back from the
// daemon, and "NET_ADMIN" would differ from that on every `pulumi up`
// (capabilities force replacement).
var vrrpCapabilities = []string{"CAP_NET_ADMIN", "CAP_NET_BROADCAST", "CAP_NET_RAW"}

// vrrpGroup is what every keepalived of the cluster shares.
type vrrpGroup struct {
	ip       netip.Prefix
	routerID int
	password pulumi.StringOutput
}

// newVRRPGroup resolves the virtual IP and the VRRP password: the given one,
// or one generated once (8 letters and digits, VRRP's PASS limit).
func (b *builder) newVRRPGroup(sites []lbSite) (*vrrpGroup, error) {
	lb := b.args.LoadBalancer
	ip, err := parseVirtualIP(lb.VirtualIP)
	if err != nil {
		return nil, fmt.Errorf("LoadBalancer.VirtualIP: %w", err)
	}
	g := &vrrpGroup{ip: ip, routerID: b.virtualRouterID()}
	if lb.VRRPPassword != nil {
		g.password = secret(lb.VRRPPassword)
		return g, nil
	}
	p, err := b.generatePassword("vrrp-password", keepalived.MaxPasswordLength)
	if err != nil {
		return nil, err
	}
	g.password = p
	return g, nil
}

// keepalivedConfig renders site s's keepalived.conf: the others are its
// unicast peers, and earlier sites get higher priorities (the first holds
// the address on a fresh cluster; nopreempt keeps it where it is after).
func (b *builder) keepalivedConfig(s lbSite, index int, sites []lbSite, g *vrrpGroup) pulumi.StringOutput {
	var peers []string
	for _, o := range sites {
		if o.name != s.name {
			peers = append(peers, o.address)
		}
	}
	lb := b.args.LoadBalancer
	health := "http://" + hostForURL(healthHost(lb)) + ":" + fmt.Sprint(lb.HTTPPort) + nginx.HealthPath
	return secret(g.password.ApplyT(func(pw string) (string, error) {
		return keepalived.Render(keepalived.Config{
			RouterName:      s.name,
			Interface:       lb.Interface,
			VirtualRouterID: g.routerID,
			Priority:        200 - index,
			Self:            s.address,
			Peers:           peers,
			Password:        pw,
			VirtualIP:       g.ip.Addr().String(),
			Prefix:          g.ip.Bits(),
			HealthURL:       health,
			NotifyScript:    b.vrrpNotifyScript(),
		})
	}).(pulumi.StringOutput))
}

// healthHost is where keepalived (on the host network) reaches the local
// nginx's health endpoint.
func healthHost(lb LoadBalancer) string {
	if isUnspecified(lb.BindAddress) {
		return "127.0.0.1"
	}
	return lb.BindAddress
}

// newKeepalived registers site s's keepalived image and container: host
// networking, only the VRRP capabilities, its config uploaded (it holds the
// VRRP password: mode 0400). It depends on the site's nginx config step and
// on the previous site's keepalived, so that replacements go one node at a
// time and the address always has somewhere to go.
func (b *builder) newKeepalived(s lbSite, sites []lbSite, g *vrrpGroup, nginxStep pulumi.Resource, prev pulumi.Resource) (pulumi.Resource, error) {
	index := 0
	for i, o := range sites {
		if o.name == s.name {
			index = i
		}
	}
	image := b.args.LoadBalancer.KeepalivedImage
	if image == nil {
		image = pulumi.String(DefaultKeepalivedImage)
	}
	name := s.name + "-keepalived"
	img, err := b.newImage(s.node, name+"-image", image, s.provider)
	if err != nil {
		return nil, fmt.Errorf("image: %w", err)
	}
	args := &docker.ContainerArgs{
		Name:  pulumi.String(name),
		Image: imageID(img),
		Entrypoints: pulumi.ToStringArray([]string{
			"/usr/sbin/keepalived", "--dont-fork", "--log-console", "--log-detail", "--use-file", keepalivedConfPath,
		}),
		Capabilities: &docker.ContainerCapabilitiesArgs{
			Adds:  pulumi.ToStringArray(vrrpCapabilities),
			Drops: pulumi.ToStringArray([]string{"ALL"}),
		},
		Uploads: b.keepalivedUploads(docker.ContainerUploadArgs{
			File:        pulumi.String(keepalivedConfPath),
			Content:     b.keepalivedConfig(s, index, sites, g).ToStringPtrOutput(),
			Permissions: pulumi.String(secretFileMode),
		}),
		Volumes: b.vrrpVolume(s, false),
		Labels:  labels(b.name, s.node.Name, "keepalived"),
		Healthcheck: b.healthcheck(health{
			Test:     []string{"CMD", "pidof", "keepalived"},
			Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 3, StartPeriod: 5 * time.Second,
		}),
	}
	hygiene(args, b.args.WaitSeconds)
	// VRRP and the address live on the host's own interface.
	args.NetworkMode = pulumi.String("host")
	deps := []pulumi.Resource{nginxStep}
	if prev != nil {
		deps = append(deps, prev)
	}
	if s.node.down {
		b.recordContainer(s.node, name, args, image, nil)
		return prev, nil
	}
	c, err := docker.NewContainer(b.ctx, name, args, containerOptions(s.provider, b.comp, deps)...)
	if err != nil {
		return nil, fmt.Errorf("container: %w", err)
	}
	b.recordContainer(s.node, name, args, image, c)
	return c, nil
}
