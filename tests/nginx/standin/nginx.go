package standin

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/rocketchat-ha/rocketchat-ha/internal/nginx"
)

// Nginx is a real nginx master process run in the foreground under a
// temporary prefix directory.
type Nginx struct {
	Bin    string
	Prefix string
	Config nginx.Config // as rendered, with the prefix paths filled in
	cmd    *exec.Cmd
	done   chan error
	stderr bytes.Buffer
}

// FreePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// PrefixConfig fills in what running nginx as the current user under prefix
// needs: loopback listen address, free ports (when unset), pid/log/temp paths
// inside prefix, and the current user as the worker user.
func PrefixConfig(c nginx.Config, prefix string) (nginx.Config, error) {
	if c.ListenAddress == "" {
		c.ListenAddress = "127.0.0.1"
	}
	for _, p := range []*int{&c.HTTPPort, &c.HTTPSPort} {
		if *p == 0 {
			n, err := FreePort()
			if err != nil {
				return c, fmt.Errorf("finding a free port: %w", err)
			}
			*p = n
		}
	}
	c.PidFile = filepath.Join(prefix, "nginx.pid")
	c.ErrorLog = filepath.Join(prefix, "error.log")
	if c.AccessLog == "" {
		c.AccessLog = filepath.Join(prefix, "access.log")
	}
	c.TempDir = filepath.Join(prefix, "temp")
	if c.User == "" {
		u, err := user.Current()
		if err != nil {
			return c, fmt.Errorf("looking up the current user: %w", err)
		}
		c.User = u.Username
	}
	if c.WorkerProcesses == 0 {
		c.WorkerProcesses = 2
	}
	return c, nil
}

// WriteConfig renders c into prefix/nginx.conf (creating prefix/temp).
func WriteConfig(c nginx.Config, prefix string) (string, error) {
	text, err := nginx.Render(c)
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Join(prefix, "temp"), 0o755); err != nil {
		return "", err
	}
	path := filepath.Join(prefix, "nginx.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		return "", err
	}
	return path, nil
}

// TestConfig runs `nginx -t` on c under prefix and returns its output.
func TestConfig(bin string, c nginx.Config, prefix string) (string, error) {
	c, err := PrefixConfig(c, prefix)
	if err != nil {
		return "", err
	}
	conf, err := WriteConfig(c, prefix)
	if err != nil {
		return "", err
	}
	out, err := exec.Command(bin, "-t", "-p", prefix, "-c", conf, "-e", filepath.Join(prefix, "error.log")).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("nginx -t: %v\n%s", err, out)
	}
	return string(out), nil
}

// StartNginx renders c (see PrefixConfig) into prefix, starts nginx with
// `daemon off;` and waits until it answers NginxHealthPath.
func StartNginx(bin string, c nginx.Config, prefix string) (*Nginx, error) {
	c, err := PrefixConfig(c, prefix)
	if err != nil {
		return nil, err
	}
	conf, err := WriteConfig(c, prefix)
	if err != nil {
		return nil, err
	}
	n := &Nginx{Bin: bin, Prefix: prefix, Config: c, done: make(chan error, 1)}
	n.cmd = exec.Command(bin, "-p", prefix, "-c", conf, "-e", filepath.Join(prefix, "error.log"), "-g", "daemon off;")
	n.cmd.Stdout = &n.stderr
	n.cmd.Stderr = &n.stderr
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := n.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { n.done <- n.cmd.Wait() }()
	if err := n.waitHealthy(10 * time.Second); err != nil {
		n.Stop()
		return nil, err
	}
	return n, nil
}

// HTTPURL is the plain-HTTP base URL, e.g. "http://127.0.0.1:40123".
func (n *Nginx) HTTPURL() string {
	return "http://" + net.JoinHostPort(n.Config.ListenAddress, strconv.Itoa(n.Config.HTTPPort))
}

