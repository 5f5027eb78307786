package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/rocketchat-ha/rocketchat-ha/internal/nginx"
	"github.com/rocketchat-ha/rocketchat-ha/tests/nginx/standin"
)

// haproxyConfig is the HAProxy equivalent of the rendered nginx config, as
// close as the two allow, so that the bench compares the proxies rather than
// two different policies:
//
//   - stickiness: consistent hash of the client address (nginx `hash
//     $remote_addr consistent`) = `balance source` + `hash-type consistent`;
//   - keepalive to the backends: nginx's upstream `keepalive N` hands any idle
//     connection to any request, which is `http-reuse always`; at most N idle
//     connections per worker = `pool-max-conn` (N x threads, HAProxy's pool is per server);
//   - websockets: HAProxy in HTTP mode passes an Upgrade through by itself;
//     `timeout tunnel` is nginx's proxy_read/send_timeout for the tunnel;
//   - timeouts: connect = proxy_connect_timeout, server = proxy_read_timeout,
//     client/http-request = nginx's client_header/body and send timeouts (60 s
//     defaults), http-keep-alive = keepalive_timeout;
//   - the same request headers (Host kept, X-Real-IP, X-Forwarded-For,
//     X-Forwarded-Proto), the same body limit (413 above client_max_body_size),
//     the same health answer, and one access-log line per request written to a
//     file (stdout redirected), like nginx's unbuffered access_log;
//   - failover: retry a failed connection on another server (nginx's
//     `proxy_next_upstream error timeout`). nginx's passive max_fails has no
//     exact HAProxy twin without health checks; with healthy stand-ins it never
//     triggers in either proxy.
var haproxyConfig = template.Must(template.New("haproxy.cfg").Parse(`# HAProxy config for bench/nginx, equivalent to the rendered nginx.conf.
global
    nbthread {{.Threads}}
    maxconn {{.MaxConn}}
    pidfile {{.Prefix}}/haproxy.pid
{{- if not .LogOff}}
    log stdout format raw local0 info
{{- end}}

defaults
    mode http
{{- if not .LogOff}}
    log global
    option httplog
{{- end}}
    option forwardfor
    timeout connect {{.ConnectTimeout}}
    timeout client 60s
    timeout http-request 60s
    timeout http-keep-alive 65s
    timeout server {{.ProxyTimeout}}
    timeout tunnel {{.ProxyTimeout}}
    retries 3
    option redispatch 1
    retry-on conn-failure empty-response response-timeout 502 503 504
    http-reuse always

frontend http
    bind {{.Listen}}
    http-request set-log-level silent if { path {{.HealthPath}} }
    http-request return status 200 content-type text/plain string ok if { path {{.HealthPath}} }
    http-request deny deny_status 413 if { req.hdr_val(content-length) gt {{.MaxBody}} }
    http-request set-header X-Real-IP %[src]
    http-request set-header X-Forwarded-Proto http
    # nginx resends only idempotent requests (no "non_idempotent").
    http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS
    default_backend rocketchat

backend rocketchat
    balance source
    hash-type consistent
{{- range $i, $u := .Upstreams}}
    server b{{$i}} {{$u}} pool-max-conn {{$.PoolMaxConn}}
{{- end}}
`))

type haproxyParams struct {
	Threads, MaxConn, PoolMaxConn int
	Prefix, Listen, HealthPath    string
	ConnectTimeout, ProxyTimeout  string
	MaxBody                       int64
	Upstreams                     []string
	LogOff                        bool
}

// HAProxy is a haproxy process in the foreground (-db) under a prefix.
type HAProxy struct {
	Addr   string
	Prefix string
	cmd    *exec.Cmd
	done   chan error
	out    bytes.Buffer
}

// startHAProxy writes the config for upstreams, mirroring the nginx config c
// (after defaults), checks it with -c and starts haproxy.
func startHAProxy(bin string, c nginx.Config, threads int, logOff bool, prefix string) (*HAProxy, error) {
	c = c.WithDefaults()
	port, err := standin.FreePort()
	if err != nil {
		return nil, err
	}
	maxBody, err := nginxSizeBytes(c.ClientMaxBodySize)
	if err != nil {
		return nil, err
	}
	p := haproxyParams{
		Threads: threads, MaxConn: threads * c.WorkerConnections, PoolMaxConn: threads * c.Keepalive,
		Prefix: prefix, Listen: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), HealthPath: nginx.HealthPath,
		ConnectTimeout: seconds(c.ConnectTimeout), ProxyTimeout: seconds(c.ProxyTimeout),
		MaxBody: maxBody, Upstreams: c.Upstreams, LogOff: logOff,
	}
	if err := os.MkdirAll(prefix, 0o755); err != nil {
		return nil, err
	}
	var cfg bytes.Buffer
	if err := haproxyConfig.Execute(&cfg, p); err != nil {
		return nil, err
	}
	conf := filepath.Join(prefix, "haproxy.cfg")
	if err := os.WriteFile(conf, cfg.Bytes(), 0o644); err != nil {
		return nil, err
	}
	if out, err := exec.Command(bin, "-c", "-f", conf).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("haproxy -c: %v\n%s\n%s", err, out, cfg.String())
	}
	logf, err := os.Create(filepath.Join(prefix, "access.log"))
	if err != nil {
		return nil, err
	}
	defer logf.Close() // the child keeps its own descriptor
	h := &HAProxy{Addr: p.Listen, Prefix: prefix, done: make(chan error, 1)}
	h.cmd = exec.Command(bin, "-db", "-f", conf)
	h.cmd.Stdout = logf
	h.cmd.Stderr = &h.out
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := h.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() { h.done <- h.cmd.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	client := &http.Client{Timeout: time.Second}
	for {
		select {
		case err := <-h.done:
			h.done <- err
			return nil, fmt.Errorf("haproxy exited during start-up (%v): %s", err, h.out.String())
		default:
		}
		resp, err := client.Get(h.URL() + nginx.HealthPath)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return h, nil
			}
		}
		if time.Now().After(deadline) {
			h.Stop()
			return nil, fmt.Errorf("haproxy did not answer %s within 10s (last error %v): %s", nginx.HealthPath, err, h.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (h *HAProxy) URL() string { return "http://" + h.Addr }

// Stderr returns what haproxy printed on stderr.
func (h *HAProxy) Stderr() string { return h.out.String() }

// Stop ends haproxy (SIGTERM to its process group, SIGKILL after 5 s).
func (h *HAProxy) Stop() {
	if h == nil || h.cmd == nil || h.cmd.Process == nil {
		return
	}
	_ = syscall.Kill(-h.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case err := <-h.done:
		h.done <- err
	case <-time.After(5 * time.Second):
		_ = syscall.Kill(-h.cmd.Process.Pid, syscall.SIGKILL)
		err := <-h.done
		h.done <- err
	}
}

func seconds(d time.Duration) string { return strconv.Itoa(int(d/time.Second)) + "s" }

// nginxSizeBytes converts an nginx size ("200M", "512k", "1g", "0") to bytes.
func nginxSizeBytes(s string) (int64, error) {
	mult := int64(1)
	switch strings.ToLower(s[len(s)-1:]) {
	case "k":
		mult = 1 << 10
	case "m":
		mult = 1 << 20
	case "g":
		mult = 1 << 30
	}
	if mult != 1 {
		s = s[:len(s)-1]
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("client_max_body_size %q: %v", s, err)
	}
	if n == 0 {
		return 1 << 62, nil // no limit
	}
	return n * mult, nil
}
