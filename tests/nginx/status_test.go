package nginx_test

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/nginx"
	"github.com/rocketchat-ha/rocketchat-ha/tests/nginx/standin"
)

// TestNginxStatusServer runs Debian's nginx with the monitoring status
// server: stub_status answers in the format nginx-prometheus-exporter
// reads, each server's probe answers with the reachable metric while the
// server answers /api/info and fails when it is killed, and the VRRP state
// file is served.
func TestNginxStatusServer(t *testing.T) {
	port, err := standin.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	vrrp := filepath.Join(t.TempDir(), "vrrp.prom")
	if err := os.WriteFile(vrrp, []byte("rcha_vrrp_master 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, bs := startLB(t, 2, func(c *nginx.Config) {
		c.Status = &nginx.Status{Port: port, VRRPFile: vrrp}
		for i, u := range c.Upstreams {
			c.Status.Probes = append(c.Status.Probes, nginx.Probe{Name: "rocket-" + strconv.Itoa(i+1), Upstream: u})
		}
	})
	base := "http://127.0.0.1:" + strconv.Itoa(port)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(body)
	}
	if code, body := get("/stub_status"); code != 200 || !strings.Contains(body, "Active connections:") || !strings.Contains(body, "server accepts handled requests") {
		t.Errorf("stub_status: %d %q", code, body)
	}
	for _, name := range []string{"rocket-1", "rocket-2"} {
		if code, body := get("/rcha/upstream/" + name); code != 200 || !strings.Contains(body, "rcha_upstream_reachable 1\n") {
			t.Errorf("probe of %s: %d %q", name, code, body)
		}
	}
	bs[1].Kill()
	if code, _ := get("/rcha/upstream/rocket-2"); code == 200 {
		t.Errorf("probe of a killed server answers 200")
	}
	if code, _ := get("/rcha/upstream/rocket-1"); code != 200 {
		t.Errorf("probe of the living server: %d", code)
	}
	if code, body := get("/rcha/vrrp"); code != 200 || body != "rcha_vrrp_master 1\n" {
		t.Errorf("vrrp: %d %q", code, body)
	}
	if code, _ := get("/"); code != 404 {
		t.Errorf("status server /: %d, want 404", code)
	}
}
