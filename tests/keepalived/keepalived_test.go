// Package keepalived_test runs the configurations rendered by nginx.Render
// and keepalived.Render in Debian's real nginx and keepalived, on three
// load-balancer "hosts" made of network namespaces on one Linux bridge, in
// front of stand-in Rocket.Chat backends, and checks the floating virtual
// IP: one holder, failover when the holder's nginx or keepalived dies (timed,
// with the failed requests of a client looping on the virtual IP counted),
// no take-back by a recovered node (nopreempt), and that every load balancer
// sends a client to the same backend.
//
// Topology (10.250.250.0/24, only inside the namespaces made here; the
// per-run suffix is the test process's pid in hex):
//
//	root ns:  bridge rcha<sfx> (no address), iptables FORWARD ACCEPT for it
//	rcha-backends-<sfx>  eth0 10.250.250.20       stand-in backends b0..b2
//	rcha-client-<sfx>    eth0 10.250.250.100,101..116   the client
//	rcha-lb-1-<sfx>      eth0 10.250.250.11  nginx + keepalived, priority 150
//	rcha-lb-2-<sfx>      eth0 10.250.250.12  nginx + keepalived, priority 100
//	rcha-lb-3-<sfx>      eth0 10.250.250.13  nginx + keepalived, priority 50
//	virtual IP 10.250.250.250/24 on eth0 of the holder
package keepalived_test

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const (
	trials        = 5
	loopInterval  = 50 * time.Millisecond
	loopTimeout   = 400 * time.Millisecond
	loopMaxIter   = 2000 // bounds a client loop at about 100 s
	failoverBound = 15 * time.Second
	noTakeBack    = 5 * time.Second
	// maxFailuresAfterMove bounds the failed requests after the client was
	// answered through the new holder, up to the end of the trial.
	maxFailuresAfterMove = 3
)

