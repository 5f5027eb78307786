// Package backupops runs the on-demand backup operations of `rcha`: one
// backup now, the list of archives, and a restore that stops every
// Rocket.Chat server, restores through the primary, and starts the servers
// again one by one, waiting for each to be healthy. It reaches each node's
// Docker host with the docker CLI, as the component's command steps do.
package backupops

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Node is one node as the operations see it.
type Node struct {
	Name       string
	DockerHost string
	// TLS material (PEM) for a tcp:// DockerHost; empty otherwise.
	CA, Cert, Key string
	// RocketChat is the name of its Rocket.Chat container.
	RocketChat string
}

// Cluster is what the operations need to know about a deployed stack.
type Cluster struct {
	Stack      string
	ReplicaSet string
	Nodes      []Node
	// Backup is the node running the backup container BackupContainer.
	Backup          Node
	BackupContainer string
	// RunScript is the job's command script in the backup container.
	RunScript string
	// HealthTimeout bounds the wait for each Rocket.Chat server to be
	// healthy again after a restore.
	HealthTimeout time.Duration
	// Poll is the interval between health checks (2s when zero).
	Poll time.Duration
}

// Docker runs the docker CLI against one host.
type Docker interface {
	// Run runs `docker args...` against host with the extra environment
	// (NAME=VALUE; a secret passed with `docker exec -e NAME` travels
	// here, never on the command line), copying its output to stdout and
	// stderr (nil discards).
	Run(ctx context.Context, n Node, env []string, stdout, stderr io.Writer, args ...string) error
}

// CLI is Docker with the docker binary Path (docker on PATH when empty).
type CLI struct{ Path string }

// Run implements Docker. TLS material goes into a private temporary
// directory (DOCKER_CERT_PATH), removed afterwards.
func (c CLI) Run(ctx context.Context, n Node, env []string, stdout, stderr io.Writer, args ...string) error {
	bin := c.Path
	if bin == "" {
		bin = "docker"
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+n.DockerHost)
	cmd.Env = append(cmd.Env, env...)
	if n.CA != "" && strings.HasPrefix(n.DockerHost, "tcp://") {
		dir, err := os.MkdirTemp("", "rcha-docker-tls-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		for name, pem := range map[string]string{"ca.pem": n.CA, "cert.pem": n.Cert, "key.pem": n.Key} {
			if err := os.WriteFile(filepath.Join(dir, name), []byte(pem), 0o600); err != nil {
				return err
			}
		}
		cmd.Env = append(cmd.Env, "DOCKER_CERT_PATH="+dir, "DOCKER_TLS_VERIFY=1")
	}
	// One lock for both streams: they often go to the same writer.
	var mu sync.Mutex
	var errBuf bytes.Buffer
	if stdout != nil {
		cmd.Stdout = &lockedWriter{mu: &mu, w: stdout}
	}
	cmd.Stderr = &lockedWriter{mu: &mu, w: stderr, tail: &errBuf}
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(errBuf.String()); msg != "" {
			return fmt.Errorf("docker %s: %v: %s", args[0], err, lastLine(msg))
		}
		return fmt.Errorf("docker %s: %v", args[0], err)
	}
	return nil
}

