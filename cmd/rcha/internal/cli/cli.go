// Package cli implements rcha, the pipeline CLI of rocketchat-ha: preview,
// up, refresh, destroy, outputs and verify for one stack, running the
// project's Pulumi program inline through the Automation API. Package main
// (cmd/rcha) only wires in stacks.Program; tests wire in their own program.
package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optdestroy"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optrefresh"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/stacks"
	"github.com/rocketchat-ha/rocketchat-ha/verify"
)

// ProjectName is the Pulumi project name the program's config keys use
// ("rocketchat-ha:nodes", ...). Pulumi.yaml in the work dir must declare it.
const ProjectName = "rocketchat-ha"

// StateDirName is the directory under the work dir that holds the local file
// backend's state when neither PULUMI_BACKEND_URL nor Pulumi.yaml's backend.url
// is set.
const StateDirName = ".pulumi-state"

// Env is everything Main takes from the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	// Getenv reads environment variables (os.Getenv when nil).
	Getenv func(string) string
	// Program is the Pulumi program run inline (stacks.Program).
	Program pulumi.RunFunc
	// ProgramWith is Program with one-shot requests for a single update
	// (`up --down`, `retire --force-reconfig`): stacks.OneShot.Program.
	ProgramWith func(stacks.OneShot) pulumi.RunFunc
	// Stdin is where retire reads its confirmation (none when nil).
	Stdin io.Reader
	// Signals delivers interrupts; when nil Main subscribes to SIGINT and SIGTERM.
	Signals <-chan os.Signal
}

const usageText = `rcha: deploy and check a Rocket.Chat HA stack (Pulumi Automation API)

Usage:
  rcha <command> --stack <name> [flags]

Commands:
  preview   show what up would change (--expect-no-changes: exit 2 on changes)
  up        create or update the stack's resources
  refresh   read the real state back into the stack (--expect-no-changes: exit 2 on drift)
  destroy   delete the stack's resources
  outputs   print the stack outputs (secrets redacted unless --show-secrets)
  verify    check the deployed cluster: replica set, users, Rocket.Chat over HTTP
  retire    remove dead nodes (already removed from nodes) without contacting their hosts
            (--node NAME; --force-reconfig when the majority is lost; --yes)
  backup    run one MongoDB backup now and wait for it (docs/backups.md)
  backups   list the backup archives: time, size, place
  restore   restore an archive (--from NAME; --yes): stops every Rocket.Chat server,
            mongorestore --drop --oplogReplay through the primary, starts them one by one

A node whose Docker host does not answer: "up --down NAME" updates the
others when the change touches nothing on NAME, and refuses otherwise.
See docs/runbooks.md.

Common flags:
  --stack NAME         stack to work on; its config is Pulumi.NAME.yaml (required)
  --work-dir DIR       project directory holding Pulumi.yaml (default: current directory)
  --pulumi PATH        Pulumi CLI binary (default: $RCHA_PULUMI_BIN, else pulumi on PATH)
  --json               print one JSON summary on stdout instead of the human summary
  --diff               print the detailed diff (preview, up, refresh, destroy)
  --refresh=false      preview, up: do not refresh the state from the real world first (default: refresh)
  --debug              also print the providers' debug logs: they may contain secrets (preview, up, refresh, destroy)
  --cancel-grace DUR   on Ctrl-C/SIGTERM, how long the engine may take to stop cleanly (default 2m)

Every secret rcha knows (secret config, secret outputs, secrets in the
state) and every mongodb:// URL password is replaced by [secret] in what
it prints; "outputs --show-secrets" alone prints secret outputs in clear.

State backend: $PULUMI_BACKEND_URL, else backend.url in Pulumi.yaml, else the
local file backend in <work-dir>/.pulumi-state. Secrets need
PULUMI_CONFIG_PASSPHRASE (or _FILE) with the default passphrase provider.

Exit codes: 0 ok, 1 setup error, 2 changes found (--expect-no-changes),
3 operation failed, 4 verification failed, 64 bad usage, 130 interrupted.
Run "rcha <command> -h" for the command's flags.
`

