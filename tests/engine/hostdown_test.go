package engine

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// TestHostDown is what docs/operations.md tells an operator about a Docker
// host that does not answer: an `up` that refreshes first fails at the
// refresh (pulumi-docker cannot read that host) without touching any
// container, and the same change without the refresh succeeds when it
// touches nothing on that host. Here n3's host dies; the change is an nginx
// setting of the load balancers on n1 and n2.
func TestHostDown(t *testing.T) {
	// The project without `refresh: always`, so that a plain up is the
	// documented `--refresh=false`, and optup.Refresh() the default.
	l := newLabWith(t, "down", labProgram, repoProject, func(p *workspace.Project) {
		if p.Options != nil {
			p.Options.Refresh = ""
		}
	})
	secrets := map[string]string{"mongoRootPassword": password("root-pw-"), "rocketPassword": password("rocket-pw-")}
	lb := map[string]any{"nodes": []string{"n1", "n2"}}
	l.setConfig(t, multiHostConfig(3, lb), secrets)
	cluster := clusterOf(t, l.up(t, "up").events)

	if err := providers.SetHostDown(l.world, hostOf("n3"), true); err != nil {
		t.Fatal(err)
	}
	lb["clientMaxBodySize"] = "100M"
	l.setConfig(t, multiHostConfig(3, lb), secrets)
	res, err := l.tryUp(t, "up-refresh-n3-down", optup.Refresh())
	want := "Cannot connect to the Docker daemon at " + hostOf("n3") + ". Is the docker daemon running?"
	if err == nil {
		t.Fatal("a refreshing up succeeded although n3's Docker host does not answer")
	}
	if !strings.Contains(err.Error(), want) && !strings.Contains(res.log, want) {
		t.Errorf("the failure does not say %q:\n%s", want, tail(res.log, 30))
	}
	for i, e := range res.events {
		if e.Type == providers.ContainerType && (e.Op == providers.OpDown || e.Op == providers.OpCreate) {
			t.Errorf("the failed refresh touched a container: %s", describe(res.events, i))
		}
	}

	res = l.up(t, "up-no-refresh-n3-down")
	for i, e := range res.events {
		if e.Host == hostOf("n3") && e.Op != providers.OpDiff {
			t.Errorf("a change that touches nothing on n3 called its host: %s", describe(res.events, i))
		}
	}
	for _, n := range []string{"n1", "n2"} {
		if first(res.events, func(e providers.Event) bool {
			return e.Op == providers.OpRun && strings.HasSuffix(e.URN, cluster+"-lb-"+n+"-config")
		}) < 0 {
			t.Errorf("the load balancer on %s was not reconfigured:\n%s", n, traceSummary(res.events))
		}
	}
	checkHA(t, res, cluster, nodeNames(3))

	if err := providers.SetHostDown(l.world, hostOf("n3"), false); err != nil {
		t.Fatal(err)
	}
	noChanges(t, l.up(t, "up-refresh-n3-back", optup.Refresh()))
}
