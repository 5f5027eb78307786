package components

import (
	"fmt"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
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

// reconcileShell runs the embedded mongosh script (given on stdin) inside
// node 0's mongod container. Secrets reach mongosh only through the
// environment: `docker exec -e NAME` copies the value from the docker CLI's
// own environment, so no secret is on any command line. mongosh's progress
// goes to stderr, which is logged; stdout carries only the root password
// this run applied, which is a secret output that the next update receives
// back as PULUMI_COMMAND_STDOUT and offers as the previous root password.
const reconcileShell = dockerCLIPrelude + `RCHA_ROOT_PASSWORD_PREVIOUS="${PULUMI_COMMAND_STDOUT:-}"
export RCHA_ROOT_PASSWORD_PREVIOUS
echo "rocketchat-ha: reconciling replica set through container %[1]s on $DOCKER_HOST" >&2
docker exec -i -e RCHA_DESIRED -e RCHA_ROOT_PASSWORD -e RCHA_ROOT_PASSWORD_PREVIOUS %[1]s \
  sh -c 'f=$(mktemp) && cat >"$f" && mongosh --nodb --quiet --norc "$f" 1>&2; rc=$?; rm -f "$f"; exit $rc'
printf '%%s' "$RCHA_ROOT_PASSWORD"
`

// desiredState builds the replica-set step's input for the given passwords.
func (b *builder) desiredState(rocketPwd, oplogPwd string, withOplog bool) DesiredState {
	n0 := b.args.Nodes[0]
	d := DesiredState{
		ReplicaSet:  b.args.ReplicaSetName,
		Local:       fmt.Sprintf("127.0.0.1:%d", n0.Ports.Mongo),
		Members:     Members(memberHosts(b.args.Nodes)),
		RootUser:    RootUser,
		WaitSeconds: b.args.WaitSeconds,
		Users: []DesiredUser{{
			User: RocketUser, DB: "admin", Password: rocketPwd,
			Roles: []Role{{Role: "readWrite", DB: RocketChatDB}, {Role: "clusterMonitor", DB: "admin"}},
		}},
	}
	if withOplog {
		d.Users = append(d.Users, DesiredUser{
			User: OplogUser, DB: "admin", Password: oplogPwd,
			Roles: []Role{{Role: "read", DB: "local"}, {Role: "clusterMonitor", DB: "admin"}},
		})
	}
	return d
}

// newReplicaSet registers the replica-set step. It depends on every mongod,
// so it runs after all of them are healthy, and it is updated in place
// whenever the desired state changes. On scale-in the update runs before the
// engine deletes the removed nodes' containers, because the engine runs
// deletes of removed resources after all creates and updates.
func (b *builder) newReplicaSet(mongos []pulumi.Resource) (*local.Command, error) {
	withOplog := b.args.OplogPassword != nil
	oplog := pulumi.String("").ToStringOutput()
	if withOplog {
		oplog = b.args.OplogPassword.ToStringOutput()
	}
	type desired struct{ JSON, Hash string }
	state := pulumi.All(b.rootPassword, b.rocketPassword, oplog, b.keyfile).ApplyT(func(v []any) (desired, error) {
		root, rocket, oplogPwd, key := v[0].(string), v[1].(string), v[2].(string), v[3].(string)
		d := b.desiredState(rocket, oplogPwd, withOplog)
		if err := d.Validate(); err != nil {
			return desired{}, fmt.Errorf("replica-set desired state: %w", err)
		}
		js, err := d.JSON()
		if err != nil {
			return desired{}, fmt.Errorf("replica-set desired state: %w", err)
		}
		return desired{JSON: string(js), Hash: DesiredHash([]byte(key), js, root)}, nil
	})
	desiredJSON := pulumi.ToSecret(state.ApplyT(func(v any) string { return v.(desired).JSON })).(pulumi.StringOutput)
	hash := pulumi.Unsecret(state.ApplyT(func(v any) string { return v.(desired).Hash })).(pulumi.StringOutput)

	n0 := b.args.Nodes[0]
	env := pulumi.StringMap{
		reconcileEnvHash:         hash,
		ReconcileEnvDesired:      desiredJSON,
		ReconcileEnvRootPassword: secret(b.rootPassword),
	}
	dockerCLIEnv(env, n0.DockerHost, n0.DockerTLS)
	script := fmt.Sprintf(reconcileShell, b.mongoContainerName(0))
	cmd, err := local.NewCommand(b.ctx, b.name+"-replicaset", &local.CommandArgs{
		Create:      pulumi.String(script),
		Update:      pulumi.String(script),
		Stdin:       pulumi.String(ReconcileScript),
		Environment: env,
		Logging:     local.LoggingStderr,
	},
		pulumi.Parent(b.comp),
		pulumi.DependsOn(mongos),
		pulumi.AdditionalSecretOutputs([]string{"stdout"}),
	)
	if err != nil {
		return nil, fmt.Errorf("replica-set step: %w", err)
	}
	return cmd, nil
}

// mongoContainerName is the fixed container name of node i's mongod.
func (b *builder) mongoContainerName(i int) string {
	return fmt.Sprintf("%s-mongo-%s", b.name, b.args.Nodes[i].Name)
}
