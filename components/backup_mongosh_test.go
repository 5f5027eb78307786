package components_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

// mongoshBin finds mongosh: RCHA_MONGOSH_BIN, the pinned copy `npm ci`
// installs in tests/mongosh, then PATH.
func mongoshBin(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("RCHA_MONGOSH_BIN"); p != "" {
		return p
	}
	if p, err := filepath.Abs(filepath.Join("..", "tests", "mongosh", "node_modules", ".bin", "mongosh")); err == nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return testenv.LookPath(t, "mongosh", "run `npm ci` in tests/mongosh")
}

// fakeS3 is an S3 server on 127.0.0.1 for the path-style operations the
// backup job's client uses (PUT, GET, DELETE object; ListObjectsV2 with
// pagination). It checks every request's AWS Signature Version 4 with the
// AWS SDK for Go's own signer, so the client's signing is checked by an
// independent implementation.
type fakeS3 struct {
	t                *testing.T
	srv              *httptest.Server
	bucket, key, sec string
	region           string
	mu               sync.Mutex
	objects          map[string][]byte
	requests         []string
	pageSize         int
}

func newFakeS3(t *testing.T) *fakeS3 {
	f := &fakeS3{t: t, bucket: "chat-backups", key: "AKIDEXAMPLE", sec: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", region: "eu-central-1",
		objects: map[string][]byte{}, pageSize: 2}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, SignedHeaders=([a-z0-9;-]+), Signature=([0-9a-f]{64})$`)

// verify re-signs the request with the SDK's signer and compares.
func (f *fakeS3) verify(r *http.Request, body []byte) string {
	m := authRE.FindStringSubmatch(r.Header.Get("Authorization"))
	if m == nil {
		return "malformed Authorization " + r.Header.Get("Authorization")
	}
	if m[1] != f.key || m[3] != f.region {
		return "wrong credential scope " + m[0]
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return "bad x-amz-date"
	}
	payload := r.Header.Get("X-Amz-Content-Sha256")
	if body != nil {
		sum := sha256.Sum256(body)
		if hex.EncodeToString(sum[:]) != payload {
			return "x-amz-content-sha256 does not match the body"
		}
	}
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	req, _ := http.NewRequest(r.Method, u.String(), nil)
	req.URL.RawPath = r.URL.EscapedPath()
	for _, h := range strings.Split(m[4], ";") {
		switch h {
		case "host":
		case "content-length":
			req.ContentLength = r.ContentLength
		default:
			req.Header.Set(h, r.Header.Get(h))
		}
	}
	err = v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).SignHTTP(context.Background(),
		aws.Credentials{AccessKeyID: f.key, SecretAccessKey: f.sec}, req, payload, "s3", f.region, when)
	if err != nil {
		return err.Error()
	}
	if got, want := r.Header.Get("Authorization"), req.Header.Get("Authorization"); got != want {
		return fmt.Sprintf("signature mismatch:\n client %s\n sdk    %s", got, want)
	}
	return ""
}

func (f *fakeS3) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var check []byte
	if r.Method == http.MethodPut {
		check = body
	}
	if msg := f.verify(r, check); msg != "" {
		f.t.Logf("fake S3 refused %s %s: %s", r.Method, r.URL, msg)
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, "<Error><Code>SignatureDoesNotMatch</Code></Error>")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests = append(f.requests, r.Method+" "+r.URL.RequestURI())
	prefix := "/" + f.bucket
	if r.URL.Path != prefix && !strings.HasPrefix(r.URL.Path, prefix+"/") {
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, "<Error><Code>NoSuchBucket</Code></Error>")
		return
	}
	key := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, prefix), "/")
	switch {
	case r.Method == http.MethodPut:
		f.objects[key] = body
	case r.Method == http.MethodGet && key != "":
		b, ok := f.objects[key]
		if !ok {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, "<Error><Code>NoSuchKey</Code></Error>")
			return
		}
		_, _ = w.Write(b)
	case r.Method == http.MethodDelete:
		delete(f.objects, key)
		w.WriteHeader(http.StatusNoContent)
	case r.Method == http.MethodGet && r.URL.Query().Get("list-type") == "2":
		var keys []string
		for k := range f.objects {
			if strings.HasPrefix(k, r.URL.Query().Get("prefix")) {
				keys = append(keys, k)
			}
		}
		sort.Strings(keys)
		start := 0
		if tok := r.URL.Query().Get("continuation-token"); tok != "" {
			start, _ = strconv.Atoi(strings.TrimPrefix(tok, "page&"))
		}
		end := min(start+f.pageSize, len(keys))
		var b strings.Builder
		b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><ListBucketResult>`)
		for _, k := range keys[start:end] {
			fmt.Fprintf(&b, "<Contents><Key>%s</Key><LastModified>2026-12-01T02:00:00.000Z</LastModified><ETag>&quot;x&quot;</ETag><Size>%d</Size></Contents>", k, len(f.objects[k]))
		}
		if end < len(keys) {
			// A token with a character XML escapes, as real tokens may.
			fmt.Fprintf(&b, "<IsTruncated>true</IsTruncated><NextContinuationToken>page&amp;%d</NextContinuationToken>", end)
		} else {
			b.WriteString("<IsTruncated>false</IsTruncated>")
		}
		b.WriteString("</ListBucketResult>")
		_, _ = w.Write([]byte(b.String()))
	default:
		w.WriteHeader(http.StatusBadRequest)
	}
}

