package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/sig"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/backupops"
	"github.com/rocketchat-ha/rocketchat-ha/stacks"
)

// backupCluster reads, from the stack config, what the backup commands
// need (BackupCluster).
func (r *runner) backupCluster(ctx context.Context) (backupops.Cluster, stacks.Secrets, string, error) {
	all, err := r.stack.GetAllConfig(ctx)
	if err != nil {
		return backupops.Cluster{}, stacks.Secrets{}, "", fmt.Errorf("reading the stack config: %s", cliErr(err))
	}
	return BackupCluster(r.o.stack, all)
}

// BackupCluster maps a stack's config (as auto.Stack.GetAllConfig returns
// it) onto what the backup commands need: the nodes with their Docker
// hosts (and TLS material) and Rocket.Chat containers, the backup node
// and container, the replica set, the health timeout. It also returns the
// secrets and the cluster name.
func BackupCluster(stack string, all auto.ConfigMap) (backupops.Cluster, stacks.Secrets, string, error) {
	cfg, sec, err := stacks.Parse(func(k string) (string, bool) {
		v, ok := all[k]
		return v.Value, ok
	})
	if err != nil {
		return backupops.Cluster{}, sec, "", fmt.Errorf("stack config: %w", err)
	}
	args := cfg.Args(sec).WithDefaults()
	if len(args.Nodes) == 0 {
		return backupops.Cluster{}, sec, "", fmt.Errorf("stack config has no %s:nodes", stacks.Namespace)
	}
	if args.Backup.Disabled {
		return backupops.Cluster{}, sec, "", errors.New("backups are off for this stack (backup.disabled is true); see docs/backups.md")
	}
	cluster := cfg.ClusterName
	if cluster == "" {
		cluster = stacks.DefaultClusterName
	}
	c := backupops.Cluster{
		Stack: stack, ReplicaSet: args.ReplicaSetName, RunScript: components.BackupRunScript, HealthTimeout: time.Duration(args.WaitSeconds) * time.Second,
	}
	found := false
	for _, n := range args.Nodes {
		bn := backupops.Node{Name: n.Name, DockerHost: n.DockerHost, RocketChat: components.RocketChatContainerName(cluster, n.Name)}
		if sec.DockerTLS != nil && strings.HasPrefix(n.DockerHost, "tcp://") {
			bn.CA, bn.Cert, bn.Key = sec.DockerTLS.CAMaterial, sec.DockerTLS.CertMaterial, sec.DockerTLS.KeyMaterial
		}
		c.Nodes = append(c.Nodes, bn)
		if n.Name == args.Backup.Node {
			c.Backup, found = bn, true
			c.BackupContainer = components.BackupContainerName(cluster, n.DockerHost)
		}
	}
	if !found {
		return c, sec, cluster, fmt.Errorf("backup.node %q is not one of the nodes", args.Backup.Node)
	}
	return c, sec, cluster, nil
}

func (r *runner) backupOps(c backupops.Cluster) backupops.Ops {
	return backupops.Ops{C: c, D: backupops.CLI{Path: r.o.dockerPath}, Progress: r.env.Stderr}
}

// backupCommand runs backup, backups or restore.
func (r *runner) backupCommand(sum *Summary) int {
	ctx, stop := r.withInterrupts()
	defer stop()
	c, sec, cluster, err := r.backupCluster(ctx)
	if err != nil {
		return r.setupErr(sum, ExitSetup, err)
	}
	ops := r.backupOps(c)
	fail := func(code int, err error) int {
		msg := trimErrorPrefix(err.Error())
		sum.Errors = append(sum.Errors, firstLine(msg))
		fmt.Fprintf(r.env.Stderr, "rcha %s: error: %s\n", r.o.command, msg)
		return code
	}
	switch r.o.command {
	case "backup":
		if err := ops.BackupNow(ctx); err != nil {
			return fail(ExitFailed, err)
		}
		return r.listInto(ctx, ops, sum, 1)
	case "backups":
		return r.listInto(ctx, ops, sum, 0)
	}
	root := sec.MongoRootPassword
	if root == "" {
		if root, err = r.rootPasswordFromState(ctx, cluster); err != nil {
			return fail(ExitSetup, err)
		}
	}
	r.redactor.Add(root)
	req := backupops.RestoreRequest{From: r.o.from, RootPassword: root, Confirm: r.confirmRestore}
	if !r.o.skipVerify {
		req.Verify = func(ctx context.Context) error { return r.verifyAfterRestore(ctx, sum) }
	}
	if err := ops.Restore(ctx, req); err != nil {
		var re *backupops.RestoreError
		if errors.As(err, &re) && re.OnlyVerifyFailed {
			return fail(ExitVerify, err)
		}
		return fail(ExitFailed, err)
	}
	return ExitOK
}

