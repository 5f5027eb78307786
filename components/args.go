package components

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Default values used when a field of RocketChatHAArgs or Node is left empty.
const (
	DefaultReplicaSetName  = "rs0"
	DefaultMongoPort       = 27017
	DefaultRocketChatPort  = 3000
	DefaultInstancePort    = 3100
	DefaultHTTPPort        = 80
	DefaultHTTPSPort       = 443
	DefaultWaitSeconds     = 300
	DefaultRocketChatImage = "registry.rocket.chat/rocketchat/rocket.chat:7.10.0"
	DefaultMongoImage      = "mongo:7.0.16"
	DefaultNginxImage      = "nginx:1.27.3-alpine"
	// DefaultKeepalivedImage runs keepalived for the virtual IP (Alpine,
	// keepalived 2.0.20, busybox wget for the track script).
	DefaultKeepalivedImage = "osixia/keepalived:2.0.20"
	// DefaultLoadBalancerCount is how many nodes run a load balancer when
	// LoadBalancer.Nodes is empty: the first three, or every node.
	DefaultLoadBalancerCount = 3
	// DefaultVirtualIPPrefix is the prefix length of a virtual IP given
	// without one.
	DefaultVirtualIPPrefix = 24
	// DefaultDockerAPIVersion is the oldest Docker Engine API the component
	// supports: Docker Engine 20.10 (Debian 12's docker.io) speaks 1.41.
	DefaultDockerAPIVersion = "1.41"
	// The values of RocketChatHAArgs.MongoFeatureCompatibility.
	featureCompatibilityAuto   = "auto"
	featureCompatibilityManual = "manual"
)

// Node is one Docker host of the cluster. It runs one mongod and one
// Rocket.Chat server. The node list is plain Go data because it decides how
// many resources the component registers.
type Node struct {
	// Name is a DNS label. It is the replica-set member host name and the
	// extra hosts entry every container gets.
	Name string `pulumi:"name"`
	// Address is the node's private IP (or host name) that the other nodes
	// reach. Ports are published on this address only.
	Address string `pulumi:"address"`
	// DockerHost is the Docker endpoint for this node: ssh://user@host,
	// tcp://host:2376 (with DockerTLS) or unix:///path. Empty means
	// ssh://root@<Address>.
	DockerHost string `pulumi:"dockerHost,optional"`
	// DockerTLS holds TLS material for a tcp:// DockerHost.
	DockerTLS *DockerTLS `pulumi:"dockerTls,optional"`
	// Ports are the host ports of this node. Zero values take the defaults.
	Ports Ports `pulumi:"ports,optional"`
}

// Ports are the host ports one node publishes on its address.
type Ports struct {
	// Mongo is mongod's port; mongod also listens on it inside its container.
	Mongo int `pulumi:"mongo,optional"`
	// RocketChat is the published HTTP port of Rocket.Chat (3000 inside).
	RocketChat int `pulumi:"rocketchat,optional"`
	// Instance is Rocket.Chat's instance-to-instance TCP_PORT, published
	// under the same number.
	Instance int `pulumi:"instance,optional"`
	// MongoExporter is the node's mongodb_exporter (monitoring); 9216 by
	// default.
	MongoExporter int `pulumi:"mongoExporter,optional"`
	// RocketChatMetrics is Rocket.Chat's built-in Prometheus exporter
	// (monitoring); 9458 by default.
	RocketChatMetrics int `pulumi:"rocketchatMetrics,optional"`
}

// DockerTLS is the client TLS material for a tcp:// Docker endpoint. The
// component wraps every field as a secret.
type DockerTLS struct {
	// CA is the PEM certificate of the certificate authority that signed the daemon's
	// certificate.
	CA pulumi.StringInput `pulumi:"ca" provider:"secret"`
	// Cert is the client's PEM certificate.
	Cert pulumi.StringInput `pulumi:"cert" provider:"secret"`
	// Key is the client's PEM private key.
	Key pulumi.StringInput `pulumi:"key" provider:"secret"`
}