// lockedWriter writes to w (when not nil) and tail (when not nil) under mu.
type lockedWriter struct {
	mu   *sync.Mutex
	w    io.Writer
	tail *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.tail != nil {
		l.tail.Write(p)
	}
	if l.w != nil {
		return l.w.Write(p)
	}
	return len(p), nil
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

// Ops runs the operations on a cluster, printing progress lines.
type Ops struct {
	C        Cluster
	D        Docker
	Progress io.Writer // progress lines (and the job's own output)
}

func (o Ops) say(format string, a ...any) { fmt.Fprintf(o.Progress, "rcha: "+format+"\n", a...) }

// BackupNow runs one backup in the backup container and waits for it,
// showing the job's progress lines as they come.
func (o Ops) BackupNow(ctx context.Context) error {
	o.say("running a backup now in %s on %s (%s)", o.C.BackupContainer, o.C.Backup.Name, o.C.Backup.DockerHost)
	err := o.D.Run(ctx, o.C.Backup, nil, o.Progress, o.Progress, "exec", o.C.BackupContainer, "sh", o.C.RunScript, "backup")
	if err != nil {
		return fmt.Errorf("the backup failed on %s: %w; no partial archive was kept (see %s/status.json in the volume, and `docker logs %s`)", o.C.Backup.Name, err, "/backups", o.C.BackupContainer)
	}
	return nil
}

// Archive is one archive of the backup job.
type Archive struct {
	// Place is "local" (the volume on the backup node) or "s3".
	Place string
	Name  string
	Bytes int64
	Time  time.Time
}

// List returns the archives, newest first, local before S3 for the same
// name.
func (o Ops) List(ctx context.Context) ([]Archive, error) {
	var out bytes.Buffer
	if err := o.D.Run(ctx, o.C.Backup, nil, &out, o.Progress, "exec", o.C.BackupContainer, "sh", o.C.RunScript, "list"); err != nil {
		return nil, fmt.Errorf("listing the archives on %s: %w", o.C.Backup.Name, err)
	}
	return ParseList(out.String())
}

// ParseList reads the job's list output: "local NAME BYTES EPOCH" and
// "s3 NAME BYTES RFC3339" lines.
func ParseList(text string) ([]Archive, error) {
	var as []Archive
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if len(f) != 4 || (f[0] != "local" && f[0] != "s3") {
			return nil, fmt.Errorf("unexpected line from the backup job: %q", sc.Text())
		}
		n, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("unexpected size in %q", sc.Text())
		}
		a := Archive{Place: f[0], Name: f[1], Bytes: n}
		if f[0] == "local" {
			sec, err := strconv.ParseInt(f[3], 10, 64)
			if err != nil {
				return nil, fmt.Errorf("unexpected time in %q", sc.Text())
			}
			a.Time = time.Unix(sec, 0).UTC()
		} else if a.Time, err = time.Parse(time.RFC3339, f[3]); err != nil {
			return nil, fmt.Errorf("unexpected time in %q", sc.Text())
		}
		as = append(as, a)
	}
	sort.SliceStable(as, func(i, j int) bool {
		if as[i].Name != as[j].Name {
			return as[i].Name > as[j].Name
		}
		return as[i].Place == "local" && as[j].Place != "local"
	})
	return as, nil
}

// WriteList prints archives as a table.
func WriteList(w io.Writer, as []Archive, backupNode string) {
	fmt.Fprintf(w, "%-38s  %-20s  %12s  %s\n", "ARCHIVE", "TIME (UTC)", "BYTES", "PLACE")
	for _, a := range as {
		place := "s3"
		if a.Place == "local" {
			place = "local volume on " + backupNode
		}
		fmt.Fprintf(w, "%-38s  %-20s  %12d  %s\n", a.Name, a.Time.Format("2006-01-02 15:04:05"), a.Bytes, place)
	}
}

// RestoreRequest is what a restore needs beyond the cluster.
type RestoreRequest struct {
	From string
	// RootPassword is the root password in effect (secret).
	RootPassword string
	// Confirm asks the operator; nil or false refuses.
	Confirm func(prompt string) bool
	// Verify checks the cluster after the servers are back (rcha's verify
	// logic); nil skips the check.
	Verify func(ctx context.Context) error
}

// stage names where a restore stopped, for the message that says what
// state the cluster is in and what to run next.
type stage int

const (
	stageCheck stage = iota
	stageStop
	stageRestore
	stageStart
	stageVerify
)

// RestoreError is a restore that stopped part-way: Err, and exactly what
// state the cluster is in and what to run next.
type RestoreError struct {
	Err  error
	What string
	// OnlyVerifyFailed says the restore and the restarts succeeded and
	// only the verification after them failed.
	OnlyVerifyFailed bool
}

