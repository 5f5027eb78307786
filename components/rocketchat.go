package components

import (
	_ "embed"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// RocketChatPort is the port Rocket.Chat listens on inside its container
// (PORT=3000, as in the seed).
const RocketChatPort = 3000

// rocketChatHealth probes /api/info with node, because the official image
// ships no HEALTHCHECK and no curl.
const rocketChatHealth = `require('http').get('http://127.0.0.1:3000/api/info', r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))`

// Where the secret settings reach Rocket.Chat. They are not in the
// container's environment (docker inspect, provider logs): Pulumi uploads
// them as a root-owned file of mode 0400, and the entrypoint wrapper copies
// it for the image's user and exports it just before it execs the server.
const (
	rocketChatEntrypointPath = "/etc/rocketchat-ha/entrypoint.sh"
	rocketChatSecretsUpload  = "/etc/rocketchat-ha/secrets.env"
	rocketChatSecretsCopy    = "/tmp/rocketchat-ha/secrets.env"
	// RocketChatImageUser is the user the official image runs Rocket.Chat
	// as (uid 65533); the wrapper drops to it.
	RocketChatImageUser = "rocketchat"
	// secretFileMode is the mode of every uploaded file that holds a secret.
	secretFileMode = "0400"
	// scriptFileMode is the mode of uploaded scripts (run with /bin/sh).
	scriptFileMode = "0444"
	// publicFileMode is the mode of uploaded files that hold no secret.
	publicFileMode = "0644"
)

// rocketChatEntrypoint is the wrapper that starts Rocket.Chat as the
// image's user with the secret settings exported (rocketchat-entrypoint.sh).
//
//go:embed rocketchat-entrypoint.sh
var rocketChatEntrypoint string

// rocketChatCommand is the official image's command (it has no
// entrypoint); setting an entrypoint resets the image's command, so it is
// spelled out.
var rocketChatCommand = []string{"node", "main.js"}

// rocketNode is what one node's Rocket.Chat consists of.
type rocketNode struct {
	Image     *docker.RemoteImage
	Container *docker.Container
}

// rocketChatEnv returns the plain environment of node i's Rocket.Chat. The
// secret settings are in rocketChatSecrets.
func (b *builder) rocketChatEnv(n *node) pulumi.StringArray {
	env := pulumi.StringArray{
		pulumi.String("PORT=" + strconv.Itoa(RocketChatPort)),
		pulumi.Sprintf("ROOT_URL=%s", b.args.RootURL),
		pulumi.String("INSTANCE_IP=" + n.Address),
		pulumi.String("TCP_PORT=" + strconv.Itoa(n.Ports.Instance)),
		pulumi.String("DEPLOY_METHOD=docker"),
		pulumi.String("HTTP_FORWARDED_COUNT=" + strconv.Itoa(b.forwardedCount())),
	}
	for _, e := range b.rocketChatMetricsEnv() {
		env = append(env, pulumi.String(e))
	}
	return env
}

// rocketChatSecrets renders the secret settings of every Rocket.Chat
// server (MONGO_URL, and MONGO_OPLOG_URL, ROCKETCHAT_LICENSE, REG_TOKEN when
// set) as the file the entrypoint wrapper exports.
func (b *builder) rocketChatSecrets() pulumi.StringOutput {
	names := []string{"MONGO_URL"}
	values := []any{b.mongoURL}
	add := func(name string, v pulumi.StringInput) {
		if v != nil {
			names = append(names, name)
			values = append(values, v.ToStringOutput())
		}
	}
	add("MONGO_OPLOG_URL", b.oplogURL)
	add("ROCKETCHAT_LICENSE", b.args.License)
	add("REG_TOKEN", b.args.RegistrationToken)
	return secret(pulumi.All(values...).ApplyT(func(vs []any) string {
		vars := make([][2]string, len(vs))
		for i, v := range vs {
			vars[i] = [2]string{names[i], v.(string)}
		}
		return envFile(vars)
	}).(pulumi.StringOutput))
}

// envFile renders NAME='value' lines that sh reads back exactly with `.`:
// every value is single-quoted, and a single quote inside becomes '\”.
func envFile(vars [][2]string) string {
	var sb strings.Builder
	for _, v := range vars {
		sb.WriteString(v[0] + "='" + strings.ReplaceAll(v[1], "'", `'\''`) + "'\n")
	}
	return sb.String()
}

// forwardedCount is the number of proxies that append to X-Forwarded-For
// before a request reaches Rocket.Chat: nginx, and the outer load balancer
// when one is trusted.
func (b *builder) forwardedCount() int {
	if len(b.args.LoadBalancer.TrustedProxies) > 0 {
		return 2
	}
	return 1
}

// newRocketChat registers node i's image and Rocket.Chat container. It
// depends on prev: the replica-set step for node 0, the previous node's
// Rocket.Chat otherwise. Because each container waits until it is healthy,
// node 0 boots alone on a fresh database (several servers started at once
// on an empty database collide on a duplicate key before Rocket.Chat
// 8.9.1), and a change that replaces every server rolls one node at a time.
func (b *builder) newRocketChat(n *node, prev pulumi.Resource, secrets pulumi.StringOutput) (*rocketNode, error) {
	name := n.rocketName
	img, err := b.newImage(n, name+"-image", b.rocketImage, n.provider)
	if err != nil {
		return nil, fmt.Errorf("%s: rocketchat image: %w", n, err)
	}
	entrypoint := []string{"/bin/sh", rocketChatEntrypointPath, RocketChatImageUser, rocketChatSecretsUpload, rocketChatSecretsCopy}
	args := &docker.ContainerArgs{
		Name:        pulumi.String(name),
		Image:       imageID(img),
		Envs:        b.rocketChatEnv(n),
		Entrypoints: pulumi.ToStringArray(entrypoint),
		Command:     pulumi.ToStringArray(rocketChatCommand),
		// The wrapper starts as root to install the secrets for the
		// image's user, then runs Rocket.Chat as that user.
		User: pulumi.String("root"),
		Uploads: docker.ContainerUploadArray{
			docker.ContainerUploadArgs{
				File:        pulumi.String(rocketChatEntrypointPath),
				Content:     pulumi.String(rocketChatEntrypoint),
				Permissions: pulumi.String(scriptFileMode),
			},
			docker.ContainerUploadArgs{
				File:        pulumi.String(rocketChatSecretsUpload),
				Content:     secrets.ToStringPtrOutput(),
				Permissions: pulumi.String(secretFileMode),
			},
		},
		Ports:  publish(n.Address, b.rocketChatPorts(n)),
		Hosts:  hostEntries(b.args.Nodes),
		Labels: labels(b.name, n.Name, "rocketchat"),
		Healthcheck: b.healthcheck(health{
			Test:     []string{"CMD", "node", "-e", rocketChatHealth},
			Interval: 15 * time.Second, Timeout: 5 * time.Second, Retries: 4,
			StartPeriod: 180 * time.Second, StartInterval: 5 * time.Second,
		}),
		DestroyGraceSeconds: pulumi.Int(30),
	}
	hygiene(args, b.args.WaitSeconds)
	if n.down {
		b.recordContainer(n, name, args, b.rocketImage, nil)
		return nil, nil
	}
	c, err := docker.NewContainer(b.ctx, name, args, containerOptions(n.provider, b.comp, []pulumi.Resource{prev})...)
	if err != nil {
		return nil, fmt.Errorf("%s: rocketchat container: %w", n, err)
	}
	b.recordContainer(n, name, args, b.rocketImage, c)
	return &rocketNode{Image: img, Container: c}, nil
}

// rocketChatPorts are the ports node n's Rocket.Chat publishes (internal
// -> external): HTTP, the instance port and, with monitoring, the exporter.
func (b *builder) rocketChatPorts(n *node) map[int]int {
	ports := map[int]int{RocketChatPort: n.Ports.RocketChat, n.Ports.Instance: n.Ports.Instance}
	if b.args.Monitoring.On() {
		ports[RocketChatMetricsPort] = n.Ports.RocketChatMetrics
	}
	return ports
}
