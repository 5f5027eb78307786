package components

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-command/sdk/go/command/local"
	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Paths of the keyfile inside the mongod container. The uploaded copy is
// owned by root, mode 0400 (uploads cannot set an owner); the entrypoint
// installs it as uid 999, mode 0400, which is what mongod demands, before
// handing over to the image's entrypoint. No copy is readable by others.
const (
	keyfileUpload = "/etc/rocketchat-ha/keyfile"
	keyfilePath   = "/tmp/rocketchat-ha-keyfile"
	mongoDataPath = "/data/db"
	// applyHostsPath is mongo-apply-hosts.sh in the container.
	applyHostsPath = "/etc/rocketchat-ha/apply-hosts.sh"
)

// mongoEntrypoint applies the member host names the hosts step last gave
// the container (none on its first start: its creation-time hosts entries
// are current then), installs the keyfile and starts the official
// entrypoint with the arguments that follow it.
const mongoEntrypoint = `sh ` + applyHostsPath + ` && install -o 999 -g 999 -m 0400 ` + keyfileUpload + ` ` + keyfilePath + ` && exec docker-entrypoint.sh "$@"`

// mongoApplyHosts is mongo-apply-hosts.sh, installed in every mongod
// container.
//
//go:embed mongo-apply-hosts.sh
var mongoApplyHosts string

// mongoHostsStep is the hosts step's script (mongo-hosts.sh, after the
// docker prelude).
//
//go:embed mongo-hosts.sh
var mongoHostsStep string

// mongoHealth is mongod's healthcheck: healthy when it is primary or
// secondary, or not (yet) a member of a replica set. A member that is still
// starting, recovering or syncing is unhealthy, so a rolling replacement
// waits until the replaced member has caught up before it moves on.
const mongoHealth = `const h = db.hello(); quit(h.isWritablePrimary || h.secondary || !h.setName ? 0 : 1)`

// mongoNode is what one node's mongod consists of.
type mongoNode struct {
	Volume    *docker.Volume
	Image     *docker.RemoteImage
	Container *docker.Container
	// Hosts is the step that keeps the container's member host names
	// current without restarting it.
	Hosts *local.Command
}

