package components

import (
	_ "embed"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/internal/replicaset"
)

// Labels every container and volume carries.
const (
	LabelCluster = "rocketchat-ha.cluster"
	LabelNode    = "rocketchat-ha.node"
	LabelRole    = "rocketchat-ha.role"
)

// dockerPrelude starts the shell script of every command step
// (docker-prelude.sh): a private $RCHA_TMP, and TLS material for tcp://
// hosts from the environment.
//
//go:embed docker-prelude.sh
var dockerPrelude string

// stepScript is the text of a command step: the prelude, then body.
func stepScript(body string) string { return dockerPrelude + body }

// containerStep is the arguments of a command step that runs body (after
// the prelude) against one container, with env, on create and on update,
// logging what it prints.
func containerStep(body string, env pulumi.StringMap) *local.CommandArgs {
	script := stepScript(body)
	return &local.CommandArgs{
		Create:      pulumi.String(script),
		Update:      pulumi.String(script),
		Environment: env,
		Logging:     local.LoggingStdoutAndStderr,
	}
}

// dockerCLIEnv adds to env what dockerPrelude needs to reach host.
func dockerCLIEnv(env pulumi.StringMap, host string, tls *DockerTLS) {
	env["DOCKER_HOST"] = pulumi.String(host)
	if tls != nil && strings.HasPrefix(host, "tcp://") {
		env["RCHA_DOCKER_CA"] = secret(tls.CA)
		env["RCHA_DOCKER_CERT"] = secret(tls.Cert)
		env["RCHA_DOCKER_KEY"] = secret(tls.Key)
	}
}

// newDockerProvider registers the Docker provider for one endpoint. TLS
// material is wrapped as secret because the schema does not mark it.
func newDockerProvider(ctx *pulumi.Context, name, host string, tls *DockerTLS, opts ...pulumi.ResourceOption) (*docker.Provider, error) {
	args := &docker.ProviderArgs{Host: pulumi.String(host)}
	if tls != nil {
		args.CaMaterial = secretPtr(tls.CA)
		args.CertMaterial = secretPtr(tls.Cert)
		args.KeyMaterial = secretPtr(tls.Key)
	}
	p, err := docker.NewProvider(ctx, name, args, opts...)
	if err != nil {
		return nil, fmt.Errorf("docker provider %s (%s): %w", name, host, err)
	}
	return p, nil
}

// secretPtr marks an optional string input as secret.
func secretPtr(in pulumi.StringInput) pulumi.StringPtrInput {
	if in == nil {
		return nil
	}
	return pulumi.ToSecret(in.ToStringOutput()).(pulumi.StringOutput).ToStringPtrOutput()
}

// secret marks a string input as secret.
func secret(in pulumi.StringInput) pulumi.StringOutput {
	return pulumi.ToSecret(in.ToStringOutput()).(pulumi.StringOutput)
}

// hostEntries maps every node name to its address, so that each container
// resolves the replica-set member names. Nodes whose address is a host name
// must be resolvable by DNS instead.
func hostEntries(nodes []Node) docker.ContainerHostArray {
	var out docker.ContainerHostArray
	for _, n := range nodes {
		if net.ParseIP(n.Address) == nil {
			continue
		}
		out = append(out, docker.ContainerHostArgs{Host: pulumi.String(n.Name), Ip: pulumi.String(n.Address)})
	}
	return out
}

// publish maps container ports (internal -> external) onto addr. The list is
// sorted by internal port, the order in which pulumi-docker reads ports back.
func publish(addr string, ports map[int]int) docker.ContainerPortArray {
	internal := make([]int, 0, len(ports))
	for p := range ports {
		internal = append(internal, p)
	}
	slices.Sort(internal)
	out := make(docker.ContainerPortArray, len(internal))
	for i, p := range internal {
		out[i] = docker.ContainerPortArgs{Internal: pulumi.Int(p), External: pulumi.Int(ports[p]), Ip: pulumi.String(addr)}
	}
	return out
}

// labels names the cluster, node and role of a container.
func labels(cluster, node, role string) docker.ContainerLabelArray {
	return docker.ContainerLabelArray{
		docker.ContainerLabelArgs{Label: pulumi.String(LabelCluster), Value: pulumi.String(cluster)},
		docker.ContainerLabelArgs{Label: pulumi.String(LabelNode), Value: pulumi.String(node)},
		docker.ContainerLabelArgs{Label: pulumi.String(LabelRole), Value: pulumi.String(role)},
	}
}

