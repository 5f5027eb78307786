package nginx_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
	"github.com/rocketchat-ha/rocketchat-ha/internal/nginx"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
	"github.com/rocketchat-ha/rocketchat-ha/tests/nginx/standin"
)

// reloadStep returns the load balancer's config step exactly as the
// component registers it (script text and environment), from a run under
// mocks.
func reloadStep(t *testing.T) (script string, env map[string]string) {
	t.Helper()
	rec, err := mocktest.Run(t, nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewRocketChatHA(ctx, "chat", &components.RocketChatHAArgs{
			Nodes:   []components.Node{{Name: "rocket-1", Address: "10.250.250.11"}},
			RootURL: pulumi.String("https://chat.example.test"),
		})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	step := rec.Named(t, "command:local:Command", "chat-lb-config")
	env = map[string]string{}
	for k, v := range mocktest.Unwrap(step.Inputs["environment"]).ObjectValue() {
		env[string(k)] = mocktest.Unwrap(v).StringValue()
	}
	return step.String("create"), env
}

// runReloadScript runs the component's config-step script against the
// nginx under prefix with conf as RCHA_NGINX_CONF.
func runReloadScript(t *testing.T, bin, prefix, conf string) (string, error) {
	t.Helper()
	script, env := reloadStep(t)
	fake := t.TempDir()
	log := filepath.Join(fake, "docker.log")
	testenv.InstallFakeDocker(t, fake)
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s -p %s -c %s/nginx.conf -e %s/error.log \"$@\"\n", bin, prefix, prefix, prefix)
	must(t, os.WriteFile(filepath.Join(fake, "nginx"), []byte(wrapper), 0o755))
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Env = append(os.Environ(),
		"PATH="+fake+string(os.PathListSeparator)+os.Getenv("PATH"),
		"DOCKER_HOST=unix:///nonexistent/docker.sock",
		"RCHA_CONTAINER="+env["RCHA_CONTAINER"],
		"RCHA_NGINX_CONF="+conf,
		"RCHA_NGINX_DIR="+prefix,
		"RCHA_FAKE_DOCKER_LOG="+log,
	)
	out, err := cmd.CombinedOutput()
	if got, _ := os.ReadFile(log); strings.TrimSpace(string(got)) != "chat-lb" {
		t.Errorf("the script exec'd into %q, want chat-lb", got)
	}
	return string(out), err
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// The load balancer's config step replaces the upstreams of a running nginx
// without dropping an open websocket, and keeps the running config when the
// new one fails `nginx -t`.
func TestReloadScriptSwapsUpstreamsInPlace(t *testing.T) {
	ng, bs := startLB(t, 1, nil)
	conn, err := standin.DialFrom(context.Background(), standin.ClientAddr(0), ng.HTTPAddr())
	must(t, err)
	ws, err := standin.DialWebSocket(conn, "chat.example.test", "/websocket")
	must(t, err)
	defer ws.Close()
	if _, _, err := ws.Receive(5 * time.Second); err != nil {
		t.Fatal(err)
	}

	next := standin.NewBackend("next")
	t.Cleanup(next.Close)
	c := ng.Config
	c.Upstreams = []string{next.Addr()}
	conf, err := nginx.Render(c)
	must(t, err)
	out, err := runReloadScript(t, ng.Bin, ng.Prefix, conf)
	if err != nil {
		t.Fatalf("reload script failed: %v\n%s", err, out)
	}
	if !strings.Contains(out, "load balancer reloaded") {
		t.Errorf("no progress line in the output:\n%s", out)
	}
	client := standin.ClientFrom(standin.ClientAddr(1), false, nil)
	deadline := time.Now().Add(10 * time.Second)
	for {
		e, err := getEcho(t, client, ng.HTTPURL()+"/api/info")
		if err == nil && e.Backend == "next" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("requests did not reach the new upstream within 10s (last: %+v, %v)\n%s", e, err, ng.ErrorLog())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := ws.Send(standin.OpText, []byte("still here")); err != nil {
		t.Fatal(err)
	}
	if op, p, err := ws.Receive(5 * time.Second); err != nil || op != standin.OpText || string(p) != "still here" {
		t.Errorf("websocket opened before the reload: %d %q %v; want the echo", op, p, err)
	}
	if bs[0].Connections() == 0 {
		t.Error("the old backend lost its websocket connection")
	}

	// A config nginx rejects changes nothing.
	out, err = runReloadScript(t, ng.Bin, ng.Prefix, "this is not an nginx config;\n")
	if err == nil {
		t.Fatalf("a broken config was accepted:\n%s", out)
	}
	if !strings.Contains(out, "rejected the new config") {
		t.Errorf("the failure does not say what happened:\n%s", out)
	}
	kept, err := os.ReadFile(filepath.Join(ng.Prefix, "nginx.conf"))
	must(t, err)
	if string(kept) != conf {
		t.Error("nginx.conf was not restored after the rejected config")
	}
	if _, err := os.Stat(filepath.Join(ng.Prefix, "nginx.conf.rcha-prev")); !os.IsNotExist(err) {
		t.Errorf("backup left behind: %v", err)
	}
	if e, err := getEcho(t, client, ng.HTTPURL()+"/api/info"); err != nil || e.Backend != "next" {
		t.Errorf("after the rejected config: %+v, %v; want the running config to keep serving", e, err)
	}
	if ng.Exited() {
		t.Error("nginx exited")
	}
}
