package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"

	"github.com/rocketchat-ha/rocketchat-ha/internal/nodeops"
	"github.com/rocketchat-ha/rocketchat-ha/stacks"
)

// nodeList is a repeatable flag of node names.
type nodeList []string

func (l *nodeList) String() string { return strings.Join(*l, ",") }

func (l *nodeList) Set(v string) error {
	for _, n := range strings.Split(v, ",") {
		if n = strings.TrimSpace(n); n != "" {
			*l = append(*l, n)
		}
	}
	return nil
}

// configNodes reads the stack config's node list (names and Docker hosts,
// defaults applied as the program applies them).
func (r *runner) configNodes(ctx context.Context) ([]stacks.NodeConfig, []string, error) {
	all, err := r.stack.GetAllConfig(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the stack config: %s", cliErr(err))
	}
	cfg, _, err := stacks.Parse(func(k string) (string, bool) {
		v, ok := all[k]
		return v.Value, ok
	})
	if err != nil {
		return nil, nil, fmt.Errorf("stack config: %w", err)
	}
	args := cfg.Args(stacks.Secrets{}).WithDefaults()
	var names []string
	nodes := make([]stacks.NodeConfig, len(args.Nodes))
	for i, n := range args.Nodes {
		names = append(names, n.Name)
		nodes[i] = stacks.NodeConfig{Name: n.Name, Address: n.Address, DockerHost: n.DockerHost}
	}
	return nodes, names, nil
}

// engine is nodeops.Engine on rcha's stack, with rcha's progress lines.
type engine struct {
	r    *runner
	last *progress
	outs auto.OutputMap
}

func (e *engine) Export(ctx context.Context) (apitype.UntypedDeployment, error) {
	return e.r.stack.Export(ctx)
}

func (e *engine) Import(ctx context.Context, d apitype.UntypedDeployment) error {
	return e.r.stack.Import(ctx, d)
}

// use points the stack at the program with the one-shot requests o.
func (e *engine) use(o nodeops.OneShot) {
	e.r.stack.Workspace().SetProgram(e.r.env.programWith(stacks.OneShot{Unreachable: o.Unreachable, ForceReconfig: o.ForceReconfig}))
}

func (e *engine) Preview(ctx context.Context, exclude []string, o nodeops.OneShot) ([]events.EngineEvent, error) {
	e.use(o)
	prog, _, err := e.r.engineOp(ctx, "preview", exclude)
	e.last = prog
	return prog.events, err
}

func (e *engine) Up(ctx context.Context, exclude []string, o nodeops.OneShot) error {
	e.use(o)
	prog, outs, err := e.r.engineOp(ctx, "up", exclude)
	e.last, e.outs = prog, outs
	return err
}

// nodeOp runs `up --down` or `retire`. It returns a nil progress when it
// refused before the engine ran.
func (r *runner) nodeOp(ctx context.Context) (*progress, auto.OutputMap, error) {
	_, names, err := r.configNodes(ctx)
	if err != nil {
		return nil, nil, err
	}
	// These updates refresh like any other (unless --refresh=false): the
	// engine skips excluded resources when it refreshes (the engine lab
	// pins this), so crashed containers on the other nodes are repaired.
	e := &engine{r: r}
	req := nodeops.Request{Config: names, Progress: func(s string) { r.progressf("rcha %s: %s", r.o.command, s) }}
	if r.o.command == "up" {
		req.Nodes = r.o.down
		err = nodeops.Down(ctx, e, req)
		return e.last, e.outs, err
	}
	req.Nodes, req.ForceReconfig = r.o.nodes, r.o.forceReconfig
	if err := r.confirmRetire(names); err != nil {
		return nil, nil, err
	}
	cleanup, err := nodeops.Retire(ctx, e, req)
	if err != nil {
		if e.last == nil {
			return nil, nil, err
		}
		return e.last, e.outs, err
	}
	for _, c := range cleanup {
		r.progressf("rcha retire: %s is retired. Its host is no longer managed: if it ever comes back, remove what is left there by hand:", c.Node)
		if len(c.Containers) > 0 {
			r.progressf("  docker rm -f %s", strings.Join(c.Containers, " "))
		}
		// Backup archives exist nowhere else (unless uploaded to S3): they
		// get their own line, never the "other members hold it" comment.
		var data, archives []string
		for _, v := range c.Volumes {
			if strings.Contains(v, "-backups-") {
				archives = append(archives, v)
			} else {
				data = append(data, v)
			}
		}
		if len(data) > 0 {
			r.progressf("  docker volume rm %s   # the node's MongoDB data; the other members hold the same data", strings.Join(data, " "))
		}
		if len(archives) > 0 {
			r.progressf("  docker volume rm %s   # BACKUP ARCHIVES, held nowhere else unless uploaded to S3: copy what you need out first (docker cp from a container mounting it). The backup job now runs on the new backup node.", strings.Join(archives, " "))
		}
	}
	return e.last, e.outs, nil
}

