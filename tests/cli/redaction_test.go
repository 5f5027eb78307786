package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pulumi runs the Pulumi CLI itself on the project (config set, stack
// export), with the project's environment and its local file backend.
func (p *project) pulumi(args ...string) string {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, pulumiBin, append(args, "--non-interactive")...)
	cmd.Dir = p.dir
	cmd.Env = append(append([]string(nil), p.env...), "PULUMI_BACKEND_URL=file://"+filepath.Join(p.dir, ".pulumi-state"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	require.NoError(p.t, cmd.Run(), "pulumi %v: %s", args, errb.String())
	return out.String()
}

// stateSecrets returns the plaintext of every secret in the stack's state
// (`pulumi stack export --show-secrets`): the generated passwords, the
// keyfile, and every input and output marked secret. A secret value is
// {"4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270",
// "plaintext": "<JSON>"} in the export.
func (p *project) stateSecrets(stack string) []string {
	p.t.Helper()
	var doc any
	require.NoError(p.t, json.Unmarshal([]byte(p.pulumi("stack", "export", "--show-secrets", "--stack", stack)), &doc))
	var out []string
	var leaves func(v any)
	leaves = func(v any) {
		switch x := v.(type) {
		case string:
			out = append(out, x)
		case map[string]any:
			if x["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270" {
				if pt, isString := x["plaintext"].(string); isString {
					var val any
					if json.Unmarshal([]byte(pt), &val) == nil {
						leaves(val)
					}
				}
				return
			}
			for _, e := range x {
				leaves(e)
			}
		case []any:
			for _, e := range x {
				leaves(e)
			}
		}
	}
	// Only what sits under a secret marker counts; walk for markers.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x["4dabf18193072939515e22adb298388d"] == "1b47061264138c4ac30d75fd1eb44270" {
				leaves(x)
				return
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	return out
}

// escapedForms lists a secret as it can appear in text: raw, URL-escaped
// (query, path, userinfo) and JSON-escaped.
func escapedForms(s string) []string {
	forms := []string{s, url.QueryEscape(s), url.PathEscape(s), strings.TrimPrefix(url.UserPassword("", s).String(), ":")}
	for _, f := range append([]string(nil), forms...) {
		b, _ := json.Marshal(f)
		forms = append(forms, string(b[1:len(b)-1]))
	}
	return forms
}

// assertNoSecrets fails when any secret (of at least 4 characters, as rcha
// redacts them) or a mongodb:// URL password shows in what rcha printed.
func assertNoSecrets(t *testing.T, name string, r result, secrets []string) {
	t.Helper()
	text := r.stdout + r.stderr
	for _, s := range secrets {
		if len(s) < 4 {
			continue
		}
		for _, f := range escapedForms(s) {
			if strings.Contains(text, f) {
				t.Errorf("%s printed a secret (form %q of a %d-character secret):\n%s", name, f, len(s), r)
			}
		}
	}
	for rest := text; ; {
		i := strings.Index(rest, "mongodb://")
		if i < 0 {
			break
		}
		rest = rest[i+len("mongodb://"):]
		end := strings.IndexAny(rest, "/ \n\"")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.Index(rest[:end], "@"); at >= 0 {
			userinfo := rest[:at]
			if _, pw, hasPW := strings.Cut(userinfo, ":"); hasPW {
				assert.Equal(t, "[secret]", pw, "%s: a mongodb:// URL with its password:\n%s", name, r)
			}
		}
	}
}

// TestNoSecretInOutput runs every command, with and without --json, --diff
// and --debug, on a stack with secret config and generated passwords, and
// checks that no secret value is in any byte rcha printed.
func TestNoSecretInOutput(t *testing.T) {
	p := newProject(t)
	s := p.stack
	runs := map[string]result{}
	run := func(name string, args ...string) result {
		t.Helper()
		r := p.rcha(args...)
		runs[name] = r
		return r
	}
	// The stack must exist before its config can hold encrypted values.
	require.Equal(t, 0, run("first preview", "preview", "--stack", s, "--json").code)
	rootPW, oplogPW := "e2e-Root/Pw&1+x?", "e2e-Oplog%Pw=2 <y>"
	p.pulumi("config", "set", "--secret", "--stack", s, "rocketchat-ha:mongoRootPassword", rootPW)
	p.pulumi("config", "set", "--secret", "--stack", s, "rocketchat-ha:oplogPassword", oplogPW)

	up := run("up --json", "up", "--stack", s, "--json")
	require.Equal(t, 0, up.code, "%s", up)
	again := run("up", "up", "--stack", s)
	require.Equal(t, 0, again.code, "%s", again)
	debug := run("up --debug", "up", "--stack", s, "--debug", "--json")
	require.Equal(t, 0, debug.code, "%s", debug)
	run("preview --diff", "preview", "--stack", s, "--diff")
	run("preview --diff --json", "preview", "--stack", s, "--diff", "--json", "--debug")
	run("refresh --diff --json", "refresh", "--stack", s, "--diff", "--json")
	run("outputs", "outputs", "--stack", s)
	run("outputs --json", "outputs", "--stack", s, "--json")
	run("verify --json", "verify", "--stack", s, "--json", "--skip-http", "--timeout", "1s")
	run("verify", "verify", "--stack", s, "--skip-http", "--timeout", "1s")

	shown := p.rcha("outputs", "--stack", s, "--json", "--show-secrets")
	require.Equal(t, 0, shown.code, "%s", shown)
	mongoURL, _ := shown.sum.Outputs["mongoUrl"].(string)
	u, err := url.Parse(mongoURL)
	require.NoError(t, err, "mongoUrl output")
	rocketPW, hasPW := u.User.Password()
	require.True(t, hasPW, "mongoUrl has a password: %s", mongoURL)
	secrets := append([]string{rootPW, oplogPW, rocketPW, mongoURL, "e2e-passphrase"}, p.stateSecrets(s)...)
	require.Greater(t, len(secrets), 6, "the state holds the generated passwords and the keyfile")

	names := make([]string, 0, len(runs))
	for n := range runs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		assertNoSecrets(t, n, runs[n], secrets)
	}

	const warning = "--debug prints the providers' debug logs"
	assert.Contains(t, debug.stderr, warning, "--debug warns that output may hold secrets")
	assert.Contains(t, runs["preview --diff --json"].stderr, warning)
	for _, n := range []string{"up --json", "up", "refresh --diff --json"} {
		assert.NotContains(t, runs[n].stderr, warning, n)
		assert.NotContains(t, runs[n].stderr, "] debug: ", "%s: debug diagnostics are dropped without --debug", n)
		assert.NotContains(t, runs[n].stderr, "Docker container inspect", n)
	}
	// The engine lab's docker fake mirrors pulumi-docker's debug
	// diagnostics (whole `docker inspect` dumps) once it emits them; with
	// --debug rcha prints them, redacted (checked above).
	if strings.Contains(debug.stderr, "] debug: ") {
		t.Logf("--debug showed the fake provider's debug diagnostics, redacted")
	} else {
		t.Logf("the docker fake emitted no debug diagnostic in this run; the redaction of their shape is unit-tested in cmd/rcha/internal/cli")
	}
}

// removeFakeContainer is `docker rm -f NAME` on every simulated docker
// host of the engine lab's world (tests/engine/providers world.go keeps a
// container as <world>/<host>/containers/<name>.json).
func removeFakeContainer(t *testing.T, p *project, name string) {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(p.dir, "world", "*", "containers", name+".json"))
	require.NoError(t, err)
	require.NotEmpty(t, files, "container %s is in the fake world", name)
	for _, f := range files {
		require.NoError(t, os.Remove(f))
	}
}

func fakeContainerExists(p *project, name string) bool {
	files, _ := filepath.Glob(filepath.Join(p.dir, "world", "*", "containers", name+".json"))
	return len(files) > 0
}

// TestDriftRepaired removes a container behind Pulumi's back: `up
// --refresh=false` does not see it, `preview` (which refreshes) reports
// it, and `up` (which refreshes first) recreates it.
func TestDriftRepaired(t *testing.T) {
	p := newProject(t)
	s := p.stack
	up := p.rcha("up", "--stack", s, "--json")
	require.Equal(t, 0, up.code, "%s", up)
	const victim = "rocketchat-rocketchat-node-2"
	require.True(t, fakeContainerExists(p, victim))
	removeFakeContainer(t, p, victim)

	blind := p.rcha("up", "--stack", s, "--json", "--refresh=false")
	require.Equal(t, 0, blind.code, "%s", blind)
	assert.Equal(t, 0, blind.sum.ChangeCount, "without a refresh the state still has the container: %s", blind)
	assert.False(t, fakeContainerExists(p, victim), "up --refresh=false does not recreate it")
	blindPreview := p.rcha("preview", "--stack", s, "--json", "--refresh=false", "--expect-no-changes")
	assert.Equal(t, 0, blindPreview.code, "%s", blindPreview)

	pre := p.rcha("preview", "--stack", s, "--json", "--expect-no-changes")
	assert.Equal(t, 2, pre.code, "preview refreshes first and finds the drift: %s", pre)
	assert.Equal(t, 1, pre.sum.Changes["create"], "%s", pre)
	assert.Contains(t, pre.stderr, victim+" is gone from the real world")

	fix := p.rcha("up", "--stack", s, "--json")
	require.Equal(t, 0, fix.code, "%s", fix)
	assert.Equal(t, 1, fix.sum.Changes["create"], "%s", fix)
	assert.Equal(t, 1, fix.sum.ChangeCount, "only the missing container: %s", fix)
	assert.True(t, fakeContainerExists(p, victim), "up recreated it")

	same := p.rcha("up", "--stack", s, "--json")
	require.Equal(t, 0, same.code, "%s", same)
	assert.Equal(t, 0, same.sum.ChangeCount, "%s", same)
}

// count is how often sub occurs in s.
func count(s, sub string) int { return strings.Count(s, sub) }

// TestRoughEdges: failures report what was applied and each error once, a
// wrong passphrase and a locked stack are setup errors, a bad flag prints
// the usage once, empty outputs are said, verify --json always has its
// verification field.
func TestRoughEdges(t *testing.T) {
	p := newProject(t)
	s := p.stack

	bad := p.rcha("up", "--stack", s, "--no-such-flag")
	assert.Equal(t, 64, bad.code)
	assert.Equal(t, 1, count(bad.stderr, "Usage:"), "usage once:\n%s", bad.stderr)
	assert.Equal(t, 1, count(bad.stderr, "flag provided but not defined: -no-such-flag"), bad.stderr)

	never := p.rcha("verify", "--stack", s, "--json") // not created yet
	assert.Equal(t, 1, never.code, "%s", never)
	require.NotNil(t, never.sum.Verification, "verify --json always has verification: %s", never.stdout)
	assert.False(t, never.sum.Verification.OK)
	assert.NotEmpty(t, never.sum.Verification.Problems)

	// A failed preview (the program refuses the config) reports no changes.
	projYAML := filepath.Join(p.dir, "Pulumi."+s+".yaml")
	good, err := os.ReadFile(projYAML)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(projYAML, bytes.Replace(good, []byte("http://chat.e2e.test"), []byte("ftp://chat.e2e.test"), 1), 0o644))
	failedPreview := p.rcha("preview", "--stack", s, "--json")
	require.Equal(t, 3, failedPreview.code, "%s", failedPreview)
	assert.Equal(t, "failed", failedPreview.sum.Result)
	assert.Empty(t, failedPreview.sum.Changes, "a failed preview applied nothing and planned nothing complete")
	assert.Equal(t, 0, failedPreview.sum.ChangeCount)
	require.Len(t, failedPreview.sum.Errors, 1, "%s", failedPreview)
	assert.Contains(t, failedPreview.sum.Errors[0], "ftp://chat.e2e.test")
	assert.Equal(t, 1, count(failedPreview.stderr, `"ftp://chat.e2e.test" must start with`), "the error once:\n%s", failedPreview.stderr)
	for _, noise := range []string{"failed to run preview", "exit status", "error: error:"} {
		assert.NotContains(t, failedPreview.stderr+failedPreview.stdout, noise)
	}
	require.NoError(t, os.WriteFile(projYAML, good, 0o644))

	// A stack that exists (the preview created it) without outputs.
	empty := p.rcha("outputs", "--stack", s)
	assert.Equal(t, 0, empty.code, "%s", empty)
	assert.Contains(t, empty.stderr, "stack "+s+" has no outputs (run `rcha up` first)")
	noOuts := p.rcha("verify", "--stack", s, "--json")
	assert.Equal(t, 4, noOuts.code, "%s", noOuts)
	require.NotNil(t, noOuts.sum.Verification, "%s", noOuts.stdout)
	assert.False(t, noOuts.sum.Verification.OK)

	// A slow up holds the lock: a refresh meanwhile cannot start (exit 1,
	// at once: no wait for an event stream that never opens).
	baseline := p.rcha("outputs", "--stack", s, "--json")
	require.Equal(t, 0, baseline.code)
	upCmd := exec.Command(rchaBin, "up", "--stack", s, "--json")
	upCmd.Dir = p.dir
	upCmd.Env = append(append([]string(nil), p.env...), "RCHA_LAB_HEALTH_DELAY=3s")
	var upOut bytes.Buffer
	upErr := &testenv.SyncBuffer{}
	upCmd.Stdout, upCmd.Stderr = &upOut, upErr
	require.NoError(t, upCmd.Start())
	deadline := time.Now().Add(2 * time.Minute)
	for !strings.Contains(upErr.String(), "creating docker:index/container:Container") {
		require.True(t, time.Now().Before(deadline), "up never started a container:\n%s", upErr.String())
		time.Sleep(50 * time.Millisecond)
	}
	locked := p.rcha("refresh", "--stack", s, "--json")
	require.NoError(t, upCmd.Wait(), "the slow up: %s", upErr.String())
	assert.Equal(t, 1, locked.code, "a locked stack is a setup error: %s", locked)
	assert.Equal(t, "setup-failed", locked.sum.Result)
	assert.Contains(t, locked.stderr, "locked")
	assert.Less(t, locked.sum.DurationSeconds, baseline.sum.DurationSeconds+4,
		"the refresh ends as soon as the CLI refused (outputs took %.1fs): %s", baseline.sum.DurationSeconds, locked)

	// A failed up reports what it applied, not what it planned: a second
	// stack with the same names collides with the first one's containers.
	other := "e2e-b"
	require.NoError(t, os.WriteFile(filepath.Join(p.dir, "Pulumi."+other+".yaml"), good, 0o644))
	clash := p.rcha("up", "--stack", other, "--json")
	require.Equal(t, 3, clash.code, "%s", clash)
	assert.Equal(t, "failed", clash.sum.Result)
	assert.Greater(t, clash.sum.Changes["create"], 0, "passwords, images, volumes were created: %s", clash)
	assert.Less(t, clash.sum.ChangeCount, 28, "not the plan: the containers were not created: %v", clash.sum.Changes)
	assert.Equal(t, clash.sum.Changes["create"], clash.sum.ChangeCount)
	require.NotEmpty(t, clash.sum.Errors)
	for _, e := range clash.sum.Errors {
		assert.NotContains(t, e, "failed to run update")
		line := strings.SplitN(e, "\n", 2)[0]
		assert.Equal(t, 1, count(clash.stderr, line), "error %q once on stderr:\n%s", line, clash.stderr)
	}
	assert.NotContains(t, clash.stderr+clash.stdout, "exit status")

	// A wrong passphrase is a setup error with one prefix.
	wrong := exec.Command(rchaBin, "preview", "--stack", s, "--json")
	wrong.Dir = p.dir
	wrong.Env = append(append([]string(nil), p.env...), "PULUMI_CONFIG_PASSPHRASE=not-the-passphrase")
	var wOut, wErr bytes.Buffer
	wrong.Stdout, wrong.Stderr = &wOut, &wErr
	err = wrong.Run()
	var ee *exec.ExitError
	require.ErrorAs(t, err, &ee, "%s", wErr.String())
	assert.Equal(t, 1, ee.ExitCode(), "%s", wErr.String())
	var ws summary
	require.NoError(t, json.Unmarshal(wOut.Bytes(), &ws), wOut.String())
	assert.Equal(t, "setup-failed", ws.Result)
	assert.Contains(t, wErr.String(), "incorrect passphrase")
	assert.NotContains(t, wErr.String()+wOut.String(), "error: error:")
	assert.Equal(t, 1, count(wErr.String(), "incorrect passphrase"), wErr.String())
}
