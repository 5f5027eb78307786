package mongosh_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// componentExporterUser is the monitoring exporter's user exactly as the
// component puts it into the full replica-set step's desired state.
func componentExporterUser(t *testing.T) replicaset.DesiredUser {
	t.Helper()
	rec, err := mocktest.Run(t, nil, nil, func(ctx *pulumi.Context) error {
		_, err := components.NewRocketChatHA(ctx, "chat", &components.RocketChatHAArgs{
			Nodes:   []components.Node{{Name: "rocket-1", Address: "10.250.250.11"}},
			RootURL: pulumi.String("https://chat.example.test"),
		})
		return err
	})
	require.NoError(t, err)
	env := mocktest.Unwrap(rec.Named(t, "command:local:Command", "chat-replicaset").Inputs["environment"]).ObjectValue()
	var d replicaset.DesiredState
	require.NoError(t, json.Unmarshal([]byte(mocktest.Unwrap(env["RCHA_DESIRED"]).StringValue()), &d))
	for _, u := range d.Users {
		if u.User == components.ExporterUser {
			return u
		}
	}
	t.Fatalf("no %s user in the desired state: %+v", components.ExporterUser, d.Users)
	return replicaset.DesiredUser{}
}

// TestMongoshExporterUser: the simulation (which knows MongoDB's built-in
// roles and refuses others) creates the exporter's user with exactly
// clusterMonitor@admin and read@local, changes nothing on a rerun, and
// rotates its password in place.
func TestMongoshExporterUser(t *testing.T) {
	exporter := componentExporterUser(t)
	c := newCluster(t, 3, nil)
	s := pw(1)
	d := desired(3, s, 60)
	d.Users = append(d.Users, exporter)
	c.mustRun(d, s.root, "")
	st := c.assertConverged(d, s.root)
	var found *simUser
	for i, u := range st.Users {
		if u.User == components.ExporterUser {
			found = &st.Users[i]
		}
	}
	require.NotNil(t, found, "users %v", st.Users)
	assert.Equal(t, "admin", found.DB)
	var roles []string
	for _, r := range found.Roles {
		roles = append(roles, r.Role+"@"+r.DB)
	}
	slices.Sort(roles)
	assert.Equal(t, []string{"clusterMonitor@admin", "read@local"}, roles)
	assert.Contains(t, ops(writesOf(st, c.lastRun())), "createUser exporter@admin")
	c.assertNoWritesOnRerun(d, s.root, s.root)

	d.Users[len(d.Users)-1].Password = "rotated-exporter-password-1234567"
	c.mustRun(d, s.root, s.root)
	c.assertConverged(d, s.root)
	assert.Equal(t, []string{"updateUser exporter@admin pwd"}, ops(writesOf(c.read(), c.lastRun())))
}
