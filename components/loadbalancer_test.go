package components_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
)

// outputsOf runs args under mocks and returns the component's url and
// loadBalancers outputs.
func outputsOf(t *testing.T, args *components.RocketChatHAArgs) (*mocktest.Recorder, string, []string) {
	t.Helper()
	type outs struct {
		url string
		lbs []string
	}
	got := make(chan outs, 1)
	rec, err := mocktest.Run(t, nil, nil, func(ctx *pulumi.Context) error {
		ha, err := components.NewRocketChatHA(ctx, "chat", args)
		if err != nil {
			return err
		}
		pulumi.All(ha.URL, ha.LoadBalancers).ApplyT(func(v []any) error {
			got <- outs{v[0].(string), v[1].([]string)}
			return nil
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The apply runs asynchronously; the program does not wait for it.
	select {
	case o := <-got:
		return rec, o.url, o.lbs
	case <-time.After(10 * time.Second):
		t.Fatal("the url and loadBalancers outputs never resolved")
		return nil, "", nil
	}
}

func TestLoadBalancerPlacementAndOutputs(t *testing.T) {
	cases := []struct {
		name    string
		lb      components.LoadBalancer
		n       int
		names   []string // load-balancer containers
		url     string
		outputs []string
	}{
		{"default: first three", components.LoadBalancer{}, 5,
			[]string{"chat-lb-rocket-1", "chat-lb-rocket-2", "chat-lb-rocket-3"}, "http://10.250.250.11",
			[]string{"10.250.250.11:80", "10.250.250.12:80", "10.250.250.13:80"}},
		{"default with two nodes", components.LoadBalancer{}, 2,
			[]string{"chat-lb-rocket-1", "chat-lb-rocket-2"}, "http://10.250.250.11", []string{"10.250.250.11:80", "10.250.250.12:80"}},
		{"explicit nodes and address", components.LoadBalancer{Nodes: []string{"rocket-4", "rocket-2"}, Address: "chat.example.com", HTTPPort: 8080}, 4,
			[]string{"chat-lb-rocket-4", "chat-lb-rocket-2"}, "http://chat.example.com:8080", []string{"10.250.250.14:8080", "10.250.250.12:8080"}},
		{"single node (older spelling)", components.LoadBalancer{Node: "rocket-2"}, 3,
			[]string{"chat-lb"}, "http://10.250.250.12", []string{"10.250.250.12:80"}},
		{"tls endpoints", components.LoadBalancer{Certificate: pulumi.String("C"), PrivateKey: pulumi.String("K")}, 3,
			[]string{"chat-lb-rocket-1", "chat-lb-rocket-2", "chat-lb-rocket-3"}, "https://10.250.250.11",
			[]string{"10.250.250.11:443", "10.250.250.12:443", "10.250.250.13:443"}},
		{"virtual ip", components.LoadBalancer{VirtualIP: "10.250.250.100", Interface: "eth0"}, 3,
			[]string{"chat-lb-rocket-1", "chat-lb-rocket-2", "chat-lb-rocket-3"}, "http://10.250.250.100",
			[]string{"10.250.250.11:80", "10.250.250.12:80", "10.250.250.13:80"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec, url, lbs := outputsOf(t, &components.RocketChatHAArgs{Nodes: testNodes(c.n), RootURL: pulumi.String("https://c.example.com"), LoadBalancer: c.lb})
			var got []string
			for _, r := range rec.ByType(tContainer) {
				if strings.HasPrefix(r.Name, "chat-lb") && !strings.HasSuffix(r.Name, "-keepalived") {
					got = append(got, r.Name)
				}
			}
			if !slices.Equal(got, c.names) {
				t.Errorf("load balancers %v, want %v", got, c.names)
			}
			if url != c.url {
				t.Errorf("url %q, want %q", url, c.url)
			}
			if !slices.Equal(lbs, c.outputs) {
				t.Errorf("loadBalancers %v, want %v", lbs, c.outputs)
			}
			for _, name := range got {
				node := strings.TrimPrefix(name, "chat-lb-")
				if name == "chat-lb" {
					node = c.lb.Node
				}
				prov := rec.URNOf(t, tProvider, "chat-docker-"+node)
				if p := rec.Named(t, tContainer, name).Req.GetProvider(); !strings.HasPrefix(p, prov+"::") {
					t.Errorf("%s runs on %q, want %s's provider", name, p, node)
				}
			}
		})
	}
}

// Switching between one load balancer and several keeps the first one's
// state: its resources carry the other layout's names as aliases, so the
// engine replaces it in place (delete first: no port conflict) instead of
// leaving an orphan beside a new one.
func TestLoadBalancerLayoutAliases(t *testing.T) {
	aliasNames := func(r mocktest.Resource) []string {
		var out []string
		for _, a := range r.Req.GetAliases() {
			if spec := a.GetSpec(); spec != nil {
				out = append(out, spec.GetName())
			}
		}
		return out
	}
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com")})
	for typ, name := range map[string]string{tContainer: "chat-lb-rocket-1", tImage: "chat-lb-rocket-1-image", tCommand: "chat-lb-rocket-1-config"} {
		want := strings.Replace(name, "chat-lb-rocket-1", "chat-lb", 1)
		if got := aliasNames(rec.Named(t, typ, name)); !slices.Equal(got, []string{want}) {
			t.Errorf("%s aliases %v, want [%s]", name, got, want)
		}
	}
	if got := aliasNames(rec.Named(t, tContainer, "chat-lb-rocket-2")); len(got) != 0 {
		t.Errorf("chat-lb-rocket-2 has aliases %v", got)
	}
	rec = mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
		LoadBalancer: components.LoadBalancer{Node: "rocket-1"}})
	if got := aliasNames(rec.Named(t, tContainer, "chat-lb")); !slices.Equal(got, []string{"chat-lb-rocket-1"}) {
		t.Errorf("single chat-lb aliases %v", got)
	}
}

func TestVirtualIPKeepalived(t *testing.T) {
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
		LoadBalancer: components.LoadBalancer{VirtualIP: "10.250.250.100/24", Interface: "ens3"}})
	if got := len(rec.ByType(tRandom)); got != 6 {
		t.Errorf("%d random passwords, want 6 (the VRRP password, monitoring's exporter password and the backup user's too)", got)
	}
	var prev string
	for i := 1; i <= 3; i++ {
		name := fmt.Sprintf("chat-lb-rocket-%d-keepalived", i)
		k := rec.Named(t, tContainer, name)
		if k.String("networkMode") != "host" {
			t.Errorf("%s: networkMode %q, want host", name, k.String("networkMode"))
		}
		caps := mocktest.Unwrap(k.Inputs["capabilities"]).ObjectValue()
		adds := mocktest.Resource{Inputs: caps}.Strings("adds")
		if !slices.Equal(adds, []string{"CAP_NET_ADMIN", "CAP_NET_BROADCAST", "CAP_NET_RAW"}) || !slices.Equal(mocktest.Resource{Inputs: caps}.Strings("drops"), []string{"ALL"}) {
			t.Errorf("%s: capabilities %v", name, caps)
		}
		if img := rec.Named(t, tImage, name+"-image").String("name"); img != components.DefaultKeepalivedImage {
			t.Errorf("%s: image %q", name, img)
		}
		ups := k.Objects("uploads")
		// The config and, with monitoring, the notify script.
		if len(ups) != 2 || !mocktest.Secret(ups[0]["content"]) || mocktest.Unwrap(ups[0]["permissions"]).StringValue() != "0400" {
			t.Fatalf("%s: uploads %v, want one secret 0400 config and the notify script", name, ups)
		}
		conf := mocktest.Unwrap(ups[0]["content"]).StringValue()
		self := fmt.Sprintf("10.250.250.%d", 10+i)
		for _, want := range []string{"unicast_src_ip " + self, "10.250.250.100/24 dev ens3", "interface ens3", "nopreempt",
			fmt.Sprintf("priority %d", 201-i), "http://127.0.0.1:80/nginx-health", "auth_pass "} {
			if !strings.Contains(conf, want) {
				t.Errorf("%s: config lacks %q", name, want)
			}
		}
		for j := 1; j <= 3; j++ {
			peer := fmt.Sprintf("\n        10.250.250.%d\n", 10+j)
			if has := strings.Contains(conf, peer); has != (j != i) {
				t.Errorf("%s: peer 10.250.250.%d listed: %v", name, 10+j, has)
			}
		}
		deps := k.Req.GetDependencies()
		if !slices.Contains(deps, rec.URNOf(t, tCommand, fmt.Sprintf("chat-lb-rocket-%d-config", i))) {
			t.Errorf("%s does not wait for its nginx", name)
		}
		if prev != "" && !slices.Contains(deps, prev) {
			t.Errorf("%s does not wait for the previous keepalived", name)
		}
		prev = k.URN
	}
}

