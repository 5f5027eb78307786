// Package testenv lets tests that need an installed tool skip cleanly on a
// developer machine, and fail instead when the test command demands every tier.
package testenv

import (
	"bytes"
	_ "embed"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

// RequireVar is the environment variable that turns missing-tool skips into
// failures. `make test` and .ci/run set it to 1 so that no tier passes by skipping.
const RequireVar = "RCHA_REQUIRE_TOOLS"

// Required reports whether missing tools must fail the test run.
func Required() bool { return os.Getenv(RequireVar) == "1" }

// LookPath returns the path of the named tool. When it is missing, the test
// is skipped with a message naming the tool and how to install it, or fails
// when RCHA_REQUIRE_TOOLS=1.
func LookPath(t testing.TB, name, install string) string {
	t.Helper()
	if p := os.Getenv("RCHA_" + envName(name)); p != "" {
		return p
	}
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	Missing(t, name+" is not installed ("+install+")")
	return ""
}

// Missing skips, or fails under RCHA_REQUIRE_TOOLS=1, with the given reason.
func Missing(t testing.TB, reason string) {
	t.Helper()
	if Required() {
		t.Fatalf("%s; %s=1 forbids skipping", reason, RequireVar)
	}
	t.Skipf("skipping: %s", reason)
}

func envName(tool string) string {
	b := []byte(tool)
	for i, c := range b {
		switch {
		case c >= 'a' && c <= 'z':
			b[i] = c - 'a' + 'A'
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		default:
			b[i] = '_'
		}
	}
	return string(b) + "_BIN"
}

// PulumiCLI finds the Pulumi CLI the engine-driven tests use: RCHA_PULUMI_BIN,
// then the cache tools/build-pulumi.sh fills, then PATH. When none is found
// it returns "" and the reason.
func PulumiCLI() (path, why string) {
	if p := os.Getenv("RCHA_PULUMI_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", "RCHA_PULUMI_BIN=" + p + ": " + err.Error()
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

//go:embed fakedocker.sh
var fakeDocker []byte

// InstallFakeDocker writes the stand-in docker CLI (fakedocker.sh) as
// dir/docker. Put dir first on PATH; set RCHA_FAKE_DOCKER_LOG (and
// RCHA_FAKE_CONTAINERS for inspect).
func InstallFakeDocker(t testing.TB, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "docker"), fakeDocker, 0o755); err != nil {
		t.Fatal(err)
	}
}

// SyncBuffer is a bytes.Buffer that a process writes while a test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *SyncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *SyncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// Golden compares got with the file at path. With update it first rewrites
// the file (creating its directory), so that a reviewed change of the output
// is recorded with `go test -run ... -update`.
func Golden(t testing.TB, path, got string, update bool) {
	t.Helper()
	if update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run the test with -update to create it)", err)
	}
	if got != string(want) {
		t.Errorf("the output differs from %s; review the change, then run the test with -update.\n--- got ---\n%s", path, got)
	}
}
