package monitoring

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// GroupName is the name of the built-in rule group.
const GroupName = "rocketchat-ha"

// Severities of the built-in rules.
const (
	SeverityCritical = "critical"
	SeverityWarning  = "warning"
)

// RunbookDoc is where every runbook line points: the alert's section,
// docs/monitoring.md#<alert name in lower case>.
const RunbookDoc = "docs/monitoring.md#"

// Alert names of the built-in rules.
const (
	AlertReplicaSetNoPrimary       = "ReplicaSetNoPrimary"
	AlertMongoDBMemberUnhealthy    = "MongoDBMemberUnhealthy"
	AlertReplicaSetMajorityLost    = "ReplicaSetMajorityLost"
	AlertReplicationLagHigh        = "ReplicationLagHigh"
	AlertOplogWindowShort          = "OplogWindowShort"
	AlertRocketChatDown            = "RocketChatServerDown"
	AlertRocketChatOutOfUpstreams  = "RocketChatOutOfEveryLoadBalancer"
	AlertLoadBalancerDown          = "LoadBalancerDown"
	AlertVirtualIPNoHolder         = "VirtualIPNoHolder"
	AlertVirtualIPTwoHolders       = "VirtualIPSeveralHolders"
	AlertExporterDown              = "ExporterDown"
	AlertPrometheusConfigNotLoaded = "PrometheusConfigReloadFailed"
)

// Voters is the number of voting members of a set of n nodes.
func Voters(n int) int { return min(n, MaxVoters) }

// Majority is the number of voters that must be healthy for the set to
// elect a primary and acknowledge w:majority writes.
func Majority(n int) int { return Voters(n)/2 + 1 }