type options struct {
	command         string
	stack           string
	workDir         string
	pulumiPath      string
	jsonOut         bool
	diff            bool
	refresh         bool
	debug           bool
	expectNoChanges bool
	showSecrets     bool
	down            nodeList // up --down
	nodes           nodeList // retire --node
	forceReconfig   bool     // retire --force-reconfig
	yes             bool     // retire --yes, restore --yes
	from            string   // restore --from
	skipVerify      bool     // restore --skip-verify
	dockerPath      string   // backup, backups, restore --docker
	cancelGrace     time.Duration
	verify          verifyOptions
}

// usageError is a bad command line. flagUsage, when set, is the command's
// own flag list, printed instead of the general usage.
type usageError struct {
	msg       string
	flagUsage string
}

func (e usageError) Error() string { return e.msg }

// parseArgs parses the command line. On -h it returns flag.ErrHelp and,
// for a command's -h, the options with the command's usage in helpText.
func parseArgs(args []string, getenv func(string) string, helpText *string) (*options, error) {
	if len(args) == 0 {
		return nil, usageError{msg: "no command given"}
	}
	o := &options{command: args[0]}
	switch o.command {
	case "preview", "up", "refresh", "destroy", "outputs", "verify", "retire", "backup", "backups", "restore":
	case "help", "-h", "--help":
		return nil, flag.ErrHelp
	default:
		return nil, usageError{msg: fmt.Sprintf("unknown command %q", o.command)}
	}
	fs := flag.NewFlagSet("rcha "+o.command, flag.ContinueOnError)
	// The flag package would print the error and the usage itself; rcha
	// prints them once, from Main.
	fs.SetOutput(io.Discard)
	fs.Usage = func() {}
	fs.StringVar(&o.stack, "stack", "", "stack name; its config file is Pulumi.<stack>.yaml (required)")
	fs.StringVar(&o.workDir, "work-dir", ".", "project directory holding Pulumi.yaml")
	fs.StringVar(&o.pulumiPath, "pulumi", getenv("RCHA_PULUMI_BIN"), "Pulumi CLI binary (env RCHA_PULUMI_BIN; default pulumi on PATH)")
	fs.BoolVar(&o.jsonOut, "json", false, "print a JSON summary on stdout")
	fs.DurationVar(&o.cancelGrace, "cancel-grace", 2*time.Minute, "time the engine gets to stop cleanly after Ctrl-C/SIGTERM before it is killed")
	switch o.command {
	case "preview", "up", "refresh", "destroy", "retire":
		fs.BoolVar(&o.diff, "diff", false, "print a detailed diff")
		fs.BoolVar(&o.debug, "debug", false, "also print the providers' debug logs (they may contain secrets)")
	}
	switch o.command {
	case "preview", "up":
		fs.BoolVar(&o.refresh, "refresh", true, "refresh the state from the real world first, so that drift (a removed container) is repaired")
	}
	switch o.command {
	case "up":
		fs.Var(&o.down, "down", "a node whose Docker host does not answer (repeatable): update the others, if the change touches nothing on it")
	case "retire":
		fs.Var(&o.nodes, "node", "a dead node to retire, already removed from nodes (repeatable)")
		fs.BoolVar(&o.forceReconfig, "force-reconfig", false, "the majority of the voters is lost for good: force a replica-set reconfig that keeps the remaining nodes (may lose the last writes)")
		fs.BoolVar(&o.yes, "yes", false, "do not ask for confirmation")
	}
	switch o.command {
	case "preview", "refresh":
		fs.BoolVar(&o.expectNoChanges, "expect-no-changes", false, "exit 2 when there are changes")
	case "outputs":
		fs.BoolVar(&o.showSecrets, "show-secrets", false, "print secret outputs in clear text")
	case "verify":
		o.verify.register(fs, getenv)
	case "backup", "backups", "restore":
		registerBackupFlags(fs, o, getenv)
	}
	flagUsage := func() string {
		var b strings.Builder
		fmt.Fprintf(&b, "Usage: rcha %s --stack NAME [flags]\n\nFlags:\n", o.command)
		fs.SetOutput(&b)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
		return b.String()
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			if helpText != nil {
				*helpText = flagUsage()
			}
			return o, err
		}
		return nil, usageError{msg: err.Error(), flagUsage: flagUsage()}
	}
	if fs.NArg() > 0 {
		return nil, usageError{msg: fmt.Sprintf("unexpected argument %q", fs.Arg(0)), flagUsage: flagUsage()}
	}
	if o.stack == "" {
		return nil, usageError{msg: "--stack is required", flagUsage: flagUsage()}
	}
	if o.command == "retire" && len(o.nodes) == 0 {
		return nil, usageError{msg: "--node is required", flagUsage: flagUsage()}
	}
	if o.command == "restore" && o.from == "" {
		return nil, usageError{msg: "--from is required (an archive name from `rcha backups`)", flagUsage: flagUsage()}
	}
	return o, nil
}

