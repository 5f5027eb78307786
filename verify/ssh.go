package verify

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHEndpoint is an SSH server to tunnel through.
type SSHEndpoint struct {
	User string
	// Addr is host:port.
	Addr string
}

// String renders the endpoint as user@host:port.
func (e SSHEndpoint) String() string { return e.User + "@" + e.Addr }

// ParseSSHEndpoint parses "ssh://user@host:port", "user@host:port",
// "user@host" or "host"; the user defaults to defaultUser and the port to 22.
func ParseSSHEndpoint(s, defaultUser string) (SSHEndpoint, error) {
	raw := strings.TrimSpace(s)
	if raw == "" {
		return SSHEndpoint{}, errors.New("ssh endpoint: empty")
	}
	if !strings.Contains(raw, "://") {
		raw = "ssh://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return SSHEndpoint{}, fmt.Errorf("ssh endpoint %q: %w", s, err)
	}
	if u.Scheme != "ssh" {
		return SSHEndpoint{}, fmt.Errorf("ssh endpoint %q: scheme %q is not ssh", s, u.Scheme)
	}
	host := u.Hostname()
	if host == "" {
		return SSHEndpoint{}, fmt.Errorf("ssh endpoint %q: no host", s)
	}
	port := u.Port()
	if port == "" {
		port = "22"
	} else if _, err := strconv.Atoi(port); err != nil {
		return SSHEndpoint{}, fmt.Errorf("ssh endpoint %q: bad port %q", s, port)
	}
	user := defaultUser
	if u.User != nil && u.User.Username() != "" {
		user = u.User.Username()
	}
	if user == "" {
		return SSHEndpoint{}, fmt.Errorf("ssh endpoint %q: no user", s)
	}
	return SSHEndpoint{User: user, Addr: net.JoinHostPort(host, port)}, nil
}

// SSHConfig says how to authenticate to SSH servers and check their keys.
type SSHConfig struct {
	// AgentSocket is the ssh-agent socket (usually $SSH_AUTH_SOCK); its keys
	// are offered when set.
	AgentSocket string
	// KeyFile is a private key file offered in addition to the agent's keys.
	KeyFile string
	// KeyPassphrase decrypts KeyFile when it is encrypted.
	KeyPassphrase []byte
	// KnownHostsFile lists the accepted host keys; ~/.ssh/known_hosts when empty.
	KnownHostsFile string
	// InsecureIgnoreHostKey accepts any host key. Only for throw-away test hosts.
	InsecureIgnoreHostKey bool
	// Timeout bounds the TCP connect and SSH handshake; 15s when zero.
	Timeout time.Duration
}

// Route picks the SSH endpoint to reach addr (host:port) through; ok=false
// means dial addr directly.
type Route func(addr string) (endpoint SSHEndpoint, ok bool)

// Tunnel dials TCP connections through SSH servers (direct-tcpip channels),
// one SSH connection per endpoint, opened on first use. Its DialContext
// returns connections that support deadlines, as the MongoDB driver needs.
type Tunnel struct {
	route   Route
	auth    []ssh.AuthMethod
	hostKey ssh.HostKeyCallback
	timeout time.Duration
	agent   net.Conn

	mu      sync.Mutex
	clients map[SSHEndpoint]*ssh.Client
}

// NewTunnel prepares a tunnel; it connects to nothing yet.
func NewTunnel(cfg SSHConfig, route Route) (*Tunnel, error) {
	t := &Tunnel{route: route, timeout: cfg.Timeout, clients: map[SSHEndpoint]*ssh.Client{}}
	if t.timeout <= 0 {
		t.timeout = 15 * time.Second
	}
	if cfg.AgentSocket != "" {
		conn, err := net.Dial("unix", cfg.AgentSocket)
		if err != nil {
			return nil, fmt.Errorf("ssh-agent at %s (SSH_AUTH_SOCK): %w", cfg.AgentSocket, err)
		}
		t.agent = conn
		t.auth = append(t.auth, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
	}
	if cfg.KeyFile != "" {
		signer, err := loadKey(cfg.KeyFile, cfg.KeyPassphrase)
		if err != nil {
			t.Close()
			return nil, err
		}
		t.auth = append(t.auth, ssh.PublicKeys(signer))
	}
	if len(t.auth) == 0 {
		return nil, errors.New("ssh tunnel: no identity: set SSH_AUTH_SOCK (ssh-agent) or pass --ssh-key")
	}
	if cfg.InsecureIgnoreHostKey {
		t.hostKey = ssh.InsecureIgnoreHostKey()
	} else {
		file := cfg.KnownHostsFile
		if file == "" {
			home, err := os.UserHomeDir()
			if err != nil {
				t.Close()
				return nil, fmt.Errorf("ssh tunnel: locating ~/.ssh/known_hosts: %w", err)
			}
			file = filepath.Join(home, ".ssh", "known_hosts")
		}
		cb, err := knownhosts.New(file)
		if err != nil {
			t.Close()
			return nil, fmt.Errorf("ssh tunnel: known hosts file %s: %w (pass --ssh-known-hosts, or --insecure-ignore-host-key for throw-away hosts)", file, err)
		}
		t.hostKey = cb
	}
	return t, nil
}

func loadKey(file string, passphrase []byte) (ssh.Signer, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("ssh key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	if errors.As(err, &missing) {
		if len(passphrase) == 0 {
			return nil, fmt.Errorf("ssh key %s is encrypted: set RCHA_SSH_KEY_PASSPHRASE or load it into ssh-agent", file)
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, passphrase)
	}
	if err != nil {
		return nil, fmt.Errorf("ssh key %s: %w", file, err)
	}
	return signer, nil
}

// DialContext connects to addr through the SSH endpoint Route picks for it,
// or directly when Route picks none.
func (t *Tunnel) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	ep, via := t.route(addr)
	if !via {
		d := net.Dialer{Timeout: t.timeout}
		return d.DialContext(ctx, network, addr)
	}
	client, err := t.client(ctx, ep)
	if err != nil {
		return nil, err
	}
	conn, err := client.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("ssh tunnel via %s to %s: %w", ep, addr, err)
	}
	return withDeadlines(conn, ep, addr), nil
}

