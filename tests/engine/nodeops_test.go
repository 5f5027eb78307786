package engine

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optpreview"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/optup"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/nodeops"
	"github.com/rocketchat-ha/rocketchat-ha/stacks"
	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// labEngine is nodeops.Engine on the lab's stack: the same Automation API
// calls rcha makes (cmd/rcha/internal/cli/nodes.go: Stack.Export and
// Import; Preview and Up with --exclude, with the program's one-shot
// variant stacks.OneShot for that operation, refreshing as rcha does by
// default),
// each recorded like every other lab operation (its own trace, engine
// output and event stream), so that the lab runs exactly what
// `rcha up --down` and `rcha retire` run.
type labEngine struct {
	l    *lab
	t    *testing.T
	name string
	// refresh runs the previews and updates with --refresh, as rcha does
	// unless given --refresh=false (and Pulumi.yaml asks for anyway).
	refresh bool
	ops     []engineOp
}

// engineOp is one preview or update nodeops ran.
type engineOp struct {
	kind    string // "preview" or "up"
	exclude []string
	once    nodeops.OneShot
	res     opResult
	err     error
}

func (l *lab) engine(t *testing.T, name string) *labEngine {
	return &labEngine{l: l, t: t, name: name, refresh: true}
}

func (e *labEngine) Export(ctx context.Context) (apitype.UntypedDeployment, error) {
	return e.l.stack.Export(ctx)
}

func (e *labEngine) Import(ctx context.Context, d apitype.UntypedDeployment) error {
	return e.l.stack.Import(ctx, d)
}

// use points the stack at the program with the one-shot requests o and
// sets the refresh flag for the next operation; the returned function
// restores the lab's program and flags.
func (e *labEngine) use(o nodeops.OneShot) func() {
	ws := e.l.stack.Workspace()
	ws.SetProgram(stacks.OneShot{Unreachable: o.Unreachable, ForceReconfig: o.ForceReconfig}.Program)
	if !e.refresh {
		e.l.cli.setExtra("up", "--refresh=false")
		e.l.cli.setExtra("preview", "--refresh=false")
	}
	return func() {
		ws.SetProgram(e.l.program)
		e.l.cli.setExtra("up")
		e.l.cli.setExtra("preview")
	}
}

func (e *labEngine) Preview(ctx context.Context, exclude []string, o nodeops.OneShot) ([]events.EngineEvent, error) {
	t, l := e.t, e.l
	t.Helper()
	defer e.use(o)()
	name := fmt.Sprintf("%s-preview-%d", e.name, len(e.ops)+1)
	path := l.begin(t, name)
	var log bytes.Buffer
	sink := newEventSink()
	opts := []optpreview.Option{optpreview.Exclude(exclude), optpreview.ProgressStreams(&log),
		optpreview.ErrorProgressStreams(&log), optpreview.EventStreams(sink.ch)}
	if e.refresh {
		opts = append(opts, optpreview.Refresh())
	}
	_, err := l.stack.Preview(ctx, opts...)
	diags := sink.wait()
	res := l.finish(t, name, path, &log, nil)
	res.diags = diags
	saveDiags(path, diags)
	e.ops = append(e.ops, engineOp{kind: "preview", exclude: exclude, once: o, res: res, err: err})
	return sink.events, err
}

func (e *labEngine) Up(_ context.Context, exclude []string, o nodeops.OneShot) error {
	t, l := e.t, e.l
	t.Helper()
	defer e.use(o)()
	name := fmt.Sprintf("%s-up-%d", e.name, len(e.ops)+1)
	opts := []optup.Option{optup.Exclude(exclude)}
	if e.refresh {
		opts = append(opts, optup.Refresh())
	}
	res, r, err := l.runUp(t, name, false, opts)
	if r.Summary.ResourceChanges != nil {
		res.changes = *r.Summary.ResourceChanges
	}
	if err == nil {
		l.checkSecrets(t, res)
	} else {
		err = fmt.Errorf("%w\n--- engine output (tail) ---\n%s", err, tail(res.log, 40))
	}
	e.ops = append(e.ops, engineOp{kind: "up", exclude: exclude, once: o, res: res, err: err})
	return err
}

// last returns the last operation of kind, and whether there was one.
func (e *labEngine) last(kind string) (engineOp, bool) {
	for i := len(e.ops) - 1; i >= 0; i-- {
		if e.ops[i].kind == kind {
			return e.ops[i], true
		}
	}
	return engineOp{}, false
}