// Main runs rcha with args (without the program name) and returns the exit
// code. Everything it prints passes through a Redactor (see Redactor).
func Main(args []string, env Env) int {
	if env.Getenv == nil {
		env.Getenv = os.Getenv
	}
	var help string
	o, err := parseArgs(args, env.Getenv, &help)
	if errors.Is(err, flag.ErrHelp) {
		if o == nil {
			fmt.Fprint(env.Stdout, usageText)
		} else {
			fmt.Fprint(env.Stdout, help)
		}
		return ExitOK
	}
	if err != nil {
		var ue usageError
		if errors.As(err, &ue) && ue.flagUsage != "" {
			fmt.Fprintf(env.Stderr, "rcha %s: %v\n\n%s\nRun \"rcha help\" for the commands, exit codes and environment.\n", o.commandOr(args), err, ue.flagUsage)
		} else {
			fmt.Fprintf(env.Stderr, "rcha: %v\n\n%s", err, usageText)
		}
		return ExitUsage
	}
	red := NewRedactor()
	// Secrets rcha is given through its environment.
	for _, k := range []string{"PULUMI_CONFIG_PASSPHRASE", "PULUMI_ACCESS_TOKEN", "RCHA_SSH_KEY_PASSPHRASE"} {
		red.Add(env.Getenv(k))
	}
	if f := env.Getenv("PULUMI_CONFIG_PASSPHRASE_FILE"); f != "" {
		if b, err := os.ReadFile(f); err == nil {
			red.Add(strings.TrimRight(string(b), "\r\n"))
		}
	}
	stdout, stderr := NewRedactWriter(env.Stdout, red), NewRedactWriter(env.Stderr, red)
	defer func() { _ = stdout.Flush(); _ = stderr.Flush() }()
	r := &runner{o: o, rawStdout: env.Stdout, env: env, start: time.Now(), redactor: red}
	r.env.Stdout, r.env.Stderr = stdout, stderr
	if o.command == "outputs" && o.showSecrets {
		// Asked for in so many words: secret outputs in clear, on stdout only.
		r.env.Stdout = env.Stdout
	}
	return r.run()
}

// programWith is the program with one-shot requests o.
func (e Env) programWith(o stacks.OneShot) pulumi.RunFunc {
	if e.ProgramWith != nil {
		return e.ProgramWith(o)
	}
	return func(*pulumi.Context) error {
		return errors.New("this rcha was built without one-shot program requests (Env.ProgramWith)")
	}
}

// commandOr is the command of o, or the first argument when o is nil.
func (o *options) commandOr(args []string) string {
	if o != nil {
		return o.command
	}
	if len(args) > 0 {
		return args[0]
	}
	return ""
}

type runner struct {
	o   *options
	env Env // Stdout and Stderr redact secrets
	// rawStdout is the caller's stdout, for the JSON summary, which is
	// redacted value by value before it is encoded.
	rawStdout io.Writer
	redactor  *Redactor
	start     time.Time
	project   string
	workDir   string
	backend   string
	cli       *pulumiCLI
	stack     auto.Stack

	interrupted bool
}

