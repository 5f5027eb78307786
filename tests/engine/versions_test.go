package engine

import (
	"os"
	"os/exec"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"testing"
	"unicode"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"

	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// fieldNotesReplaceOnChanges is a copy of willReplaceOnChanges for
// docker:index/container:Container in pulumi-docker v4.11.2's schema
// (provider/cmd/pulumi-resource-docker/schema.json at the v4.11.2 tag; the
// schema itself is not vendored; see docs/facts.md#pulumi-docker).
const fieldNotesReplaceOnChanges = `capabilities cgroupParent cgroupnsMode command cpus devices dns dnsOpts
dnsSearches domainname entrypoints envs gpus groupAdds hostname hosts image ipcMode labels logDriver logOpts
mounts name networkMode networksAdvanced pidMode ports privileged publishAllPorts readOnly runtime
securityOpts shmSize stdinOpen stopSignal stopTimeout storageOpts sysctls tty ulimits uploads user
usernsMode volumes workingDir`

// TestFakeVersionsMatchSDKs: the versions the fakes report are the
// versions of the SDKs the project requires in go.mod and links into this
// test binary, so the engine asks the fakes for exactly the plugins the
// real program would load.
func TestFakeVersionsMatchSDKs(t *testing.T) {
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	// The versions the build selects (go test binaries carry no module
	// build info, so ask the go command, as TestMain does to build the
	// fakes).
	mods := []string{"github.com/pulumi/pulumi-docker/sdk/v4", "github.com/pulumi/pulumi-command/sdk", "github.com/pulumi/pulumi-random/sdk/v4"}
	out, err := exec.Command("go", append([]string{"list", "-m"}, mods...)...).Output()
	if err != nil {
		t.Fatalf("go list -m: %v", err)
	}
	linked := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			linked[f[0]] = f[1]
		}
	}
	for _, c := range []struct{ module, fake string }{
		{"github.com/pulumi/pulumi-docker/sdk/v4", providers.DockerVersion},
		{"github.com/pulumi/pulumi-command/sdk", providers.CommandVersion},
		{"github.com/pulumi/pulumi-random/sdk/v4", providers.RandomVersion},
	} {
		m := regexp.MustCompile(`(?m)^\s*(?:require\s+)?` + regexp.QuoteMeta(c.module) + `\s+v(\S+)`).FindSubmatch(gomod)
		if m == nil {
			t.Errorf("go.mod has no require line for %s", c.module)
			continue
		}
		if got := string(m[1]); got != c.fake {
			t.Errorf("go.mod requires %s v%s, but the fake reports %s", c.module, got, c.fake)
		}
		if v, ok := linked[c.module]; !ok {
			t.Errorf("the build selects no version of %s", c.module)
		} else if strings.TrimPrefix(v, "v") != c.fake {
			t.Errorf("the build selects %s %s, but the fake reports %s", c.module, v, c.fake)
		}
	}
}

// TestFakeReplaceFieldsMatchSchema: the docker fake's replacement fields
// are the copy of the schema's willReplaceOnChanges above, and each
// is a real input of the linked SDK's docker.ContainerArgs.
func TestFakeReplaceFieldsMatchSchema(t *testing.T) {
	var fake, notes []string
	for f := range providers.ContainerReplaceFields {
		fake = append(fake, f)
	}
	notes = strings.Fields(fieldNotesReplaceOnChanges)
	sort.Strings(fake)
	sort.Strings(notes)
	if strings.Join(fake, " ") != strings.Join(notes, " ") {
		t.Errorf("docker fake replace fields\n  %v\ndiffer from pulumi-docker v4.11.2's willReplaceOnChanges\n  %v", fake, notes)
	}
	inputs := map[string]bool{}
	typ := reflect.TypeOf(docker.ContainerArgs{})
	for i := 0; i < typ.NumField(); i++ {
		n := []rune(typ.Field(i).Name)
		n[0] = unicode.ToLower(n[0])
		inputs[string(n)] = true
	}
	for _, f := range fake {
		if !inputs[f] {
			t.Errorf("replace field %q is not an input of pulumi-docker %s's docker.ContainerArgs", f, providers.DockerVersion)
		}
	}
	for _, f := range []string{"healthcheck", "wait", "mustRun", "restart", "memory"} {
		if providers.ContainerReplaceFields[f] {
			t.Errorf("%s updates in place in pulumi-docker %s, but the fake replaces on it", f, providers.DockerVersion)
		}
	}
}