// mustUp returns the update nodeops ran, failing the test when it ran none.
func (e *labEngine) mustUp(t *testing.T) opResult {
	t.Helper()
	op, ok := e.last("up")
	if !ok {
		t.Fatalf("%s: nodeops ran no update (operations: %d)", e.name, len(e.ops))
	}
	return op.res
}

// nodeSpec is one entry of the stack's nodes list.
type nodeSpec struct{ name, address, dockerHost string }

// specOf is node nI as multiHostConfig writes it: 10.250.250.(10+I) on
// its own simulated Docker host.
func specOf(name string) nodeSpec {
	var i int
	fmt.Sscanf(name, "n%d", &i)
	return nodeSpec{name: name, address: fmt.Sprintf("10.250.250.%d", 10+i), dockerHost: hostOf(name)}
}

func specsOf(names ...string) []nodeSpec {
	out := make([]nodeSpec, len(names))
	for i, n := range names {
		out[i] = specOf(n)
	}
	return out
}

// clusterConfig is multiHostConfig with the given node list.
func clusterConfig(nodes []nodeSpec, lb map[string]any) map[string]any {
	cfg := multiHostConfig(0, lb)
	var list []map[string]any
	for _, n := range nodes {
		list = append(list, map[string]any{"name": n.name, "address": n.address, "dockerHost": n.dockerHost})
	}
	cfg["nodes"] = list
	return cfg
}

// nodeURNs returns the URNs of everything on node's Docker host in the
// stack's current state, as rcha computes them (nodeops.State).
func (l *lab) nodeURNs(t *testing.T, node string) []string {
	t.Helper()
	d, err := l.stack.Export(l.ctx)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	st, err := nodeops.ParseState(d)
	if err != nil {
		t.Fatal(err)
	}
	urns, err := st.NodeResources(node)
	if err != nil {
		t.Fatal(err)
	}
	if len(urns) == 0 {
		t.Fatalf("the state has no resources on %s's Docker host", node)
	}
	return urns
}

// stateURNs returns every URN of the stack's state.
func (l *lab) stateURNs(t *testing.T) map[string]bool {
	t.Helper()
	d, _ := l.export(t)
	out := map[string]bool{}
	for _, r := range d.Resources {
		out[string(r.URN)] = true
	}
	return out
}

// touching returns the events of one operation that reached host or one of
// urns (the resources on that host): any provider operation on them, or a
// docker daemon call on that host. Configure of that host's provider is
// reported separately by configures.
func touching(events []providers.Event, urns []string, host string) []int {
	var out []int
	for i, e := range events {
		if e.Op == providers.OpConfigure {
			continue
		}
		if e.Host == host || contains(urns, e.URN) {
			out = append(out, i)
		}
	}
	return out
}

// configures returns the configure events of host's docker provider.
func configures(events []providers.Event, host string) []int {
	var out []int
	for i, e := range events {
		if e.Op == providers.OpConfigure && e.Provider == "docker" && e.Host == host {
			out = append(out, i)
		}
	}
	return out
}

// noTouch asserts that an operation sent nothing to node's host: no
// provider operation on its resources, no daemon call on it, and no
// Configure of its Docker provider (pulumi-docker's Configure pings the
// daemon; the engine configures every provider the program registers,
// excluded or not, so the program must not register it: TestExcludeWithHostDown).
func noTouch(t *testing.T, res opResult, node string, urns []string) {
	t.Helper()
	for _, i := range touching(res.events, urns, hostOf(node)) {
		t.Errorf("%s: an operation reached %s's host or resources: %s (error %q)", res.name, node, describe(res.events, i), res.events[i].Error)
	}
	for _, i := range configures(res.events, hostOf(node)) {
		t.Errorf("%s: the engine configured %s's Docker provider, which pings its dead daemon: %s", res.name, node, describe(res.events, i))
	}
}

// rsRuns returns the replica-set steps that ran (prune and full), in order.
func rsRuns(events []providers.Event) []providers.Event {
	var out []providers.Event
	for _, e := range events {
		if replicaSetRun(e) {
			out = append(out, e)
		}
	}
	return out
}