// listInto prints the archives (the newest n when n > 0) and puts them in
// the summary's outputs.
func (r *runner) listInto(ctx context.Context, ops backupops.Ops, sum *Summary, n int) int {
	as, err := ops.List(ctx)
	if err != nil {
		sum.Errors = append(sum.Errors, firstLine(err.Error()))
		fmt.Fprintf(r.env.Stderr, "rcha %s: error: %s\n", r.o.command, err)
		return ExitFailed
	}
	if n > 0 && len(as) > n {
		as = as[:n]
	}
	var list []any
	for _, a := range as {
		list = append(list, map[string]any{"name": a.Name, "place": a.Place, "bytes": a.Bytes, "time": a.Time.Format(time.RFC3339)})
	}
	sum.Outputs["archives"] = list
	sum.Outputs["backupNode"] = ops.C.Backup.Name
	if !r.o.jsonOut {
		backupops.WriteList(r.env.Stdout, as, ops.C.Backup.Name)
	}
	return ExitOK
}

// confirmRestore asks on stdin unless --yes.
func (r *runner) confirmRestore(want string) bool {
	if r.o.yes {
		return true
	}
	if r.env.Stdin == nil {
		fmt.Fprintf(r.env.Stderr, "rcha restore: needs confirmation: pass --yes (no terminal to ask on)\n")
		return false
	}
	fmt.Fprintf(r.env.Stderr, "Type %q to go on: ", want)
	line, _ := bufio.NewReader(r.env.Stdin).ReadString('\n')
	return strings.TrimSpace(line) == want
}

// rootPasswordFromState reads the generated root password (the
// pulumi-random resource's result) from the stack's state.
func (r *runner) rootPasswordFromState(ctx context.Context, cluster string) (string, error) {
	dep, err := r.stack.Export(ctx)
	if err != nil {
		return "", fmt.Errorf("export the state of stack %s to read the root password: %s", r.o.stack, cliMessage(err))
	}
	return RootPasswordFromDeployment(dep.Deployment, cluster)
}

// RootPasswordFromDeployment finds the generated root password of cluster
// in a deployment exported with its secrets shown.
func RootPasswordFromDeployment(deployment json.RawMessage, cluster string) (string, error) {
	var doc struct {
		Resources []struct {
			URN     string         `json:"urn"`
			Type    string         `json:"type"`
			Outputs map[string]any `json:"outputs"`
		} `json:"resources"`
	}
	if err := json.Unmarshal(deployment, &doc); err != nil {
		return "", fmt.Errorf("parse the exported state: %w", err)
	}
	name := components.RootPasswordResourceName(cluster)
	for _, res := range doc.Resources {
		if res.Type != "random:index/randomPassword:RandomPassword" || !strings.HasSuffix(res.URN, "::"+name) {
			continue
		}
		switch v := res.Outputs["result"].(type) {
		case string:
			return v, nil
		case map[string]any:
			if v[sig.Key] == sig.Secret {
				if pt, ok := v["plaintext"].(string); ok {
					var s string
					if err := json.Unmarshal([]byte(pt), &s); err == nil {
						return s, nil
					}
				}
			}
		}
		return "", fmt.Errorf("the state's %s holds no readable result (was it exported with its secrets?)", name)
	}
	return "", fmt.Errorf("the state has no %s: set mongoRootPassword (--secret) to the root password in effect, or run `rcha up` first", name)
}

// verifyAfterRestore runs verify's checks.
func (r *runner) verifyAfterRestore(ctx context.Context, sum *Summary) error {
	outs, err := r.stack.Outputs(ctx)
	if err != nil {
		return fmt.Errorf("read stack outputs: %s", cliErr(err))
	}
	cfg, err := r.stack.GetAllConfig(ctx)
	if err != nil {
		return fmt.Errorf("read stack config: %s", cliErr(err))
	}
	facts, err := ParseStackFacts(outs, cfg)
	if err != nil {
		return err
	}
	plan, closer, err := r.o.verify.plan(facts)
	if err != nil {
		return err
	}
	defer closer()
	rep := plan.Run(ctx)
	jr := rep.JSON()
	sum.Verification = &jr
	if !r.o.jsonOut {
		_ = rep.WriteTable(r.env.Stderr)
	}
	if !rep.OK() {
		var msgs []string
		for _, f := range rep.Failures() {
			msgs = append(msgs, fmt.Sprintf("[%s] %s: %s", f.Check, f.Target, f.Message))
		}
		return errors.New("verification failed: " + strings.Join(msgs, "; "))
	}
	return nil
}

// registerBackupFlags adds the flags of backup, backups and restore.
func registerBackupFlags(fs *flag.FlagSet, o *options, getenv func(string) string) {
	docker := getenv("RCHA_DOCKER_BIN")
	if docker == "" {
		docker = "docker"
	}
	fs.StringVar(&o.dockerPath, "docker", docker, "docker CLI binary used to reach the nodes' Docker hosts (env RCHA_DOCKER_BIN)")
	if o.command == "restore" {
		fs.StringVar(&o.from, "from", "", "the archive to restore, a name from `rcha backups` (required)")
		fs.BoolVar(&o.yes, "yes", false, "do not ask for confirmation")
		fs.BoolVar(&o.skipVerify, "skip-verify", false, "do not run verify's checks after the servers are back")
		// verify's own flags, for the check after the restore.
		o.verify.register(fs, getenv)
	}
}
