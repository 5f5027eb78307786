package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func noEnv(string) string { return "" }

func TestParseArgs(t *testing.T) {
	o, err := parseArgs([]string{"preview", "--stack", "prod", "--diff", "--expect-no-changes", "--json", "--work-dir", "/x"}, noEnv, nil)
	require.NoError(t, err)
	assert.Equal(t, &options{command: "preview", stack: "prod", workDir: "/x", diff: true, expectNoChanges: true, jsonOut: true, refresh: true, cancelGrace: 2 * time.Minute}, o)

	o, err = parseArgs([]string{"up", "--stack", "s"}, func(k string) string {
		if k == "RCHA_PULUMI_BIN" {
			return "/opt/pulumi"
		}
		return ""
	}, nil)
	require.NoError(t, err)
	assert.Equal(t, "/opt/pulumi", o.pulumiPath, "RCHA_PULUMI_BIN is the --pulumi default")

	o, err = parseArgs([]string{"up", "--stack", "s", "--down", "n1", "--down", "n2,n3"}, noEnv, nil)
	require.NoError(t, err)
	assert.Equal(t, nodeList{"n1", "n2", "n3"}, o.down)
	o, err = parseArgs([]string{"retire", "--stack", "s", "--node", "n1", "--force-reconfig", "--yes"}, noEnv, nil)
	require.NoError(t, err)
	assert.Equal(t, nodeList{"n1"}, o.nodes)
	assert.True(t, o.forceReconfig && o.yes)

	for _, bad := range [][]string{
		nil, {"deploy", "--stack", "s"}, {"up"}, {"up", "--stack", "s", "stray"},
		{"retire", "--stack", "s"},                    // --node is required
		{"preview", "--stack", "s", "--down", "n1"},   // only up takes --down
		{"up", "--stack", "s", "--force-reconfig"},    // only retire takes it
		{"up", "--stack", "s", "--expect-no-changes"}, // only preview and refresh take it
		{"outputs", "--stack", "s", "--diff"},
		{"verify", "--stack", "s", "--show-secrets"},
	} {
		_, err := parseArgs(bad, noEnv, nil)
		var ue usageError
		assert.ErrorAs(t, err, &ue, "%v", bad)
	}
	var out, errOut bytes.Buffer
	assert.Equal(t, ExitUsage, Main([]string{"up"}, Env{Stdout: &out, Stderr: &errOut, Getenv: noEnv}))
	assert.Contains(t, errOut.String(), "--stack is required")
	assert.Equal(t, ExitOK, Main([]string{"help"}, Env{Stdout: &out, Stderr: &errOut, Getenv: noEnv}))
	assert.Contains(t, out.String(), "Exit codes: 0 ok")
}

func TestUsagePrintedOnce(t *testing.T) {
	var out, errOut bytes.Buffer
	assert.Equal(t, ExitUsage, Main([]string{"up", "--stack", "s", "--no-such-flag"}, Env{Stdout: &out, Stderr: &errOut, Getenv: noEnv}))
	assert.Equal(t, 1, strings.Count(errOut.String(), "Usage:"), errOut.String())
	assert.Equal(t, 1, strings.Count(errOut.String(), "flag provided but not defined: -no-such-flag"), errOut.String())
	assert.Contains(t, errOut.String(), "-refresh")
	assert.Empty(t, out.String())

	out.Reset()
	errOut.Reset()
	assert.Equal(t, ExitOK, Main([]string{"up", "-h"}, Env{Stdout: &out, Stderr: &errOut, Getenv: noEnv}))
	assert.Equal(t, 1, strings.Count(out.String(), "Usage: rcha up"), out.String())
	assert.Empty(t, errOut.String())
}

