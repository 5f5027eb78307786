package components_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

// TestStepScriptsPassShellcheck runs shellcheck on every command step's
// script as pulumi-command runs it (the docker prelude and the step's body
// together), and on the Rocket.Chat entrypoint wrapper. `make check` also
// checks each .sh file on its own.
func TestStepScriptsPassShellcheck(t *testing.T) {
	sc := testenv.LookPath(t, "shellcheck", "apt-get install shellcheck")
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com")})
	scripts := map[string]string{"rocketchat-entrypoint.sh": components.RocketChatEntrypoint()}
	for _, c := range rec.ByType(tCommand) {
		scripts[c.Name+".create"] = c.String("create")
		scripts[c.Name+".update"] = c.String("update")
	}
	dir := t.TempDir()
	for name, text := range scripts {
		if text == "" {
			t.Errorf("%s: empty script", name)
			continue
		}
		f := filepath.Join(dir, name)
		must(t, os.WriteFile(f, []byte(text), 0o644))
		if out, err := exec.Command(sc, "-s", "sh", f).CombinedOutput(); err != nil {
			t.Errorf("shellcheck %s: %v\n%s", name, err, out)
		}
	}
}
