package components_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
)

// TestBackupOnTheChosenNode: the backup container, its image and its
// retained archive volume are on the chosen node's Docker host (the last
// node by default), the container mounts the volume and publishes the
// metrics port on the node's private address only.
func TestBackupOnTheChosenNode(t *testing.T) {
	for _, c := range []struct {
		node, want, host string
	}{{"", "rocket-3", "10.250.250.13"}, {"rocket-1", "rocket-1", "10.250.250.11"}} {
		for _, del := range []bool{false, true} {
			rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
				Backup: components.BackupArgs{Node: c.node}, DeleteDataOnDestroy: del})
			prov := rec.URNOf(t, tProvider, "chat-docker-"+c.want)
			for _, r := range []mocktest.Resource{rec.Named(t, tContainer, "chat-backup-"+c.host), rec.Named(t, tImage, "chat-backup-"+c.host+"-image"), rec.Named(t, tVolume, "chat-backups-"+c.host)} {
				if !strings.HasPrefix(r.Req.GetProvider(), prov+"::") {
					t.Errorf("node %q: %s is on %q, want %s's provider", c.node, r.Name, r.Req.GetProvider(), c.want)
				}
			}
			vol := rec.Named(t, tVolume, "chat-backups-"+c.host)
			if vol.Req.GetRetainOnDelete() == del {
				t.Errorf("deleteDataOnDestroy=%v: the archive volume has retainOnDelete=%v", del, vol.Req.GetRetainOnDelete())
			}
			ctr := rec.Named(t, tContainer, "chat-backup-"+c.host)
			vols := ctr.Objects("volumes")
			if len(vols) != 1 || vols[0]["volumeName"].StringValue() != "chat-backups-"+c.host || vols[0]["containerPath"].StringValue() != components.BackupDir {
				t.Errorf("backup container volumes %v", vols)
			}
			if !slices.Contains(ctr.Req.GetDependencies(), vol.URN) {
				t.Errorf("the backup container does not wait for its volume")
			}
			// Like every change, it waits for the replica-set steps (the
			// prune step's checks: every host answers, the upgrade path),
			// and its user exists when it starts.
			full := rec.URNOf(t, tCommand, "chat-replicaset")
			for _, r := range []mocktest.Resource{ctr, vol, rec.Named(t, tImage, "chat-backup-"+c.host+"-image")} {
				if !slices.Contains(r.Req.GetDependencies(), full) {
					t.Errorf("%s does not wait for the full replica-set step", r.Name)
				}
			}
			ports := ctr.Objects("ports")
			addr := map[string]string{"rocket-1": "10.250.250.11", "rocket-3": "10.250.250.13"}[c.want]
			if len(ports) != 1 || ports[0]["internal"].NumberValue() != components.DefaultBackupMetricsPort || ports[0]["ip"].StringValue() != addr {
				t.Errorf("backup ports %v, want %d on %s", ports, components.DefaultBackupMetricsPort, addr)
			}
			if img := rec.Named(t, tImage, "chat-backup-"+c.host+"-image").String("name"); img != components.DefaultMongoImage {
				t.Errorf("backup image %q, want the cluster's mongo image", img)
			}
			env := ctr.Strings("envs")
			for _, want := range []string{"RCHA_BACKUP_SCHEDULE=0 2 * * *", "RCHA_BACKUP_KEEP=7", "RCHA_BACKUP_RS=rs0",
				"RCHA_BACKUP_HOSTS=rocket-1:27017,rocket-2:27017,rocket-3:27017", "RCHA_BACKUP_USER=backup", "RCHA_BACKUP_INTERVAL_SECONDS=86400"} {
				if !slices.Contains(env, want) {
					t.Errorf("backup env lacks %q: %v", want, env)
				}
			}
		}
	}
}