// Summary is the JSON document --json prints on stdout.
type Summary struct {
	Command         string             `json:"command"`
	Stack           string             `json:"stack"`
	Project         string             `json:"project"`
	Backend         string             `json:"backend"`
	Result          string             `json:"result"`
	ExitCode        int                `json:"exitCode"`
	Changes         map[string]int     `json:"changes"`
	ChangeCount     int                `json:"changeCount"`
	Outputs         map[string]any     `json:"outputs"`
	StartedAt       string             `json:"startedAt"`
	DurationSeconds float64            `json:"durationSeconds"`
	PulumiVersion   string             `json:"pulumiVersion,omitempty"`
	Errors          []string           `json:"errors,omitempty"`
	Verification    *verify.JSONReport `json:"verification,omitempty"`
}

// Results of a command (Summary.Result).
const (
	ResultSucceeded          = "succeeded"
	ResultChanges            = "changes"
	ResultFailed             = "failed"
	ResultInterrupted        = "interrupted"
	ResultVerificationFailed = "verification-failed"
	ResultSetupFailed        = "setup-failed"
)

func (r *runner) run() int {
	sum := &Summary{Command: r.o.command, Stack: r.o.stack, Project: ProjectName, Changes: map[string]int{},
		Outputs: map[string]any{}, StartedAt: r.start.UTC().Format(time.RFC3339)}
	code := r.prepare(sum)
	if code == ExitOK {
		code = r.dispatch(sum)
	}
	sum.ExitCode = code
	sum.DurationSeconds = float64(time.Since(r.start).Milliseconds()) / 1000
	if sum.Result == "" {
		sum.Result = map[int]string{ExitOK: ResultSucceeded, ExitChanges: ResultChanges, ExitFailed: ResultFailed,
			ExitVerify: ResultVerificationFailed, ExitInterrupted: ResultInterrupted, ExitSetup: ResultSetupFailed, ExitUsage: ResultSetupFailed}[code]
	}
	if r.o.command == "verify" && sum.Verification == nil {
		// verify never got to check the cluster: say why, in the same shape.
		msg := "verification did not run"
		if len(sum.Errors) > 0 {
			msg = sum.Errors[0]
		}
		jr := verify.Report{Findings: []verify.Finding{{Check: "stack", Target: r.o.stack, Status: verify.StatusFail, Message: msg}}}.JSON()
		sum.Verification = &jr
	}
	r.report(sum)
	return code
}

