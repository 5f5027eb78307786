//go:build tools

// Package tools pins the Pulumi CLI that the engine lab builds.
package tools

import _ "github.com/pulumi/pulumi/pkg/v3/cmd/pulumi"
