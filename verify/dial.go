package verify

import (
	"context"
	"fmt"
	"net"
	"strings"
)

// DialFunc opens a connection; it has the signature of net.Dialer.DialContext.
type DialFunc func(ctx context.Context, network, addr string) (net.Conn, error)

// Dialer resolves the replica set's member names to node addresses before
// dialing, the way the containers' extra hosts entries do, and then dials
// directly or through Forward (an SSH tunnel). It satisfies the MongoDB
// driver's options.ContextDialer and http.Transport.DialContext.
type Dialer struct {
	// Hosts maps a host name (a node name used in member hosts, or the load
	// balancer's host name) to the address to dial instead. Keys are matched
	// case-insensitively.
	Hosts map[string]string
	// Forward dials the resolved address. A plain net.Dialer when nil.
	Forward DialFunc
}

// DialContext maps addr's host through Hosts and dials it.
func (d *Dialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	resolved, err := d.Resolve(addr)
	if err != nil {
		return nil, err
	}
	if d.Forward != nil {
		return d.Forward(ctx, network, resolved)
	}
	var nd net.Dialer
	return nd.DialContext(ctx, network, resolved)
}

// Resolve returns the address DialContext would dial for addr.
func (d *Dialer) Resolve(addr string) (string, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("dial %q: %w", addr, err)
	}
	for name, to := range d.Hosts {
		if strings.EqualFold(name, host) {
			if h, p, err := net.SplitHostPort(to); err == nil {
				return net.JoinHostPort(h, p), nil
			}
			return net.JoinHostPort(to, port), nil
		}
	}
	return addr, nil
}
