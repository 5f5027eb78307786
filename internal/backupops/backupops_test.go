package backupops_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rocketchat-ha/rocketchat-ha/internal/backupops"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

// standInRun is the backup job's command script as the stand-in docker
// CLI's exec runs it here: list prints $RCHA_T/list; backup and restore
// record their arguments and whether RCHA_RESTORE_PASSWORD reached them,
// and fail when $RCHA_T/fail-<command> exists.
const standInRun = `#!/bin/sh
echo "$RCHA_FAKE_EXEC_CONTAINER $* password=${RCHA_RESTORE_PASSWORD:+set}" >>"$RCHA_T/job.log"
if [ -e "$RCHA_T/fail-$1" ]; then echo "rocketchat-ha backup: FAILED at $1" >&2; exit 1; fi
case "$1" in
  list) cat "$RCHA_T/list" ;;
  backup) echo "rocketchat-ha backup: wrote rs0-20261201T120000Z.archive.gz (123 bytes)" >&2 ;;
  restore) echo "rocketchat-ha backup: restored $2" >&2 ;;
esac
`

type world struct {
	t     *testing.T
	dir   string
	ops   backupops.Ops
	out   *bytes.Buffer
	calls string
}

const rootPassword = "R00t-secret-pw"

func newWorld(t *testing.T, env ...string) *world {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	testenv.InstallFakeDocker(t, bin)
	run := filepath.Join(dir, "backup-run.sh")
	must(t, os.WriteFile(run, []byte(standInRun), 0o755))
	must(t, os.WriteFile(filepath.Join(dir, "list"), []byte(
		"local rs0-20261201T020000Z.archive.gz 2048 1764554400\n"+
			"s3 rs0-20261201T020000Z.archive.gz 2048 2026-12-01T02:00:05.000Z\n"+
			"s3 rs0-20261130T020000Z.archive.gz 1024 2026-11-30T02:00:05.000Z\n"), 0o644))
	w := &world{t: t, dir: dir, out: &bytes.Buffer{}, calls: filepath.Join(dir, "calls")}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	t.Setenv("RCHA_T", dir)
	t.Setenv("RCHA_FAKE_DOCKER_CALLS", w.calls)
	t.Setenv("RCHA_FAKE_DOCKER_LOG", filepath.Join(dir, "exec.log"))
	t.Setenv("RCHA_FAKE_CONTAINERS", "chat-rocketchat-rocket-1 chat-rocketchat-rocket-2 chat-rocketchat-rocket-3 chat-backup")
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		t.Setenv(k, v)
	}
	var nodes []backupops.Node
	for i := 1; i <= 3; i++ {
		n := "rocket-" + string(rune('0'+i))
		nodes = append(nodes, backupops.Node{Name: n, DockerHost: "ssh://root@" + n, RocketChat: "chat-rocketchat-" + n})
	}
	w.ops = backupops.Ops{
		C: backupops.Cluster{Stack: "prod", ReplicaSet: "rs0", Nodes: nodes, Backup: nodes[2], BackupContainer: "chat-backup",
			RunScript: run, HealthTimeout: 3 * time.Second, Poll: 10 * time.Millisecond},
		D: backupops.CLI{}, Progress: w.out,
	}
	return w
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// recorded returns the docker calls, "HOST args...".
func (w *world) recorded() []string {
	b, err := os.ReadFile(w.calls)
	if os.IsNotExist(err) {
		return nil
	}
	must(w.t, err)
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

func yes(string) bool { return true }

func index(calls []string, prefix string) int {
	return slices.IndexFunc(calls, func(c string) bool { return strings.HasPrefix(c, prefix) })
}

func TestRestoreOrder(t *testing.T) {
	w := newWorld(t)
	verified := false
	var prompt string
	err := w.ops.Restore(context.Background(), backupops.RestoreRequest{
		From: "rs0-20261130T020000Z.archive.gz", RootPassword: rootPassword,
		Confirm: func(p string) bool { prompt = p; return true },
		Verify:  func(context.Context) error { verified = true; return nil },
	})
	if err != nil {
		t.Fatalf("restore: %v\n%s", err, w.out)
	}
	if prompt != "restore rs0-20261130T020000Z.archive.gz" || !verified {
		t.Errorf("prompt %q, verified %v", prompt, verified)
	}
	calls := w.recorded()
	restore := index(calls, "ssh://root@rocket-3 exec -e RCHA_RESTORE_PASSWORD chat-backup sh ")
	if restore < 0 || !strings.HasSuffix(calls[restore], " restore rs0-20261130T020000Z.archive.gz") {
		t.Fatalf("no restore exec on the backup node: %q", calls)
	}
	for i := 1; i <= 3; i++ {
		n := "rocket-" + string(rune('0'+i))
		stop := index(calls, "ssh://root@"+n+" stop --time 30 chat-rocketchat-"+n)
		start := index(calls, "ssh://root@"+n+" start chat-rocketchat-"+n)
		if stop < 0 || stop > restore {
			t.Errorf("%s: stopped at %d, the restore is at %d: every server stops before the restore", n, stop, restore)
		}
		if start < restore {
			t.Errorf("%s: started at %d, before the restore at %d", n, start, restore)
		}
		// Started one by one: each is healthy before the next starts.
		health := index(calls[start:], "ssh://root@"+n+" inspect --type container --format {{.State.Health.Status}} chat-rocketchat-"+n)
		if health < 0 {
			t.Errorf("%s: no health check after its start", n)
		}
		if i < 3 {
			next := "rocket-" + string(rune('0'+i+1))
			nextStart := index(calls, "ssh://root@"+next+" start chat-rocketchat-"+next)
			if nextStart < start+health {
				t.Errorf("%s started before %s was healthy: %q", next, n, calls)
			}
		}
	}
	// No secret on any command line; it reached the job through the
	// environment.
	for _, c := range calls {
		if strings.Contains(c, rootPassword) {
			t.Errorf("a docker command line holds the root password: %s", c)
		}
	}
	job, _ := os.ReadFile(filepath.Join(w.dir, "job.log"))
	if !strings.Contains(string(job), "chat-backup restore rs0-20261130T020000Z.archive.gz password=set") {
		t.Errorf("the job did not get the password in its environment:\n%s", job)
	}
	if !strings.Contains(w.out.String(), "restore: rs0-20261130T020000Z.archive.gz restored; every Rocket.Chat server is running and healthy") {
		t.Errorf("progress:\n%s", w.out)
	}
}

func TestRestoreRefusesWithoutConfirmation(t *testing.T) {
	for _, confirm := range []func(string) bool{nil, func(string) bool { return false }} {
		w := newWorld(t)
		err := w.ops.Restore(context.Background(), backupops.RestoreRequest{From: "rs0-20261201T020000Z.archive.gz", RootPassword: rootPassword, Confirm: confirm})
		if !errors.Is(err, backupops.ErrNotConfirmed) {
			t.Errorf("error %v, want not confirmed", err)
		}
		for _, c := range w.recorded() {
			if strings.Contains(c, " stop ") || strings.Contains(c, " restore ") || strings.Contains(c, " start ") {
				t.Errorf("refused, yet ran %s", c)
			}
		}
		if !strings.Contains(w.out.String(), "REPLACES every database") {
			t.Errorf("the warning was not shown:\n%s", w.out)
		}
	}
}

func TestRestoreRefusesBeforeChangingAnything(t *testing.T) {
	// An archive that does not exist.
	w := newWorld(t)
	err := w.ops.Restore(context.Background(), backupops.RestoreRequest{From: "rs0-20200101T020000Z.archive.gz", RootPassword: rootPassword, Confirm: yes})
	if err == nil || !strings.Contains(err.Error(), "no archive named rs0-20200101T020000Z.archive.gz; the archives are: rs0-20261201T020000Z.archive.gz (local), rs0-20261201T020000Z.archive.gz (s3), rs0-20261130T020000Z.archive.gz (s3)") ||
		!strings.Contains(err.Error(), "State: nothing was changed") {
		t.Errorf("error %v", err)
	}
	// A node that does not answer.
	w = newWorld(t, "RCHA_FAKE_DOWN_HOSTS=ssh://root@rocket-2")
	err = w.ops.Restore(context.Background(), backupops.RestoreRequest{From: "rs0-20261201T020000Z.archive.gz", RootPassword: rootPassword, Confirm: yes})
	if err == nil || !strings.Contains(err.Error(), "node rocket-2") || !strings.Contains(err.Error(), "Cannot connect to the Docker daemon") || !strings.Contains(err.Error(), "State: nothing was changed") {
		t.Errorf("error %v", err)
	}
	for _, c := range w.recorded() {
		if strings.Contains(c, " stop ") {
			t.Errorf("ran %s although a node does not answer", c)
		}
	}
}

func TestRestoreFailureMessages(t *testing.T) {
	for _, c := range []struct {
		name  string
		env   []string
		setup func(w *world)
		want  []string
	}{
		{"stop fails half-way", []string{"RCHA_FAKE_FAIL=stop:chat-rocketchat-rocket-2"}, nil, []string{
			"stopping chat-rocketchat-rocket-2 on rocket-2",
			"State: nothing was restored; the database is as it was. These Rocket.Chat servers are STOPPED: chat-rocketchat-rocket-1 on rocket-1.",
			"DOCKER_HOST=ssh://root@rocket-1 docker start chat-rocketchat-rocket-1",
			"rcha restore --stack prod --from rs0-20261201T020000Z.archive.gz",
		}},
		{"mongorestore fails", nil, func(w *world) { must(w.t, os.WriteFile(filepath.Join(w.dir, "fail-restore"), nil, 0o644)) }, []string{
			"mongorestore of rs0-20261201T020000Z.archive.gz failed",
			"State: every Rocket.Chat server is STOPPED (chat-rocketchat-rocket-1 on rocket-1, chat-rocketchat-rocket-2 on rocket-2, chat-rocketchat-rocket-3 on rocket-3), and the database may be PARTLY restored",
			"Do not start the servers on a partial database",
			"rcha restore --stack prod --from rs0-20261201T020000Z.archive.gz",
		}},
		{"a server does not come back", []string{"RCHA_FAKE_HEALTH=chat-rocketchat-rocket-2=unhealthy"}, nil, []string{
			"chat-rocketchat-rocket-2 on rocket-2 is not healthy after 3s (last: unhealthy)",
			"State: the database IS restored from rs0-20261201T020000Z.archive.gz. These Rocket.Chat servers are not running (or not healthy) yet: chat-rocketchat-rocket-2 on rocket-2, chat-rocketchat-rocket-3 on rocket-3.",
			"DOCKER_HOST=ssh://root@rocket-3 docker start chat-rocketchat-rocket-3",
			"rcha verify --stack prod",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			w := newWorld(t, c.env...)
			if c.setup != nil {
				c.setup(w)
			}
			err := w.ops.Restore(context.Background(), backupops.RestoreRequest{From: "rs0-20261201T020000Z.archive.gz", RootPassword: rootPassword, Confirm: yes})
			var re *backupops.RestoreError
			if !errors.As(err, &re) {
				t.Fatalf("error %v, want a RestoreError", err)
			}
			if re.OnlyVerifyFailed {
				t.Error("a restore that failed before the verification says only the verification failed")
			}
			for _, want := range c.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("the message lacks %q:\n%s", want, err)
				}
			}
		})
	}
	// The verification fails after a complete restore.
	w := newWorld(t)
	err := w.ops.Restore(context.Background(), backupops.RestoreRequest{From: "rs0-20261201T020000Z.archive.gz", RootPassword: rootPassword, Confirm: yes,
		Verify: func(context.Context) error { return errors.New("[users] rocket@admin: authentication failed") }})
	if err == nil || !strings.Contains(err.Error(), "authentication failed") || !strings.Contains(err.Error(), "but the verification failed") {
		t.Errorf("error %v", err)
	}
	var re *backupops.RestoreError
	if !errors.As(err, &re) || !re.OnlyVerifyFailed {
		t.Errorf("error %v: want a RestoreError with OnlyVerifyFailed (rcha exits with the verify code)", err)
	}
}

