package providers

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/blang/semver"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
)

// hostLog sends one diagnostic line to the engine (the provider host's Log
// RPC). Serve sets it when the engine gave its address; tests may replace
// it to capture lines.
var hostLog func(ctx context.Context, urn resource.URN, line string)

// debug logs msg at debug severity through the engine the way
// pulumi-terraform-bridge forwards a Terraform provider's log output: one
// Log call per line, attributed to the resource.
func (b *base) debug(ctx context.Context, urn resource.URN, msg string) {
	if hostLog == nil {
		return
	}
	for _, line := range strings.Split(msg, "\n") {
		hostLog(ctx, urn, line)
	}
}

// connectHost dials the engine's host service (what the SDK's
// provider.NewHostClient does; that package's dependencies are not in
// this module's go.sum).
func connectHost(engine string) error {
	conn, err := grpc.NewClient(engine, grpc.WithTransportCredentials(insecure.NewCredentials()), rpcutil.GrpcChannelOptions())
	if err != nil {
		return err
	}
	client := pulumirpc.NewEngineClient(conn)
	hostLog = func(ctx context.Context, urn resource.URN, line string) {
		_, err := client.Log(ctx, &pulumirpc.LogRequest{Severity: pulumirpc.LogSeverity_DEBUG,
			Message: strings.ToValidUTF8(line, "\uFFFD"), Urn: string(urn)})
		if err != nil {
			fmt.Fprintf(os.Stderr, "engine lab: log to engine: %v\n", err)
		}
	}
	return nil
}

// Versions the fakes report; they match what the project's SDKs request.
const (
	DockerVersion  = "4.11.2"
	CommandVersion = "1.2.1"
	RandomVersion  = "4.21.2"
)

// base carries what every fake shares: plugin identity, configuration and
// the trace.
type base struct {
	plugin.UnimplementedProvider
	pkg     string
	version string
	trace   *tracer
	config  resource.PropertyMap
}

func newBase(pkg, version string) base {
	return base{pkg: pkg, version: version, trace: newTracer(pkg)}
}

func (b *base) GetPluginInfo(context.Context) (plugin.PluginInfo, error) {
	v := semver.MustParse(b.version)
	return plugin.PluginInfo{Version: &v}, nil
}

func (b *base) GetSchema(context.Context, plugin.GetSchemaRequest) (plugin.GetSchemaResponse, error) {
	schema := fmt.Sprintf(`{"name":%q,"version":%q,"description":"engine-lab test fake of %s; not the real provider"}`,
		b.pkg, b.version, b.pkg)
	return plugin.GetSchemaResponse{Schema: []byte(schema)}, nil
}

func (b *base) CheckConfig(_ context.Context, req plugin.CheckConfigRequest) (plugin.CheckConfigResponse, error) {
	inputs, secretKeys := redactMap(req.News)
	b.trace.record(Event{Op: OpCheckConfig, URN: string(req.URN), Type: string(req.Type), Inputs: inputs, SecretKeys: secretKeys})
	return plugin.CheckConfigResponse{Properties: req.News}, nil
}

func (b *base) DiffConfig(_ context.Context, req plugin.DiffConfigRequest) (plugin.DiffConfigResponse, error) {
	// Provider configuration changes update the provider in place; none of
	// the three real providers replaces itself on a config change.
	d := diffInputs(req.OldInputs, req.NewInputs, nil, false)
	b.trace.record(Event{Op: "diffConfig", URN: string(req.URN), Type: string(req.Type),
		Changes: keyStrings(d.ChangedKeys)})
	return d, nil
}

func (b *base) Configure(_ context.Context, req plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	b.config = req.Inputs
	inputs, secretKeys := redactMap(req.Inputs)
	e := Event{Op: OpConfigure, Inputs: inputs, SecretKeys: secretKeys}
	if req.URN != nil {
		e.URN = string(*req.URN)
	}
	b.trace.record(e)
	return plugin.ConfigureResponse{}, nil
}

func (b *base) SignalCancellation(context.Context) error { return nil }

func (b *base) Close() error { return nil }

func keyStrings(ks []resource.PropertyKey) []string {
	out := make([]string, len(ks))
	for i, k := range ks {
		out[i] = string(k)
	}
	return out
}

// outputsFrom copies inputs into a new output map (keeping secret and
// unknown markers, as the real providers echo their inputs into state)
// and applies the extra computed outputs.
func outputsFrom(inputs resource.PropertyMap, extra map[string]resource.PropertyValue) resource.PropertyMap {
	out := resource.PropertyMap{}
	for k, v := range inputs {
		if !internalKey(k) {
			out[k] = v
		}
	}
	for k, v := range extra {
		out[resource.PropertyKey(k)] = v
	}
	return out
}

// healthDelay is how long a wait=true container takes to become healthy.
func healthDelay() time.Duration {
	if s := os.Getenv("RCHA_LAB_HEALTH_DELAY"); s != "" {
		if d, err := time.ParseDuration(s); err == nil {
			return d
		}
		fmt.Fprintf(os.Stderr, "RCHA_LAB_HEALTH_DELAY=%q is not a Go duration; using 50ms\n", s)
	}
	return 50 * time.Millisecond
}

// Serve runs the fake provider for pkg ("docker", "command" or "random")
// as a Pulumi resource plugin, speaking the plugin protocol the engine
// expects: it serves gRPC on a free local port, prints that port on
// stdout, stops when the engine sends SIGINT or its health check of the
// engine fails. args are the plugin's command-line arguments; the last
// one that is not a flag is the engine's address.
func Serve(pkg string, args []string) error {
	var p plugin.Provider
	switch pkg {
	case "docker":
		p = newDocker()
	case "command":
		p = newCommand()
	case "random":
		p = newRandom()
	default:
		return fmt.Errorf("engine lab: no fake provider for package %q", pkg)
	}
	engine := ""
	for _, a := range args {
		if !strings.HasPrefix(a, "-") {
			engine = a
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if engine != "" {
		var cancel context.CancelFunc
		ctx, cancel = context.WithCancel(ctx)
		defer cancel()
		if err := rpcutil.Healthcheck(ctx, engine, 5*time.Minute, cancel); err != nil {
			return fmt.Errorf("health check of engine %s: %w", engine, err)
		}
		if err := connectHost(engine); err != nil {
			return fmt.Errorf("connect to engine %s: %w", engine, err)
		}
	}
	done := make(chan bool)
	go func() {
		<-ctx.Done()
		close(done)
	}()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: done,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, plugin.NewProviderServer(p))
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("serve %s provider: %w", pkg, err)
	}
	fmt.Printf("%d\n", handle.Port)
	return <-handle.Done
}
