// Package engine is the engine lab: it runs the project's Pulumi program
// under the real Pulumi engine (the pinned CLI, through the Automation API)
// against recording fake providers (package providers), and checks from
// the providers' trace and the exported state that whole lifecycles keep
// the project's HA promises. See docs/engine-lab.md.
package engine
