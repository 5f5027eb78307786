package nginx

import (
	_ "embed"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/rocketchat-ha/rocketchat-ha/internal/check"
)

// HealthPath is answered by nginx itself with 200 "ok", on plain HTTP even
// when TLS is on and everything else on port 80 redirects to https. It serves the
// load balancer container's healthcheck and external load balancers.
const HealthPath = "/nginx-health"

// Defaults applied by Config.WithDefaults. They fit the official nginx
// alpine image, with the certificate and key uploaded to /etc/nginx/tls/.
const (
	DefaultCertFile          = "/etc/nginx/tls/tls.crt"
	DefaultKeyFile           = "/etc/nginx/tls/tls.key"
	DefaultClientMaxBodySize = "200M" // Rocket.Chat's multi-instance nginx example
	DefaultPidFile           = "/var/run/nginx.pid"
	DefaultErrorLog          = "/var/log/nginx/error.log"  // the image links it to stderr
	DefaultAccessLog         = "/var/log/nginx/access.log" // the image links it to stdout
	DefaultTempDir           = "/var/cache/nginx"
	DefaultUser              = "nginx"
	DefaultMaxFails          = 3
	DefaultFailTimeout       = 10 * time.Second
	DefaultKeepalive         = 32
	DefaultProxyTimeout      = time.Hour
	DefaultConnectTimeout    = 5 * time.Second
)

// Config describes the load balancer in front of the Rocket.Chat instances.
// The zero value of every optional field means "use the default" (see WithDefaults).
type Config struct {
	Upstreams     []string // "host:port" of each Rocket.Chat node, in node order
	ListenAddress string   // inside the container: "" = all interfaces
	HTTPPort      int      // 80 in the container
	HTTPSPort     int      // 443 in the container; used only when TLS
	TLS           bool
	// CertFile and KeyFile default to DefaultCertFile and DefaultKeyFile
	// when TLS is on and both are empty. Setting them without TLS is an error.
	CertFile, KeyFile string
	ServerName        string // from rootUrl host, "_" when unknown
	ClientMaxBodySize string // nginx size such as "200M"; "0" disables the check
	// PidFile, ErrorLog, AccessLog and TempDir default to the container paths;
	// tests override them to a temporary prefix. AccessLog may be "off".
	PidFile, ErrorLog, AccessLog, TempDir string

	// User runs the worker processes; default "nginx" (the image's user). nginx
	// ignores it, with a warning, when the master does not run as root.
	User string
	// WorkerProcesses is the number of workers; 0 means "auto" (one per CPU).
	WorkerProcesses int
	// WorkerConnections per worker; default 4096. Each websocket uses two.
	WorkerConnections int
	// PublicHTTPSPort is the port clients use for https, written into the
	// http->https redirect; default HTTPSPort. 443 is left out of the URL.
	PublicHTTPSPort int
	// TrustedProxies lists addresses or CIDRs of load balancers in front of
	// this one. Their X-Forwarded-For decides the client address (stickiness,
	// X-Real-IP) and their X-Forwarded-Proto is passed on; nobody else's is.
	TrustedProxies []string
	// MaxFails and FailTimeout are the passive health check: after MaxFails
	// failed attempts within FailTimeout a node is skipped for FailTimeout.
	MaxFails    int
	FailTimeout time.Duration
	// Keepalive is the number of idle upstream connections each worker keeps.
	Keepalive int
	// ProxyTimeout bounds the silence on a proxied connection (read and send);
	// long, so idle websockets stay open. Default one hour.
	ProxyTimeout time.Duration
	// ConnectTimeout bounds connecting to a node before trying the next one.
	ConnectTimeout time.Duration
	// HTTP2On writes "http2 on;" (nginx 1.25.1 and later) instead of the older
	// "listen ... ssl http2", which newer nginx accepts with a deprecation warning.
	HTTP2On bool
	// Status, when set, adds the private status server of monitoring
	// (status.go).
	Status *Status
}