// checkThrough asserts that every replica-set step of the operation ran,
// and ran through node (in mode, for the prune step, when not "").
func checkThrough(t *testing.T, res opResult, node, pruneMode string, wantPrune, wantFull bool) {
	t.Helper()
	p, f := last(res.events, pruneRun), last(res.events, commandRun)
	if wantPrune {
		switch {
		case p < 0:
			t.Errorf("%s: the prune step did not run\n%s", res.name, traceSummary(res.events))
		case res.events[p].Through != node:
			t.Errorf("%s: the prune step ran through %q, want %s (%s)", res.name, res.events[p].Through, node, res.events[p].Error)
		case pruneMode != "" && res.events[p].Mode != pruneMode:
			t.Errorf("%s: the prune step ran in mode %q, want %q", res.name, res.events[p].Mode, pruneMode)
		}
	}
	if wantFull {
		switch {
		case f < 0:
			t.Errorf("%s: the full replica-set step did not run\n%s", res.name, traceSummary(res.events))
		case res.events[f].Through != node || res.events[f].Mode != providers.StepModeFull:
			t.Errorf("%s: the full step ran through %q in mode %q, want %s in full (%s)", res.name,
				res.events[f].Through, res.events[f].Mode, node, res.events[f].Error)
		}
	}
}

// nodesDown replays one operation and returns the largest number of nodes
// (among keep) down at the same moment, where it happened, and who. A node
// is down from the down (delete or stop) of any of its containers (mongod,
// Rocket.Chat, load balancer, keepalived) until that container's
// replacement is healthy (or started, for a container nobody waits for);
// a container deleted without a replacement leaves its node down for the
// rest of the operation. alsoDown are nodes down throughout (a host that
// does not answer).
func nodesDown(events []providers.Event, cluster string, keep, alsoDown []string) (int, int, []string) {
	down := map[string]map[string]bool{} // node -> containers down
	best, at := len(alsoDown), -1
	who := slices.Clone(alsoDown)
	for i, e := range events {
		if e.Type != providers.ContainerType {
			continue
		}
		_, n := roleOf(cluster, e.Name)
		if n == "" || !contains(keep, n) {
			continue
		}
		switch e.Op {
		case providers.OpDown:
			if down[n] == nil {
				down[n] = map[string]bool{}
			}
			down[n][e.Name] = true
		case providers.OpHealthy, providers.OpStarted:
			delete(down[n], e.Name)
			if len(down[n]) == 0 {
				delete(down, n)
			}
		default:
			continue
		}
		if len(down)+len(alsoDown) > best {
			best, at, who = len(down)+len(alsoDown), i, slices.Clone(alsoDown)
			for k := range down {
				who = append(who, k)
			}
			slices.Sort(who)
		}
	}
	return best, at, who
}

// checkOneDown asserts "at most one node down at any time" for one
// operation over the nodes in keep, counting alsoDown as down throughout.
func checkOneDown(t *testing.T, res opResult, cluster string, keep, alsoDown []string) {
	t.Helper()
	if n, at, who := nodesDown(res.events, cluster, keep, alsoDown); n > 1 {
		t.Errorf("%s: %d nodes down at once (%v) at %s\n%s", res.name, n, who, describe(res.events, at), traceSummary(res.events))
	}
}

// replaced lists the containers an operation took down, in order.
func replaced(events []providers.Event) []string {
	var out []string
	for _, e := range events {
		if e.Type == providers.ContainerType && e.Op == providers.OpDown {
			out = append(out, e.Name)
		}
	}
	return out
}

// noChangeEvents asserts that an operation created, updated, deleted or
// ran nothing anywhere.
func noChangeEvents(t *testing.T, res opResult) {
	t.Helper()
	for i, e := range res.events {
		switch e.Op {
		case providers.OpCreate, providers.OpUpdate, providers.OpDelete, providers.OpRun, providers.OpDown:
			t.Errorf("%s: %s happened although nothing may change", res.name, describe(res.events, i))
		}
	}
}

// baseHosts is what each node's host runs in a one-load-balancer-per-node
// cluster: its mongod, Rocket.Chat and load balancer.
func baseHosts(cluster string, nodes []nodeSpec) map[string][]string {
	out := map[string][]string{}
	for _, n := range nodes {
		out[n.dockerHost] = []string{cluster + "-mongo-" + n.name, cluster + "-rocketchat-" + n.name, cluster + "-lb-" + n.name}
	}
	// The backup job runs on the last node (backup.node's default).
	if len(nodes) > 0 {
		last := nodes[len(nodes)-1]
		out[last.dockerHost] = append(out[last.dockerHost], components.BackupContainerName(cluster, last.dockerHost))
	}
	return out
}

// members returns the simulated replica set's members.
func (l *lab) members() []string { return providers.ReplicaSetMembers(l.world, "rs0") }

