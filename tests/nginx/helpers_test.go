package nginx_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rocketchat-ha/rocketchat-ha/internal/nginx"
	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
	"github.com/rocketchat-ha/rocketchat-ha/tests/nginx/standin"
)

const installNginx = "apt-get install -y nginx"

// nginxBin finds Debian's nginx: RCHA_NGINX_BIN, then PATH, then /usr/sbin
// (not on PATH for non-root users), else skip or fail per testenv.
func nginxBin(t *testing.T) string {
	t.Helper()
	if os.Getenv("RCHA_NGINX_BIN") == "" {
		if _, err := exec.LookPath("nginx"); err != nil {
			if fi, err := os.Stat("/usr/sbin/nginx"); err == nil && !fi.IsDir() {
				return "/usr/sbin/nginx"
			}
		}
	}
	return testenv.LookPath(t, "nginx", installNginx)
}

// startLB starts n backends and an nginx in front of them; edit may adjust the
// config before it is rendered. Everything is stopped at cleanup.
func startLB(t *testing.T, n int, edit func(*nginx.Config)) (*standin.Nginx, []*standin.Backend) {
	t.Helper()
	bin := nginxBin(t)
	bs := standin.StartBackends(n)
	t.Cleanup(func() {
		for _, b := range bs {
			b.Close()
		}
	})
	c := nginx.Config{Upstreams: standin.Addrs(bs)}
	if edit != nil {
		edit(&c)
	}
	ng, err := standin.StartNginx(bin, c, t.TempDir())
	if err != nil {
		t.Fatalf("starting nginx: %v", err)
	}
	t.Cleanup(func() {
		ng.Stop()
		if t.Failed() {
			t.Logf("nginx error.log:\n%s", ng.ErrorLog())
		}
	})
	return ng, bs
}

// getEcho GETs url with client and decodes the backend's echo.
func getEcho(t *testing.T, client *http.Client, url string) (standin.Echo, error) {
	t.Helper()
	return getEchoNoT(client, url)
}

func jsonDecodeBody(resp *http.Response, v any) error {
	return json.NewDecoder(resp.Body).Decode(v)
}

type statusError struct {
	code int
	body string
}

func (e *statusError) Error() string { return http.StatusText(e.code) + ": " + e.body }

// testCert writes a self-signed ECDSA certificate for 127.0.0.1 and
// chat.example.test into dir and returns the file paths and a pool trusting it.
func testCert(t *testing.T, dir string) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(time.Now().UnixNano()),
		Subject:               pkix.Name{CommonName: "chat.example.test"},
		DNSNames:              []string{"chat.example.test"},
		IPAddresses:           []net.IP{net.ParseIP("127.0.0.1")},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "tls.crt"), filepath.Join(dir, "tls.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func tlsConfig(pool *x509.CertPool, minV, maxV uint16) *tls.Config {
	return &tls.Config{RootCAs: pool, ServerName: "chat.example.test", MinVersion: minV, MaxVersion: maxV}
}
