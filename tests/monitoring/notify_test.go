package monitoring_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
)

// TestVRRPNotifyScript runs keepalived's notify script, as the component
// uploads it, for each state keepalived reports: the state file says
// rcha_vrrp_master 1 for MASTER only, in the text format Prometheus reads.
func TestVRRPNotifyScript(t *testing.T) {
	rec, err := mocktest.Run(t, nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewRocketChatHA(ctx, "chat", &components.RocketChatHAArgs{
			Nodes:        []components.Node{{Name: "rocket-1", Address: "10.250.250.11"}, {Name: "rocket-2", Address: "10.250.250.12"}},
			RootURL:      pulumi.String("https://chat.example.test"),
			LoadBalancer: components.LoadBalancer{VirtualIP: "10.250.250.100", Interface: "eth0"},
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	script, ok := rec.Named(t, "docker:index/container:Container", "chat-lb-rocket-1-keepalived").Upload("/etc/keepalived/rcha-notify.sh")
	if !ok {
		t.Fatal("keepalived has no notify script")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	for state, want := range map[string]string{"MASTER": "1", "BACKUP": "0", "FAULT": "0", "STOP": "0"} {
		cmd := exec.Command("/bin/sh", path, "INSTANCE", "rocketchat_ha", state, "200")
		cmd.Env = append(os.Environ(), "RCHA_VRRP_DIR="+filepath.Join(dir, "state"))
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", state, err, out)
		}
		text, err := os.ReadFile(filepath.Join(dir, "state", "state.prom"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(text), "# TYPE rcha_vrrp_master gauge\nrcha_vrrp_master "+want+"\n") {
			t.Errorf("%s: state file %q, want rcha_vrrp_master %s", state, text, want)
		}
	}
}
