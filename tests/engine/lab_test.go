package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

const (
	project    = "rocketchat-ha"
	passphrase = "engine-lab-passphrase"
)

// lab is one stack in its own temporary backend, Pulumi home and
// simulated Docker world.
type lab struct {
	ctx   context.Context
	dir   string
	world string
	env   map[string]string
	stack auto.Stack
	// program is the stack's program (labEngine swaps in one-shot
	// variants for single updates and restores it).
	program pulumi.RunFunc
	cli     *labCLI
	ops     int
	// known holds plaintext secrets that must never appear unencrypted.
	known map[string]string
	// noSecretChecks turns scenario 8 off for the lab's self-tests, whose
	// program has no secrets.
	noSecretChecks bool
}

// opResult is what one engine operation left behind.
type opResult struct {
	name    string
	events  []providers.Event // non-preview events, in the order they happened
	all     []providers.Event
	log     string
	changes map[string]int
	// diags are the diagnostic events of the engine's event stream
	// (what the Automation API hands to rcha), debug ones included.
	diags []apitype.DiagnosticEvent
}

// eventSink collects the events of one operation, and its diagnostic
// events apart.
type eventSink struct {
	ch     chan events.EngineEvent
	done   chan struct{}
	events []events.EngineEvent
	diags  []apitype.DiagnosticEvent
}

func newEventSink() *eventSink {
	s := &eventSink{ch: make(chan events.EngineEvent), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		for e := range s.ch {
			s.events = append(s.events, e)
			if e.DiagnosticEvent != nil {
				s.diags = append(s.diags, *e.DiagnosticEvent)
			}
		}
	}()
	return s
}

// save writes the diagnostics next to the operation's trace, as JSON
// lines (only under RCHA_LAB_KEEP is that directory kept).
func saveDiags(tracePath string, diags []apitype.DiagnosticEvent) {
	var b bytes.Buffer
	for _, d := range diags {
		line, _ := json.Marshal(d)
		b.Write(line)
		b.WriteByte('\n')
	}
	_ = os.WriteFile(strings.TrimSuffix(tracePath, ".jsonl")+".diags.jsonl", b.Bytes(), 0o600)
}

// wait returns the diagnostics once the Automation API closed the channel
// (it does when the operation's event log ends; an operation that failed
// before it started may never open it).
func (s *eventSink) wait() []apitype.DiagnosticEvent {
	select {
	case <-s.done:
		return s.diags
	case <-time.After(20 * time.Second):
		return nil
	}
}

// repoProject is the project file of the program under test; the lab uses
// it so that the engine applies its config declarations (types, defaults).
const repoProject = "../../Pulumi.yaml"

// newLab creates a stack running program. projectFile names the Pulumi.yaml
// to use ("" for a bare project named rocketchat-ha).
func newLab(t *testing.T, stackName string, program pulumi.RunFunc, projectFile string) *lab {
	t.Helper()
	return newLabWith(t, stackName, program, projectFile, nil)
}

