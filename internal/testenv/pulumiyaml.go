package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
)

// PulumiYAML finds the Pulumi YAML language host (pulumi-language-yaml)
// the component provider's YAML program test runs: RCHA_PULUMI_YAML_BIN,
// then the cache tools/build-pulumi-yaml.sh fills, then PATH. When none is
// found it returns "" and the reason.
func PulumiYAML() (path, why string) {
	if p := os.Getenv("RCHA_PULUMI_YAML_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", "RCHA_PULUMI_YAML_BIN=" + p + ": " + err.Error()
		}
		return p, ""
	}
	if home, err := os.UserHomeDir(); err == nil {
		p := filepath.Join(home, ".cache", "rocketchat-ha", "bin", "pulumi-language-yaml")
		if _, err := os.Stat(p); err == nil {
			return p, ""
		}
	}
	if p, err := exec.LookPath("pulumi-language-yaml"); err == nil {
		return p, ""
	}
	return "", "the Pulumi YAML language host is not built (run tools/build-pulumi-yaml.sh, or set RCHA_PULUMI_YAML_BIN)"
}
