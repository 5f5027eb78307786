package components_test

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
)

// fingerprints registers a component under mocks and returns its node
// fingerprints.
func fingerprints(t *testing.T, args *components.RocketChatHAArgs) map[string]string {
	t.Helper()
	got := make(chan map[string]string, 1)
	_, err := mocktest.Run(t, nil, nil, func(ctx *pulumi.Context) error {
		c, err := components.NewRocketChatHA(ctx, "chat", args)
		if err != nil {
			return err
		}
		components.Fingerprints(c).ApplyT(func(m map[string]string) error {
			got <- m
			return nil
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return <-got
}

// TestFingerprints checks the node fingerprints `rcha up --down` relies
// on: one per node, keyed hashes, and changing exactly when a change
// reaches that node's Docker host (the table in docs/runbooks.md).
func TestFingerprints(t *testing.T) {
	base := func() *components.RocketChatHAArgs {
		return &components.RocketChatHAArgs{
			Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
			MongoRootPassword: pulumi.String("root-1"), RocketPassword: pulumi.String("rocket-1"),
			LoadBalancer: components.LoadBalancer{Nodes: []string{"rocket-1", "rocket-2"}},
		}
	}
	was := fingerprints(t, base())
	hex := regexp.MustCompile(`^[0-9a-f]{64}$`)
	if len(was) != 3 {
		t.Fatalf("fingerprints %v, want one per node", was)
	}
	for n, fp := range was {
		if !hex.MatchString(fp) {
			t.Errorf("%s: fingerprint %q", n, fp)
		}
	}
	if fmt.Sprint(fingerprints(t, base())) != fmt.Sprint(was) {
		t.Error("the same args gave other fingerprints")
	}
	for _, c := range []struct {
		name    string
		change  func(a *components.RocketChatHAArgs)
		changed []string
	}{
		{"root password (replica-set steps only)", func(a *components.RocketChatHAArgs) { a.MongoRootPassword = pulumi.String("root-2") }, nil},
		{"rocket password (every MONGO_URL)", func(a *components.RocketChatHAArgs) { a.RocketPassword = pulumi.String("rocket-2") },
			[]string{"rocket-1", "rocket-2", "rocket-3"}},
		{"Rocket.Chat image", func(a *components.RocketChatHAArgs) {
			a.RocketChatImage = pulumi.String("registry.rocket.chat/rocketchat/rocket.chat:7.10.1")
		}, []string{"rocket-1", "rocket-2", "rocket-3"}},
		{"load balancer setting (on rocket-1 and rocket-2)", func(a *components.RocketChatHAArgs) { a.LoadBalancer.ClientMaxBodySize = "100M" },
			[]string{"rocket-1", "rocket-2"}},
		{"a fourth node (hosts entries, MONGO_URL)", func(a *components.RocketChatHAArgs) {
			a.Nodes = append(a.Nodes, components.Node{Name: "rocket-4", Address: "10.250.250.20"})
		}, []string{"rocket-1", "rocket-2", "rocket-3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			a := base()
			c.change(a)
			now := fingerprints(t, a)
			for _, n := range []string{"rocket-1", "rocket-2", "rocket-3"} {
				want := false
				for _, x := range c.changed {
					want = want || x == n
				}
				if got := now[n] != was[n]; got != want {
					t.Errorf("%s: fingerprint changed: %v, want %v", n, got, want)
				}
			}
		})
	}
}

// TestUnreachable checks what `rcha up --down` relies on: with a node
// unreachable, nothing is registered on its host, every other node is
// registered as before, and its fingerprint is the one it has when its host
// answers (so an unchanged config is recognised as unchanged).
func TestUnreachable(t *testing.T) {
	args := func(down ...string) *components.RocketChatHAArgs {
		return &components.RocketChatHAArgs{
			Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
			MongoRootPassword: pulumi.String("root-1"), RocketPassword: pulumi.String("rocket-1"),
			LoadBalancer: components.LoadBalancer{Nodes: []string{"rocket-1", "rocket-2"}, VirtualIP: "10.250.250.100/24", Interface: "eth0"},
			Unreachable:  down,
		}
	}
	all := mustRun(t, args())
	down := mustRun(t, args("rocket-2"))
	names := func(rec *mocktest.Recorder) map[string]bool {
		m := map[string]bool{}
		for _, r := range rec.Resources {
			m[r.Type+"::"+r.Name] = true
		}
		return m
	}
	a, d := names(all), names(down)
	for k := range a {
		onNode2 := regexp.MustCompile(`-rocket-2(-|$)`).MatchString(k)
		if onNode2 && d[k] {
			t.Errorf("%s is registered although rocket-2 is unreachable", k)
		}
		if !onNode2 && !d[k] {
			t.Errorf("%s is missing with rocket-2 unreachable", k)
		}
	}
	for k := range d {
		if !a[k] {
			t.Errorf("%s is registered only with rocket-2 unreachable", k)
		}
	}
	// The steps' and the other nodes' inputs do not change.
	for _, name := range []string{"chat-replicaset-prune", "chat-replicaset", "chat-lb-rocket-1-config"} {
		x, y := all.Named(t, tCommand, name), down.Named(t, tCommand, name)
		if fmt.Sprint(x.Inputs["environment"]) != fmt.Sprint(y.Inputs["environment"]) {
			t.Errorf("%s: environment differs with rocket-2 unreachable", name)
		}
	}
	if fmt.Sprint(fingerprints(t, args())) != fmt.Sprint(fingerprints(t, args("rocket-2"))) {
		t.Errorf("fingerprints differ with rocket-2 unreachable:\n%v\n%v", fingerprints(t, args()), fingerprints(t, args("rocket-2")))
	}
	for _, bad := range [][]string{{"rocket-9"}, {"rocket-1", "rocket-2", "rocket-3"}} {
		if _, err := run(t, args(bad...)); err == nil {
			t.Errorf("Unreachable %v was accepted", bad)
		}
	}
}