// confirmRetire warns and asks for confirmation unless --yes.
func (r *runner) confirmRetire(config []string) error {
	r.progressf("rcha retire: retiring %s: the replica set forgets its member, the load balancers drop it, and its resources leave the state without its Docker host being contacted. Nodes that stay: %s.",
		strings.Join(r.o.nodes, ", "), strings.Join(config, ", "))
	if r.o.forceReconfig {
		r.progressf("rcha retire: WARNING: --force-reconfig forces a replica-set reconfig that keeps only %s, through a surviving secondary. Use it only when a majority of the voters is gone for good and there is no primary. Writes that only the lost members acknowledged may be lost. It refuses while a primary exists.",
			strings.Join(config, ", "))
	}
	if r.o.yes {
		return nil
	}
	if r.env.Stdin == nil {
		return errors.New("retire needs confirmation: pass --yes (no terminal to ask on)")
	}
	want := "retire " + strings.Join(r.o.nodes, " ")
	fmt.Fprintf(r.env.Stderr, "Type %q to go on: ", want)
	line, _ := bufio.NewReader(r.env.Stdin).ReadString('\n')
	if strings.TrimSpace(line) != want {
		return errors.New("not confirmed: nothing was changed")
	}
	return nil
}

// providerFailure matches the engine's error for a Docker provider that
// cannot be configured: pulumi-docker pings its daemon then.
var providerFailure = regexp.MustCompile(`configure provider '[^']*pulumi:providers:docker::([A-Za-z0-9_.-]+)'`)

// explainHostDown adds, to a failed update whose Docker provider could not
// reach its host, which node that is, its host, and what to run.
func (r *runner) explainHostDown(prog *progress, cliErr string) {
	text := strings.Join(append(prog.errors(), cliErr), "\n")
	m := providerFailure.FindStringSubmatch(text)
	if m == nil {
		for _, d := range prog.diags {
			if m = providerFailure.FindStringSubmatch(d); m != nil {
				break
			}
		}
	}
	if m == nil {
		return
	}
	nodes, _, err := r.configNodes(context.Background())
	if err != nil {
		return
	}
	for i, n := range nodes {
		if strings.HasSuffix(m[1], "-docker-"+n.Name) {
			r.progressf("rcha %s: nodes[%d] (%s): its Docker host %s does not answer. No container was changed: every change waits until each node's Docker host has answered.\n"+
				"  If the host is down for a while: rcha up --stack %s --down %s  (changes that touch nothing on %s)\n"+
				"  If it is gone for good: remove %s from nodes, then rcha retire --stack %s --node %s\n"+
				"  See docs/runbooks.md.", r.o.command, i, n.Name, n.DockerHost, r.o.stack, n.Name, n.Name, n.Name, r.o.stack, n.Name)
			return
		}
	}
}
