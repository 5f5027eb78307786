package components

import (
	_ "embed"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
	"github.com/rocketchat-ha/rocketchat-ha/internal/versions"
)

// Names of the database users the component manages. They are the seed's.
const (
	RootUser   = "root"
	RocketUser = "rocket"
	OplogUser  = "oploguser"
	// RocketChatDB is the database Rocket.Chat uses.
	RocketChatDB = "rocketchat"
)

// reconcileEnvHash carries the keyed hash of the desired state. It is not
// secret, so a preview shows that the replica-set step will run.
const reconcileEnvHash = "RCHA_DESIRED_HASH"

// replicaSetStep is the shell script of both replica-set steps
// (replicaset-step.sh, after the docker prelude). Its parameters come from
// the step's environment: the container, the mode, and the reconciler's
// report prefix; see the script for how it remembers the root password.
//
//go:embed replicaset-step.sh
var replicaSetStep string

// Environment variables of the replica-set step's script.
const (
	stepEnvContainer = "RCHA_CONTAINER"
	stepEnvNodes     = "RCHA_NODES"
	stepEnvMode      = "RCHA_MODE"
	stepEnvPrefix    = "RCHA_IN_EFFECT_PREFIX"
)

// rocketChatInfo prints the version /api/info reports, with the node
// binary of the Rocket.Chat image (it ships no curl).
const rocketChatInfo = `require('http').get('http://127.0.0.1:3000/api/info', r => { let b = ''; r.on('data', d => b += d); r.on('end', () => { try { console.log(JSON.parse(b).version || '') } catch (e) { process.exit(1) } }) }).on('error', () => process.exit(1))`

// rocketChatPreflightEnv adds what the prune step needs to check
// Rocket.Chat's upgrade path: the target major.minor (empty when the image
// tag carries none, and then nothing is checked), the servers to ask, in
// node order, and the script that asks.
func (b *builder) rocketChatPreflightEnv(env pulumi.StringMap) {
	env["RCHA_ROCKETCHAT_TARGET"] = b.rocketImage.ToStringOutput().ApplyT(func(ref string) string {
		v, ok, _ := versions.FromImage(ref)
		if !ok {
			return ""
		}
		return v.String()
	}).(pulumi.StringOutput)
	var names []string
	for _, n := range b.nodes {
		names = append(names, n.rocketName)
	}
	env["RCHA_ROCKETCHAT_CONTAINERS"] = pulumi.String(strings.Join(names, " "))
	env["RCHA_ROCKETCHAT_INFO"] = pulumi.String(rocketChatInfo)
}

// stepNodes is the replica-set step's RCHA_NODES: one line per node, in
// list order, with its name, Docker host, mongod container and port. The
// step runs through the first of them that answers as a member.
func (b *builder) stepNodes() string {
	var sb strings.Builder
	for _, n := range b.nodes {
		fmt.Fprintf(&sb, "%s %s %s %d\n", n.Name, n.DockerHost, n.mongoName, n.Ports.Mongo)
	}
	return sb.String()
}

// dbUser is a database user, besides root, that the full replica-set step
// creates and whose password and roles it keeps as given. Each feature that
// needs one (Rocket.Chat, the oplog reader, …) adds it with addDBUser
// before the cluster step registers the replica-set steps.
type dbUser struct {
	user, db string
	roles    []replicaset.Role
	password pulumi.StringOutput // secret
}

// addDBUser adds a user to the full replica-set step's desired state.
func (b *builder) addDBUser(user, db string, password pulumi.StringInput, roles ...replicaset.Role) {
	b.dbUsers = append(b.dbUsers, dbUser{user: user, db: db, roles: roles, password: secret(password)})
}

// seedUsers adds the seed's users: rocket, and oploguser when the oplog
// password is set.
func (b *builder) seedUsers() error {
	b.addDBUser(RocketUser, "admin", b.rocketPassword,
		replicaset.Role{Role: "readWrite", DB: RocketChatDB}, replicaset.Role{Role: "clusterMonitor", DB: "admin"})
	if b.args.OplogPassword != nil {
		b.addDBUser(OplogUser, "admin", b.args.OplogPassword,
			replicaset.Role{Role: "read", DB: "local"}, replicaset.Role{Role: "clusterMonitor", DB: "admin"})
	}
	return nil
}

