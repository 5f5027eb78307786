// Package components provides RocketChatHA, a Pulumi component that deploys
// Rocket.Chat in high availability on any number of Docker hosts: one
// mongod per host joined into an authenticated replica set, one Rocket.Chat
// server per host, and an nginx load balancer in front.
//
// The package reads no configuration and keeps no globals; the stacks
// package maps stack config onto RocketChatHAArgs.
package components

import (
	"fmt"
	"slices"

	"github.com/pulumi/pulumi-random/sdk/v4/go/random"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/internal/connstring"
	"github.com/rocketchat-ha/rocketchat-ha/internal/nodeops"
	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
)

// TypeToken is the component's Pulumi type.
const TypeToken = "rocketchat-ha:index:RocketChatHA"

// RocketChatHA is a Rocket.Chat cluster with its replica set and load
// balancer.
type RocketChatHA struct {
	pulumi.ResourceState

	// URL is where the load balancer answers.
	URL pulumi.StringOutput `pulumi:"url"`
	// LoadBalancers lists every load balancer as host:port (the HTTPS port
	// with TLS), for an outer load balancer or DNS in front of them.
	LoadBalancers pulumi.StringArrayOutput `pulumi:"loadBalancers"`
	// MongoURL is Rocket.Chat's MONGO_URL (secret).
	MongoURL pulumi.StringOutput `pulumi:"mongoUrl" provider:"secret"`
	// Members lists the replica-set members as host:port.
	Members pulumi.StringArrayOutput `pulumi:"members"`
	// MonitoringURL is Grafana's URL on the monitoring node's private
	// address ("" without Monitoring.Node).
	MonitoringURL pulumi.StringOutput `pulumi:"monitoringUrl"`
	// GrafanaAdminPassword is Grafana's generated admin password (secret;
	// "" without Monitoring.Node).
	GrafanaAdminPassword pulumi.StringOutput `pulumi:"grafanaAdminPassword" provider:"secret"`

	fingerprints pulumi.StringMapOutput
}

// builder carries what the named steps of NewRocketChatHA share.
type builder struct {
	ctx  *pulumi.Context
	name string
	args RocketChatHAArgs
	comp *RocketChatHA

	nodes                               []*node
	nodeInputs                          map[string][]nodeInput
	rootPassword, rocketPassword        pulumi.StringOutput
	keyfile                             pulumi.StringOutput
	mongoURL                            pulumi.StringOutput
	oplogURL                            pulumi.StringInput
	rocketImage, mongoImage, nginxImage pulumi.StringInput
	// dbUsers are the users, besides root, of the full replica-set step.
	dbUsers []dbUser
	// mon is what the monitoring steps share (monitoring.go).
	mon *monitoringState
	// backupJob, when backups are on, registers the backup job after the
	// given resource (the full replica-set step); see backup.go.
	backupJob func(after pulumi.Resource) error
}

// NewRocketChatHA registers the cluster. It validates args before it
// registers anything, so bad input creates no resource.
func NewRocketChatHA(ctx *pulumi.Context, name string, args *RocketChatHAArgs, opts ...pulumi.ResourceOption) (*RocketChatHA, error) {
	if args == nil {
		return nil, fmt.Errorf("rocketchat-ha %s: args are required", name)
	}
	resolved := args.WithDefaults()
	if err := resolved.Validate(); err != nil {
		return nil, fmt.Errorf("rocketchat-ha %s: invalid arguments:\n%w", name, err)
	}
	if args.RootURL == nil {
		return nil, fmt.Errorf("rocketchat-ha %s: RootURL: is required", name)
	}
	comp := &RocketChatHA{}
	if err := ctx.RegisterComponentResource(TypeToken, name, comp, opts...); err != nil {
		return nil, err
	}
	b := &builder{ctx: ctx, name: name, args: resolved, comp: comp}
	steps := []struct {
		what string
		run  func() error
	}{
		{"images", b.images},
		{"providers", b.newProviders},
		{"secrets", b.secrets},
		{"database users", b.seedUsers},
		{"monitoring users", b.monitoringUsers},
		{"connection strings", b.connectionStrings},
		{"backup", b.backup},
		{"cluster", b.cluster},
	}
	for _, s := range steps {
		if err := s.run(); err != nil {
			return nil, fmt.Errorf("rocketchat-ha %s: %s: %w", name, s.what, err)
		}
	}
	return comp, nil
}

