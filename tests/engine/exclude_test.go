package engine

import (
	"strings"
	"testing"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// Two simulated Docker hosts for the engine's --exclude behaviour.
const (
	exclHostA = "unix:///var/run/docker-excl-a.sock"
	exclHostB = "unix:///var/run/docker-excl-b.sock"
)

// twoHostProgram is a small program of the lab's own: one explicit docker
// provider per host (pa, pb), one container on each (lab-a, lab-b, lab-b
// after lab-a), and, when the config says skipB, nothing of host B
// registered at all.
func twoHostProgram(ctx *pulumi.Context) error {
	env := config.Get(ctx, "env")
	var prev []pulumi.Resource
	for _, h := range []struct{ name, host string }{{"a", exclHostA}, {"b", exclHostB}} {
		if h.name == "b" && config.GetBool(ctx, "skipB") {
			continue
		}
		p, err := docker.NewProvider(ctx, "p"+h.name, &docker.ProviderArgs{Host: pulumi.String(h.host)})
		if err != nil {
			return err
		}
		c, err := docker.NewContainer(ctx, "lab-"+h.name, &docker.ContainerArgs{
			Name:        pulumi.String("lab-" + h.name),
			Image:       pulumi.String("mongo:7.0.16"),
			NetworkMode: pulumi.String("bridge"),
			Envs:        pulumi.ToStringArray([]string{"E=" + env}),
		}, pulumi.Provider(p), pulumi.DependsOn(prev), pulumi.DeleteBeforeReplace(true))
		if err != nil {
			return err
		}
		prev = []pulumi.Resource{c}
	}
	return nil
}

// TestExcludeWithHostDown pins what Pulumi v3.276's engine does with
// --exclude while a Docker host does not answer (what nodeops relies on):
//
//   - An explicit provider is always part of the operation, excluded or
//     not (step_generator.go: providers are "implicitly targeted"): while
//     the program registers it, its Same step configures it, pulumi-docker's
//     Configure fails on the dead host, and the preview and the update fail,
//     even though every resource of that host is excluded.
//   - A refresh (`up --refresh`, or the project's `refresh: always`) skips
//     the excluded resources: the failure above is the provider's Configure,
//     not a Read.
//   - When the program does not register the host's provider and resources
//     at all, excluding them keeps them in the state untouched, and their
//     provider is never loaded: the update (with refresh) succeeds without
//     contacting the host. This is how nodeops.Retire works, and what
//     `rcha up --down` needs from the program.
func TestExcludeWithHostDown(t *testing.T) {
	l := newLab(t, "exclude", twoHostProgram, "")
	l.noSecretChecks = true
	l.setConfig(t, map[string]any{"env": "1"}, nil)
	l.up(t, "up")
	d, _ := l.export(t)
	var bURNs []string
	for _, r := range d.Resources {
		if name := string(r.URN.Name()); name == "pb" || name == "lab-b" {
			bURNs = append(bURNs, string(r.URN))
		}
	}
	if len(bURNs) != 2 {
		t.Fatalf("want host B's provider and container in the state, found %v", bURNs)
	}
	if err := providers.SetHostDown(l.world, exclHostB, true); err != nil {
		t.Fatal(err)
	}
	l.setConfig(t, map[string]any{"env": "2"}, nil)

	const configureErr = "docker native provider returned an unexpected error from Configure: failed to connect to any docker daemon"
	res, err := l.tryUp(t, "up-exclude-b-registered", optup.Exclude(bURNs), optup.Refresh())
	if err == nil || !strings.Contains(err.Error()+res.log, configureErr) || !strings.Contains(err.Error()+res.log, "bad provider state for resource") {
		t.Errorf("up --exclude of host B's resources, with B's provider still in the program: %v; want the engine to configure the excluded provider and fail\n%s",
			err, tail(res.log, 20))
	}
	if len(configures(res.events, exclHostB)) == 0 {
		t.Errorf("the engine did not configure host B's excluded provider:\n%s", traceSummary(res.events))
	}
	for i, e := range res.events {
		if e.Host == exclHostB && e.Op != providers.OpConfigure {
			t.Errorf("the refresh or update reached an excluded resource on host B: %s", describe(res.events, i))
		}
	}
	_, err = l.stack.Preview(l.ctx, optpreview.Exclude(bURNs))
	if err == nil || !strings.Contains(err.Error(), configureErr) {
		t.Errorf("preview --exclude with B's provider in the program: %v; want the same configure failure", err)
	}

	// The failed update may already have replaced lab-a: the engine runs
	// host A's steps while host B's provider fails to configure, and which
	// comes first is a race.
	replacedBefore := first(res.events, named("lab-a", exclHostA, providers.OpCreate)) >= 0
	l.setConfig(t, map[string]any{"env": "2", "skipB": "true"}, nil)
	res = l.up(t, "up-exclude-b-unregistered", optup.Exclude(bURNs), optup.Refresh())
	if i := first(res.events, named("lab-a", exclHostA, providers.OpCreate)); i < 0 && !replacedBefore {
		t.Errorf("lab-a was not replaced with its new environment:\n%s", traceSummary(res.events))
	}
	for i, e := range res.events {
		if e.Host == exclHostB || contains(bURNs, e.URN) {
			t.Errorf("the update without B's resources reached host B: %s", describe(res.events, i))
		}
	}
	after := l.stateURNs(t)
	for _, u := range bURNs {
		if !after[u] {
			t.Errorf("excluding %s, which the program no longer registers, dropped it from the state", u)
		}
	}

	if err := providers.SetHostDown(l.world, exclHostB, false); err != nil {
		t.Fatal(err)
	}
	l.setConfig(t, map[string]any{"env": "2"}, nil)
	res = l.up(t, "up-b-back")
	if i := first(res.events, named("lab-b", exclHostB, providers.OpCreate)); i < 0 {
		t.Errorf("host B's container was not brought up to date once B answered:\n%s", traceSummary(res.events))
	}
	l.converged(t, "b-back")
}