// Rules returns the built-in rule group for c (after defaults).
func (c Config) Rules() RuleGroup {
	c = c.WithDefaults()
	forDown := promDuration(c.Timing.For)
	forSlow := promDuration(c.Timing.ForSlow)
	lag := int(c.Thresholds.ReplicationLag.Seconds())
	window := int(c.Thresholds.OplogWindow.Seconds())
	rule := func(alert, expr, forDur, severity, summary, description, runbook string) Rule {
		return Rule{
			Alert: alert, Expr: expr, For: forDur,
			Labels: map[string]string{"severity": severity},
			Annotations: map[string]string{
				"summary":     summary,
				"description": description,
				"runbook":     runbook + " (" + RunbookDoc + strings.ToLower(alert) + ")",
			},
		}
	}
	// A member reports its own state (mongodb_exporter --compatible-mode):
	// 1 PRIMARY, 2 SECONDARY.
	const healthy = `(mongodb_mongod_replset_my_state == 1 or mongodb_mongod_replset_my_state == 2)`
	rules := []Rule{
		rule(AlertReplicaSetNoPrimary,
			fmt.Sprintf(`(count(mongodb_mongod_replset_my_state{set=%q} == 1) or vector(0)) == 0`, c.ReplicaSet),
			forDown, SeverityCritical,
			"Replica set {{ $externalLabels.cluster }} has no PRIMARY",
			"No member reports itself PRIMARY: Rocket.Chat cannot write. Members that do not answer are reported by MongoDBMemberUnhealthy and ExporterDown.",
			"Check which members are up (`rcha verify`), then follow the replica-set runbook: a majority of voters must be reachable for an election."),
		rule(AlertMongoDBMemberUnhealthy,
			`mongodb_up == 0 or (mongodb_mongod_replset_my_state != 1 and mongodb_mongod_replset_my_state != 2)`,
			forDown, SeverityWarning,
			"MongoDB member on {{ $labels.node }} is unreachable or not PRIMARY/SECONDARY",
			"The exporter on {{ $labels.node }} cannot reach its mongod (mongodb_up 0) or the member is in state {{ $value }} (not 1 PRIMARY or 2 SECONDARY).",
			"Look at the mongod container's logs on the node; a RECOVERING member that stays so may need a resync."),
		rule(AlertReplicaSetMajorityLost,
			fmt.Sprintf(`(count(%s) or vector(0)) < %d`, healthy, Majority(len(c.Nodes))),
			forDown, SeverityCritical,
			fmt.Sprintf("Fewer than %d of %d voting members are healthy", Majority(len(c.Nodes)), Voters(len(c.Nodes))),
			"Fewer than a majority of voters are PRIMARY or SECONDARY: the set cannot elect a primary or acknowledge majority writes.",
			"Bring members back first; only when they are lost for good, recover with `rcha retire --force-reconfig` (docs/runbooks.md)."),
		rule(AlertReplicationLagHigh,
			fmt.Sprintf(`max by (set, name) (mongodb_mongod_replset_member_replication_lag) > %d`, lag),
			forSlow, SeverityWarning,
			fmt.Sprintf("Member {{ $labels.name }} lags the primary by more than %ds", lag),
			"The secondary {{ $labels.name }} is {{ $value }}s behind the primary; majority writes wait for it when it is needed for the majority.",
			"Check the member's disk and network; if it falls off the oplog it must resync."),
		rule(AlertOplogWindowShort,
			fmt.Sprintf(`(mongodb_mongod_replset_oplog_head_timestamp - mongodb_mongod_replset_oplog_tail_timestamp) < %d`, window),
			forSlow, SeverityWarning,
			fmt.Sprintf("Oplog of {{ $labels.node }} covers less than %s", promDuration(c.Thresholds.OplogWindow)),
			"A member that is down longer than the oplog window cannot catch up and needs a full resync. A young cluster has a short window until its oplog fills.",
			"Raise the oplog size (replSetResizeOplog) or find what writes so much."),
		rule(AlertRocketChatDown,
			fmt.Sprintf(`up{job=%q} == 0`, JobRocketChat),
			forDown, SeverityCritical,
			"Rocket.Chat server on {{ $labels.node }} is down",
			"Prometheus cannot scrape the Rocket.Chat server's built-in exporter on {{ $labels.node }}: the server (or its host) is down.",
			"Look at the Rocket.Chat container on the node (`docker logs`); the load balancers send its clients to the other servers meanwhile."),
		rule(AlertRocketChatOutOfUpstreams,
			fmt.Sprintf(`max by (server) (up{job=%q}) == 0`, JobUpstream),
			forDown, SeverityCritical,
			"Rocket.Chat server {{ $labels.server }} is out of every load balancer's upstream",
			"No load balancer gets an answer from {{ $labels.server }}'s /api/info: no client reaches that server.",
			"Check the server and the network between the load balancers and it."),
		rule(AlertExporterDown,
			fmt.Sprintf(`up{job=~"%s|%s|%s"} == 0`, JobMongoDB, JobNginx, JobVRRP),
			forDown, SeverityWarning,
			"Exporter {{ $labels.job }} on {{ $labels.instance }} is down",
			"Prometheus cannot scrape {{ $labels.job }} on {{ $labels.instance }}: what it watches is not watched any more.",
			"Look at the exporter container on the node; a host that is down shows here for every exporter it runs."),
	}
	if len(c.LoadBalancers) > 0 {
		rules = append(rules, rule(AlertLoadBalancerDown,
			fmt.Sprintf(`nginx_up == 0 or max by (lb) (up{job=%q}) == 0`, JobUpstream),
			forDown, SeverityCritical,
			"Load balancer {{ $labels.lb }} is down",
			"Its nginx does not answer its exporter, or it reaches no Rocket.Chat server at all.",
			"Look at the load-balancer container; with a virtual IP, keepalived moves the address to another load balancer."))
	}
	if c.VirtualIP {
		rules = append(rules,
			rule(AlertVirtualIPNoHolder,
				`(sum(rcha_vrrp_master) or vector(0)) == 0`,
				forDown, SeverityCritical,
				"No load balancer holds the virtual IP",
				"No keepalived reports MASTER: clients of the virtual IP reach nothing.",
				"Check the keepalived containers and their track script (the local nginx health)."),
			rule(AlertVirtualIPTwoHolders,
				`sum(rcha_vrrp_master) > 1`,
				forDown, SeverityCritical,
				"{{ $value }} load balancers hold the virtual IP",
				"Several keepalived report MASTER (split brain): VRRP adverts between the load balancers are lost.",
				"Check that the load balancers reach each other with VRRP (IP protocol 112) on the unicast addresses."))
	}
	if c.Self != "" {
		rules = append(rules, rule(AlertPrometheusConfigNotLoaded,
			`prometheus_config_last_reload_successful == 0`,
			forDown, SeverityWarning,
			"Prometheus did not load its latest configuration",
			"The last reload failed: Prometheus runs with the previous scrape config and rules.",
			"Read the Prometheus container's log; the monitoring config step normally checks the config first."))
	}
	return RuleGroup{Name: GroupName, Rules: rules}
}

// RenderRules validates c and renders the rules file: the built-in group
// and c.ExtraGroups.
func RenderRules(c Config) (string, error) {
	if err := c.Validate(); err != nil {
		return "", err
	}
	c = c.WithDefaults()
	doc := struct {
		Groups []RuleGroup `yaml:"groups"`
	}{append([]RuleGroup{c.Rules()}, c.ExtraGroups...)}
	out, err := yaml.Marshal(doc)
	if err != nil {
		return "", fmt.Errorf("rendering rules: %w", err)
	}
	return "# Alert rules generated by rocketchat-ha (internal/monitoring).\n" + string(out), nil
}
