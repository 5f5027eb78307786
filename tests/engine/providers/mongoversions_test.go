package providers

import (
	"context"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// rsVersionStep runs a replica-set step over n1..n3 (all desired) whose
// RCHA_DESIRED targets MongoDB target with featureCompatibility fc (the
// prune and force steps carry none), and returns its run event and error.
func rsVersionStep(t *testing.T, p *commandProvider, mode, target, fc string) (Event, error) {
	t.Helper()
	var lines []string
	for _, n := range []string{"n1", "n2", "n3"} {
		lines = append(lines, n+" "+rsHost(n)+" rs-mongo-"+n+" 27017")
	}
	doc := `{"replicaSet":"rs0","members":[{"host":"n1:27017"},{"host":"n2:27017"},{"host":"n3:27017"}],` +
		`"mongoVersion":"` + target + `","mongoReleases":["4.4","5.0","6.0","7.0","8.0","8.2"]`
	if fc != "" {
		doc += `,"featureCompatibility":"` + fc + `"`
	}
	env := resource.PropertyMap{
		"RCHA_NODES":   resource.NewProperty(strings.Join(lines, "\n") + "\n"),
		"RCHA_MODE":    resource.NewProperty(mode),
		"RCHA_DESIRED": resource.MakeSecret(resource.NewProperty(doc + "}")),
	}
	before, _ := ReadTrace(p.trace.path)
	_, err := p.Create(context.Background(), plugin.CreateRequest{URN: urn(LocalCommandType, "rs-replicaset"), Type: LocalCommandType,
		Properties: resource.PropertyMap{"create": resource.NewProperty("script"), "environment": resource.NewProperty(env)}})
	after, rerr := ReadTrace(p.trace.path)
	if rerr != nil {
		t.Fatal(rerr)
	}
	for _, e := range after[len(before):] {
		if e.Op == OpRun {
			return e, err
		}
	}
	t.Fatalf("%s step recorded no run event", mode)
	return Event{}, err
}

// TestReplicaSetStepMongoVersions pins the command fake's model of the
// replica-set steps' MongoDB version rules (mongoversions.go): the full
// step that initiates the set sets FCV to the target; the prune step
// refuses a target past next(binary) of a running member, past next(FCV),
// or older than FCV, with exit status 1 and no write; the full step with
// auto raises FCV once every mongod runs the target, manual leaves it.
func TestReplicaSetStepMongoVersions(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("RCHA_LAB_WORLD", dir)
	t.Setenv("RCHA_LAB_TRACE", dir+"/trace.jsonl")
	p := newCommand()
	fcv := func() string { return ReplicaSetFCV(dir, "rs0") }
	run := func(n, image string) {
		t.Helper()
		if err := p.world.removeContainer(rsHost(n), "rs-mongo-"+n); err != nil {
			t.Fatal(err)
		}
		if _, err := p.world.runContainer(rsHost(n), containerRecord{Name: "rs-mongo-" + n, ImageName: image}); err != nil {
			t.Fatal(err)
		}
	}
	for _, n := range []string{"n1", "n2", "n3"} {
		run(n, "mongo:6.0.19")
	}
	if _, err := rsVersionStep(t, p, StepModeFull, "6.0", "auto"); err != nil || fcv() != "6.0" {
		t.Fatalf("initiating full step: err %v, FCV %q, want 6.0", err, fcv())
	}
	refused := func(what, mode, target string, want ...string) {
		t.Helper()
		members := strings.Join(ReplicaSetMembers(dir, "rs0"), ",")
		before := fcv()
		ev, err := rsVersionStep(t, p, mode, target, "")
		for _, s := range append([]string{"exit status 1", "refusing the " + mode + " step"}, want...) {
			if err == nil || !strings.Contains(err.Error(), s) || !strings.Contains(ev.Error, s) {
				t.Errorf("%s: error %v does not say %q", what, err, s)
			}
		}
		if ev.Through != "" || fcv() != before || strings.Join(ReplicaSetMembers(dir, "rs0"), ",") != members {
			t.Errorf("%s: a refused step ran through %q or wrote (FCV %q, members %v)", what, ev.Through, fcv(), ReplicaSetMembers(dir, "rs0"))
		}
	}
	allowed := func(what, mode, target, fc string) {
		t.Helper()
		if ev, err := rsVersionStep(t, p, mode, target, fc); err != nil || ev.Through != "n1" {
			t.Errorf("%s: through %q err %v, want allowed through n1", what, ev.Through, err)
		}
	}

	// 6.0 -> 8.0 skips 7.0 (rule 1, and rule 2 too); force alike.
	refused("6.0 -> 8.0", StepModePrune, "8.0", "n1 runs MongoDB 6.0", "target is 8.0", "upgrade to 7.0 first")
	refused("6.0 -> 8.0 forced", StepModeForce, "8.0", "upgrade to 7.0 first")
	// 6.0 -> 5.0 is older than FCV (rule 3).
	refused("6.0 -> 5.0", StepModePrune, "5.0", "featureCompatibilityVersion is 6.0", "target 5.0 is older")
	allowed("6.0 -> 7.0 prune", StepModePrune, "7.0", "")
	allowed("same release", StepModePrune, "6.0", "")

	// Roll to 7.0; the full step with manual leaves FCV, with auto raises it
	// only once every mongod runs 7.0.
	run("n1", "mongo:7.0.16")
	run("n2", "mongo:7.0.16")
	allowed("full auto mid-roll", StepModeFull, "7.0", "auto")
	if fcv() != "6.0" {
		t.Errorf("FCV %q after a full step with n3 still on 6.0, want 6.0", fcv())
	}
	run("n3", "mongo:7.0.16")
	allowed("full manual", StepModeFull, "7.0", "manual")
	if fcv() != "6.0" {
		t.Errorf("FCV %q after a manual full step, want 6.0", fcv())
	}
	// Every binary is 7.0 but FCV 6.0: 8.0 is past next(FCV) (rule 2).
	refused("7.0 -> 8.0 with FCV 6.0", StepModePrune, "8.0", "featureCompatibilityVersion is 6.0", "set it to 7.0")
	allowed("full auto", StepModeFull, "7.0", "auto")
	if fcv() != "7.0" {
		t.Errorf("FCV %q after an auto full step with every mongod on 7.0, want 7.0", fcv())
	}
	allowed("7.0 -> 8.0", StepModePrune, "8.0", "")
	// Back to 6.0 binaries is older than FCV 7.0 (rule 3).
	refused("7.0 -> 6.0", StepModePrune, "6.0", "featureCompatibilityVersion is 7.0", "target 6.0 is older")
	// An unknown target (an image tag without a version) is not checked.
	allowed("unknown target", StepModePrune, "", "")
}
