// Package providers holds the engine lab's recording test providers. They are
// TEST-ONLY fakes of pulumi-docker 4.11.2, pulumi-command 1.2.1 and
// pulumi-random 4.21.2: they speak the real provider gRPC protocol to the real
// Pulumi engine, report diffs with the real providers' replacement rules,
// return realistic outputs, and append every operation to a JSON-lines trace
// file, but they never touch Docker, run a command, or contact a network.
//
// The docker fake also models the real provider against a Docker daemon
// (docs/engine-lab.md lists the sources): it diffs new inputs against the
// prior state, stores what the daemon reads back (canonical durations,
// sorted ports, split extra hosts, the image's user), refuses fields the
// simulated daemon's API version lacks with the Docker client's error,
// validates and records uploaded files' modes, emits the inspect-dump debug
// diagnostics through the engine's Log RPC, and handles containers killed or
// removed behind Pulumi's back as the real Read and Delete do.
//
// The command fake models what the component's scripts do to the simulated
// world, never running them: the replica-set steps' node choice and
// membership (replicaset.go) and the mongods' hosts steps, which rewrite a
// running container's /etc/hosts entries (mongohosts.go).
//
// The binaries live under cmd/pulumi-resource-<name>; the engine finds them on
// PATH. Behaviour is controlled by environment variables:
//
//	RCHA_LAB_TRACE         trace file (JSON lines, appended; required to record)
//	RCHA_LAB_WORLD         directory holding the simulated Docker hosts' state
//	                       (container names, published ports, volumes); when
//	                       unset, name and port conflicts are not simulated
//	RCHA_LAB_HEALTH_DELAY  time a wait=true container takes to become healthy
//	                       (Go duration, default 50ms)
//	RCHA_LAB_DOCKER_API_VERSION
//	                       Engine API version of every simulated docker host
//	                       (default 1.41, Docker 20.10); SetDockerAPIVersion
//	                       overrides it per host in the world
//	RCHA_LAB_PROVIDER_DBR  "0" makes the docker fake NOT report
//	                       delete-before-replace, so only the program's own
//	                       DeleteBeforeReplace option protects fixed names
//
// Secret values never reach the trace: they are written as "[secret]".
package providers
