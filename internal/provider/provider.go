// Package provider is the RocketChatHA component provider: it serves
// rocketchat-ha:index:RocketChatHA to Pulumi programs in every language
// (cmd/pulumi-resource-rocketchat-ha). It is built with pulumi-go-provider's
// infer and constructs the component with the same
// components.NewRocketChatHA that Go programs call.
//
// The schema's types and descriptions come from package components through
// the generated types_gen.go (see gen/main.go): package components itself
// does not import pulumi-go-provider, so Go programs that embed it do not
// pull in the provider framework. See docs/providers.md.
package provider

//go:generate go run ./gen -components ../../components -o types_gen.go

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	p "github.com/pulumi/pulumi-go-provider"
	"github.com/pulumi/pulumi-go-provider/infer"
	pschema "github.com/pulumi/pulumi/pkg/v3/codegen/schema"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/components"
)

// Name is the Pulumi package name; the plugin binary is
// pulumi-resource-<Name>.
const Name = "rocketchat-ha"

// Version is the provider's version, in the schema and the SDKs. Release
// builds set it with -ldflags "-X …/internal/provider.Version=<version>";
// the committed schema.json and sdk/ are generated at this default.
var Version = "0.1.0"

// Repository is the project's source repository; PluginDownloadURL points
// the engine at its GitHub releases, whose assets are named
// pulumi-resource-rocketchat-ha-v<version>-<os>-<arch>.tar.gz.
const (
	Repository        = "https://github.com/rocketchat-ha/rocketchat-ha"
	PluginDownloadURL = "github://api.github.com/rocketchat-ha/rocketchat-ha"
)

// New returns the provider.
func New() (p.Provider, error) {
	prov, err := infer.NewProviderBuilder().
		WithDisplayName("Rocket.Chat HA").
		WithDescription("Rocket.Chat in high availability on any number of Docker hosts: a MongoDB replica set, one Rocket.Chat server per host, and nginx load balancers in front.").
		WithKeywords("rocketchat", "mongodb", "docker", "high-availability", "category/utility", "kind/component").
		WithHomepage(Repository).
		WithRepository(Repository).
		WithPublisher("rocketchat-ha").
		WithLicense("Apache-2.0").
		WithPluginDownloadURL(PluginDownloadURL).
		WithNamespace("rocketchat-ha").
		WithLanguageMap(languages()).
		WithComponents(infer.ComponentF(construct)).
		Build()
	if err != nil {
		return p.Provider{}, err
	}
	getSchema := prov.GetSchema
	prov.GetSchema = func(ctx context.Context, req p.GetSchemaRequest) (p.GetSchemaResponse, error) {
		resp, err := getSchema(ctx, req)
		if err != nil {
			return resp, err
		}
		resp.Schema, err = patchSchema(resp.Schema)
		return resp, err
	}
	return prov, nil
}

// Run serves the provider to the engine (the plugin's main).
func Run(ctx context.Context) error {
	prov, err := New()
	if err != nil {
		return err
	}
	return prov.Run(ctx, Name, Version)
}

// construct is the component's Construct: the same NewRocketChatHA as in
// Go programs, on the converted arguments.
func construct(ctx *pulumi.Context, name string, args RocketChatHAArgs, opts ...pulumi.ResourceOption) (*RocketChatHA, error) {
	in := args.toComponents()
	comp, err := components.NewRocketChatHA(ctx, name, &in, opts...)
	if err != nil {
		return nil, err
	}
	return wrap(comp), nil
}

// languages is the schema's language section: package names of the SDKs
// under sdk/.
func languages() map[string]any {
	return map[string]any{
		"nodejs": map[string]any{
			"packageName":          "@rocketchat-ha/rocketchat-ha",
			"respectSchemaVersion": true,
			"dependencies":         map[string]string{"@pulumi/pulumi": "^3.142.0"},
		},
		"python": map[string]any{
			"packageName":          "pulumi_rocketchat_ha",
			"respectSchemaVersion": true,
			"pyproject":            map[string]any{"enabled": true},
			"requires":             map[string]string{"pulumi": ">=3.142.0,<4.0.0"},
		},
		"csharp": map[string]any{
			// namespace RocketChat.HA, class RocketChat.HA.RocketChatHA (a
			// class may not share its name with an enclosing namespace).
			"rootNamespace":        "RocketChat",
			"namespaces":           map[string]string{Name: "HA"},
			"respectSchemaVersion": true,
			"packageReferences":    map[string]string{"Pulumi": "3.*"},
		},
		"go": map[string]any{
			// Go programs import package components directly; no Go SDK is
			// generated.
			"importBasePath": "github.com/rocketchat-ha/rocketchat-ha/components",
		},
	}
}

// patchSchema completes what infer's schema cannot express:
//
//   - plain Go fields (the node list above all, which decides how many
//     resources exist) are `plain: true`, down to the items of arrays, so
//     the SDKs take values, not Outputs, for them;
//   - the internal nodeFingerprints output is not part of the schema.
func patchSchema(in string) (string, error) {
	var spec pschema.PackageSpec
	if err := json.Unmarshal([]byte(in), &spec); err != nil {
		return "", fmt.Errorf("schema: %w", err)
	}
	for tok, props := range plainProperties {
		var target map[string]pschema.PropertySpec
		if r, ok := spec.Resources[tok]; ok {
			target = r.InputProperties
		} else if t, ok := spec.Types[tok]; ok {
			target = t.Properties
		} else {
			return "", fmt.Errorf("schema: no resource or type %s", tok)
		}
		for _, name := range props {
			prop, ok := target[name]
			if !ok {
				return "", fmt.Errorf("schema: %s has no property %s", tok, name)
			}
			markPlain(&prop.TypeSpec)
			target[name] = prop
		}
	}
	r := spec.Resources[componentToken]
	delete(r.Properties, fingerprintsOutput)
	r.Required = slices.DeleteFunc(r.Required, func(s string) bool { return s == fingerprintsOutput })
	// Outputs are never plain (infer marks the elements of output arrays).
	for name, prop := range r.Properties {
		clearPlain(&prop.TypeSpec)
		r.Properties[name] = prop
	}
	spec.Resources[componentToken] = r
	out, err := json.MarshalIndent(spec, "", "    ")
	if err != nil {
		return "", err
	}
	return string(out) + "\n", nil
}

func clearPlain(t *pschema.TypeSpec) {
	t.Plain = false
	if t.Items != nil {
		clearPlain(t.Items)
	}
	if t.AdditionalProperties != nil {
		clearPlain(t.AdditionalProperties)
	}
}

func markPlain(t *pschema.TypeSpec) {
	t.Plain = true
	if t.Items != nil {
		markPlain(t.Items)
	}
	if t.AdditionalProperties != nil {
		markPlain(t.AdditionalProperties)
	}
}

const (
	componentToken     = components.TypeToken
	fingerprintsOutput = "nodeFingerprints"
)

// convertSlice converts a slice of mirror structs to the components type.
func convertSlice[M any, C any](in []M, conv func(*M) C) []C {
	if in == nil {
		return nil
	}
	out := make([]C, len(in))
	for i := range in {
		out[i] = conv(&in[i])
	}
	return out
}
