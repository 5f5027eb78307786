package provider

import (
	"context"
	"encoding/json"
	"os"
	"reflect"
	"strings"
	"testing"

	p "github.com/pulumi/pulumi-go-provider"
	pschema "github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/nodeops"
)

func schemaOf(t *testing.T) pschema.PackageSpec {
	t.Helper()
	prov, err := New()
	if err != nil {
		t.Fatal(err)
	}
	spec, err := p.GetSchema(context.Background(), Name, Version, prov)
	if err != nil {
		t.Fatal(err)
	}
	return spec
}

// TestCommittedSchemaIsCurrent compares schema.json with the provider's
// schema (the same code as the binary's; tests/provider also compares the
// bytes `pulumi package get-schema` prints for the built binary).
func TestCommittedSchemaIsCurrent(t *testing.T) {
	got := schemaOf(t)
	raw, err := os.ReadFile("../../schema.json")
	if err != nil {
		t.Fatal(err)
	}
	var committed pschema.PackageSpec
	if err := json.Unmarshal(raw, &committed); err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(committed)
	if string(a) != string(b) {
		t.Fatal("schema.json is stale: run `make sdk` and commit schema.json and sdk/")
	}
}

// Every input and output is typed and described, the node list is plain
// down to its items, secrets are marked, and the internal output stays out.
func TestSchemaDescribesEverything(t *testing.T) {
	spec := schemaOf(t)
	if spec.PluginDownloadURL != "github://api.github.com/rocketchat-ha/rocketchat-ha" {
		t.Errorf("pluginDownloadURL = %q", spec.PluginDownloadURL)
	}
	r, ok := spec.Resources[components.TypeToken]
	if !ok || !r.IsComponent {
		t.Fatalf("no component %s in %v", components.TypeToken, spec.Resources)
	}
	if r.Description == "" {
		t.Error("the component has no description")
	}
	check := func(where string, props map[string]pschema.PropertySpec) {
		for name, prop := range props {
			if strings.TrimSpace(prop.Description) == "" {
				t.Errorf("%s.%s has no description", where, name)
			}
			if prop.Type == "" && prop.Ref == "" {
				t.Errorf("%s.%s has no type", where, name)
			}
		}
	}
	check("inputs", r.InputProperties)
	check("outputs", r.Properties)
	for tok, typ := range spec.Types {
		if typ.Description == "" {
			t.Errorf("type %s has no description", tok)
		}
		check(tok, typ.Properties)
	}
	nodes := r.InputProperties["nodes"]
	if !nodes.Plain || nodes.Items == nil || !nodes.Items.Plain || nodes.Items.Ref != "#/types/rocketchat-ha:index:Node" {
		t.Errorf("nodes is not a plain list of plain Node: %+v", nodes.TypeSpec)
	}
	if !spec.Types["rocketchat-ha:index:Node"].Properties["name"].Plain {
		t.Error("Node.name is not plain")
	}
	if r.InputProperties["rootUrl"].Plain {
		t.Error("rootUrl (a pulumi.StringInput) is plain")
	}
	for _, name := range []string{"mongoRootPassword", "rocketPassword", "oplogPassword", "license", "registrationToken"} {
		if !r.InputProperties[name].Secret {
			t.Errorf("input %s is not secret", name)
		}
	}
	for _, name := range []string{"ca", "cert", "key"} {
		if !spec.Types["rocketchat-ha:index:DockerTLS"].Properties[name].Secret {
			t.Errorf("DockerTLS.%s is not secret", name)
		}
	}
	for _, name := range []string{"certificate", "privateKey", "vrrpPassword"} {
		if !spec.Types["rocketchat-ha:index:LoadBalancer"].Properties[name].Secret {
			t.Errorf("LoadBalancer.%s is not secret", name)
		}
	}
	if !r.Properties["mongoUrl"].Secret {
		t.Error("output mongoUrl is not secret")
	}
	for _, name := range []string{"url", "loadBalancers", "mongoUrl", "members"} {
		if _, ok := r.Properties[name]; !ok {
			t.Errorf("output %s missing", name)
		}
	}
	if _, ok := r.Properties[nodeops.FingerprintsOutput]; ok {
		t.Errorf("internal output %s is in the schema", nodeops.FingerprintsOutput)
	}
}

// The provider passes on the internal output under the name rcha reads.
func TestFingerprintsOutputName(t *testing.T) {
	f, ok := reflect.TypeFor[RocketChatHA]().FieldByName("NodeFingerprints")
	if !ok || f.Tag.Get("pulumi") != nodeops.FingerprintsOutput || fingerprintsOutput != nodeops.FingerprintsOutput {
		t.Fatalf("the provider's fingerprints output is not %q", nodeops.FingerprintsOutput)
	}
}

// fill sets every leaf of v to a non-zero value (one element per slice, a
// value behind every pointer).
func fill(t *testing.T, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(t, v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				fill(t, v.Field(i))
			}
		}
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(t, v.Index(0))
	case reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		e := reflect.New(v.Type().Elem()).Elem()
		fill(t, e)
		v.SetMapIndex(reflect.ValueOf("k"), e)
	case reflect.String:
		v.SetString("x")
	case reflect.Int, reflect.Int32, reflect.Int64:
		v.SetInt(7)
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Float64:
		v.SetFloat(1.5)
	case reflect.Interface:
		if v.Type() == reflect.TypeFor[pulumi.StringInput]() {
			v.Set(reflect.ValueOf(pulumi.String("x")))
			return
		}
		t.Fatalf("fill: no value for %s", v.Type())
	default:
		t.Fatalf("fill: no value for %s", v.Type())
	}
}

// zeros lists the paths of zero leaves in v.
func zeros(v reflect.Value, path string, out *[]string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			*out = append(*out, path)
			return
		}
		if v.Kind() == reflect.Pointer {
			zeros(v.Elem(), path, out)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				zeros(v.Field(i), path+"."+f.Name, out)
			}
		}
	case reflect.Slice, reflect.Map:
		if v.Len() == 0 {
			*out = append(*out, path)
			return
		}
		if v.Kind() == reflect.Slice {
			zeros(v.Index(0), path+"[0]", out)
		}
	default:
		if v.IsZero() {
			*out = append(*out, path)
		}
	}
}

// Every field of the mirror reaches components.RocketChatHAArgs: a filled
// mirror converts to args with no zero leaf.
func TestConversionCarriesEveryField(t *testing.T) {
	var in RocketChatHAArgs
	fill(t, reflect.ValueOf(&in).Elem())
	out := in.toComponents()
	var zero []string
	zeros(reflect.ValueOf(out), "RocketChatHAArgs", &zero)
	// Fields tagged `pulumi:"-"` are Go only (rcha's one-shot settings):
	// they must stay zero.
	goOnly := map[string]bool{}
	for _, f := range reflect.VisibleFields(reflect.TypeFor[components.RocketChatHAArgs]()) {
		if f.Tag.Get("pulumi") == "-" {
			goOnly["RocketChatHAArgs."+f.Name] = true
		}
	}
	if len(goOnly) != 2 {
		t.Errorf("Go-only fields %v, want ForceReconfig and Unreachable", goOnly)
	}
	var missing []string
	for _, p := range zero {
		if !goOnly[p] {
			missing = append(missing, p)
		}
	}
	if len(missing) > 0 {
		t.Fatalf("the conversion loses %v", missing)
	}
	var nilArgs *LoadBalancer
	if got := nilArgs.toComponents(); !reflect.DeepEqual(got, components.LoadBalancer{}) {
		t.Fatalf("a nil LoadBalancer converts to %+v", got)
	}
}