// TestBackupSecretsStaySecret: the backup user's password (generated once)
// and the S3 credentials reach the container only as secret uploads, and
// appear in no plain input anywhere.
func TestBackupSecretsStaySecret(t *testing.T) {
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
		Backup: components.BackupArgs{S3: &components.BackupS3{Endpoint: "https://s3.example.com", Bucket: "bkt",
			AccessKeyID: pulumi.String("AKID-PLAIN-IN"), SecretAccessKey: pulumi.String("SECRET-PLAIN-IN")}}})
	pw := rec.Named(t, tRandom, "chat-backup-password")
	if pw.Inputs["length"].NumberValue() != 32 {
		t.Errorf("backup password length %v", pw.Inputs["length"])
	}
	ctr := rec.Named(t, tContainer, "chat-backup-10.250.250.13")
	var password string
	for _, u := range ctr.Objects("uploads") {
		file := mocktest.Unwrap(u["file"]).StringValue()
		if !strings.HasSuffix(file, ".yaml") && !strings.HasSuffix(file, ".json") {
			continue
		}
		if !mocktest.Secret(u["content"]) {
			t.Errorf("%s is uploaded in plain text", file)
		}
		if perm := mocktest.Unwrap(u["permissions"]).StringValue(); perm != "0400" {
			t.Errorf("%s has mode %s", file, perm)
		}
		content := mocktest.Unwrap(u["content"]).StringValue()
		if strings.HasSuffix(file, "mongodump.yaml") {
			if err := json.Unmarshal([]byte(strings.TrimPrefix(strings.TrimSpace(content), "password: ")), &password); err != nil {
				t.Fatalf("mongodump.yaml %q: %v", content, err)
			}
		} else {
			var s3 map[string]string
			if err := json.Unmarshal([]byte(content), &s3); err != nil {
				t.Fatal(err)
			}
			if s3["accessKeyId"] != "AKID-PLAIN-IN" || s3["secretAccessKey"] != "SECRET-PLAIN-IN" || s3["bucket"] != "bkt" || s3["region"] != "us-east-1" {
				t.Errorf("s3.json %v", s3)
			}
		}
	}
	if len(password) != 32 {
		t.Fatalf("backup password %q", password)
	}
	for path, v := range rec.PlainStrings() {
		for _, s := range []string{password, "AKID-PLAIN-IN", "SECRET-PLAIN-IN"} {
			if strings.Contains(v, s) {
				t.Errorf("%s holds a secret in plain text", path)
			}
		}
	}
	// The full replica-set step creates the user with exactly its role,
	// with the same password.
	env := mocktest.Unwrap(rec.Named(t, tCommand, "chat-replicaset").Inputs["environment"]).ObjectValue()
	var d replicaset.DesiredState
	if err := json.Unmarshal([]byte(mocktest.Unwrap(env["RCHA_DESIRED"]).StringValue()), &d); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, u := range d.Users {
		if u.User == components.BackupUser {
			found = true
			if u.DB != "admin" || len(u.Roles) != 1 || u.Roles[0] != (replicaset.Role{Role: "backup", DB: "admin"}) || u.Password != password {
				t.Errorf("backup user %+v", u)
			}
		}
	}
	if !found {
		t.Errorf("the full replica-set step has no backup user: %+v", d.Users)
	}
}

func TestBackupDisabled(t *testing.T) {
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
		Backup: components.BackupArgs{Disabled: true}})
	for _, r := range rec.Resources {
		if strings.Contains(r.Name, "backup") {
			t.Errorf("backups are off, yet %s %s is registered", r.Type, r.Name)
		}
	}
}

