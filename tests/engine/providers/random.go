package providers

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// Resource types the random fake serves.
const (
	RandomPasswordType = "random:index/randomPassword:RandomPassword"
	RandomStringType   = "random:index/randomString:RandomString"
)

type randomProvider struct{ base }

func newRandom() *randomProvider { return &randomProvider{base: newBase("random", RandomVersion)} }

func (p *randomProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	switch string(req.Type) {
	case RandomPasswordType, RandomStringType:
	default:
		return plugin.CheckResponse{}, fmt.Errorf("engine lab random fake: resource type %s (%s) is not simulated", req.Type, req.URN)
	}
	var failures []plugin.CheckFailure
	if l := plainValue(req.News["length"]); !l.IsComputed() && (!l.IsNumber() || l.NumberValue() < 1) {
		failures = append(failures, plugin.CheckFailure{Property: "length", Reason: "length must be a number >= 1"})
	}
	return plugin.CheckResponse{Properties: req.News, Failures: failures}, nil
}

// Diff replaces on any input change: every argument of RandomPassword and
// RandomString is ForceNew in terraform-provider-random.
func (p *randomProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	all := map[string]bool{}
	for k := range req.OldInputs {
		all[string(k)] = true
	}
	for k := range req.NewInputs {
		all[string(k)] = true
	}
	d := diffInputs(req.OldInputs, req.NewInputs, all, false)
	p.trace.record(Event{Op: OpDiff, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID),
		Changes: keyStrings(d.ChangedKeys), Replaces: keyStrings(d.ReplaceKeys)})
	return d, nil
}

func (p *randomProvider) Create(_ context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	inputs, secretKeys := redactMap(req.Properties)
	ev := Event{Op: OpCreate, URN: string(req.URN), Type: string(req.Type), Preview: req.Preview,
		Inputs: inputs, SecretKeys: secretKeys, ID: "none"}
	p.trace.record(ev)
	if req.Preview {
		unknown := resource.MakeComputed(resource.NewProperty(""))
		return plugin.CreateResponse{Properties: outputsFrom(req.Properties,
			map[string]resource.PropertyValue{"result": unknown})}, nil
	}
	result, err := generate(req.Properties)
	if err != nil {
		return plugin.CreateResponse{}, fmt.Errorf("%s: %w", req.URN, err)
	}
	extra := map[string]resource.PropertyValue{"result": resource.NewProperty(result)}
	if string(req.Type) == RandomPasswordType {
		// The real provider marks result and bcryptHash sensitive.
		extra["result"] = resource.MakeSecret(extra["result"])
		extra["bcryptHash"] = resource.MakeSecret(resource.NewProperty("$2a$10$" + randomHex(27)[:53]))
	}
	return plugin.CreateResponse{ID: "none", Properties: outputsFrom(req.Properties, extra)}, nil
}

// generate draws a random string honouring length, upper, lower, numeric,
// special and overrideSpecial (the terraform-provider-random defaults are
// all character classes on, special "!@#$%&*()-_=+[]{}<>:?").
func generate(props resource.PropertyMap) (string, error) {
	l := plainValue(props["length"])
	if !l.IsNumber() || l.NumberValue() < 1 || l.NumberValue() > 4096 {
		return "", fmt.Errorf("length must be between 1 and 4096")
	}
	var alphabet string
	if boolOf(props, "upper", true) {
		alphabet += "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	}
	if boolOf(props, "lower", true) {
		alphabet += "abcdefghijklmnopqrstuvwxyz"
	}
	if boolOf(props, "numeric", boolOf(props, "number", true)) {
		alphabet += "0123456789"
	}
	if boolOf(props, "special", true) {
		if s := stringOf(props, "overrideSpecial"); s != "" {
			alphabet += s
		} else {
			alphabet += "!@#$%&*()-_=+[]{}<>:?"
		}
	}
	if alphabet == "" {
		return "", fmt.Errorf("every character class is disabled")
	}
	out := make([]byte, int(l.NumberValue()))
	for i := range out {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", err
		}
		out[i] = alphabet[n.Int64()]
	}
	return string(out), nil
}

func (p *randomProvider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	p.trace.record(Event{Op: OpRead, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID)})
	return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State}}, nil
}

func (p *randomProvider) Update(context.Context, plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	return plugin.UpdateResponse{}, fmt.Errorf("engine lab random fake: random resources are never updated, only replaced")
}

func (p *randomProvider) Delete(_ context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	p.trace.record(Event{Op: OpDelete, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID)})
	return plugin.DeleteResponse{}, nil
}
