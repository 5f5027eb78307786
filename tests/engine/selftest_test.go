package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi/config"

	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// rollingProgram is a deliberately small program of the lab's own: three
// fixed-name, wait=true "mongod" containers on the default docker provider,
// optionally chained with DependsOn and optionally delete-before-replace.
// It exists to show that the lab's checks can fail.
func rollingProgram(chain, dbr bool) pulumi.RunFunc {
	return func(ctx *pulumi.Context) error {
		image := config.Require(ctx, "image")
		var prev pulumi.Resource
		for i := 1; i <= 3; i++ {
			name := fmt.Sprintf("lab-mongo-n%d", i)
			opts := []pulumi.ResourceOption{pulumi.DeleteBeforeReplace(dbr)}
			if chain && prev != nil {
				opts = append(opts, pulumi.DependsOn([]pulumi.Resource{prev}))
			}
			c, err := docker.NewContainer(ctx, name, &docker.ContainerArgs{
				Name:        pulumi.String(name),
				Image:       pulumi.String(image),
				NetworkMode: pulumi.String("bridge"),
				Wait:        pulumi.Bool(true),
				Healthcheck: docker.ContainerHealthcheckArgs{Tests: pulumi.ToStringArray([]string{"CMD", "true"})},
				Ports: docker.ContainerPortArray{docker.ContainerPortArgs{
					Internal: pulumi.Int(27016 + i), External: pulumi.Int(27016 + i), Ip: pulumi.String("172.17.0.1"),
				}},
			}, opts...)
			if err != nil {
				return err
			}
			prev = c
		}
		return nil
	}
}

// TestLabCatchesUnchainedRollout shows the invariant check is not vacuous:
// without the DependsOn chain the engine replaces every container at once
// and maxDown sees all three nodes down together.
func TestLabCatchesUnchainedRollout(t *testing.T) {
	l := newLab(t, "unchained", rollingProgram(false, true), "")
	l.noSecretChecks = true
	l.setConfig(t, map[string]any{"image": "mongo:7.0.16"}, nil)
	l.up(t, "up-v1")
	l.setConfig(t, map[string]any{"image": "mongo:7.0.17"}, nil)
	res := l.up(t, "up-v2")
	n, _, who := maxDown(res.events, "lab", roleMongo, nodeNames(3))
	if n < 2 {
		t.Errorf("without a DependsOn chain the lab saw at most %d node down (%v); it should see the engine replace them together\n%s",
			n, who, traceSummary(res.events))
	}
	if n, _, who := nodesDown(res.events, "lab", nodeNames(3), nil); n < 2 {
		t.Errorf("without a DependsOn chain nodesDown saw at most %d node down (%v)", n, who)
	}
}

// TestLabCatchesMissingDeleteBeforeReplace shows the simulated Docker host
// enforces unique container names: without delete-before-replace (and
// with the fake provider not volunteering it, as in every lab run) a
// replacement collides with the running container, as it would on Docker.
func TestLabCatchesMissingDeleteBeforeReplace(t *testing.T) {
	l := newLab(t, "nodbr", rollingProgram(true, false), "")
	l.noSecretChecks = true
	l.setConfig(t, map[string]any{"image": "mongo:7.0.16"}, nil)
	l.up(t, "up-v1")
	l.setConfig(t, map[string]any{"image": "mongo:7.0.17"}, nil)
	res, err := l.tryUp(t, "up-v2")
	if err == nil {
		t.Fatalf("replacing fixed-name containers create-before-delete succeeded; the lab should report a name conflict\n%s", traceSummary(res.events))
	}
	if i := first(res.events, func(e providers.Event) bool { return strings.Contains(e.Error, "is already in use") }); i < 0 {
		t.Errorf("update failed, but not with the simulated name conflict: %v\n%s", err, traceSummary(res.events))
	}
}
