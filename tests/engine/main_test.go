package engine

import (
	"fmt"
	"os"
	"os/exec"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

// pulumiBin is the Pulumi CLI the lab drives ("" when none was found);
// providersDir holds the freshly built fake provider plugins.
var (
	pulumiBin    string
	pulumiWhy    string
	providersDir string
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	pulumiBin, pulumiWhy = testenv.PulumiCLI()
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