func TestParseStackFacts(t *testing.T) {
	outs := auto.OutputMap{
		"url":      {Value: "https://chat.example.com"},
		"mongoUrl": {Value: "mongodb://rocket:pw@a:27017,b:27018/rocketchat?replicaSet=rsx&authSource=admin", Secret: true},
		"members":  {Value: []any{"a:27017", "b:27018"}},
	}
	cfg := auto.ConfigMap{
		"rocketchat-ha:nodes":          {Value: `[{"name":"a","address":"10.0.0.1"},{"name":"b","address":"10.0.0.2","dockerHost":"ssh://deploy@bastion:2222","ports":{"mongo":27018,"rocketchat":3005}}]`},
		"rocketchat-ha:replicaSetName": {Value: "rsx"},
		"rocketchat-ha:oplogPassword":  {Value: "oplog-pw", Secret: true},
		"rocketchat-ha:rootUrl":        {Value: "https://chat.example.com"},
	}
	f, err := ParseStackFacts(outs, cfg)
	require.NoError(t, err)
	assert.Equal(t, "rsx", f.ReplicaSet)
	assert.Equal(t, "oplog-pw", f.OplogPassword)
	assert.Equal(t, []string{"a:27017", "b:27018"}, f.Members)
	require.Len(t, f.Nodes, 2)
	assert.Equal(t, "ssh://root@10.0.0.1", f.Nodes[0].DockerHost)
	assert.Equal(t, 27017, f.Nodes[0].Ports.Mongo)
	assert.Equal(t, 3000, f.Nodes[0].Ports.RocketChat)
	assert.Equal(t, 3005, f.Nodes[1].Ports.RocketChat)

	_, err = ParseStackFacts(auto.OutputMap{}, cfg)
	assert.ErrorContains(t, err, "mongoUrl, url, members are missing")
	delete(cfg, "rocketchat-ha:nodes")
	_, err = ParseStackFacts(outs, cfg)
	assert.ErrorContains(t, err, "no rocketchat-ha:nodes")

	cfg["rocketchat-ha:nodes"] = auto.ConfigValue{Value: `[{"name":"a","address":"10.0.0.1"},{"name":"b","address":"10.0.0.2","dockerHost":"ssh://deploy@bastion:2222","ports":{"mongo":27018,"rocketchat":3005}}]`}
	f, err = ParseStackFacts(outs, cfg)
	require.NoError(t, err)
	v := verifyOptions{ssh: true, sshUser: "root", insecureIgnoreHostKey: true, keyPassphrase: "", maxLag: 5 * time.Second, timeout: time.Second, lbAddress: "10.0.0.9:443"}
	v.sshKey = generateKeyFile(t)
	plan, closer, err := v.plan(f)
	require.NoError(t, err)
	defer closer()
	assert.Equal(t, "rsx", plan.Expect.ReplicaSet)
	assert.Equal(t, 5*time.Second, plan.Expect.MaxLag)
	require.Len(t, plan.Users, 2)
	assert.Equal(t, "rocket@admin", plan.Users[0].Expected.Name())
	assert.Equal(t, "readWrite@rocketchat", plan.Users[0].Expected.Roles[0].String())
	assert.Equal(t, "oploguser@admin", plan.Users[1].Expected.Name())
	assert.Equal(t, "oplog-pw", plan.Users[1].Password)
	var names, urls []string
	for _, e := range plan.Endpoints {
		names = append(names, e.Name)
		urls = append(urls, e.BaseURL)
	}
	assert.Equal(t, []string{"lb", "node a", "node b"}, names)
	assert.Equal(t, []string{"https://chat.example.com", "http://10.0.0.1:3000", "http://10.0.0.2:3005"}, urls)

	ep, err := nodeSSHEndpoint(f.Nodes[1], "root")
	require.NoError(t, err)
	assert.Equal(t, "deploy@bastion:2222", ep.String())
	ep, err = nodeSSHEndpoint(f.Nodes[0], "root")
	require.NoError(t, err)
	assert.Equal(t, "root@10.0.0.1:22", ep.String())
}