// HTTPSURL is the https base URL (meaningful with TLS).
func (n *Nginx) HTTPSURL() string {
	return "https://" + net.JoinHostPort(n.Config.ListenAddress, strconv.Itoa(n.Config.HTTPSPort))
}

// HTTPAddr is host:port of the plain HTTP listener.
func (n *Nginx) HTTPAddr() string {
	return net.JoinHostPort(n.Config.ListenAddress, strconv.Itoa(n.Config.HTTPPort))
}

// HTTPSAddr is host:port of the TLS listener.
func (n *Nginx) HTTPSAddr() string {
	return net.JoinHostPort(n.Config.ListenAddress, strconv.Itoa(n.Config.HTTPSPort))
}

func (n *Nginx) waitHealthy(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case err := <-n.done:
			n.done <- err
			return fmt.Errorf("nginx exited during start-up (%v): %s\nerror.log:\n%s", err, n.stderr.String(), n.ErrorLog())
		default:
		}
		resp, err := client.Get(n.HTTPURL() + nginx.HealthPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nginx did not answer %s within %s (last error %v)\nerror.log:\n%s",
				nginx.HealthPath, limit, err, n.ErrorLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ErrorLog returns the contents of nginx's error log.
func (n *Nginx) ErrorLog() string {
	b, _ := os.ReadFile(filepath.Join(n.Prefix, "error.log"))
	return string(b)
}

// Reload renders c (prefix paths and ports kept from the running config) over
// nginx.conf and sends SIGHUP: new workers take the new config, old workers
// finish their open connections (websockets included).
func (n *Nginx) Reload(c nginx.Config) error {
	c.ListenAddress, c.HTTPPort, c.HTTPSPort = n.Config.ListenAddress, n.Config.HTTPPort, n.Config.HTTPSPort
	c, err := PrefixConfig(c, n.Prefix)
	if err != nil {
		return err
	}
	if _, err := WriteConfig(c, n.Prefix); err != nil {
		return err
	}
	n.Config = c
	if err := n.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		return fmt.Errorf("signalling nginx to reload: %w", err)
	}
	return nil
}

// Stop ends nginx (SIGTERM to its process group, SIGKILL after 5 s).
func (n *Nginx) Stop() {
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-n.done:
		n.done <- err
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-n.cmd.Process.Pid, syscall.SIGKILL)
		err := <-n.done
		n.done <- err
	}
}

// Exited reports whether the master process has exited.
func (n *Nginx) Exited() bool {
	select {
	case err := <-n.done:
		n.done <- err
		return true
	default:
		return false
	}
}

// ClientFrom returns an HTTP client whose connections leave from source (a
// 127.x.y.z loopback address, all of which Linux routes to lo) so that nginx
// sees that client address. keepAlive=false opens a new connection per request.
// Redirects are not followed.
func ClientFrom(source string, keepAlive bool, tlsConf *tls.Config) *http.Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	tr := &http.Transport{
		DialContext:       d.DialContext,
		DisableKeepAlives: !keepAlive,
		TLSClientConfig:   tlsConf,
		ForceAttemptHTTP2: tlsConf != nil,
		MaxIdleConns:      10,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// DialFrom opens a TCP connection to addr from the source loopback address.
func DialFrom(ctx context.Context, source, addr string) (net.Conn, error) {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	return d.DialContext(ctx, "tcp", addr)
}

// ClientAddr returns the i-th distinct test client address, 127.<1+i/250>.<i%250>.<10+i%7>:
// every one in its own /24, so that neither full-address hashing nor ip_hash's
// /24 grouping can make them look alike.
func ClientAddr(i int) string {
	if i < 0 || i >= 250*250 {
		panic(errors.New("client index out of range"))
	}
	return fmt.Sprintf("127.%d.%d.%d", 1+i/250, i%250, 10+i%7)
}

// ReadAllString reads and closes a response body.
func ReadAllString(r io.ReadCloser) string {
	defer r.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}
