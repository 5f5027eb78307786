package components_test

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/mocktest"
)

// Stand-ins for the tools the backup job runs, for tests that run the
// job's real scripts (as the component installs them) with a real shell.
// Each records its arguments (one per line, a "--" line between calls) and
// the names of its environment in $T/<tool>.args and $T/<tool>.env.
const (
	// standInMongodump writes a real gzip archive to --archive=FILE. With
	// RCHA_FAKE_DUMP=fail it writes half an archive and fails; with
	// RCHA_FAKE_DUMP=corrupt it writes a file that is not gzip and exits 0.
	// It checks that --config names a file of mode 400 that holds the
	// password, as mongodump would read it.
	standInMongodump = `#!/bin/sh
{ for a in "$@"; do echo "$a"; done; echo --; } >>"$T/mongodump.args"
env | sed 's/=.*//' | sort >"$T/mongodump.env"
archive='' config=''
for a in "$@"; do
  case "$a" in --archive=*) archive=${a#--archive=} ;; --config=*) config=${a#--config=} ;; esac
done
[ -n "$archive" ] || { echo "stand-in mongodump: no --archive=FILE" >&2; exit 2; }
[ "$(stat -c %a "$config")" = 400 ] || { echo "stand-in mongodump: $config is mode $(stat -c %a "$config")" >&2; exit 2; }
grep -q '^password: "' "$config" || { echo "stand-in mongodump: no password in $config" >&2; exit 2; }
case "${RCHA_FAKE_DUMP:-}" in
  fail) printf 'half an archive' | gzip | head -c 10 >"$archive"; echo "Failed: connection reset" >&2; exit 1 ;;
  corrupt) printf 'not gzip' >"$archive"; exit 0 ;;
esac
printf 'dump of %s\n' "$*" | gzip >"$archive"
`
	// standInMongorestore reads the whole archive through gzip and records
	// what it held, and the --config file's mode and password line.
	standInMongorestore = `#!/bin/sh
{ for a in "$@"; do echo "$a"; done; echo --; } >>"$T/mongorestore.args"
env | sed 's/=.*//' | sort >"$T/mongorestore.env"
for a in "$@"; do
  case "$a" in --archive=*) archive=${a#--archive=} ;; --config=*) config=${a#--config=} ;; esac
done
stat -c %a "$config" >"$T/mongorestore.configmode"
cat "$config" >"$T/mongorestore.config"
gzip -dc "$archive" >"$T/mongorestore.restored"
[ "${RCHA_FAKE_RESTORE:-}" != fail ] || { echo "Failed: restore error" >&2; exit 1; }
`
	// standInHelloMongosh answers the secondary probe: hello says secondary for
	// the hosts in $RCHA_FAKE_SECONDARIES.
	standInHelloMongosh = `#!/bin/sh
{ for a in "$@"; do echo "$a"; done; echo --; } >>"$T/mongosh.args"
for h in ${RCHA_FAKE_SECONDARIES:-}; do
  for a in "$@"; do
    case "$a" in "mongodb://$h/?directConnection=true"*) exit 0 ;; esac
  done
done
exit 1
`
	// standInS3 is the S3 client (RCHA_BACKUP_S3_CLIENT): a directory of
	// objects $T/s3; RCHA_FAKE_S3=OP fails that operation.
	standInS3 = `#!/bin/sh
{ for a in "$@"; do echo "$a"; done; echo --; } >>"$T/s3.args"
mkdir -p "$T/s3"
[ "${RCHA_FAKE_S3:-}" != "$1" ] || { echo "stand-in s3: $1 failed" >&2; exit 1; }
case "$1" in
  put) cp "$3" "$T/s3/$2" ;;
  get) cp "$T/s3/$2" "$3" ;;
  delete) rm "$T/s3/$2" ;;
  list) for f in "$T"/s3/*; do [ -e "$f" ] && echo "$(basename "$f") $(wc -c <"$f") 2026-12-01T02:00:00.000Z"; done ;;
esac
`
)

