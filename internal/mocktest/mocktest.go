// Package mocktest runs a Pulumi program under pulumi.WithMocks and records
// every resource registration, with the full RegisterResource request, so
// that tests can check graph shape, options and secrets.
package mocktest

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/tokens"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// Project and Stack are the names the mocks run under.
const (
	Project = "rocketchat-ha"
	Stack   = "test"
)

// Resource is one recorded registration.
type Resource struct {
	URN    string
	Type   string
	Name   string
	Custom bool
	Inputs resource.PropertyMap
	Req    *pulumirpc.RegisterResourceRequest
}

// Recorder implements pulumi.MockResourceMonitor and records resources in
// registration order.
type Recorder struct {
	mu        sync.Mutex
	Resources []Resource
}

// NewResource records the registration and returns realistic outputs: the
// inputs plus the computed fields that dependent inputs read.
func (r *Recorder) NewResource(args pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	parentType := tokens.Type("")
	if p := resource.URN(args.RegisterRPC.GetParent()); p != "" && p.QualifiedType() != resource.RootStackType {
		parentType = p.QualifiedType()
	}
	urn := string(resource.NewURN(Stack, Project, parentType, tokens.Type(args.TypeToken), args.Name))
	r.mu.Lock()
	r.Resources = append(r.Resources, Resource{
		URN: urn, Type: args.TypeToken, Name: args.Name, Custom: args.Custom,
		Inputs: args.Inputs, Req: args.RegisterRPC,
	})
	r.mu.Unlock()

	out := args.Inputs.Copy()
	sum := sha256.Sum256([]byte(args.TypeToken + "/" + args.Name))
	digest := hex.EncodeToString(sum[:])
	switch args.TypeToken {
	case "docker:index/remoteImage:RemoteImage":
		out["imageId"] = resource.NewProperty("sha256:" + digest)
		out["repoDigest"] = resource.NewProperty(args.Inputs["name"].StringValue() + "@sha256:" + digest)
	case "docker:index/volume:Volume":
		if !out.HasValue("name") {
			out["name"] = resource.NewProperty(args.Name)
		}
		out["mountpoint"] = resource.NewProperty("/var/lib/docker/volumes/" + args.Name + "/_data")
	case "random:index/randomPassword:RandomPassword":
		n := int(args.Inputs["length"].NumberValue())
		s := strings.Repeat(digest, n/len(digest)+1)[:n]
		out["result"] = resource.MakeSecret(resource.NewProperty(s))
	case "command:local:Command":
		out["stdout"] = resource.MakeSecret(resource.NewProperty(""))
		out["stderr"] = resource.NewProperty("")
	}
	return args.Name + "-" + digest[:8], out, nil
}

// Call answers provider function calls; the program makes none.
func (r *Recorder) Call(args pulumi.MockCallArgs) (resource.PropertyMap, error) {
	return nil, fmt.Errorf("unexpected call %s", args.Token)
}

// Run runs program under mocks with the given config (fully qualified keys;
// values are strings, or JSON for objects) and secret keys. It returns the
// recorder and the program's error.
func Run(t testing.TB, config map[string]string, secretKeys []string, program pulumi.RunFunc) (*Recorder, error) {
	t.Helper()
	cfg, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	keys, _ := json.Marshal(secretKeys)
	t.Setenv(pulumi.EnvConfig, string(cfg))
	t.Setenv(pulumi.EnvConfigSecretKeys, string(keys))
	rec := &Recorder{}
	err = pulumi.RunErr(program, pulumi.WithMocks(Project, Stack, rec))
	return rec, err
}

// ByType returns the resources of one type, in registration order.
func (r *Recorder) ByType(typ string) []Resource {
	var out []Resource
	for _, res := range r.Resources {
		if res.Type == typ {
			out = append(out, res)
		}
	}
	return out
}

// Named returns the resource with the given type and name.
func (r *Recorder) Named(t testing.TB, typ, name string) Resource {
	t.Helper()
	for _, res := range r.Resources {
		if res.Type == typ && res.Name == name {
			return res
		}
	}
	t.Fatalf("no %s named %q among %d resources", typ, name, len(r.Resources))
	return Resource{}
}

// Counts returns the number of resources per type.
func (r *Recorder) Counts() map[string]int {
	out := map[string]int{}
	for _, res := range r.Resources {
		out[res.Type]++
	}
	return out
}