func (e *RestoreError) Error() string { return e.Err.Error() + "\n" + e.What }
func (e *RestoreError) Unwrap() error { return e.Err }

// ErrNotConfirmed is returned when the operator did not confirm.
var ErrNotConfirmed = errors.New("not confirmed: nothing was changed")

// Restore restores the archive req.From: it checks that every node
// answers and the archive exists, asks for confirmation, stops every
// Rocket.Chat server, runs mongorestore --drop --oplogReplay through the
// primary, starts the servers one by one waiting for each to be healthy,
// and verifies. On failure part-way the error says what state the cluster
// is in and what to run next.
func (o Ops) Restore(ctx context.Context, req RestoreRequest) error {
	c := o.C
	servers := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		servers[i] = n.RocketChat + " on " + n.Name
	}
	// 1. Check, before anything changes: every host answers, the archive
	// is there.
	for _, n := range c.Nodes {
		if err := o.D.Run(ctx, n, nil, nil, nil, "inspect", "--type", "container", "--format", "{{.State.Status}}", n.RocketChat); err != nil {
			return o.fail(stageCheck, nil, fmt.Errorf("node %s: %w", n.Name, err), req)
		}
	}
	as, err := o.List(ctx)
	if err != nil {
		return o.fail(stageCheck, nil, err, req)
	}
	var found *Archive
	for i := range as {
		if as[i].Name == req.From {
			found = &as[i]
			break
		}
	}
	if found == nil {
		var names []string
		for _, a := range as {
			names = append(names, a.Name+" ("+a.Place+")")
		}
		return o.fail(stageCheck, nil, fmt.Errorf("no archive named %s; the archives are: %s (rcha backups --stack %s)", req.From, orNone(names), c.Stack), req)
	}
	o.say("restore: %s (%d bytes, %s, %s) into replica set %s", found.Name, found.Bytes, found.Time.Format(time.RFC3339), found.Place, c.ReplicaSet)
	o.say("restore: this REPLACES every database of the cluster with the archive's content (mongorestore --drop --oplogReplay); "+
		"writes since %s are lost. Every Rocket.Chat server stops until the restore is done: %s.", found.Time.Format(time.RFC3339), strings.Join(servers, ", "))
	if req.Confirm == nil || !req.Confirm("restore "+req.From) {
		return ErrNotConfirmed
	}

	// 2. Stop every Rocket.Chat server.
	var stopped []Node
	for _, n := range c.Nodes {
		o.say("restore: stopping %s on %s", n.RocketChat, n.Name)
		if err := o.D.Run(ctx, n, nil, nil, nil, "stop", "--time", "30", n.RocketChat); err != nil {
			return o.fail(stageStop, stopped, fmt.Errorf("stopping %s on %s: %w", n.RocketChat, n.Name, err), req)
		}
		stopped = append(stopped, n)
	}

	// 3. Restore through the primary; the root password travels in the
	// docker CLI's environment (docker exec -e NAME), not on a command line.
	o.say("restore: every Rocket.Chat server is stopped; running mongorestore in %s on %s", c.BackupContainer, c.Backup.Name)
	if err := o.D.Run(ctx, c.Backup, []string{"RCHA_RESTORE_PASSWORD=" + req.RootPassword}, o.Progress, o.Progress,
		"exec", "-e", "RCHA_RESTORE_PASSWORD", c.BackupContainer, "sh", c.RunScript, "restore", req.From); err != nil {
		return o.fail(stageRestore, stopped, fmt.Errorf("mongorestore of %s failed: %w", req.From, err), req)
	}

	// 4. Start the servers one by one, each healthy before the next.
	for i, n := range c.Nodes {
		o.say("restore: starting %s on %s (%d of %d)", n.RocketChat, n.Name, i+1, len(c.Nodes))
		if err := o.D.Run(ctx, n, nil, nil, nil, "start", n.RocketChat); err != nil {
			return o.fail(stageStart, c.Nodes[i:], fmt.Errorf("starting %s on %s: %w", n.RocketChat, n.Name, err), req)
		}
		if err := o.waitHealthy(ctx, n); err != nil {
			return o.fail(stageStart, c.Nodes[i:], err, req)
		}
		o.say("restore: %s on %s is healthy", n.RocketChat, n.Name)
	}

	// 5. Verify.
	if req.Verify != nil {
		o.say("restore: every server is back; verifying the cluster")
		if err := req.Verify(ctx); err != nil {
			return o.fail(stageVerify, nil, err, req)
		}
	}
	o.say("restore: %s restored; every Rocket.Chat server is running and healthy", req.From)
	return nil
}