func (t *Tunnel) client(ctx context.Context, ep SSHEndpoint) (*ssh.Client, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c, found := t.clients[ep]; found {
		return c, nil
	}
	cfg := &ssh.ClientConfig{
		User:              ep.User,
		Auth:              t.auth,
		HostKeyCallback:   t.hostKey,
		HostKeyAlgorithms: knownAlgorithms(t.hostKey, ep.Addr),
		Timeout:           t.timeout,
	}
	d := net.Dialer{Timeout: t.timeout}
	raw, err := d.DialContext(ctx, "tcp", ep.Addr)
	if err != nil {
		return nil, fmt.Errorf("ssh tunnel: connect %s: %w", ep, err)
	}
	_ = raw.SetDeadline(time.Now().Add(t.timeout))
	sc, chans, reqs, err := ssh.NewClientConn(raw, ep.Addr, cfg)
	if err != nil {
		raw.Close()
		return nil, fmt.Errorf("ssh tunnel: handshake with %s: %w", ep, describeHostKeyErr(err))
	}
	_ = raw.SetDeadline(time.Time{})
	c := ssh.NewClient(sc, chans, reqs)
	t.clients[ep] = c
	return c, nil
}

// Close closes every SSH connection and the agent connection.
func (t *Tunnel) Close() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var errs []error
	for ep, c := range t.clients {
		if err := c.Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, fmt.Errorf("close ssh %s: %w", ep, err))
		}
		delete(t.clients, ep)
	}
	if t.agent != nil {
		t.agent.Close()
		t.agent = nil
	}
	return errors.Join(errs...)
}

// knownAlgorithms returns the host key algorithms known_hosts holds for addr,
// so the handshake negotiates a key type we can check; nil lets the library
// choose (no entry, or host keys ignored).
func knownAlgorithms(cb ssh.HostKeyCallback, addr string) []string {
	_, probe, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil
	}
	signer, err := ssh.NewSignerFromKey(probe)
	if err != nil {
		return nil
	}
	remote := &net.TCPAddr{IP: net.IPv4zero}
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip := net.ParseIP(host); ip != nil {
			p, _ := strconv.Atoi(port)
			remote = &net.TCPAddr{IP: ip, Port: p}
		}
	}
	var keyErr *knownhosts.KeyError
	if err := cb(addr, remote, signer.PublicKey()); !errors.As(err, &keyErr) || len(keyErr.Want) == 0 {
		return nil
	}
	var algos []string
	seen := map[string]bool{}
	add := func(a string) {
		if !seen[a] {
			seen[a] = true
			algos = append(algos, a)
		}
	}
	for _, k := range keyErr.Want {
		switch k.Key.Type() {
		case ssh.KeyAlgoRSA:
			add(ssh.KeyAlgoRSASHA512)
			add(ssh.KeyAlgoRSASHA256)
			add(ssh.KeyAlgoRSA)
		default:
			add(k.Key.Type())
		}
	}
	return algos
}

func describeHostKeyErr(err error) error {
	var keyErr *knownhosts.KeyError
	if errors.As(err, &keyErr) {
		if len(keyErr.Want) == 0 {
			return fmt.Errorf("host key is not in known_hosts (add it, e.g. with ssh-keyscan, or pass --insecure-ignore-host-key): %w", err)
		}
		return fmt.Errorf("HOST KEY MISMATCH with known_hosts line %d of %s: %w", keyErr.Want[0].Line, keyErr.Want[0].Filename, err)
	}
	return err
}

// tunnelConn is the client end of a synchronous in-memory pipe whose other
// end is copied to and from an SSH channel. SSH channels do not support
// deadlines; pipes do.
type tunnelConn struct {
	net.Conn
	local, remote net.Addr
}

func (c *tunnelConn) LocalAddr() net.Addr  { return c.local }
func (c *tunnelConn) RemoteAddr() net.Addr { return c.remote }

type tunnelAddr string

func (a tunnelAddr) Network() string { return "ssh-tunnel" }
func (a tunnelAddr) String() string  { return string(a) }

func withDeadlines(ch net.Conn, ep SSHEndpoint, addr string) net.Conn {
	client, server := net.Pipe()
	var once sync.Once
	closeBoth := func() {
		once.Do(func() {
			ch.Close()
			server.Close()
		})
	}
	go func() {
		_, _ = io.Copy(ch, server)
		closeBoth()
	}()
	go func() {
		_, _ = io.Copy(server, ch)
		closeBoth()
	}()
	return &tunnelConn{Conn: client, local: tunnelAddr("via " + ep.String()), remote: tunnelAddr(addr)}
}