func memberList(nodes ...string) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n + ":27017"
	}
	return out
}

// checkLBs asserts that the config step of the load balancer on each node
// of sites ran, and that its nginx config routes to the Rocket.Chat server
// of every node of nodes and to none of gone (by address).
func checkLBs(t *testing.T, res opResult, cluster string, sites []string, nodes []nodeSpec, gone []nodeSpec) {
	t.Helper()
	for _, s := range sites {
		run := last(res.events, func(e providers.Event) bool {
			return lbConfigRun(e) && strings.HasSuffix(e.URN, "::"+cluster+"-lb-"+s+"-config")
		})
		if run < 0 {
			t.Errorf("%s: the config step of the load balancer on %s did not run\n%s", res.name, s, traceSummary(res.events))
			continue
		}
		conf, ok := nginxConfAt(res.events, run)
		if !ok {
			t.Errorf("%s: cannot read RCHA_NGINX_CONF of %s", res.name, describe(res.events, run))
			continue
		}
		for _, n := range nodes {
			if !strings.Contains(conf, n.address+":3000") {
				t.Errorf("%s: the load balancer on %s does not route to %s (%s:3000)", res.name, s, n.name, n.address)
			}
		}
		for _, n := range gone {
			if strings.Contains(conf, n.address+":") {
				t.Errorf("%s: the load balancer on %s still lists %s (%s)", res.name, s, n.name, n.address)
			}
		}
	}
}

// lbNotReplaced asserts that the load balancer on node kept running: a
// node-list change reaches it through its config step.
func lbNotReplaced(t *testing.T, res opResult, cluster, node string) {
	t.Helper()
	if i := first(res.events, func(e providers.Event) bool {
		return e.Type == providers.ContainerType && e.Name == cluster+"-lb-"+node && e.Op == providers.OpDown
	}); i >= 0 {
		t.Errorf("%s: the load balancer on %s was replaced (%s) for a node-list change", res.name, node, describe(res.events, i))
	}
}

// deployed is a 3-node cluster with one load balancer per node, deployed;
// its replica set was initiated through n1.
func deployed(t *testing.T, stack string) (*lab, string, map[string]string) {
	t.Helper()
	l := newLab(t, stack, labProgram, repoProject)
	secrets := map[string]string{"mongoRootPassword": password("root-pw-"), "rocketPassword": password("rocket-pw-")}
	l.setConfig(t, clusterConfig(specsOf("n1", "n2", "n3"), map[string]any{}), secrets)
	res := l.up(t, "up")
	cluster := clusterOf(t, res.events)
	checkThrough(t, res, "n1", "", false, true)
	if got := l.members(); !slices.Equal(got, memberList("n1", "n2", "n3")) {
		t.Fatalf("after the first up the replica set has %v", got)
	}
	return l, cluster, secrets
}

// explainDown explains a nodeops.Down failure whose cause is known: the
// engine configured the Docker provider of a node whose host does not
// answer (TestExcludeWithHostDown pins that engine behaviour).
func explainDown(err error, cluster, node string) string {
	msg := err.Error()
	if strings.Contains(msg, "bad provider state for resource") && strings.Contains(msg, cluster+"-docker-"+node) &&
		strings.Contains(msg, "failed to connect to any docker daemon") {
		return "the program registered " + cluster + "-docker-" + node + " although the node is unreachable: Pulumi v3.276 " +
			"includes every explicit provider the program registers in an operation, --exclude or not, so its Same step " +
			"configures it and pulumi-docker's Configure fails on the dead host, before the fingerprint check " +
			"(TestExcludeWithHostDown; stacks.OneShot.Unreachable must keep the program off that host). " +
			"Engine error (first line): " + strings.SplitN(msg, "\n", 2)[0]
	}
	return msg
}

func hostDown(t *testing.T, l *lab, node string, down bool) {
	t.Helper()
	if err := providers.SetHostDown(l.world, hostOf(node), down); err != nil {
		t.Fatal(err)
	}
}

