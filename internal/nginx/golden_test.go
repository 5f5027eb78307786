package nginx

import (
	"flag"
	"path/filepath"
	"testing"

	"github.com/rocketchat-ha/rocketchat-ha/internal/testenv"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/")

// TestRenderGolden compares whole rendered configurations with the files
// under testdata/, so that any change of the template shows up in review.
// Regenerate them with `go test ./internal/nginx -run Golden -update`.
func TestRenderGolden(t *testing.T) {
	for name, c := range map[string]Config{
		"plain.conf": {Upstreams: []string{"10.250.250.13:3000", "10.250.250.14:3000", "10.250.250.17:3000"}, ServerName: "chat.domain.de", HTTP2On: true},
		"tls-trusted-proxies.conf": {Upstreams: []string{"10.250.250.13:3000", "rocket-2.example.com:3000"}, ServerName: "chat.domain.de",
			TLS: true, HTTPSPort: 443, PublicHTTPSPort: 8443, HTTP2On: true, TrustedProxies: []string{"192.0.2.0/24", "198.51.100.7"}},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := Render(c)
			if err != nil {
				t.Fatal(err)
			}
			testenv.Golden(t, filepath.Join("testdata", name), got, *update)
		})
	}
}
