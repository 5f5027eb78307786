// Package providers holds the engine lab's recording test providers. They are
// TEST-ONLY fakes of pulumi-docker 4.11.2, pulumi-command 1.2.1 and
// pulumi-random 4.21.2: they speak the real provider gRPC protocol to the real
// Pulumi engine, report diffs with the real providers' replacement rules,
// return realistic outputs, and append every operation to a JSON-lines trace
// file, but they never touch Docker, run a command, or contact a network.
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
//	RCHA_LAB_PROVIDER_DBR  "0" makes the docker fake NOT report
//	                       delete-before-replace, so only the program's own
//	                       DeleteBeforeReplace option protects fixed names
//
// Secret values never reach the trace: they are written as "[secret]".
package providers
