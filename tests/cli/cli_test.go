package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

// summary mirrors rcha's --json document.
type summary struct {
	Command         string         `json:"command"`
	Stack           string         `json:"stack"`
	Project         string         `json:"project"`
	Backend         string         `json:"backend"`
	Result          string         `json:"result"`
	ExitCode        int            `json:"exitCode"`
	Changes         map[string]int `json:"changes"`
	ChangeCount     int            `json:"changeCount"`
	Outputs         map[string]any `json:"outputs"`
	DurationSeconds float64        `json:"durationSeconds"`
	PulumiVersion   string         `json:"pulumiVersion"`
	Errors          []string       `json:"errors"`
	Verification    *struct {
		OK       bool `json:"ok"`
		Findings []struct {
			Check, Target, Status, Message string
		} `json:"findings"`
		Problems []struct {
			Check, Target, Status, Message string
		} `json:"problems"`
	} `json:"verification"`
}

// project is a temporary project directory: the repository's Pulumi.yaml
// and a three-node stack config whose nodes all live on 127.0.0.1.
type project struct {
	t     *testing.T
	dir   string
	stack string
	env   []string
	trace string
	ports nodePorts
	url   string // the url output after up
}

type nodePorts struct {
	mongo, rocketchat [3]int
}

// freePorts returns n TCP ports that were free on 127.0.0.1 a moment ago.
func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var out []int
	var lns []net.Listener
	for i := 0; i < n; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return out
}

func repoRoot(t *testing.T) string {
	t.Helper()
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

func newProject(t *testing.T) *project {
	t.Helper()
	if pulumiBin == "" {
		testenv.Missing(t, pulumiWhy)
	}
	dir := t.TempDir()
	projYAML, err := os.ReadFile(filepath.Join(repoRoot(t), "Pulumi.yaml"))
	require.NoError(t, err, "the repository's Pulumi.yaml")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "Pulumi.yaml"), projYAML, 0o644))
	p := &project{t: t, dir: dir, stack: "e2e", trace: filepath.Join(dir, "trace.jsonl")}
	ports := freePorts(t, 6)
	for i := 0; i < 3; i++ {
		p.ports.mongo[i] = ports[i]
		p.ports.rocketchat[i] = ports[3+i]
	}
	p.writeConfig(p.ports.rocketchat[2])
	home := filepath.Join(dir, "pulumi-home")
	p.env = append(os.Environ(),
		"PATH="+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"RCHA_PULUMI_BIN="+pulumiBin,
		"PULUMI_HOME="+home,
		"PULUMI_CONFIG_PASSPHRASE=e2e-passphrase",
		"PULUMI_BACKEND_URL=",
		"RCHA_LAB_TRACE="+p.trace,
		"RCHA_LAB_WORLD="+filepath.Join(dir, "world"),
		"SSH_AUTH_SOCK=",
	)
	return p
}

// writeConfig writes Pulumi.e2e.yaml; the third node's Rocket.Chat port is a
// parameter so a test can change it.
func (p *project) writeConfig(rc3 int) {
	var nodes strings.Builder
	for i := 0; i < 3; i++ {
		rc := p.ports.rocketchat[i]
		if i == 2 {
			rc = rc3
		}
		fmt.Fprintf(&nodes, "    - name: node-%d\n      address: 127.0.0.1\n      dockerHost: unix:///var/run/docker.sock\n      ports: {mongo: %d, rocketchat: %d, instance: %d}\n",
			i+1, p.ports.mongo[i], rc, 40000+i)
	}
	cfg := "config:\n  rocketchat-ha:rootUrl: http://chat.e2e.test\n  rocketchat-ha:nodes:\n" + nodes.String() +
		"  rocketchat-ha:loadBalancer:\n    node: node-1\n    bindAddress: 127.0.0.1\n    httpPort: 41080\n" +
		"  rocketchat-ha:monitoring:\n    enabled: false\n" // its own tiers; these count containers
	require.NoError(p.t, os.WriteFile(filepath.Join(p.dir, "Pulumi."+p.stack+".yaml"), []byte(cfg), 0o644))
}

