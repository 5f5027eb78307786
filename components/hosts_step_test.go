package components_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

// TestHostsStep checks that member host names never replace a mongod: the
// container ignores changes of its creation-time entries, and a hosts step
// per node, which the full replica-set step waits for, writes the current
// ones into the running container.
func TestHostsStep(t *testing.T) {
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com")})
	full := rec.Named(t, tCommand, "chat-replicaset")
	for i, n := range []string{"rocket-1", "rocket-2", "rocket-3"} {
		m := rec.Named(t, tContainer, "chat-mongo-"+n)
		if !slices.Contains(m.Req.GetIgnoreChanges(), "hosts") {
			t.Errorf("%s: hosts changes are not ignored: %v", m.Name, m.Req.GetIgnoreChanges())
		}
		if e := strings.Join(m.Strings("entrypoints"), " "); !strings.Contains(e, "sh /etc/rocketchat-ha/apply-hosts.sh && install") {
			t.Errorf("%s: the entrypoint does not apply the stored host names first: %q", m.Name, e)
		}
		step := rec.Named(t, tCommand, "chat-mongo-"+n+"-hosts")
		env := mocktest.Unwrap(step.Inputs["environment"]).ObjectValue()
		want := "10.250.250.11 rocket-1\n10.250.250.12 rocket-2\n10.250.250.13 rocket-3\n"
		if got := mocktest.Unwrap(env["RCHA_HOSTS"]).StringValue(); got != want {
			t.Errorf("%s: RCHA_HOSTS %q, want %q", step.Name, got, want)
		}
		if got := mocktest.Unwrap(env["DOCKER_HOST"]).StringValue(); got != testNodes(3)[i].DockerHost && got != "ssh://root@"+testNodes(3)[i].Address {
			t.Errorf("%s: DOCKER_HOST %q", step.Name, got)
		}
		if !slices.Contains(full.Req.GetDependencies(), step.URN) {
			t.Errorf("the full replica-set step does not wait for %s", step.Name)
		}
	}
}

// TestApplyHosts runs mongo-apply-hosts.sh, as the entrypoint and the
// hosts step do, with each awk and sh at hand (the mongo image is Ubuntu:
// mawk and dash), on a copy of what Docker writes.
func TestApplyHosts(t *testing.T) {
	script := filepath.Join(t.TempDir(), "apply-hosts.sh")
	must(t, os.WriteFile(script, []byte(components.MongoApplyHosts()), 0o644))
	docker := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n# a comment naming rocket-2\n" +
		"10.250.250.11\trocket-1\n10.250.250.12\trocket-2\n10.250.250.13\trocket-3\n172.17.0.2\t0123456789ab\n"
	current := "10.250.250.11 rocket-1\n10.250.250.20 rocket-2\n10.250.250.14 rocket-4\n"
	want := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n# a comment naming rocket-2\n" +
		"10.250.250.13\trocket-3\n172.17.0.2\t0123456789ab\n" + current
	shells := [][]string{{"sh"}}
	if bb, err := exec.LookPath("busybox"); err == nil {
		shells = append(shells, []string{bb, "sh"})
	} else if os.Getenv("RCHA_REQUIRE_TOOLS") != "" {
		testenv.LookPath(t, "busybox", "apt-get install busybox-static")
	}
	for _, sh := range shells {
		dir := t.TempDir()
		etc, file := filepath.Join(dir, "hosts"), filepath.Join(dir, "rcha-hosts")
		must(t, os.WriteFile(etc, []byte(docker), 0o644))
		must(t, os.WriteFile(file, []byte(current), 0o644))
		env := append(os.Environ(), "RCHA_HOSTS_FILE="+file, "RCHA_ETC_HOSTS="+etc)
		if len(sh) > 1 {
			// busybox's own applets only, as in a minimal image.
			bin := filepath.Join(dir, "bin")
			must(t, os.MkdirAll(bin, 0o755))
			for _, a := range []string{"awk", "tr", "mktemp", "cat", "rm"} {
				must(t, os.Symlink(sh[0], filepath.Join(bin, a)))
			}
			env = append(env, "PATH="+bin)
		}
		for run := 1; run <= 2; run++ { // the second run (a restart) changes nothing
			cmd := exec.Command(sh[0], append(sh[1:], script)...)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("%v run %d: %v\n%s", sh, run, err, out)
			}
			got, _ := os.ReadFile(etc)
			if string(got) != want {
				t.Errorf("%v run %d: /etc/hosts\n%s\nwant\n%s", sh, run, got, want)
			}
		}
	}
}