// desiredState builds the replica-set step's input; passwords are the
// dbUsers' passwords, in order. The prune (or forced) step touches
// membership only and gets no users.
func (b *builder) desiredState(mode string, passwords []string) replicaset.DesiredState {
	n0 := b.args.Nodes[0]
	d := replicaset.DesiredState{
		ReplicaSet:  b.args.ReplicaSetName,
		Local:       fmt.Sprintf("127.0.0.1:%d", n0.Ports.Mongo),
		Members:     replicaset.Members(memberHosts(b.args.Nodes)),
		RootUser:    RootUser,
		WaitSeconds: b.args.WaitSeconds,
		Mode:        mode,
	}
	if mode != replicaset.ReconcileModeFull {
		return d
	}
	for i, u := range b.dbUsers {
		d.Users = append(d.Users, replicaset.DesiredUser{User: u.user, DB: u.db, Password: passwords[i], Roles: u.roles})
	}
	return d
}

// newReplicaSet registers one replica-set step in the given mode. The full
// step depends on every mongod, so it runs after all of them are healthy,
// and on scale-out it adds the new members. The prune step comes before
// every mongod (mongod 0 depends on it): on scale-in it removes the departing
// members while every container still resolves every member name, before
// the remaining mongods are rolled with their new hosts entries. Both are
// updated in place whenever their desired state changes; the engine runs
// deletes of removed resources after all creates and updates, so departing
// containers stop only after they have left the set.
func (b *builder) newReplicaSet(mode string, deps []pulumi.Resource) (*local.Command, error) {
	type desired struct{ JSON, Hash string }
	inputs := []any{b.rootPassword, b.keyfile, b.mongoImage}
	if mode == replicaset.ReconcileModeFull {
		for _, u := range b.dbUsers {
			inputs = append(inputs, u.password)
		}
	}
	state := pulumi.All(inputs...).ApplyT(func(v []any) (desired, error) {
		root, key := v[0].(string), v[1].(string)
		mongoTarget := ""
		if ver, ok, _ := versions.FromImage(v[2].(string)); ok {
			mongoTarget = ver.String()
		}
		var passwords []string
		for _, p := range v[3:] {
			passwords = append(passwords, p.(string))
		}
		d := b.desiredState(mode, passwords)
		d.MongoVersion, d.MongoReleases = mongoTarget, versions.MongoReleaseNames()
		if mode == replicaset.ReconcileModeFull {
			d.FeatureCompatibility = b.args.MongoFeatureCompatibility
		}
		js, err := d.JSON() // validates
		if err != nil {
			return desired{}, fmt.Errorf("replica-set desired state: %w", err)
		}
		return desired{JSON: string(js), Hash: replicaset.DesiredHash([]byte(key), js, root)}, nil
	})
	desiredJSON := pulumi.ToSecret(state.ApplyT(func(v any) string { return v.(desired).JSON })).(pulumi.StringOutput)
	hash := pulumi.Unsecret(state.ApplyT(func(v any) string { return v.(desired).Hash })).(pulumi.StringOutput)

	env := pulumi.StringMap{
		reconcileEnvHash:                    hash,
		replicaset.ReconcileEnvDesired:      desiredJSON,
		replicaset.ReconcileEnvRootPassword: secret(b.rootPassword),
	}
	mname := mode
	if mname == replicaset.ReconcileModeFull {
		mname = "full"
	}
	env[stepEnvNodes] = pulumi.String(b.stepNodes())
	for i, n := range b.nodes {
		if n.DockerTLS != nil && strings.HasPrefix(n.DockerHost, "tcp://") {
			env[fmt.Sprintf("RCHA_DOCKER_CA_%d", i)] = secret(n.DockerTLS.CA)
			env[fmt.Sprintf("RCHA_DOCKER_CERT_%d", i)] = secret(n.DockerTLS.Cert)
			env[fmt.Sprintf("RCHA_DOCKER_KEY_%d", i)] = secret(n.DockerTLS.Key)
		}
	}
	if mode != replicaset.ReconcileModeFull {
		b.rocketChatPreflightEnv(env)
	}
	env[stepEnvMode] = pulumi.String(mname)
	env[stepEnvPrefix] = pulumi.String(replicaset.ReconcileRootInEffectPrefix)
	script := stepScript(replicaSetStep)
	// A forced reconfig is a one-shot run of the prune step.
	name := b.name + "-replicaset"
	if mode != replicaset.ReconcileModeFull {
		name += "-prune"
	}
	opts := []pulumi.ResourceOption{
		pulumi.Parent(b.comp),
		pulumi.AdditionalSecretOutputs([]string{"stdout"}),
	}
	if len(deps) > 0 {
		opts = append(opts, pulumi.DependsOn(deps))
	}
	cmd, err := local.NewCommand(b.ctx, name, &local.CommandArgs{
		Create:      pulumi.String(script),
		Update:      pulumi.String(script),
		Stdin:       pulumi.String(replicaset.Script()),
		Environment: env,
		Logging:     local.LoggingStderr,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("replica-set step (%s): %w", name, err)
	}
	return cmd, nil
}