// prepare checks the work dir, the CLI and the backend, and selects the stack.
func (r *runner) prepare(sum *Summary) int {
	wd, err := filepath.Abs(r.o.workDir)
	if err != nil {
		return r.setupErr(sum, ExitUsage, fmt.Errorf("--work-dir %q: %w", r.o.workDir, err))
	}
	r.workDir = wd
	projFile := filepath.Join(wd, "Pulumi.yaml")
	if _, err := os.Stat(projFile); err != nil {
		return r.setupErr(sum, ExitUsage, fmt.Errorf("no Pulumi.yaml in %s (pass --work-dir, the project directory): %w", wd, err))
	}
	proj, err := workspace.LoadProject(projFile)
	if err != nil {
		return r.setupErr(sum, ExitUsage, fmt.Errorf("load %s: %w", projFile, err))
	}
	if string(proj.Name) != ProjectName {
		return r.setupErr(sum, ExitUsage, fmt.Errorf("%s declares project %q; rcha's program reads config under %q, so the project must be named %q", projFile, proj.Name, ProjectName+":", ProjectName))
	}
	short := r.o.stack[strings.LastIndex(r.o.stack, "/")+1:]
	stackFile := filepath.Join(wd, "Pulumi."+short+".yaml")
	if r.o.command != "outputs" {
		if _, err := os.Stat(stackFile); err != nil {
			return r.setupErr(sum, ExitUsage, fmt.Errorf("stack config %s not found: %w", stackFile, err))
		}
	}

	envVars := map[string]string{"PULUMI_SKIP_UPDATE_CHECK": "true"}
	switch {
	case r.env.Getenv("PULUMI_BACKEND_URL") != "":
		r.backend = r.env.Getenv("PULUMI_BACKEND_URL")
		envVars["PULUMI_BACKEND_URL"] = r.backend
	case proj.Backend != nil && proj.Backend.URL != "":
		r.backend = proj.Backend.URL
	default:
		dir := filepath.Join(wd, StateDirName)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return r.setupErr(sum, ExitSetup, fmt.Errorf("create local state directory: %w", err))
		}
		r.backend = "file://" + filepath.ToSlash(dir)
		envVars["PULUMI_BACKEND_URL"] = r.backend
	}
	sum.Backend = redactURL(r.backend)
	if strings.HasPrefix(r.backend, "file://") && r.env.Getenv("PULUMI_CONFIG_PASSPHRASE") == "" && r.env.Getenv("PULUMI_CONFIG_PASSPHRASE_FILE") == "" {
		r.progressf("note: neither PULUMI_CONFIG_PASSPHRASE nor PULUMI_CONFIG_PASSPHRASE_FILE is set; a stack using the passphrase secrets provider will fail to decrypt its secrets")
	}

	r.cli, err = newPulumiCLI(r.o.pulumiPath, r.o.cancelGrace)
	if err != nil {
		return r.setupErr(sum, ExitSetup, err)
	}
	sum.PulumiVersion = r.cli.Version().String()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	wsOpts := []auto.LocalWorkspaceOption{auto.WorkDir(wd), auto.Pulumi(r.cli), auto.EnvVars(envVars)}
	switch r.o.command {
	case "preview", "up", "refresh", "retire":
		r.stack, err = auto.UpsertStackInlineSource(ctx, r.o.stack, ProjectName, r.env.Program, wsOpts...)
	default:
		r.stack, err = auto.SelectStackInlineSource(ctx, r.o.stack, ProjectName, r.env.Program, wsOpts...)
	}
	if err != nil {
		return r.setupErr(sum, ExitSetup, fmt.Errorf("select stack %q in backend %s: %s", r.o.stack, sum.Backend, cliErr(err)))
	}
	if err := r.learnSecrets(ctx); err != nil {
		return r.setupErr(sum, ExitSetup, err)
	}
	r.progressf("rcha %s: stack %s, project dir %s, backend %s, pulumi %s", r.o.command, r.o.stack, wd, sum.Backend, sum.PulumiVersion)
	if r.o.debug {
		r.progressf("rcha %s: warning: --debug prints the providers' debug logs; they hold raw API dumps (docker inspect with container environments, MONGO_URL included). rcha redacts the secrets it knows, but secrets it does not know can show: keep this output out of shared CI logs.", r.o.command)
	}
	return ExitOK
}

func (r *runner) setupErr(sum *Summary, code int, err error) int {
	msg := trimErrorPrefix(err.Error())
	sum.Errors = append(sum.Errors, msg)
	fmt.Fprintf(r.env.Stderr, "rcha %s: error: %s\n", r.o.command, msg)
	return code
}

func (r *runner) progressf(format string, a ...any) {
	fmt.Fprintf(r.env.Stderr, format+"\n", a...)
}

// withInterrupts returns a context cancelled by the first SIGINT/SIGTERM; the
// second forces the CLI down. stop must be called when the operation is over.
func (r *runner) withInterrupts() (ctx context.Context, stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := r.env.Signals
	var ch chan os.Signal
	if sigs == nil {
		ch = make(chan os.Signal, 2)
		signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
		sigs = ch
	}
	done := make(chan struct{})
	go func() {
		count := 0
		for {
			select {
			case <-done:
				return
			case s := <-sigs:
				count++
				if count == 1 {
					r.interrupted = true
					r.progressf("rcha: received %v: cancelling %s; the engine finishes in-flight steps and releases the stack lock (up to %s). Interrupt again to kill it now.", s, r.o.command, r.cli.grace)
					cancel()
				} else {
					r.progressf("rcha: received %v again: killing the Pulumi CLI", s)
					r.cli.Force()
				}
			}
		}
	}()
	return ctx, func() {
		close(done)
		if ch != nil {
			signal.Stop(ch)
		}
		cancel()
	}
}

