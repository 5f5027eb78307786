package components

import "github.com/pulumi/pulumi/sdk/v3/go/pulumi"

// Internals that the external tests (package components_test) use; this
// file is compiled into the package only for tests.
var (
	RocketChatEntrypoint = func() string { return rocketChatEntrypoint }
	EnvFile              = envFile
	MongoApplyHosts      = func() string { return mongoApplyHosts }
	Fingerprints         = func(c *RocketChatHA) pulumi.StringMapOutput { return c.fingerprints }
)

// The backup job's mongosh scripts.
var (
	BackupS3Script      = func() string { return backupS3JS }
	BackupMetricsScript = func() string { return backupMetricsJS }
)
