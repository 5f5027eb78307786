package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/auto"
)

// pulumiCLI runs the Pulumi CLI for the Automation API. It differs from the
// SDK's own runner in how it stops: the CLI runs in its own process group, so
// a terminal's Ctrl-C reaches only rcha, which then sends the CLI exactly one
// SIGINT (the engine's graceful cancel: finish in-flight steps, write the
// checkpoint, release the lock) and waits up to grace before killing the
// group (the CLI and its plugins).
type pulumiCLI struct {
	path    string
	version semver.Version
	grace   time.Duration

	// extraArgs are added to every run of a CLI command, keyed by the
	// command ("up", "preview"): flags the Automation API has no option for.
	extraArgs map[string][]string

	mu       sync.Mutex
	killed   bool // a run was killed after the grace period or by force
	forceAll chan struct{}
	forced   bool
}

var _ auto.PulumiCommand = (*pulumiCLI)(nil)

// newPulumiCLI validates the CLI at path (or "pulumi" on PATH when empty)
// with auto.NewPulumiCommand, which checks the version the SDK requires.
func newPulumiCLI(path string, grace time.Duration) (*pulumiCLI, error) {
	if path == "" {
		p, err := exec.LookPath("pulumi")
		if err != nil {
			return nil, fmt.Errorf("the Pulumi CLI is not on PATH; install it or pass --pulumi /path/to/pulumi (or set RCHA_PULUMI_BIN)")
		}
		path = p
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("pulumi CLI path %q: %w", path, err)
	}
	if st, err := os.Stat(abs); err != nil {
		return nil, fmt.Errorf("pulumi CLI %s: %w", abs, err)
	} else if st.IsDir() {
		return nil, fmt.Errorf("pulumi CLI %s is a directory; pass the binary", abs)
	}
	// auto.NewPulumiCommand looks for <Root>/bin/pulumi.
	root := filepath.Dir(filepath.Dir(abs))
	if filepath.Base(filepath.Dir(abs)) != "bin" || filepath.Base(abs) != "pulumi" {
		tmp, err := os.MkdirTemp("", "rcha-pulumi-root-")
		if err != nil {
			return nil, fmt.Errorf("prepare pulumi CLI root: %w", err)
		}
		defer os.RemoveAll(tmp)
		if err := os.Mkdir(filepath.Join(tmp, "bin"), 0o755); err != nil {
			return nil, fmt.Errorf("prepare pulumi CLI root: %w", err)
		}
		if err := os.Symlink(abs, filepath.Join(tmp, "bin", "pulumi")); err != nil {
			return nil, fmt.Errorf("prepare pulumi CLI root: %w", err)
		}
		root = tmp
	}
	cmd, err := auto.NewPulumiCommand(&auto.PulumiCommandOptions{Root: root})
	if err != nil {
		return nil, fmt.Errorf("pulumi CLI %s: %w", abs, err)
	}
	if grace <= 0 {
		grace = 2 * time.Minute
	}
	return &pulumiCLI{path: abs, version: cmd.Version(), grace: grace, forceAll: make(chan struct{})}, nil
}

// AddArgs makes every later run of the CLI command cmd (its first
// argument, e.g. "up") carry args right after the command name. rcha uses it
// for --refresh=false, which auto's options cannot express: optup.Refresh
// only adds --refresh, and without a flag the CLI follows Pulumi.yaml's
// options.refresh, which is "always" in this project.
func (p *pulumiCLI) AddArgs(cmd string, args ...string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.extraArgs == nil {
		p.extraArgs = map[string][]string{}
	}
	p.extraArgs[cmd] = append(p.extraArgs[cmd], args...)
}

// Version is the validated CLI version.
func (p *pulumiCLI) Version() semver.Version { return p.version }

// Force kills every running CLI process group now (second Ctrl-C).
func (p *pulumiCLI) Force() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.forced {
		p.forced = true
		close(p.forceAll)
	}
}

// Killed reports whether some run had to be killed rather than stopping by itself.
func (p *pulumiCLI) Killed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.killed
}

// Run executes the CLI with the Automation API's conventions
// (--non-interactive, PULUMI_AUTOMATION_API=true, the CLI's directory first
// on PATH).
func (p *pulumiCLI) Run(ctx context.Context, workdir string, stdin io.Reader,
	additionalOutput []io.Writer, additionalErrorOutput []io.Writer, additionalEnv []string, args ...string,
) (string, string, int, error) {
	p.mu.Lock()
	if extra := p.extraArgs[firstArg(args)]; len(extra) > 0 {
		args = slices.Concat(args[:1], extra, args[1:])
	}
	p.mu.Unlock()
	head := args
	if i := slices.Index(args, "--"); i >= 0 {
		head = args[:i]
	}
	if !slices.Contains(head, "--non-interactive") {
		args = append([]string{"--non-interactive"}, args...)
	}
	cmd := exec.Command(p.path, args...)
	cmd.Dir = workdir
	env := append(os.Environ(), additionalEnv...)
	env = append(env, "PULUMI_AUTOMATION_API=true")
	cmd.Env = prependPath(env, filepath.Dir(p.path))
	var stdout, stderr bytes.Buffer
	cmd.Stdout = io.MultiWriter(append(additionalOutput, &stdout)...)
	cmd.Stderr = io.MultiWriter(append(additionalErrorOutput, &stderr)...)
	cmd.Stdin = stdin
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return "", "", -2, fmt.Errorf("start %s: %w", p.path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		_ = cmd.Process.Signal(os.Interrupt)
		timer := time.NewTimer(p.grace)
		select {
		case err = <-done:
		case <-timer.C:
			p.kill(cmd)
			err = <-done
		case <-p.forceAll:
			p.kill(cmd)
			err = <-done
		}
		timer.Stop()
	}
	code := -2
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) {
		code = exitErr.ExitCode()
	} else if err == nil {
		code = 0
	}
	return stdout.String(), stderr.String(), code, err
}

func firstArg(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return args[0]
}

func (p *pulumiCLI) kill(cmd *exec.Cmd) {
	p.mu.Lock()
	p.killed = true
	p.mu.Unlock()
	_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
}

func prependPath(env []string, dir string) []string {
	out := slices.Clone(env)
	for i, e := range out {
		if strings.HasPrefix(e, "PATH=") {
			out[i] = "PATH=" + dir + string(os.PathListSeparator) + e[len("PATH="):]
			return out
		}
	}
	return append(out, "PATH="+dir)
}
