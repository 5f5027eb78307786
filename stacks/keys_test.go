package stacks

import (
	"errors"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

func TestCheckKeys(t *testing.T) {
	err := CheckKeys([]string{"rocketchat-ha:nodes", "rocketchat-ha:replicaSetNme", "rocketchat-ha:rootURL",
		"rocketchat-ha:zzz", "docker:host", "rocketchat-ha:loadBalancer"})
	if err == nil {
		t.Fatal("accepted unknown keys")
	}
	for _, want := range []string{
		"replicaSetNme: unknown setting; did you mean replicaSetName?",
		"rootURL: unknown setting; did you mean rootUrl?",
		"zzz: unknown setting (remove it with `pulumi config rm zzz`)",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "docker:host") || strings.Contains(err.Error(), "nodes:") {
		t.Errorf("error names a valid or foreign key: %v", err)
	}
	if err := CheckKeys(append(prefixed(Keys), "aws:region")); err != nil {
		t.Errorf("every known key refused: %v", err)
	}
}

func prefixed(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = Namespace + ":" + k
	}
	return out
}

// The reflection that lists the config keys must keep working with the
// SDK in go.mod: under mocks it must see exactly the config given.
func TestConfigKeysSeesTheRunConfig(t *testing.T) {
	t.Setenv(pulumi.EnvConfig, `{"rocketchat-ha:nodes":"[]","other:key":"x"}`)
	t.Setenv(pulumi.EnvConfigSecretKeys, `[]`)
	var got []string
	err := pulumi.RunErr(func(ctx *pulumi.Context) error {
		keys, ok := reflectedConfigKeys(ctx)
		if !ok {
			return errors.New("the Pulumi SDK's context layout changed: reflectedConfigKeys cannot read the config")
		}
		got = keys
		return nil
	}, pulumi.WithMocks("rocketchat-ha", "dev", noMocks{}))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(got)
	if !slices.Equal(got, []string{"other:key", "rocketchat-ha:nodes"}) {
		t.Errorf("config keys %v", got)
	}
}

type noMocks struct{}

func (noMocks) NewResource(a pulumi.MockResourceArgs) (string, resource.PropertyMap, error) {
	return a.Name, a.Inputs, nil
}

func (noMocks) Call(a pulumi.MockCallArgs) (resource.PropertyMap, error) { return a.Args, nil }

func TestStackKey(t *testing.T) {
	for in, want := range map[string]string{
		"Nodes[1].Ports.RocketChat":      "nodes[1].ports.rocketchat",
		"WaitSeconds":                    "healthTimeoutSeconds",
		"LoadBalancer.TrustedProxies[2]": "loadBalancer.trustedProxies[2]",
		"LoadBalancer.HTTPSPort":         "loadBalancer.httpsPort",
		"DockerAPIVersion":               "dockerApiVersion",
	} {
		if got := StackKey(in); got != want {
			t.Errorf("StackKey(%q) = %q, want %q", in, got, want)
		}
	}
	err := stackErrors(errors.New(`Nodes[1].Name: "a" duplicates Nodes[0].Name`))
	if err.Error() != `nodes[1].name: "a" duplicates nodes[0].name` {
		t.Errorf("rewritten: %v", err)
	}
}
