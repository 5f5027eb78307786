package stacks

import (
	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
	"github.com/rocketchat-ha/rocketchat-ha/components"
)

// MonitoringConfig is `monitoring`. Alertmanager is kept as a secret when
// it is turned into component arguments (CheckSecrets refuses it in plain
// text).
type MonitoringConfig struct {
	Enabled               *bool                 `json:"enabled,omitempty"`
	Node                  string                `json:"node,omitempty"`
	Retention             string                `json:"retention,omitempty"`
	Alertmanager          string                `json:"alertmanager,omitempty"`
	ReplicationLagSeconds int                   `json:"replicationLagSeconds,omitempty"`
	OplogWindowHours      int                   `json:"oplogWindowHours,omitempty"`
	MongoExporterImage    string                `json:"mongoExporterImage,omitempty"`
	NginxExporterImage    string                `json:"nginxExporterImage,omitempty"`
	PrometheusImage       string                `json:"prometheusImage,omitempty"`
	AlertmanagerImage     string                `json:"alertmanagerImage,omitempty"`
	GrafanaImage          string                `json:"grafanaImage,omitempty"`
	Ports                 MonitoringPortsConfig `json:"ports,omitempty"`
}

// MonitoringPortsConfig is `monitoring.ports`.
type MonitoringPortsConfig struct {
	NginxStatus   int `json:"nginxStatus,omitempty"`
	NginxExporter int `json:"nginxExporter,omitempty"`
	Prometheus    int `json:"prometheus,omitempty"`
	Alertmanager  int `json:"alertmanager,omitempty"`
	Grafana       int `json:"grafana,omitempty"`
}

// args maps `monitoring` onto the component's MonitoringArgs.
func (m MonitoringConfig) args(plainOrNil func(string) pulumi.StringInput) components.MonitoringArgs {
	return components.MonitoringArgs{
		Enabled:               m.Enabled,
		Node:                  m.Node,
		Retention:             m.Retention,
		Alertmanager:          m.Alertmanager,
		ReplicationLagSeconds: m.ReplicationLagSeconds,
		OplogWindowHours:      m.OplogWindowHours,
		MongoExporterImage:    plainOrNil(m.MongoExporterImage),
		NginxExporterImage:    plainOrNil(m.NginxExporterImage),
		PrometheusImage:       plainOrNil(m.PrometheusImage),
		AlertmanagerImage:     plainOrNil(m.AlertmanagerImage),
		GrafanaImage:          plainOrNil(m.GrafanaImage),
		Ports: components.MonitoringPorts{
			NginxStatus:   m.Ports.NginxStatus,
			NginxExporter: m.Ports.NginxExporter,
			Prometheus:    m.Ports.Prometheus,
			Alertmanager:  m.Ports.Alertmanager,
			Grafana:       m.Ports.Grafana,
		},
	}
}
