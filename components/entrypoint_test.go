package components_test

import (
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

// TestRocketChatEntrypointUnderBusybox runs the real entrypoint wrapper the
// way the official (Alpine, busybox) image runs it: as root, with busybox's
// sh, su, id, cp, chown, chmod and mkdir only, and nobody standing in for the
// image's rocketchat user. The process it execs must run as that user and
// see the container's environment plus exactly the secret settings.
func TestRocketChatEntrypointUnderBusybox(t *testing.T) {
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the entrypoint test must run as root (it drops to another user, as the container does)")
	}
	busybox := testenv.LookPath(t, "busybox", "apt-get install busybox-static")
	who, err := user.Lookup("nobody")
	if err != nil {
		testenv.Missing(t, "no user nobody: "+err.Error())
	}

	// The unprivileged user must reach the copy and the applets: a
	// world-searchable root.
	root, err := os.MkdirTemp("", "rcha-entrypoint-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	must(t, os.Chmod(root, 0o755))
	bin := filepath.Join(root, "bin")
	must(t, os.Mkdir(bin, 0o755))
	for _, applet := range []string{"sh", "su", "id", "cp", "chown", "chmod", "mkdir", "cat"} {
		must(t, os.Symlink(busybox, filepath.Join(bin, applet)))
	}
	script := filepath.Join(root, "entrypoint.sh")
	upload := filepath.Join(root, "etc", "secrets.env")
	copyPath := filepath.Join(root, "tmp", "rocketchat-ha", "secrets.env")
	out := filepath.Join(root, "out")
	must(t, os.WriteFile(script, []byte(components.RocketChatEntrypoint()), 0o444))
	must(t, os.MkdirAll(filepath.Dir(upload), 0o755))
	must(t, os.MkdirAll(filepath.Join(root, "tmp"), 0o777))
	must(t, os.Chmod(filepath.Join(root, "tmp"), 0o1777))
	must(t, os.WriteFile(out, nil, 0o666))
	must(t, os.Chmod(out, 0o666))
	secrets := [][2]string{
		{"MONGO_URL", "mongodb://rocket:p%40ss%27w@rocket-1:27017,rocket-2:27017,rocket-3:27017/rocketchat?authSource=admin&replicaSet=rs0&w=majority"},
		{"MONGO_OPLOG_URL", "mongodb://oploguser:x@rocket-1:27017/local?authSource=admin&replicaSet=rs0"},
		{"ROCKETCHAT_LICENSE", "it's a \"license\" with $dollars, `ticks`\nand a second line"},
		{"REG_TOKEN", `back\slash`},
	}
	must(t, os.WriteFile(upload, []byte(components.EnvFile(secrets)), 0o400))

	containerEnv := []string{"PATH=" + bin, "PORT=3000", "ROOT_URL=https://chat.domain.de", "HOME=/tmp", "DEPLOY_METHOD=docker"}
	// The image's command stands in as: record who runs, then dump the
	// environment the exec'd process has.
	cmd := exec.Command(filepath.Join(bin, "sh"), script, "nobody", upload, copyPath,
		filepath.Join(bin, "sh"), "-c", `id -un >"$1"; exec cat /proc/self/environ`, "sh", out)
	cmd.Env = containerEnv
	cmd.Dir = root
	got, err := cmd.Output()
	if err != nil {
		t.Fatalf("wrapper failed: %v\n%s", err, stderrOf(err))
	}
	if runAs, _ := os.ReadFile(out); strings.TrimSpace(string(runAs)) != "nobody" {
		t.Errorf("the server runs as %q, want the image's user (nobody here)", runAs)
	}
	var env []string
	for _, kv := range strings.Split(strings.TrimSuffix(string(got), "\x00"), "\x00") {
		// The shell itself adds its working directory and level.
		if !strings.HasPrefix(kv, "PWD=") && !strings.HasPrefix(kv, "SHLVL=") && !strings.HasPrefix(kv, "OLDPWD=") {
			env = append(env, kv)
		}
	}
	want := append([]string{}, containerEnv...)
	for _, s := range secrets {
		want = append(want, s[0]+"="+s[1])
	}
	slices.Sort(env)
	slices.Sort(want)
	if !slices.Equal(env, want) {
		t.Errorf("process environment\n got %q\nwant %q", env, want)
	}

	uid, _ := strconv.Atoi(who.Uid)
	for path, mode := range map[string]os.FileMode{copyPath: 0o400, filepath.Dir(copyPath): os.ModeDir | 0o700} {
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode() != mode {
			t.Errorf("%s: mode %v, want %v", path, st.Mode(), mode)
		}
		if owner := st.Sys().(*syscall.Stat_t).Uid; int(owner) != uid {
			t.Errorf("%s: owner uid %d, want %d (the image's user)", path, owner, uid)
		}
	}

	// A restart runs the wrapper again over the existing copy.
	cmd = exec.Command(filepath.Join(bin, "sh"), script, "nobody", upload, copyPath, filepath.Join(bin, "sh"), "-c", "true")
	cmd.Env = containerEnv
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("second start (container restart) failed: %v\n%s", err, b)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}
