// Command pulumi-resource-rocketchat-ha is the RocketChatHA component
// provider plugin: it serves rocketchat-ha:index:RocketChatHA to Pulumi
// programs in TypeScript, Python, C#, YAML and every other language. See
// docs/providers.md.
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/rocketchat-ha/rocketchat-ha/internal/provider"
)

func main() {
	if err := provider.Run(context.Background()); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-rocketchat-ha: %v\n", err)
		os.Exit(1)
	}
}
