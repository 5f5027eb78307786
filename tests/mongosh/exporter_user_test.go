package mongosh_test

import (
	"slices"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMongoshExporterUser: the simulation (which knows MongoDB's built-in
// roles and refuses others) creates the exporter's user with exactly
// clusterMonitor@admin and read@local, changes nothing on a rerun, and
// rotates its password in place.
func TestMongoshExporterUser(t *testing.T) {
	exporter := componentUser(t, components.ExporterUser)
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
