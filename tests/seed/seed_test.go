// Package seed_test runs the seed document's setup end to end without
// Docker: the stack program under mocks produces the replica-set steps
// exactly as pulumi-command would run them (shell text, stdin, environment);
// the test runs those shell scripts with a stand-in `docker` that executes
// inside this machine, and a `mongosh` that loads tests/mongosh/sim.js, the
// labelled JavaScript SIMULATION of a MongoDB replica set, before the
// reconciler. What it proves: the seed's users and roles exist after the
// steps, the root password is remembered and rotated across runs through
// the steps' stdout, and no secret leaks into the logs. What it does not:
// real mongod, real Docker.
package seed_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
	"github.com/rocketchat-ha/rocketchat-ha/stacks"
)

const tCommand = "command:local:Command"

// step is one replica-set command as the program registered it.
type step struct {
	script, stdin string
	env           map[string]string
}

func steps(t *testing.T, cfg map[string]string, secrets []string) (prune, full step) {
	t.Helper()
	rec, err := mocktest.Run(t, cfg, secrets, stacks.Program)
	if err != nil {
		t.Fatal(err)
	}
	get := func(name string) step {
		r := rec.Named(t, tCommand, name)
		env := map[string]string{}
		for k, v := range mocktest.Unwrap(r.Inputs["environment"]).ObjectValue() {
			env[string(k)] = mocktest.Unwrap(v).StringValue()
		}
		if r.String("create") != r.String("update") {
			t.Fatalf("%s: create and update differ", name)
		}
		return step{script: r.String("update"), stdin: r.String("stdin"), env: env}
	}
	return get("rocketchat-replicaset-prune"), get("rocketchat-replicaset")
}

func seedConfig(root, rocket string) map[string]string {
	return map[string]string{
		"rocketchat-ha:nodes": `[{"name":"rocket-1","address":"10.250.250.13"},` +
			`{"name":"rocket-2","address":"10.250.250.14"},{"name":"rocket-3","address":"10.250.250.17"}]`,
		"rocketchat-ha:rootUrl":           "https://chat.domain.de",
		"rocketchat-ha:rocketPassword":    rocket,
		"rocketchat-ha:oplogPassword":     "password",
		"rocketchat-ha:mongoRootPassword": root,
	}
}

var seedSecrets = []string{"rocketchat-ha:rocketPassword", "rocketchat-ha:oplogPassword", "rocketchat-ha:mongoRootPassword"}

// world is the stand-in Docker host and simulated replica set.
type world struct {
	t                *testing.T
	bin, state, dlog string
	containers       string
	killAfter        int // the simulation kills mongosh after this many writes
	logs             []string
}

func newWorld(t *testing.T) *world {
	t.Helper()
	mongosh := os.Getenv("RCHA_MONGOSH_BIN")
	if mongosh == "" {
		if p, err := filepath.Abs("../mongosh/node_modules/.bin/mongosh"); err == nil {
			if _, err := os.Stat(p); err == nil {
				mongosh = p
			}
		}
	}
	if mongosh == "" {
		mongosh = testenv.LookPath(t, "mongosh", "run `npm ci` in tests/mongosh")
	}
	sim, err := filepath.Abs("../mongosh/sim.js")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	w := &world{t: t, bin: filepath.Join(dir, "bin"), state: filepath.Join(dir, "sim.json"), dlog: filepath.Join(dir, "docker.log")}
	must(t, os.MkdirAll(w.bin, 0o755))
	testenv.InstallFakeDocker(t, w.bin)
	// The steps run `mongosh --nodb --quiet --norc FILE` in a node's mongod
	// container; load the simulation first, as tests/mongosh does, as that
	// node (the fake docker names the container; the reconciler connects
	// to RCHA_LOCAL).
	wrapper := fmt.Sprintf(`#!/bin/sh
export HOME=%q
node=${RCHA_FAKE_EXEC_CONTAINER##*-mongo-}
export RCHA_SIM_LOCAL_NODE="$node:27017" RCHA_SIM_LOCAL_ALIAS="$RCHA_LOCAL"
exec %q --nodb --quiet --norc %q "$4"
`, dir, mongosh, sim)
	must(t, os.WriteFile(filepath.Join(w.bin, "mongosh"), []byte(wrapper), 0o755))
	nodes := map[string]any{}
	for _, n := range []string{"rocket-1:27017", "rocket-2:27017", "rocket-3:27017"} {
		nodes[n] = map[string]any{"running": true}
	}
	st, _ := json.Marshal(map[string]any{"replSetName": "rs0", "localAlias": "127.0.0.1:27017", "localNode": "rocket-1:27017", "nodes": nodes})
	must(t, os.WriteFile(w.state, st, 0o600))
	return w
}