// backupJob is the backup container's scripts and environment, installed
// in a temporary directory, with stand-ins first on PATH.
type backupJob struct {
	t        *testing.T
	dir, lib string
	archives string // the volume
	env      []string
	password string // the backup user's, as installed
}

var archiveName = regexp.MustCompile(`^rs0-[0-9]{8}T[0-9]{6}Z\.archive\.gz$`)

// newBackupJob runs the component under mocks with backup (S3 credentials
// in it are kept) and installs what its backup container holds.
func newBackupJob(t *testing.T, backup components.BackupArgs) *backupJob {
	t.Helper()
	rec := mustRun(t, &components.RocketChatHAArgs{Nodes: testNodes(3), RootURL: pulumi.String("https://c.example.com"), Backup: backup})
	c := rec.Named(t, tContainer, "chat-backup-10.250.250.13")
	j := &backupJob{t: t, dir: t.TempDir()}
	j.lib = filepath.Join(j.dir, "lib")
	j.archives = filepath.Join(j.dir, "backups")
	bin := filepath.Join(j.dir, "bin")
	for _, d := range []string{j.lib, j.archives, bin} {
		must(t, os.MkdirAll(d, 0o755))
	}
	for _, u := range c.Objects("uploads") {
		file := mocktest.Unwrap(u["file"]).StringValue()
		mode := mocktest.Unwrap(u["permissions"]).StringValue()
		var perm os.FileMode
		fmt.Sscanf(mode, "%o", &perm)
		dst := filepath.Join(j.lib, strings.TrimPrefix(file, components.BackupLibDir+"/"))
		must(t, os.WriteFile(dst, []byte(mocktest.Unwrap(u["content"]).StringValue()), 0o600))
		must(t, os.Chmod(dst, perm))
		if strings.HasSuffix(file, "/mongodump.yaml") {
			var doc struct{ Password string }
			line := strings.TrimPrefix(strings.TrimSpace(mocktest.Unwrap(u["content"]).StringValue()), "password: ")
			must(t, json.Unmarshal([]byte(line), &doc.Password))
			j.password = doc.Password
		}
	}
	if j.password == "" {
		t.Fatal("the container holds no mongodump.yaml with the password")
	}
	for name, text := range map[string]string{"mongodump": standInMongodump, "mongorestore": standInMongorestore, "mongosh": standInHelloMongosh, "s3": standInS3} {
		must(t, os.WriteFile(filepath.Join(bin, name), []byte(text), 0o755))
	}
	j.env = []string{"PATH=" + bin + ":" + os.Getenv("PATH"), "T=" + j.dir, "RCHA_BACKUP_S3_CLIENT=" + filepath.Join(bin, "s3")}
	for _, e := range c.Strings("envs") {
		k, v, _ := strings.Cut(e, "=")
		switch k {
		case "RCHA_BACKUP_DIR":
			v = j.archives
		case "RCHA_BACKUP_LIB":
			v = j.lib
		case "RCHA_BACKUP_CONFIG", "RCHA_BACKUP_S3_CONFIG":
			v = filepath.Join(j.lib, filepath.Base(v))
		case "RCHA_BACKUP_HEARTBEAT":
			v = filepath.Join(j.dir, "alive")
		}
		j.env = append(j.env, k+"="+v)
	}
	return j
}

// run runs backup-run.sh with args and extra environment.
func (j *backupJob) run(extra []string, args ...string) (int, string, string) {
	j.t.Helper()
	cmd := exec.Command("sh", append([]string{filepath.Join(j.lib, "backup-run.sh")}, args...)...)
	cmd.Env = append(append([]string{}, j.env...), extra...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	rc := 0
	if ee, ok := err.(*exec.ExitError); ok {
		rc = ee.ExitCode()
	} else if err != nil {
		j.t.Fatal(err)
	}
	return rc, out.String(), errOut.String()
}

// calls returns the recorded calls of a stand-in, each a list of arguments.
func (j *backupJob) calls(tool string) [][]string {
	b, err := os.ReadFile(filepath.Join(j.dir, tool+".args"))
	if os.IsNotExist(err) {
		return nil
	}
	must(j.t, err)
	var out [][]string
	var cur []string
	for _, l := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if l == "--" {
			out = append(out, cur)
			cur = nil
			continue
		}
		cur = append(cur, l)
	}
	return out
}