// LoadBalancer places and configures the nginx load balancers.
type LoadBalancer struct {
	// Nodes names the nodes whose Docker hosts each run an nginx load
	// balancer. Every load balancer proxies to every Rocket.Chat server with
	// the same consistent hash, so a client reaches the same server through
	// any of them. Empty means the first three nodes (or every node when
	// there are fewer), unless Node or DockerHost is set.
	Nodes []string `pulumi:"nodes,optional"`
	// Node is the older spelling of a one-element Nodes. One load balancer
	// is a single point of failure.
	Node string `pulumi:"node,optional"`
	// DockerHost runs one load balancer on its own Docker host instead (a
	// single point of failure unless something else fronts it).
	DockerHost string `pulumi:"dockerHost,optional"`
	// DockerTLS is the TLS material for a tcp:// DockerHost.
	DockerTLS *DockerTLS `pulumi:"dockerTls,optional"`
	// Address is the host name or IP clients use in the url output. Empty
	// means BindAddress, or the hosting node's address when that is 0.0.0.0.
	Address string `pulumi:"address,optional"`
	// BindAddress is the host interface the load balancer publishes on.
	// Empty means 0.0.0.0: the load balancer is the one public listener.
	BindAddress string `pulumi:"bindAddress,optional"`
	// HTTPPort and HTTPSPort are the published ports (80 and 443 by default).
	HTTPPort  int `pulumi:"httpPort,optional"`
	HTTPSPort int `pulumi:"httpsPort,optional"`
	// Certificate and PrivateKey (PEM) turn on TLS. Both are secrets.
	Certificate pulumi.StringInput `pulumi:"certificate,optional" provider:"secret"`
	PrivateKey  pulumi.StringInput `pulumi:"privateKey,optional" provider:"secret"`
	// ClientMaxBodySize is nginx's client_max_body_size (200M by default).
	ClientMaxBodySize string `pulumi:"clientMaxBodySize,optional"`
	// TrustedProxies lists the addresses or CIDRs of a TLS-terminating load
	// balancer in front of nginx. nginx then takes the client address and
	// scheme from their X-Forwarded-For and X-Forwarded-Proto, and
	// Rocket.Chat counts two proxies (HTTP_FORWARDED_COUNT=2).
	TrustedProxies []string `pulumi:"trustedProxies,optional"`
	// VirtualIP, when set, is an IPv4 address (optionally with /prefix, 24
	// by default) that keepalived (VRRP, unicast) keeps on exactly one
	// load-balancer node with a working nginx. It needs at least two
	// load-balancer nodes with IPv4 addresses in its network.
	VirtualIP string `pulumi:"virtualIp,optional"`
	// Interface is the host interface that carries VirtualIP (required
	// with it), the same name on every load-balancer node.
	Interface string `pulumi:"interface,optional"`
	// VirtualRouterID is VRRP's router id, 1..255. Zero derives one from
	// the component's name; set it when two clusters share a network.
	VirtualRouterID int `pulumi:"virtualRouterId,optional"`
	// VRRPPassword is VRRP's shared secret (1 to 8 letters or digits). When
	// nil, one is generated once and kept in state.
	VRRPPassword pulumi.StringInput `pulumi:"vrrpPassword,optional" provider:"secret"`
	// KeepalivedImage is the pinned keepalived image
	// (DefaultKeepalivedImage when nil).
	KeepalivedImage pulumi.StringInput `pulumi:"keepalivedImage,optional"`
}

