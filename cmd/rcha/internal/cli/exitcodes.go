package cli

// Exit codes of rcha. They are part of its interface: CI scripts branch on them.
const (
	// ExitOK: the command succeeded (for verify: every check passed).
	ExitOK = 0
	// ExitSetup: rcha could not start the operation: Pulumi CLI missing or too
	// old, stack cannot be selected, backend or secrets provider unusable (a
	// missing or wrong passphrase), the stack locked by another update, or
	// any failure of the CLI before the engine started.
	ExitSetup = 1
	// ExitChanges: preview or refresh with --expect-no-changes found changes.
	ExitChanges = 2
	// ExitFailed: the Pulumi operation (preview, up, refresh, destroy) failed
	// after the engine started, or outputs could not read the outputs.
	ExitFailed = 3
	// ExitVerify: verify found problems, or could not check the cluster.
	ExitVerify = 4
	// ExitUsage: bad command line (unknown command or flag, missing --stack,
	// no Pulumi.yaml or Pulumi.<stack>.yaml in the work dir).
	ExitUsage = 64
	// ExitInterrupted: stopped by SIGINT or SIGTERM; the operation was
	// cancelled and the stack lock released.
	ExitInterrupted = 130
)
