// Package provider_test checks the component provider's artefacts with the
// real tools: the schema the Pulumi CLI reads from the built binary, the
// generated SDKs (current, the Node.js one type-checked with tsc, the
// Python one byte-compiled), and the release archive as `pulumi plugin
// install` takes it. The YAML program under the real engine is in
// tests/engine (yaml_test.go). See docs/providers.md.
package provider_test

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/provider"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

const root = "../.."

var (
	buildOnce sync.Once
	binDir    string
	binPath   string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// providerBinary builds cmd/pulumi-resource-rocketchat-ha once.
func providerBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "rcha-provider-")
		if err != nil {
			buildErr = err
			return
		}
		binDir, binPath = dir, filepath.Join(dir, "pulumi-resource-rocketchat-ha")
		out, err := exec.Command("go", "build", "-o", binPath, "github.com/rocketchat-ha/rocketchat-ha/cmd/pulumi-resource-rocketchat-ha").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func pulumiCLI(t *testing.T) string {
	t.Helper()
	p, why := testenv.PulumiCLI()
	if p == "" {
		testenv.Missing(t, why)
	}
	return p
}

// cli runs the Pulumi CLI with its own home, offline.
func cli(t *testing.T, home string, args ...string) string {
	t.Helper()
	cmd := exec.Command(pulumiCLI(t), args...)
	cmd.Env = append(os.Environ(), "PULUMI_HOME="+home, "PULUMI_SKIP_UPDATE_CHECK=true",
		"PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pulumi %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// TestSchemaFromBinary: `pulumi package get-schema` on the built binary
// prints exactly the committed schema.json.
func TestSchemaFromBinary(t *testing.T) {
	got := cli(t, t.TempDir(), "package", "get-schema", providerBinary(t))
	want, err := os.ReadFile(filepath.Join(root, "schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	if got != string(want) {
		t.Fatal("schema.json differs from `pulumi package get-schema` of the built provider: run `make sdk` and commit schema.json and sdk/")
	}
}

// readTree returns every file under dir by its slash path.
func readTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if strings.Contains(filepath.ToSlash(rel), "node_modules/") || strings.Contains(rel, "__pycache__") {
			return nil
		}
		b, err := os.ReadFile(p)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// TestSDKsAreCurrent regenerates the SDKs from schema.json (tools/sdkgen)
// and compares them with sdk/, file by file.
func TestSDKsAreCurrent(t *testing.T) {
	out := t.TempDir()
	abs, err := filepath.Abs(root)
	if err != nil {
		t.Fatal(err)
	}
	// tools/sdkgen is its own module: offline, without its modules in the
	// cache, it cannot build (a missing tool, not a stale SDK).
	dl := exec.Command("go", "mod", "download")
	dl.Dir = filepath.Join(abs, "tools", "sdkgen")
	if b, err := dl.CombinedOutput(); err != nil {
		testenv.Missing(t, fmt.Sprintf("tools/sdkgen's modules cannot be downloaded (%v: %s)", err, strings.TrimSpace(string(b))))
	}
	cmd := exec.Command("go", "run", ".", "-schema", filepath.Join(abs, "schema.json"), "-out", out)
	cmd.Dir = filepath.Join(abs, "tools", "sdkgen")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tools/sdkgen: %v\n%s", err, b)
	}
	want, got := readTree(t, out), readTree(t, filepath.Join(abs, "sdk"))
	var stale []string
	for name, w := range want {
		if g, ok := got[name]; !ok || g != w {
			stale = append(stale, name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			stale = append(stale, name+" (not generated)")
		}
	}
	sort.Strings(stale)
	if len(stale) > 0 {
		t.Fatalf("sdk/ is stale (%s): run `make sdk` and commit sdk/", strings.Join(stale, ", "))
	}
	for _, lang := range []string{"nodejs", "python", "dotnet"} {
		n := 0
		for name := range want {
			if strings.HasPrefix(name, lang+"/") {
				n++
			}
		}
		if n < 5 {
			t.Errorf("only %d %s files generated", n, lang)
		}
	}
}

// tsDir holds the type-check program, its tsconfig and its npm packages.
const tsDir = "ts"

func tsc(t *testing.T) string {
	t.Helper()
	testenv.LookPath(t, "node", "apt-get install nodejs")
	p, err := filepath.Abs(filepath.Join(tsDir, "node_modules", ".bin", "tsc"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(p); err != nil {
		testenv.Missing(t, "typescript is not installed in tests/provider/ts (run `make sdk-ts`)")
	}
	return p
}

// TestTypeScriptProgramCompiles: tsc --noEmit compiles ts/index.ts (the
// README example: typed nodes, the outputs) against sdk/nodejs and
// @pulumi/pulumi, strict.
func TestTypeScriptProgramCompiles(t *testing.T) {
	cmd := exec.Command(tsc(t), "--noEmit", "-p", ".")
	cmd.Dir = tsDir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tsc: %v\n%s", err, out)
	}
}

// TestTypeScriptRefusesOutputsForPlainFields: the plain fields stay plain
// in the SDK: each program under ts/mustfail fails to compile, on its
// own line.
func TestTypeScriptRefusesOutputsForPlainFields(t *testing.T) {
	bin := tsc(t)
	abs, err := filepath.Abs(tsDir)
	if err != nil {
		t.Fatal(err)
	}
	progs, _ := filepath.Glob(filepath.Join(abs, "mustfail", "*.ts"))
	if len(progs) == 0 {
		t.Fatal("no programs in ts/mustfail")
	}
	for _, prog := range progs {
		cfg := filepath.Join(t.TempDir(), "tsconfig.json")
		body := fmt.Sprintf(`{"extends": %q, "files": [%q]}`, filepath.Join(abs, "tsconfig.json"), prog)
		if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		out, err := exec.Command(bin, "-p", cfg).CombinedOutput()
		if err == nil {
			t.Errorf("%s compiled; a plain field took an Output", filepath.Base(prog))
			continue
		}
		if !strings.Contains(string(out), filepath.Base(prog)+"(") || !strings.Contains(string(out), "error TS2") {
			t.Errorf("%s: tsc failed for another reason:\n%s", filepath.Base(prog), out)
		}
	}
}

// TestPythonSDKCompiles byte-compiles every file of sdk/python. PyPI is not
// reachable here, so the package is not imported (that needs the pulumi
// package) and not type-checked.
func TestPythonSDKCompiles(t *testing.T) {
	py := testenv.LookPath(t, "python3", "apt-get install python3")
	var files []string
	_ = filepath.WalkDir(filepath.Join(root, "sdk", "python"), func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".py") {
			files = append(files, p)
		}
		return err
	})
	if len(files) < 4 {
		t.Fatalf("only %d Python files in sdk/python", len(files))
	}
	// Compile to a temporary prefix: nothing is written into sdk/.
	script := `import py_compile, sys
for f in sys.argv[2:]:
    py_compile.compile(f, cfile=sys.argv[1] + "/" + f.replace("/", "_") + "c", doraise=True)
`
	args := append([]string{"-c", script, t.TempDir()}, files...)
	if out, err := exec.Command(py, args...).CombinedOutput(); err != nil {
		t.Fatalf("py_compile: %v\n%s", err, out)
	}
}

// TestReleaseArchiveInstalls builds this platform's release archive with
// tools/dist.sh, installs it with `pulumi plugin install resource
// rocketchat-ha <version> --file`, and reads the schema from the installed
// plugin.
func TestReleaseArchiveInstalls(t *testing.T) {
	pulumiCLI(t)
	testenv.LookPath(t, "tar", "apt-get install tar")
	const version = "0.1.0-test.1"
	dist := t.TempDir()
	platform := runtime.GOOS + "-" + runtime.GOARCH
	cmd := exec.Command("tools/dist.sh", version)
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "RCHA_DIST_DIR="+dist, "RCHA_DIST_PLATFORMS="+platform)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tools/dist.sh: %v\n%s", err, out)
	}
	archive := filepath.Join(dist, "pulumi-resource-rocketchat-ha-v"+version+"-"+platform+".tar.gz")
	list, err := exec.Command("tar", "-tzf", archive).Output()
	if err != nil {
		t.Fatalf("%s: %v", archive, err)
	}
	if !strings.Contains("\n"+string(list), "\npulumi-resource-rocketchat-ha\n") {
		t.Fatalf("the archive has no pulumi-resource-rocketchat-ha at its root:\n%s", list)
	}

	home := t.TempDir()
	cli(t, home, "plugin", "install", "resource", provider.Name, version, "--file", archive)
	bin := filepath.Join(home, "plugins", "resource-rocketchat-ha-v"+version, "pulumi-resource-rocketchat-ha")
	if fi, err := os.Stat(bin); err != nil || fi.Mode()&0o111 == 0 {
		t.Fatalf("installed plugin binary %s: %v", bin, err)
	}
	ls := cli(t, home, "plugin", "ls")
	if !strings.Contains(ls, provider.Name) || !strings.Contains(ls, version) {
		t.Fatalf("pulumi plugin ls does not list %s %s:\n%s", provider.Name, version, ls)
	}
	// The engine runs the installed plugin: the schema it serves carries
	// the release version and the download URL.
	schema := cli(t, home, "package", "get-schema", provider.Name+"@"+version)
	for _, want := range []string{`"version": "` + version + `"`, `"pluginDownloadURL": "` + provider.PluginDownloadURL + `"`} {
		if !strings.Contains(schema, want) {
			t.Errorf("schema of the installed plugin lacks %s", want)
		}
	}
}

