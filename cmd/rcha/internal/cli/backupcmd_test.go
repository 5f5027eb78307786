package cli

import (
	"bytes"
	"strings"
	"testing"

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