// run executes a step as pulumi-command's local provider does: /bin/sh -c
// with the step's environment added and its stdin; previousStdout is what
// the provider passes as PULUMI_COMMAND_STDOUT on an update.
func (w *world) run(s step, previousStdout string) (stdout string, err error) {
	w.t.Helper()
	cmd := exec.Command("/bin/sh", "-c", s.script)
	cmd.Env = append(os.Environ(),
		"PATH="+w.bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"RCHA_FAKE_CONTAINERS="+w.containers,
		"RCHA_FAKE_DOCKER_LOG="+w.dlog,
		"RCHA_SIM_STATE="+w.state,
		fmt.Sprintf("RCHA_SIM_KILL_AFTER=%d", w.killAfter),
	)
	if previousStdout != "" {
		cmd.Env = append(cmd.Env, "PULUMI_COMMAND_STDOUT="+previousStdout)
	}
	for k, v := range s.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdin = strings.NewReader(s.stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err = cmd.Run()
	w.logs = append(w.logs, errb.String())
	if err != nil {
		return out.String(), fmt.Errorf("%v\n%s", err, errb.String())
	}
	return out.String(), nil
}

type simUser struct {
	User  string `json:"user"`
	DB    string `json:"db"`
	Pwd   string `json:"pwd"`
	Roles []struct {
		Role string `json:"role"`
		DB   string `json:"db"`
	} `json:"roles"`
}

func (w *world) users() map[string]simUser {
	w.t.Helper()
	b, err := os.ReadFile(w.state)
	must(w.t, err)
	var st struct {
		Users  []simUser `json:"users"`
		Config *struct {
			Members []struct {
				Host string `json:"host"`
			} `json:"members"`
		} `json:"config"`
	}
	must(w.t, json.Unmarshal(b, &st))
	out := map[string]simUser{}
	for _, u := range st.Users {
		out[u.User] = u
	}
	return out
}

func roles(u simUser) []string {
	var out []string
	for _, r := range u.Roles {
		out = append(out, r.Role+"@"+r.DB)
	}
	slices.Sort(out)
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// remembered decodes a step's stdout: the root password in effect after
// the run, and the one the run was given.
func remembered(t *testing.T, stdout string) (inEffect, given string) {
	t.Helper()
	lines := strings.Split(strings.TrimRight(stdout, "\n"), "\n")
	if len(lines) != 2 {
		t.Fatalf("step stdout has %d lines, want 2: %q", len(lines), stdout)
	}
	dec := func(s string) string {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("step stdout line %q is not base64: %v", s, err)
		}
		return string(b)
	}
	return dec(lines[0]), dec(lines[1])
}

// pulumiUp runs the prune and the full step in order, as the engine does,
// passing each its stdout from its last successful run (pulumi-command's
// PULUMI_COMMAND_STDOUT) and keeping the new stdout only on success.
func (w *world) pulumiUp(cfg map[string]string, stored map[string]string) error {
	w.t.Helper()
	prune, full := steps(w.t, cfg, seedSecrets)
	for _, s := range []struct {
		name string
		step step
	}{{"prune", prune}, {"full", full}} {
		out, err := w.run(s.step, stored[s.name])
		if err != nil {
			return fmt.Errorf("%s step: %w", s.name, err)
		}
		stored[s.name] = out
	}
	return nil
}

func TestSeedSetupEndToEnd(t *testing.T) {
	w := newWorld(t)
	prune, full := steps(t, seedConfig("root-pass-1", "password"), seedSecrets)

	// pulumi up from empty: the prune step runs before any container exists.
	out, err := w.run(prune, "")
	if err != nil {
		t.Fatalf("prune step on an empty cluster: %v", err)
	}
	if e, g := remembered(t, out); e != "root-pass-1" || g != "root-pass-1" {
		t.Fatalf("prune step on an empty cluster remembers %q, %q", e, g)
	}
	if !strings.Contains(w.logs[0], "no replica set yet (a fresh cluster): no member to remove") {
		t.Errorf("prune step did not say why it did nothing:\n%s", w.logs[0])
	}
	pruneOut := out
	w.containers = "rocketchat-mongo-rocket-1 rocketchat-mongo-rocket-2 rocketchat-mongo-rocket-3"
	fullOut, err := w.run(full, "")
	if err != nil {
		t.Fatalf("full step: %v", err)
	}
	if e, _ := remembered(t, fullOut); e != "root-pass-1" {
		t.Fatalf("full step remembers %q in effect", e)
	}
	users := w.users()
	want := map[string][]string{
		"root":      {"root@admin"},
		"rocket":    {"clusterMonitor@admin", "readWrite@rocketchat"},
		"oploguser": {"clusterMonitor@admin", "read@local"},
	}
	for name, r := range want {
		u, ok := users[name]
		if !ok {
			t.Errorf("user %s does not exist after pulumi up", name)
			continue
		}
		if got := roles(u); !slices.Equal(got, r) || u.DB != "admin" {
			t.Errorf("user %s@%s roles %v, want %v on admin", name, u.DB, got, r)
		}
	}
	if users["rocket"].Pwd != "password" || users["oploguser"].Pwd != "password" || users["root"].Pwd != "root-pass-1" {
		t.Errorf("passwords after up: rocket %q oploguser %q root %q", users["rocket"].Pwd, users["oploguser"].Pwd, users["root"].Pwd)
	}

	// A re-run with nothing changed: both steps succeed and change nothing.
	stored := map[string]string{"prune": pruneOut, "full": fullOut}
	if err := w.pulumiUp(seedConfig("root-pass-1", "password"), stored); err != nil {
		t.Fatal(err)
	}
	if after := w.users(); fmt.Sprint(after) != fmt.Sprint(users) {
		t.Errorf("re-run changed users:\n%v\n%v", users, after)
	}

	// Rotate root and rocket twice in a row: the prune step runs while the
	// old root password is still in effect, the full step rotates it.
	for _, rot := range []struct{ root, rocket string }{{"root-pass-2", "password-2"}, {"root-pass-3", "password-3"}} {
		if err := w.pulumiUp(seedConfig(rot.root, rot.rocket), stored); err != nil {
			t.Fatalf("rotation to %s: %v", rot.root, err)
		}
		users = w.users()
		if users["root"].Pwd != rot.root || users["rocket"].Pwd != rot.rocket {
			t.Errorf("after rotation: root %q rocket %q", users["root"].Pwd, users["rocket"].Pwd)
		}
		if e, _ := remembered(t, stored["full"]); e != rot.root {
			t.Errorf("full step remembers %q in effect, want %q", e, rot.root)
		}
	}

	// A rotation whose full step dies after its first write (the rocket
	// user), before root: the prune step has already remembered the new
	// password as given. Then another rotation: the steps still find the
	// root password in effect.
	w.killAfter = 1
	cfg := seedConfig("root-pass-4", "password-4")
	if err := w.pulumiUp(cfg, stored); err == nil || !strings.Contains(err.Error(), "full step") {
		t.Fatalf("the killed run did not fail in the full step: %v", err)
	}
	w.killAfter = 0
	if w.users()["root"].Pwd != "root-pass-3" || w.users()["rocket"].Pwd != "password-4" {
		t.Fatalf("after the killed run: root %q rocket %q", w.users()["root"].Pwd, w.users()["rocket"].Pwd)
	}
	cfg["rocketchat-ha:mongoRootPassword"] = "root-pass-5"
	if err := w.pulumiUp(cfg, stored); err != nil {
		t.Fatalf("rotation after a failed one: %v", err)
	}
	if !strings.Contains(strings.Join(w.logs, "\n"), "retrying with the root password that was in effect") {
		t.Error("the prune step did not need its retry with the password in effect; the test no longer covers it")
	}
	if w.users()["root"].Pwd != "root-pass-5" {
		t.Errorf("root is %q after the second rotation, want root-pass-5", w.users()["root"].Pwd)
	}

	logs := strings.Join(w.logs, "\n")
	for _, s := range []string{"root-pass-1", "root-pass-2", "root-pass-3", "root-pass-4", "root-pass-5", "password-2", "password-3", "password-4", "mongodb://"} {
		if strings.Contains(logs, s) {
			t.Errorf("the steps' logs contain %q:\n%s", s, logs)
		}
	}
	if !strings.Contains(logs, "rcha-reconcile:") {
		t.Errorf("no reconciler progress in the logs:\n%s", logs)
	}
	// Every step ran through node 1, the first member; on the fresh
	// cluster the full step probed the others too, finding them empty.
	for i, l := range w.logs[1:] {
		if !strings.Contains(l, "through rocket-1 (container rocketchat-mongo-rocket-1 on ssh://root@10.250.250.13)") {
			t.Errorf("step run %d did not run through node 1:\n%s", i+1, l)
		}
	}
	if strings.Contains(logs, "through rocket-2") || strings.Contains(logs, "through rocket-3") {
		t.Errorf("a step ran through another node than the first member:\n%s", logs)
	}
}
