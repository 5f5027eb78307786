package components

import (
	"fmt"
	"strconv"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// RocketChatPort is the port Rocket.Chat listens on inside its container
// (PORT=3000, as in the seed).
const RocketChatPort = 3000

// rocketChatHealth probes /api/info with node, because the official image
// ships no HEALTHCHECK and no curl.
const rocketChatHealth = `require('http').get('http://127.0.0.1:3000/api/info', r => process.exit(r.statusCode === 200 ? 0 : 1)).on('error', () => process.exit(1))`

// rocketNode is what one node's Rocket.Chat consists of.
type rocketNode struct {
	Image     *docker.RemoteImage
	Container *docker.Container
}

// rocketChatEnv returns the environment of node i's Rocket.Chat. Secret
// values (MONGO_URL, MONGO_OPLOG_URL, license, token) stay secret one by one.
func (b *builder) rocketChatEnv(i int) pulumi.StringArray {
	n := b.args.Nodes[i]
	env := pulumi.StringArray{
		pulumi.String("PORT=" + strconv.Itoa(RocketChatPort)),
		pulumi.Sprintf("ROOT_URL=%s", b.args.RootURL),
		pulumi.Sprintf("MONGO_URL=%s", b.mongoURL),
		pulumi.String("INSTANCE_IP=" + n.Address),
		pulumi.String("TCP_PORT=" + strconv.Itoa(n.Ports.Instance)),
		pulumi.String("DEPLOY_METHOD=docker"),
		pulumi.String("HTTP_FORWARDED_COUNT=" + strconv.Itoa(b.forwardedCount())),
	}
	if b.oplogURL != nil {
		env = append(env, pulumi.Sprintf("MONGO_OPLOG_URL=%s", b.oplogURL))
	}
	if b.args.License != nil {
		env = append(env, secret(pulumi.Sprintf("ROCKETCHAT_LICENSE=%s", b.args.License)))
	}
	if b.args.RegistrationToken != nil {
		env = append(env, secret(pulumi.Sprintf("REG_TOKEN=%s", b.args.RegistrationToken)))
	}
	return env
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
// node 0 boots alone on a fresh database (see FIELD-NOTES "First boot"), and
// a change that replaces every server rolls one node at a time.
func (b *builder) newRocketChat(i int, prev pulumi.Resource) (*rocketNode, error) {
	n := b.args.Nodes[i]
	name := fmt.Sprintf("%s-rocketchat-%s", b.name, n.Name)
	img, err := docker.NewRemoteImage(b.ctx, name+"-image", &docker.RemoteImageArgs{
		Name:        b.rocketImage,
		KeepLocally: pulumi.Bool(true),
	}, pulumi.Parent(b.comp), pulumi.Provider(b.providers[i]))
	if err != nil {
		return nil, fmt.Errorf("nodes[%d] (%s): rocketchat image: %w", i, n.Name, err)
	}
	args := &docker.ContainerArgs{
		Name:  pulumi.String(name),
		Image: img.ImageId,
		Envs:  b.rocketChatEnv(i),
		Ports: docker.ContainerPortArray{
			docker.ContainerPortArgs{Internal: pulumi.Int(RocketChatPort), External: pulumi.Int(n.Ports.RocketChat), Ip: pulumi.String(n.Address)},
			docker.ContainerPortArgs{Internal: pulumi.Int(n.Ports.Instance), External: pulumi.Int(n.Ports.Instance), Ip: pulumi.String(n.Address)},
		},
		Hosts:  hostEntries(b.args.Nodes),
		Labels: labels(b.name, n.Name, "rocketchat"),
		Healthcheck: docker.ContainerHealthcheckArgs{
			Tests:         pulumi.ToStringArray([]string{"CMD", "node", "-e", rocketChatHealth}),
			Interval:      pulumi.String("15s"),
			Timeout:       pulumi.String("5s"),
			Retries:       pulumi.Int(4),
			StartPeriod:   pulumi.String("180s"),
			StartInterval: pulumi.String("5s"),
		},
		DestroyGraceSeconds: pulumi.Int(30),
	}
	hygiene(args, b.args.WaitSeconds)
	c, err := docker.NewContainer(b.ctx, name, args, containerOptions(b.providers[i], b.comp, []pulumi.Resource{prev})...)
	if err != nil {
		return nil, fmt.Errorf("nodes[%d] (%s): rocketchat container: %w", i, n.Name, err)
	}
	return &rocketNode{Image: img, Container: c}, nil
}
