package components_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

// standInMongosh answers the step script's two kinds of mongosh run in a
// container: the probe (RCHA_PROBE=1), with the state $RCHA_FAKE_PROBE
// gives that container (container=STATE ..., "fail" for a mongod that does
// not answer, EMPTY when unlisted), and the reconciler, which it records
// in $RCHA_TEST_RUNS with where it ran and reports like the real one.
const standInMongosh = `#!/bin/sh
c=$RCHA_FAKE_EXEC_CONTAINER
if [ "${RCHA_PROBE:-}" = 1 ]; then
  for p in ${RCHA_FAKE_PROBE:-}; do
    case "$p" in "$c="*)
      s=${p#*=}
      if [ "$s" = fail ]; then echo "rcha-reconcile: probe: failed: connect ECONNREFUSED $RCHA_LOCAL"; exit 1; fi
      echo "rcha-reconcile: probe: $s"; exit 0 ;;
    esac
  done
  echo "rcha-reconcile: probe: EMPTY"; exit 0
fi
ca=''
if [ -n "${DOCKER_CERT_PATH:-}" ]; then ca=$(cat "$DOCKER_CERT_PATH/ca.pem"); fi
echo "$c $RCHA_LOCAL $DOCKER_HOST $ca" >>"$RCHA_TEST_RUNS"
echo "rcha-reconcile: root password in effect: current"
`

// standInNode answers the Rocket.Chat version probe (node -e) in a
// container with the version $RCHA_FAKE_RC_VERSION gives it
// (container=VERSION ...); it fails for an unlisted container.
const standInNode = `#!/bin/sh
for p in ${RCHA_FAKE_RC_VERSION:-}; do
  case "$p" in "$RCHA_FAKE_EXEC_CONTAINER="*) echo "${p#*=}"; exit 0 ;; esac
done
exit 1
`

// stepRun is one run of a replica-set step's real script on this machine,
// with the stand-in docker CLI and mongosh.
type stepRun struct {
	rc             int
	stderr, stdout string
	runs           []string // "container local-address docker-host ca" per reconciler run
}

// runStep runs the named step of rec as pulumi-command does (/bin/sh -c
// with the step's environment and stdin), with the fake hosts given.
func runStep(t *testing.T, rec *mocktest.Recorder, name string, containers, stopped, downHosts, probes []string, extraEnv ...string) stepRun {
	t.Helper()
	step := rec.Named(t, tCommand, name)
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	must(t, os.MkdirAll(bin, 0o755))
	testenv.InstallFakeDocker(t, bin)
	must(t, os.WriteFile(filepath.Join(bin, "mongosh"), []byte(standInMongosh), 0o755))
	must(t, os.WriteFile(filepath.Join(bin, "node"), []byte(standInNode), 0o755))
	runs := filepath.Join(dir, "runs")
	cmd := exec.Command("/bin/sh", "-c", step.String("create"))
	cmd.Env = append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"RCHA_FAKE_CONTAINERS="+strings.Join(containers, " "),
		"RCHA_FAKE_STOPPED="+strings.Join(stopped, " "),
		"RCHA_FAKE_DOWN_HOSTS="+strings.Join(downHosts, " "),
		"RCHA_FAKE_PROBE="+strings.Join(probes, " "),
		"RCHA_FAKE_DOCKER_LOG="+filepath.Join(dir, "docker.log"),
		"RCHA_TEST_RUNS="+runs,
	)
	cmd.Env = append(cmd.Env, extraEnv...)
	for k, v := range mocktest.Unwrap(step.Inputs["environment"]).ObjectValue() {
		cmd.Env = append(cmd.Env, string(k)+"="+mocktest.Unwrap(v).StringValue())
	}
	cmd.Stdin = strings.NewReader(step.String("stdin"))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	r := stepRun{}
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		r.rc = ee.ExitCode()
	}
	r.stdout, r.stderr = out.String(), errb.String()
	if b, err := os.ReadFile(runs); err == nil {
		r.runs = strings.Split(strings.TrimSpace(string(b)), "\n")
	}
	return r
}

