//go:build tools

// Package tools pins the Pulumi YAML language host that
// tools/build-pulumi-yaml.sh builds (pulumi-language-yaml) for the YAML
// program test of the component provider (tests/engine/yaml_test.go).
package tools

import _ "github.com/pulumi/pulumi-yaml/cmd/pulumi-language-yaml"
