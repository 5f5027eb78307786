// Command rocketchat-ha is the Pulumi program that deploys Rocket.Chat in
// high availability; see README.md.
package main

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/stacks"
)

func main() { pulumi.Run(stacks.Program) }