//go:embed nginx.conf.tmpl
var nginxTemplateText string

var nginxTemplate = template.Must(template.New("nginx.conf").Parse(nginxTemplateText))

// WithDefaults returns a copy of c with every empty optional field set to its
// default. It does not validate.
func (c Config) WithDefaults() Config {
	c.Upstreams = append([]string(nil), c.Upstreams...)
	c.TrustedProxies = append([]string(nil), c.TrustedProxies...)
	if c.HTTPPort == 0 {
		c.HTTPPort = 80
	}
	if c.HTTPSPort == 0 {
		c.HTTPSPort = 443
	}
	if c.PublicHTTPSPort == 0 {
		c.PublicHTTPSPort = c.HTTPSPort
	}
	if c.TLS && c.CertFile == "" && c.KeyFile == "" {
		c.CertFile, c.KeyFile = DefaultCertFile, DefaultKeyFile
	}
	if c.ServerName == "" {
		c.ServerName = "_"
	}
	if c.ClientMaxBodySize == "" {
		c.ClientMaxBodySize = DefaultClientMaxBodySize
	}
	if c.PidFile == "" {
		c.PidFile = DefaultPidFile
	}
	if c.ErrorLog == "" {
		c.ErrorLog = DefaultErrorLog
	}
	if c.AccessLog == "" {
		c.AccessLog = DefaultAccessLog
	}
	if c.TempDir == "" {
		c.TempDir = DefaultTempDir
	}
	if c.User == "" {
		c.User = DefaultUser
	}
	if c.WorkerConnections == 0 {
		c.WorkerConnections = 4096
	}
	if c.MaxFails == 0 {
		c.MaxFails = DefaultMaxFails
	}
	if c.FailTimeout == 0 {
		c.FailTimeout = DefaultFailTimeout
	}
	if c.Keepalive == 0 {
		c.Keepalive = DefaultKeepalive
	}
	if c.ProxyTimeout == 0 {
		c.ProxyTimeout = DefaultProxyTimeout
	}
	if c.ConnectTimeout == 0 {
		c.ConnectTimeout = DefaultConnectTimeout
	}
	return c
}

