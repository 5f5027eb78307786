package keepalived_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rocketchat-ha/rocketchat-ha/internal/keepalived"
	"github.com/rocketchat-ha/rocketchat-ha/internal/nginx"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
	"github.com/rocketchat-ha/rocketchat-ha/tests/nginx/standin"
	"golang.org/x/sys/unix"
)

// The lab's addresses: a private /24 that exists only inside the namespaces
// the test creates (the bridge in the root namespace has no address).
const (
	subnet       = "10.250.250."
	prefixLen    = 24
	vip          = subnet + "250"
	backendsAddr = subnet + "20"
	clientAddr   = subnet + "100"
	stickyFirst  = 101 // client source addresses for the stickiness check: .101 ..
	stickyCount  = 16
	routerID     = 51
	lbInterface  = "eth0" // the veth end inside each namespace
	lbHTTPPort   = 80
)

// nsPrefix starts every namespace the lab makes; the per-run suffix is the
// test process's pid in hex, so a later run can tell a dead run's leftovers.
const nsPrefix = "rcha-"

var leftoverNS = regexp.MustCompile(`^rcha-(lb-[0-9]|backends|client)-([0-9a-f]{1,6})$`)

// lbHost is one load-balancer "host": a namespace with nginx and keepalived.
type lbHost struct {
	name     string // lb-1
	ns       string
	addr     string
	priority int
	dir      string
	nginxCfg nginx.Config // with the prefix paths filled in
	nginxRaw string       // the rendered nginx.conf
	kaConf   string       // path of the rendered keepalived.conf
	notify   string       // keepalived's notify script (monitoring), when set

	mu    sync.Mutex
	nginx *proc
	ka    *proc
}

// lab is the whole topology: a bridge in the root namespace, three
// load-balancer namespaces, one namespace for the stand-in backends and one
// for the client, each joined to the bridge by a veth pair.
type lab struct {
	t         *testing.T
	sfx       string
	bridge    string
	nginxBin  string
	kaBin     string
	hosts     []*lbHost
	backendNS string
	clientNS  string
	upstreams []string
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		testenv.Missing(t, "the keepalived tier needs root (network namespaces, a bridge, iptables)")
	}
}

func findBin(t *testing.T, name, install string) string {
	t.Helper()
	if os.Getenv("RCHA_"+strings.ToUpper(name)+"_BIN") == "" {
		if _, err := exec.LookPath(name); err != nil {
			if fi, err := os.Stat("/usr/sbin/" + name); err == nil && !fi.IsDir() {
				return "/usr/sbin/" + name
			}
		}
	}
	return testenv.LookPath(t, name, install)
}

// run runs a command and returns its combined output, failing with it.
func run(args ...string) (string, error) {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	out, err := run(args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// cleanLeftovers removes namespaces (and their processes, bridge and
// iptables rule) that an earlier run of this test left behind when it was
// killed before its cleanup ran: only names this test makes, and only when
// the run that made them (the pid in the suffix) is gone.
func cleanLeftovers(t *testing.T) {
	out, err := run("ip", "netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	dead := map[string]bool{}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		m := leftoverNS.FindStringSubmatch(f[0])
		if m == nil {
			continue
		}
		pid, _ := strconv.ParseInt(m[2], 16, 64)
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
			continue // a run still in progress (or a reused pid): not ours to touch
		}
		t.Logf("removing namespace %s left by an earlier run", f[0])
		killNamespacePids(f[0])
		_, _ = run("ip", "netns", "del", f[0])
		dead[m[2]] = true
	}
	for sfx := range dead {
		br := "rcha" + sfx
		_, _ = run("ip", "link", "del", br)
		for {
			if _, err := run("iptables", "-D", "FORWARD", "-i", br, "-o", br, "-j", "ACCEPT"); err != nil {
				break
			}
		}
	}
}

// nsPids lists the processes in a namespace, except this test process
// (whose threads visit the namespaces, see inNetns).
func nsPids(ns string) []int {
	out, _ := run("ip", "netns", "pids", ns)
	var pids []int
	for _, f := range strings.Fields(out) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 1 && pid != os.Getpid() {
			pids = append(pids, pid)
		}
	}
	return pids
}

// nsRunning lists the command names of the processes in a namespace.
func nsRunning(ns string) []string {
	var comms []string
	for _, pid := range nsPids(ns) {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil {
			comms = append(comms, strings.TrimSpace(string(b)))
		}
	}
	return comms
}

func killNamespacePids(ns string) {
	for _, pid := range nsPids(ns) {
		_ = syscall.Kill(pid, syscall.SIGKILL)
	}
}

