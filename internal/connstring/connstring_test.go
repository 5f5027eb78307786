package connstring

import (
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
	"pgregory.net/rapid"
)

func TestMongoURLSeed(t *testing.T) {
	got, err := MongoURL{User: "rocket", Password: "password", Hosts: []string{"rocket-1:27017", "rocket-2:27017", "rocket-3:27017"},
		Database: "rocketchat", AuthSource: "admin", ReplicaSet: "rs0", Majority: true}.String()
	if err != nil {
		t.Fatal(err)
	}
	want := "mongodb://rocket:password@rocket-1:27017,rocket-2:27017,rocket-3:27017/rocketchat?authSource=admin&replicaSet=rs0&w=majority"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

// Any password, whatever its characters, round-trips through the driver's
// parser unchanged.
func TestMongoURLAnyPassword(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		pw := rapid.StringN(1, 64, -1).Draw(t, "password")
		s, err := MongoURL{User: "rocket", Password: pw, Hosts: []string{"a:1", "b:2"}, Database: "rocketchat",
			AuthSource: "admin", ReplicaSet: "rs0", Majority: true}.String()
		if err != nil {
			t.Fatalf("password %q rejected: %v", pw, err)
		}
		cs, err := connstring.ParseAndValidate(s)
		if err != nil || cs.Password != pw {
			t.Fatalf("round trip of %q: %q, %v", pw, cs.Password, err)
		}
	})
}

func TestMongoURLErrorsHidePassword(t *testing.T) {
	_, err := MongoURL{User: "rocket", Password: "s3cr3t", Hosts: []string{"bad host:x"}, Database: "d"}.String()
	if err == nil {
		t.Fatal("a bad host was accepted")
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Errorf("error reveals the password: %v", err)
	}
	if _, err := (MongoURL{User: "rocket"}).String(); err == nil {
		t.Error("no hosts accepted")
	}
}
