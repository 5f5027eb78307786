package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseBackupArgs(t *testing.T) {
	o, err := parseArgs([]string{"backup", "--stack", "prod"}, noEnv, nil)
	require.NoError(t, err)
	assert.Equal(t, "docker", o.dockerPath)
	o, err = parseArgs([]string{"backups", "--stack", "prod", "--json"}, func(k string) string {
		return map[string]string{"RCHA_DOCKER_BIN": "/opt/docker"}[k]
	}, nil)
	require.NoError(t, err)
	assert.Equal(t, "/opt/docker", o.dockerPath)
	assert.True(t, o.jsonOut)
	o, err = parseArgs([]string{"restore", "--stack", "prod", "--from", "rs0-20261201T020000Z.archive.gz", "--yes", "--ssh", "--skip-http"}, noEnv, nil)
	require.NoError(t, err)
	assert.Equal(t, "rs0-20261201T020000Z.archive.gz", o.from)
	assert.True(t, o.yes)
	assert.True(t, o.verify.ssh, "restore takes verify's flags for its check")

	_, err = parseArgs([]string{"restore", "--stack", "prod"}, noEnv, nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "--from is required")
	_, err = parseArgs([]string{"backup", "--stack", "prod", "--from", "x"}, noEnv, nil)
	require.Error(t, err, "backup takes no --from")
}

func TestConfirmRestore(t *testing.T) {
	var stderr bytes.Buffer
	r := &runner{o: &options{command: "restore"}, env: Env{Stderr: &stderr}}
	assert.False(t, r.confirmRestore("restore x"), "no terminal: refused")
	assert.Contains(t, stderr.String(), "pass --yes")
	r.env.Stdin = strings.NewReader("yes\n")
	assert.False(t, r.confirmRestore("restore x"), "a different answer: refused")
	r.env.Stdin = strings.NewReader("restore x\n")
	assert.True(t, r.confirmRestore("restore x"))
	assert.Contains(t, stderr.String(), `Type "restore x" to go on`)
	r.env.Stdin = nil
	r.o.yes = true
	assert.True(t, r.confirmRestore("restore x"))
}

func TestRootPasswordFromDeployment(t *testing.T) {
	dep := []byte(`{"resources":[
	  {"urn":"urn:pulumi:s::rocketchat-ha::rocketchat-ha:index:RocketChatHA$random:index/randomPassword:RandomPassword::rocketchat-keyfile","type":"random:index/randomPassword:RandomPassword","outputs":{"result":{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","plaintext":"\"KEYFILE\""}}},
	  {"urn":"urn:pulumi:s::rocketchat-ha::rocketchat-ha:index:RocketChatHA$random:index/randomPassword:RandomPassword::rocketchat-mongo-root-password","type":"random:index/randomPassword:RandomPassword","outputs":{"result":{"4dabf18193072939515e22adb298388d":"1b47061264138c4ac30d75fd1eb44270","plaintext":"\"R00tFromState\""}}}]}`)
	got, err := RootPasswordFromDeployment(dep, "rocketchat")
	require.NoError(t, err)
	assert.Equal(t, "R00tFromState", got)
	_, err = RootPasswordFromDeployment(dep, "other")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "the state has no other-mongo-root-password: set mongoRootPassword")
}

func TestBackupCluster(t *testing.T) {
	cfg := auto.ConfigMap{
		"rocketchat-ha:clusterName":          {Value: "chat"},
		"rocketchat-ha:nodes":                {Value: `[{"name":"rocket-1","address":"10.0.0.1"},{"name":"rocket-2","address":"10.0.0.2","dockerHost":"tcp://10.0.0.2:2376"},{"name":"rocket-3","address":"10.0.0.3"}]`},
		"rocketchat-ha:dockerTls":            {Value: `{"caMaterial":"CA","certMaterial":"CERT","keyMaterial":"KEY"}`, Secret: true},
		"rocketchat-ha:backup":               {Value: `{"node":"rocket-2"}`},
		"rocketchat-ha:mongoRootPassword":    {Value: "R00t", Secret: true},
		"rocketchat-ha:healthTimeoutSeconds": {Value: "120"},
	}
	c, sec, cluster, err := BackupCluster("prod", cfg)
	require.NoError(t, err)
	assert.Equal(t, "chat", cluster)
	assert.Equal(t, "R00t", sec.MongoRootPassword)
	assert.Equal(t, "chat-backup-10.0.0.2-2376", c.BackupContainer)
	assert.Equal(t, "rocket-2", c.Backup.Name)
	assert.Equal(t, "tcp://10.0.0.2:2376", c.Backup.DockerHost)
	assert.Equal(t, "CA", c.Backup.CA, "TLS material for a tcp:// host")
	assert.Equal(t, "", c.Nodes[0].CA, "none for ssh://")
	assert.Equal(t, "ssh://root@10.0.0.1", c.Nodes[0].DockerHost)
	assert.Equal(t, "chat-rocketchat-rocket-3", c.Nodes[2].RocketChat)
	assert.Equal(t, "rs0", c.ReplicaSet)
	assert.Equal(t, 120*time.Second, c.HealthTimeout)

	delete(cfg, "rocketchat-ha:backup")
	c, _, _, err = BackupCluster("prod", cfg)
	require.NoError(t, err)
	assert.Equal(t, "rocket-3", c.Backup.Name, "the last node by default")

	cfg["rocketchat-ha:backup"] = auto.ConfigValue{Value: `{"disabled":true}`}
	_, _, _, err = BackupCluster("prod", cfg)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "backups are off")
}
