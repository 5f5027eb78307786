package cli

import (
	"bytes"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	// rocketPW has characters every escaping changes: / & + " < and a space.
	rocketPW = `S3cr/t&p+w"<x> y`
	rootPW   = "R00tRootRoot"
)

// mongoURL is MONGO_URL as the program builds it: the password
// userinfo-escaped.
func mongoURL(pw string) string {
	u := url.URL{Scheme: "mongodb", User: url.UserPassword("rocket", pw), Host: "node-1:27017,node-2:27017"}
	return u.String() + "/rocketchat?authSource=admin&replicaSet=rs0&w=majority"
}

func TestRedactorForms(t *testing.T) {
	r := NewRedactor()
	r.Add(rocketPW, rootPW, "abc", "") // "abc" is too short to redact as a substring
	mu := mongoURL(rocketPW)
	js, err := json.Marshal(map[string]any{"Env": []string{"MONGO_URL=" + mu, "ROOT=" + rootPW}})
	require.NoError(t, err)
	nested, err := json.Marshal(string(js)) // JSON inside a JSON string
	require.NoError(t, err)
	for name, text := range map[string]string{
		"raw":           "password " + rocketPW + " and " + rootPW,
		"query-escaped": "pw=" + url.QueryEscape(rocketPW),
		"path-escaped":  "/x/" + url.PathEscape(rocketPW),
		"url":           mu,
		"json":          string(js),
		"json-in-json":  string(nested),
	} {
		out := r.String(text)
		assert.NotContains(t, out, rocketPW, name)
		assert.NotContains(t, out, rootPW, name)
		for _, form := range secretForms(rocketPW) {
			assert.NotContains(t, out, form, "%s: form %q", name, form)
		}
		assert.Contains(t, out, Redacted, name)
	}
	assert.Equal(t, "abc stays", r.String("abc stays"), "short values are not redacted as substrings")
	assert.Equal(t, "mongodb://rocket:[secret]@node-1:27017,node-2:27017/rocketchat?authSource=admin&replicaSet=rs0&w=majority",
		r.String(mu), "the URL keeps its shape")
}

func TestRedactorLongestFirst(t *testing.T) {
	r := NewRedactor()
	r.Add("secret", "secret-and-more")
	assert.Equal(t, "x [secret] y [secret]", r.String("x secret-and-more y secret"))
}

func TestRedactorMongoPattern(t *testing.T) {
	r := NewRedactor() // knows no secret: the pattern alone
	for in, want := range map[string]string{
		"MONGO_URL=mongodb://rocket:unknown%2Fpw@h1:27017,h2/db?replicaSet=rs0": "MONGO_URL=mongodb://rocket:[secret]@h1:27017,h2/db?replicaSet=rs0",
		`"mongodb+srv://u:p@cluster.example.com/x"`:                             `"mongodb+srv://u:[secret]@cluster.example.com/x"`,
		"MONGODB://a:b@h":                   "MONGODB://a:[secret]@h",
		"mongodb://nopassword@h:27017":      "mongodb://nopassword@h:27017",
		"mongodb://h1:27017,h2:27017/?a=b":  "mongodb://h1:27017,h2:27017/?a=b",
		"see https://user:pw@example.com/x": "see https://user:pw@example.com/x",
	} {
		assert.Equal(t, want, r.String(in), in)
	}
}

func TestRedactorValue(t *testing.T) {
	r := NewRedactor()
	r.Add(rootPW)
	v := r.Value(map[string]any{"a": []any{"x " + rootPW, 3.0, true}, rootPW: "k"})
	assert.Equal(t, map[string]any{"a": []any{"x " + Redacted, 3.0, true}, Redacted: "k"}, v)
}

func TestRedactWriterSplitWrites(t *testing.T) {
	r := NewRedactor()
	r.Add(rootPW)
	var out bytes.Buffer
	w := NewRedactWriter(&out, r)
	line := "root password is " + rootPW + " and the url " + mongoURL("other-pw") + "\n"
	// Every split point, one byte at a time for the worst case.
	for i := 0; i < len(line); i++ {
		_, err := w.Write([]byte(line[i : i+1]))
		require.NoError(t, err)
	}
	_, err := w.Write([]byte("tail without newline " + rootPW[:5]))
	require.NoError(t, err)
	_, err = w.Write([]byte(rootPW[5:]))
	require.NoError(t, err)
	assert.NotContains(t, out.String(), "tail", "an incomplete line is held back")
	require.NoError(t, w.Flush())
	got := out.String()
	assert.NotContains(t, got, rootPW)
	assert.NotContains(t, got, "other-pw")
	assert.Equal(t, "root password is [secret] and the url mongodb://rocket:[secret]@node-1:27017,node-2:27017/rocketchat?authSource=admin&replicaSet=rs0&w=majority\ntail without newline [secret]", got)
}