type result struct {
	code   int
	stdout string
	stderr string
	sum    summary
}

func (p *project) rcha(args ...string) result {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, rchaBin, args...)
	cmd.Dir = p.dir
	cmd.Env = p.env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	if ee, isExit := err.(*exec.ExitError); isExit {
		r.code = ee.ExitCode()
	} else {
		require.NoError(p.t, err, "run rcha %v", args)
	}
	if containsArg(args, "--json") {
		require.NoError(p.t, json.Unmarshal(out.Bytes(), &r.sum), "rcha %v: stdout is not one JSON document:\n%s\nstderr:\n%s", args, out.String(), errb.String())
		assert.Equal(p.t, r.code, r.sum.ExitCode, "exitCode in the summary")
	}
	return r
}

func containsArg(args []string, a string) bool {
	for _, x := range args {
		if x == a {
			return true
		}
	}
	return false
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
}

func TestLifecycle(t *testing.T) {
	p := newProject(t)
	s := p.stack

	up := p.rcha("up", "--stack", s, "--json")
	require.Equal(t, 0, up.code, "%s\n(\"missing configuration values\" means the repository's Pulumi.yaml declares config keys without a default: Pulumi then requires every one of them)", up)
	assert.Equal(t, "up", up.sum.Command)
	assert.Equal(t, "succeeded", up.sum.Result)
	assert.Equal(t, "rocketchat-ha", up.sum.Project)
	assert.Equal(t, "file://"+filepath.Join(p.dir, ".pulumi-state"), up.sum.Backend, "default: local file backend in the work dir")
	assert.Greater(t, up.sum.Changes["create"], 10)
	assert.Equal(t, up.sum.Changes["create"], up.sum.ChangeCount)
	assert.Equal(t, "[secret]", up.sum.Outputs["mongoUrl"], "secrets are redacted in the summary")
	lbURL, _ := up.sum.Outputs["url"].(string)
	assert.True(t, strings.HasPrefix(lbURL, "http://"), "url output: %q", lbURL)
	p.url = lbURL
	members := []any{}
	for i := 0; i < 3; i++ {
		members = append(members, fmt.Sprintf("node-%d:%d", i+1, p.ports.mongo[i]))
	}
	assert.Equal(t, members, up.sum.Outputs["members"])
	assert.Greater(t, up.sum.DurationSeconds, 0.0)
	assert.NotEmpty(t, up.sum.PulumiVersion)
	assert.Contains(t, up.stderr, "creating docker:index/container:Container", "progress is streamed as readable lines")
	assert.NotContains(t, up.stdout+up.stderr, "e2e-passphrase")
	_, err := os.Stat(filepath.Join(p.dir, ".pulumi-state", ".pulumi", "stacks", "rocketchat-ha", s+".json"))
	assert.NoError(t, err, "state is in <work-dir>/.pulumi-state")

	outs := p.rcha("outputs", "--stack", s, "--json")
	require.Equal(t, 0, outs.code, "%s", outs)
	assert.Equal(t, up.sum.Outputs, outs.sum.Outputs)
	shown := p.rcha("outputs", "--stack", s, "--json", "--show-secrets")
	require.Equal(t, 0, shown.code, "%s", shown)
	mongoURL, _ := shown.sum.Outputs["mongoUrl"].(string)
	assert.True(t, strings.HasPrefix(mongoURL, "mongodb://rocket:"), mongoURL)
	for _, want := range []string{"replicaSet=rs0", "authSource=admin", "w=majority", fmt.Sprintf("node-3:%d", p.ports.mongo[2])} {
		assert.Contains(t, mongoURL, want)
	}
	human := p.rcha("outputs", "--stack", s)
	require.Equal(t, 0, human.code)
	assert.Regexp(t, `(?m)^  mongoUrl\s+\[secret\]$`, human.stdout)

	same := p.rcha("preview", "--stack", s, "--expect-no-changes", "--json")
	require.Equal(t, 0, same.code, "%s", same)
	assert.Equal(t, 0, same.sum.ChangeCount)
	assert.Equal(t, up.sum.ChangeCount, same.sum.Changes["same"])

	// A changed port replaces containers: preview reports it with exit 2.
	p.writeConfig(p.ports.rocketchat[2] + 1)
	changed := p.rcha("preview", "--stack", s, "--expect-no-changes", "--diff", "--json")
	require.Equal(t, 2, changed.code, "%s", changed)
	assert.Equal(t, "changes", changed.sum.Result)
	assert.Greater(t, changed.sum.Changes["replace"], 0)
	assert.Contains(t, changed.stderr, "would replace docker:index/container:Container")
	assert.Contains(t, changed.stderr, fmt.Sprint(p.ports.rocketchat[2]+1), "--diff prints the detailed diff")
	// Without --expect-no-changes, changes are not an error.
	plain := p.rcha("preview", "--stack", s, "--json")
	assert.Equal(t, 0, plain.code, "%s", plain)
	p.writeConfig(p.ports.rocketchat[2])

	refresh := p.rcha("refresh", "--stack", s, "--expect-no-changes", "--json")
	assert.Equal(t, 0, refresh.code, "%s", refresh)
	assert.Equal(t, "refresh", refresh.sum.Command)

	t.Run("verify", func(t *testing.T) { verifyAgainstFakes(t, p) })

	down := p.rcha("destroy", "--stack", s, "--json")
	require.Equal(t, 0, down.code, "%s", down)
	assert.Equal(t, up.sum.ChangeCount, down.sum.Changes["delete"])
	assert.Empty(t, down.sum.Outputs)
	after := p.rcha("outputs", "--stack", s, "--json")
	require.Equal(t, 0, after.code, "%s", after)
	assert.Empty(t, after.sum.Outputs)
}