// files lists the volume's regular files (hidden ones too), sorted.
func (j *backupJob) files() []string {
	ents, err := os.ReadDir(j.archives)
	must(j.t, err)
	var out []string
	for _, e := range ents {
		if !e.IsDir() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out
}

func (j *backupJob) archivesOnly() []string {
	var out []string
	for _, f := range j.files() {
		if archiveName.MatchString(f) {
			out = append(out, f)
		}
	}
	return out
}

// noSecretOnCommandLines fails when any recorded command line holds one of
// the secrets.
func (j *backupJob) noSecretOnCommandLines(secrets ...string) {
	j.t.Helper()
	for _, tool := range []string{"mongodump", "mongorestore", "mongosh", "s3"} {
		for _, call := range j.calls(tool) {
			for _, a := range call {
				for _, s := range secrets {
					if s != "" && strings.Contains(a, s) {
						j.t.Errorf("%s's command line holds a secret: %q", tool, a)
					}
				}
			}
		}
	}
}

func (j *backupJob) status() map[string]any {
	j.t.Helper()
	b, err := os.ReadFile(filepath.Join(j.archives, "status.json"))
	must(j.t, err)
	var st map[string]any
	if err := json.Unmarshal(b, &st); err != nil {
		j.t.Fatalf("status.json is not JSON: %v\n%s", err, b)
	}
	return st
}

func (j *backupJob) metrics() string {
	b, err := os.ReadFile(filepath.Join(j.archives, ".rocketchat-ha", "metrics.prom"))
	must(j.t, err)
	return string(b)
}

func TestBackupJobReadsFromASecondary(t *testing.T) {
	j := newBackupJob(t, components.BackupArgs{})
	rc, _, stderr := j.run([]string{"RCHA_FAKE_SECONDARIES=rocket-2:27017"}, "backup")
	if rc != 0 {
		t.Fatalf("backup exit %d\n%s", rc, stderr)
	}
	dumps := j.calls("mongodump")
	if len(dumps) != 1 {
		t.Fatalf("%d mongodump runs, want 1", len(dumps))
	}
	args := strings.Join(dumps[0], " ")
	for _, want := range []string{"--gzip", "--oplog", "--archive=" + j.archives + "/.rs0-", "--config=" + j.lib + "/mongodump.yaml",
		"--uri=mongodb://backup@rocket-1:27017,rocket-2:27017,rocket-3:27017/?authSource=admin&replicaSet=rs0&readPreference=secondary"} {
		if !strings.Contains(args, want) {
			t.Errorf("mongodump args lack %q: %s", want, args)
		}
	}
	got := j.archivesOnly()
	if len(got) != 1 {
		t.Fatalf("archives %v (all files %v), want one named rs0-YYYYMMDDTHHMMSSZ.archive.gz", got, j.files())
	}
	// A real gzip archive, the one mongodump wrote.
	f, err := os.Open(filepath.Join(j.archives, got[0]))
	must(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	must(t, err)
	body, err := io.ReadAll(zr)
	must(t, err)
	if !strings.HasPrefix(string(body), "dump of ") {
		t.Errorf("archive holds %q", body)
	}
	for _, name := range j.files() {
		if strings.HasSuffix(name, ".partial") {
			t.Errorf("partial file left: %s", name)
		}
	}
	// The password is in the 0400 config file only: not on a command line,
	// not in mongodump's environment.
	j.noSecretOnCommandLines(j.password)
	env, err := os.ReadFile(filepath.Join(j.dir, "mongodump.env"))
	must(t, err)
	if strings.Contains(strings.ToUpper(string(env)), "PASSWORD") {
		t.Errorf("mongodump's environment has a password variable:\n%s", env)
	}
	st := j.status()
	if st["result"] != "ok" || st["archive"] != got[0] || st["bytes"].(float64) <= 0 || st["lastSuccessArchive"] != got[0] {
		t.Errorf("status %v", st)
	}
	m := j.metrics()
	for _, want := range []string{"rcha_backup_last_run_success 1", "rcha_backup_archives 1", "# TYPE rcha_backup_last_success_timestamp_seconds gauge"} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %q:\n%s", want, m)
		}
	}
	if regexp.MustCompile(`(?m)^rcha_backup_last_success_timestamp_seconds 0$`).MatchString(m) {
		t.Errorf("last success is 0 after a success:\n%s", m)
	}
	// The names the script writes, and the interval the metrics server
	// adds, are those of the monitoring fixture that the alert rules are
	// checked against.
	names := func(text string) []string {
		var out []string
		for _, m := range regexp.MustCompile(`(?m)^(rcha_backup_[a-z_]+) `).FindAllStringSubmatch(text, -1) {
			out = append(out, m[1])
		}
		sort.Strings(out)
		return out
	}
	fixture, err := os.ReadFile("../internal/monitoring/testdata/fixtures/backup.prom")
	if err != nil {
		t.Fatal(err)
	}
	served := names(m + "rcha_backup_interval_seconds 86400\n")
	if want := names(string(fixture)); !slices.Equal(served, want) {
		t.Errorf("the job's metrics %v, the monitoring fixture's %v", served, want)
	}
	if js, _ := os.ReadFile("backup-metrics.js"); !strings.Contains(string(js), "rcha_backup_interval_seconds ") {
		t.Error("backup-metrics.js does not serve rcha_backup_interval_seconds")
	}
}

