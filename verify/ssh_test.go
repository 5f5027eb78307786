package verify

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshServer is an in-process SSH server on 127.0.0.1 that accepts one
// client key and serves direct-tcpip channels (what `ssh -L` and
// ssh.Client.Dial use) by dialing the requested address.
type sshServer struct {
	addr    string
	hostKey ssh.Signer

	mu        sync.Mutex
	forwarded []string
	users     []string
}

func newSSHServer(t *testing.T, authorized ssh.PublicKey) *sshServer {
	t.Helper()
	_, hostPriv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	require.NoError(t, err)
	s := &sshServer{hostKey: hostSigner}
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			if string(key.Marshal()) == string(authorized.Marshal()) {
				return nil, nil
			}
			return nil, errors.New("unknown key")
		},
	}
	cfg.AddHostKey(hostSigner)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	s.addr = ln.Addr().String()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c, cfg)
		}
	}()
	return s
}

func (s *sshServer) serve(c net.Conn, cfg *ssh.ServerConfig) {
	sc, chans, reqs, err := ssh.NewServerConn(c, cfg)
	if err != nil {
		c.Close()
		return
	}
	defer sc.Close()
	s.mu.Lock()
	s.users = append(s.users, sc.User())
	s.mu.Unlock()
	go ssh.DiscardRequests(reqs)
	for nc := range chans {
		if nc.ChannelType() != "direct-tcpip" {
			_ = nc.Reject(ssh.UnknownChannelType, "only direct-tcpip")
			continue
		}
		var req struct {
			Host     string
			Port     uint32
			OrigHost string
			OrigPort uint32
		}
		if err := ssh.Unmarshal(nc.ExtraData(), &req); err != nil {
			_ = nc.Reject(ssh.ConnectionFailed, "bad payload")
			continue
		}
		target := net.JoinHostPort(req.Host, strconv.Itoa(int(req.Port)))
		up, err := net.Dial("tcp", target)
		if err != nil {
			_ = nc.Reject(ssh.ConnectionFailed, err.Error())
			continue
		}
		ch, chReqs, err := nc.Accept()
		if err != nil {
			up.Close()
			continue
		}
		s.mu.Lock()
		s.forwarded = append(s.forwarded, target)
		s.mu.Unlock()
		go ssh.DiscardRequests(chReqs)
		go func() {
			_, _ = io.Copy(ch, up)
			_ = ch.CloseWrite()
			ch.Close()
		}()
		go func() {
			_, _ = io.Copy(up, ch)
			up.Close()
		}()
	}
}

func (s *sshServer) seen() ([]string, []string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.forwarded...), append([]string(nil), s.users...)
}

// echoServer answers every line with "echo: <line>".
func echoServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := fmt.Fprintf(c, "echo: %s\n", sc.Text()); err != nil {
						return
					}
				}
			}()
		}
	}()
	return ln.Addr().String()
}

type clientKey struct {
	signer ssh.Signer
	priv   ed25519.PrivateKey
	file   string
}

func newClientKey(t *testing.T, passphrase []byte) clientKey {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := ssh.NewSignerFromKey(priv)
	require.NoError(t, err)
	var block *pem.Block
	if passphrase != nil {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(priv, "test", passphrase)
	} else {
		block, err = ssh.MarshalPrivateKey(priv, "test")
	}
	require.NoError(t, err)
	file := filepath.Join(t.TempDir(), "id_ed25519")
	require.NoError(t, os.WriteFile(file, pem.EncodeToMemory(block), 0o600))
	return clientKey{signer: signer, priv: priv, file: file}
}

func knownHostsFile(t *testing.T, addr string, key ssh.PublicKey) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "known_hosts")
	line := ""
	if key != nil {
		line = knownhosts.Line([]string{knownhosts.Normalize(addr)}, key) + "\n"
	}
	require.NoError(t, os.WriteFile(file, []byte(line), 0o600))
	return file
}

func roundTrip(t *testing.T, c net.Conn, msg string) string {
	t.Helper()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)), "tunnel connections must support deadlines (the MongoDB driver sets them)")
	_, err := fmt.Fprintf(c, "%s\n", msg)
	require.NoError(t, err)
	line, err := bufio.NewReader(c).ReadString('\n')
	require.NoError(t, err)
	return line
}

