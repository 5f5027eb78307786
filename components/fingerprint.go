package components

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/pulumi/pulumi-docker/sdk/v4/go/docker"
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// nodeInput is one resource registered on a node's Docker host: its name,
// its resolved inputs, and its ID, which resolves only once the engine has
// created or updated it.
type nodeInput struct {
	name string
	args pulumi.Output
	id   pulumi.IDOutput
}

// record notes that the resource res, named name, on node n (nil: not on
// a node) was built from args (its Args struct or a pointer to one). res
// is nil on a node that is down: nothing was registered, and the
// fingerprint is computed from the same arguments.
func (b *builder) record(n *node, name string, args any, res pulumi.CustomResource) {
	if n == nil {
		return
	}
	v := reflect.ValueOf(args)
	if v.Kind() == reflect.Pointer {
		v = v.Elem()
	}
	if b.nodeInputs == nil {
		b.nodeInputs = map[string][]nodeInput{}
	}
	in := nodeInput{name: name, args: pulumi.ToOutput(v.Interface())}
	if res != nil {
		in.id = res.ID()
	} else {
		in.id = pulumi.ID("").ToIDOutput()
	}
	b.nodeInputs[n.Name] = append(b.nodeInputs[n.Name], in)
}

// recordContainer records a container with its image named by reference
// (image) instead of by the pulled image's ID, which is not known on a node
// that is down; the image resource itself is recorded with that reference.
func (b *builder) recordContainer(n *node, name string, args *docker.ContainerArgs, image pulumi.StringInput, res pulumi.CustomResource) {
	fp := *args
	fp.Image = image
	b.record(n, name, &fp, res)
}

// fingerprints is the component's nodeops.FingerprintsOutput: for each
// node, an HMAC (keyed with the replica-set keyfile, so that it reveals
// nothing about the passwords it covers) of the names and inputs of the
// resources on its Docker host, in registration order. Two updates that
// give a node the same fingerprint change nothing there, so
// `rcha up --down NODE` can tell, before it changes anything, whether a
// change must reach a node whose host does not answer.
//
// A fingerprint also waits for every one of those resources to be created
// or updated. When an update fails part-way, the component's outputs are
// therefore not registered, and the state keeps the fingerprints of the
// last complete update: a node left behind never looks up to date. In a
// preview a fingerprint is unknown while any of its inputs is.
//
// It is a map of separate outputs, not one map output, so that in a
// preview each node's fingerprint is known or unknown on its own.
func (b *builder) fingerprints() pulumi.StringMap {
	out := pulumi.StringMap{}
	for _, n := range b.nodes {
		ins := b.nodeInputs[n.Name]
		all := []any{b.keyfile}
		for _, in := range ins {
			all = append(all, in.args, in.id)
		}
		fp := pulumi.All(all...).ApplyT(func(v []any) (string, error) {
			mac := hmac.New(sha256.New, []byte(v[0].(string)))
			for i, in := range ins {
				js, err := json.Marshal(v[1+2*i])
				if err != nil {
					return "", fmt.Errorf("fingerprint of %s: %w", in.name, err)
				}
				fmt.Fprintf(mac, "%s\n%s\n", in.name, js)
			}
			return hex.EncodeToString(mac.Sum(nil)), nil
		}).(pulumi.StringOutput)
		out[n.Name] = pulumi.Unsecret(fp).(pulumi.StringOutput)
	}
	return out
}