func TestBackupJobFallsBackToThePrimary(t *testing.T) {
	j := newBackupJob(t, components.BackupArgs{})
	rc, _, stderr := j.run(nil, "backup")
	if rc != 0 {
		t.Fatalf("backup exit %d\n%s", rc, stderr)
	}
	if probes := j.calls("mongosh"); len(probes) != 3 {
		t.Errorf("%d hello probes, want one per member: %v", len(probes), probes)
	}
	if args := strings.Join(j.calls("mongodump")[0], " "); !strings.Contains(args, "readPreference=primary") {
		t.Errorf("no secondary answers, yet mongodump reads with %s", args)
	}
	if !strings.Contains(stderr, "no healthy secondary") {
		t.Errorf("the fallback is not said:\n%s", stderr)
	}
}

// seed writes n older archives (and a foreign file, which retention leaves
// alone) into the volume.
func (j *backupJob) seed(n int) []string {
	var names []string
	for i := 0; i < n; i++ {
		name := fmt.Sprintf("rs0-2020010%dT020000Z.archive.gz", i+1)
		var b bytes.Buffer
		zw := gzip.NewWriter(&b)
		_, _ = zw.Write([]byte("old"))
		_ = zw.Close()
		must(j.t, os.WriteFile(filepath.Join(j.archives, name), b.Bytes(), 0o644))
		names = append(names, name)
	}
	must(j.t, os.WriteFile(filepath.Join(j.archives, "notes.txt"), []byte("mine"), 0o644))
	return names
}