// newMongo registers the data volume, image and mongod container of node i.
// The container depends on prev (the previous node's mongod, or the
// replica-set prune step for node 0), so that a change that replaces every
// mongod rolls node by node, after departing members have left the set.
func (b *builder) newMongo(n *node, prev pulumi.Resource) (*mongoNode, error) {
	prefix := n.mongoName
	nodeOpts := []pulumi.ResourceOption{pulumi.Parent(b.comp), pulumi.Provider(n.provider)}

	volOpts := append([]pulumi.ResourceOption{}, nodeOpts...)
	volOpts = append(volOpts, pulumi.RetainOnDelete(!b.args.DeleteDataOnDestroy))
	volArgs := &docker.VolumeArgs{
		Name: pulumi.String(prefix + "-data"),
		Labels: docker.VolumeLabelArray{
			docker.VolumeLabelArgs{Label: pulumi.String(LabelCluster), Value: pulumi.String(b.name)},
			docker.VolumeLabelArgs{Label: pulumi.String(LabelNode), Value: pulumi.String(n.Name)},
			docker.VolumeLabelArgs{Label: pulumi.String(LabelRole), Value: pulumi.String("mongo-data")},
		},
	}
	var vol *docker.Volume
	if n.down {
		b.record(n, prefix+"-data", volArgs, nil)
	} else {
		var err error
		if vol, err = docker.NewVolume(b.ctx, prefix+"-data", volArgs, volOpts...); err != nil {
			return nil, fmt.Errorf("%s: mongo volume: %w", n, err)
		}
		b.record(n, prefix+"-data", volArgs, vol)
	}

	img, err := b.newImage(n, prefix+"-image", b.mongoImage, n.provider)
	if err != nil {
		return nil, fmt.Errorf("%s: mongo image: %w", n, err)
	}

	port := strconv.Itoa(n.Ports.Mongo)
	args := &docker.ContainerArgs{
		Name:        pulumi.String(prefix),
		Image:       imageID(img),
		Entrypoints: pulumi.StringArray{pulumi.String("/bin/sh"), pulumi.String("-c"), pulumi.String(mongoEntrypoint), pulumi.String("mongod-entrypoint")},
		Command: pulumi.ToStringArray([]string{
			"mongod", "--replSet", b.args.ReplicaSetName, "--keyFile", keyfilePath,
			"--bind_ip_all", "--port", port,
		}),
		Uploads: docker.ContainerUploadArray{
			docker.ContainerUploadArgs{
				File:        pulumi.String(keyfileUpload),
				Content:     b.keyfile.ToStringPtrOutput(),
				Permissions: pulumi.String(secretFileMode),
			},
			docker.ContainerUploadArgs{
				File:        pulumi.String(applyHostsPath),
				Content:     pulumi.String(mongoApplyHosts),
				Permissions: pulumi.String(scriptFileMode),
			},
		},
		Volumes: docker.ContainerVolumeArray{docker.ContainerVolumeArgs{
			VolumeName:    pulumi.String(prefix + "-data"),
			ContainerPath: pulumi.String(mongoDataPath),
		}},
		Ports:  publish(n.Address, map[int]int{n.Ports.Mongo: n.Ports.Mongo}),
		Hosts:  hostEntries(b.args.Nodes),
		Labels: labels(b.name, n.Name, "mongo"),
		Healthcheck: b.healthcheck(health{
			Test:     []string{"CMD", "mongosh", "--quiet", "--norc", "--port", port, "--eval", mongoHealth},
			Interval: 10 * time.Second, Timeout: 5 * time.Second, Retries: 6,
			StartPeriod: 30 * time.Second, StartInterval: 2 * time.Second,
		}),
		// mongod needs time to flush and leave cleanly.
		DestroyGraceSeconds: pulumi.Int(60),
	}
	hygiene(args, b.args.WaitSeconds)
	if n.down {
		b.recordContainer(n, prefix, args, b.mongoImage, nil)
		_, err := b.newHostsStep(n, nil)
		return nil, err
	}
	deps := []pulumi.Resource{vol}
	if prev != nil {
		deps = append(deps, prev)
	}
	// The creation-time hosts entries are only a start: the hosts step
	// keeps them current, so their changes never replace a mongod.
	opts := append(containerOptions(n.provider, b.comp, deps), pulumi.IgnoreChanges([]string{"hosts"}))
	c, err := docker.NewContainer(b.ctx, prefix, args, opts...)
	if err != nil {
		return nil, fmt.Errorf("%s: mongo container: %w", n, err)
	}
	b.recordContainer(n, prefix, args, b.mongoImage, c)
	hosts, err := b.newHostsStep(n, c)
	if err != nil {
		return nil, fmt.Errorf("%s: hosts step: %w", n, err)
	}
	return &mongoNode{Volume: vol, Image: img, Container: c, Hosts: hosts}, nil
}

// hostsLines is the hosts step's RCHA_HOSTS: "address name" for every node
// whose address is an IP (the others resolve by DNS), as hostEntries.
func hostsLines(nodes []Node) string {
	var sb strings.Builder
	for _, h := range hostEntries(nodes) {
		e := h.(docker.ContainerHostArgs)
		fmt.Fprintf(&sb, "%s %s\n", e.Ip.(pulumi.String), e.Host.(pulumi.String))
	}
	return sb.String()
}

// newHostsStep registers the step that writes the current member host
// names into node n's running mongod c (mongo-hosts.sh). It runs when the
// node list changes and for every new container. On a node that is down
// (c is nil) it is only fingerprinted.
func (b *builder) newHostsStep(n *node, c *docker.Container) (*local.Command, error) {
	env := pulumi.StringMap{stepEnvContainer: pulumi.String(n.mongoName), "RCHA_HOSTS": pulumi.String(hostsLines(b.args.Nodes))}
	dockerCLIEnv(env, n.DockerHost, n.DockerTLS)
	args := containerStep(mongoHostsStep, env)
	fp := *args
	if c == nil {
		b.record(n, n.mongoName+"-hosts", &fp, nil)
		return nil, nil
	}
	args.Triggers = pulumi.Array{c.ID()}
	step, err := local.NewCommand(b.ctx, n.mongoName+"-hosts", args, pulumi.Parent(b.comp), pulumi.DependsOn([]pulumi.Resource{c}))
	if err != nil {
		return nil, err
	}
	b.record(n, n.mongoName+"-hosts", &fp, step)
	return step, nil
}
