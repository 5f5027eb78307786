package components_test

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
)

// Facts about pulumi-docker 4.11.2 (terraform-provider-docker 3.9.0,
// internal/provider/resource_docker_container*.go) that decide whether a
// second `pulumi up` sees a difference between what the program writes and
// what the provider read back from the daemon:
//   - healthcheck durations are read back as time.Duration.String();
//   - ports are read back sorted by internal port, with ip "0.0.0.0" when
//     unset;
//   - extra hosts are stored as "name:ip" and split on ':' when read back;
//   - upload permissions must match ^0[0-7]{3}$;
//   - a healthcheck start interval needs Docker Engine API 1.44.
var uploadMode = regexp.MustCompile(`^0[0-7]{3}$`)

// readBackCases are configurations that together set every optional input.
func readBackCases() map[string]*components.RocketChatHAArgs {
	tlsArgs := func() *components.RocketChatHAArgs {
		a := &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com")}
		a.LoadBalancer.Certificate = pulumi.String("-----BEGIN CERTIFICATE-----")
		a.LoadBalancer.PrivateKey = pulumi.String("-----BEGIN PRIVATE KEY-----")
		a.OplogPassword = pulumi.String("oplog")
		a.License = pulumi.String("lic")
		a.RegistrationToken = pulumi.String("tok")
		return a
	}
	lowInstance := testNodes(2)
	lowInstance[1].Ports = components.Ports{Mongo: 27018, RocketChat: 3001, Instance: 2000}
	api144 := tlsArgs()
	api144.DockerAPIVersion = "1.44"
	return map[string]*components.RocketChatHAArgs{
		"defaults, 1 node":         {Nodes: testNodes(1), RootURL: pulumi.String("https://c.example.com")},
		"defaults, 5 nodes":        {Nodes: testNodes(5), RootURL: pulumi.String("https://c.example.com")},
		"tls and every secret":     tlsArgs(),
		"instance port below 3000": {Nodes: lowInstance, RootURL: pulumi.String("http://c.example.com")},
		"docker API 1.44":          api144,
		"virtual ip": {Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
			LoadBalancer: components.LoadBalancer{VirtualIP: "10.250.250.100", Interface: "eth0"}},
		"monitoring stack": {Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
			Monitoring: components.MonitoringArgs{Node: "rocket-1", Alertmanager: "route:\n  receiver: a\nreceivers:\n  - name: a\n"}},
		"separate load balancer host": {Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"), LoadBalancer: components.LoadBalancer{DockerHost: "unix:///var/run/lb.sock", Address: "lb.example.com"}},
	}
}

func TestInputsInReadBackForm(t *testing.T) {
	for name, args := range readBackCases() {
		t.Run(name, func(t *testing.T) {
			rec := mustRun(t, args)
			api144 := args.DockerAPIVersion == "1.44"
			containers := rec.ByType(tContainer)
			if len(containers) == 0 {
				t.Fatal("no containers")
			}
			for _, c := range containers {
				checkContainerReadBack(t, c, api144)
			}
			for _, v := range rec.ByType(tVolume) {
				if v.String("name") == "" {
					t.Errorf("%s: volume without an explicit name (the provider would autoname it)", v.Name)
				}
				if _, set := v.Inputs["driver"]; set {
					t.Errorf("%s: driver set; the provider reads back \"local\"", v.Name)
				}
			}
			for _, img := range rec.ByType(tImage) {
				if n := img.String("name"); n == "" || !strings.Contains(n, ":") {
					t.Errorf("%s: image name %q is not pinned by tag", img.Name, n)
				}
			}
			for _, cmd := range rec.ByType(tCommand) {
				env := mocktest.Unwrap(cmd.Inputs["environment"])
				if !env.IsObject() {
					t.Errorf("%s: environment is %s, not a map", cmd.Name, env.TypeString())
					continue
				}
				for k, v := range env.ObjectValue() {
					if !mocktest.Unwrap(v).IsString() {
						t.Errorf("%s: environment %s is %s, not a string", cmd.Name, k, mocktest.Unwrap(v).TypeString())
					}
				}
			}
		})
	}
}

func checkContainerReadBack(t *testing.T, c mocktest.Resource, api144 bool) {
	t.Helper()
	hc := mocktest.Unwrap(c.Inputs["healthcheck"])
	if !hc.IsObject() {
		t.Errorf("%s: no healthcheck", c.Name)
		return
	}
	h := hc.ObjectValue()
	for _, k := range []resource.PropertyKey{"interval", "timeout", "startPeriod", "startInterval"} {
		v, set := h[k]
		if !set {
			continue
		}
		s := mocktest.Unwrap(v).StringValue()
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Errorf("%s: healthcheck.%s %q is not a duration: %v", c.Name, k, s, err)
		} else if d.String() != s {
			t.Errorf("%s: healthcheck.%s is %q; the provider reads it back as %q, so every up would replace the container", c.Name, k, s, d.String())
		}
	}
	if _, set := h["startInterval"]; set && !api144 {
		t.Errorf("%s: healthcheck.startInterval set, which Docker Engine API 1.41 (Docker 20.10) refuses", c.Name)
	}
	// The exporters' healthcheck is explicitly NONE (scratch images).
	none := slices.Equal(mocktest.Resource{Inputs: h}.Strings("tests"), []string{"NONE"})
	if _, set := h["startInterval"]; !set && api144 && !strings.HasPrefix(c.Name, "chat-lb") && !none {
		t.Errorf("%s: API 1.44 allowed, but no healthcheck.startInterval", c.Name)
	}

	var internal []float64
	for _, p := range c.Objects("ports") {
		internal = append(internal, p["internal"].NumberValue())
		if mocktest.Unwrap(p["ip"]).StringValue() == "" {
			t.Errorf("%s: a port without an explicit ip (read back as 0.0.0.0)", c.Name)
		}
	}
	if !slices.IsSorted(internal) {
		t.Errorf("%s: ports %v not sorted by internal port, the order the provider reads them back", c.Name, internal)
	}
	for _, h := range c.Objects("hosts") {
		if ip := mocktest.Unwrap(h["ip"]).StringValue(); strings.Contains(ip, ":") {
			t.Errorf("%s: hosts entry with IPv6 %q cannot be read back", c.Name, ip)
		}
	}
	for _, key := range []string{"entrypoints", "command"} {
		for i, s := range c.Strings(key) {
			if s == "" {
				t.Errorf("%s: %s[%d] is empty (the provider refuses it)", c.Name, key, i)
			}
		}
	}
	for _, u := range c.Objects("uploads") {
		file := mocktest.Unwrap(u["file"]).StringValue()
		mode := mocktest.Unwrap(u["permissions"])
		if !mode.IsString() || !uploadMode.MatchString(mode.StringValue()) {
			t.Errorf("%s: upload %s has permissions %v; want an explicit ^0[0-7]{3}$ mode (default 0644 is world-readable)", c.Name, file, mode)
			continue
		}
		if mocktest.Secret(u["content"]) && mode.StringValue() != "0400" {
			t.Errorf("%s: upload %s holds a secret with mode %s, want 0400", c.Name, file, mode.StringValue())
		}
	}
	if caps := mocktest.Unwrap(c.Inputs["capabilities"]); caps.IsObject() {
		r := mocktest.Resource{Inputs: caps.ObjectValue()}
		for _, list := range []string{"adds", "drops"} {
			for _, cp := range r.Strings(list) {
				if cp != "ALL" && !strings.HasPrefix(cp, "CAP_") {
					t.Errorf("%s: capabilities.%s %q; the daemon reports it as CAP_%s", c.Name, list, cp, cp)
				}
			}
		}
	}
	if c.String("networkMode") != "bridge" && !(strings.HasSuffix(c.Name, "-keepalived") && c.String("networkMode") == "host") {
		t.Errorf("%s: networkMode %q, want an explicit bridge (pulumi-docker #1272)", c.Name, c.String("networkMode"))
	}
}