func TestBackupJobRetentionAfterSuccessOnly(t *testing.T) {
	j := newBackupJob(t, components.BackupArgs{Keep: 3})
	old := j.seed(5)

	// A failed run deletes nothing but its own partial archive.
	rc, _, stderr := j.run([]string{"RCHA_FAKE_DUMP=fail"}, "backup")
	if rc == 0 {
		t.Fatalf("a failed mongodump exited 0\n%s", stderr)
	}
	if got := j.archivesOnly(); strings.Join(got, " ") != strings.Join(old, " ") {
		t.Errorf("after a failure the archives are %v, want the old ones %v untouched", got, old)
	}
	for _, f := range j.files() {
		if strings.Contains(f, "partial") {
			t.Errorf("the partial archive %s was kept", f)
		}
	}
	if st := j.status(); st["result"] != "failed" || !strings.Contains(st["message"].(string), "mongodump failed") {
		t.Errorf("status after failure: %v", st)
	}
	if m := j.metrics(); !strings.Contains(m, "rcha_backup_last_run_success 0") || !strings.Contains(m, "rcha_backup_last_success_timestamp_seconds 0") {
		t.Errorf("metrics after the first, failed run:\n%s", m)
	}
	if !strings.Contains(stderr, "FAILED at mongodump") {
		t.Errorf("the failure is not said loudly:\n%s", stderr)
	}

	// A success keeps the newest three: itself and the two newest old ones.
	rc, _, stderr = j.run(nil, "backup")
	if rc != 0 {
		t.Fatalf("backup exit %d\n%s", rc, stderr)
	}
	got := j.archivesOnly()
	if len(got) != 3 || got[0] != old[3] || got[1] != old[4] || !archiveName.MatchString(got[2]) || got[2] <= old[4] {
		t.Errorf("after a success the archives are %v, want %s, %s and the new one", got, old[3], old[4])
	}
	if _, err := os.Stat(filepath.Join(j.archives, "notes.txt")); err != nil {
		t.Errorf("retention touched a file that is not an archive: %v", err)
	}

	// A later failure keeps the last success in the metrics.
	rc, _, _ = j.run([]string{"RCHA_FAKE_DUMP=fail"}, "backup")
	if rc == 0 {
		t.Fatal("failure exited 0")
	}
	m := j.metrics()
	if !strings.Contains(m, "rcha_backup_last_run_success 0") || regexp.MustCompile(`(?m)^rcha_backup_last_success_timestamp_seconds 0$`).MatchString(m) {
		t.Errorf("a failure after a success lost the last success:\n%s", m)
	}
	if st := j.status(); st["lastSuccessArchive"] != got[2] {
		t.Errorf("status lost the last good archive: %v", st)
	}
}

