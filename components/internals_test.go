package components

// Internals that the external tests (package components_test) use; this
// file is compiled into the package only for tests.
var (
	RocketChatEntrypoint = func() string { return rocketChatEntrypoint }
	EnvFile              = envFile
)
