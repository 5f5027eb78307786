package engine

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// secretSig is the key that marks a secret value in exported state.
const secretSig = "4dabf18193072939515e22adb298388d"

// learnSecrets reads the state with secrets shown and remembers every
// password, keyfile and private key in it: RandomPassword results, the
// password inside any secret mongodb:// URL, secret PEM private keys and
// the content of uploaded key files.
func (l *lab) learnSecrets(t *testing.T) {
	t.Helper()
	if l.noSecretChecks {
		return
	}
	d := l.exportShowingSecrets(t)
	for _, r := range d.Resources {
		urn := string(r.URN)
		if string(r.Type) == providers.RandomPasswordType {
			if s, ok := plaintextOf(r.Outputs["result"]).(string); ok && s != "" {
				l.known["random "+urn] = s
			}
		}
		walkSecrets(r.Outputs, false, func(v any) {
			s, ok := v.(string)
			if !ok {
				return
			}
			if i := strings.Index(s, "mongodb://"); i >= 0 {
				// The URL may sit inside a larger text (an env file).
				raw := s[i:]
				if j := strings.IndexAny(raw, " \t\r\n'\""); j >= 0 {
					raw = raw[:j]
				}
				if u, err := url.Parse(raw); err == nil && u.User != nil {
					if pwd, ok := u.User.Password(); ok && pwd != "" {
						l.known["mongodb url password in "+urn] = pwd
					}
				}
			}
			if strings.Contains(s, "PRIVATE KEY") {
				l.known["private key in "+urn] = s
			}
		})
		if ups, ok := r.Inputs["uploads"].([]any); ok {
			for _, u := range ups {
				m, _ := u.(map[string]any)
				file, _ := plaintextOf(m["file"]).(string)
				content, _ := plaintextOf(m["content"]).(string)
				if strings.Contains(strings.ToLower(file), "key") && content != "" {
					l.known["upload "+file+" in "+urn] = content
				}
			}
		}
	}
}

// plaintextOf unwraps a secret as exported with --show-secrets.
func plaintextOf(v any) any {
	m, ok := v.(map[string]any)
	if !ok || m[secretSig] == nil {
		return v
	}
	raw, _ := m["plaintext"].(string)
	var out any
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return raw
	}
	return plaintextOf(out)
}

// walkSecrets calls fn on every value found inside a secret.
func walkSecrets(v any, inSecret bool, fn func(any)) {
	switch x := v.(type) {
	case map[string]any:
		if x[secretSig] != nil {
			walkSecrets(plaintextOf(x), true, fn)
			return
		}
		for _, e := range x {
			walkSecrets(e, inSecret, fn)
		}
	case []any:
		for _, e := range x {
			walkSecrets(e, inSecret, fn)
		}
	default:
		if inSecret {
			fn(x)
		}
	}
}

