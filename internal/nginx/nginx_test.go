package nginx

import (
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// Rendering and validation only; tests/nginx runs the output in a real nginx.

func TestNginxRenderDefaults(t *testing.T) {
	conf, err := Render(Config{Upstreams: []string{"10.0.0.1:3000", "node-b.example.com:3000", "[fd00::3]:3000"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"user nginx;",
		"pid /var/run/nginx.pid;",
		"error_log /var/log/nginx/error.log warn;",
		"client_body_temp_path /var/cache/nginx/client_temp;",
		"client_max_body_size 200M;",
		"hash $remote_addr consistent;",
		"server 10.0.0.1:3000 max_fails=3 fail_timeout=10s;",
		"server node-b.example.com:3000 max_fails=3 fail_timeout=10s;",
		"server [fd00::3]:3000 max_fails=3 fail_timeout=10s;",
		"keepalive 32;",
		"map $http_upgrade $connection_upgrade {",
		"proxy_http_version 1.1;",
		"proxy_set_header Upgrade $http_upgrade;",
		"proxy_set_header Connection $connection_upgrade;",
		"proxy_set_header Host $http_host;",
		"proxy_set_header X-Real-IP $remote_addr;",
		"proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;",
		"proxy_set_header X-Forwarded-Proto $scheme;",
		"proxy_read_timeout 3600s;",
		"proxy_send_timeout 3600s;",
		"proxy_connect_timeout 5s;",
		"proxy_next_upstream error timeout http_502 http_503 http_504;",
		"listen 80 default_server;",
		"location = " + HealthPath + " {",
		`return 200 "ok";`,
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("rendered config lacks %q", want)
		}
	}
	for _, unwanted := range []string{"ssl", "443", "return 301", "non_idempotent;", "set_real_ip_from", "include ", "<no value>"} {
		if strings.Contains(conf, unwanted) {
			t.Errorf("plain-HTTP config contains %q", unwanted)
		}
	}
	// ip_hash/hash must precede keepalive inside the upstream block (nginx rule).
	if strings.Index(conf, "hash $remote_addr") > strings.Index(conf, "keepalive 32;") {
		t.Error("keepalive comes before the hash directive in the upstream block")
	}
	checkBraces(t, conf)
}

func TestNginxRenderIsDeterministicAndKeepsNodeOrder(t *testing.T) {
	c := Config{Upstreams: []string{"c:3000", "a:3000", "b:3000"}, TLS: true, TrustedProxies: []string{"10.0.0.0/8", "192.0.2.1"}}
	a, err := Render(c)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Render(c)
	if a != b {
		t.Fatal("two renders of the same config differ")
	}
	servers := regexp.MustCompile(`(?m)^\s+server (\S+) max_fails`).FindAllStringSubmatch(a, -1)
	var got []string
	for _, m := range servers {
		got = append(got, m[1])
	}
	if !slices.Equal(got, c.Upstreams) {
		t.Errorf("upstream servers %v, want %v in node order", got, c.Upstreams)
	}
}

func TestNginxRenderTLS(t *testing.T) {
	conf, err := Render(Config{Upstreams: []string{"10.0.0.1:3000"}, TLS: true, ServerName: "chat.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"listen 443 ssl http2 default_server;",
		"ssl_certificate " + DefaultCertFile + ";",
		"ssl_certificate_key " + DefaultKeyFile + ";",
		"ssl_protocols TLSv1.2 TLSv1.3;",
		"server_name chat.example.com;",
		"return 301 https://$host$request_uri;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("TLS config lacks %q", want)
		}
	}
	// The health location is in both servers; the port-80 server proxies nothing.
	if n := strings.Count(conf, "location = "+HealthPath); n != 2 {
		t.Errorf("health location appears %d times, want 2 (port 80 and 443)", n)
	}
	http := conf[strings.Index(conf, "listen 80 "):strings.Index(conf, "listen 443 ")]
	if strings.Contains(http, "proxy_pass") {
		t.Error("the port-80 server proxies to Rocket.Chat; with TLS it must only redirect and answer the health check")
	}
	if strings.Contains(conf, "TLSv1.1") || strings.Contains(conf, "TLSv1 ") {
		t.Error("old TLS versions enabled")
	}
	checkBraces(t, conf)

	conf, err = Render(Config{Upstreams: []string{"10.0.0.1:3000"}, TLS: true, HTTPSPort: 8443, PublicHTTPSPort: 443,
		HTTP2On: true, ListenAddress: "192.0.2.10", CertFile: "/c.pem", KeyFile: "/k.pem"})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"listen 192.0.2.10:8443 ssl default_server;", "http2 on;", "listen 192.0.2.10:80 default_server;",
		"return 301 https://$host$request_uri;", "ssl_certificate /c.pem;", "ssl_certificate_key /k.pem;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("TLS config with custom ports lacks %q", want)
		}
	}
	conf, _ = Render(Config{Upstreams: []string{"10.0.0.1:3000"}, TLS: true, PublicHTTPSPort: 8443})
	if !strings.Contains(conf, "return 301 https://$host:8443$request_uri;") {
		t.Error("redirect does not carry the public https port 8443")
	}
}