// docBlock returns the first fenced block of lang after the line "<label>:"
// in docs/providers.md.
func docBlock(t *testing.T, label, lang string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "docs", "providers.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "\n"+label+":\n\n```"+lang+"\n")
	if i < 0 {
		t.Fatalf("docs/providers.md has no %s example", label)
	}
	body := doc[i+len("\n"+label+":\n\n```"+lang+"\n"):]
	return body[:strings.Index(body, "```")]
}

// TestDocsTypeScriptExample: ts/readme.ts, which tsc checks, is the
// documented TypeScript example.
func TestDocsTypeScriptExample(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(tsDir, "readme.ts"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(b), "\n", 3)
	if len(lines) < 3 || lines[2] != docBlock(t, "TypeScript", "ts") {
		t.Fatal("tests/provider/ts/readme.ts differs from the TypeScript example of docs/providers.md")
	}
}

// TestDocsPythonExampleCompiles byte-compiles the documented Python
// example (syntax only, as for the SDK).
func TestDocsPythonExampleCompiles(t *testing.T) {
	py := testenv.LookPath(t, "python3", "apt-get install python3")
	src := filepath.Join(t.TempDir(), "example.py")
	if err := os.WriteFile(src, []byte(docBlock(t, "Python", "python")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(py, "-m", "py_compile", src).CombinedOutput(); err != nil {
		t.Fatalf("py_compile: %v\n%s", err, out)
	}
}

// mypy runs mypy on files against sdk/python and the Python SDK of the
// pinned Pulumi (github.com/pulumi/pulumi/sdk/v3 carries it under
// python/lib; PyPI is not reachable, so it comes from the Go module cache).
// Errors inside those packages are not reported (--follow-imports=silent),
// nor missing third-party stubs (grpc, protobuf): only the files' own.
func mypy(t *testing.T, files ...string) (string, error) {
	t.Helper()
	bin := testenv.LookPath(t, "mypy", "apt-get install mypy")
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/pulumi/pulumi/sdk/v3").Output()
	if err != nil {
		t.Fatalf("go list github.com/pulumi/pulumi/sdk/v3: %v", err)
	}
	lib := filepath.Join(strings.TrimSpace(string(out)), "python", "lib")
	if _, err := os.Stat(filepath.Join(lib, "pulumi", "__init__.py")); err != nil {
		t.Fatalf("the pulumi Python SDK is not in the module cache: %v", err)
	}
	sdk, _ := filepath.Abs(filepath.Join(root, "sdk", "python"))
	args := append([]string{"--cache-dir", filepath.Join(t.TempDir(), "mypy-cache"), "--python-version", "3.11",
		"--ignore-missing-imports", "--disable-error-code", "import", "--follow-imports", "silent", "--no-error-summary"}, files...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "MYPYPATH="+lib+string(os.PathListSeparator)+sdk)
	b, err := cmd.CombinedOutput()
	return string(b), err
}

// TestDocsPythonExampleTypeChecks: the documented Python example passes
// mypy against the generated SDK and the pinned pulumi SDK.
func TestDocsPythonExampleTypeChecks(t *testing.T) {
	src := filepath.Join(t.TempDir(), "example.py")
	if err := os.WriteFile(src, []byte(docBlock(t, "Python", "python")), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := mypy(t, "--check-untyped-defs", src); err != nil {
		t.Fatalf("mypy: %v\n%s", err, out)
	}
}

// TestPythonRefusesOutputsForPlainFields: each program under py/mustfail
// fails mypy on its own lines (an Output for nodes or a node's name, a
// misspelt field).
func TestPythonRefusesOutputsForPlainFields(t *testing.T) {
	progs, _ := filepath.Glob(filepath.Join("py", "mustfail", "*.py"))
	if len(progs) == 0 {
		t.Fatal("no programs in py/mustfail")
	}
	for _, prog := range progs {
		out, err := mypy(t, prog)
		if err == nil {
			t.Errorf("%s type-checked", prog)
			continue
		}
		if !strings.Contains(out, prog+":") || !strings.Contains(out, "error:") {
			t.Errorf("%s: mypy failed for another reason:\n%s", prog, out)
		}
	}
}