func TestTunnelKeyFileKnownHosts(t *testing.T) {
	key := newClientKey(t, nil)
	srv := newSSHServer(t, key.signer.PublicKey())
	echo := echoServer(t)
	ep := SSHEndpoint{User: "deploy", Addr: srv.addr}

	tun, err := NewTunnel(SSHConfig{KeyFile: key.file, KnownHostsFile: knownHostsFile(t, srv.addr, srv.hostKey.PublicKey()), Timeout: 5 * time.Second},
		func(addr string) (SSHEndpoint, bool) { return ep, true })
	require.NoError(t, err)
	defer tun.Close()

	// The node name resolves to the echo listener's address, as a member host
	// "node-a:port" would resolve to the node's private address.
	_, port, _ := net.SplitHostPort(echo)
	d := &Dialer{Hosts: map[string]string{"node-a": "127.0.0.1"}, Forward: tun.DialContext}
	c, err := d.DialContext(context.Background(), "tcp", "node-a:"+port)
	require.NoError(t, err)
	assert.Equal(t, "echo: hello\n", roundTrip(t, c, "hello"))
	assert.Equal(t, "echo: again\n", roundTrip(t, c, "again"))

	// A read deadline in the past times out instead of blocking.
	require.NoError(t, c.SetReadDeadline(time.Now().Add(-time.Second)))
	_, err = c.Read(make([]byte, 1))
	var ne net.Error
	require.ErrorAs(t, err, &ne)
	assert.True(t, ne.Timeout())
	require.NoError(t, c.Close())

	// A second connection reuses the SSH connection.
	c2, err := tun.DialContext(context.Background(), "tcp", echo)
	require.NoError(t, err)
	assert.Equal(t, "echo: two\n", roundTrip(t, c2, "two"))
	c2.Close()

	forwarded, users := srv.seen()
	assert.Equal(t, []string{echo, echo}, forwarded)
	assert.Equal(t, []string{"deploy"}, users, "one SSH connection, as the endpoint's user")
}

func TestTunnelAgentAndEncryptedKey(t *testing.T) {
	key := newClientKey(t, []byte("pw"))
	srv := newSSHServer(t, key.signer.PublicKey())
	echo := echoServer(t)
	kh := knownHostsFile(t, srv.addr, srv.hostKey.PublicKey())
	route := func(string) (SSHEndpoint, bool) { return SSHEndpoint{User: "root", Addr: srv.addr}, true }

	_, err := NewTunnel(SSHConfig{KeyFile: key.file, KnownHostsFile: kh}, route)
	assert.ErrorContains(t, err, "is encrypted")
	tun, err := NewTunnel(SSHConfig{KeyFile: key.file, KeyPassphrase: []byte("pw"), KnownHostsFile: kh}, route)
	require.NoError(t, err)
	c, err := tun.DialContext(context.Background(), "tcp", echo)
	require.NoError(t, err)
	assert.Equal(t, "echo: pass\n", roundTrip(t, c, "pass"))
	c.Close()
	tun.Close()

	// ssh-agent identity, as SSH_AUTH_SOCK provides it.
	sockDir, err := os.MkdirTemp("", "rcha-agent")
	require.NoError(t, err)
	defer os.RemoveAll(sockDir)
	sock := filepath.Join(sockDir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	require.NoError(t, err)
	defer ln.Close()
	keyring := agent.NewKeyring()
	require.NoError(t, keyring.Add(agent.AddedKey{PrivateKey: key.priv}))
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _ = agent.ServeAgent(keyring, c); c.Close() }()
		}
	}()
	tun, err = NewTunnel(SSHConfig{AgentSocket: sock, KnownHostsFile: kh}, route)
	require.NoError(t, err)
	defer tun.Close()
	c, err = tun.DialContext(context.Background(), "tcp", echo)
	require.NoError(t, err)
	assert.Equal(t, "echo: agent\n", roundTrip(t, c, "agent"))
	c.Close()
}