func TestDockerAPIVersionValidation(t *testing.T) {
	for _, c := range []struct{ version, want string }{
		{"1.40", `DockerAPIVersion: "1.40" is older than the oldest supported Docker Engine API, 1.41`},
		{"2.0", `DockerAPIVersion: "2.0" is not a Docker Engine API version`},
		{"25", `DockerAPIVersion: "25" is not a Docker Engine API version`},
		{"v1.44", `DockerAPIVersion: "v1.44" is not a Docker Engine API version`},
	} {
		t.Run(c.version, func(t *testing.T) {
			rec, err := run(t, &components.RocketChatHAArgs{Nodes: testNodes(1), RootURL: pulumi.String("https://c.example.com"), DockerAPIVersion: c.version})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want %q", err, c.want)
			}
			if len(rec.Resources) != 0 {
				t.Errorf("%d resources registered before the error", len(rec.Resources))
			}
		})
	}
	for _, ok := range []string{"1.41", "1.43", "1.44", "1.51"} {
		if _, err := run(t, &components.RocketChatHAArgs{Nodes: testNodes(1), RootURL: pulumi.String("https://c.example.com"), DockerAPIVersion: ok}); err != nil {
			t.Errorf("%s refused: %v", ok, err)
		}
	}
}

func TestIPv6NodeAddressRefused(t *testing.T) {
	nodes := testNodes(2)
	nodes[1].Address = "fd00::12"
	_, err := run(t, &components.RocketChatHAArgs{Nodes: nodes, RootURL: pulumi.String("https://c.example.com")})
	if err == nil || !strings.Contains(err.Error(), `Nodes[1].Address: "fd00::12" is an IPv6 address`) {
		t.Fatalf("error %v", err)
	}
}

func TestKeyfileUploadNotWorldReadable(t *testing.T) {
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com")})
	for i := 1; i <= 3; i++ {
		m := rec.Named(t, tContainer, fmt.Sprintf("chat-mongo-rocket-%d", i))
		ups := m.Objects("uploads")
		if len(ups) != 2 || mocktest.Unwrap(ups[0]["file"]).StringValue() != "/etc/rocketchat-ha/keyfile" ||
			mocktest.Unwrap(ups[0]["permissions"]).StringValue() != "0400" {
			t.Errorf("%s: keyfile upload %v, want mode 0400", m.Name, ups)
		}
		if mocktest.Unwrap(ups[1]["permissions"]).StringValue() != "0444" {
			t.Errorf("%s: apply-hosts script upload %v, want mode 0444", m.Name, ups[1])
		}
	}
}
