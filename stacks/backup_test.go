package stacks_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
	"github.com/rocketchat-ha/rocketchat-ha/stacks"
)

// TestBackupConfigErrors: bad `backup` settings fail before any resource
// is registered, each error spelled with the config key.
func TestBackupConfigErrors(t *testing.T) {
	for _, c := range []struct {
		backup, want string
		secret       bool
	}{
		{`{"schedule":"0 2 * *"}`, `backup.schedule: "0 2 * *" has 4 fields; want five`, false},
		{`{"schedule":"0 2 * * FRI"}`, `backup.schedule: "0 2 * * FRI": day of week field "FRI": "FRI" is not a number`, false},
		{`{"keep":-2}`, "backup.keep: must be between 1 and 10000 archives, got -2", false},
		{`{"node":"rocket-9"}`, `backup.node: "rocket-9" is not the name of any entry in nodes`, false},
		{`{"metricsPort":3000}`, "backup.metricsPort: 3000 is already used by nodes[2].ports.rocketchat (rocket-3)", false},
		{`{"s3":{"endpoint":"https://s3.example.com","bucket":"b_1","accessKeyId":"a","secretAccessKey":"s"}}`, `backup.s3.bucket: "b_1" is not an S3 bucket name`, true},
		{`{"s3":{"endpoint":"https://s3.example.com","bucket":"bkt"}}`, "backup.s3.accessKeyId: is required with backup.s3", true},
		{`{"s3":{"endpoint":"https://s3.example.com","bucket":"bkt","accessKeyId":"a","secretAccessKey":"s"}}`, "backup.s3.secretAccessKey: is a secret; set it with `pulumi config set --secret --path backup.s3.secretAccessKey", false},
		{`{"shedule":"0 2 * * *"}`, `backup: unknown field "shedule"`, false},
	} {
		cfg := seedConfig()
		cfg["rocketchat-ha:backup"] = c.backup
		secrets := slices.Clone(seedSecrets)
		if c.secret {
			secrets = append(secrets, "rocketchat-ha:backup")
		}
		rec, err := mocktest.Run(t, cfg, secrets, stacks.Program)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("backup %s: error %v, want %q", c.backup, err, c.want)
		}
		if len(rec.Resources) > 0 {
			t.Errorf("backup %s: %d resources registered", c.backup, len(rec.Resources))
		}
	}
}

// TestBackupConfigMapsOntoTheComponent: the settings reach the backup
// container, and the S3 credentials stay secret.
func TestBackupConfigMapsOntoTheComponent(t *testing.T) {
	cfg := seedConfig()
	cfg["rocketchat-ha:backup"] = `{"schedule":"30 3 * * 1-5","keep":14,"node":"rocket-1","metricsPort":9700,` +
		`"s3":{"endpoint":"https://s3.eu-central-1.amazonaws.com","region":"eu-central-1","bucket":"chat-bk","prefix":"prod/","accessKeyId":"AKIA-TEST","secretAccessKey":"S3-SECRET-TEST"}}`
	rec, err := mocktest.Run(t, cfg, append(slices.Clone(seedSecrets), "rocketchat-ha:backup"), stacks.Program)
	if err != nil {
		t.Fatal(err)
	}
	c := rec.Named(t, tContainer, "rocketchat-backup-10.250.250.13")
	env := c.Strings("envs")
	for _, want := range []string{"RCHA_BACKUP_SCHEDULE=30 3 * * 1-5", "RCHA_BACKUP_KEEP=14", "RCHA_BACKUP_METRICS_PORT=9700", "RCHA_BACKUP_INTERVAL_SECONDS=259200"} {
		if !slices.Contains(env, want) {
			t.Errorf("env lacks %q: %v", want, env)
		}
	}
	if ports := c.Objects("ports"); len(ports) != 1 || ports[0]["ip"].StringValue() != "10.250.250.13" {
		t.Errorf("ports %v, want rocket-1's address", ports)
	}
	s3, ok := c.Upload("/etc/rocketchat-ha/backup/s3.json")
	if !ok || !strings.Contains(s3, `"secretAccessKey":"S3-SECRET-TEST"`) || !strings.Contains(s3, `"prefix":"prod/"`) {
		t.Errorf("s3.json %q", s3)
	}
	for path, v := range rec.PlainStrings() {
		if strings.Contains(v, "S3-SECRET-TEST") || strings.Contains(v, "AKIA-TEST") {
			t.Errorf("%s holds an S3 credential in plain text", path)
		}
	}
}