// TestReplicaSetStepChoosesNode runs both replica-set steps' real script
// and checks the node it runs through: the first, in list order, whose
// host answers and whose mongod is a member; never a guess when a node
// that does not answer might hold the set.
func TestReplicaSetStepChoosesNode(t *testing.T) {
	testenv.LookPath(t, "base64", "coreutils")
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com")})
	const (
		m1, m2, m3 = "chat-mongo-rocket-1", "chat-mongo-rocket-2", "chat-mongo-rocket-3"
		h1, h2     = "ssh://root@10.250.250.11", "ssh://root@10.250.250.12"
	)
	all := []string{m1, m2, m3}
	for _, c := range []struct {
		name                      string
		step                      string
		containers, stopped, down []string
		probes                    []string
		through                   string // container the reconciler ran in; "" for none
		fail                      bool
		log                       string // in stderr
	}{
		{name: "fresh cluster, prune", step: "chat-replicaset-prune",
			log: "no replica set yet (a fresh cluster)"},
		{name: "fresh cluster, full: node 0 initiates", step: "chat-replicaset", containers: all,
			through: m1, log: "replica-set step (full) through rocket-1 (container chat-mongo-rocket-1 on " + h1 + ")"},
		{name: "healthy: node 0", step: "chat-replicaset", containers: all, probes: []string{m1 + "=PRIMARY", m2 + "=SECONDARY", m3 + "=SECONDARY"},
			through: m1},
		{name: "node 0's host down: node 1", step: "chat-replicaset", containers: all, down: []string{h1},
			probes: []string{m2 + "=SECONDARY", m3 + "=PRIMARY"}, through: m2,
			log: "rocket-1: its Docker host " + h1 + " does not answer: Cannot connect to the Docker daemon"},
		{name: "node 0's host down, prune: node 1", step: "chat-replicaset-prune", containers: all, down: []string{h1},
			probes: []string{m2 + "=PRIMARY", m3 + "=SECONDARY"}, through: m2},
		{name: "node 0 new and empty (replaced): node 1", step: "chat-replicaset", containers: all,
			probes: []string{m1 + "=EMPTY", m2 + "=PRIMARY", m3 + "=SECONDARY"}, through: m2, log: "rocket-1: its mongod is in no replica set yet"},
		{name: "node 0 not created yet, prune: node 1", step: "chat-replicaset-prune", containers: []string{m2, m3},
			probes: []string{m2 + "=SECONDARY", m3 + "=PRIMARY"}, through: m2, log: "rocket-1: no mongod container yet"},
		{name: "node 0 stopped: node 2 when node 1's mongod does not answer", step: "chat-replicaset", containers: all, stopped: []string{m1},
			probes: []string{m2 + "=fail", m3 + "=SECONDARY"}, through: m3, log: "rocket-2: its mongod does not answer"},
		{name: "no member answers, one host down: refuse (full)", step: "chat-replicaset", containers: all, down: []string{h2},
			probes: []string{m1 + "=EMPTY", m3 + "=EMPTY"}, fail: true, log: "refusing to run the full step"},
		{name: "no member answers, one host down: refuse (prune)", step: "chat-replicaset-prune", containers: []string{m1, m3}, down: []string{h2},
			fail: true, log: "a node that does not answer may hold the replica set"},
		{name: "a member in neither state: refuse", step: "chat-replicaset", containers: all,
			probes: []string{m1 + "=OTHER"}, fail: true, log: "rocket-1: its mongod is in the replica set but neither primary nor secondary"},
		{name: "fresh, full, node 0 not created: refuse", step: "chat-replicaset", containers: []string{m2, m3},
			fail: true, log: "the first node's mongod is not running"},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := runStep(t, rec, c.step, c.containers, c.stopped, c.down, c.probes)
			if c.fail != (r.rc != 0) {
				t.Fatalf("exit %d (want failure: %v)\n%s", r.rc, c.fail, r.stderr)
			}
			var got string
			if len(r.runs) > 0 {
				got = strings.Fields(r.runs[0])[0]
			}
			if got != c.through || len(r.runs) > 1 {
				t.Errorf("the reconciler ran in %q (runs %q), want %q\n%s", got, r.runs, c.through, r.stderr)
			}
			if c.log != "" && !strings.Contains(r.stderr, c.log) {
				t.Errorf("stderr lacks %q:\n%s", c.log, r.stderr)
			}
			if !c.fail && len(strings.Split(strings.TrimSpace(r.stdout), "\n")) != 2 {
				t.Errorf("stdout is not the two remembered root-password lines: %q", r.stdout)
			}
		})
	}
}