// verifyAgainstFakes runs verify with Rocket.Chat simulated by httptest
// servers on the nodes' ports and no mongod at all: the HTTP checks pass
// and the MongoDB checks fail, so verify exits 4 and lists what is wrong.
func verifyAgainstFakes(t *testing.T, p *project) {
	var hits sync.Map
	handler := func(name string) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits.Store(name+r.URL.Path+" host="+r.Host, true)
			switch r.URL.Path {
			case "/api/info":
				_, _ = w.Write([]byte(`{"version":"7.11.2","success":true}`))
			case "/readyz":
				_, _ = w.Write([]byte("ok"))
			default:
				http.NotFound(w, r)
			}
		})
	}
	serve := func(name string, port int) {
		ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		require.NoError(t, err)
		srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: handler(name)}}
		srv.Start()
		t.Cleanup(srv.Close)
	}
	for i := 0; i < 3; i++ {
		serve(fmt.Sprintf("node-%d", i+1), p.ports.rocketchat[i])
	}
	lbPort := freePorts(t, 1)[0]
	serve("lb", lbPort)

	r := p.rcha("verify", "--stack", p.stack, "--json", "--timeout", "2s", "--lb-address", fmt.Sprintf("127.0.0.1:%d", lbPort))
	require.Equal(t, 4, r.code, "%s", r)
	require.NotNil(t, r.sum.Verification, "%s", r)
	assert.False(t, r.sum.Verification.OK)
	assert.Equal(t, "verification-failed", r.sum.Result)
	assert.Equal(t, "[secret]", r.sum.Outputs["mongoUrl"])
	status := map[string]string{}
	for _, f := range r.sum.Verification.Findings {
		status[f.Check+" "+f.Target] = f.Status
	}
	assert.Equal(t, "ok", status["mongo.url mongoUrl"])
	assert.Equal(t, "fail", status["mongo.hello mongoUrl"], "no mongod answers")
	for i := 0; i < 3; i++ {
		assert.Equal(t, "fail", status[fmt.Sprintf("mongo.reach node-%d:%d", i+1, p.ports.mongo[i])])
		target := fmt.Sprintf("node node-%d http://127.0.0.1:%d", i+1, p.ports.rocketchat[i])
		assert.Equal(t, "ok", status["http.api-info "+target], "%v", status)
		assert.Equal(t, "ok", status["http.readyz "+target])
	}
	assert.Equal(t, "ok", status["http.api-info lb "+p.url], "the url output is dialled at --lb-address: %v", status)
	assert.Equal(t, "ok", status["http.versions all"])
	u, err := url.Parse(p.url)
	require.NoError(t, err)
	_, lbHit := hits.Load("lb/api/info host=" + u.Host)
	assert.True(t, lbHit, "the load balancer got the request with the url's Host header")
	for _, prob := range r.sum.Verification.Problems {
		assert.Equal(t, "fail", prob.Status)
		assert.True(t, strings.HasPrefix(prob.Check, "mongo.") || strings.HasPrefix(prob.Check, "replset."), "only MongoDB fails: %+v", prob)
	}
	assert.NotEmpty(t, r.sum.Errors)

	human := p.rcha("verify", "--stack", p.stack, "--timeout", "2s", "--skip-http")
	assert.Equal(t, 4, human.code)
	assert.Contains(t, human.stdout, "STATUS  CHECK")
	assert.Contains(t, human.stdout, "verification FAILED")
}