// TestDownFirstNodeUnchanged: with n1, the first node, not answering, a
// change that touches nothing on n1 (rotating mongoRootPassword, which
// only the replica-set steps use) goes through nodeops.Down as rcha runs
// it: the replica-set steps run through n2, nothing reaches n1's host, no
// container anywhere restarts, and once n1 is back a plain up converges.
func TestDownFirstNodeUnchanged(t *testing.T) {
	l, cluster, secrets := deployed(t, "down-n1")
	n1 := l.nodeURNs(t, "n1")
	hostDown(t, l, "n1", true)

	secrets["mongoRootPassword"] = password("root-pw2-")
	l.setConfig(t, clusterConfig(specsOf("n1", "n2", "n3"), map[string]any{}), secrets)
	e := l.engine(t, "down-n1")
	if err := nodeops.Down(l.ctx, e, nodeops.Request{Nodes: []string{"n1"}, Config: nodeNames(3)}); err != nil {
		t.Fatalf("nodeops.Down: %s", explainDown(err, cluster, "n1"))
	}
	for _, op := range e.ops {
		if !slices.Equal(op.exclude, n1) || !slices.Equal(op.once.Unreachable, []string{"n1"}) || op.once.ForceReconfig {
			t.Errorf("%s excluded %v with one-shot %+v, want n1's resources %v and n1 unreachable", op.res.name, op.exclude, op.once, n1)
		}
	}
	res := e.mustUp(t)
	checkThrough(t, res, "n2", providers.StepModePrune, true, true)
	if p, f := first(res.events, pruneRun), first(res.events, commandRun); p > f {
		t.Errorf("%s: the full step (%s) ran before the prune step (%s)", res.name, describe(res.events, f), describe(res.events, p))
	}
	for _, op := range e.ops {
		noTouch(t, op.res, "n1", n1)
	}
	if d := replaced(res.events); len(d) > 0 {
		t.Errorf("%s: rotating the root password restarted %v", res.name, d)
	}
	checkOneDown(t, res, cluster, nodeNames(3), []string{"n1"})
	if got := l.members(); !slices.Equal(got, memberList("n1", "n2", "n3")) {
		t.Errorf("the replica set has %v after the update without n1", got)
	}
	l.checkHostsMatchState(t, "down-n1", baseHosts(cluster, specsOf("n1", "n2", "n3")))

	hostDown(t, l, "n1", false)
	l.converged(t, "n1-back")
}

// TestDownFirstNodeChangeRefused: with n1 not answering, a change that
// must reach n1 (a new Rocket.Chat password, then a new Rocket.Chat image)
// is refused by nodeops.Down after its preview, before anything changes:
// the error names n1 and no provider created, updated, deleted or ran
// anything.
func TestDownFirstNodeChangeRefused(t *testing.T) {
	l, cluster, secrets := deployed(t, "refuse-n1")
	hostDown(t, l, "n1", true)
	for _, c := range []struct {
		name string
		edit func(cfg map[string]any, sec map[string]string)
	}{
		{"rocket-password", func(_ map[string]any, sec map[string]string) { sec["rocketPassword"] = password("rocket-pw2-") }},
		{"rocketchat-image", func(cfg map[string]any, _ map[string]string) { cfg["rocketchatImage"] = rocketImageV2 }},
	} {
		sec := map[string]string{}
		for k, v := range secrets {
			sec[k] = v
		}
		cfg := clusterConfig(specsOf("n1", "n2", "n3"), map[string]any{})
		c.edit(cfg, sec)
		l.setConfig(t, cfg, sec)
		e := l.engine(t, "refuse-"+c.name)
		err := nodeops.Down(l.ctx, e, nodeops.Request{Nodes: []string{"n1"}, Config: nodeNames(3)})
		if err == nil {
			t.Errorf("%s: nodeops.Down accepted a change that must reach n1", c.name)
		} else if !strings.Contains(err.Error(), "docker-n1") && !strings.Contains(err.Error(), "n1") {
			t.Errorf("%s: the refusal does not name n1: %v", c.name, err)
		} else if !strings.Contains(err.Error(), "node n1: this change") || !strings.Contains(err.Error(), "Nothing was changed") {
			t.Errorf("%s: refused, but not by the fingerprint check: %s", c.name, explainDown(err, cluster, "n1"))
		} else {
			t.Logf("%s: refused: %v", c.name, err)
		}
		if _, ok := e.last("up"); ok {
			t.Errorf("%s: nodeops.Down ran an update after all", c.name)
		}
		for _, op := range e.ops {
			noChangeEvents(t, op.res)
		}
	}
}

