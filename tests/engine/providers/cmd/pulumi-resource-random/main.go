// Command pulumi-resource-random is the engine lab's TEST-ONLY fake of the
// random provider. It records what the Pulumi engine asks of it and touches
// nothing real; see package providers.
package main

import (
	"fmt"
	"os"

	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

func main() {
	if err := providers.Serve("random", os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-random (engine lab fake): %v\n", err)
		os.Exit(1)
	}
}
