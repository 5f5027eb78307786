package stacks_test

import (
	"encoding/json"
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// readStackFile reads a Pulumi.<stack>.yaml into the flat key -> value map
// the Pulumi engine hands a program (objects as JSON).
func readStackFile(t *testing.T, path string) map[string]string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Config map[string]any `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	out := map[string]string{}
	for k, v := range f.Config {
		if s, ok := v.(string); ok {
			out[k] = s
			continue
		}
		js, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %s: %v", path, k, err)
		}
		out[k] = string(js)
	}
	return out
}
