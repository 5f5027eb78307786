package providers

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// Resource types the command fake serves.
const (
	LocalCommandType  = "command:local:Command"
	RemoteCommandType = "command:remote:Command"
)

// CommandReplaceFields force replacement of a command; every other input
// change runs the update command (or create when update is unset).
var CommandReplaceFields = setOf("triggers")

type commandProvider struct {
	base
	world *world
}

func newCommand() *commandProvider {
	return &commandProvider{base: newBase("command", CommandVersion), world: newWorld()}
}

// hostDownError is how a command step fails whose docker CLI cannot reach
// its DOCKER_HOST (the load balancers' config steps, the mongods' hosts
// steps): pulumi-command reports the exit status and the stderr. The
// replica-set steps have no DOCKER_HOST; their hosts are in RCHA_NODES
// (see run).
func (p *commandProvider) hostDownError(props resource.PropertyMap) error {
	_, env := environment(props)
	if h := env["DOCKER_HOST"]; h != "" && p.world.hostDown(h) {
		return fmt.Errorf("exit status 1: running %q:\n%v", "docker", unreachable(h))
	}
	return nil
}

func (p *commandProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	switch string(req.Type) {
	case LocalCommandType, RemoteCommandType:
		return plugin.CheckResponse{Properties: req.News}, nil
	}
	return plugin.CheckResponse{}, fmt.Errorf("engine lab command fake: resource type %s (%s) is not simulated", req.Type, req.URN)
}

func (p *commandProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	d := diffInputs(req.OldInputs, req.NewInputs, CommandReplaceFields, false)
	p.trace.record(Event{Op: OpDiff, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID),
		Changes: keyStrings(d.ChangedKeys), Replaces: keyStrings(d.ReplaceKeys)})
	return d, nil
}

// environment returns the command's environment variable names (sorted)
// and the plain value of each.
func environment(props resource.PropertyMap) ([]string, map[string]string) {
	env := plainValue(props["environment"])
	if !env.IsObject() {
		return nil, nil
	}
	values := map[string]string{}
	var keys []string
	for k, v := range env.ObjectValue() {
		keys = append(keys, string(k))
		if pv := plainValue(v); pv.IsString() {
			values[string(k)] = pv.StringValue()
		}
	}
	sort.Strings(keys)
	return keys, values
}

// desiredMembers extracts the member host names from RCHA_DESIRED, the
// replica-set document the component hands to reconcile.js.
func desiredMembers(env map[string]string) []string {
	raw, ok := env["RCHA_DESIRED"]
	if !ok {
		return nil
	}
	var doc struct {
		Members []struct {
			Host string `json:"host"`
		} `json:"members"`
	}
	if err := json.Unmarshal([]byte(raw), &doc); err != nil {
		return []string{"[RCHA_DESIRED is not JSON: " + err.Error() + "]"}
	}
	hosts := make([]string, len(doc.Members))
	for i, m := range doc.Members {
		hosts[i] = m.Host
	}
	return hosts
}

// run simulates running one of the command's texts and returns its
// outputs. The component's replica-set command prints the root password it
// applied on stdout; the fake does the same with RCHA_ROOT_PASSWORD.
// Like pulumi-command (built on pulumi-go-provider), stdout and stderr
// are secret when any input is.
//
// A replica-set step (its environment has RCHA_NODES and RCHA_MODE) first
// goes through the model of replicaset-step.sh (replicaset.go): the node it
// runs through is recorded in the run event's Through, and a refusal fails
// the run the way pulumi-command reports a script that exits 1.
//
// A hosts step (RCHA_HOSTS and RCHA_CONTAINER) goes through the model of
// mongo-hosts.sh (mongohosts.go): the running container's /etc/hosts
// entries in the world are rewritten, and a container that is absent or
// stopped fails the run as docker exec does.
func (p *commandProvider) run(ev Event, which string, props resource.PropertyMap) (resource.PropertyValue, resource.PropertyValue, error) {
	keys, env := environment(props)
	ev.Op, ev.Command, ev.EnvKeys, ev.Members = OpRun, which, keys, desiredMembers(env)
	ev.Inputs, ev.SecretKeys = nil, nil
	stderrText := fmt.Sprintf("engine lab: simulated %s of %s with %d member(s)\n", which, ev.URN, len(ev.Members))
	if _, ok := env["RCHA_NODES"]; ok && which != "delete" && p.world != nil {
		ev.Mode = env["RCHA_MODE"]
		c := p.world.runReplicaSetStep(env, ev.Members)
		ev.Through = c.Through
		log := strings.Join(c.Log, "\n") + "\n"
		if c.Err != nil {
			// pulumi-command: the exit status, the command, and what it
			// wrote (the step's text is abbreviated here).
			err := fmt.Errorf("%v: running %q:\n%s", c.Err, "[the "+which+" script of "+string(resource.URN(ev.URN).Name())+"]", log)
			ev.Error = err.Error()
			p.trace.record(ev)
			return resource.PropertyValue{}, resource.PropertyValue{}, err
		}
		stderrText = log + stderrText
	}
	if isHostsStep(env) && which != "delete" {
		// The model of mongo-hosts.sh (mongohosts.go): docker exec into
		// the running mongod, which keeps running with the new entries.
		host, name, entries, lines, herr := p.world.runHostsStep(env)
		ev.Name, ev.Host = name, host
		for _, e := range entries {
			ev.HostsEntries = append(ev.HostsEntries, e.String())
		}
		log := strings.Join(lines, "\n") + "\n"
		if herr != nil {
			// The docker CLI exits 1 and the script with it (set -e).
			err := fmt.Errorf("exit status 1: running %q:\n%s", "[the "+which+" script of "+string(resource.URN(ev.URN).Name())+"]", log)
			ev.Error = err.Error()
			p.trace.record(ev)
			return resource.PropertyValue{}, resource.PropertyValue{}, err
		}
		stderrText = log + stderrText
	}
	p.trace.record(ev)
	stdout := resource.NewProperty(env["RCHA_ROOT_PASSWORD"])
	stderr := resource.NewProperty(stderrText)
	if props.ContainsSecrets() {
		stdout, stderr = resource.MakeSecret(stdout), resource.MakeSecret(stderr)
	}
	return stdout, stderr, nil
}