// TestUpWithNodeDownFailsEarly: a plain up (refresh: always) during a
// Rocket.Chat image upgrade, with n2 not answering, fails at n2's Docker
// provider: the error names it, and no container anywhere was touched.
// Once the host answers again, the same up rolls the servers one at a
// time and converges.
func TestUpWithNodeDownFailsEarly(t *testing.T) {
	l, cluster, secrets := deployed(t, "early")
	hostDown(t, l, "n2", true)
	cfg := clusterConfig(specsOf("n1", "n2", "n3"), map[string]any{})
	cfg["rocketchatImage"] = rocketImageV2
	l.setConfig(t, cfg, secrets)
	res, err := l.tryUp(t, "up-n2-down")
	if err == nil {
		t.Fatalf("the upgrade succeeded with n2's Docker host down\n%s", traceSummary(res.events))
	}
	msg := err.Error() + res.log
	const want = "docker native provider returned an unexpected error from Configure: failed to connect to any docker daemon"
	if !strings.Contains(msg, want) || !strings.Contains(msg, cluster+"-docker-n2") {
		t.Errorf("the failure does not name n2's provider (%s-docker-n2) and say %q:\n%s", cluster, want, tail(res.log, 30))
	}
	for i, e := range res.events {
		if e.Type == providers.ContainerType && (e.Op == providers.OpDown || e.Op == providers.OpCreate || e.Op == providers.OpUpdate || e.Op == providers.OpDelete) {
			t.Errorf("%s touched a container: %s", res.name, describe(res.events, i))
		}
	}
	if runs := rsRuns(res.events); len(runs) > 0 {
		t.Logf("note: %s: %d replica-set step(s) ran before the failure (first through %q)", res.name, len(runs), runs[0].Through)
	}

	hostDown(t, l, "n2", false)
	res = l.up(t, "up-n2-back")
	rolled(t, res, cluster, roleRocket, nodeNames(3))
	untouched(t, res, cluster, roleMongo, nodeNames(3))
	checkHA(t, res, cluster, nodeNames(3))
	checkOneDown(t, res, cluster, nodeNames(3), nil)
	l.checkHostsMatchState(t, "n2-back", baseHosts(cluster, specsOf("n1", "n2", "n3")))
	l.converged(t, "n2-back")
}

// retire removes dead from the stack's nodes and runs nodeops.Retire with
// it, as `rcha retire` does, and checks what every retirement must do: the
// replica-set steps ran through through (the prune step in pruneMode) and
// the set keeps exactly the survivors; the surviving load balancers no
// longer list the dead nodes; nothing reached their hosts; none of their
// resources remains in the state; the surviving mongods kept running (the
// same containers, never stopped: with two members left of three, the set
// has a single voter, and restarting it would leave no primary) and
// learnt the new node list from their hosts steps, which no longer list
// the dead nodes and ran before the full step; and the survivors'
// Rocket.Chat servers were rolled one node at a time.
func retire(t *testing.T, l *lab, cluster string, secrets map[string]string, all []nodeSpec, dead []string, through string, force bool) opResult {
	t.Helper()
	var keep, gone []nodeSpec
	var keepNames []string
	for _, n := range all {
		if contains(dead, n.name) {
			gone = append(gone, n)
		} else {
			keep = append(keep, n)
			keepNames = append(keepNames, n.name)
		}
	}
	urns := map[string][]string{}
	for _, n := range dead {
		urns[n] = l.nodeURNs(t, n)
	}
	mongods := l.mongodIDs(t, cluster, keepNames, hostOf)
	l.setConfig(t, clusterConfig(keep, map[string]any{}), secrets)
	e := l.engine(t, "retire-"+strings.Join(dead, "-"))
	cleanup, err := nodeops.Retire(l.ctx, e, nodeops.Request{Nodes: dead, Config: keepNames, ForceReconfig: force})
	if err != nil {
		t.Fatalf("nodeops.Retire %v: %v", dead, err)
	}
	for _, c := range cleanup {
		t.Logf("retired %s leaves on its host: containers %v, volumes %v", c.Node, c.Containers, c.Volumes)
	}
	res := e.mustUp(t)
	pruneMode := providers.StepModePrune
	if force {
		pruneMode = providers.StepModeForce
	}
	for _, op := range e.ops {
		if len(op.once.Unreachable) > 0 || op.once.ForceReconfig != force {
			t.Errorf("%s ran with one-shot %+v, want ForceReconfig=%v and nothing unreachable (the program no longer lists %v)", op.res.name, op.once, force, dead)
		}
	}
	checkThrough(t, res, through, pruneMode, true, true)
	if p := last(res.events, pruneRun); p >= 0 && !slices.Equal(res.events[p].Members, memberList(keepNames...)) {
		t.Errorf("%s: the prune step kept %v, want %v", res.name, res.events[p].Members, memberList(keepNames...))
	}
	if got := l.members(); !slices.Equal(got, memberList(keepNames...)) {
		t.Errorf("%s: the replica set has %v, want %v", res.name, got, memberList(keepNames...))
	}
	var sites []string
	if len(keep) > 1 {
		sites = keepNames
	}
	checkLBs(t, res, cluster, sites, keep, gone)
	for _, n := range sites {
		lbNotReplaced(t, res, cluster, n)
	}
	for _, op := range e.ops {
		for _, n := range dead {
			noTouch(t, op.res, n, urns[n])
		}
	}
	inState := l.stateURNs(t)
	for _, n := range dead {
		for _, u := range urns[n] {
			if inState[u] {
				t.Errorf("%s: %s is still in the state", res.name, u)
			}
		}
	}
	l.checkMongodsKept(t, res, cluster, keepNames, mongods, hostOf)
	l.checkHostsSteps(t, res, cluster, keepNames, addrsOf(keep), dead, hostOf)
	var before []string
	for _, n := range all {
		before = append(before, n.name)
	}
	checkResolvable(t, res, cluster, keepNames, memberList(before...), addrsOf(keep))
	rolled(t, res, cluster, roleRocket, keepNames)
	checkOneDown(t, res, cluster, keepNames, nil)
	t.Logf("%s: replaced, in order: %v", res.name, replaced(res.events))
	return res
}

