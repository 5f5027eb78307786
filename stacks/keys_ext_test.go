package stacks_test

import (
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/stacks"
	"gopkg.in/yaml.v3"
)

// Parse reads exactly Keys, and Pulumi.yaml declares exactly Keys.
func TestKeysAreWhatParseReadsAndPulumiYAMLDeclares(t *testing.T) {
	var read []string
	_, _, _ = stacks.Parse(func(key string) (string, bool) {
		read = append(read, strings.TrimPrefix(key, stacks.Namespace+":"))
		return "", false
	})
	want := slices.Clone(stacks.Keys)
	sort.Strings(read)
	sort.Strings(want)
	if !slices.Equal(slices.Compact(read), want) {
		t.Errorf("Parse reads %v\nKeys are   %v", read, want)
	}
	b, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range p.Config {
		names = append(names, k)
	}
	sort.Strings(names)
	if !slices.Equal(names, want) {
		t.Errorf("Pulumi.yaml declares %v\nKeys are           %v", names, want)
	}
}
