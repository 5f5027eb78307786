package engine

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/workspace"

	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// TestHostDown is what docs/operations.md tells an operator about a Docker
// host that does not answer, as a real run showed it: pulumi-docker pings
// the daemon when its provider is configured, so the engine cannot load
// that host's provider and every `up` fails, with or without a refresh and
// even when nothing of that host changes. It fails without touching any
// container, and converges once the host answers again. (Running the
// cluster's changes without the dead host is issue 12.)
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
	l.up(t, "up")

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
		for i, e := range res.events {
			if e.Type == providers.ContainerType && (e.Op == providers.OpDown || e.Op == providers.OpCreate || e.Op == providers.OpUpdate) {
				t.Errorf("%s touched a container: %s", c.name, describe(res.events, i))
			}
		}
	}

	if err := providers.SetHostDown(l.world, hostOf("n3"), false); err != nil {
		t.Fatal(err)
	}
	res := l.up(t, "up-n3-back", optup.Refresh())
	if first(res.events, func(e providers.Event) bool {
		return e.Op == providers.OpRun && strings.Contains(e.URN, "-lb-n1-config")
	}) < 0 {
		t.Errorf("the pending load-balancer change did not run once n3 was back:\n%s", traceSummary(res.events))
	}
	l.converged(t, "n3-back")
}