// RocketChatHAArgs are the inputs of the RocketChatHA component.
type RocketChatHAArgs struct {
	// Nodes lists the Docker hosts, in order. Node 0 initiates the replica
	// set and boots Rocket.Chat first on a fresh cluster; later the
	// replica-set steps run through the first node that answers as a
	// member.
	Nodes []Node `pulumi:"nodes"`
	// RootURL is Rocket.Chat's public URL (ROOT_URL).
	RootURL pulumi.StringInput `pulumi:"rootUrl"`
	// ReplicaSetName is the MongoDB replica-set name (rs0 by default).
	ReplicaSetName string `pulumi:"replicaSetName,optional"`
	// RocketChatImage, MongoImage and NginxImage are pinned image references.
	RocketChatImage pulumi.StringInput `pulumi:"rocketchatImage,optional"`
	MongoImage      pulumi.StringInput `pulumi:"mongoImage,optional"`
	NginxImage      pulumi.StringInput `pulumi:"nginxImage,optional"`
	// MongoRootPassword and RocketPassword are generated once (pulumi-random)
	// and kept in state when nil.
	MongoRootPassword pulumi.StringInput `pulumi:"mongoRootPassword,optional" provider:"secret"`
	RocketPassword    pulumi.StringInput `pulumi:"rocketPassword,optional" provider:"secret"`
	// OplogPassword, when set, creates the seed's oploguser and sets
	// MONGO_OPLOG_URL for Rocket.Chat versions that still read it.
	OplogPassword pulumi.StringInput `pulumi:"oplogPassword,optional" provider:"secret"`
	// License (ROCKETCHAT_LICENSE) and RegistrationToken (REG_TOKEN) are
	// optional secrets passed to every Rocket.Chat server.
	License           pulumi.StringInput `pulumi:"license,optional" provider:"secret"`
	RegistrationToken pulumi.StringInput `pulumi:"registrationToken,optional" provider:"secret"`
	// LoadBalancer configures the nginx load balancer.
	LoadBalancer LoadBalancer `pulumi:"loadBalancer,optional"`
	// DeleteDataOnDestroy lets `pulumi destroy` and scale-in delete the
	// mongod data volumes. By default they are retained.
	DeleteDataOnDestroy bool `pulumi:"deleteDataOnDestroy,optional"`
	// WaitSeconds bounds each container's wait for health and each wait of
	// the replica-set step (300 by default).
	WaitSeconds int `pulumi:"waitSeconds,optional"`
	// DockerAPIVersion is the oldest Docker Engine API version among the
	// cluster's Docker hosts, "1.41" (Docker 20.10) by default. Container
	// fields that need a newer API are used only when it allows them: the
	// healthcheck start interval needs 1.44 (Docker 25).
	DockerAPIVersion string `pulumi:"dockerApiVersion,optional"`
	// MongoFeatureCompatibility is "auto" (the default): once every member
	// runs the new MongoDB binary, the replica-set step raises the
	// featureCompatibilityVersion to it; or "manual": the step leaves it to
	// the operator and reports it.
	MongoFeatureCompatibility string `pulumi:"mongoFeatureCompatibility,optional"`
	// ForceReconfig is the one-shot recovery from a lost majority, set only
	// for one update by `rcha retire --force-reconfig`: the replica-set
	// prune step forces a reconfig that keeps only the members of Nodes,
	// through a surviving secondary. It refuses while the set has a
	// primary. Writes that only the lost members acknowledged may be lost.
	// Never leave it set.
	ForceReconfig bool `pulumi:"-"`
	// Backup configures the scheduled MongoDB backups (on by default: daily
	// at 02:00 UTC, seven archives kept on the last node); see BackupArgs.
	Backup BackupArgs `pulumi:"backup,optional"`
	// Unreachable names nodes whose Docker hosts do not answer, for one
	// update run by `rcha up --down`: the component registers nothing on
	// their hosts (pulumi-docker would fail to reach them), and everything
	// else as usual, with those nodes still members and upstreams. It is
	// safe only in an update that excludes every resource on those hosts
	// (rcha does), because the engine would otherwise delete them. Never
	// leave it set.
	Unreachable []string `pulumi:"-"`
	// Monitoring configures the metric endpoints (on by default) and the
	// optional Prometheus/Alertmanager/Grafana stack (docs/monitoring.md).
	Monitoring MonitoringArgs `pulumi:"monitoring,optional"`
}
