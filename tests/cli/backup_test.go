package cli_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

// Stand-ins for the tools of the backup container, for the end-to-end
// test: they run on this machine through the stand-in docker CLI's exec.
const (
	e2eMongodump = `#!/bin/sh
for a in "$@"; do case "$a" in --archive=*) printf 'e2e dump\n' | gzip >"${a#--archive=}" ;; esac; done
`
	e2eMongorestore = `#!/bin/sh
for a in "$@"; do
  case "$a" in
    --archive=*) gzip -dc "${a#--archive=}" >"$E2E/restored" ;;
    --config=*) cp "${a#--config=}" "$E2E/restore-config" ;;
  esac
done
printf '%s\n' "$*" >"$E2E/restore-args"
`
	e2eMongosh = "#!/bin/sh\nexit 1\n"
)

// TestBackupCommands runs rcha backup, backups and restore end to end on
// a stack deployed under the engine lab: rcha reads the nodes and the
// backup container from the stack's config and the root password from its
// state, and drives the stand-in docker CLI, whose exec runs the job's
// real backup-run.sh here with stand-in mongodump and mongorestore.
func TestBackupCommands(t *testing.T) {
	p := newProject(t)
	s := p.stack
	up := p.rcha("up", "--stack", s, "--json")
	require.Equal(t, 0, up.code, "%s", up)

	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	lib := filepath.Join(dir, "root", components.BackupLibDir)
	archives := filepath.Join(dir, "backups")
	for _, d := range []string{bin, lib, archives} {
		require.NoError(t, os.MkdirAll(d, 0o755))
	}
	testenv.InstallFakeDocker(t, bin)
	for name, text := range map[string]string{"mongodump": e2eMongodump, "mongorestore": e2eMongorestore, "mongosh": e2eMongosh} {
		require.NoError(t, os.WriteFile(filepath.Join(bin, name), []byte(text), 0o755))
	}
	script, err := os.ReadFile(filepath.Join(repoRoot(t), "components", "backup-run.sh"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(lib, "backup-run.sh"), script, 0o444))
	require.NoError(t, os.WriteFile(filepath.Join(lib, "mongodump.yaml"), []byte("password: \"x\"\n"), 0o400))
	calls := filepath.Join(dir, "calls")
	var containers []string
	for i := 1; i <= 3; i++ {
		containers = append(containers, "rocketchat-rocketchat-node-"+string(rune('0'+i)))
	}
	containers = append(containers, components.BackupContainerName("rocketchat", "unix:///var/run/docker.sock"))
	p.env = append(p.env,
		"PATH="+bin+string(os.PathListSeparator)+binDir+string(os.PathListSeparator)+os.Getenv("PATH"),
		"RCHA_FAKE_EXEC_ROOT="+filepath.Join(dir, "root"),
		"RCHA_FAKE_DOCKER_LOG="+filepath.Join(dir, "exec.log"),
		"RCHA_FAKE_DOCKER_CALLS="+calls,
		"RCHA_FAKE_CONTAINERS="+strings.Join(containers, " "),
		"E2E="+dir,
		// What the backup container's environment holds (docker exec
		// inherits it; the stand-in runs here).
		"RCHA_BACKUP_DIR="+archives, "RCHA_BACKUP_RS=rs0", "RCHA_BACKUP_HOSTS=node-1:27017,node-2:27017,node-3:27017",
		"RCHA_BACKUP_USER=backup", "RCHA_BACKUP_CONFIG="+filepath.Join(lib, "mongodump.yaml"), "RCHA_BACKUP_KEEP=7", "RCHA_BACKUP_LIB="+lib,
	)

	bk := p.rcha("backup", "--stack", s, "--json")
	require.Equal(t, 0, bk.code, "%s", bk)
	assert.Contains(t, bk.stderr, "running a backup now in rocketchat-backup-var-run-docker.sock on node-3 (unix:///var/run/docker.sock)")
	assert.Contains(t, bk.stderr, "rocketchat-ha backup: done: rs0-", "the job's progress is shown")
	list, _ := bk.sum.Outputs["archives"].([]any)
	require.Len(t, list, 1, "%v", bk.sum.Outputs)
	name := list[0].(map[string]any)["name"].(string)
	assert.Regexp(t, `^rs0-[0-9]{8}T[0-9]{6}Z\.archive\.gz$`, name)

	ls := p.rcha("backups", "--stack", s)
	require.Equal(t, 0, ls.code, "%s", ls)
	assert.Regexp(t, regexp.MustCompile(regexp.QuoteMeta(name)+` +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d +\d+ +local volume on node-3`), ls.stdout)

	// Without --yes and without a terminal: refused, nothing stopped.
	require.NoError(t, os.WriteFile(calls, nil, 0o644))
	no := p.rcha("restore", "--stack", s, "--from", name)
	assert.Equal(t, 3, no.code, "%s", no)
	assert.Contains(t, no.stderr, "not confirmed: nothing was changed")
	recorded, _ := os.ReadFile(calls)
	assert.NotContains(t, string(recorded), " stop ", "refused, yet a server was stopped")

	rs := p.rcha("restore", "--stack", s, "--from", name, "--yes", "--skip-verify", "--json")
	require.Equal(t, 0, rs.code, "%s", rs)
	recorded, _ = os.ReadFile(calls)
	lines := strings.Split(strings.TrimSpace(string(recorded)), "\n")
	idx := func(sub string) int {
		return slices.IndexFunc(lines, func(l string) bool { return strings.Contains(l, sub) })
	}
	restore := idx(" exec -e RCHA_RESTORE_PASSWORD rocketchat-backup-var-run-docker.sock sh /etc/rocketchat-ha/backup/backup-run.sh restore " + name)
	require.GreaterOrEqual(t, restore, 0, "%q", lines)
	for _, c := range containers[:3] {
		stop, start := idx(" stop --time 30 "+c), idx(" start "+c)
		assert.True(t, stop >= 0 && stop < restore, "%s stops before the restore: %q", c, lines)
		assert.Greater(t, start, restore, "%s starts after the restore", c)
	}
	restored, err := os.ReadFile(filepath.Join(dir, "restored"))
	require.NoError(t, err)
	assert.Equal(t, "e2e dump\n", string(restored), "mongorestore read the archive")
	args, _ := os.ReadFile(filepath.Join(dir, "restore-args"))
	assert.Contains(t, string(args), "--gzip --drop --oplogReplay")
	assert.Contains(t, string(args), "--uri=mongodb://root@node-1:27017,node-2:27017,node-3:27017/?authSource=admin&replicaSet=rs0&readPreference=primary")
	// The root password came from the stack's state, and is on no command
	// line and in none of rcha's output.
	cfg, _ := os.ReadFile(filepath.Join(dir, "restore-config"))
	m := regexp.MustCompile(`^password: "([A-Za-z0-9]{32})"\n$`).FindStringSubmatch(string(cfg))
	require.NotNil(t, m, "restore config %q", cfg)
	root := m[1]
	assert.NotContains(t, string(recorded), root)
	assert.NotContains(t, string(args), root)
	assert.NotContains(t, rs.stdout+rs.stderr, root)
}
