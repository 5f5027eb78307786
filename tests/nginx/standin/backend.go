// Package standin provides what the nginx tests and the nginx benchmark need
// besides nginx itself: stand-in Rocket.Chat backends (net/http/httptest
// servers that say which backend answered and speak websocket), a runner for a
// real nginx binary under a temporary prefix, and HTTP clients bound to chosen
// loopback source addresses.
package standin

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"sync/atomic"
)

// Echo is the JSON a backend answers to every plain HTTP request.
type Echo struct {
	Backend         string `json:"backend"`
	Method          string `json:"method"`
	URI             string `json:"uri"`
	Host            string `json:"host"`
	RemoteAddr      string `json:"remoteAddr"`
	XRealIP         string `json:"xRealIP"`
	XForwardedFor   string `json:"xForwardedFor"`
	XForwardedProto string `json:"xForwardedProto"`
	Connection      string `json:"connection"`
	Upgrade         string `json:"upgrade"`
	BodyBytes       int64  `json:"bodyBytes"`
}

// Backend is one stand-in Rocket.Chat instance.
type Backend struct {
	Name   string
	Server *httptest.Server

	requests atomic.Int64
	conns    atomic.Int64
	mu       sync.Mutex
	hijacked map[net.Conn]struct{}
	killed   bool
}

// NewBackend starts a backend on 127.0.0.1 with a free port. Paths:
// /websocket and /sockjs/... upgrade to the websocket echo, /bench answers a
// small fixed body, everything else answers an Echo.
func NewBackend(name string) *Backend {
	b := &Backend{Name: name, hijacked: map[net.Conn]struct{}{}}
	b.Server = httptest.NewUnstartedServer(http.HandlerFunc(b.serveHTTP))
	b.Server.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			b.conns.Add(1)
		}
	}
	b.Server.Start()
	return b
}

// Addr is the backend's "127.0.0.1:port".
func (b *Backend) Addr() string { return b.Server.Listener.Addr().String() }

// Connections counts the TCP connections this backend accepted.
func (b *Backend) Connections() int64 { return b.conns.Load() }

// Requests counts the plain HTTP requests this backend answered.
func (b *Backend) Requests() int64 { return b.requests.Load() }

var benchBody = []byte(`{"version":"7.0.0","success":true}`)

func (b *Backend) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/websocket" || (len(r.URL.Path) > 7 && r.URL.Path[:8] == "/sockjs/") {
		if headerHasToken(r.Header, "Upgrade", "websocket") {
			b.serveWebSocket(w, r)
			return
		}
	}
	b.requests.Add(1)
	w.Header().Set("X-Backend", b.Name)
	if r.URL.Path == "/bench" {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(benchBody)))
		_, _ = w.Write(benchBody)
		return
	}
	n, _ := io.Copy(io.Discard, r.Body)
	e := Echo{
		Backend:         b.Name,
		Method:          r.Method,
		URI:             r.RequestURI,
		Host:            r.Host,
		RemoteAddr:      r.RemoteAddr,
		XRealIP:         r.Header.Get("X-Real-IP"),
		XForwardedFor:   r.Header.Get("X-Forwarded-For"),
		XForwardedProto: r.Header.Get("X-Forwarded-Proto"),
		Connection:      r.Header.Get("Connection"),
		Upgrade:         r.Header.Get("Upgrade"),
		BodyBytes:       n,
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(e)
}

func (b *Backend) track(c net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.killed {
		c.Close()
		return
	}
	b.hijacked[c] = struct{}{}
}

func (b *Backend) untrack(c net.Conn) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.hijacked, c)
}

// Kill stops the backend abruptly, like a crashed instance: the listener
// closes (new connections are refused) and every open connection, including
// websockets and requests in flight, is cut.
func (b *Backend) Kill() {
	b.mu.Lock()
	b.killed = true
	for c := range b.hijacked {
		c.Close()
	}
	b.mu.Unlock()
	b.Server.Listener.Close()
	b.Server.CloseClientConnections()
}

// Close releases the backend (after Kill too).
func (b *Backend) Close() {
	b.Kill()
	b.Server.Close()
}

// StartBackends starts n backends named b0..b(n-1).
func StartBackends(n int) []*Backend {
	bs := make([]*Backend, n)
	for i := range bs {
		bs[i] = NewBackend("b" + strconv.Itoa(i))
	}
	return bs
}

// Addrs lists the backends' addresses, in order.
func Addrs(bs []*Backend) []string {
	out := make([]string, len(bs))
	for i, b := range bs {
		out[i] = b.Addr()
	}
	return out
}