// waitHealthy polls n's Rocket.Chat container until its healthcheck says
// healthy.
func (o Ops) waitHealthy(ctx context.Context, n Node) error {
	timeout := o.C.HealthTimeout
	if timeout == 0 {
		timeout = 5 * time.Minute
	}
	poll := o.C.Poll
	if poll == 0 {
		poll = 2 * time.Second
	}
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		var out bytes.Buffer
		err := o.D.Run(ctx, n, nil, &out, nil, "inspect", "--type", "container", "--format", "{{.State.Health.Status}}", n.RocketChat)
		status := strings.TrimSpace(out.String())
		if err == nil && status == "healthy" {
			return nil
		}
		if err != nil {
			status = err.Error()
		}
		if status != last {
			o.say("restore: %s on %s: %s", n.RocketChat, n.Name, status)
			last = status
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s on %s is not healthy after %s (last: %s)", n.RocketChat, n.Name, timeout, status)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// fail wraps err with the state the cluster is in after stage, and what
// to run next. down are the servers that are stopped (stageStop,
// stageRestore) or not yet running again (stageStart).
func (o Ops) fail(s stage, down []Node, err error, req RestoreRequest) error {
	c := o.C
	var names []string
	for _, n := range down {
		names = append(names, n.RocketChat+" on "+n.Name)
	}
	start := func() string {
		var b strings.Builder
		for _, n := range down {
			fmt.Fprintf(&b, "\n    DOCKER_HOST=%s docker start %s", n.DockerHost, n.RocketChat)
		}
		return b.String()
	}
	retry := fmt.Sprintf("rcha restore --stack %s --from %s", c.Stack, req.From)
	var what string
	switch s {
	case stageCheck:
		what = "State: nothing was changed; every Rocket.Chat server is as it was. Fix the problem above, then run: " + retry
	case stageStop:
		what = fmt.Sprintf("State: nothing was restored; the database is as it was. These Rocket.Chat servers are STOPPED: %s. "+
			"Either start them again (the cluster is then as before):%s\n  or fix the problem above and run again: %s", orNone(names), start(), retry)
	case stageRestore:
		what = fmt.Sprintf("State: every Rocket.Chat server is STOPPED (%s), and the database may be PARTLY restored "+
			"(mongorestore --drop replaces collection by collection). Do not start the servers on a partial database. "+
			"Fix the problem above and run the restore again (it drops and restores everything again): %s\n"+
			"  Only to go back to the partly restored state as it is, start them:%s", orNone(names), retry, start())
	case stageStart:
		what = fmt.Sprintf("State: the database IS restored from %s. These Rocket.Chat servers are not running (or not healthy) yet: %s. "+
			"Look at `docker logs` of the first one, then start them one by one:%s\n  then check: rcha verify --stack %s",
			req.From, orNone(names), start(), c.Stack)
	case stageVerify:
		what = fmt.Sprintf("State: the database is restored from %s and every Rocket.Chat server was started and reported healthy, "+
			"but the verification failed (above). Run `rcha verify --stack %s` for the details.", req.From, c.Stack)
	}
	return &RestoreError{Err: err, What: what, OnlyVerifyFailed: s == stageVerify}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "none"
	}
	return strings.Join(s, ", ")
}
