package engine

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	"github.com/rocketchat-ha/rocketchat-ha/internal/nodeops"
	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// TestHostDown is what docs/operations.md tells an operator about a Docker
// host that does not answer, as a real run showed it: pulumi-docker pings
// the daemon when its provider is configured, so the engine cannot load
// that host's provider and every plain `up` fails, with or without a
// refresh and even when nothing of that host changes. It fails before
// anything anywhere changes: no container is touched and no command step
// runs (the replica-set prune step, which everything else waits for,
// waits for every node's provider). The same change then goes through
// nodeops.Down (`rcha up --down n3`), here with a refresh: the refresh
// skips the excluded resources, the load balancers on n1 and n2 get the
// change, nothing reaches n3's host, and once n3 answers again the stack
// converges with nothing left to do. (Issue 12; the scenarios of
// nodeops_test.go go further.)
func TestHostDown(t *testing.T) {
	// Without `refresh: always`, so that the up without refresh is a plain
	// up and optup.Refresh() the refreshing one.
	l := newLabWith(t, "down", labProgram, repoProject, func(p *workspace.Project) {
		if p.Options != nil {
			p.Options.Refresh = ""
		}
	})
	secrets := map[string]string{"mongoRootPassword": password("root-pw-"), "rocketPassword": password("rocket-pw-")}
	lb := map[string]any{"nodes": []string{"n1", "n2"}}
	l.setConfig(t, multiHostConfig(3, lb), secrets)
	res := l.up(t, "up")
	cluster := clusterOf(t, res.events)
	n3 := l.nodeURNs(t, "n3")

	if err := providers.SetHostDown(l.world, hostOf("n3"), true); err != nil {
		t.Fatal(err)
	}
	// A change that touches nothing on n3: an nginx setting of the load
	// balancers on n1 and n2.
	lb["clientMaxBodySize"] = "100M"
	l.setConfig(t, multiHostConfig(3, lb), secrets)
	const want = "docker native provider returned an unexpected error from Configure: failed to connect to any docker daemon"
	for _, c := range []struct {
		name string
		opts []optup.Option
	}{{"up-refresh-n3-down", []optup.Option{optup.Refresh()}}, {"up-no-refresh-n3-down", nil}} {
		res, err := l.tryUp(t, c.name, c.opts...)
		if err == nil {
			t.Errorf("%s succeeded although n3's Docker host does not answer", c.name)
			continue
		}
		if !strings.Contains(err.Error(), want) && !strings.Contains(res.log, want) {
			t.Errorf("%s: the failure does not say %q:\n%s", c.name, want, tail(res.log, 30))
		}
		if !strings.Contains(err.Error()+res.log, cluster+"-docker-n3") {
			t.Errorf("%s: the failure does not name n3's provider %s-docker-n3:\n%s", c.name, cluster, tail(res.log, 30))
		}
		for i, e := range res.events {
			if e.Type == providers.ContainerType && (e.Op == providers.OpDown || e.Op == providers.OpCreate || e.Op == providers.OpUpdate) {
				t.Errorf("%s touched a container: %s", c.name, describe(res.events, i))
			}
			if e.Op == providers.OpRun {
				t.Errorf("%s ran a command step before failing: %s", c.name, describe(res.events, i))
			}
		}
	}

	e := l.engine(t, "down-n3")
	e.refresh = true
	if err := nodeops.Down(l.ctx, e, nodeops.Request{Nodes: []string{"n3"}, Config: nodeNames(3)}); err != nil {
		t.Fatalf("nodeops.Down n3 with a refresh: %s", explainDown(err, cluster, "n3"))
	}
	res = e.mustUp(t)
	for _, n := range []string{"n1", "n2"} {
		if first(res.events, func(e providers.Event) bool {
			return lbConfigRun(e) && strings.HasSuffix(e.URN, "::"+cluster+"-lb-"+n+"-config")
		}) < 0 {
			t.Errorf("%s: the load balancer on %s did not get the change\n%s", res.name, n, traceSummary(res.events))
		}
	}
	// The refresh did read the other nodes' containers, and none of n3's.
	if first(res.events, func(e providers.Event) bool {
		return e.Op == providers.OpRead && e.Type == providers.ContainerType && e.Host == hostOf("n1")
	}) < 0 {
		t.Errorf("%s: the update with --refresh read no container on n1: the refresh did not run\n%s", res.name, traceSummary(res.events))
	}
	for _, op := range e.ops {
		noTouch(t, op.res, "n3", n3)
	}
	if d := replaced(res.events); len(d) > 0 {
		t.Errorf("%s: an nginx setting restarted %v", res.name, d)
	}

	if err := providers.SetHostDown(l.world, hostOf("n3"), false); err != nil {
		t.Fatal(err)
	}
	noChanges(t, l.up(t, "up-n3-back", optup.Refresh()))
	l.converged(t, "n3-back")
}