// TestRetireFirstNode: n1, the first node, is gone for good; without it in
// the stack's nodes, nodeops.Retire updates the cluster through n2 and
// drops n1 from the state. The stack then converges without n1's host.
func TestRetireFirstNode(t *testing.T) {
	l, cluster, secrets := deployed(t, "retire-n1")
	hostDown(t, l, "n1", true)
	// retire checks that the survivors' mongods keep running and drop
	// n1 through their hosts steps, and that their Rocket.Chat servers
	// (whose MONGO_URL and hosts entries list every node) are rolled one
	// at a time.
	res := retire(t, l, cluster, secrets, specsOf("n1", "n2", "n3"), []string{"n1"}, "n2", false)
	untouched(t, res, cluster, roleMongo, []string{"n2", "n3"})
	rolled(t, res, cluster, roleRocket, []string{"n2", "n3"})
	l.checkHostsMatchState(t, "retired-n1", baseHosts(cluster, specsOf("n2", "n3")))
	l.converged(t, "retired-n1")
}

// TestRetireLastNode: the same for n3, the last node; the steps run
// through n1.
func TestRetireLastNode(t *testing.T) {
	l, cluster, secrets := deployed(t, "retire-n3")
	hostDown(t, l, "n3", true)
	res := retire(t, l, cluster, secrets, specsOf("n1", "n2", "n3"), []string{"n3"}, "n1", false)
	untouched(t, res, cluster, roleMongo, []string{"n1", "n2"})
	rolled(t, res, cluster, roleRocket, []string{"n1", "n2"})
	l.checkHostsMatchState(t, "retired-n3", baseHosts(cluster, specsOf("n1", "n2")))
	l.converged(t, "retired-n3")
}