// s3Run runs backup-s3.js under real mongosh with config cfg.
func s3Run(t *testing.T, mongosh, script string, cfg map[string]string, op, key, file string) (int, string) {
	t.Helper()
	dir := t.TempDir()
	cf := filepath.Join(dir, "s3.json")
	js, _ := json.Marshal(cfg)
	must(t, os.WriteFile(cf, js, 0o400))
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, mongosh, "--nodb", "--quiet", "--norc", script)
	cmd.Env = append(os.Environ(), "HOME="+dir, "RCHA_S3_CONFIG="+cf, "RCHA_S3_OP="+op, "RCHA_S3_KEY="+key, "RCHA_S3_FILE="+file)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

// TestBackupS3ClientUnderMongosh runs the job's real S3 client
// (backup-s3.js) under real mongosh against the fake S3 server.
func TestBackupS3ClientUnderMongosh(t *testing.T) {
	mongosh := mongoshBin(t)
	script := filepath.Join(t.TempDir(), "backup-s3.js")
	must(t, os.WriteFile(script, []byte(components.BackupS3Script()), 0o444))
	s3 := newFakeS3(t)
	cfg := map[string]string{"endpoint": s3.srv.URL, "region": s3.region, "bucket": s3.bucket, "prefix": "prod/",
		"accessKeyId": s3.key, "secretAccessKey": s3.sec}

	archive := filepath.Join(t.TempDir(), "rs0-20261201T020000Z.archive.gz")
	payload := bytes.Repeat([]byte("archive bytes\n"), 20000)
	must(t, os.WriteFile(archive, payload, 0o600))
	if rc, out := s3Run(t, mongosh, script, cfg, "put", "rs0-20261201T020000Z.archive.gz", archive); rc != 0 {
		t.Fatalf("put: exit %d\n%s", rc, out)
	}
	if !bytes.Equal(s3.objects["prod/rs0-20261201T020000Z.archive.gz"], payload) {
		t.Fatalf("the object holds %d bytes, want the %d of the file", len(s3.objects["prod/rs0-20261201T020000Z.archive.gz"]), len(payload))
	}
	for _, k := range []string{"prod/rs0-20261130T020000Z.archive.gz", "prod/rs0-20261129T020000Z.archive.gz", "other/rs0-20261129T020000Z.archive.gz"} {
		s3.objects[k] = []byte("x")
	}
	rc, out := s3Run(t, mongosh, script, cfg, "list", "", "")
	if rc != 0 {
		t.Fatalf("list: exit %d\n%s", rc, out)
	}
	want := "rs0-20261129T020000Z.archive.gz 1 2026-12-01T02:00:00.000Z\nrs0-20261130T020000Z.archive.gz 1 2026-12-01T02:00:00.000Z\n" +
		fmt.Sprintf("rs0-20261201T020000Z.archive.gz %d 2026-12-01T02:00:00.000Z\n", len(payload))
	if out != want {
		t.Errorf("list (two pages) printed\n%s\nwant\n%s", out, want)
	}
	got := filepath.Join(t.TempDir(), "got.gz")
	if rc, out := s3Run(t, mongosh, script, cfg, "get", "rs0-20261201T020000Z.archive.gz", got); rc != 0 {
		t.Fatalf("get: exit %d\n%s", rc, out)
	}
	if b, _ := os.ReadFile(got); !bytes.Equal(b, payload) {
		t.Errorf("get wrote %d bytes", len(b))
	}
	if rc, out := s3Run(t, mongosh, script, cfg, "delete", "rs0-20261129T020000Z.archive.gz", ""); rc != 0 {
		t.Fatalf("delete: exit %d\n%s", rc, out)
	}
	if _, ok := s3.objects["prod/rs0-20261129T020000Z.archive.gz"]; ok {
		t.Error("delete left the object")
	}
	if _, ok := s3.objects["other/rs0-20261129T020000Z.archive.gz"]; !ok {
		t.Error("delete removed another prefix's object")
	}
	// Failures exit non-zero and say why, without the secret.
	if rc, out := s3Run(t, mongosh, script, cfg, "get", "rs0-missing.archive.gz", filepath.Join(t.TempDir(), "x")); rc == 0 || !strings.Contains(out, "HTTP 404 NoSuchKey") {
		t.Errorf("get of a missing object: exit %d\n%s", rc, out)
	}
	bad := map[string]string{}
	for k, v := range cfg {
		bad[k] = v
	}
	bad["secretAccessKey"] = "not-the-secret"
	if rc, out := s3Run(t, mongosh, script, bad, "put", "rs0-x.archive.gz", archive); rc == 0 || !strings.Contains(out, "HTTP 403 SignatureDoesNotMatch") || strings.Contains(out, "not-the-secret") {
		t.Errorf("put with a wrong secret: exit %d\n%s", rc, out)
	}
	closed := map[string]string{}
	for k, v := range cfg {
		closed[k] = v
	}
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed["endpoint"] = "http://" + l.Addr().String()
	l.Close()
	if rc, out := s3Run(t, mongosh, script, closed, "list", "", ""); rc == 0 || !strings.Contains(out, "ECONNREFUSED") {
		t.Errorf("list against a closed port: exit %d\n%s", rc, out)
	}
}