// newLab builds the topology and registers its removal. Nothing runs in it
// yet.
func newLab(t *testing.T) *lab {
	requireRoot(t)
	l := &lab{
		t:        t,
		nginxBin: findBin(t, "nginx", "apt-get install -y nginx"),
		kaBin:    findBin(t, "keepalived", "apt-get install -y keepalived"),
	}
	for _, tool := range []string{"ip", "iptables"} {
		findBin(t, tool, "apt-get install -y iproute2 iptables")
	}
	if _, err := os.Stat("/usr/bin/wget"); err != nil {
		testenv.Missing(t, "/usr/bin/wget (keepalived's track script) is not installed (apt-get install -y wget)")
	}
	cleanLeftovers(t)
	l.sfx = fmt.Sprintf("%x", os.Getpid())
	l.bridge = "rcha" + l.sfx

	mustRun(t, "ip", "link", "add", l.bridge, "type", "bridge", "forward_delay", "0", "stp_state", "0")
	t.Cleanup(func() { _, _ = run("ip", "link", "del", l.bridge) })
	mustRun(t, "ip", "link", "set", l.bridge, "up")
	// A running dockerd sets FORWARD's policy to DROP, and with
	// bridge-nf-call-iptables that drops bridged traffic between namespaces.
	mustRun(t, "iptables", "-I", "FORWARD", "-i", l.bridge, "-o", l.bridge, "-j", "ACCEPT")
	t.Cleanup(func() {
		if _, err := run("iptables", "-D", "FORWARD", "-i", l.bridge, "-o", l.bridge, "-j", "ACCEPT"); err != nil {
			t.Errorf("removing the iptables rule: %v", err)
		}
	})

	idx := 0
	addNS := func(role, addr string) string {
		idx++
		ns := nsPrefix + role + "-" + l.sfx
		mustRun(t, "ip", "netns", "add", ns)
		t.Cleanup(func() {
			killNamespacePids(ns)
			if _, err := run("ip", "netns", "del", ns); err != nil {
				t.Errorf("removing namespace %s: %v", ns, err)
			}
		})
		outer := fmt.Sprintf("rv%s%d", l.sfx, idx)
		mustRun(t, "ip", "link", "add", outer, "type", "veth", "peer", "name", lbInterface, "netns", ns)
		mustRun(t, "ip", "link", "set", outer, "master", l.bridge, "up")
		mustRun(t, "ip", "-n", ns, "link", "set", "lo", "up")
		mustRun(t, "ip", "-n", ns, "addr", "add", addr+"/"+strconv.Itoa(prefixLen), "dev", lbInterface)
		mustRun(t, "ip", "-n", ns, "link", "set", lbInterface, "up")
		return ns
	}
	l.backendNS = addNS("backends", backendsAddr)
	l.clientNS = addNS("client", clientAddr)
	for i := stickyFirst; i < stickyFirst+stickyCount; i++ {
		mustRun(t, "ip", "-n", l.clientNS, "addr", "add", fmt.Sprintf("%s%d/%d", subnet, i, prefixLen), "dev", lbInterface)
	}
	for i, prio := range []int{150, 100, 50} {
		name := fmt.Sprintf("lb-%d", i+1)
		h := &lbHost{name: name, addr: fmt.Sprintf("%s%d", subnet, 11+i), priority: prio, dir: t.TempDir()}
		h.ns = addNS(name, h.addr)
		l.hosts = append(l.hosts, h)
	}
	// Processes go before the namespaces they run in (cleanups run last first).
	t.Cleanup(func() {
		for _, h := range l.hosts {
			h.mu.Lock()
			for _, p := range []*proc{h.ka, h.nginx} {
				if p != nil {
					p.kill()
				}
			}
			h.mu.Unlock()
		}
		if t.Failed() {
			for _, h := range l.hosts {
				h.mu.Lock()
				if h.ka != nil {
					t.Logf("%s keepalived output (last run):\n%s", h.name, tail(h.ka.out.String(), 4000))
				}
				if b, err := os.ReadFile(filepath.Join(h.dir, "error.log")); err == nil && len(b) > 0 {
					t.Logf("%s nginx error.log:\n%s", h.name, tail(string(b), 2000))
				}
				h.mu.Unlock()
			}
		}
	})
	return l
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// The main goroutine keeps the main thread, so that inNetns never moves the
// main thread (which the runtime would keep, in the other namespace, rather
// than end).
func init() { runtime.LockOSThread() }

// inNetns runs fn on an OS thread moved into the named network namespace.
// Sockets fn creates belong to that namespace for their whole life. The
// thread is never handed back to the Go scheduler: the goroutine exits
// locked, so the runtime ends the thread.
func inNetns(ns string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		f, err := os.Open("/run/netns/" + ns)
		if err != nil {
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- fmt.Errorf("setns %s: %w", ns, err)
			return
		}
		errc <- fn()
	}()
	return <-errc
}