func TestBackupNowAndList(t *testing.T) {
	w := newWorld(t)
	if err := w.ops.BackupNow(context.Background()); err != nil {
		t.Fatalf("backup: %v", err)
	}
	if !strings.Contains(w.out.String(), "wrote rs0-20261201T120000Z.archive.gz") {
		job, _ := os.ReadFile(filepath.Join(w.dir, "job.log"))
		t.Errorf("the job's progress was not shown:\n%s\njob: %s", w.out, job)
	}
	if calls := w.recorded(); len(calls) != 1 || !strings.HasPrefix(calls[0], "ssh://root@rocket-3 exec chat-backup sh ") || !strings.HasSuffix(calls[0], " backup") {
		t.Errorf("calls %q", calls)
	}
	as, err := w.ops.List(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, a := range as {
		got = append(got, a.Place+" "+a.Name+" "+a.Time.Format(time.RFC3339))
	}
	want := []string{"local rs0-20261201T020000Z.archive.gz 2025-12-01T02:00:00Z", "s3 rs0-20261201T020000Z.archive.gz 2026-12-01T02:00:05Z", "s3 rs0-20261130T020000Z.archive.gz 2026-11-30T02:00:05Z"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("list\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var table bytes.Buffer
	backupops.WriteList(&table, as, "rocket-3")
	if !strings.Contains(table.String(), "local volume on rocket-3") || !strings.Contains(table.String(), "2026-11-30 02:00:05") {
		t.Errorf("table:\n%s", table.String())
	}

	must(t, os.WriteFile(filepath.Join(w.dir, "fail-backup"), nil, 0o644))
	if err := w.ops.BackupNow(context.Background()); err == nil || !strings.Contains(err.Error(), "the backup failed on rocket-3") {
		t.Errorf("a failed backup: %v", err)
	}
}