func TestBackupJobRefusesACorruptArchive(t *testing.T) {
	j := newBackupJob(t, components.BackupArgs{})
	rc, _, stderr := j.run([]string{"RCHA_FAKE_DUMP=corrupt"}, "backup")
	if rc == 0 {
		t.Fatalf("an archive gzip refuses was accepted\n%s", stderr)
	}
	if f := j.files(); len(j.archivesOnly()) != 0 || strings.Contains(strings.Join(f, " "), "partial") {
		t.Errorf("files after a corrupt dump: %v", f)
	}
	if !strings.Contains(stderr, "FAILED at archive check") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

func TestBackupJobS3UploadAndRetention(t *testing.T) {
	s3 := &components.BackupS3{Endpoint: "https://s3.example.com", Bucket: "chat-backups", Prefix: "prod/",
		AccessKeyID: pulumi.String("AKIDEXAMPLE"), SecretAccessKey: pulumi.String("s3-secret-key")}
	j := newBackupJob(t, components.BackupArgs{Keep: 2, S3: s3})
	// The S3 settings file holds the credentials, mode 0400.
	fi, err := os.Stat(filepath.Join(j.lib, "s3.json"))
	must(t, err)
	if fi.Mode().Perm() != 0o400 {
		t.Errorf("s3.json mode %o", fi.Mode().Perm())
	}
	must(t, os.MkdirAll(filepath.Join(j.dir, "s3"), 0o755))
	for _, old := range []string{"rs0-20200101T020000Z.archive.gz", "rs0-20200102T020000Z.archive.gz", "other-20200101T020000Z.archive.gz"} {
		must(t, os.WriteFile(filepath.Join(j.dir, "s3", old), []byte("x"), 0o644))
	}

	// A failed upload: the run fails, nothing is deleted anywhere.
	rc, _, stderr := j.run([]string{"RCHA_FAKE_S3=put"}, "backup")
	if rc == 0 {
		t.Fatalf("a failed upload exited 0\n%s", stderr)
	}
	for _, c := range j.calls("s3") {
		if c[0] == "delete" {
			t.Errorf("S3 retention ran after a failed upload: %v", c)
		}
	}
	if st := j.status(); st["result"] != "failed" || !strings.Contains(st["message"].(string), "S3 upload") {
		t.Errorf("status %v", st)
	}
	must(t, os.Remove(filepath.Join(j.dir, "s3.args")))
	for _, a := range j.archivesOnly() {
		must(t, os.Remove(filepath.Join(j.archives, a)))
	}

	rc, _, stderr = j.run(nil, "backup")
	if rc != 0 {
		t.Fatalf("backup exit %d\n%s", rc, stderr)
	}
	name := j.archivesOnly()[0]
	calls := j.calls("s3")
	if len(calls) < 2 || calls[0][0] != "put" || calls[0][1] != name || calls[0][2] != filepath.Join(j.archives, name) {
		t.Fatalf("s3 calls %v, want put %s first", calls, name)
	}
	var deleted []string
	for _, c := range calls {
		if c[0] == "delete" {
			deleted = append(deleted, c[1])
		}
	}
	// Keep 2: the new one and the newest old one; another replica set's
	// objects are not ours.
	if strings.Join(deleted, " ") != "rs0-20200101T020000Z.archive.gz" {
		t.Errorf("S3 retention deleted %v", deleted)
	}
	j.noSecretOnCommandLines(j.password, "s3-secret-key", "AKIDEXAMPLE")

	// A failed S3 listing fails the run (retention could not run) and the list.
	if rc, _, stderr := j.run([]string{"RCHA_FAKE_S3=list"}, "backup"); rc == 0 || !strings.Contains(stderr, "FAILED at S3 retention") {
		t.Errorf("a failed S3 listing: exit %d\n%s", rc, stderr)
	}
	if rc, _, _ := j.run([]string{"RCHA_FAKE_S3=list"}, "list"); rc == 0 {
		t.Error("list exits 0 when S3 cannot be listed")
	}

	// list shows both places.
	rc, out, stderr := j.run(nil, "list")
	if rc != 0 {
		t.Fatalf("list exit %d\n%s", rc, stderr)
	}
	if !regexp.MustCompile(`(?m)^local `+regexp.QuoteMeta(name)+` [0-9]+ [0-9]+$`).MatchString(out) ||
		!strings.Contains(out, "s3 "+name+" ") || !strings.Contains(out, "s3 rs0-20200102T020000Z.archive.gz 1 2026-12-01T02:00:00.000Z") ||
		strings.Contains(out, "other-") {
		t.Errorf("list:\n%s", out)
	}
}

func TestBackupJobRestore(t *testing.T) {
	s3 := &components.BackupS3{Endpoint: "https://s3.example.com", Bucket: "chat-backups",
		AccessKeyID: pulumi.String("AKIDEXAMPLE"), SecretAccessKey: pulumi.String("s3-secret-key")}
	j := newBackupJob(t, components.BackupArgs{S3: s3})
	old := j.seed(1)[0]
	root := `r00t "pass\word`
	rc, _, stderr := j.run([]string{"RCHA_RESTORE_PASSWORD=" + root}, "restore", old)
	if rc != 0 {
		t.Fatalf("restore exit %d\n%s", rc, stderr)
	}
	calls := j.calls("mongorestore")
	if len(calls) != 1 {
		t.Fatalf("%d mongorestore runs", len(calls))
	}
	args := strings.Join(calls[0], " ")
	for _, want := range []string{"--archive=" + filepath.Join(j.archives, old), "--gzip", "--drop", "--oplogReplay",
		"--uri=mongodb://root@rocket-1:27017,rocket-2:27017,rocket-3:27017/?authSource=admin&replicaSet=rs0&readPreference=primary"} {
		if !strings.Contains(args, want) {
			t.Errorf("mongorestore args lack %q: %s", want, args)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(j.dir, "mongorestore.restored")); string(b) != "old" {
		t.Errorf("mongorestore read %q from the archive", b)
	}
	if b, _ := os.ReadFile(filepath.Join(j.dir, "mongorestore.configmode")); strings.TrimSpace(string(b)) != "600" {
		t.Errorf("the restore config file had mode %s", b)
	}
	cfg, _ := os.ReadFile(filepath.Join(j.dir, "mongorestore.config"))
	if string(cfg) != `password: "r00t \"pass\\word"`+"\n" {
		t.Errorf("restore config %q", cfg)
	}
	j.noSecretOnCommandLines(root, "r00t")

	// An archive only in S3 is downloaded first.
	must(t, os.MkdirAll(filepath.Join(j.dir, "s3"), 0o755))
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	_, _ = zw.Write([]byte("from s3"))
	_ = zw.Close()
	must(t, os.WriteFile(filepath.Join(j.dir, "s3", "rs0-20250101T020000Z.archive.gz"), b.Bytes(), 0o644))
	rc, _, stderr = j.run([]string{"RCHA_RESTORE_PASSWORD=" + root}, "restore", "rs0-20250101T020000Z.archive.gz")
	if rc != 0 {
		t.Fatalf("restore from S3 exit %d\n%s", rc, stderr)
	}
	if b, _ := os.ReadFile(filepath.Join(j.dir, "mongorestore.restored")); string(b) != "from s3" {
		t.Errorf("mongorestore read %q", b)
	}

	for _, bad := range []string{"../etc/passwd", "other-20200101T020000Z.archive.gz", "rs0-x/../../y.archive.gz"} {
		if rc, _, _ := j.run([]string{"RCHA_RESTORE_PASSWORD=x"}, "restore", bad); rc != 64 {
			t.Errorf("restore %q: exit %d, want 64", bad, rc)
		}
	}
	if rc, _, stderr := j.run([]string{"RCHA_RESTORE_PASSWORD=x", "RCHA_FAKE_RESTORE=fail"}, "restore", old); rc == 0 {
		t.Errorf("a failed mongorestore exited 0\n%s", stderr)
	}
}

func TestBackupJobOneAtATime(t *testing.T) {
	j := newBackupJob(t, components.BackupArgs{})
	must(t, os.MkdirAll(filepath.Join(j.archives, ".rocketchat-ha", "lock"), 0o755))
	rc, _, stderr := j.run(nil, "backup")
	if rc != 75 || !strings.Contains(stderr, "another backup or restore is running") {
		t.Errorf("with the lock held: exit %d\n%s", rc, stderr)
	}
	if len(j.calls("mongodump")) != 0 {
		t.Error("mongodump ran while the lock was held")
	}
	if _, err := os.Stat(filepath.Join(j.archives, ".rocketchat-ha", "lock")); err != nil {
		t.Error("the refused run removed the other run's lock")
	}
}

// TestBackupSchedulerRunsOnSchedule runs one round of the real scheduler
// with a schedule that matches every minute, and one that never matches
// now.
func TestBackupSchedulerRunsOnSchedule(t *testing.T) {
	for _, c := range []struct {
		schedule string
		runs     int
	}{{"* * * * *", 1}, {"0 0 29 2 *", 0}} {
		j := newBackupJob(t, components.BackupArgs{Schedule: c.schedule})
		cmd := exec.Command("sh", filepath.Join(j.lib, "backup-scheduler.sh"))
		cmd.Env = append(append([]string{}, j.env...), "RCHA_BACKUP_ONCE=1", "RCHA_BACKUP_METRICS_PORT=")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: scheduler: %v\n%s", c.schedule, err, out)
		}
		if got := len(j.calls("mongodump")); got != c.runs && !(c.runs == 0 && got == 0) {
			t.Errorf("%s: %d backups, want %d\n%s", c.schedule, got, c.runs, out)
		}
		if _, err := os.Stat(filepath.Join(j.dir, "alive")); err != nil {
			t.Errorf("%s: no heartbeat: %v", c.schedule, err)
		}
	}
}