// afterInterrupt makes sure the interrupted operation leaves no lock behind.
func (r *runner) afterInterrupt() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := r.stack.Cancel(ctx); err != nil {
		r.progressf("rcha: stack cancel after interrupt: %s (nothing left to cancel is fine)", firstLine(cliErr(err)))
		return
	}
	r.progressf("rcha: stack %s cancelled; no lock is left behind", r.o.stack)
}

func (r *runner) dispatch(sum *Summary) int {
	switch r.o.command {
	case "outputs":
		return r.outputs(sum)
	case "verify":
		return r.verify(sum)
	case "backup", "backups", "restore":
		return r.backupCommand(sum)
	}
	if (r.o.command == "preview" || r.o.command == "up") && !r.o.refresh {
		r.cli.AddArgs(r.o.command, "--refresh=false")
	}
	ctx, stop := r.withInterrupts()
	defer stop()
	var prog *progress
	var opErr error
	var outs auto.OutputMap
	switch {
	case r.o.command == "retire" || (r.o.command == "up" && len(r.o.down) > 0):
		prog, outs, opErr = r.nodeOp(ctx)
		if prog == nil {
			// Refused before the engine ran.
			sum.Errors = append(sum.Errors, trimErrorPrefix(opErr.Error()))
			fmt.Fprintf(r.env.Stderr, "rcha %s: error: %s\n", r.o.command, trimErrorPrefix(opErr.Error()))
			return ExitFailed
		}
	case r.o.command == "preview":
		prog, _, opErr = r.engineOp(ctx, "preview", nil)
	case r.o.command == "up":
		prog, outs, opErr = r.engineOp(ctx, "up", nil)
	default:
		prog, outs, opErr = r.engineOp(ctx, r.o.command, nil)
	}
	// Learn the secrets the operation created (a first up generates the
	// passwords) before printing anything about its result.
	lctx, lcancel := context.WithTimeout(context.Background(), 5*time.Minute)
	if err := r.learnSecrets(lctx); err != nil {
		r.progressf("rcha %s: warning: %v; what follows is redacted with the secrets known before the operation", r.o.command, err)
	}
	lcancel()

	failed := r.interrupted || opErr != nil
	switch {
	case !failed:
		sum.Changes = prog.changes()
	case prog.preview:
		// A failed preview applied nothing, and its plan is incomplete.
		sum.Changes = map[string]int{}
	default:
		sum.Changes = prog.applied()
	}
	sum.ChangeCount = countChanges(sum.Changes)
	sum.Errors = append(sum.Errors, prog.errors()...)

	if r.interrupted {
		r.afterInterrupt()
		sum.Errors = append(sum.Errors, fmt.Sprintf("%s interrupted", r.o.command))
		return ExitInterrupted
	}
	if opErr != nil {
		if prog.received == 0 {
			// The engine never started: the CLI refused before it (wrong
			// or missing passphrase, unreadable backend, a lock).
			return r.setupErr(sum, ExitSetup, fmt.Errorf("pulumi %s did not start: %s", r.o.command, cliMessage(opErr)))
		}
		r.explainHostDown(prog, cliMessage(opErr))
		if len(prog.errors()) == 0 || r.o.command == "retire" || len(r.o.down) > 0 {
			// The engine reported no error of its own: the CLI's is the news.
			msg := cliMessage(opErr)
			sum.Errors = append(sum.Errors, firstLine(msg))
			fmt.Fprintf(r.env.Stderr, "rcha %s: error: %s\n", r.o.command, msg)
		}
		return ExitFailed
	}
	if outs == nil && r.o.command != "destroy" {
		if o, err := r.stack.Outputs(context.Background()); err == nil {
			outs = o
		}
	}
	sum.Outputs = redactOutputs(outs, false)
	if r.o.expectNoChanges && sum.ChangeCount > 0 {
		fmt.Fprintf(r.env.Stderr, "rcha %s: %d change(s) found and --expect-no-changes was given\n", r.o.command, sum.ChangeCount)
		return ExitChanges
	}
	return ExitOK
}