func TestRedactAndCount(t *testing.T) {
	m := redactOutputs(auto.OutputMap{"a": {Value: "x", Secret: true}, "b": {Value: []any{"y"}}}, false)
	assert.Equal(t, map[string]any{"a": Redacted, "b": []any{"y"}}, m)
	m = redactOutputs(auto.OutputMap{"a": {Value: "x", Secret: true}}, true)
	assert.Equal(t, "x", m["a"])
	assert.Equal(t, 0, countChanges(map[string]int{"same": 20, "read": 1}))
	assert.Equal(t, 3, countChanges(map[string]int{"same": 20, "replace": 2, "update": 1}))
	assert.Equal(t, "https://u:xxxxx@h/p", redactURL("https://u:secret@h/p"))
	assert.Equal(t, "file:///x/.pulumi-state", redactURL("file:///x/.pulumi-state"))
	assert.Equal(t, "boom", cliErr(errString("failed to run update: exit status 255\ncode: 255\nstdout: \nstderr: boom\n")))
}

type errString string

func (e errString) Error() string { return string(e) }

func TestProgressLines(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, time.Now(), false)
	ch := make(chan events.EngineEvent, 10)
	done := make(chan struct{})
	urn := "urn:pulumi:dev::rocketchat-ha::rocketchat-ha:index:RocketChatHA$docker:index/container:Container::rc-mongo-a"
	meta := apitype.StepEventMetadata{Op: apitype.OpReplace, URN: urn, Type: "docker:index/container:Container", Keys: []string{"envs"}}
	ch <- events.EngineEvent{EngineEvent: apitype.EngineEvent{ResourcePreEvent: &apitype.ResourcePreEvent{Metadata: meta}}}
	ch <- events.EngineEvent{EngineEvent: apitype.EngineEvent{ResOutputsEvent: &apitype.ResOutputsEvent{Metadata: meta}}}
	ch <- events.EngineEvent{EngineEvent: apitype.EngineEvent{ResourcePreEvent: &apitype.ResourcePreEvent{Metadata: apitype.StepEventMetadata{Op: apitype.OpSame, URN: urn}}}}
	ch <- events.EngineEvent{EngineEvent: apitype.EngineEvent{DiagnosticEvent: &apitype.DiagnosticEvent{URN: urn, Severity: "error", Message: "<{%fg 1%}>container exited<{%reset%}>\n"}}}
	ch <- events.EngineEvent{EngineEvent: apitype.EngineEvent{ResOpFailedEvent: &apitype.ResOpFailedEvent{Metadata: meta}}}
	ch <- events.EngineEvent{EngineEvent: apitype.EngineEvent{SummaryEvent: &apitype.SummaryEvent{ResourceChanges: map[apitype.OpType]int{"replace": 1, "same": 4}}}}
	close(ch)
	p.consume(ch, done)
	<-done
	out := buf.String()
	assert.Contains(t, out, "+- replacing docker:index/container:Container rc-mongo-a (replace on: envs) ...")
	assert.Contains(t, out, "+- replaced docker:index/container:Container rc-mongo-a in ")
	assert.Contains(t, out, "error: rc-mongo-a: container exited\n")
	assert.Contains(t, out, "!  docker:index/container:Container rc-mongo-a: replace failed")
	assert.NotContains(t, out, "<{%")
	assert.Equal(t, map[string]int{"replace": 1, "same": 4}, p.changes())
	assert.Equal(t, []string{"rc-mongo-a: container exited"}, p.errors(), "each error once: the failed step of a resource whose error was reported is not repeated")

	buf.Reset()
	pv := newProgress(&buf, time.Now(), true)
	ch = make(chan events.EngineEvent, 2)
	done = make(chan struct{})
	ch <- events.EngineEvent{EngineEvent: apitype.EngineEvent{ResourcePreEvent: &apitype.ResourcePreEvent{Metadata: apitype.StepEventMetadata{Op: apitype.OpUpdate, URN: urn, Type: "docker:index/container:Container", Diffs: []string{"restart", "memory"}}}}}
	close(ch)
	pv.consume(ch, done)
	assert.Contains(t, buf.String(), "~  would update docker:index/container:Container rc-mongo-a (changed: memory, restart)")
}