// checkSecrets is scenario 8, run after every operation: no known
// password, keyfile or private key appears in plain text in the exported
// state, the trace, the engine's output, or any command text; and command
// texts are not themselves secret (a secret command line would still show
// in `ps` on the machine running it).
func (l *lab) checkSecrets(t *testing.T, res opResult) {
	t.Helper()
	if l.noSecretChecks {
		return
	}
	l.learnSecrets(t)
	// The check is only meaningful if it knows the keyfile and the
	// application's database password.
	for _, want := range []string{"upload ", "mongodb url password"} {
		found := false
		for what := range l.known {
			found = found || strings.HasPrefix(what, want)
		}
		if !found {
			t.Errorf("%s: no %q secret found in state; the secret check would be vacuous", res.name, strings.TrimSpace(want))
		}
	}
	kinds := map[string]int{}
	for what := range l.known {
		kinds[strings.SplitN(what, " ", 2)[0]]++
	}
	t.Logf("%s: checking %d known secrets by kind %v", res.name, len(l.known), kinds)
	_, state := l.export(t)
	var traceText strings.Builder
	for _, e := range res.all {
		b, _ := json.Marshal(e)
		traceText.Write(b)
		traceText.WriteByte('\n')
	}
	places := l.backendFiles(t)
	places["exported state"] = state
	places["provider trace"] = traceText.String()
	places["engine output"] = res.log
	for where, text := range places {
		for what, secret := range l.known {
			if len(secret) >= 6 && strings.Contains(text, secret) {
				t.Errorf("%s: %s appears in plain text in the %s", res.name, what, where)
			}
		}
	}
	l.checkDiagnostics(t, res)
	l.checkDockerHost(t, res)
	for _, r := range l.exportShowingSecrets(t).Resources {
		if !strings.HasPrefix(string(r.Type), "command:") {
			continue
		}
		for _, k := range []string{"create", "update", "delete"} {
			v, ok := r.Inputs[k]
			if !ok {
				continue
			}
			if m, isMap := v.(map[string]any); isMap && m[secretSig] != nil {
				t.Errorf("%s: %s input %q is secret: the command line itself carries a secret", res.name, r.URN, k)
			}
			text := fmt.Sprint(plaintextOf(v))
			for what, secret := range l.known {
				if len(secret) >= 6 && strings.Contains(text, secret) {
					t.Errorf("%s: %s appears in the %s text of %s", res.name, what, k, r.URN)
				}
			}
		}
	}
}

// inspectPrefix starts the docker provider's inspect dump diagnostic.
const inspectPrefix = "[DEBUG] Docker container inspect: {"

// checkDiagnostics: no known secret appears in any diagnostic event of the
// engine's event stream, debug severity included. That stream is what the
// Automation API gives rcha (and any program embedding the component); the
// docker provider writes whole `docker inspect` dumps into it, so a secret
// in a container's environment lands there. The check also asserts that
// the fake's dump reached the stream, so that it is not vacuous.
func (l *lab) checkDiagnostics(t *testing.T, res opResult) {
	t.Helper()
	containerReads := count(res.events, func(e providers.Event) bool {
		return e.Type == providers.ContainerType && (e.Op == providers.OpRead && !e.Gone || e.Op == providers.OpCreate && e.Error == "")
	})
	dumps := 0
	leaked := map[string]string{}
	for _, d := range res.diags {
		if strings.HasPrefix(d.Message, inspectPrefix) {
			dumps++
		}
		for what, secret := range l.known {
			if len(secret) >= 6 && strings.Contains(d.Message, secret) {
				if _, seen := leaked[what]; !seen {
					leaked[what] = fmt.Sprintf("%s diagnostic of %s: %.120q", d.Severity, shortURN(d.URN), d.Message)
				}
			}
		}
	}
	for what, where := range leaked {
		t.Errorf("%s: %s appears in the engine's event stream (%s)", res.name, what, where)
	}
	if containerReads > 0 && dumps == 0 {
		t.Errorf("%s: %d container creates/reads but no %q diagnostic in the event stream: the fake's debug output is not reaching the engine",
			res.name, containerReads, inspectPrefix)
	}
}

// checkDockerHost: on the simulated docker host, no container's
// environment (what `docker inspect` shows to anyone with access to the
// Docker socket) holds a known secret, and no uploaded file whose content
// is secret has group or world permission bits.
func (l *lab) checkDockerHost(t *testing.T, res opResult) {
	t.Helper()
	for _, c := range providers.Containers(l.world, labDockerHost) {
		for _, e := range c.Env {
			for what, secret := range l.known {
				if len(secret) >= 6 && strings.Contains(e, secret) {
					name, _, _ := strings.Cut(e, "=")
					t.Errorf("%s: %s is in the environment of container %s (%s): docker inspect shows it", res.name, what, c.Name, name)
				}
			}
		}
		for _, u := range c.Uploads {
			if u.Secret && u.GroupOrWorldBits() {
				t.Errorf("%s: container %s: uploaded secret file %s has mode %s (owner %d:%d); it must have no group or world bits",
					res.name, c.Name, u.Path, u.Mode, u.UID, u.GID)
			}
		}
	}
}