func TestVirtualIPWithRealNginxAndKeepalived(t *testing.T) {
	l := newLab(t)
	l.startBackends(3)
	for _, h := range l.hosts {
		l.startNginx(h)
	}
	// Monitoring's notify script records each host's state.
	for name, w := range l.installNotify(t) {
		for _, h := range l.hosts {
			if h.name == name {
				h.notify = w
			}
		}
	}
	l.writeKeepalivedConfs()
	for _, h := range l.hosts {
		l.startKeepalived(h)
	}
	start := time.Now()
	holder, err := l.waitConverged(30*time.Second, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("converged in %s: %s (%s) holds %s", time.Since(start).Round(10*time.Millisecond), holder.name, holder.addr, vip)
	t.Run("VRRPStateFiles", func(t *testing.T) { l.checkVRRPState(t, holder) })

	t.Run("VirtualIPAnswersAndOneHolder", func(t *testing.T) {
		e, err := getEcho(nsClient(l.clientNS, clientAddr, 2*time.Second), "http://"+vip+"/api/info")
		if err != nil {
			t.Fatalf("GET through the virtual IP: %v", err)
		}
		if !strings.HasPrefix(e.Backend, "b") || e.XRealIP != clientAddr {
			t.Errorf("echo %+v: want a stand-in backend that saw X-Real-IP %s", e, clientAddr)
		}
		if via := l.hostByAddr(hostOnly(e.RemoteAddr)); via != holder {
			t.Errorf("the backend was reached from %s, want the holder %s's nginx (%s)", e.RemoteAddr, holder.name, holder.addr)
		}
		// Still exactly one holder a while later, and keepalived agrees.
		time.Sleep(2 * time.Second)
		hs, err := l.holders()
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 1 || hs[0] != holder {
			t.Fatalf("holders of %s: %v, want only %s", vip, names(hs), holder.name)
		}
		for _, h := range l.hosts {
			master := strings.Contains(h.ka.out.String(), "Entering MASTER STATE")
			if master != (h == holder) {
				t.Errorf("%s: keepalived logged MASTER=%v, holder is %s", h.name, master, holder.name)
			}
		}
		t.Logf("GET http://%s/api/info from %s -> nginx on %s -> backend %s", vip, clientAddr, holder.name, e.Backend)
	})

	t.Run("StickyAcrossLoadBalancers", func(t *testing.T) { l.checkSticky(t) })

	results := map[string][]trialResult{}
	for _, kind := range []string{killNginx, killKeepalived} {
		t.Run(kind, func(t *testing.T) {
			for i := range trials {
				r, ok := l.trial(t, kind, i+1)
				if !ok {
					return
				}
				results[kind] = append(results[kind], r)
			}
			summarize(t, kind, results[kind])
		})
	}
	if hs, err := l.holders(); err != nil || len(hs) != 1 {
		t.Errorf("after all trials: holders %v (%v), want exactly one", names(hs), err)
	}
}

// checkSticky sends requests from several client source addresses to each
// load balancer's own address and checks each client reaches the same
// backend through all three.
func (l *lab) checkSticky(t *testing.T) {
	norm := func(h *lbHost) string { return strings.ReplaceAll(h.nginxRaw, h.dir, "<prefix>") }
	for _, h := range l.hosts[1:] {
		if norm(h) != norm(l.hosts[0]) {
			t.Fatalf("%s's rendered nginx.conf differs from %s's beyond the prefix paths", h.name, l.hosts[0].name)
		}
	}
	if !strings.Contains(l.hosts[0].nginxRaw, "hash $remote_addr consistent;") {
		t.Fatal("the rendered nginx.conf has no `hash $remote_addr consistent`")
	}
	perBackend := map[string]int{}
	for i := range stickyCount {
		src := fmt.Sprintf("%s%d", subnet, stickyFirst+i)
		c := nsClient(l.clientNS, src, 2*time.Second)
		got := map[string]string{} // load balancer -> backend
		for _, h := range l.hosts {
			for range 2 {
				e, err := getEcho(c, fmt.Sprintf("http://%s:%d/api/info", h.addr, lbHTTPPort))
				if err != nil {
					t.Fatalf("GET from %s to %s: %v", src, h.name, err)
				}
				if e.XRealIP != src {
					t.Fatalf("backend saw X-Real-IP %q, want the client %s", e.XRealIP, src)
				}
				if prev, ok := got[h.name]; ok && prev != e.Backend {
					t.Errorf("client %s: %s sent it to %s and then %s", src, h.name, prev, e.Backend)
				}
				got[h.name] = e.Backend
			}
		}
		var distinct []string
		for _, b := range got {
			if !slices.Contains(distinct, b) {
				distinct = append(distinct, b)
			}
		}
		if len(distinct) != 1 {
			t.Errorf("client %s reached different backends through different load balancers: %v", src, got)
		}
		perBackend[got[l.hosts[0].name]]++
	}
	t.Logf("%d client addresses x %d load balancers: each client on one backend everywhere; clients per backend %v",
		stickyCount, len(l.hosts), perBackend)
	if len(perBackend) < 2 {
		t.Errorf("all %d clients landed on one backend (%v): the hash does not spread", stickyCount, perBackend)
	}
}

const (
	killNginx      = "KillHoldersNginx"
	killKeepalived = "SIGKILLHoldersKeepalived"
)

type trialResult struct {
	from, to string
	moved    time.Duration // kill -> virtual IP on another namespace
	answered time.Duration // kill -> first answer through the new holder's nginx
	failed   int           // failed client requests from the kill to the end of the trial
	total    int
}

// sample is one request of the client loop.
type sample struct {
	at, end time.Time
	ok      bool
	err     error
	lb      *lbHost // whose nginx proxied it
}

type clientLoop struct {
	once    sync.Once
	stop    chan struct{}
	done    chan struct{}
	mu      sync.Mutex
	samples []sample
}

// startLoop runs a client in the client namespace that GETs the virtual IP
// every loopInterval (one new connection each, loopTimeout each), at most
// loopMaxIter times.
func (l *lab) startLoop() *clientLoop {
	cl := &clientLoop{stop: make(chan struct{}), done: make(chan struct{})}
	c := nsClient(l.clientNS, clientAddr, loopTimeout)
	go func() {
		defer close(cl.done)
		for range loopMaxIter {
			at := time.Now()
			e, err := getEcho(c, "http://"+vip+"/api/info")
			s := sample{at: at, end: time.Now(), ok: err == nil, err: err}
			if err == nil {
				s.lb = l.hostByAddr(hostOnly(e.RemoteAddr))
			}
			cl.mu.Lock()
			cl.samples = append(cl.samples, s)
			cl.mu.Unlock()
			select {
			case <-cl.stop:
				return
			case <-time.After(time.Until(at.Add(loopInterval))):
			}
		}
	}()
	return cl
}

func (cl *clientLoop) end() {
	cl.once.Do(func() { close(cl.stop) })
	<-cl.done
}

// firstVia is when the first successful request sent after t0 and proxied
// by h was answered.
func (cl *clientLoop) firstVia(h *lbHost, t0 time.Time) (time.Time, bool) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	for _, s := range cl.samples {
		if s.ok && s.lb == h && !s.at.Before(t0) {
			return s.end, true
		}
	}
	return time.Time{}, false
}