func TestUsageErrors(t *testing.T) {
	p := newProject(t)
	cases := [][]string{
		{},
		{"deploy", "--stack", "e2e"},
		{"up"},
		{"up", "--stack", "e2e", "--no-such-flag"},
		{"preview", "--stack", "e2e", "extra-arg"},
		{"up", "--stack", "missing-config"},
		{"up", "--stack", "e2e", "--work-dir", t.TempDir()},
	}
	for _, args := range cases {
		r := p.rcha(args...)
		assert.Equal(t, 64, r.code, "rcha %v\n%s", args, r)
	}
	r := p.rcha("up", "--stack", "e2e", "--json", "--pulumi", filepath.Join(t.TempDir(), "nope"))
	assert.Equal(t, 1, r.code, "%s", r)
	assert.Equal(t, "setup-failed", r.sum.Result)
	r = p.rcha("outputs", "--stack", "never-created", "--json")
	assert.Equal(t, 1, r.code, "%s", r)
	r = p.rcha("verify", "--stack", "e2e", "--json")
	assert.Equal(t, 1, r.code, "verify on a stack that does not exist: %s", r)
}

// TestInterruptReleasesLock interrupts an up while a container waits for
// health; rcha cancels through the engine, exits 130, and the stack is not
// left locked: the next preview and destroy run.
func TestInterruptReleasesLock(t *testing.T) {
	p := newProject(t)
	s := p.stack
	cmd := exec.Command(rchaBin, "up", "--stack", s, "--json")
	cmd.Dir = p.dir
	cmd.Env = append(p.env, "RCHA_LAB_HEALTH_DELAY=8s")
	var out bytes.Buffer
	cmd.Stdout = &out
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	var log strings.Builder
	sent := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := false
		for sc.Scan() {
			log.WriteString(sc.Text() + "\n")
			if !once && strings.Contains(sc.Text(), "creating docker:index/container:Container") {
				once = true
				_ = cmd.Process.Signal(syscall.SIGINT)
				close(sent)
			}
		}
		_, _ = io.Copy(io.Discard, stderr)
	}()
	err = cmd.Wait()
	select {
	case <-sent:
	default:
		t.Fatalf("up never started a container:\n%s", log.String())
	}
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", log.String())
	assert.Equal(t, 130, ee.ExitCode(), "%s", log.String())
	var sum summary
	require.NoError(t, json.Unmarshal(out.Bytes(), &sum), out.String())
	assert.Equal(t, "interrupted", sum.Result)
	assert.Contains(t, log.String(), "cancelling up")

	locks, _ := filepath.Glob(filepath.Join(p.dir, ".pulumi-state", ".pulumi", "locks", "*", "*", "*", "*"))
	assert.Empty(t, locks, "no lock file is left behind")
	pre := p.rcha("preview", "--stack", s, "--json")
	assert.Equal(t, 0, pre.code, "the stack is not locked: %s", pre)
	assert.Greater(t, pre.sum.ChangeCount, 0, "the interrupted up left work to do")
	down := p.rcha("destroy", "--stack", s, "--json")
	assert.Equal(t, 0, down.code, "%s", down)
}
