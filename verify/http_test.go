package verify

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeRocketChat serves /api/info with the given version and, when readyz is
// not 0, /readyz with that status, like a Rocket.Chat server behind nothing.
func fakeRocketChat(t *testing.T, version string, readyz int) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	mux.HandleFunc("/api/info", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"version":"` + version + `","success":true}`))
	})
	if readyz != 0 {
		mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(readyz)
			if readyz == http.StatusOK {
				_, _ = w.Write([]byte("ok"))
			} else {
				_, _ = w.Write([]byte("mongo not ready"))
			}
		})
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

func TestHTTPAllHealthy(t *testing.T) {
	lb := fakeRocketChat(t, "7.11.2", 200)
	a := fakeRocketChat(t, "7.11.2", 200)
	b := fakeRocketChat(t, "7.11.2", 200)
	fs := HTTPProbe{Timeout: 5 * time.Second}.Check(context.Background(), []Endpoint{
		{Name: "lb", BaseURL: lb.URL}, {Name: "node a", BaseURL: a.URL}, {Name: "node b", BaseURL: b.URL + "/"},
	})
	assert.Empty(t, byStatus(fs, StatusFail), "%v", fs)
	assert.Len(t, byStatus(fs, StatusOK), 7) // 3 info + 3 readyz + versions
	v, found := find(fs, "http.versions", "all")
	require.True(t, found)
	assert.Equal(t, "all 3 endpoints report 7.11.2", v.Message)
}

func TestHTTPOldVersionSkipsReadyz(t *testing.T) {
	a := fakeRocketChat(t, "6.13.1", 0)
	fs := HTTPProbe{}.Check(context.Background(), []Endpoint{{Name: "node a", BaseURL: a.URL}})
	r, found := find(fs, "http.readyz", "node a "+a.URL)
	require.True(t, found)
	assert.Equal(t, StatusSkip, r.Status)
	assert.Empty(t, byStatus(fs, StatusFail))
}

func TestHTTPFailures(t *testing.T) {
	notReady := fakeRocketChat(t, "8.1.0", http.StatusServiceUnavailable)
	older := fakeRocketChat(t, "8.0.3", 200)
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "502 Bad Gateway", http.StatusBadGateway)
	}))
	defer broken.Close()
	notJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("<html>setup wizard</html>"))
	}))
	defer notJSON.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	fs := HTTPProbe{Timeout: 3 * time.Second}.Check(context.Background(), []Endpoint{
		{Name: "lb", BaseURL: broken.URL},
		{Name: "node a", BaseURL: notReady.URL},
		{Name: "node b", BaseURL: older.URL},
		{Name: "node c", BaseURL: notJSON.URL},
		{Name: "node d", BaseURL: closedURL},
	})
	f, _ := find(fs, "http.api-info", "lb "+broken.URL)
	assert.Equal(t, StatusFail, f.Status)
	assert.Contains(t, f.Message, "answered 502")
	f, _ = find(fs, "http.readyz", "node a "+notReady.URL)
	assert.Equal(t, StatusFail, f.Status)
	assert.Contains(t, f.Message, "answered 503: mongo not ready")
	f, _ = find(fs, "http.api-info", "node c "+notJSON.URL)
	assert.Contains(t, f.Message, "not JSON")
	f, _ = find(fs, "http.api-info", "node d "+closedURL)
	assert.Equal(t, StatusFail, f.Status)
	assert.Contains(t, f.Message, "connection refused")
	v, _ := find(fs, "http.versions", "all")
	assert.Equal(t, StatusFail, v.Status)
	assert.Equal(t, "versions disagree: 8.0.3 on node b; 8.1.0 on node a", v.Message)
}

func TestCheckInfoUnit(t *testing.T) {
	f, v := CheckInfo("x", 200, []byte(`{"success":false}`))
	assert.Equal(t, StatusFail, f.Status)
	assert.Empty(t, v)
	f, _ = CheckInfo("x", 200, []byte(`{"success":true}`))
	assert.Contains(t, f.Message, "no version")
	assert.True(t, HasReadyz("7.11.0"))
	assert.True(t, HasReadyz("8.0.0-rc.1"))
	assert.True(t, HasReadyz("7.12"))
	assert.False(t, HasReadyz("7.10.5"))
	assert.False(t, HasReadyz("6.13.0"))
	assert.False(t, HasReadyz("garbage"))
	assert.Equal(t, StatusFail, CheckVersionsAgree(nil).Status)
}

// The load balancer's url names a public host the runner may not resolve; the
// Dialer maps it to the address to dial while TLS still verifies the name.
func TestHTTPThroughDialerMappingWithTLS(t *testing.T) {
	lb := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/info":
			assert.Equal(t, "chat.example.com", r.Host)
			_, _ = w.Write([]byte(`{"version":"7.11.0","success":true}`))
		case "/readyz":
			_, _ = w.Write([]byte("ok"))
		default:
			http.NotFound(w, r)
		}
	}))
	defer lb.Close()
	_, port, err := net.SplitHostPort(strings.TrimPrefix(lb.URL, "https://"))
	require.NoError(t, err)
	d := &Dialer{Hosts: map[string]string{"Chat.Example.com": "127.0.0.1:" + port}}
	tr := lb.Client().Transport.(*http.Transport).Clone()
	tr.DialContext = d.DialContext
	tr.TLSClientConfig.InsecureSkipVerify = true // httptest's certificate is for example.com / 127.0.0.1
	fs := HTTPProbe{}.Check(context.Background(), []Endpoint{{Name: "lb", BaseURL: "https://chat.example.com", Client: &http.Client{Transport: tr}}})
	assert.Empty(t, byStatus(fs, StatusFail), "%v", fs)

	got, err := d.Resolve("chat.example.com:443")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:"+port, got)
	d = &Dialer{Hosts: map[string]string{"node-a": "10.0.0.5"}}
	got, err = d.Resolve("node-a:27017")
	require.NoError(t, err)
	assert.Equal(t, "10.0.0.5:27017", got)
	got, err = d.Resolve("other:1")
	require.NoError(t, err)
	assert.Equal(t, "other:1", got)
	_, err = d.Resolve("no-port")
	assert.Error(t, err)
}
