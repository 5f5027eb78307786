package nginx

import (
	"fmt"
	"regexp"
)

// Status is the load balancer's private status server for monitoring. It
// listens on Port inside the container; the component publishes it on the
// node's private address only.
type Status struct {
	Port int
	// Probes are the Rocket.Chat servers probed through this load
	// balancer, each at /rcha/upstream/<Name>.
	Probes []Probe
	// VRRPFile, when set, is served at /rcha/vrrp: the keepalived state
	// file (rcha_vrrp_master 0 or 1) the notify script writes.
	VRRPFile string
}

// Probe is one Rocket.Chat server probed by the status server.
type Probe struct {
	// Name is the node name (a DNS label).
	Name string
	// Upstream is the server's host:port, as in Config.Upstreams.
	Upstream string
}

var probeName = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$`)

// problems lists what is wrong with s in c.
func (s *Status) problems(c Config) []string {
	var out []string
	if s.Port < 1 || s.Port > 65535 {
		out = append(out, fmt.Sprintf("Status.Port %d is out of range 1-65535", s.Port))
	}
	if s.Port == c.HTTPPort || (c.TLS && s.Port == c.HTTPSPort) {
		out = append(out, fmt.Sprintf("Status.Port %d is also a client port", s.Port))
	}
	seen := map[string]bool{}
	for i, p := range s.Probes {
		if !probeName.MatchString(p.Name) || seen[p.Name] {
			out = append(out, fmt.Sprintf("Status.Probes[%d].Name %q is not a new DNS label", i, p.Name))
		}
		seen[p.Name] = true
		if err := checkHostPort(p.Upstream); err != nil {
			out = append(out, fmt.Sprintf("Status.Probes[%d].Upstream %q: %v", i, p.Upstream, err))
		}
	}
	if s.VRRPFile != "" {
		if err := checkNginxPath(s.VRRPFile); err != nil {
			out = append(out, fmt.Sprintf("Status.VRRPFile %q: %v", s.VRRPFile, err))
		}
	}
	return out
}
