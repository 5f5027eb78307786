package mongosh_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
)

// TestMongoshBackupUserGetsExactlyItsRole runs the reconciler under the
// simulation, which knows MongoDB's built-in roles, with the component's
// backup user: it is created with the backup role on admin and nothing
// else, its password rotates in place, and a rerun changes nothing. The
// same role on another database is refused as a real mongod refuses it.
func TestMongoshBackupUserGetsExactlyItsRole(t *testing.T) {
	bu := componentUser(t, components.BackupUser)
	require.Equal(t, []replicaset.Role{{Role: "backup", DB: "admin"}}, bu.Roles)
	require.Equal(t, "admin", bu.DB)

	c := newCluster(t, 3, nil)
	s := pw(1)
	d := desired(3, s, 60)
	bu.Password = "Bkup-pw-gen1-Qz"
	d.Users = append(d.Users, bu)
	c.mustRun(d, s.root, "")
	st := c.assertConverged(d, s.root)
	var got *simUser
	for i := range st.Users {
		if st.Users[i].User == components.BackupUser {
			got = &st.Users[i]
		}
	}
	require.NotNil(t, got, "users: %+v", st.Users)
	assert.Equal(t, "admin", got.DB)
	assert.Equal(t, []replicaset.Role{{Role: "backup", DB: "admin"}}, got.Roles, "exactly the backup role")
	assert.Equal(t, bu.Password, got.Pwd)
	assert.Contains(t, ops(writesOf(st, 0)), "createUser backup@admin")
	c.assertNoWritesOnRerun(d, s.root, s.root)

	// Rotation: the backup password changes in place.
	d.Users[len(d.Users)-1].Password = "Bkup-pw-gen2-Rt"
	c.mustRun(d, s.root, s.root)
	c.assertConverged(d, s.root)
	assert.Equal(t, []string{"updateUser backup@admin pwd"}, ops(writesOf(c.read(), c.lastRun())))

	// The simulation refuses the role where MongoDB has none.
	bad := d
	bad.Users = append(append([]replicaset.DesiredUser{}, d.Users[:len(d.Users)-1]...),
		replicaset.DesiredUser{User: "backup2", DB: "admin", Password: "Bkup-pw-gen3-Uv", Roles: []replicaset.Role{{Role: "backup", DB: "rocketchat"}}})
	r := c.run(bad, s.root, s.root, 0)
	assert.NotEqual(t, 0, r.code, r.out)
	assert.Contains(t, r.out, "Could not find role: backup@rocketchat")
}
