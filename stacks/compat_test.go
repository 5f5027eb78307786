package stacks

import (
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/components"
)

func TestCheckImagePair(t *testing.T) {
	rc := func(v string) string { return "registry.rocket.chat/rocketchat/rocket.chat:" + v }
	cases := []struct {
		rc, mongo, err string
	}{
		{components.DefaultRocketChatImage, components.DefaultMongoImage, ""},
		{rc("6.13.1"), "mongo:6.0.19", ""},
		{rc("6.13.1"), "mongo:4.4.29", "need mongosh"},
		{rc("6.13.1"), "mongo:7.0.16", "runs on MongoDB 4.4, 5.0, 6.0"},
		{rc("7.0.0"), "mongo:6.0.19", ""},
		{rc("7.12.2"), "mongo:7.0.16", ""},
		{rc("7.12.2"), "mongo:5.0.30", "need mongosh"},
		{rc("8.0.1"), "mongo:8.2.1", ""},
		{rc("8.1.0"), "mongo:8.0.4", "runs on MongoDB 8.2"},
		{rc("8.2.0"), "mongo:8.0.4", ""},
		{rc("8.9.1"), "mongo:8.2.1", ""},
		{rc("8.9.1"), "mongo:7.0.16", "needs MongoDB 8.0 or newer"},
		{rc("5.4.0"), "mongo:6.0.19", "not in the compatibility matrix"},
		{rc("latest"), "mongo:7.0.16", "is not pinned"},
		{"rocket.chat", "mongo:7.0.16", "is not pinned"},
		{rc("7.10.0"), "mongo", "is not pinned"},
		{rc("custom-build"), "mongo:7.0.16", ""},
		{rc("7.10.0"), "mongo@sha256:0123456789abcdef", ""},
		{"localhost:5000/rocket.chat:7.10.0", "mongo:7.0.16-jammy", ""},
	}
	for _, c := range cases {
		err := CheckImagePair(c.rc, c.mongo)
		switch {
		case c.err == "" && err != nil:
			t.Errorf("%s + %s: unexpected error %v", c.rc, c.mongo, err)
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("%s + %s: error %v, want %q", c.rc, c.mongo, err, c.err)
		}
	}
}
