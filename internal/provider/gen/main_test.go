package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGeneratedFileIsCurrent fails when types_gen.go is not what the
// generator makes of components/*.go now: run `make schema` (or
// `go generate ./internal/provider`).
func TestGeneratedFileIsCurrent(t *testing.T) {
	want, err := Generate("../../../components")
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../types_gen.go")
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Fatal("internal/provider/types_gen.go is stale: run `make sdk` (or `go generate ./internal/provider`) and commit the result")
	}
}

func writePkg(t *testing.T, src string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "args.go"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

const header = `package components

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// RocketChatHA is the component.
type RocketChatHA struct {
	pulumi.ResourceState

	// URL is where it answers.
	URL pulumi.StringOutput ` + "`pulumi:\"url\"`" + `
}
`

// A new nested args struct (as a feature adds one) is mirrored, with its
// doc comments, a pointer for the optional value struct, an Args-less
// token, grouped comments carried to the next field, and Go names turned
// into property names.
func TestNewNestedStructIsPickedUp(t *testing.T) {
	dir := writePkg(t, header+`
// RocketChatHAArgs are the inputs.
type RocketChatHAArgs struct {
	// Nodes are the hosts.
	Nodes []string `+"`pulumi:\"nodes\"`"+`
	// Monitoring turns on metrics.
	Monitoring MonitoringArgs `+"`pulumi:\"monitoring,optional\"`"+`
}

// MonitoringArgs configures metrics.
type MonitoringArgs struct {
	// Port and Path say where Prometheus scrapes; see Token.
	Port int    `+"`pulumi:\"port,optional\"`"+`
	Path string `+"`pulumi:\"path,optional\"`"+`

	// Token is the bearer token.
	Token pulumi.StringInput `+"`pulumi:\"token,optional\" provider:\"secret\"`"+`
}
`)
	src, err := Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	s := strings.Join(strings.Fields(string(src)), " ")
	for _, want := range []string{
		"Monitoring *MonitoringArgs `pulumi:\"monitoring,optional\"`",
		"Token pulumi.StringInput `pulumi:\"token,optional\" provider:\"secret\"`",
		`a.SetToken("index", "Monitoring")`,
		`a.Describe(&x.Path, "port and path say where Prometheus scrapes; see token.")`,
		"Monitoring: x.Monitoring.toComponents(),",
		`"rocketchat-ha:index:Monitoring": {"port", "path"},`,
		`"rocketchat-ha:index:RocketChatHA": {"nodes", "monitoring"},`,
	} {
		if !strings.Contains(s, strings.Join(strings.Fields(want), " ")) {
			t.Errorf("generated code lacks %s\n%s", want, s)
		}
	}
}

// A field without a description, or without a tag, is refused, naming it.
func TestUndocumentedOrUntaggedFieldIsAnError(t *testing.T) {
	for _, tc := range []struct{ field, want string }{
		{"\n\tSize int `pulumi:\"size,optional\"`", "components.RocketChatHAArgs.Size: no doc comment"},
		{"\n\t// Size is the size.\n\tSize int", "components.RocketChatHAArgs.Size: no `pulumi:"},
		{"\n\t// Size is the size.\n\tSize uint `pulumi:\"size\"`", "components.RocketChatHAArgs.Size: unsupported type uint"},
		{"\n\tRocketChatHA", "components.RocketChatHAArgs: embedded field RocketChatHA"},
	} {
		dir := writePkg(t, header+`
// RocketChatHAArgs are the inputs.
type RocketChatHAArgs struct {
	// Nodes are the hosts.
	Nodes []string `+"`pulumi:\"nodes\"`"+`
`+tc.field+`
}
`)
		_, err := Generate(dir)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: got error %v, want %q", tc.field, err, tc.want)
		}
	}
}
