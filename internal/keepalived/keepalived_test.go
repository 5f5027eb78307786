package keepalived

import (
	"flag"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

func sample() Config {
	return Config{
		RouterName: "rocketchat-rocket-1", Interface: "eth0", VirtualRouterID: 51, Priority: 150,
		Self: "10.250.250.13", Peers: []string{"10.250.250.14", "10.250.250.17"}, Password: "s3cr3tPw",
		VirtualIP: "10.250.250.100", Prefix: 24, HealthURL: "http://127.0.0.1:80/nginx-health",
	}
}

func TestRenderGolden(t *testing.T) {
	got, err := Render(sample())
	if err != nil {
		t.Fatal(err)
	}
	testenv.Golden(t, filepath.Join("testdata", "node.conf"), got, *update)
	for _, s := range []string{"state BACKUP", "nopreempt", "unicast_src_ip 10.250.250.13", "10.250.250.100/24 dev eth0",
		"auth_pass s3cr3tPw", "virtual_router_id 51", `script "/usr/bin/wget -q -T 2 -O /dev/null http://127.0.0.1:80/nginx-health"`} {
		if !strings.Contains(got, s) {
			t.Errorf("config lacks %q", s)
		}
	}
}

func TestValidateRejects(t *testing.T) {
	for name, c := range map[string]struct {
		mutate func(*Config)
		want   string
	}{
		"no peers":        {func(c *Config) { c.Peers = nil }, "Peers is empty"},
		"peer is self":    {func(c *Config) { c.Peers = []string{c.Self} }, `Peers[0] "10.250.250.13" is Self`},
		"long password":   {func(c *Config) { c.Password = "123456789" }, "Password must be 1 to 8"},
		"quote in pass":   {func(c *Config) { c.Password = `a"b` }, "Password must be"},
		"router id":       {func(c *Config) { c.VirtualRouterID = 256 }, "VirtualRouterID 256"},
		"ipv6 vip":        {func(c *Config) { c.VirtualIP = "fd00::1" }, `VirtualIP "fd00::1" is not an IPv4`},
		"interface":       {func(c *Config) { c.Interface = "eth 0" }, `Interface "eth 0"`},
		"priority":        {func(c *Config) { c.Priority = 255 }, "Priority 255"},
		"prefix":          {func(c *Config) { c.Prefix = 33 }, "Prefix 33"},
		"url with quotes": {func(c *Config) { c.HealthURL = `http://x/"; rm -rf /` }, "HealthURL"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := sample()
			c.mutate(&cfg)
			_, err := Render(cfg)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}
