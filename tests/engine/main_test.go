package engine

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// pulumiBin is the Pulumi CLI the lab drives ("" when none was found);
// providersDir holds the freshly built fake provider plugins.
var (
	pulumiBin    string
	pulumiWhy    string
	providersDir string
)

// findPulumi looks for the CLI in RCHA_PULUMI_BIN, then in the cache that
// tools/build-pulumi.sh fills, then on PATH.
func findPulumi() (string, string) {
	if p := os.Getenv("RCHA_PULUMI_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Sprintf("RCHA_PULUMI_BIN=%s: %v", p, err)
		}
		return p, ""
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "rocketchat-ha", "bin", "pulumi")
		if _, err := os.Stat(p); err == nil {
			return p, ""
		}
	}
	if p, err := exec.LookPath("pulumi"); err == nil {
		return p, ""
	}
	return "", "the Pulumi CLI is not built (run tools/build-pulumi.sh, or set RCHA_PULUMI_BIN)"
}

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	pulumiBin, pulumiWhy = findPulumi()
	if pulumiBin != "" {
		dir, err := os.MkdirTemp("", "rcha-lab-plugins-")
		if err != nil {
			fmt.Fprintf(os.Stderr, "engine lab: %v\n", err)
			return 1
		}
		defer os.RemoveAll(dir)
		// The engine finds pulumi-resource-<pkg> on PATH ("ambient" plugins).
		build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
			"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers/cmd/...")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "engine lab: building the fake providers: %v\n", err)
			return 1
		}
		providersDir = dir
		os.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))
	}
	return m.Run()
}
