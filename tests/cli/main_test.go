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
)

var (
	pulumiBin string // "" when the Pulumi CLI is not available
	pulumiWhy string
	rchaBin   string
	binDir    string
)

// findPulumi looks where the engine lab looks: RCHA_PULUMI_BIN, the cache
// filled by the CLI build script, then PATH.
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
	return "", "the Pulumi CLI is not built (see tools/; or set RCHA_PULUMI_BIN)"
}

func TestMain(m *testing.M) { os.Exit(run(m)) }

func run(m *testing.M) int {
	pulumiBin, pulumiWhy = findPulumi()
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