func TestTunnelHostKeyChecking(t *testing.T) {
	key := newClientKey(t, nil)
	srv := newSSHServer(t, key.signer.PublicKey())
	echo := echoServer(t)
	route := func(string) (SSHEndpoint, bool) { return SSHEndpoint{User: "root", Addr: srv.addr}, true }

	// Unknown host: refused.
	tun, err := NewTunnel(SSHConfig{KeyFile: key.file, KnownHostsFile: knownHostsFile(t, srv.addr, nil)}, route)
	require.NoError(t, err)
	_, err = tun.DialContext(context.Background(), "tcp", echo)
	assert.ErrorContains(t, err, "not in known_hosts")
	tun.Close()

	// Different key on record: refused as a mismatch.
	_, otherPriv, _ := ed25519.GenerateKey(rand.Reader)
	other, _ := ssh.NewSignerFromKey(otherPriv)
	tun, err = NewTunnel(SSHConfig{KeyFile: key.file, KnownHostsFile: knownHostsFile(t, srv.addr, other.PublicKey())}, route)
	require.NoError(t, err)
	_, err = tun.DialContext(context.Background(), "tcp", echo)
	assert.ErrorContains(t, err, "HOST KEY MISMATCH")
	tun.Close()

	// Missing known_hosts file: refused up front, naming the escape hatch.
	_, err = NewTunnel(SSHConfig{KeyFile: key.file, KnownHostsFile: filepath.Join(t.TempDir(), "absent")}, route)
	assert.ErrorContains(t, err, "--insecure-ignore-host-key")

	// Explicit opt-out accepts any key.
	tun, err = NewTunnel(SSHConfig{KeyFile: key.file, InsecureIgnoreHostKey: true}, route)
	require.NoError(t, err)
	c, err := tun.DialContext(context.Background(), "tcp", echo)
	require.NoError(t, err)
	assert.Equal(t, "echo: insecure\n", roundTrip(t, c, "insecure"))
	c.Close()
	tun.Close()

	// Wrong client identity: authentication fails.
	wrong := newClientKey(t, nil)
	tun, err = NewTunnel(SSHConfig{KeyFile: wrong.file, InsecureIgnoreHostKey: true}, route)
	require.NoError(t, err)
	_, err = tun.DialContext(context.Background(), "tcp", echo)
	assert.ErrorContains(t, err, "unable to authenticate")
	tun.Close()

	// No identity at all.
	_, err = NewTunnel(SSHConfig{InsecureIgnoreHostKey: true}, route)
	assert.ErrorContains(t, err, "no identity")
}

func TestTunnelRoutesDirectAndHTTP(t *testing.T) {
	key := newClientKey(t, nil)
	srv := newSSHServer(t, key.signer.PublicKey())
	rc := fakeRocketChat(t, "7.11.1", 200)
	rcAddr := rc.Listener.Addr().String()
	echo := echoServer(t)

	tun, err := NewTunnel(SSHConfig{KeyFile: key.file, KnownHostsFile: knownHostsFile(t, srv.addr, srv.hostKey.PublicKey())},
		func(addr string) (SSHEndpoint, bool) {
			if addr == echo {
				return SSHEndpoint{}, false // reachable directly
			}
			return SSHEndpoint{User: "root", Addr: srv.addr}, true
		})
	require.NoError(t, err)
	defer tun.Close()

	client := &http.Client{Transport: &http.Transport{DialContext: (&Dialer{Hosts: map[string]string{"node-b": rcAddr}, Forward: tun.DialContext}).DialContext}}
	fs := HTTPProbe{Timeout: 5 * time.Second}.Check(context.Background(), []Endpoint{{Name: "node b", BaseURL: "http://node-b:3000", Client: client}})
	assert.Empty(t, byStatus(fs, StatusFail), "%v", fs)
	assert.Len(t, byStatus(fs, StatusOK), 3)

	c, err := tun.DialContext(context.Background(), "tcp", echo)
	require.NoError(t, err)
	assert.Equal(t, "echo: direct\n", roundTrip(t, c, "direct"))
	c.Close()
	forwarded, _ := srv.seen()
	assert.NotContains(t, forwarded, echo, "a direct route must not go through SSH")
	assert.Contains(t, forwarded, rcAddr)
}

func TestParseSSHEndpoint(t *testing.T) {
	cases := map[string]SSHEndpoint{
		"ssh://root@10.0.0.1":       {User: "root", Addr: "10.0.0.1:22"},
		"ssh://deploy@node-a:2222":  {User: "deploy", Addr: "node-a:2222"},
		"admin@bastion.example.com": {User: "admin", Addr: "bastion.example.com:22"},
		"10.0.0.9":                  {User: "ci", Addr: "10.0.0.9:22"},
		"ssh://[fd00::1]:22":        {User: "ci", Addr: "[fd00::1]:22"},
	}
	for in, want := range cases {
		got, err := ParseSSHEndpoint(in, "ci")
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "tcp://host:2376", "ssh://", "ssh://u@h:notaport"} {
		_, err := ParseSSHEndpoint(bad, "ci")
		assert.Error(t, err, bad)
	}
	_, err := ParseSSHEndpoint("host", "")
	assert.ErrorContains(t, err, "no user")
}