// hygiene sets what every container shares: restart policy, rotated logs,
// explicit bridge networking (pulumi-docker #1272), waiting for health.
func hygiene(c *docker.ContainerArgs, waitSeconds int) {
	c.Restart = pulumi.String("unless-stopped")
	c.LogDriver = pulumi.String("json-file")
	c.LogOpts = pulumi.StringMap{"max-size": pulumi.String("10m"), "max-file": pulumi.String("5")}
	c.NetworkMode = pulumi.String("bridge")
	c.Wait = pulumi.Bool(true)
	c.WaitTimeout = pulumi.Int(waitSeconds)
	c.MustRun = pulumi.Bool(true)
}

// health is a container healthcheck.
type health struct {
	Test                                          []string
	Interval, Timeout, StartPeriod, StartInterval time.Duration
	Retries                                       int
}

// startIntervalAPIMinor is the Docker Engine API (1.44, Docker 25) that
// introduced the healthcheck start interval; older daemons refuse a
// container that sets one.
const startIntervalAPIMinor = 44

// healthcheck writes h in the form pulumi-docker reads back from the
// daemon: durations as Go's time.Duration.String() ("3m0s", not "180s"),
// so that a second `pulumi up` sees no difference. The start interval is
// written only when every Docker host speaks API 1.44 or later.
func (b *builder) healthcheck(h health) docker.ContainerHealthcheckArgs {
	args := docker.ContainerHealthcheckArgs{
		Tests:       pulumi.ToStringArray(h.Test),
		Interval:    pulumi.String(h.Interval.String()),
		Timeout:     pulumi.String(h.Timeout.String()),
		Retries:     pulumi.Int(h.Retries),
		StartPeriod: pulumi.String(h.StartPeriod.String()),
	}
	if minor, _ := apiMinor(b.args.DockerAPIVersion); minor >= startIntervalAPIMinor && h.StartInterval > 0 {
		args.StartInterval = pulumi.String(h.StartInterval.String())
	}
	return args
}

// newImage registers a pinned image on a Docker host (node n's, when n is
// not nil) and records it in n's fingerprint. On a node that is down it
// registers nothing and returns nil.
func (b *builder) newImage(n *node, name string, ref pulumi.StringInput, provider pulumi.ProviderResource, opts ...pulumi.ResourceOption) (*docker.RemoteImage, error) {
	args := &docker.RemoteImageArgs{Name: ref, KeepLocally: pulumi.Bool(true)}
	if n != nil && n.down {
		b.record(n, name, args, nil)
		return nil, nil
	}
	img, err := docker.NewRemoteImage(b.ctx, name, args, append([]pulumi.ResourceOption{pulumi.Parent(b.comp), pulumi.Provider(provider)}, opts...)...)
	if err != nil {
		return nil, err
	}
	b.record(n, name, args, img)
	return img, nil
}

// imageID is a container's image: the pulled image's ID, or nothing on a
// node that is down (whose container is only fingerprinted).
func imageID(img *docker.RemoteImage) pulumi.StringInput {
	if img == nil {
		return nil
	}
	return img.ImageId
}

// containerOptions are the options every fixed-name container needs: its
// name cannot exist twice, so replacements delete first, and changes that
// only touch state (health, wait) still roll the container.
func containerOptions(provider pulumi.ProviderResource, parent pulumi.Resource, deps []pulumi.Resource) []pulumi.ResourceOption {
	opts := []pulumi.ResourceOption{
		pulumi.Parent(parent),
		pulumi.Provider(provider),
		pulumi.DeleteBeforeReplace(true),
		pulumi.ReplaceOnChanges([]string{"healthcheck", "wait", "mustRun"}),
	}
	if len(deps) > 0 {
		opts = append(opts, pulumi.DependsOn(deps))
	}
	return opts
}

// memberHosts returns the replica-set member host of each node:
// <name>:<mongo port>.
func memberHosts(nodes []Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = replicaset.MemberHost(n.Name, n.Ports.Mongo)
	}
	return out
}