func TestVirtualIPValidation(t *testing.T) {
	vip := func(lb components.LoadBalancer) components.LoadBalancer {
		if lb.Interface == "" {
			lb.Interface = "eth0"
		}
		return lb
	}
	cases := []struct {
		name string
		lb   components.LoadBalancer
		want string
	}{
		{"outside every network", vip(components.LoadBalancer{VirtualIP: "10.9.9.9"}), "LoadBalancer.VirtualIP: 10.9.9.9/24 is not inside the network of any load-balancer node"},
		{"a node's address", vip(components.LoadBalancer{VirtualIP: "10.250.250.12"}), "LoadBalancer.VirtualIP: 10.250.250.12 is the address of Nodes[rocket-2]"},
		{"interface missing", components.LoadBalancer{VirtualIP: "10.250.250.100"}, "LoadBalancer.Interface: is required with LoadBalancer.VirtualIP"},
		{"one load balancer", vip(components.LoadBalancer{VirtualIP: "10.250.250.100", Nodes: []string{"rocket-1"}}), "needs at least two load-balancer nodes"},
		{"separate host", vip(components.LoadBalancer{VirtualIP: "10.250.250.100", DockerHost: "unix:///var/run/lb.sock", Address: "lb"}), "not on LoadBalancer.DockerHost"},
		{"not ipv4", vip(components.LoadBalancer{VirtualIP: "fd00::1"}), `LoadBalancer.VirtualIP: "fd00::1" is not an IPv4 address`},
		{"router id", vip(components.LoadBalancer{VirtualIP: "10.250.250.100", VirtualRouterID: 300}), "LoadBalancer.VirtualRouterID: 300 is out of range"},
		{"interface without vip", components.LoadBalancer{Interface: "eth0"}, "LoadBalancer.Interface: is set without LoadBalancer.VirtualIP"},
		{"node and nodes", components.LoadBalancer{Node: "rocket-1", Nodes: []string{"rocket-2"}}, "set either Nodes or Node"},
		{"unknown lb node", components.LoadBalancer{Nodes: []string{"rocket-1", "rocket-9"}}, `LoadBalancer.Nodes[1]: "rocket-9" is not the name of any entry in Nodes`},
		{"repeated lb node", components.LoadBalancer{Nodes: []string{"rocket-1", "rocket-1"}}, `LoadBalancer.Nodes[1]: "rocket-1" repeats LoadBalancer.Nodes[0]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec, err := run(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"), LoadBalancer: c.lb})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant %q", err, c.want)
			}
			if len(rec.Resources) != 0 {
				t.Errorf("%d resources registered before the error", len(rec.Resources))
			}
		})
	}
}
