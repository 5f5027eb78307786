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
// goes to stderr, which is logged, as it happens.
//
// Remembering the root password: the step's stdout, a secret output that is
// never logged, holds two base64 lines: the root password in effect after
// this run, and the root password this run was given. The next update
// receives them as PULUMI_COMMAND_STDOUT. It offers the given one as the
// previous root password, and when root login fails with both (exit 4) it
// retries once with the one that was in effect. Every root password a full
// step ever applies was first given to both steps, so the password in
// effect is always one of the three candidates (current, given, in effect),
// even after failed or partial runs; the script never writes before it has
// logged in, so the retry is safe.
//
// The prune step runs before any mongod changes, so node 0's container may
// not exist yet (a fresh cluster): then there is nothing to prune.
const reconcileShell = dockerCLIPrelude + `b64() { printf '%%s' "$1" | base64 | tr -d '\n'; }
unb64() { printf '%%s' "$1" | base64 -d 2>/dev/null || true; }
remember() { printf '%%s\n%%s\n' "$(b64 "$1")" "$(b64 "$RCHA_ROOT_PASSWORD")"; }
effect_before=$(unb64 "$(printf '%%s\n' "${PULUMI_COMMAND_STDOUT:-}" | sed -n 1p)")
given_before=$(unb64 "$(printf '%%s\n' "${PULUMI_COMMAND_STDOUT:-}" | sed -n 2p)")
if [ "%[2]s" = prune ] && ! docker inspect --type container %[1]s >/dev/null 2>&1; then
  echo "rocketchat-ha: container %[1]s does not exist yet: no replica-set member to remove" >&2
  remember "${effect_before:-$RCHA_ROOT_PASSWORD}"
  exit 0
fi
cat >"$RCHA_TMP/reconcile.js"
reconcile() {
  RCHA_ROOT_PASSWORD_PREVIOUS=$1
  export RCHA_ROOT_PASSWORD_PREVIOUS
  echo "rocketchat-ha: replica-set step (%[2]s) through container %[1]s on $DOCKER_HOST" >&2
  docker exec -i -e RCHA_DESIRED -e RCHA_ROOT_PASSWORD -e RCHA_ROOT_PASSWORD_PREVIOUS %[1]s sh -c '
f=$(mktemp); o=$(mktemp); r=$(mktemp)
cat >"$f"
{ mongosh --nodb --quiet --norc "$f"; echo $? >"$r"; } 2>&1 | tee "$o" >&2
rc=$(cat "$r")
tail -n 1 "$o" | sed -n "s/^%[3]s//p"
rm -f "$f" "$o" "$r"
exit "$rc"' <"$RCHA_TMP/reconcile.js"
}
previous=$given_before
rc=0
in_effect=$(reconcile "$previous") || rc=$?
if [ "$rc" -eq 4 ] && [ -n "$effect_before" ] && [ "$effect_before" != "$given_before" ]; then
  echo "rocketchat-ha: retrying with the root password that was in effect after the last run" >&2
  previous=$effect_before
  rc=0
  in_effect=$(reconcile "$previous") || rc=$?
fi
[ "$rc" -eq 0 ] || exit "$rc"
case "$in_effect" in
  current) remember "$RCHA_ROOT_PASSWORD" ;;
  previous) remember "$previous" ;;
  *) echo "rocketchat-ha: the replica-set script did not say which root password is in effect" >&2; exit 1 ;;
esac
`

// ReplicaSetScript is the shell script of a replica-set step that runs the
// reconciler in mode inside the named mongod container.
func ReplicaSetScript(container, mode string) string {
	m := mode
	if m == ReconcileModeFull {
		m = "full"
	}
	return fmt.Sprintf(reconcileShell, container, m, ReconcileRootInEffectPrefix)
}

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
	withOplog := b.args.OplogPassword != nil && mode == ReconcileModeFull
	oplog := pulumi.String("").ToStringOutput()
	if withOplog {
		oplog = b.args.OplogPassword.ToStringOutput()
	}
	type desired struct{ JSON, Hash string }
	state := pulumi.All(b.rootPassword, b.rocketPassword, oplog, b.keyfile).ApplyT(func(v []any) (desired, error) {
		root, rocket, oplogPwd, key := v[0].(string), v[1].(string), v[2].(string), v[3].(string)
		d := b.desiredState(rocket, oplogPwd, withOplog)
		d.Mode = mode
		if mode == ReconcileModePrune {
			d.Users = nil // the prune step touches membership only
		}
		js, err := d.JSON() // validates
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
	script := ReplicaSetScript(b.mongoContainerName(0), mode)
	name := b.name + "-replicaset"
	if mode == ReconcileModePrune {
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
		Stdin:       pulumi.String(ReconcileScript),
		Environment: env,
		Logging:     local.LoggingStderr,
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("replica-set step (%s): %w", name, err)
	}
	return cmd, nil
}

// mongoContainerName is the fixed container name of node i's mongod.
func (b *builder) mongoContainerName(i int) string {
	return fmt.Sprintf("%s-mongo-%s", b.name, b.args.Nodes[i].Name)
}
