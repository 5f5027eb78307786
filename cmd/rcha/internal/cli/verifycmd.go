package cli

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/stacks"
	"github.com/rocketchat-ha/rocketchat-ha/verify"
)

type verifyOptions struct {
	ssh                   bool
	sshJump               string
	sshUser               string
	sshKey                string
	sshKnownHosts         string
	insecureIgnoreHostKey bool
	maxLag                time.Duration
	timeout               time.Duration
	lbAddress             string
	lbCAFile              string
	insecureSkipTLSVerify bool
	skipHTTP              bool
	oplogUser             string
	agentSocket           string
	keyPassphrase         string
}

func (v *verifyOptions) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.BoolVar(&v.ssh, "ssh", false, "reach each node's private address through SSH to that node (its dockerHost ssh:// endpoint, else --ssh-user@address:22)")
	fs.StringVar(&v.sshJump, "ssh-jump", "", "reach every address through this one SSH host instead (user@host[:port])")
	fs.StringVar(&v.sshUser, "ssh-user", "root", "SSH user when the endpoint names none")
	fs.StringVar(&v.sshKey, "ssh-key", "", "private key file (default: ssh-agent via SSH_AUTH_SOCK, else ~/.ssh/id_ed25519, id_ecdsa, id_rsa)")
	fs.StringVar(&v.sshKnownHosts, "ssh-known-hosts", "", "known_hosts file (default ~/.ssh/known_hosts)")
	fs.BoolVar(&v.insecureIgnoreHostKey, "insecure-ignore-host-key", false, "accept any SSH host key (throw-away hosts only)")
	fs.DurationVar(&v.maxLag, "max-lag", verify.DefaultMaxLag, "largest acceptable replication lag")
	fs.DurationVar(&v.timeout, "timeout", 20*time.Second, "timeout of each connection, command and request")
	fs.StringVar(&v.lbAddress, "lb-address", "", "dial this host[:port] for the url output's host (when its DNS name does not resolve from here)")
	fs.StringVar(&v.lbCAFile, "lb-ca-file", "", "PEM CA bundle that signed the load balancer's certificate")
	fs.BoolVar(&v.insecureSkipTLSVerify, "insecure-skip-tls-verify", false, "do not verify the load balancer's TLS certificate")
	fs.BoolVar(&v.skipHTTP, "skip-http", false, "check only MongoDB, not Rocket.Chat over HTTP")
	fs.StringVar(&v.oplogUser, "oplog-user", "oploguser", "name of the oplog user checked when oplogPassword is configured")
	v.agentSocket = getenv("SSH_AUTH_SOCK")
	v.keyPassphrase = getenv("RCHA_SSH_KEY_PASSPHRASE")
}

// StackFacts is what verify reads from the stack: outputs and config.
type StackFacts struct {
	URL           string
	MongoURL      string
	Members       []string
	Nodes         []components.Node // with the component's defaults
	ReplicaSet    string
	OplogPassword string
}

// ParseStackFacts extracts verify's inputs from the stack outputs and the
// stack config as auto.Stack.GetAllConfig returns it (keys
// "rocketchat-ha:<key>", structured values as JSON text). The config is
// parsed by stacks.Parse, the program's own parser, into the component's
// arguments, and the component's own defaults (WithDefaults) fill in what
// the config leaves unset.
func ParseStackFacts(outs auto.OutputMap, cfg auto.ConfigMap) (StackFacts, error) {
	var f StackFacts
	var missing []string
	if v, found := outs["mongoUrl"]; found {
		f.MongoURL, _ = v.Value.(string)
	}
	if f.MongoURL == "" {
		missing = append(missing, "mongoUrl")
	}
	if v, found := outs["url"]; found {
		f.URL, _ = v.Value.(string)
	}
	if f.URL == "" {
		missing = append(missing, "url")
	}
	if v, found := outs["members"]; found {
		if list, isList := v.Value.([]any); isList {
			for _, m := range list {
				if s, isString := m.(string); isString {
					f.Members = append(f.Members, s)
				}
			}
		}
	}
	if len(f.Members) == 0 {
		missing = append(missing, "members")
	}
	if len(missing) > 0 {
		return f, fmt.Errorf("stack outputs %s are missing or empty; has `rcha up` succeeded for this stack?", strings.Join(missing, ", "))
	}
	c, sec, err := stacks.Parse(func(key string) (string, bool) {
		v, found := cfg[key]
		return v.Value, found
	})
	if err != nil {
		return f, fmt.Errorf("stack config: %w", err)
	}
	if len(c.Nodes) == 0 {
		return f, fmt.Errorf("stack config has no %s:nodes", stacks.Namespace)
	}
	for i, n := range c.Nodes {
		if n.Name == "" || n.Address == "" {
			return f, fmt.Errorf("stack config %s:nodes[%d] needs name and address", stacks.Namespace, i)
		}
	}
	args := c.Args(sec).WithDefaults()
	f.Nodes = args.Nodes
	f.ReplicaSet = args.ReplicaSetName
	f.OplogPassword = sec.OplogPassword
	return f, nil
}