func TestStackSecrets(t *testing.T) {
	cfg := auto.ConfigMap{
		"rocketchat-ha:rootUrl":           {Value: "http://chat.example.com"},
		"rocketchat-ha:mongoRootPassword": {Value: rootPW, Secret: true},
		"rocketchat-ha:dockerTls":         {Value: `{"keyMaterial":"-----BEGIN KEY-----x"}`, Secret: true},
	}
	assert.ElementsMatch(t, []string{rootPW, `{"keyMaterial":"-----BEGIN KEY-----x"}`, "-----BEGIN KEY-----x"}, ConfigSecrets(cfg))
	outs := auto.OutputMap{"mongoUrl": {Value: mongoURL(rocketPW), Secret: true}, "url": {Value: "http://x"}}
	assert.Equal(t, []string{mongoURL(rocketPW)}, OutputSecrets(outs))

	// The shape `pulumi stack export --show-secrets` writes.
	dep := `{"manifest":{},"resources":[
	  {"urn":"urn:pulumi:e2e::rocketchat-ha::random:index/randomPassword:RandomPassword::pw","outputs":{"length":32,
	    "result":{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","plaintext":"\"generated-pw-123\""}}},
	  {"urn":"urn:pulumi:e2e::rocketchat-ha::docker:index/container:Container::c","inputs":{
	    "envs":{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","plaintext":"[\"MONGO_URL=mongodb://rocket:generated-pw-123@h/db\",\"TZ=UTC\"]"},
	    "name":"c"}}]}`
	got, err := DeploymentSecrets(json.RawMessage(dep))
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"generated-pw-123", `["MONGO_URL=mongodb://rocket:generated-pw-123@h/db","TZ=UTC"]`,
		"MONGO_URL=mongodb://rocket:generated-pw-123@h/db", "TZ=UTC"}, got)
	_, err = DeploymentSecrets(json.RawMessage(`{`))
	assert.Error(t, err)
}