func (p *commandProvider) Create(_ context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	inputs, secretKeys := redactMap(req.Properties)
	keys, _ := environment(req.Properties)
	ev := Event{Op: OpCreate, URN: string(req.URN), Type: string(req.Type), Preview: req.Preview,
		Inputs: inputs, SecretKeys: secretKeys, EnvKeys: keys}
	if req.Preview {
		p.trace.record(ev)
		unknown := resource.MakeComputed(resource.NewProperty(""))
		return plugin.CreateResponse{Properties: outputsFrom(req.Properties,
			map[string]resource.PropertyValue{"stdout": unknown, "stderr": unknown})}, nil
	}
	if err := p.hostDownError(req.Properties); err != nil {
		ev.Error = err.Error()
		p.trace.record(ev)
		return plugin.CreateResponse{}, err
	}
	ev.ID = string(req.URN.Name()) + randomHex(4)
	p.trace.record(ev)
	stdout, stderr, err := p.run(ev, "create", req.Properties)
	if err != nil {
		// pulumi-command returns no ID for a create that failed: nothing
		// is recorded in the state.
		return plugin.CreateResponse{}, err
	}
	return plugin.CreateResponse{ID: resource.ID(ev.ID), Properties: outputsFrom(req.Properties,
		map[string]resource.PropertyValue{"stdout": stdout, "stderr": stderr})}, nil
}

func (p *commandProvider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	p.trace.record(Event{Op: OpRead, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID)})
	return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State}}, nil
}

func (p *commandProvider) Update(_ context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	inputs, secretKeys := redactMap(req.NewInputs)
	keys, _ := environment(req.NewInputs)
	d := diffInputs(req.OldInputs, req.NewInputs, nil, false)
	ev := Event{Op: OpUpdate, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID), Preview: req.Preview,
		Inputs: inputs, SecretKeys: secretKeys, EnvKeys: keys, Changes: keyStrings(d.ChangedKeys)}
	if req.Preview {
		p.trace.record(ev)
		unknown := resource.MakeComputed(resource.NewProperty(""))
		return plugin.UpdateResponse{Properties: outputsFrom(req.NewInputs,
			map[string]resource.PropertyValue{"stdout": unknown, "stderr": unknown})}, nil
	}
	if err := p.hostDownError(req.NewInputs); err != nil {
		ev.Error = err.Error()
		p.trace.record(ev)
		return plugin.UpdateResponse{}, err
	}
	p.trace.record(ev)
	which := "update"
	if stringOf(req.NewInputs, "update") == "" {
		which = "create" // pulumi-command falls back to the create text
	}
	ev.PreviousStdout = stringOf(req.OldOutputs, "stdout") != ""
	stdout, stderr, err := p.run(ev, which, req.NewInputs)
	if err != nil {
		return plugin.UpdateResponse{}, err
	}
	return plugin.UpdateResponse{Properties: outputsFrom(req.NewInputs,
		map[string]resource.PropertyValue{"stdout": stdout, "stderr": stderr})}, nil
}

func (p *commandProvider) Delete(_ context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	ev := Event{Op: OpDelete, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID)}
	p.trace.record(ev)
	if stringOf(req.Inputs, "delete") != "" {
		if _, _, err := p.run(ev, "delete", req.Inputs); err != nil {
			return plugin.DeleteResponse{}, err
		}
	}
	return plugin.DeleteResponse{}, nil
}