func (r *runner) verify(sum *Summary) int {
	ctx, stop := r.withInterrupts()
	defer stop()
	outs, err := r.stack.Outputs(ctx)
	if err != nil {
		return r.setupErr(sum, ExitSetup, fmt.Errorf("read stack outputs: %s", cliErr(err)))
	}
	sum.Outputs = redactOutputs(outs, false)
	cfg, err := r.stack.GetAllConfig(ctx)
	if err != nil {
		return r.setupErr(sum, ExitSetup, fmt.Errorf("read stack config: %s", cliErr(err)))
	}
	facts, err := ParseStackFacts(outs, cfg)
	if err != nil {
		sum.Errors = append(sum.Errors, err.Error())
		fmt.Fprintf(r.env.Stderr, "rcha verify: %v\n", err)
		return ExitVerify
	}
	plan, closer, err := r.o.verify.plan(facts)
	if err != nil {
		return r.setupErr(sum, ExitUsage, err)
	}
	defer closer()
	r.progressf("rcha verify: replica set %q, %d member(s), %d node(s), url %s", facts.ReplicaSet, len(facts.Members), len(facts.Nodes), facts.URL)
	rep := plan.Run(ctx)
	if r.interrupted {
		return ExitInterrupted
	}
	jr := rep.JSON()
	sum.Verification = &jr
	if !r.o.jsonOut {
		_ = rep.WriteTable(r.env.Stdout)
	}
	if !rep.OK() {
		for _, f := range rep.Failures() {
			sum.Errors = append(sum.Errors, fmt.Sprintf("[%s] %s: %s", f.Check, f.Target, f.Message))
		}
		return ExitVerify
	}
	return ExitOK
}

