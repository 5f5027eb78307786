package versions

import (
	"slices"
	"testing"
)

func TestFromImage(t *testing.T) {
	for _, c := range []struct {
		ref  string
		want Version
		ok   bool
		err  bool
	}{
		{"mongo:7.0.16", Version{7, 0}, true, false},
		{"mongo:8.2", Version{8, 2}, true, false},
		{"mongo:8.0.4-noble", Version{8, 0}, true, false},
		{"registry.example.com:5000/mongo:6.0.19", Version{6, 0}, true, false},
		{"registry.rocket.chat/rocketchat/rocket.chat:7.10.1", Version{7, 10}, true, false},
		{"mongo@sha256:0123", Version{}, false, false},
		{"mongo:7.0.16@sha256:0123", Version{}, false, false},
		{"mongo:jammy", Version{}, false, false},
		{"mongo:7", Version{}, false, false},
		{"mongo", Version{}, false, true},
		{"mongo:latest", Version{}, false, true},
		{"registry.example.com:5000/mongo", Version{}, false, true},
	} {
		v, ok, err := FromImage(c.ref)
		if v != c.want || ok != c.ok || (err != nil) != c.err {
			t.Errorf("FromImage(%q) = %v, %v, %v; want %v, %v, error %v", c.ref, v, ok, err, c.want, c.ok, c.err)
		}
	}
}

func TestParse(t *testing.T) {
	for s, want := range map[string]Version{"7.0": {7, 0}, "8.2.1": {8, 2}, "10.12.3-rc1": {10, 12}} {
		if v, err := Parse(s); err != nil || v != want {
			t.Errorf("Parse(%q) = %v, %v", s, v, err)
		}
	}
	for _, s := range []string{"", "7", "x.0", "7.x", "-1.0", "7.-1"} {
		if _, err := Parse(s); err == nil {
			t.Errorf("Parse(%q) succeeded", s)
		}
	}
	if !(Version{6, 0}).Less(Version{7, 0}) || !(Version{8, 0}).Less(Version{8, 2}) || (Version{8, 2}).Less(Version{8, 0}) {
		t.Error("Less")
	}
}

// TestMongoReleases pins the upgrade order: every step is to the next
// entry, sorted, with 8.2 after 8.0 (no 8.1 for self-managed servers).
func TestMongoReleases(t *testing.T) {
	want := []string{"4.4", "5.0", "6.0", "7.0", "8.0", "8.2"}
	if got := MongoReleaseNames(); !slices.Equal(got, want) {
		t.Errorf("MongoReleaseNames() = %v, want %v", got, want)
	}
	for i := 1; i < len(MongoReleases); i++ {
		if !MongoReleases[i-1].Less(MongoReleases[i]) {
			t.Errorf("%v is not before %v", MongoReleases[i-1], MongoReleases[i])
		}
	}
}