// images picks the pinned default images where none are given.
func (b *builder) images() error {
	pick := func(in pulumi.StringInput, def string) pulumi.StringInput {
		if in == nil {
			return pulumi.String(def)
		}
		return in
	}
	b.rocketImage = pick(b.args.RocketChatImage, DefaultRocketChatImage)
	b.mongoImage = pick(b.args.MongoImage, DefaultMongoImage)
	b.nginxImage = pick(b.args.NginxImage, DefaultNginxImage)
	return nil
}

// node is one node of the cluster as the builder uses it: its resolved
// arguments, its Docker provider and the fixed names of its containers.
type node struct {
	Node
	index int
	// down: its Docker host does not answer (RocketChatHAArgs.Unreachable);
	// nothing is registered on it, and provider is nil.
	down       bool
	provider   pulumi.ProviderResource
	mongoName  string
	rocketName string
}

// String names the node in errors: Nodes[1] (rocket-2).
func (n *node) String() string { return fmt.Sprintf("Nodes[%d] (%s)", n.index, n.Name) }

// newProviders registers one Docker provider per node and records the
// per-node data every later step uses.
func (b *builder) newProviders() error {
	for i, n := range b.args.Nodes {
		down := slices.Contains(b.args.Unreachable, n.Name)
		var p pulumi.ProviderResource
		if !down {
			dp, err := newDockerProvider(b.ctx, fmt.Sprintf("%s-docker-%s", b.name, n.Name), n.DockerHost, n.DockerTLS, pulumi.Parent(b.comp))
			if err != nil {
				return fmt.Errorf("Nodes[%d].DockerHost: %w", i, err)
			}
			p = dp
		}
		b.nodes = append(b.nodes, &node{
			Node: n, index: i, provider: p, down: down,
			mongoName:  fmt.Sprintf("%s-mongo-%s", b.name, n.Name),
			rocketName: fmt.Sprintf("%s-rocketchat-%s", b.name, n.Name),
		})
	}
	return nil
}

// generatePassword registers a password of length letters and digits,
// named <cluster>-<suffix>, generated once: pulumi-random keeps it in
// state. The result is secret.
func (b *builder) generatePassword(suffix string, length int) (pulumi.StringOutput, error) {
	p, err := random.NewRandomPassword(b.ctx, b.name+"-"+suffix, &random.RandomPasswordArgs{
		Length:  pulumi.Int(length),
		Special: pulumi.Bool(false),
	}, pulumi.Parent(b.comp))
	if err != nil {
		return pulumi.StringOutput{}, fmt.Errorf("%s: %w", suffix, err)
	}
	return secret(p.Result), nil
}

// secrets generates, once, what the user did not give: the root and rocket
// passwords and the replica-set keyfile. pulumi-random keeps them in state.
func (b *builder) secrets() error {
	gen := b.generatePassword
	var err error
	// A keyfile is 6 to 1024 characters of the base64 alphabet; letters
	// and digits are a subset.
	if b.keyfile, err = gen("keyfile", 756); err != nil {
		return err
	}
	if b.args.MongoRootPassword != nil {
		b.rootPassword = secret(b.args.MongoRootPassword)
	} else if b.rootPassword, err = gen("mongo-root-password", 32); err != nil {
		return err
	}
	if b.args.RocketPassword != nil {
		b.rocketPassword = secret(b.args.RocketPassword)
	} else if b.rocketPassword, err = gen("rocket-password", 32); err != nil {
		return err
	}
	return nil
}