// plan builds the verification plan: the dialer (node names to addresses,
// optionally through SSH), the MongoDB probe and the HTTP endpoints.
func (v verifyOptions) plan(f StackFacts) (verify.Plan, func(), error) {
	noop := func() {}
	hosts := map[string]string{}
	sshByAddr := map[string]verify.SSHEndpoint{}
	for _, n := range f.Nodes {
		hosts[n.Name] = n.Address
		if v.ssh {
			ep, err := nodeSSHEndpoint(n, v.sshUser)
			if err != nil {
				return verify.Plan{}, noop, err
			}
			sshByAddr[strings.ToLower(n.Address)] = ep
		}
	}
	lbURL, err := url.Parse(f.URL)
	if err != nil || lbURL.Host == "" {
		return verify.Plan{}, noop, fmt.Errorf("stack output url %q is not a URL", f.URL)
	}
	if v.lbAddress != "" {
		hosts[lbURL.Hostname()] = v.lbAddress
	}
	d := &verify.Dialer{Hosts: hosts}
	closer := noop
	if v.ssh || v.sshJump != "" {
		var jump verify.SSHEndpoint
		if v.sshJump != "" {
			jump, err = verify.ParseSSHEndpoint(v.sshJump, v.sshUser)
			if err != nil {
				return verify.Plan{}, noop, fmt.Errorf("--ssh-jump: %w", err)
			}
		}
		keyFile := v.sshKey
		if keyFile == "" && v.agentSocket == "" {
			keyFile = defaultKeyFile()
		}
		tun, err := verify.NewTunnel(verify.SSHConfig{
			AgentSocket: v.agentSocket, KeyFile: keyFile, KeyPassphrase: []byte(v.keyPassphrase),
			KnownHostsFile: v.sshKnownHosts, InsecureIgnoreHostKey: v.insecureIgnoreHostKey, Timeout: v.timeout,
		}, func(addr string) (verify.SSHEndpoint, bool) {
			if v.sshJump != "" {
				return jump, true
			}
			host, _, err := net.SplitHostPort(addr)
			if err != nil {
				return verify.SSHEndpoint{}, false
			}
			ep, found := sshByAddr[strings.ToLower(host)]
			return ep, found
		})
		if err != nil {
			return verify.Plan{}, noop, err
		}
		d.Forward = tun.DialContext
		closer = func() { _ = tun.Close() }
	}

	exp := verify.Expectation{ReplicaSet: f.ReplicaSet, Members: f.Members, MaxLag: v.maxLag}
	info, err := verify.ParseMongoURL(f.MongoURL)
	if err != nil {
		closer()
		return verify.Plan{}, noop, err
	}
	users := []verify.UserCheck{{Expected: verify.RocketUser(info.Username, info.AuthSource, info.Database)}}
	if f.OplogPassword != "" {
		name := v.oplogUser
		if name == "" {
			name = "oploguser"
		}
		users = append(users, verify.UserCheck{Expected: verify.OplogUser(name, info.AuthSource), Password: f.OplogPassword})
	}
	plan := verify.Plan{
		Mongo:  verify.MongoProbe{URL: f.MongoURL, Dialer: d, Timeout: v.timeout},
		Expect: exp,
		Users:  users,
		HTTP:   verify.HTTPProbe{Timeout: v.timeout},
	}
	if !v.skipHTTP {
		lbTLS := &tls.Config{InsecureSkipVerify: v.insecureSkipTLSVerify} //nolint:gosec // explicit opt-in flag
		if v.lbCAFile != "" {
			pem, err := os.ReadFile(v.lbCAFile)
			if err != nil {
				closer()
				return verify.Plan{}, noop, fmt.Errorf("--lb-ca-file: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				closer()
				return verify.Plan{}, noop, fmt.Errorf("--lb-ca-file %s holds no PEM certificate", v.lbCAFile)
			}
			lbTLS.RootCAs = pool
		}
		plan.Endpoints = append(plan.Endpoints, verify.Endpoint{Name: "lb", BaseURL: strings.TrimRight(f.URL, "/"), Client: httpClient(d, lbTLS)})
		for _, n := range f.Nodes {
			plan.Endpoints = append(plan.Endpoints, verify.Endpoint{
				Name:    "node " + n.Name,
				BaseURL: "http://" + net.JoinHostPort(n.Address, strconv.Itoa(n.Ports.RocketChat)),
				Client:  httpClient(d, nil),
			})
		}
	}
	return plan, closer, nil
}

func httpClient(d *verify.Dialer, tlsConfig *tls.Config) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:         d.DialContext,
			TLSClientConfig:     tlsConfig,
			TLSHandshakeTimeout: 15 * time.Second,
			DisableKeepAlives:   true,
		},
		// Rocket.Chat answers /api/info itself; a redirect (e.g. http -> https) is followed.
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) >= 3 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
}

// nodeSSHEndpoint is the SSH server of a node: its dockerHost when that is
// ssh://, else user@address:22.
func nodeSSHEndpoint(n components.Node, user string) (verify.SSHEndpoint, error) {
	if strings.HasPrefix(n.DockerHost, "ssh://") {
		ep, err := verify.ParseSSHEndpoint(n.DockerHost, user)
		if err != nil {
			return ep, fmt.Errorf("node %s dockerHost: %w", n.Name, err)
		}
		return ep, nil
	}
	return verify.ParseSSHEndpoint(n.Address, user)
}

func defaultKeyFile() string {
	home, err := os.UserHomeDir()
	if err != nil {
		return ""
	}
	for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
		p := filepath.Join(home, ".ssh", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
