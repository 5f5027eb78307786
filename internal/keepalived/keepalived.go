// Package keepalived renders the keepalived (VRRP) configuration that moves
// the load balancers' virtual IP between the load-balancer nodes.
package keepalived

import (
	_ "embed"
	"errors"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"text/template"
)

// Defaults applied by Config.WithDefaults.
const (
	DefaultInstance      = "rocketchat_ha"
	DefaultAdvertInt     = 1
	DefaultCheckInterval = 2
	DefaultCheckTimeout  = 3
	// DefaultWget is the wget of the pinned keepalived image (Alpine's
	// busybox) and of Debian.
	DefaultWget = "/usr/bin/wget"
)

// MaxPasswordLength is VRRPv2's limit for auth_type PASS: keepalived uses
// only the first 8 characters.
const MaxPasswordLength = 8

// Config is one node's keepalived configuration. Every load-balancer node
// gets the same one except for Self, Peers and Priority.
type Config struct {
	// RouterName is router_id, a name for logs.
	RouterName string
	// Instance names the vrrp_instance (DefaultInstance when empty).
	Instance string
	// Interface is the host interface that carries the virtual IP.
	Interface string
	// VirtualRouterID is VRRP's router id, 1..255, the same on every node and
	// different from every other VRRP group on the network.
	VirtualRouterID int
	// Priority orders the nodes in an election, 1..254.
	Priority int
	// Self is this node's address (unicast_src_ip); Peers are the other
	// load-balancer nodes' addresses.
	Self  string
	Peers []string
	// Password is VRRP's auth_pass, 1 to 8 characters of [A-Za-z0-9].
	Password string
	// VirtualIP and Prefix are the floating address and its prefix length.
	VirtualIP string
	Prefix    int
	// HealthURL is the local nginx's health endpoint the track script asks.
	HealthURL string
	// Wget is the wget binary the track script runs (DefaultWget).
	Wget string
	// AdvertInt, CheckInterval and CheckTimeout are in seconds.
	AdvertInt, CheckInterval, CheckTimeout int
	// NotifyScript, when set, is run by keepalived on every state change
	// (monitoring: it records whether this node holds the virtual IP).
	NotifyScript string
}

// WithDefaults returns a copy of c with empty optional fields set.
func (c Config) WithDefaults() Config {
	if c.Instance == "" {
		c.Instance = DefaultInstance
	}
	if c.AdvertInt == 0 {
		c.AdvertInt = DefaultAdvertInt
	}
	if c.CheckInterval == 0 {
		c.CheckInterval = DefaultCheckInterval
	}
	if c.CheckTimeout == 0 {
		c.CheckTimeout = DefaultCheckTimeout
	}
	if c.Wget == "" {
		c.Wget = DefaultWget
	}
	if c.RouterName == "" {
		c.RouterName = c.Instance
	}
	return c
}

var (
	word     = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	ifname   = regexp.MustCompile(`^[A-Za-z0-9_.:@-]{1,15}$`)
	password = regexp.MustCompile(`^[A-Za-z0-9]{1,8}$`)
	urlChars = regexp.MustCompile(`^http://[A-Za-z0-9.:\[\]/_-]+$`)
)

// Validate reports every problem of c (after defaults), each naming the field.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf("keepalived config: "+format, a...)) }
	if !word.MatchString(c.Instance) || !word.MatchString(c.RouterName) {
		bad("Instance %q / RouterName %q: want 1-64 letters, digits, '_', '.' or '-'", c.Instance, c.RouterName)
	}
	if !ifname.MatchString(c.Interface) {
		bad("Interface %q is not a network interface name", c.Interface)
	}
	if c.VirtualRouterID < 1 || c.VirtualRouterID > 255 {
		bad("VirtualRouterID %d is out of range 1-255", c.VirtualRouterID)
	}
	if c.Priority < 1 || c.Priority > 254 {
		bad("Priority %d is out of range 1-254", c.Priority)
	}
	ipv4 := func(field, s string) {
		if a, err := netip.ParseAddr(s); err != nil || !a.Is4() {
			bad("%s %q is not an IPv4 address", field, s)
		}
	}
	ipv4("Self", c.Self)
	ipv4("VirtualIP", c.VirtualIP)
	if len(c.Peers) == 0 {
		bad("Peers is empty: a virtual IP needs at least two load-balancer nodes")
	}
	for i, p := range c.Peers {
		ipv4(fmt.Sprintf("Peers[%d]", i), p)
		if p == c.Self {
			bad("Peers[%d] %q is Self", i, p)
		}
	}
	if c.Prefix < 1 || c.Prefix > 32 {
		bad("Prefix %d is out of range 1-32", c.Prefix)
	}
	if !password.MatchString(c.Password) {
		bad("Password must be 1 to %d letters or digits (VRRP auth_type PASS)", MaxPasswordLength)
	}
	if !urlChars.MatchString(c.HealthURL) {
		bad("HealthURL %q is not a plain http:// URL", c.HealthURL)
	}
	if !strings.HasPrefix(c.Wget, "/") || strings.ContainsAny(c.Wget, " \"'") {
		bad("Wget %q is not an absolute path", c.Wget)
	}
	if c.NotifyScript != "" && (!strings.HasPrefix(c.NotifyScript, "/") || strings.ContainsAny(c.NotifyScript, " \"'")) {
		bad("NotifyScript %q is not an absolute path", c.NotifyScript)
	}
	if c.AdvertInt < 1 || c.CheckInterval < 1 || c.CheckTimeout < 1 {
		bad("AdvertInt, CheckInterval and CheckTimeout must be at least 1 second")
	}
	return errors.Join(errs...)
}

//go:embed keepalived.conf.tmpl
var confTemplate string

var tmpl = template.Must(template.New("keepalived.conf").Option("missingkey=error").Parse(confTemplate))

// Render validates c and renders keepalived.conf.
func Render(c Config) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	c = c.WithDefaults()
	data := struct {
		Config
		CheckCommand string
	}{c, c.Wget + " -q -T " + fmt.Sprint(max(1, c.CheckTimeout-1)) + " -O /dev/null " + c.HealthURL}
	var sb strings.Builder
	if err := tmpl.Execute(&sb, data); err != nil {
		return "", fmt.Errorf("keepalived config: %w", err)
	}
	return sb.String(), nil
}