// URNOf returns the URN of the resource with the given type and name.
func (r *Recorder) URNOf(t testing.TB, typ, name string) string {
	t.Helper()
	return r.Named(t, typ, name).URN
}

// PlainStrings returns every string input value that is not inside a secret,
// with its property path, for every resource. Unknown values are skipped.
func (r *Recorder) PlainStrings() map[string]string {
	out := map[string]string{}
	for _, res := range r.Resources {
		for k, v := range res.Inputs {
			walkPlain(res.Name+"."+string(k), v, out)
		}
	}
	return out
}

func walkPlain(path string, v resource.PropertyValue, out map[string]string) {
	switch {
	case v.IsSecret():
		return
	case v.IsString():
		out[path] = v.StringValue()
	case v.IsArray():
		for i, e := range v.ArrayValue() {
			walkPlain(fmt.Sprintf("%s[%d]", path, i), e, out)
		}
	case v.IsObject():
		keys := v.ObjectValue().StableKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
		for _, k := range keys {
			walkPlain(path+"."+string(k), v.ObjectValue()[k], out)
		}
	case v.IsOutput():
		if o := v.OutputValue(); o.Known && !o.Secret {
			walkPlain(path, o.Element, out)
		}
	}
}

// Secret reports whether the property at key of res is secret (or a
// secret output).
func Secret(v resource.PropertyValue) bool {
	return v.IsSecret() || (v.IsOutput() && v.OutputValue().Secret)
}

// Unwrap returns the value inside a secret or output wrapper.
func Unwrap(v resource.PropertyValue) resource.PropertyValue {
	for {
		switch {
		case v.IsSecret():
			v = v.SecretValue().Element
		case v.IsOutput():
			v = v.OutputValue().Element
		default:
			return v
		}
	}
}

// Strings returns the array input at key as strings, unwrapping secrets.
func (res Resource) Strings(key string) []string {
	v := Unwrap(res.Inputs[resource.PropertyKey(key)])
	if !v.IsArray() {
		return nil
	}
	var out []string
	for _, e := range v.ArrayValue() {
		if e := Unwrap(e); e.IsString() {
			out = append(out, e.StringValue())
		}
	}
	return out
}

// String returns the string input at key, unwrapping secrets.
func (res Resource) String(key string) string {
	v := Unwrap(res.Inputs[resource.PropertyKey(key)])
	if v.IsString() {
		return v.StringValue()
	}
	return ""
}

// Objects returns the array-of-objects input at key, unwrapping secrets.
func (res Resource) Objects(key string) []resource.PropertyMap {
	v := Unwrap(res.Inputs[resource.PropertyKey(key)])
	if !v.IsArray() {
		return nil
	}
	var out []resource.PropertyMap
	for _, e := range v.ArrayValue() {
		if e := Unwrap(e); e.IsObject() {
			out = append(out, e.ObjectValue())
		}
	}
	return out
}

// Upload returns the content of the container upload to file, and whether
// the container has one.
func (res Resource) Upload(file string) (string, bool) {
	for _, u := range res.Objects("uploads") {
		if Unwrap(u["file"]).StringValue() == file {
			return Unwrap(u["content"]).StringValue(), true
		}
	}
	return "", false
}

// ProcessEnv returns the environment a Rocket.Chat server process of the
// recorded container sees: the container's envs, then the variables of the
// uploaded secrets file that the entrypoint wrapper exports. The file is read
// by a real sh with `set -a; .` exactly as the wrapper reads it, so quoting
// mistakes show up here. Later entries win, as in the process.
func (res Resource) ProcessEnv(t testing.TB, secretsFile string) []string {
	t.Helper()
	env := res.Strings("envs")
	content, ok := res.Upload(secretsFile)
	if !ok {
		t.Fatalf("%s: no upload %s", res.Name, secretsFile)
	}
	f := filepath.Join(t.TempDir(), "secrets.env")
	if err := os.WriteFile(f, []byte(content), 0o400); err != nil {
		t.Fatal(err)
	}
	// env -0 separates with NUL, so values with newlines survive.
	out, err := exec.Command("env", "-i", "sh", "-c", `set -a; . "$1"; set +a; exec env -u PWD -u SHLVL -u _ -0`, "sh", f).Output()
	if err != nil {
		t.Fatalf("%s: sh cannot read the secrets file: %v", res.Name, err)
	}
	for _, kv := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if kv != "" {
			env = append(env, kv)
		}
	}
	return env
}
