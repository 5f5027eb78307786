package engine

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"

	"github.com/rocketchat-ha/rocketchat-ha/stacks"
)

// labProgram is the program under test: the project's own stack program,
// run inline by the Automation API as project "rocketchat-ha".
var labProgram pulumi.RunFunc = stacks.Program