// newLabWith is newLab with a hook that may change the project before the
// stack is created (for example to drop `options: refresh: always`).
func newLabWith(t *testing.T, stackName string, program pulumi.RunFunc, projectFile string, edit func(*workspace.Project)) *lab {
	t.Helper()
	if pulumiBin == "" {
		testenv.Missing(t, pulumiWhy)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	t.Cleanup(cancel)
	dir := t.TempDir()
	if keep := os.Getenv("RCHA_LAB_KEEP"); keep != "" {
		// Keep traces, state and engine logs for inspection.
		dir = filepath.Join(keep, strings.ReplaceAll(t.Name(), "/", "_")+"-"+stackName)
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []string{"work", "backend", "home", "world", "trace", "cli/bin"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	// auto.NewPulumiCommand wants <root>/bin/pulumi.
	if err := os.Symlink(pulumiBin, filepath.Join(dir, "cli", "bin", "pulumi")); err != nil {
		t.Fatal(err)
	}
	real, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: filepath.Join(dir, "cli")})
	if err != nil {
		t.Fatalf("pulumi CLI %s: %v", pulumiBin, err)
	}
	cmd := &labCLI{PulumiCommand: real}
	backend := "file://" + filepath.Join(dir, "backend")
	env := map[string]string{
		"PULUMI_CONFIG_PASSPHRASE":                    passphrase,
		"PULUMI_BACKEND_URL":                          backend,
		"PULUMI_SKIP_UPDATE_CHECK":                    "true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
		"PULUMI_AUTOMATION_API_SKIP_VERSION_CHECK":    "false",
		"PULUMI_SKIP_CONFIRMATIONS":                   "true",
		"RCHA_LAB_WORLD":                              filepath.Join(dir, "world"),
		"RCHA_LAB_TRACE":                              filepath.Join(dir, "trace", "setup.jsonl"),
		"RCHA_LAB_HEALTH_DELAY":                       "50ms",
		// Only the program's own DeleteBeforeReplace may protect fixed
		// container names (pulumi-docker #1356: the provider's is unreliable).
		"RCHA_LAB_PROVIDER_DBR": "0",
		"DOCKER_HOST":           "",
	}
	proj := &workspace.Project{Name: project, Runtime: workspace.NewProjectRuntimeInfo("go", nil)}
	if projectFile != "" {
		if proj, err = workspace.LoadProject(projectFile); err != nil {
			t.Fatalf("load %s: %v", projectFile, err)
		}
	}
	proj.Backend = &workspace.ProjectBackend{URL: backend}
	if edit != nil {
		edit(proj)
	}
	stack, err := auto.UpsertStackInlineSource(ctx, stackName, project, program,
		auto.Project(*proj),
		auto.WorkDir(filepath.Join(dir, "work")),
		auto.PulumiHome(filepath.Join(dir, "home")),
		auto.Pulumi(cmd),
		auto.SecretsProvider("passphrase"),
		auto.EnvVars(env),
	)
	if err != nil {
		t.Fatalf("create stack %s: %v", stackName, err)
	}
	return &lab{ctx: ctx, dir: dir, world: filepath.Join(dir, "world"), env: env, stack: stack, program: program, cli: cmd, known: map[string]string{}}
}

// labCLI is the Automation API's Pulumi command with extra arguments for
// some CLI commands, as rcha's own runner adds them (its AddArgs): flags the
// Automation API has no option for, such as --refresh=false, which
// overrides the project's `options: refresh: always`.
type labCLI struct {
	auto.PulumiCommand
	mu    sync.Mutex
	extra map[string][]string
}

// setExtra makes every later run of the CLI command cmd ("up", "preview")
// carry args right after the command name; no args clears them.
func (c *labCLI) setExtra(cmd string, args ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.extra == nil {
		c.extra = map[string][]string{}
	}
	c.extra[cmd] = args
}

func (c *labCLI) Run(ctx context.Context, workdir string, stdin io.Reader, out, errOut []io.Writer, env []string, args ...string) (string, string, int, error) {
	c.mu.Lock()
	if len(args) > 0 && len(c.extra[args[0]]) > 0 {
		args = append(append([]string{args[0]}, c.extra[args[0]]...), args[1:]...)
	}
	c.mu.Unlock()
	return c.PulumiCommand.Run(ctx, workdir, stdin, out, errOut, env, args...)
}

// setConfig writes the stack's config file: plain values as structured
// YAML, secrets encrypted with the passphrase. Every rocketchat-ha key not
// in plain or secret is removed.
func (l *lab) setConfig(t *testing.T, plain map[string]any, secret map[string]string) {
	t.Helper()
	ws := l.stack.Workspace()
	name := l.stack.Name()
	ps, err := ws.StackSettings(l.ctx, name)
	if err != nil {
		t.Fatalf("read stack settings: %v", err)
	}
	ps.Config = config.Map{}
	for k, v := range plain {
		key, err := config.ParseKey(project + ":" + k)
		if err != nil {
			t.Fatal(err)
		}
		switch v := v.(type) {
		case string:
			ps.Config[key] = config.NewValue(v)
		default:
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			ps.Config[key] = config.NewObjectValue(string(b))
		}
	}
	if err := ws.SaveStackSettings(l.ctx, name, ps); err != nil {
		t.Fatalf("write stack settings: %v", err)
	}
	for k, v := range secret {
		// A dotted key is a path into an object (loadBalancer.privateKey).
		opts := &auto.ConfigOptions{Path: strings.Contains(k, ".")}
		if err := l.stack.SetConfigWithOptions(l.ctx, project+":"+k, auto.ConfigValue{Value: v, Secret: true}, opts); err != nil {
			t.Fatalf("set secret config %s: %v", k, err)
		}
		l.known["config "+k] = v
	}
}

// begin points the providers at a fresh trace file for the next operation.
func (l *lab) begin(t *testing.T, name string) string {
	l.ops++
	path := filepath.Join(l.dir, "trace", fmt.Sprintf("%02d-%s.jsonl", l.ops, name))
	l.stack.Workspace().SetEnvVar("RCHA_LAB_TRACE", path)
	return path
}

// tryUp runs an update that may fail and returns its error.
func (l *lab) tryUp(t *testing.T, name string, opts ...optup.Option) (opResult, error) {
	t.Helper()
	res, _, err := l.runUp(t, name, false, opts)
	return res, err
}

// runUp runs one update with the lab's output and event streams; with
// mustSucceed a failure ends the test (in finish).
func (l *lab) runUp(t *testing.T, name string, mustSucceed bool, opts []optup.Option) (opResult, auto.UpResult, error) {
	t.Helper()
	path := l.begin(t, name)
	var log bytes.Buffer
	sink := newEventSink()
	opts = append(opts, optup.ProgressStreams(&log), optup.ErrorProgressStreams(&log), optup.EventStreams(sink.ch))
	r, err := l.stack.Up(l.ctx, opts...)
	diags := sink.wait()
	fatal := error(nil)
	if mustSucceed {
		fatal = err
	}
	res := l.finish(t, name, path, &log, fatal)
	res.diags = diags
	saveDiags(path, diags)
	return res, r, err
}

func (l *lab) finish(t *testing.T, name, tracePath string, log *bytes.Buffer, err error) opResult {
	t.Helper()
	all, rerr := providers.ReadTrace(tracePath)
	if rerr != nil {
		t.Fatal(rerr)
	}
	res := opResult{name: name, all: all, log: log.String()}
	_ = os.WriteFile(strings.TrimSuffix(tracePath, ".jsonl")+".log", log.Bytes(), 0o600)
	for _, e := range all {
		if !e.Preview {
			res.events = append(res.events, e)
		}
	}
	if err != nil {
		t.Fatalf("%s failed: %v\n--- engine output (tail) ---\n%s\n--- trace ---\n%s",
			name, err, tail(res.log, 60), traceSummary(res.events))
	}
	t.Logf("%s: %d provider operations recorded in %s", name, len(res.events), tracePath)
	return res
}

func (l *lab) up(t *testing.T, name string, opts ...optup.Option) opResult {
	t.Helper()
	res, r, _ := l.runUp(t, name, true, opts)
	if r.Summary.ResourceChanges != nil {
		res.changes = *r.Summary.ResourceChanges
	}
	l.checkSecrets(t, res)
	return res
}

// refresh runs `pulumi refresh`; with expectNoChanges it fails the test
// when the refresh changed anything (--expect-no-changes, the README's CI
// drift check).
func (l *lab) refresh(t *testing.T, name string, expectNoChanges bool) opResult {
	t.Helper()
	path := l.begin(t, name)
	var log bytes.Buffer
	sink := newEventSink()
	opts := []optrefresh.Option{optrefresh.ProgressStreams(&log), optrefresh.ErrorProgressStreams(&log), optrefresh.EventStreams(sink.ch)}
	if expectNoChanges {
		opts = append(opts, optrefresh.ExpectNoChanges())
	}
	r, err := l.stack.Refresh(l.ctx, opts...)
	diags := sink.wait()
	if err != nil {
		res := l.finish(t, name, path, &log, nil)
		saveDiags(path, diags)
		t.Errorf("%s failed: %v\n--- engine output (tail) ---\n%s", name, err, tail(res.log, 40))
		return res
	}
	res := l.finish(t, name, path, &log, nil)
	res.diags = diags
	saveDiags(path, diags)
	if r.Summary.ResourceChanges != nil {
		res.changes = *r.Summary.ResourceChanges
	}
	l.checkSecrets(t, res)
	return res
}

func (l *lab) preview(t *testing.T, name string) opResult {
	t.Helper()
	path := l.begin(t, name)
	var log bytes.Buffer
	sink := newEventSink()
	r, err := l.stack.Preview(l.ctx, optpreview.ProgressStreams(&log), optpreview.ErrorProgressStreams(&log), optpreview.EventStreams(sink.ch))
	diags := sink.wait()
	res := l.finish(t, name, path, &log, err)
	res.diags = diags
	saveDiags(path, diags)
	res.changes = map[string]int{}
	for op, n := range r.ChangeSummary {
		res.changes[string(op)] = n
	}
	return res
}

func (l *lab) destroy(t *testing.T, name string) opResult {
	t.Helper()
	// Collect the secrets before they leave the state.
	l.learnSecrets(t)
	path := l.begin(t, name)
	var log bytes.Buffer
	sink := newEventSink()
	r, err := l.stack.Destroy(l.ctx, optdestroy.ProgressStreams(&log), optdestroy.ErrorProgressStreams(&log), optdestroy.EventStreams(sink.ch))
	diags := sink.wait()
	res := l.finish(t, name, path, &log, err)
	res.diags = diags
	saveDiags(path, diags)
	if r.Summary.ResourceChanges != nil {
		res.changes = *r.Summary.ResourceChanges
	}
	l.checkSecrets(t, res)
	return res
}

// deployment is the part of an exported deployment the lab reads.
type deployment struct {
	Resources []apitype.ResourceV3 `json:"resources"`
}

// export returns the stack's state as `pulumi stack export` writes it
// (secrets encrypted), and its raw JSON.
func (l *lab) export(t *testing.T) (deployment, string) {
	t.Helper()
	return l.cliExport(t, false)
}

// exportShowingSecrets returns the state with secrets decrypted.
func (l *lab) exportShowingSecrets(t *testing.T) deployment {
	t.Helper()
	d, _ := l.cliExport(t, true)
	return d
}

// cliExport runs `pulumi stack export` with the lab's environment. (The
// Automation API's Stack.Export always passes --show-secrets.)
func (l *lab) cliExport(t *testing.T, showSecrets bool) (deployment, string) {
	t.Helper()
	args := []string{"stack", "export", "--stack", l.stack.Name(), "--non-interactive"}
	if showSecrets {
		args = append(args, "--show-secrets")
	}
	cmd := exec.CommandContext(l.ctx, pulumiBin, args...)
	cmd.Dir = l.stack.Workspace().WorkDir()
	cmd.Env = os.Environ()
	for k, v := range l.stack.Workspace().GetEnvVars() {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "PULUMI_HOME="+l.stack.Workspace().PulumiHome())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pulumi %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var u apitype.UntypedDeployment
	if err := json.Unmarshal(out, &u); err != nil {
		t.Fatalf("parse export: %v", err)
	}
	var d deployment
	if err := json.Unmarshal(u.Deployment, &d); err != nil {
		t.Fatalf("parse export: %v", err)
	}
	return d, string(out)
}

// backendFiles returns the text of every file of the file backend: the
// state file, its backups and the update history.
func (l *lab) backendFiles(t *testing.T) map[string]string {
	t.Helper()
	files := map[string]string{}
	root := filepath.Join(l.dir, "backend")
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		files["backend file "+rel] = string(b)
		return nil
	})
	if err != nil {
		t.Fatalf("read backend: %v", err)
	}
	return files
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// traceSummary renders events one per line for failure messages.
func traceSummary(events []providers.Event) string {
	var b strings.Builder
	for i, e := range events {
		switch e.Op {
		case providers.OpCheckConfig, providers.OpConfigure, "diffConfig":
			continue
		}
		fmt.Fprintf(&b, "%3d %-8s %-9s %s", i, e.Provider, e.Op, shortURN(e.URN))
		if e.Name != "" {
			fmt.Fprintf(&b, " name=%s", e.Name)
		}
		if len(e.Replaces) > 0 {
			fmt.Fprintf(&b, " replaces=%v", e.Replaces)
		} else if len(e.Changes) > 0 {
			fmt.Fprintf(&b, " changes=%v", e.Changes)
		}
		if e.Command != "" {
			fmt.Fprintf(&b, " command=%s members=%v", e.Command, e.Members)
		}
		if e.Mode != "" {
			fmt.Fprintf(&b, " mode=%s through=%q", e.Mode, e.Through)
		}
		if e.Error != "" {
			fmt.Fprintf(&b, " error=%q", e.Error)
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// shortURN keeps the type's last segment and the resource name.
func shortURN(urn string) string {
	parts := strings.Split(urn, "::")
	if len(parts) < 4 {
		return urn
	}
	typ := parts[2]
	if i := strings.LastIndex(typ, "$"); i >= 0 {
		typ = typ[i+1:]
	}
	if i := strings.LastIndex(typ, ":"); i >= 0 {
		typ = typ[i+1:]
	}
	return typ + "::" + parts[3]
}
