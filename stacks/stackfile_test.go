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

// projectDefaults reads the defaults Pulumi.yaml declares, as the engine
// applies them to a stack that leaves the keys unset.
func projectDefaults(t *testing.T) map[string]string {
	t.Helper()
	b, err := os.ReadFile("../Pulumi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Name   string `yaml:"name"`
		Config map[string]struct {
			Type    string `yaml:"type"`
			Default any    `yaml:"default"`
			Secret  bool   `yaml:"secret"`
		} `yaml:"config"`
	}
	if err := yaml.Unmarshal(b, &p); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for k, v := range p.Config {
		if v.Secret && v.Default != nil {
			t.Errorf("Pulumi.yaml: %s is secret with a default; Pulumi rejects the applied plain default", k)
		}
		if v.Default == nil {
			continue
		}
		switch d := v.Default.(type) {
		case string:
			out[p.Name+":"+k] = d
		default:
			js, _ := json.Marshal(d)
			out[p.Name+":"+k] = string(js)
		}
	}
	return out
}
