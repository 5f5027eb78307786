package verify

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Endpoint is one Rocket.Chat base URL to probe: the load balancer's url or
// one node's Rocket.Chat port.
type Endpoint struct {
	// Name labels the endpoint in findings, e.g. "lb" or "node a".
	Name string
	// BaseURL is scheme://host[:port] without a trailing slash.
	BaseURL string
	// Client performs the requests; it carries the endpoint's transport
	// (custom dialer, TLS settings). http.DefaultClient when nil.
	Client *http.Client
}

// InfoReply is the body of GET /api/info.
type InfoReply struct {
	Version string `json:"version"`
	Success bool   `json:"success"`
}

// CheckInfo decides from the status code and body of GET /api/info. It
// returns the finding and the reported version ("" when unusable).
func CheckInfo(target string, status int, body []byte) (Finding, string) {
	if status != http.StatusOK {
		return fail("http.api-info", target, "GET /api/info answered %d: %s", status, snippet(body)), ""
	}
	var info InfoReply
	if err := json.Unmarshal(body, &info); err != nil {
		return fail("http.api-info", target, "GET /api/info body is not JSON (%v): %s", err, snippet(body)), ""
	}
	if !info.Success {
		return fail("http.api-info", target, "GET /api/info reports success=false: %s", snippet(body)), ""
	}
	if info.Version == "" {
		return fail("http.api-info", target, "GET /api/info has no version: %s", snippet(body)), ""
	}
	return ok("http.api-info", target, "Rocket.Chat %s", info.Version), info.Version
}

// HasReadyz reports whether a Rocket.Chat version serves /readyz (7.11 and later).
func HasReadyz(version string) bool {
	major, minor, okv := majorMinor(version)
	if !okv {
		return false
	}
	return major > 7 || (major == 7 && minor >= 11)
}

// CheckReadyz decides from the status code and body of GET /readyz.
func CheckReadyz(target string, status int, body []byte) Finding {
	if status != http.StatusOK {
		return fail("http.readyz", target, "GET /readyz answered %d: %s", status, snippet(body))
	}
	return ok("http.readyz", target, "ready")
}

// CheckVersionsAgree decides whether every endpoint reports the same version.
// versions maps endpoint name to the version it reported; endpoints that
// reported none are left out by the caller.
func CheckVersionsAgree(versions map[string]string) Finding {
	if len(versions) == 0 {
		return fail("http.versions", "all", "no endpoint reported a version")
	}
	byVersion := map[string][]string{}
	for name, v := range versions {
		byVersion[v] = append(byVersion[v], name)
	}
	if len(byVersion) == 1 {
		for v := range byVersion {
			return ok("http.versions", "all", "all %d endpoints report %s", len(versions), v)
		}
	}
	var parts []string
	for v, names := range byVersion {
		sort.Strings(names)
		parts = append(parts, fmt.Sprintf("%s on %s", v, strings.Join(names, ", ")))
	}
	sort.Strings(parts)
	return fail("http.versions", "all", "versions disagree: %s", strings.Join(parts, "; "))
}

// HTTPProbe runs the HTTP checks against endpoints.
type HTTPProbe struct {
	// Timeout bounds each request; 10s when zero.
	Timeout time.Duration
}

// Check probes every endpoint (/api/info, then /readyz when the version has
// it) and finally compares the versions.
func (p HTTPProbe) Check(ctx context.Context, endpoints []Endpoint) []Finding {
	var out []Finding
	versions := map[string]string{}
	for _, ep := range endpoints {
		target := ep.Name + " " + ep.BaseURL
		status, body, err := p.get(ctx, ep, "/api/info")
		if err != nil {
			out = append(out, fail("http.api-info", target, "%v", err))
			continue
		}
		f, version := CheckInfo(target, status, body)
		out = append(out, f)
		if version == "" {
			continue
		}
		versions[ep.Name] = version
		if !HasReadyz(version) {
			out = append(out, skip("http.readyz", target, "Rocket.Chat %s has no /readyz (added in 7.11)", version))
			continue
		}
		status, body, err = p.get(ctx, ep, "/readyz")
		if err != nil {
			out = append(out, fail("http.readyz", target, "%v", err))
			continue
		}
		out = append(out, CheckReadyz(target, status, body))
	}
	if len(endpoints) > 0 {
		out = append(out, CheckVersionsAgree(versions))
	}
	return out
}

func (p HTTPProbe) get(ctx context.Context, ep Endpoint, path string) (int, []byte, error) {
	timeout := p.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	url := strings.TrimRight(ep.BaseURL, "/") + path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	req.Header.Set("Accept", "application/json")
	client := ep.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return 0, nil, fmt.Errorf("GET %s: reading body: %w", url, err)
	}
	return resp.StatusCode, body, nil
}

func majorMinor(version string) (int, int, bool) {
	parts := strings.SplitN(strings.TrimPrefix(strings.TrimSpace(version), "v"), ".", 3)
	if len(parts) < 2 {
		return 0, 0, false
	}
	major, err1 := strconv.Atoi(parts[0])
	minorDigits := parts[1]
	if i := strings.IndexFunc(minorDigits, func(r rune) bool { return r < '0' || r > '9' }); i >= 0 {
		minorDigits = minorDigits[:i]
	}
	minor, err2 := strconv.Atoi(minorDigits)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return major, minor, true
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	if s == "" {
		return "(empty body)"
	}
	return s
}
