// Command pulumi-resource-docker is the engine lab's TEST-ONLY fake of the
// docker provider. It records what the Pulumi engine asks of it and touches
// nothing real; see package providers.
package main

import (
	"fmt"
	"os"

	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

func main() {
	if err := providers.Serve("docker", os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-docker (engine lab fake): %v\n", err)
		os.Exit(1)
	}
}