// TestBackupValidation: bad settings fail before anything is registered,
// each error naming the setting.
func TestBackupValidation(t *testing.T) {
	for _, c := range []struct {
		b    components.BackupArgs
		want string
	}{
		{components.BackupArgs{Schedule: "0 25 * * *"}, `Backup.Schedule: "0 25 * * *": hour field "25": 25 is out of range 0-23`},
		{components.BackupArgs{Schedule: "daily"}, `Backup.Schedule: "daily" has 1 fields; want five`},
		{components.BackupArgs{Keep: -1}, "Backup.Keep: must be between 1 and 10000 archives, got -1"},
		{components.BackupArgs{Node: "rocket-9"}, `Backup.Node: "rocket-9" is not the name of any entry in Nodes`},
		{components.BackupArgs{MetricsPort: 27017}, "Backup.MetricsPort: 27017 is already used by Nodes[2].Ports.Mongo (rocket-3)"},
		{components.BackupArgs{MetricsPort: 80, Node: "rocket-1"}, "Backup.MetricsPort: 80 is already used by the load balancer on rocket-1"},
		{components.BackupArgs{MetricsPort: 70000}, "Backup.MetricsPort: 70000 is not a TCP port"},
		{components.BackupArgs{S3: &components.BackupS3{Bucket: "b", AccessKeyID: pulumi.String("a"), SecretAccessKey: pulumi.String("s")}}, "Backup.S3.Endpoint: is required"},
		{components.BackupArgs{S3: &components.BackupS3{Endpoint: "s3.example.com", Bucket: "bkt", AccessKeyID: pulumi.String("a"), SecretAccessKey: pulumi.String("s")}}, `Backup.S3.Endpoint: "s3.example.com" is not an http(s) URL`},
		{components.BackupArgs{S3: &components.BackupS3{Endpoint: "https://s3.example.com/bkt", Bucket: "bkt", AccessKeyID: pulumi.String("a"), SecretAccessKey: pulumi.String("s")}}, "must be the bare endpoint"},
		{components.BackupArgs{S3: &components.BackupS3{Endpoint: "https://s3.example.com", Bucket: "Bad_Bucket", AccessKeyID: pulumi.String("a"), SecretAccessKey: pulumi.String("s")}}, `Backup.S3.Bucket: "Bad_Bucket" is not an S3 bucket name`},
		{components.BackupArgs{S3: &components.BackupS3{Endpoint: "https://s3.example.com", Bucket: "bkt", Prefix: "/x", AccessKeyID: pulumi.String("a"), SecretAccessKey: pulumi.String("s")}}, "Backup.S3.Prefix"},
		{components.BackupArgs{S3: &components.BackupS3{Endpoint: "https://s3.example.com", Bucket: "bkt"}}, "Backup.S3.AccessKeyID: is required with Backup.S3"},
	} {
		rec, err := run(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"), Backup: c.b})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: error %v, want %q", c.b, err, c.want)
		}
		if rec != nil && len(rec.Resources) > 0 {
			t.Errorf("%+v: %d resources registered before the error", c.b, len(rec.Resources))
		}
	}
	// Disabled: nothing is checked.
	if _, err := run(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"),
		Backup: components.BackupArgs{Disabled: true, Schedule: "bad"}}); err != nil {
		t.Errorf("disabled backups with a bad schedule: %v", err)
	}
}

// TestBackupOnANodeThatIsDown: with the backup node down nothing is
// registered on it, and its fingerprint still covers the backup resources.
func TestBackupOnANodeThatIsDown(t *testing.T) {
	base := components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"), Unreachable: []string{"rocket-3"}}
	rec := mustRun(t, &base)
	for _, r := range rec.Resources {
		if strings.Contains(r.Name, "backup") && r.Type != tRandom {
			t.Errorf("backup node is down, yet %s %s is registered", r.Type, r.Name)
		}
	}
	other := base
	other.Backup.Keep = 3
	fp := func(a components.RocketChatHAArgs) map[string]string { return fingerprints(t, &a) }
	a, b := fp(base), fp(other)
	if a["rocket-3"] == b["rocket-3"] {
		t.Error("a backup change does not change the down node's fingerprint")
	}
	if a["rocket-1"] != b["rocket-1"] {
		t.Error("a backup change on rocket-3 changes rocket-1's fingerprint")
	}
}

// TestNamesRchaUses: the names rcha's backup commands derive are the
// component's.
func TestNamesRchaUses(t *testing.T) {
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(2), RootURL: pulumi.String("https://c.example.com")})
	rec.Named(t, tContainer, components.RocketChatContainerName("chat", "rocket-2"))
	rec.Named(t, tContainer, components.BackupContainerName("chat", "ssh://root@10.250.250.12"))
	rec.Named(t, tVolume, components.BackupVolumeName("chat", "ssh://root@10.250.250.12"))
	rec.Named(t, tRandom, components.RootPasswordResourceName("chat"))
	c := rec.Named(t, tContainer, components.BackupContainerName("chat", "ssh://root@10.250.250.12"))
	if _, ok := c.Upload(components.BackupRunScript); !ok {
		t.Errorf("the backup container has no %s", components.BackupRunScript)
	}
}

func TestHostKey(t *testing.T) {
	for in, want := range map[string]string{
		"ssh://root@10.250.250.17":     "10.250.250.17",
		"ssh://deploy@Rocket-3:2222":   "rocket-3-2222",
		"tcp://10.0.0.2:2376":          "10.0.0.2-2376",
		"unix:///var/run/docker.sock":  "var-run-docker.sock",
		"unix:///run/rcha/node-1.sock": "run-rcha-node-1.sock",
	} {
		if got := components.HostKey(in); got != want {
			t.Errorf("HostKey(%q) = %q, want %q", in, got, want)
		}
	}
}