// count counts the requests sent from t0 on, and the failed ones.
func (cl *clientLoop) count(t0 time.Time) (failed, total int) {
	failed, total, _ = cl.failures(t0)
	return failed, total
}

// failures also names the kinds of failure (timeout, refused, ...).
func (cl *clientLoop) failures(t0 time.Time) (failed, total int, kinds map[string]int) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	kinds = map[string]int{}
	for _, s := range cl.samples {
		if s.at.Before(t0) {
			continue
		}
		total++
		if !s.ok {
			failed++
			kinds[failureKind(s.err)]++
		}
	}
	return failed, total, kinds
}

func failureKind(err error) string {
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET):
		return "reset"
	case errors.Is(err, syscall.EHOSTUNREACH):
		return "unreachable"
	default:
		return "other"
	}
}

// via counts the successful requests sent in [from, to) by the load balancer
// that proxied them.
func (cl *clientLoop) via(from, to time.Time) map[string]int {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	m := map[string]int{}
	for _, s := range cl.samples {
		if s.ok && !s.at.Before(from) && s.at.Before(to) && s.lb != nil {
			m[s.lb.name]++
		}
	}
	return m
}

// trial kills the holder's nginx (all its processes) or SIGKILLs its
// keepalived (all its processes), times the failover, restarts what it
// killed and checks the recovered node leaves the address where it is.
func (l *lab) trial(t *testing.T, kind string, n int) (trialResult, bool) {
	holder, err := l.waitConverged(30*time.Second, 500*time.Millisecond)
	if err != nil {
		t.Errorf("trial %d: %v", n, err)
		return trialResult{}, false
	}
	cl := l.startLoop()
	defer cl.end()
	time.Sleep(500 * time.Millisecond)
	if f, tot := cl.count(time.Time{}); f > 0 || tot == 0 {
		t.Errorf("trial %d: %d of %d requests failed before the kill", n, f, tot)
	}

	kaOffset := len(holder.ka.out.String())
	t0 := time.Now()
	switch kind {
	case killNginx:
		holder.nginx.kill()
	case killKeepalived:
		holder.ka.kill()
	}

	var to *lbHost
	for to == nil {
		for _, h := range l.hosts {
			if h == holder {
				continue
			}
			has, err := holdsVIPNow(h.ns)
			if err != nil {
				t.Fatal(err)
			}
			if has {
				to = h
				break
			}
		}
		if to == nil {
			if time.Since(t0) > failoverBound {
				t.Errorf("trial %d: %s still the only holder %s after the kill", n, holder.name, failoverBound)
				return trialResult{}, false
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	r := trialResult{from: holder.name, to: to.name, moved: time.Since(t0)}
	if has, err := holdsVIP(to.ns); err != nil || !has {
		t.Errorf("trial %d: ip -n %s addr show does not show %s (%v)", n, to.ns, vip, err)
	}
	for {
		if at, ok := cl.firstVia(to, t0); ok {
			r.answered = at.Sub(t0)
			break
		}
		if time.Since(t0) > failoverBound {
			t.Errorf("trial %d: no answer through %s's nginx within %s of the kill", n, to.name, failoverBound)
			return r, false
		}
		time.Sleep(20 * time.Millisecond)
	}
	answeredAt := t0.Add(r.answered)
	if kind == killKeepalived {
		// A crash: no keepalived process is left to give the address up.
		if slices.Contains(nsRunning(holder.ns), "keepalived") {
			t.Errorf("trial %d: keepalived processes survived the SIGKILL in %s: %v", n, holder.ns, nsRunning(holder.ns))
		}
		// Nobody removes the address from a host whose keepalived was
		// SIGKILLed: it stays there until keepalived runs again, and its
		// nginx keeps answering the clients whose ARP entry still points there.
		stale, _ := holdsVIP(holder.ns)
		t.Logf("trial %d: after the SIGKILL %s still has %s: %v; requests until the client moved, by proxy: %v",
			n, holder.name, vip, stale, cl.via(t0, answeredAt))
	}

	// Recover the node and wait until its keepalived is BACKUP again.
	var ka = holder.ka
	switch kind {
	case killNginx:
		l.startNginx(holder)
	case killKeepalived:
		ka, kaOffset = l.startKeepalived(holder), 0
	}
	if err := waitLog(ka, kaOffset, "Entering BACKUP STATE", 20*time.Second); err != nil {
		t.Errorf("trial %d: %s did not come back as BACKUP: %v", n, holder.name, err)
		return r, false
	}
	recovered := time.Now()
	ok := true
	for time.Since(recovered) < noTakeBack {
		hs, err := l.holders()
		if err != nil {
			t.Fatal(err)
		}
		if len(hs) != 1 || hs[0] != to {
			t.Errorf("trial %d: %s after %s recovered: holders %v, want only %s (nopreempt; a restarted keepalived removes a stale address)",
				n, time.Since(recovered).Round(10*time.Millisecond), holder.name, names(hs), to.name)
			ok = false
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	cl.end()
	var kinds map[string]int
	r.failed, r.total, kinds = cl.failures(t0)
	// Once traffic has moved, nothing should fail: a take-back or an ARP
	// mix-up would cost seconds. A stray timeout on a loaded machine is
	// tolerated up to the bound.
	if f, tot, k := cl.failures(answeredAt); f > 0 {
		t.Logf("trial %d: %d of %d requests failed after the client was answered through %s: %v", n, f, tot, to.name, k)
		if f > maxFailuresAfterMove {
			t.Errorf("trial %d: %d requests failed after traffic moved to %s (bound %d): recovering %s disturbed traffic",
				n, f, to.name, maxFailuresAfterMove, holder.name)
			ok = false
		}
	}
	if r.moved > failoverBound || r.answered > failoverBound {
		t.Errorf("trial %d: failover took %s / %s, beyond the sanity bound %s", n, r.moved, r.answered, failoverBound)
	}
	t.Logf("trial %d: %s -> %s: address moved after %s, client answered through %s after %s, %d of %d requests failed %v; %s kept it for %s after %s recovered",
		n, r.from, r.to, r.moved.Round(time.Millisecond), r.to, r.answered.Round(time.Millisecond), r.failed, r.total, kinds,
		r.to, noTakeBack, r.from)
	return r, ok
}

func summarize(t *testing.T, kind string, rs []trialResult) {
	if len(rs) == 0 {
		return
	}
	stat := func(f func(trialResult) time.Duration) (med, mx time.Duration) {
		var ds []time.Duration
		for _, r := range rs {
			ds = append(ds, f(r))
		}
		slices.Sort(ds)
		return ds[len(ds)/2], ds[len(ds)-1]
	}
	mMed, mMax := stat(func(r trialResult) time.Duration { return r.moved })
	aMed, aMax := stat(func(r trialResult) time.Duration { return r.answered })
	var fails []int
	for _, r := range rs {
		fails = append(fails, r.failed)
	}
	sorted := slices.Clone(fails)
	slices.Sort(sorted)
	line := fmt.Sprintf("%s over %d trials: address moved median %s max %s; client answered again median %s max %s; failed requests per trial %v (median %d, max %d; one request every %s, %s timeout)",
		kind, len(rs), mMed.Round(time.Millisecond), mMax.Round(time.Millisecond),
		aMed.Round(time.Millisecond), aMax.Round(time.Millisecond), fails, sorted[len(sorted)/2], sorted[len(sorted)-1],
		loopInterval, loopTimeout)
	t.Log(line)
	fmt.Println("RESULT " + line)
}
