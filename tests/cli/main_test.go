// Package cli_test runs the rcha binary end to end under the engine lab: the
// real Pulumi CLI (through the Automation API, inline program) against the
// lab's recording fake providers (tests/engine/providers), checked by exit
// codes and the --json summary. Nothing leaves 127.0.0.0/8: every node
// address is 127.0.0.1 and the fake providers touch no Docker.
package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

var (
	pulumiBin string // "" when the Pulumi CLI is not available
	pulumiWhy string
	rchaBin   string
	binDir    string
)

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	pulumiBin, pulumiWhy = testenv.PulumiCLI()
	dir, err := os.MkdirTemp("", "rcha-cli-e2e-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "cli e2e: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	// rcha itself, and the engine lab's fake provider plugins, which the
	// engine finds on PATH as pulumi-resource-<name>.
	build := exec.Command("go", "build", "-o", dir+string(os.PathSeparator),
		"github.com/rocketchat-ha/rocketchat-ha/cmd/rcha",
		"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers/cmd/...")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintf(os.Stderr, "cli e2e: building rcha and the fake providers: %v\n", err)
		return 1
	}
	rchaBin = filepath.Join(dir, "rcha")
	return m.Run()
}
