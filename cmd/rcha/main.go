// Command rcha is the pipeline CLI of rocketchat-ha: it previews, deploys,
// refreshes, destroys, prints the outputs of and verifies one stack, running
// stacks.Program inline through the Pulumi Automation API. It needs the
// Pulumi CLI, but no Pulumi language plugin. See docs/pipeline.md.
package main

import (
	"os"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/cmd/rcha/internal/cli"
	"github.com/rocketchat-ha/rocketchat-ha/stacks"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], cli.Env{
		Stdout: os.Stdout, Stderr: os.Stderr, Stdin: os.Stdin,
		Program:     stacks.Program,
		ProgramWith: func(o stacks.OneShot) pulumi.RunFunc { return o.Program },
	}))
}