// connectionStrings builds MONGO_URL and, with an oplog password,
// MONGO_OPLOG_URL.
func (b *builder) connectionStrings() error {
	hosts := memberHosts(b.args.Nodes)
	rs := b.args.ReplicaSetName
	b.mongoURL = secret(b.rocketPassword.ApplyT(func(pwd string) (string, error) {
		return connstring.MongoURL{User: RocketUser, Password: pwd, Hosts: hosts, Database: RocketChatDB,
			AuthSource: "admin", ReplicaSet: rs, Majority: true}.String()
	}).(pulumi.StringOutput))
	if b.args.OplogPassword != nil {
		b.oplogURL = secret(b.args.OplogPassword.ToStringOutput().ApplyT(func(pwd string) (string, error) {
			return connstring.MongoURL{User: OplogUser, Password: pwd, Hosts: hosts, Database: "local",
				AuthSource: "admin", ReplicaSet: rs}.String()
		}).(pulumi.StringOutput))
	}
	return nil
}

// cluster registers, in order: the replica-set prune step, every node's
// mongod (chained after it), the full replica-set step, the backup job
// (after the step), every node's Rocket.Chat (chained after the step), the
// load balancers, and the exporters and monitoring stack; then it
// registers the component's outputs.
func (b *builder) cluster() error {
	// The prune step, which every other change waits for, waits for every
	// node's provider: pulumi-docker reaches its daemon when it is
	// configured, so with a host down the update fails there, before any
	// container anywhere is touched.
	var providers []pulumi.Resource
	for _, n := range b.nodes {
		if !n.down {
			providers = append(providers, n.provider)
		}
	}
	pruneMode := replicaset.ReconcileModePrune
	if b.args.ForceReconfig {
		pruneMode = replicaset.ReconcileModeForce
	}
	prune, err := b.newReplicaSet(pruneMode, providers)
	if err != nil {
		return err
	}
	var mongos []pulumi.Resource
	var prev pulumi.Resource = prune
	for _, n := range b.nodes {
		m, err := b.newMongo(n, prev)
		if err != nil {
			return err
		}
		if m != nil {
			// The full step waits for the containers and for their host
			// names, so that members resolve each other before it adds any.
			mongos = append(mongos, m.Container, m.Hosts)
			prev = m.Container
		}
	}
	rs, err := b.newReplicaSet(replicaset.ReconcileModeFull, mongos)
	if err != nil {
		return err
	}
	if b.backupJob != nil {
		if err := b.backupJob(rs); err != nil {
			return fmt.Errorf("backup job: %w", err)
		}
	}
	var rockets []pulumi.Resource
	prev = rs
	secrets := b.rocketChatSecrets()
	for _, n := range b.nodes {
		r, err := b.newRocketChat(n, prev, secrets)
		if err != nil {
			return err
		}
		if r != nil {
			rockets = append(rockets, r.Container)
			prev = r.Container
		}
	}
	lbs, err := b.newLoadBalancers(rockets)
	if err != nil {
		return err
	}
	if err := b.newMonitoring(rs, lbs.sites); err != nil {
		return fmt.Errorf("monitoring: %w", err)
	}
	b.comp.URL = lbs.url
	b.comp.LoadBalancers = pulumi.ToStringArray(lbs.endpoints).ToStringArrayOutput()
	b.comp.MongoURL = b.mongoURL
	b.comp.Members = pulumi.ToStringArray(memberHosts(b.args.Nodes)).ToStringArrayOutput()
	b.comp.MonitoringURL, b.comp.GrafanaAdminPassword = b.mon.url, b.mon.grafanaPassword
	fingerprints := b.fingerprints()
	b.comp.fingerprints = fingerprints.ToStringMapOutput()
	return b.ctx.RegisterResourceOutputs(b.comp, pulumi.Map{
		"url":                      b.comp.URL,
		"loadBalancers":            b.comp.LoadBalancers,
		"mongoUrl":                 b.comp.MongoURL,
		"members":                  b.comp.Members,
		"monitoringUrl":            b.comp.MonitoringURL,
		"grafanaAdminPassword":     b.comp.GrafanaAdminPassword,
		nodeops.FingerprintsOutput: fingerprints,
	})
}