func TestNginxRenderTrustedProxies(t *testing.T) {
	conf, err := Render(Config{Upstreams: []string{"10.0.0.1:3000"}, TrustedProxies: []string{"10.1.0.0/16", "192.0.2.7"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"set_real_ip_from 10.1.0.0/16;", "set_real_ip_from 192.0.2.7;", "real_ip_header X-Forwarded-For;",
		"geo $realip_remote_addr $rcha_trusted_peer {", "10.1.0.0/16 1;",
		"proxy_set_header X-Forwarded-Proto $rcha_forwarded_proto;",
		"proxy_set_header X-Forwarded-For $rcha_forwarded_for;",
	} {
		if !strings.Contains(conf, want) {
			t.Errorf("trusted-proxy config lacks %q", want)
		}
	}
}

func TestNginxRenderOverrides(t *testing.T) {
	conf, err := Render(Config{
		Upstreams: []string{"127.0.0.1:3000"}, ClientMaxBodySize: "0", PidFile: "/tmp/p/nginx.pid", ErrorLog: "/tmp/p/e.log",
		AccessLog: "off", TempDir: "/tmp/p/temp", User: "root", WorkerProcesses: 2, MaxFails: 5, FailTimeout: 30 * time.Second,
		Keepalive: 8, ProxyTimeout: 90 * time.Second, HTTPPort: 8080,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"client_max_body_size 0;", "pid /tmp/p/nginx.pid;", "error_log /tmp/p/e.log warn;", "access_log off;",
		"proxy_temp_path /tmp/p/temp/proxy_temp;", "user root;", "worker_processes 2;", "max_fails=5 fail_timeout=30s;",
		"keepalive 8;", "proxy_read_timeout 90s;", "listen 8080 default_server;"} {
		if !strings.Contains(conf, want) {
			t.Errorf("config lacks %q", want)
		}
	}
}

func TestNginxValidateRejects(t *testing.T) {
	ok := Config{Upstreams: []string{"10.0.0.1:3000"}}
	cases := []struct {
		name string
		edit func(*Config)
		want string // part of the error
	}{
		{"no upstreams", func(c *Config) { c.Upstreams = nil }, "Upstreams is empty"},
		{"upstream without port", func(c *Config) { c.Upstreams = []string{"10.0.0.1"} }, "Upstreams[0]"},
		{"upstream port 0", func(c *Config) { c.Upstreams = []string{"10.0.0.1:0"} }, "1-65535"},
		{"upstream port too big", func(c *Config) { c.Upstreams = []string{"a:70000"} }, "1-65535"},
		{"upstream bad host", func(c *Config) { c.Upstreams = []string{"bad host;:3000"} }, "neither an IP address nor a host name"},
		{"duplicate upstream", func(c *Config) { c.Upstreams = []string{"a:1", "b:2", "A:1"} }, "Upstreams[2] \"A:1\" repeats Upstreams[0]"},
		{"negative http port", func(c *Config) { c.HTTPPort = -1 }, "HTTPPort -1"},
		{"https port too big", func(c *Config) { c.TLS, c.HTTPSPort = true, 65536 }, "HTTPSPort 65536"},
		{"same ports", func(c *Config) { c.TLS, c.HTTPPort, c.HTTPSPort = true, 8080, 8080 }, "both 8080"},
		{"TLS with cert only", func(c *Config) { c.TLS, c.CertFile = true, "/c.pem" }, "KeyFile is empty"},
		{"TLS with key only", func(c *Config) { c.TLS, c.KeyFile = true, "/k.pem" }, "CertFile is empty"},
		{"cert without TLS", func(c *Config) { c.CertFile, c.KeyFile = "/c", "/k" }, "TLS is off"},
		{"listen address", func(c *Config) { c.ListenAddress = "eth0" }, "ListenAddress"},
		{"server name", func(c *Config) { c.ServerName = "chat.example.com; evil" }, "ServerName"},
		{"body size", func(c *Config) { c.ClientMaxBodySize = "200MB" }, "ClientMaxBodySize"},
		{"path injection", func(c *Config) { c.PidFile = "/x;y" }, "PidFile"},
		{"temp dir with space", func(c *Config) { c.TempDir = "/a b" }, "TempDir"},
		{"user", func(c *Config) { c.User = "a b" }, "User"},
		{"timeout fraction", func(c *Config) { c.ProxyTimeout = 1500 * time.Millisecond }, "ProxyTimeout"},
		{"negative keepalive", func(c *Config) { c.Keepalive = -1 }, "Keepalive"},
		{"trusted proxy", func(c *Config) { c.TrustedProxies = []string{"10.0.0.0/33"} }, "TrustedProxies[0]"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			c.Upstreams = slices.Clone(ok.Upstreams)
			tc.edit(&c)
			_, err := Render(c)
			if err == nil {
				t.Fatalf("Render accepted %+v", c)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "nginx config:") {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
	// All problems are reported at once.
	err := Config{HTTPPort: 99999, ClientMaxBodySize: "x"}.Validate()
	for _, want := range []string{"Upstreams is empty", "HTTPPort 99999", "ClientMaxBodySize"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("combined error %v lacks %q", err, want)
		}
	}
}

func TestNginxWithDefaultsDoesNotAlias(t *testing.T) {
	c := Config{Upstreams: []string{"a:1"}}
	d := c.WithDefaults()
	d.Upstreams[0] = "changed:1"
	if c.Upstreams[0] != "a:1" {
		t.Error("WithDefaults shares the Upstreams slice with its receiver")
	}
	if d.HTTPPort != 80 || d.HTTPSPort != 443 || d.ServerName != "_" || d.ClientMaxBodySize != DefaultClientMaxBodySize {
		t.Errorf("defaults not applied: %+v", d)
	}
	if d.CertFile != "" {
		t.Error("cert path defaulted without TLS")
	}
	if tl := (Config{TLS: true}).WithDefaults(); tl.CertFile != DefaultCertFile || tl.KeyFile != DefaultKeyFile {
		t.Errorf("TLS cert defaults %q %q", tl.CertFile, tl.KeyFile)
	}
}

func TestNginxHealthcheckCommand(t *testing.T) {
	for _, tc := range []struct {
		c    Config
		want string
	}{
		{Config{}, "http://127.0.0.1:80/nginx-health"},
		{Config{HTTPPort: 8080, ListenAddress: "0.0.0.0"}, "http://127.0.0.1:8080/nginx-health"},
		{Config{ListenAddress: "192.0.2.5"}, "http://192.0.2.5:80/nginx-health"},
		{Config{ListenAddress: "::"}, "http://[::1]:80/nginx-health"},
	} {
		got := Healthcheck(tc.c)
		want := []string{"CMD", "wget", "-q", "-T", "3", "-O", "/dev/null", tc.want}
		if !slices.Equal(got, want) {
			t.Errorf("Healthcheck(%+v) = %q, want %q", tc.c, got, want)
		}
	}
}

// checkBraces fails when braces do not balance outside quoted strings.
func checkBraces(t *testing.T, conf string) {
	t.Helper()
	depth := 0
	for _, line := range strings.Split(conf, "\n") {
		line = regexp.MustCompile(`'[^']*'|"[^"]*"`).ReplaceAllString(line, "")
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		depth += strings.Count(line, "{") - strings.Count(line, "}")
		if depth < 0 {
			t.Fatalf("unbalanced '}' at %q", line)
		}
	}
	if depth != 0 {
		t.Fatalf("config ends at brace depth %d", depth)
	}
}