// engineOp runs one engine operation (preview, up, refresh or destroy),
// printing its progress, with the given URNs excluded.
func (r *runner) engineOp(ctx context.Context, op string, exclude []string) (*progress, auto.OutputMap, error) {
	prog := newProgress(r.env.Stderr, r.start, op == "preview")
	prog.debug = r.o.debug
	prog.keep = op == "preview"
	stream := prog.stream()
	defer stream.wait()

	diffOut := r.env.Stdout
	if r.o.jsonOut {
		diffOut = r.env.Stderr
	}
	switch op {
	case "preview":
		opts := []optpreview.Option{optpreview.EventStreams(stream.ch), optpreview.Color("never")}
		if r.o.refresh {
			opts = append(opts, optpreview.Refresh())
		}
		if len(exclude) > 0 {
			opts = append(opts, optpreview.Exclude(exclude))
		}
		if r.o.diff {
			opts = append(opts, optpreview.Diff(), optpreview.ProgressStreams(diffOut))
		}
		_, err := r.stack.Preview(ctx, opts...)
		return prog, nil, err
	case "up":
		opts := []optup.Option{optup.EventStreams(stream.ch), optup.Color("never")}
		if r.o.refresh {
			opts = append(opts, optup.Refresh())
		}
		if len(exclude) > 0 {
			opts = append(opts, optup.Exclude(exclude))
		}
		if r.o.diff {
			opts = append(opts, optup.Diff(), optup.ProgressStreams(diffOut))
		}
		res, err := r.stack.Up(ctx, opts...)
		return prog, res.Outputs, err
	case "refresh":
		opts := []optrefresh.Option{optrefresh.EventStreams(stream.ch), optrefresh.Color("never")}
		if r.o.diff {
			opts = append(opts, optrefresh.Diff(), optrefresh.ProgressStreams(diffOut))
		}
		_, err := r.stack.Refresh(ctx, opts...)
		return prog, nil, err
	default:
		opts := []optdestroy.Option{optdestroy.EventStreams(stream.ch), optdestroy.Color("never")}
		if r.o.diff {
			opts = append(opts, optdestroy.Diff(), optdestroy.ProgressStreams(diffOut))
		}
		_, err := r.stack.Destroy(ctx, opts...)
		return prog, nil, err
	}
}

func (r *runner) outputs(sum *Summary) int {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	outs, err := r.stack.Outputs(ctx)
	if err != nil {
		msg := cliMessage(err)
		sum.Errors = append(sum.Errors, firstLine(msg))
		fmt.Fprintf(r.env.Stderr, "rcha outputs: error: %s\n", msg)
		return ExitFailed
	}
	sum.Outputs = redactOutputs(outs, r.o.showSecrets)
	if len(outs) == 0 && !r.o.jsonOut {
		fmt.Fprintf(r.env.Stderr, "rcha outputs: stack %s has no outputs (run `rcha up` first)\n", r.o.stack)
	}
	return ExitOK
}

// Redacted is what a secret output shows instead of its value.
const Redacted = "[secret]"

func redactOutputs(outs auto.OutputMap, show bool) map[string]any {
	m := map[string]any{}
	for k, v := range outs {
		if v.Secret && !show {
			m[k] = Redacted
			continue
		}
		m[k] = v.Value
	}
	return m
}

