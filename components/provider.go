package components

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// NodeFingerprints is the component's internal nodeFingerprints output
// (nodeops.FingerprintsOutput): for each node, a fingerprint of what its
// containers run. The component provider (internal/provider) passes it on
// unchanged so that a component constructed through the provider leaves
// the same outputs in state as one embedded in a Go program.
func (c *RocketChatHA) NodeFingerprints() pulumi.StringMapOutput { return c.fingerprints }
