package keepalived_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
)

// notifyScript is keepalived's notify script (monitoring) as the component
// uploads it.
func notifyScript(t *testing.T) string {
	t.Helper()
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
		t.Fatal("the keepalived container has no notify script")
	}
	return script
}

// installNotify writes the notify script and, per host, a wrapper that
// points it at the host's state directory, into a root-only directory
// (keepalived's script security refuses scripts under a directory others
// can write, such as /tmp). It returns the wrappers by host name.
func (l *lab) installNotify(t *testing.T) map[string]string {
	t.Helper()
	dir := "/run/rcha-ka-notify-" + l.sfx
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	script := filepath.Join(dir, "notify.sh")
	if err := os.WriteFile(script, []byte(notifyScript(t)), 0o755); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, h := range l.hosts {
		w := filepath.Join(dir, "notify-"+h.name+".sh")
		body := fmt.Sprintf("#!/bin/sh\nRCHA_VRRP_DIR=%s exec /bin/sh %s \"$@\"\n", filepath.Join(h.dir, "vrrp"), script)
		if err := os.WriteFile(w, []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
		out[h.name] = w
	}
	return out
}

// checkVRRPState: once the lab has converged, the holder's state file says
// rcha_vrrp_master 1 and every other host's says 0, as keepalived's notify
// script wrote them.
func (l *lab) checkVRRPState(t *testing.T, holder *lbHost) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var wrong []string
		for _, h := range l.hosts {
			want := "0"
			if h == holder {
				want = "1"
			}
			b, err := os.ReadFile(filepath.Join(h.dir, "vrrp", "state.prom"))
			if err != nil || !strings.Contains(string(b), "\nrcha_vrrp_master "+want+"\n") {
				wrong = append(wrong, fmt.Sprintf("%s: %q (%v), want %s", h.name, b, err, want))
			}
		}
		if len(wrong) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("VRRP state files after 10s: %v", wrong)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