func (r *runner) report(sum *Summary) {
	if r.o.jsonOut {
		// Redact value by value, then encode: a secret replaced inside the
		// encoded text could break the JSON (a secret that is a number).
		r.redactSummary(sum)
		enc := json.NewEncoder(r.rawStdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(sum)
		return
	}
	w := r.env.Stdout
	if r.o.command == "outputs" && sum.ExitCode == ExitOK {
		writeOutputs(w, sum.Outputs)
		return
	}
	if r.o.command == "verify" {
		// The table was printed by verify itself.
		fmt.Fprintf(w, "rcha verify: stack %s: %s in %.1fs\n", sum.Stack, sum.Result, sum.DurationSeconds)
		return
	}
	fmt.Fprintf(w, "rcha %s: stack %s: %s in %.1fs\n", sum.Command, sum.Stack, sum.Result, sum.DurationSeconds)
	if len(sum.Changes) > 0 {
		var kinds []string
		for k := range sum.Changes {
			kinds = append(kinds, k)
		}
		sort.Strings(kinds)
		parts := make([]string, len(kinds))
		for i, k := range kinds {
			parts[i] = fmt.Sprintf("%s %d", k, sum.Changes[k])
		}
		fmt.Fprintf(w, "changes: %s\n", strings.Join(parts, ", "))
	}
	if len(sum.Outputs) > 0 {
		fmt.Fprintln(w, "outputs:")
		writeOutputs(w, sum.Outputs)
	}
	if n := len(sum.Errors); n > 0 {
		// Each error was printed on stderr as it happened; count them only.
		fmt.Fprintf(w, "%d error(s), printed on stderr above\n", n)
	}
}

// redactSummary redacts every string of the summary that can hold a
// secret. Secret outputs are already "[secret]" (redactOutputs); the other
// outputs are redacted too unless outputs --show-secrets asked for clear text.
func (r *runner) redactSummary(sum *Summary) {
	red := r.redactor
	sum.Backend = red.String(sum.Backend)
	for i, e := range sum.Errors {
		sum.Errors[i] = red.String(e)
	}
	if !(r.o.command == "outputs" && r.o.showSecrets) {
		for k, v := range sum.Outputs {
			sum.Outputs[k] = red.Value(v)
		}
	}
	if v := sum.Verification; v != nil {
		c := *v
		redactFindings := func(fs []verify.Finding) []verify.Finding {
			out := make([]verify.Finding, len(fs))
			for i, f := range fs {
				f.Target, f.Message = red.String(f.Target), red.String(f.Message)
				out[i] = f
			}
			return out
		}
		c.Findings, c.Problems = redactFindings(v.Findings), redactFindings(v.Problems)
		sum.Verification = &c
	}
}

func writeOutputs(w io.Writer, outs map[string]any) {
	keys := make([]string, 0, len(outs))
	width := 0
	for k := range outs {
		keys = append(keys, k)
		width = max(width, len(k))
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := outs[k]
		s, isString := v.(string)
		if !isString {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		fmt.Fprintf(w, "  %-*s  %s\n", width, k, s)
	}
}

// cliErr returns the most useful text of an Automation API error: the CLI's
// stderr when there is one.
func cliErr(err error) string {
	if err == nil {
		return ""
	}
	msg := err.Error()
	if i := strings.Index(msg, "\nstderr: "); i >= 0 {
		if s := strings.TrimSpace(msg[i+len("\nstderr: "):]); s != "" {
			return s
		}
	}
	return msg
}

// cliMessage is cliErr without the Automation API's framing: the
// "failed to run update: exit status 1" line and "code:", "stdout:",
// "stderr:" headers say nothing the exit code does not.
func cliMessage(err error) string {
	var keep []string
	for _, l := range strings.Split(cliErr(err), "\n") {
		t := strings.TrimSpace(l)
		switch {
		case t == "", strings.HasPrefix(t, "code: "), t == "stdout:", t == "stderr:":
			continue
		case strings.HasPrefix(t, "failed to run ") && strings.Contains(t, ": exit status "):
			continue
		}
		keep = append(keep, trimErrorPrefix(l))
	}
	if len(keep) == 0 {
		return trimErrorPrefix(strings.TrimSpace(err.Error()))
	}
	return strings.Join(keep, "\n")
}

func firstLine(s string) string {
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			return l
		}
	}
	return s
}

func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return s
	}
	return u.Redacted()
}