// nsClient is an HTTP client whose connections are made inside ns, from the
// source address src, one connection per request.
func nsClient(ns, src string, timeout time.Duration) *http.Client {
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := inNetns(ns, func() (err error) {
			d := net.Dialer{Timeout: timeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(src)}}
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
	return &http.Client{
		Transport: &http.Transport{DialContext: dial, DisableKeepAlives: true},
		Timeout:   timeout,
	}
}

func getEcho(c *http.Client, url string) (standin.Echo, error) {
	resp, err := c.Get(url)
	if err != nil {
		return standin.Echo{}, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return standin.Echo{}, fmt.Errorf("%s: %s %q", url, resp.Status, tail(standin.ReadAllString(resp.Body), 200))
	}
	var e standin.Echo
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		return e, fmt.Errorf("%s: decoding the backend's echo: %w", url, err)
	}
	return e, nil
}

// startBackends runs n stand-in Rocket.Chat backends (standin.Backend's
// handler) on listeners made inside the backends namespace.
func (l *lab) startBackends(n int) {
	t := l.t
	for i := range n {
		b := standin.NewBackend("b" + strconv.Itoa(i))
		t.Cleanup(b.Close)
		var ln net.Listener
		if err := inNetns(l.backendNS, func() (err error) {
			ln, err = net.Listen("tcp", backendsAddr+":0")
			return err
		}); err != nil {
			t.Fatalf("listening in %s: %v", l.backendNS, err)
		}
		srv := &http.Server{Handler: b.Server.Config.Handler, ReadHeaderTimeout: 5 * time.Second}
		go func() { _ = srv.Serve(ln) }()
		t.Cleanup(func() { _ = srv.Close() })
		l.upstreams = append(l.upstreams, ln.Addr().String())
	}
}

// proc is a process started in a namespace in its own process group.
type proc struct {
	cmd  *exec.Cmd
	out  *testenv.SyncBuffer
	done chan struct{}
}

