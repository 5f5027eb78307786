package cli

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/sig"
)

// ConfigSecrets returns the values of the stack config entries marked
// secret, as auto.Stack.GetAllConfig returns them (decrypted), and the
// strings inside those that hold structured JSON values.
func ConfigSecrets(cfg auto.ConfigMap) []string {
	var out []string
	for _, v := range cfg {
		if !v.Secret {
			continue
		}
		out = append(out, v.Value)
		var structured any
		if json.Unmarshal([]byte(v.Value), &structured) == nil {
			out = append(out, stringLeaves(structured)...)
		}
	}
	return out
}

// OutputSecrets returns the strings inside the stack outputs marked secret.
func OutputSecrets(outs auto.OutputMap) []string {
	var out []string
	for _, v := range outs {
		if v.Secret {
			out = append(out, stringLeaves(v.Value)...)
		}
	}
	return out
}

// DeploymentSecrets returns the plaintext of every secret in a deployment
// exported with its secrets shown (`pulumi stack export --show-secrets`,
// which auto.Stack.Export runs): each secret is an object
// {"<sig.Key>": "<sig.Secret>", "plaintext": "<JSON of the value>"}. The
// strings inside the value are returned, and the plaintext itself when the
// value is structured.
func DeploymentSecrets(deployment json.RawMessage) ([]string, error) {
	if len(deployment) == 0 {
		return nil, nil
	}
	var doc any
	if err := json.Unmarshal(deployment, &doc); err != nil {
		return nil, fmt.Errorf("parse exported deployment: %w", err)
	}
	var out []string
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if x[sig.Key] == sig.Secret {
				if pt, isString := x["plaintext"].(string); isString {
					var val any
					if json.Unmarshal([]byte(pt), &val) == nil {
						if _, plain := val.(string); !plain {
							out = append(out, pt)
						}
						out = append(out, stringLeaves(val)...)
						walk(val)
					} else {
						out = append(out, pt)
					}
				}
				return
			}
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(doc)
	return out, nil
}

// stringLeaves returns every string in a JSON-like value (not map keys).
func stringLeaves(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case map[string]any:
		var out []string
		for _, e := range x {
			out = append(out, stringLeaves(e)...)
		}
		return out
	case []any:
		var out []string
		for _, e := range x {
			out = append(out, stringLeaves(e)...)
		}
		return out
	}
	return nil
}

// learnSecrets tells the redactor every secret of the stack: config values
// marked secret, outputs marked secret, and the secrets in the stack's
// state. It is called before an operation (so that what the engine prints
// about existing resources is redacted) and after it (secrets the
// operation created, such as generated passwords, before anything about
// the result is printed). The error says which read failed.
func (r *runner) learnSecrets(ctx context.Context) error {
	cfg, err := r.stack.GetAllConfig(ctx)
	if err != nil {
		return fmt.Errorf("read the config of stack %s: %s", r.o.stack, cliMessage(err))
	}
	r.redactor.Add(ConfigSecrets(cfg)...)
	outs, err := r.stack.Outputs(ctx)
	if err != nil {
		return fmt.Errorf("read the outputs of stack %s: %s", r.o.stack, cliMessage(err))
	}
	r.redactor.Add(OutputSecrets(outs)...)
	dep, err := r.stack.Export(ctx)
	if err != nil {
		return fmt.Errorf("export the state of stack %s to learn its secrets: %s", r.o.stack, cliMessage(err))
	}
	values, err := DeploymentSecrets(dep.Deployment)
	if err != nil {
		return fmt.Errorf("stack %s: %w", r.o.stack, err)
	}
	r.redactor.Add(values...)
	return nil
}