// TestReplicaSetStepReachesChosenHost checks that the reconciler runs with
// the chosen node's Docker host, TLS material and mongod port.
func TestReplicaSetStepReachesChosenHost(t *testing.T) {
	testenv.LookPath(t, "base64", "coreutils")
	nodes := testNodes(3)
	nodes[1].DockerHost = "tcp://10.250.250.12:2376"
	nodes[1].DockerTLS = &components.DockerTLS{CA: pulumi.String("CA-OF-NODE-1"), Cert: pulumi.String("C"), Key: pulumi.String("K")}
	nodes[1].Ports.Mongo = 27018
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: nodes, RootURL: pulumi.String("https://c.example.com")})
	r := runStep(t, rec, "chat-replicaset", []string{"chat-mongo-rocket-1", "chat-mongo-rocket-2", "chat-mongo-rocket-3"}, nil,
		[]string{"ssh://root@10.250.250.11"}, []string{"chat-mongo-rocket-2=PRIMARY"})
	if r.rc != 0 {
		t.Fatalf("exit %d\n%s", r.rc, r.stderr)
	}
	want := "chat-mongo-rocket-2 127.0.0.1:27018 tcp://10.250.250.12:2376 CA-OF-NODE-1"
	if len(r.runs) != 1 || r.runs[0] != want {
		t.Errorf("runs %q, want [%q]", r.runs, want)
	}
}

// TestRocketChatUpgradePath runs the prune step's Rocket.Chat check: one
// major release at a time, never back a major, judged by what the first
// server that answers reports.
func TestRocketChatUpgradePath(t *testing.T) {
	testenv.LookPath(t, "base64", "coreutils")
	mongos := []string{"chat-mongo-rocket-1", "chat-mongo-rocket-2", "chat-mongo-rocket-3"}
	healthy := []string{"chat-mongo-rocket-1=PRIMARY", "chat-mongo-rocket-2=SECONDARY", "chat-mongo-rocket-3=SECONDARY"}
	for _, c := range []struct {
		name, image string
		versions    []string
		down        []string
		fail        bool
		log         string
	}{
		{"6.4 to 7.10: one major", "registry.rocket.chat/rocketchat/rocket.chat:7.10.0", []string{"chat-rocketchat-rocket-1=6.4"}, nil,
			false, "Rocket.Chat 6.4 on rocket-1 (chat-rocketchat-rocket-1) to 7.10: an allowed step"},
		{"6.4 to 8.2: a major skipped", "registry.rocket.chat/rocketchat/rocket.chat:8.2.0", []string{"chat-rocketchat-rocket-1=6.4"}, nil,
			true, "Rocket.Chat upgrades one major release at a time: rocket-1 (chat-rocketchat-rocket-1) runs 6.4, the target is 8.2. Upgrade to the newest 7.x release first"},
		{"8.1 to 7.10: back a major", "registry.rocket.chat/rocketchat/rocket.chat:7.10.0", []string{"chat-rocketchat-rocket-1=8.1"}, nil,
			true, "Rocket.Chat cannot go back a major release"},
		{"first host down: the second answers", "registry.rocket.chat/rocketchat/rocket.chat:8.2.0",
			[]string{"chat-rocketchat-rocket-1=8.1", "chat-rocketchat-rocket-2=6.4"}, []string{"ssh://root@10.250.250.11"},
			true, "rocket-2 (chat-rocketchat-rocket-2) runs 6.4"},
		{"no server answers", "registry.rocket.chat/rocketchat/rocket.chat:8.2.0", nil, nil,
			false, "no Rocket.Chat server answers /api/info"},
		{"a tag without a version: not checked", "registry.example.com/rocket.chat:custom", []string{"chat-rocketchat-rocket-1=6.4"}, nil,
			false, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
				RocketChatImage: pulumi.String(c.image)})
			r := runStep(t, rec, "chat-replicaset-prune", mongos, nil, c.down, healthy, "RCHA_FAKE_RC_VERSION="+strings.Join(c.versions, " "))
			if c.fail != (r.rc != 0) {
				t.Fatalf("exit %d (want failure: %v)\n%s", r.rc, c.fail, r.stderr)
			}
			if c.fail && len(r.runs) > 0 {
				t.Errorf("the reconciler ran although the path was refused: %q", r.runs)
			}
			if c.log != "" && !strings.Contains(r.stderr, c.log) {
				t.Errorf("stderr lacks %q:\n%s", c.log, r.stderr)
			}
			if c.log == "" && strings.Contains(r.stderr, "Rocket.Chat") {
				t.Errorf("a check ran for an image without a version:\n%s", r.stderr)
			}
		})
	}
}
