// Package monitoring_test runs the monitoring stack's config step (the
// component's real script text and environment) against Debian's
// Prometheus on loopback, through the stand-in docker CLI: a scale event
// rewrites the scrape config and Prometheus reloads it in place, and a
// config that promtool rejects leaves the running one alone.
package monitoring_test

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

const installPrometheus = "apt-get install prometheus (Debian's package ships prometheus and promtool)"

// cluster is n nodes on 127.0.0.1, each on its own (never contacted)
// Docker host, with the stack on n1 and Prometheus on port.
func cluster(n, port int) *components.RocketChatHAArgs {
	a := &components.RocketChatHAArgs{RootURL: pulumi.String("https://chat.example.test"),
		Monitoring: components.MonitoringArgs{Node: "n1", Ports: components.MonitoringPorts{Prometheus: port}}}
	for i := 1; i <= n; i++ {
		a.Nodes = append(a.Nodes, components.Node{Name: fmt.Sprintf("n%d", i), Address: "127.0.0.1",
			DockerHost: fmt.Sprintf("unix:///nonexistent/docker-n%d.sock", i),
			Ports:      components.Ports{RocketChat: 3000 + i, MongoExporter: 19216 + i, RocketChatMetrics: 19458 + i}})
	}
	return a
}

// stack returns the Prometheus container and its config step as the
// component registers them for args.
func stack(t *testing.T, args *components.RocketChatHAArgs) (mocktest.Resource, mocktest.Resource) {
	t.Helper()
	rec, err := mocktest.Run(t, nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewRocketChatHA(ctx, "chat", args)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return rec.Named(t, "docker:index/container:Container", "chat-prometheus"), rec.Named(t, "command:local:Command", "chat-prometheus-config")
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// runtimeInfo is part of /api/v1/status/runtimeinfo.
type runtimeInfo struct {
	StartTime           time.Time `json:"startTime"`
	ReloadConfigSuccess bool      `json:"reloadConfigSuccess"`
	LastConfigTime      time.Time `json:"lastConfigTime"`
}

// mongoTargets counts the active targets of job mongodb.
func mongoTargets(t *testing.T, base string) int {
	t.Helper()
	var tg struct {
		ActiveTargets []struct {
			Labels map[string]string `json:"labels"`
		} `json:"activeTargets"`
	}
	if err := testenv.PrometheusAPI(base, "/api/v1/targets", &tg); err != nil {
		return -1
	}
	n := 0
	for _, a := range tg.ActiveTargets {
		if a.Labels["job"] == "mongodb" {
			n++
		}
	}
	return n
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("waited 30s for %s", what)
}

func TestConfigStepReloadsPrometheusInPlace(t *testing.T) {
	promBin := testenv.LookPath(t, "prometheus", installPrometheus)
	testenv.LookPath(t, "promtool", installPrometheus)
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	root := t.TempDir()

	// The container's first config: its uploads, for three nodes.
	c3, _ := stack(t, cluster(3, port))
	for _, f := range []string{"/etc/rcha-monitoring/prometheus.yml", "/etc/rcha-monitoring/rules.yml"} {
		text, ok := c3.Upload(f)
		if !ok {
			t.Fatalf("prometheus container has no upload %s", f)
		}
		path := filepath.Join(root, f)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	prom := exec.Command(promBin, "--config.file="+filepath.Join(root, "etc/rcha-monitoring/prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(t.TempDir(), "data"), fmt.Sprintf("--web.listen-address=127.0.0.1:%d", port), "--web.enable-lifecycle")
	var log testenv.SyncBuffer
	prom.Stdout, prom.Stderr = &log, &log
	if err := prom.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- prom.Wait() }()
	t.Cleanup(func() {
		prom.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("prometheus log:\n%s", log.String())
		}
	})
	waitUntil(t, "three mongodb targets", func() bool { return mongoTargets(t, base) == 3 })
	var before runtimeInfo
	if err := testenv.PrometheusAPI(base, "/api/v1/status/runtimeinfo", &before); err != nil {
		t.Fatal(err)
	}

	// Scale to four nodes: the config step of the new desired state.
	_, step4 := stack(t, cluster(4, port))
	script := step4.String("create")
	env := map[string]string{}
	for k, v := range mocktest.Unwrap(step4.Inputs["environment"]).ObjectValue() {
		env[string(k)] = mocktest.Unwrap(v).StringValue()
	}
	for _, want := range []string{"RCHA_FILE_0", "RCHA_FILE_1", "RCHA_FILES", "RCHA_CHECK", "RCHA_SIGNAL", "RCHA_CONTAINER"} {
		if env[want] == "" {
			t.Fatalf("config step environment lacks %s: %v", want, env)
		}
	}
	fake := t.TempDir()
	testenv.InstallFakeDocker(t, fake)
	dockerLog := filepath.Join(fake, "docker.log")
	run := func(env map[string]string) (string, error) {
		cmd := exec.Command("/bin/sh", "-c", script)
		cmd.Env = append(os.Environ(), "PATH="+fake+string(os.PathListSeparator)+os.Getenv("PATH"),
			"RCHA_ROOT="+root, "RCHA_FAKE_DOCKER_LOG="+dockerLog, fmt.Sprintf("RCHA_FAKE_KILL_PID=%d", prom.Process.Pid))
		for k, v := range env {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run(env)
	if err != nil {
		t.Fatalf("config step: %v\n%s", err, out)
	}
	waitUntil(t, "four mongodb targets after the reload", func() bool { return mongoTargets(t, base) == 4 })
	var after runtimeInfo
	if err := testenv.PrometheusAPI(base, "/api/v1/status/runtimeinfo", &after); err != nil {
		t.Fatal(err)
	}
	if !after.StartTime.Equal(before.StartTime) || !after.ReloadConfigSuccess || !after.LastConfigTime.After(before.LastConfigTime) {
		t.Errorf("runtime info before %+v, after %+v: want the same process, a successful, later config", before, after)
	}
	select {
	case err := <-exited:
		t.Fatalf("prometheus exited: %v", err)
	default:
	}
	logged, _ := os.ReadFile(dockerLog)
	if !strings.Contains(string(logged), "kill HUP chat-prometheus") {
		t.Errorf("docker calls %q: no SIGHUP to chat-prometheus", logged)
	}

	// A config promtool rejects: the step fails, the files stay as they
	// were, Prometheus keeps running with them.
	good, _ := os.ReadFile(filepath.Join(root, "etc/rcha-monitoring/prometheus.yml"))
	bad := map[string]string{}
	for k, v := range env {
		bad[k] = v
	}
	bad["RCHA_FILE_0"] = "scrape_configs:\n  - job_name: [\n"
	if out, err := run(bad); err == nil || !strings.Contains(out, "the running one stays") {
		t.Errorf("a rejected config: err %v, output:\n%s", err, out)
	}
	now, _ := os.ReadFile(filepath.Join(root, "etc/rcha-monitoring/prometheus.yml"))
	if string(now) != string(good) {
		t.Errorf("the rejected config was left in place")
	}
	if n := mongoTargets(t, base); n != 4 {
		t.Errorf("%d mongodb targets after a rejected config, want 4", n)
	}
}
