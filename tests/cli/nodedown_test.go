package cli_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/tests/engine/providers"
)

// hostOfNode is node-N's simulated Docker host in TestNodeDown: each node
// has its own, so that one can stop answering.
func hostOfNode(i int) string { return fmt.Sprintf("unix:///run/rcha-e2e/node-%d.sock", i) }

// writeNodes writes Pulumi.e2e.yaml with the given nodes (1-based
// numbers), each on its own simulated host, the load balancer on node-1,
// and extra top-level settings.
func (p *project) writeNodes(nodes []int, lb, extra string) {
	var b strings.Builder
	for _, i := range nodes {
		fmt.Fprintf(&b, "    - name: node-%d\n      address: 127.0.0.1\n      dockerHost: %s\n      ports: {mongo: %d, rocketchat: %d, instance: %d}\n",
			i, hostOfNode(i), p.ports.mongo[i-1], p.ports.rocketchat[i-1], 40000+i)
	}
	cfg := "config:\n  rocketchat-ha:rootUrl: http://chat.e2e.test\n  rocketchat-ha:nodes:\n" + b.String() +
		"  rocketchat-ha:loadBalancer:\n    node: node-1\n    bindAddress: 127.0.0.1\n    httpPort: 41080\n" + lb + extra +
		"  rocketchat-ha:monitoring:\n    enabled: false\n" // its own tiers; these count containers
	require.NoError(p.t, os.WriteFile(filepath.Join(p.dir, "Pulumi."+p.stack+".yaml"), []byte(cfg), 0o644))
}

// TestNodeDown runs the runbook of docs/runbooks.md with the rcha binary:
// a host that stops answering, an update without it, a change that would
// need it (refused), and retiring it.
func TestNodeDown(t *testing.T) {
	p := newProject(t)
	s := p.stack
	world := filepath.Join(p.dir, "world")
	all := []int{1, 2, 3}
	p.writeNodes(all, "", "")
	up := p.rcha("up", "--stack", s, "--json")
	require.Equal(t, 0, up.code, "%s", up)

	require.NoError(t, providers.SetHostDown(world, hostOfNode(3), true))
	// A load-balancer setting: the load balancer runs on node-1 only.
	lbChange := "    clientMaxBodySize: 100M\n"
	p.writeNodes(all, lbChange, "")

	plain := p.rcha("up", "--stack", s, "--json")
	require.Equal(t, 3, plain.code, "%s", plain)
	assert.Contains(t, plain.stderr, "nodes[2] (node-3): its Docker host "+hostOfNode(3)+" does not answer. No container was changed")
	assert.Contains(t, plain.stderr, "rcha up --stack e2e --down node-3")
	assert.Zero(t, plain.sum.Changes["update"]+plain.sum.Changes["replace"]+plain.sum.Changes["delete"], "%v", plain.sum.Changes)

	down := p.rcha("up", "--stack", s, "--down", "node-3", "--json")
	require.Equal(t, 0, down.code, "%s", down)
	assert.Contains(t, down.stderr, "nothing changes on node-3: updating the other nodes")
	assert.Equal(t, 1, down.sum.Changes["update"], "the load balancer's config step: %v", down.sum.Changes)
	assert.NotContains(t, down.stderr, "node-3.sock does not answer")

	// A change that reaches every node: refused before anything changes.
	p.writeNodes(all, lbChange, "  rocketchat-ha:rocketchatImage: registry.rocket.chat/rocketchat/rocket.chat:7.10.1\n")
	refused := p.rcha("up", "--stack", s, "--down", "node-3", "--json")
	require.Equal(t, 3, refused.code, "%s", refused)
	assert.Contains(t, refused.stderr, "node node-3: this change must update resources on node-3's Docker host, which is marked down. Nothing was changed")
	assert.Zero(t, refused.sum.ChangeCount, "%v", refused.sum.Changes)

	bad := p.rcha("up", "--stack", s, "--down", "node-9")
	assert.Equal(t, 3, bad.code, "%s", bad)
	assert.Contains(t, bad.stderr, "--down node-9: nodes has no node named node-9")

	// node-3 is gone for good: retire it.
	p.writeNodes([]int{1, 2}, lbChange, "")
	unconfirmed := p.rcha("retire", "--stack", s, "--node", "node-3")
	assert.Equal(t, 3, unconfirmed.code, "%s", unconfirmed)
	assert.Contains(t, unconfirmed.stderr, "not confirmed: nothing was changed")
	stillListed := p.rcha("retire", "--stack", s, "--node", "node-1", "--yes")
	assert.Contains(t, stillListed.stderr, "nodes still lists node-1")

	retire := p.rcha("retire", "--stack", s, "--node", "node-3", "--yes", "--json")
	require.Equal(t, 0, retire.code, "%s", retire)
	// The backup job ran on node-3, the last node; it moves to node-2.
	backupC := components.BackupContainerName("rocketchat", hostOfNode(3))
	assert.Contains(t, retire.stderr, "docker rm -f rocketchat-mongo-node-3 "+backupC+" rocketchat-rocketchat-node-3")
	assert.Contains(t, retire.stderr, "docker volume rm rocketchat-mongo-node-3-data   # the node's MongoDB data")
	assert.Contains(t, retire.stderr, "docker volume rm "+components.BackupVolumeName("rocketchat", hostOfNode(3))+"   # BACKUP ARCHIVES, held nowhere else")
	assert.Equal(t, []any{fmt.Sprintf("node-1:%d", p.ports.mongo[0]), fmt.Sprintf("node-2:%d", p.ports.mongo[1])}, retire.sum.Outputs["members"])
	st, err := os.ReadFile(filepath.Join(p.dir, ".pulumi-state", ".pulumi", "stacks", "rocketchat-ha", s+".json"))
	require.NoError(t, err)
	var doc struct {
		Checkpoint struct {
			Latest struct {
				Resources []struct {
					URN          string   `json:"urn"`
					Provider     string   `json:"provider"`
					Dependencies []string `json:"dependencies"`
				} `json:"resources"`
			} `json:"latest"`
		} `json:"checkpoint"`
	}
	require.NoError(t, json.Unmarshal(st, &doc))
	require.NotEmpty(t, doc.Checkpoint.Latest.Resources)
	for _, r := range doc.Checkpoint.Latest.Resources {
		// (The surviving mongods' creation-time hosts entries may still
		// name node-3: they ignore changes, the hosts steps keep them
		// current.)
		assert.NotContains(t, r.URN+" "+r.Provider+" "+strings.Join(r.Dependencies, " "), "node-3", "the state still holds node-3")
	}

	// The stack is whole again: a refreshing preview finds nothing to do,
	// and node-3's host is never asked.
	same := p.rcha("preview", "--stack", s, "--expect-no-changes", "--json")
	assert.Equal(t, 0, same.code, "%s", same)
}
