package engine

import (
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// TestUnknownConfigKeyRefused: a mistyped key under the project's namespace
// fails the real engine's `up` before anything is created, and the error
// names the key and the closest valid one.
func TestUnknownConfigKeyRefused(t *testing.T) {
	l := newLab(t, "typo", labProgram, repoProject)
	cfg := devConfig(1, rocketImageV1, mongoImageV1, false)
	cfg["replicaSetNme"] = "rs9"
	l.setConfig(t, cfg, nil)
	res, err := l.tryUp(t, "up-with-typo")
	if err == nil {
		t.Fatal("up accepted rocketchat-ha:replicaSetNme")
	}
	want := "replicaSetNme: unknown setting; did you mean replicaSetName?"
	if !strings.Contains(err.Error(), want) && !strings.Contains(res.log, want) {
		t.Errorf("the error does not say %q:\n%v\n%s", want, err, tail(res.log, 30))
	}
	for i, e := range res.events {
		if e.Op == providers.OpCreate || e.Op == providers.OpUpdate {
			t.Errorf("a resource was created or updated before the error: %s", describe(res.events, i))
		}
	}
}