// inspectDump is a debug diagnostic the way pulumi-docker's bridged
// terraform provider emits it while it waits for a container: the log line
// "[DEBUG] Docker container inspect: <indented JSON of the container>"
// (kreuzwerker/terraform-provider-docker, resourceDockerContainerReadRefreshFunc),
// whose Config.Env holds MONGO_URL with the password. Go's JSON encoder
// writes & as \u0026 there.
func inspectDump(t *testing.T, pw string) string {
	t.Helper()
	container := map[string]any{
		"Id":    "0f6b1c3d7e9a",
		"Name":  "/rocketchat-rocketchat-node-1",
		"State": map[string]any{"Status": "running", "Running": true},
		"Config": map[string]any{
			"Hostname": "0f6b1c3d7e9a",
			"Env": []string{
				"MONGO_URL=" + mongoURL(pw),
				"ROOT_URL=http://chat.example.com",
				"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			},
			"Image": "registry.rocket.chat/rocketchat/rocket.chat:7.10.0",
		},
	}
	b, err := json.MarshalIndent(container, "", "\t")
	require.NoError(t, err)
	return "2026/11/28 14:12:18 [DEBUG] Docker container inspect: " + string(b)
}

func TestProgressDropsDebugDiagnostics(t *testing.T) {
	urn := "urn:pulumi:dev::rocketchat-ha::rocketchat-ha:index:RocketChatHA$docker:index/container:Container::rocketchat-rocketchat-node-1"
	dump := inspectDump(t, rocketPW)
	// The password as it sits in the dump: userinfo-escaped, then JSON-escaped.
	require.Contains(t, dump, `MONGO_URL=mongodb://rocket:`+jsonEscape(strings.TrimPrefix(url.UserPassword("", rocketPW).String(), ":"), true)+`@`)
	evs := []apitype.EngineEvent{
		{DiagnosticEvent: &apitype.DiagnosticEvent{URN: urn, Severity: "debug", Message: dump + "\n"}},
		{DiagnosticEvent: &apitype.DiagnosticEvent{URN: urn, Severity: "info", Message: "[INFO] Waiting for container to run\n"}},
		{DiagnosticEvent: &apitype.DiagnosticEvent{URN: urn, Severity: "info#err", Message: "reconciler: primary is node-1\n"}},
		{DiagnosticEvent: &apitype.DiagnosticEvent{URN: urn, Severity: "warning", Message: "slow\n"}},
		{DiagnosticEvent: &apitype.DiagnosticEvent{URN: urn, Severity: "bogus-level", Message: "unknown severities are treated as debug\n"}},
	}
	run := func(debug bool, red *Redactor) string {
		var buf bytes.Buffer
		w := NewRedactWriter(&buf, red)
		p := newProgress(w, time.Now(), false)
		p.debug = debug
		for _, e := range evs {
			p.handle(events.EngineEvent{EngineEvent: e})
		}
		require.NoError(t, w.Flush())
		return buf.String()
	}

	out := run(false, NewRedactor())
	assert.NotContains(t, out, "Docker container inspect", "debug diagnostics are dropped without --debug")
	assert.NotContains(t, out, "unknown severities")
	assert.NotContains(t, out, "MONGO_URL")
	assert.Contains(t, out, "rocketchat-rocketchat-node-1: [INFO] Waiting for container to run")
	assert.Contains(t, out, "reconciler: primary is node-1", "info#err is the program's stderr: shown")
	assert.Contains(t, out, "warning: rocketchat-rocketchat-node-1: slow")

	// With --debug the dump is shown, redacted: by the known secret, and by
	// the mongodb:// pattern when the secret is not known (a first up).
	known := NewRedactor()
	known.Add(rocketPW)
	for name, red := range map[string]*Redactor{"known": known, "pattern only": NewRedactor()} {
		out = run(true, red)
		assert.Contains(t, out, "debug: rocketchat-rocketchat-node-1: 2026/11/28 14:12:18 [DEBUG] Docker container inspect: {", name)
		assert.Contains(t, out, `"MONGO_URL=mongodb://rocket:[secret]@node-1:27017,node-2:27017/rocketchat?authSource=admin\u0026replicaSet=rs0\u0026w=majority"`, name)
		for _, form := range secretForms(rocketPW) {
			assert.NotContains(t, out, form, "%s: form %q", name, form)
		}
	}
}

func TestEventStreamWait(t *testing.T) {
	// The SDK closes the channel: wait returns once every event is handled.
	var buf bytes.Buffer
	p := newProgress(&buf, time.Now(), false)
	s := p.stream()
	s.ch <- events.EngineEvent{EngineEvent: apitype.EngineEvent{SummaryEvent: &apitype.SummaryEvent{ResourceChanges: map[apitype.OpType]int{"same": 2}}}}
	close(s.ch)
	start := time.Now()
	s.wait()
	assert.Equal(t, map[string]int{"same": 2}, p.changes())

	// The CLI never opened its event stream (it failed first): nothing will
	// close the channel, and wait must not sit out a timer.
	p = newProgress(&buf, time.Now(), false)
	s = p.stream()
	s.wait()
	assert.Less(t, time.Since(start), time.Second, "no timer")
	// A late send from the SDK does not block: the channel is drained.
	sent := make(chan struct{})
	go func() {
		s.ch <- events.EngineEvent{}
		close(sent)
	}()
	select {
	case <-sent:
	case <-time.After(5 * time.Second):
		t.Fatal("a send after wait blocked")
	}
}

func TestAppliedChanges(t *testing.T) {
	var buf bytes.Buffer
	p := newProgress(&buf, time.Now(), false)
	ev := func(op apitype.OpType, name string) events.EngineEvent {
		m := apitype.StepEventMetadata{Op: op, URN: "urn:pulumi:s::p::t::" + name, Type: "t", New: &apitype.StepEventStateMetadata{}}
		return events.EngineEvent{EngineEvent: apitype.EngineEvent{ResOutputsEvent: &apitype.ResOutputsEvent{Metadata: m}}}
	}
	for _, e := range []events.EngineEvent{
		ev(apitype.OpSame, "a"), ev(apitype.OpCreate, "b"),
		// a (delete-before-)replacement that succeeded
		ev(apitype.OpDeleteReplaced, "c"), ev(apitype.OpReplace, "c"), ev(apitype.OpCreateReplacement, "c"),
		// one whose old resource went but whose new one failed
		ev(apitype.OpDeleteReplaced, "d"), ev(apitype.OpReplace, "d"),
		ev(apitype.OpRefresh, "e"),
	} {
		p.handle(e)
	}
	p.handle(events.EngineEvent{EngineEvent: apitype.EngineEvent{SummaryEvent: &apitype.SummaryEvent{ResourceChanges: map[apitype.OpType]int{"replace": 2, "create": 1, "same": 1}}}})
	assert.Equal(t, map[string]int{"same": 1, "create": 1, "replace": 1, "delete": 1}, p.applied())
	assert.Equal(t, 3, countChanges(p.applied()))
}

func TestCLIMessage(t *testing.T) {
	err := errString("failed to run update: exit status 255\ncode: 255\nstdout: \nstderr: error: error: constructing secrets manager: incorrect passphrase\n")
	assert.Equal(t, "constructing secrets manager: incorrect passphrase", cliMessage(err))
	assert.Equal(t, "boom", cliMessage(errString("error: boom")))
	assert.Equal(t, "x", trimErrorPrefix("error: error: x"))
}