var (
	nginxHostnameRe = regexp.MustCompile(`^([A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)(\.[A-Za-z0-9]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?)*\.?$`)
	nginxUserRe     = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]{0,31}$`)
)

// Validate reports every problem of c (after defaults), joined into one error
// whose lines each name the field at fault.
func (c Config) Validate() error {
	c = c.WithDefaults()
	var errs []error
	bad := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("nginx config: "+format, a...))
	}

	if len(c.Upstreams) == 0 {
		bad("Upstreams is empty: the load balancer needs at least one Rocket.Chat node (host:port)")
	}
	seen := map[string]int{}
	for i, u := range c.Upstreams {
		if err := checkHostPort(u); err != nil {
			bad("Upstreams[%d] %q: %v", i, u, err)
			continue
		}
		if j, dup := seen[strings.ToLower(u)]; dup {
			bad("Upstreams[%d] %q repeats Upstreams[%d]", i, u, j)
		}
		seen[strings.ToLower(u)] = i
	}

	if c.ListenAddress != "" {
		if _, err := netip.ParseAddr(c.ListenAddress); err != nil {
			bad("ListenAddress %q is not an IP address (leave it empty for all interfaces)", c.ListenAddress)
		}
	}
	checkPort := func(name string, p int) {
		if p < 1 || p > 65535 {
			bad("%s %d is out of range 1-65535", name, p)
		}
	}
	checkPort("HTTPPort", c.HTTPPort)
	if c.TLS {
		checkPort("HTTPSPort", c.HTTPSPort)
		checkPort("PublicHTTPSPort", c.PublicHTTPSPort)
		if c.HTTPSPort == c.HTTPPort {
			bad("HTTPSPort and HTTPPort are both %d; TLS needs two ports", c.HTTPPort)
		}
		if c.CertFile == "" {
			bad("TLS is on but CertFile is empty while KeyFile is %q; give both or neither (defaults %s, %s)",
				c.KeyFile, DefaultCertFile, DefaultKeyFile)
		}
		if c.KeyFile == "" {
			bad("TLS is on but KeyFile is empty while CertFile is %q; give both or neither (defaults %s, %s)",
				c.CertFile, DefaultCertFile, DefaultKeyFile)
		}
	} else if c.CertFile != "" || c.KeyFile != "" {
		bad("CertFile/KeyFile are set (%q, %q) but TLS is off; set TLS or leave them empty", c.CertFile, c.KeyFile)
	}
	for _, f := range []struct{ name, val string }{{"CertFile", c.CertFile}, {"KeyFile", c.KeyFile}} {
		if f.val != "" {
			if err := checkNginxPath(f.val); err != nil {
				bad("%s %q: %v", f.name, f.val, err)
			}
		}
	}
	for _, f := range []struct{ name, val string }{
		{"PidFile", c.PidFile}, {"ErrorLog", c.ErrorLog}, {"AccessLog", c.AccessLog}, {"TempDir", c.TempDir},
	} {
		if err := checkNginxPath(f.val); err != nil {
			bad("%s %q: %v", f.name, f.val, err)
		}
	}

	if c.ServerName != "_" && (strings.HasPrefix(c.ServerName, "-") || !nginxHostnameRe.MatchString(c.ServerName)) {
		bad("ServerName %q is not a host name (use \"_\" when unknown)", c.ServerName)
	}
	if !check.NginxSize(c.ClientMaxBodySize) {
		bad("ClientMaxBodySize %q is not an nginx size such as 200M, 512k, 1g or 0 (no limit)", c.ClientMaxBodySize)
	}
	if !nginxUserRe.MatchString(c.User) {
		bad("User %q is not a user name", c.User)
	}
	if c.WorkerProcesses < 0 {
		bad("WorkerProcesses %d is negative (0 means one per CPU)", c.WorkerProcesses)
	}
	if c.WorkerConnections < 16 {
		bad("WorkerConnections %d is below 16", c.WorkerConnections)
	}
	if c.MaxFails < 0 {
		bad("MaxFails %d is negative", c.MaxFails)
	}
	if c.Keepalive < 0 {
		bad("Keepalive %d is negative", c.Keepalive)
	}
	for _, d := range []struct {
		name string
		val  time.Duration
	}{{"FailTimeout", c.FailTimeout}, {"ProxyTimeout", c.ProxyTimeout}, {"ConnectTimeout", c.ConnectTimeout}} {
		if d.val < time.Second || d.val%time.Second != 0 {
			bad("%s %s must be a whole number of seconds, at least 1s", d.name, d.val)
		}
	}
	if c.Status != nil {
		for _, e := range c.Status.problems(c) {
			bad("%s", e)
		}
	}
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err == nil {
			continue
		}
		if _, err := netip.ParseAddr(p); err == nil {
			continue
		}
		bad("TrustedProxies[%d] %q is neither an IP address nor a CIDR", i, p)
	}
	return errors.Join(errs...)
}

func checkHostPort(hp string) error {
	host, port, err := net.SplitHostPort(hp)
	if err != nil {
		return fmt.Errorf("want host:port: %v", err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 1 || n > 65535 || strconv.Itoa(n) != port {
		return fmt.Errorf("port %q is not a number in 1-65535", port)
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if host == "" || !nginxHostnameRe.MatchString(host) || strings.HasPrefix(host, "-") {
		return fmt.Errorf("host %q is neither an IP address nor a host name", host)
	}
	return nil
}

func checkNginxPath(p string) error {
	if p == "" {
		return errors.New("is empty")
	}
	if strings.ContainsAny(p, " \t\r\n;{}'\"#$\\") {
		return errors.New("contains whitespace or one of ;{}'\"#$\\, which nginx.conf cannot hold unquoted")
	}
	return nil
}

// nginxView is what the template sees: every value already in nginx syntax.
type nginxView struct {
	Config
	HTTPListen, HTTPSListen string
	RedirectPort            string
	HealthPath              string
	WorkerProcesses         string
	FailTimeout             string
	ProxyTimeout            string
	ConnectTimeout          string
	NextUpstreamTimeout     string
	Upstreams               []string
	// StatusListen and StatusSelf are the status server's listen address
	// and where it reaches itself (with Status).
	StatusListen, StatusSelf string
}

func nginxSeconds(d time.Duration) string { return strconv.FormatInt(int64(d/time.Second), 10) + "s" }

func nginxListen(addr string, port int) string {
	if addr == "" {
		return strconv.Itoa(port)
	}
	return net.JoinHostPort(addr, strconv.Itoa(port))
}

// Render validates c and returns a complete nginx.conf for it. The file
// needs no include files; it suits the official nginx alpine image and, with
// PidFile, ErrorLog, AccessLog and TempDir pointed at a prefix, Debian's nginx
// started as `nginx -p <prefix> -c <prefix>/nginx.conf`.
func Render(c Config) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	c = c.WithDefaults()
	v := nginxView{
		Config:              c,
		HTTPListen:          nginxListen(c.ListenAddress, c.HTTPPort),
		HTTPSListen:         nginxListen(c.ListenAddress, c.HTTPSPort),
		HealthPath:          HealthPath,
		WorkerProcesses:     "auto",
		FailTimeout:         nginxSeconds(c.FailTimeout),
		ProxyTimeout:        nginxSeconds(c.ProxyTimeout),
		ConnectTimeout:      nginxSeconds(c.ConnectTimeout),
		NextUpstreamTimeout: nginxSeconds(max(30*time.Second, 2*c.ConnectTimeout)),
	}
	if c.WorkerProcesses > 0 {
		v.WorkerProcesses = strconv.Itoa(c.WorkerProcesses)
	}
	if c.Status != nil {
		v.StatusListen = nginxListen(c.ListenAddress, c.Status.Port)
		self := "127.0.0.1"
		if a, err := netip.ParseAddr(c.ListenAddress); err == nil && !a.IsUnspecified() {
			self = c.ListenAddress
		}
		v.StatusSelf = net.JoinHostPort(self, strconv.Itoa(c.Status.Port))
	}
	if c.PublicHTTPSPort != 443 {
		v.RedirectPort = ":" + strconv.Itoa(c.PublicHTTPSPort)
	}
	for _, u := range c.Upstreams {
		host, port, _ := net.SplitHostPort(u)
		v.Upstreams = append(v.Upstreams, net.JoinHostPort(host, port)) // brackets IPv6 consistently
	}
	var b strings.Builder
	if err := nginxTemplate.Execute(&b, v); err != nil {
		return "", fmt.Errorf("rendering nginx.conf: %w", err)
	}
	return b.String(), nil
}

// Healthcheck returns the Docker healthcheck test for the load balancer
// container: busybox wget (present in the nginx alpine image) fetching
// HealthPath over plain HTTP inside the container.
func Healthcheck(c Config) []string {
	c = c.WithDefaults()
	host := "127.0.0.1"
	if c.ListenAddress != "" {
		if a, err := netip.ParseAddr(c.ListenAddress); err == nil && !a.IsUnspecified() {
			host = c.ListenAddress
		}
		if c.ListenAddress == "::" {
			host = "::1"
		}
	}
	url := "http://" + net.JoinHostPort(host, strconv.Itoa(c.HTTPPort)) + HealthPath
	return []string{"CMD", "wget", "-q", "-T", "3", "-O", "/dev/null", url}
}