// TestReplaceNodeOnNewHost: n2's host is gone for good. n2 is retired,
// then added back under the same name on a new host with a new address:
// a plain up creates n2's resources on the new host, the hosts steps give
// the running mongods of n1 and n3 n2's new address before the full step
// adds it through n1, those mongods are never restarted, and their
// Rocket.Chat servers are rolled one at a time.
func TestReplaceNodeOnNewHost(t *testing.T) {
	l, cluster, secrets := deployed(t, "replace-n2")
	hostDown(t, l, "n2", true)
	retire(t, l, cluster, secrets, specsOf("n1", "n2", "n3"), []string{"n2"}, "n1", false)
	l.checkHostsMatchState(t, "retired-n2", baseHosts(cluster, specsOf("n1", "n3")))

	newN2 := nodeSpec{name: "n2", address: "10.250.250.22", dockerHost: "unix:///var/run/docker-n2-new.sock"}
	nodes := []nodeSpec{specOf("n1"), newN2, specOf("n3")}
	hostFor := func(n string) string {
		if n == newN2.name {
			return newN2.dockerHost
		}
		return hostOf(n)
	}
	mongods := l.mongodIDs(t, cluster, []string{"n1", "n3"}, hostOf)
	l.setConfig(t, clusterConfig(nodes, map[string]any{}), secrets)
	res := l.up(t, "up-new-n2")
	ev := res.events
	for _, role := range []string{roleMongo, roleRocket, roleLB} {
		name := cluster + "-" + role + "-n2"
		c := first(ev, named(name, newN2.dockerHost, providers.OpCreate))
		if c < 0 || ev[c].Error != "" {
			t.Errorf("%s: %s was not created on the new host (%s)", res.name, name, describe(ev, c))
		}
	}
	if v := first(ev, func(e providers.Event) bool {
		return e.Type == providers.VolumeType && e.Op == providers.OpCreate && e.Host == newN2.dockerHost
	}); v < 0 || ev[v].Reused {
		t.Errorf("%s: n2's data volume on the new host: %s (a new host has no retained volume)", res.name, describe(ev, v))
	}
	checkThrough(t, res, "n1", providers.StepModePrune, false, true)
	if f := last(ev, commandRun); f >= 0 && !slices.Equal(ev[f].Members, memberList("n1", "n2", "n3")) {
		t.Errorf("%s: the full step ran with members %v, want n1, n2, n3", res.name, ev[f].Members)
	}
	if got := l.members(); !slices.Equal(got, memberList("n1", "n2", "n3")) {
		t.Errorf("%s: the replica set has %v", res.name, got)
	}
	if h, f := first(ev, container(cluster, roleMongo, "n2", providers.OpHealthy)), last(ev, commandRun); h < 0 || h > f {
		t.Errorf("%s: the full step (%s) ran before n2's new mongod was healthy (%s)", res.name, describe(ev, f), describe(ev, h))
	}
	for i, e := range ev {
		if e.Host == hostOf("n2") {
			t.Errorf("%s: an operation reached n2's old host: %s", res.name, describe(ev, i))
		}
	}
	// n2's address changed: the running mongods of n1 and n3 learn it
	// from their hosts steps (n2's new mongod is created with it), before
	// the full step, and keep running; the Rocket.Chat servers, whose
	// hosts entries are fixed at creation, are rolled one node at a time.
	l.checkMongodsKept(t, res, cluster, []string{"n1", "n3"}, mongods, hostOf)
	l.checkHostsSteps(t, res, cluster, nodeNames(3), addrsOf(nodes), nil, hostFor)
	checkResolvable(t, res, cluster, nodeNames(3), memberList("n1", "n3"), addrsOf(nodes))
	rolled(t, res, cluster, roleRocket, []string{"n1", "n3"})
	checkHA(t, res, cluster, nodeNames(3))
	checkOneDown(t, res, cluster, []string{"n1", "n3"}, nil)
	checkLBs(t, res, cluster, []string{"n1", "n3"}, nodes, []nodeSpec{specOf("n2")})
	lbNotReplaced(t, res, cluster, "n1")
	lbNotReplaced(t, res, cluster, "n3")
	t.Logf("%s: replaced, in order: %v", res.name, replaced(ev))
	l.checkHostsMatchState(t, "new-n2", baseHosts(cluster, nodes))
	l.converged(t, "new-n2")
}

// TestRetireAfterMajorityLoss: n2 and n3 are gone for good, so the
// replica set has lost its majority. nodeops.Retire with ForceReconfig,
// as `rcha retire --force-reconfig` runs it (the update's program is
// stacks.OneShot{ForceReconfig: true}.Program), runs the prune step in
// force mode through n1 and drops
// n2 and n3 from the state; then a normal up with the normal program
// converges. The lab cannot see primaries, votes or elections: the
// reconciler's force rules (refuse while a primary exists, keep only
// reachable members) are tested against a simulation in
// internal/replicaset; here the prune step's mode and node are checked.
func TestRetireAfterMajorityLoss(t *testing.T) {
	l, cluster, secrets := deployed(t, "majority")
	hostDown(t, l, "n2", true)
	hostDown(t, l, "n3", true)
	retire(t, l, cluster, secrets, specsOf("n1", "n2", "n3"), []string{"n2", "n3"}, "n1", true)

	res := l.up(t, "up-normal-program")
	checkThrough(t, res, "n1", providers.StepModePrune, true, false)
	if got := l.members(); !slices.Equal(got, memberList("n1")) {
		t.Errorf("%s: the replica set has %v, want n1 only", res.name, got)
	}
	l.checkHostsMatchState(t, "n1-alone", map[string][]string{hostOf("n1"): {cluster + "-mongo-n1", cluster + "-rocketchat-n1", cluster + "-lb", components.BackupContainerName(cluster, hostOf("n1"))}})
	l.converged(t, "n1-alone")
}