func startProc(ns string, args ...string) (*proc, error) {
	p := &proc{out: &testenv.SyncBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { _ = p.cmd.Wait(); close(p.done) }()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill SIGKILLs the whole process group (nginx's master and workers;
// keepalived's parent, its VRRP child and any running track script) at
// once, like a crash, and waits for the leader.
func (p *proc) kill() {
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
	}
}

// startNginx renders the nginx config (nginx.Render, through the stand-in
// helpers' prefix paths) and runs Debian's nginx in the host's namespace
// until it answers nginx.HealthPath on 127.0.0.1 there.
func (l *lab) startNginx(h *lbHost) {
	t := l.t
	t.Helper()
	if h.nginxRaw == "" {
		c, err := standin.PrefixConfig(nginx.Config{
			Upstreams:       l.upstreams,
			ListenAddress:   "0.0.0.0", // own address, the virtual IP and 127.0.0.1
			HTTPPort:        lbHTTPPort,
			HTTPSPort:       443,
			WorkerProcesses: 1,
		}, h.dir)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := standin.WriteConfig(c, h.dir); err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(filepath.Join(h.dir, "nginx.conf"))
		if err != nil {
			t.Fatal(err)
		}
		h.nginxCfg, h.nginxRaw = c, string(raw)
	}
	p, err := startProc(h.ns, l.nginxBin, "-p", h.dir, "-c", filepath.Join(h.dir, "nginx.conf"),
		"-e", filepath.Join(h.dir, "error.log"), "-g", "daemon off;")
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.nginx = p
	h.mu.Unlock()
	c := nsClient(h.ns, "127.0.0.1", time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		if p.exited() {
			t.Fatalf("%s: nginx exited during start-up: %s", h.name, p.out.String())
		}
		resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d%s", lbHTTPPort, nginx.HealthPath))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: nginx did not answer %s within 10s: %v", h.name, nginx.HealthPath, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func randomPassword(t *testing.T) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, keepalived.MaxPasswordLength)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = letters[int(b[i])%len(letters)]
	}
	return string(b)
}

// writeKeepalivedConfs renders every host's keepalived.conf with
// keepalived.Render: unicast peers are the other two hosts, the same router
// id and password everywhere, distinct priorities.
func (l *lab) writeKeepalivedConfs() {
	t := l.t
	pw := randomPassword(t)
	for _, h := range l.hosts {
		var peers []string
		for _, o := range l.hosts {
			if o != h {
				peers = append(peers, o.addr)
			}
		}
		text, err := keepalived.Render(keepalived.Config{
			RouterName:      "rcha-" + h.name,
			Interface:       lbInterface,
			VirtualRouterID: routerID,
			Priority:        h.priority,
			Self:            h.addr,
			Peers:           peers,
			Password:        pw,
			VirtualIP:       vip,
			Prefix:          prefixLen,
			HealthURL:       fmt.Sprintf("http://127.0.0.1:%d%s", lbHTTPPort, nginx.HealthPath),
			NotifyScript:    h.notify,
		})
		if err != nil {
			t.Fatal(err)
		}
		h.kaConf = filepath.Join(h.dir, "keepalived.conf")
		if err := os.WriteFile(h.kaConf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// startKeepalived runs Debian's keepalived in the foreground in the host's
// namespace, logging to its console (captured) and not to syslog.
func (l *lab) startKeepalived(h *lbHost) *proc {
	t := l.t
	t.Helper()
	p, err := startProc(h.ns, l.kaBin, "-n", "-l", "-D", "-G", "-f", h.kaConf,
		"-p", filepath.Join(h.dir, "keepalived.pid"), "-r", filepath.Join(h.dir, "vrrp.pid"))
	if err != nil {
		t.Fatal(err)
	}
	h.mu.Lock()
	h.ka = p
	h.mu.Unlock()
	return p
}

// holdsVIP reports whether the namespace has the virtual IP (ip -n NS addr show).
func holdsVIP(ns string) (bool, error) {
	out, err := run("ip", "-n", ns, "-4", "-o", "addr", "show", "dev", lbInterface)
	if err != nil {
		return false, err
	}
	return strings.Contains(out, " "+vip+"/"), nil
}

// holdsVIPNow asks the namespace's kernel directly (netlink from a thread
// inside it), for timing: much cheaper than running ip on a loaded machine.
func holdsVIPNow(ns string) (bool, error) {
	var has bool
	err := inNetns(ns, func() error {
		ifc, err := net.InterfaceByName(lbInterface)
		if err != nil {
			return err
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			return err
		}
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.String() == vip {
				has = true
			}
		}
		return nil
	})
	return has, err
}

// holders lists the hosts whose namespace has the virtual IP.
func (l *lab) holders() ([]*lbHost, error) {
	var hs []*lbHost
	for _, h := range l.hosts {
		ok, err := holdsVIP(h.ns)
		if err != nil {
			return nil, err
		}
		if ok {
			hs = append(hs, h)
		}
	}
	return hs, nil
}

func names(hs []*lbHost) []string {
	var s []string
	for _, h := range hs {
		s = append(s, h.name)
	}
	return s
}

func (l *lab) hostByAddr(addr string) *lbHost {
	for _, h := range l.hosts {
		if h.addr == addr {
			return h
		}
	}
	return nil
}

// waitConverged waits until exactly one namespace holds the virtual IP, has
// held it for `stable` and the virtual IP answers through that host's nginx.
func (l *lab) waitConverged(limit, stable time.Duration) (*lbHost, error) {
	deadline := time.Now().Add(limit)
	var since time.Time
	var last *lbHost
	var seen []string
	for time.Now().Before(deadline) {
		hs, err := l.holders()
		if err != nil {
			return nil, err
		}
		seen = names(hs)
		if len(hs) == 1 && hs[0] == last {
			if time.Since(since) >= stable {
				e, err := getEcho(nsClient(l.clientNS, clientAddr, time.Second), "http://"+vip+"/api/info")
				if err == nil && l.hostByAddr(hostOnly(e.RemoteAddr)) == last {
					return last, nil
				}
			}
		} else if len(hs) == 1 {
			last, since = hs[0], time.Now()
		} else {
			last = nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, fmt.Errorf("no single stable holder of %s within %s (last seen on %v)", vip, limit, seen)
}

func hostOnly(hostport string) string {
	h, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	return h
}

// waitLog waits until p's output, after its first `from` bytes, contains s.
func waitLog(p *proc, from int, s string, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		out := p.out.String()
		if from <= len(out) && strings.Contains(out[from:], s) {
			return nil
		}
		if p.exited() {
			return errors.New("keepalived exited: " + tail(out, 2000))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %q in keepalived's output within %s:\n%s", s, limit, tail(out[min(from, len(out)):], 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