// TestBackupMetricsUnderMongosh runs the job's metrics server
// (backup-metrics.js) under real mongosh and reads /metrics over HTTP.
func TestBackupMetricsUnderMongosh(t *testing.T) {
	mongosh := mongoshBin(t)
	dir := t.TempDir()
	script := filepath.Join(dir, "backup-metrics.js")
	must(t, os.WriteFile(script, []byte(components.BackupMetricsScript()), 0o444))
	metrics := filepath.Join(dir, "metrics.prom")
	must(t, os.WriteFile(filepath.Join(dir, "since"), []byte("1764500000\n"), 0o644))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, mongosh, "--nodb", "--quiet", "--norc", script)
	cmd.Env = append(os.Environ(), "HOME="+dir, "RCHA_METRICS_FILE="+metrics, "RCHA_BACKUP_METRICS_PORT="+strconv.Itoa(port),
		"RCHA_BACKUP_METRICS_BIND=127.0.0.1", "RCHA_SINCE_FILE="+filepath.Join(dir, "since"), "RCHA_BACKUP_INTERVAL_SECONDS=86400")
	var out testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	must(t, cmd.Start())
	defer func() { cancel(); _ = cmd.Wait() }()
	get := func() string {
		deadline := time.Now().Add(30 * time.Second)
		for {
			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", port))
			if err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
					t.Fatalf("status %d, type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				return string(b)
			}
			if time.Now().After(deadline) {
				t.Fatalf("metrics server does not answer: %v\n%s", err, out.String())
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	first := get()
	for _, want := range []string{"rcha_backup_last_success_timestamp_seconds 0\n", "rcha_backup_since_timestamp_seconds 1764500000\n", "rcha_backup_interval_seconds 86400\n", "# TYPE rcha_backup_interval_seconds gauge\n"} {
		if !strings.Contains(first, want) {
			t.Errorf("before any run, /metrics lacks %q:\n%s", want, first)
		}
	}
	must(t, os.WriteFile(metrics, []byte("# TYPE rcha_backup_last_success_timestamp_seconds gauge\nrcha_backup_last_success_timestamp_seconds 1764554400\n"), 0o644))
	if got := get(); !strings.Contains(got, "rcha_backup_last_success_timestamp_seconds 1764554400\n") || !strings.Contains(got, "rcha_backup_interval_seconds 86400\n") {
		t.Errorf("after a run, /metrics:\n%s", got)
	}
	// The text parses as Prometheus exposition: every sample line is NAME VALUE.
	for _, line := range strings.Split(strings.TrimSpace(get()), "\n") {
		if !strings.HasPrefix(line, "#") && !regexp.MustCompile(`^rcha_backup_[a-z_]+ [0-9.]+$`).MatchString(line) {
			t.Errorf("bad sample line %q", line)
		}
	}
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/other", port))
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != 404 {
		t.Errorf("GET /other: %d", resp.StatusCode)
	}
}
