// Package stacks turns stack configuration into RocketChatHA arguments. Its
// Program is what main.go runs and what the Automation API runs inline.
package stacks

import (
	"errors"
	"fmt"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/components"
)

// DefaultClusterName names the component, and prefixes every container,
// when clusterName is not set.
const DefaultClusterName = "rocketchat"

// Program reads and validates the stack config, registers the RocketChatHA
// component and exports url, mongoUrl (secret) and members. Bad config
// fails before any resource is registered.
func Program(ctx *pulumi.Context) error { return OneShot{}.Program(ctx) }

// OneShot holds what a single update may ask for beyond the stack config
// and that must never persist in it: rcha sets it for one update only.
type OneShot struct {
	// ForceReconfig forces the replica-set reconfig that recovers from a
	// lost majority (`rcha retire --force-reconfig`); see
	// components.RocketChatHAArgs.ForceReconfig.
	ForceReconfig bool
	// Unreachable names nodes whose Docker hosts do not answer (`rcha up
	// --down`); see components.RocketChatHAArgs.Unreachable.
	Unreachable []string
}

// Program is Program with the one-shot requests of o.
func (o OneShot) Program(ctx *pulumi.Context) error {
	keys, err := configKeys(ctx)
	if err != nil {
		return fmt.Errorf("stack config: %w", err)
	}
	cfg, sec, err := Parse(ctx.GetConfig)
	if err := errors.Join(CheckKeys(keys), err); err != nil {
		return fmt.Errorf("stack config:\n%w", err)
	}
	args := cfg.Args(sec)
	args.ForceReconfig = o.ForceReconfig
	args.Unreachable = o.Unreachable
	if err := errors.Join(cfg.CheckSecrets(sec, ctx.IsConfigSecret), cfg.Validate(sec, args)); err != nil {
		return fmt.Errorf("stack config:\n%w", err)
	}
	ha, err := components.NewRocketChatHA(ctx, or(cfg.ClusterName, DefaultClusterName), args)
	if err != nil {
		return stackErrors(err)
	}
	ctx.Export("url", ha.URL)
	ctx.Export("loadBalancers", ha.LoadBalancers)
	ctx.Export("mongoUrl", ha.MongoURL)
	ctx.Export("members", ha.Members)
	ctx.Export("monitoringUrl", ha.MonitoringURL)
	ctx.Export("grafanaAdminPassword", ha.GrafanaAdminPassword)
	return nil
}

// Args maps the config onto component arguments. Secret values are wrapped
// with pulumi.ToSecret; unset passwords stay nil so the component generates
// them.
func (c Config) Args(sec Secrets) *components.RocketChatHAArgs {
	secretOrNil := func(v string) pulumi.StringInput {
		if v == "" {
			return nil
		}
		return pulumi.ToSecret(pulumi.String(v)).(pulumi.StringOutput)
	}
	plainOrNil := func(v string) pulumi.StringInput {
		if v == "" {
			return nil
		}
		return pulumi.String(v)
	}
	var tls *components.DockerTLS
	if sec.DockerTLS != nil {
		tls = &components.DockerTLS{
			CA:   secretOrNil(sec.DockerTLS.CAMaterial),
			Cert: secretOrNil(sec.DockerTLS.CertMaterial),
			Key:  secretOrNil(sec.DockerTLS.KeyMaterial),
		}
	}
	tlsFor := func(host string) *components.DockerTLS {
		if strings.HasPrefix(host, "tcp://") {
			return tls
		}
		return nil
	}
	args := &components.RocketChatHAArgs{
		RootURL:                   pulumi.String(c.RootURL),
		ReplicaSetName:            c.ReplicaSetName,
		RocketChatImage:           plainOrNil(c.RocketchatImage),
		MongoImage:                plainOrNil(c.MongoImage),
		NginxImage:                plainOrNil(c.NginxImage),
		MongoRootPassword:         secretOrNil(sec.MongoRootPassword),
		RocketPassword:            secretOrNil(sec.RocketPassword),
		OplogPassword:             secretOrNil(sec.OplogPassword),
		License:                   secretOrNil(sec.License),
		RegistrationToken:         secretOrNil(sec.RegistrationToken),
		DeleteDataOnDestroy:       c.DeleteDataOnDestroy,
		WaitSeconds:               c.HealthTimeoutSeconds,
		DockerAPIVersion:          c.DockerAPIVersion,
		MongoFeatureCompatibility: c.MongoFeatureCompatibility,
		LoadBalancer: components.LoadBalancer{
			Node:              c.LoadBalancer.Node,
			DockerHost:        c.LoadBalancer.DockerHost,
			DockerTLS:         tlsFor(c.LoadBalancer.DockerHost),
			Address:           c.LoadBalancer.Address,
			BindAddress:       c.LoadBalancer.BindAddress,
			HTTPPort:          c.LoadBalancer.HTTPPort,
			HTTPSPort:         c.LoadBalancer.HTTPSPort,
			Certificate:       secretOrNil(c.LoadBalancer.Certificate),
			PrivateKey:        secretOrNil(c.LoadBalancer.PrivateKey),
			ClientMaxBodySize: c.LoadBalancer.ClientMaxBodySize,
			TrustedProxies:    c.LoadBalancer.TrustedProxies,
			Nodes:             c.LoadBalancer.Nodes,
			VirtualIP:         c.LoadBalancer.VirtualIP,
			Interface:         c.LoadBalancer.Interface,
			VirtualRouterID:   c.LoadBalancer.VirtualRouterID,
			VRRPPassword:      secretOrNil(c.LoadBalancer.VRRPPassword),
			KeepalivedImage:   plainOrNil(c.LoadBalancer.KeepalivedImage),
		},
		Monitoring: c.Monitoring.args(plainOrNil),
	}
	args.Backup = c.Backup.args(secretOrNil, plainOrNil)
	for _, n := range c.Nodes {
		args.Nodes = append(args.Nodes, components.Node{
			Name:       n.Name,
			Address:    n.Address,
			DockerHost: n.DockerHost,
			DockerTLS:  tlsFor(n.DockerHost),
			Ports: components.Ports{
				Mongo:             n.Ports.Mongo,
				RocketChat:        n.Ports.Rocketchat,
				Instance:          n.Ports.Instance,
				MongoExporter:     n.Ports.MongoExporter,
				RocketChatMetrics: n.Ports.RocketchatMetrics,
			},
		})
	}
	return args
}
