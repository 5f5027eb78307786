package stacks

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"github.com/pulumi/pulumi/sdk/v3/go/pulumi"
)

// Keys are the config keys the program reads, without the namespace. They
// are the keys Pulumi.yaml declares; a test holds the two together.
var Keys = []string{
	"clusterName", "nodes", "rootUrl", "replicaSetName", "rocketchatImage", "mongoImage", "nginxImage",
	"loadBalancer", "deleteDataOnDestroy", "healthTimeoutSeconds", "dockerApiVersion", "mongoFeatureCompatibility", "backup",
	"mongoRootPassword", "rocketPassword", "oplogPassword", "license", "registrationToken", "dockerTls",
	"monitoring",
}

// CheckKeys refuses every key under the project's namespace that the program
// does not read (a typo would otherwise be ignored silently and its default
// used). Each error names the key and the closest valid one. keys are fully
// qualified ("rocketchat-ha:nodes"); keys of other namespaces are not ours.
func CheckKeys(keys []string) error {
	known := map[string]bool{}
	for _, k := range Keys {
		known[k] = true
	}
	sort.Strings(keys)
	var errs []error
	for _, full := range keys {
		k, ours := strings.CutPrefix(full, Namespace+":")
		if !ours || known[k] {
			continue
		}
		msg := fmt.Sprintf("%s: unknown setting", k)
		if near := closest(k, Keys); near != "" {
			msg += fmt.Sprintf("; did you mean %s?", near)
		}
		errs = append(errs, fmt.Errorf("%s (remove it with `pulumi config rm %s`)", msg, k))
	}
	return errors.Join(errs...)
}

// configKeys lists the keys of the stack config the program runs with.
// pulumi.Context offers no listing, so it reads the run's config map
// through reflection (a test fails when the SDK's layout changes), else the
// PULUMI_CONFIG variable the Go language host sets.
func configKeys(ctx *pulumi.Context) ([]string, error) {
	if keys, ok := reflectedConfigKeys(ctx); ok {
		return keys, nil
	}
	raw := os.Getenv(pulumi.EnvConfig)
	if raw == "" {
		return nil, errors.New("cannot list the stack's config keys (unknown Pulumi SDK layout and no " + pulumi.EnvConfig + ")")
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(raw), &m); err != nil {
		return nil, fmt.Errorf("%s: %w", pulumi.EnvConfig, err)
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys, nil
}

// reflectedConfigKeys reads ctx.state.info.Config (sdk/v3 go/pulumi).
func reflectedConfigKeys(ctx *pulumi.Context) ([]string, bool) {
	if ctx == nil {
		return nil, false
	}
	state := reflect.ValueOf(ctx).Elem().FieldByName("state")
	if !state.IsValid() || state.Kind() != reflect.Pointer || state.IsNil() {
		return nil, false
	}
	info := state.Elem().FieldByName("info")
	if !info.IsValid() || info.Kind() != reflect.Struct {
		return nil, false
	}
	cfg := info.FieldByName("Config")
	if !cfg.IsValid() || cfg.Kind() != reflect.Map || cfg.Type().Key().Kind() != reflect.String {
		return nil, false
	}
	keys := make([]string, 0, cfg.Len())
	for _, k := range cfg.MapKeys() {
		keys = append(keys, k.String())
	}
	return keys, true
}

// closest returns the candidate nearest to s by edit distance (ignoring
// case), or "" when none is near enough to be a likely typo.
func closest(s string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(s), strings.ToLower(c))
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(2, len(s)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// fieldNames maps the component's Go field names, as its errors spell
// them, to the stack config's spelling.
var fieldNames = map[string]string{
	"Nodes": "nodes", "Name": "name", "Address": "address", "DockerHost": "dockerHost", "DockerTLS": "dockerTls",
	"Ports": "ports", "Mongo": "mongo", "RocketChat": "rocketchat", "Instance": "instance",
	"ReplicaSetName": "replicaSetName", "WaitSeconds": "healthTimeoutSeconds", "DockerAPIVersion": "dockerApiVersion", "MongoFeatureCompatibility": "mongoFeatureCompatibility",
	"RootURL": "rootUrl", "RocketChatImage": "rocketchatImage", "MongoImage": "mongoImage", "NginxImage": "nginxImage",
	"LoadBalancer": "loadBalancer", "Node": "node", "BindAddress": "bindAddress", "HTTPPort": "httpPort",
	"HTTPSPort": "httpsPort", "Certificate": "certificate", "PrivateKey": "privateKey",
	"ClientMaxBodySize": "clientMaxBodySize", "TrustedProxies": "trustedProxies",
	"CA": "caMaterial", "Cert": "certMaterial", "Key": "keyMaterial",
	"VirtualIP": "virtualIp", "Interface": "interface", "VirtualRouterID": "virtualRouterId",
	"VRRPPassword": "vrrpPassword", "KeepalivedImage": "keepalivedImage",
	"Monitoring": "monitoring", "Enabled": "enabled", "Retention": "retention", "Alertmanager": "alertmanager",
	"ReplicationLagSeconds": "replicationLagSeconds", "OplogWindowHours": "oplogWindowHours",
	"MongoExporter": "mongoExporter", "RocketChatMetrics": "rocketchatMetrics", "NginxStatus": "nginxStatus",
	"NginxExporter": "nginxExporter", "Prometheus": "prometheus", "Grafana": "grafana",
	"Backup": "backup", "Disabled": "disabled", "Schedule": "schedule", "Keep": "keep", "MetricsPort": "metricsPort",
	"Image": "image", "S3": "s3", "Endpoint": "endpoint", "Region": "region", "Bucket": "bucket", "Prefix": "prefix",
	"AccessKeyID": "accessKeyId", "SecretAccessKey": "secretAccessKey",
}

// fieldPath matches a component field path such as Nodes[1].Ports.Mongo.
var fieldPath = regexp.MustCompile(`\b(?:Nodes|LoadBalancer|Backup|ReplicaSetName|WaitSeconds|DockerAPIVersion|RootURL|DockerTLS|Monitoring)(?:\[\d+\])?(?:\.[A-Z][A-Za-z0-9]*(?:\[\d+\])?)*`)

// segment matches one part of a field path and its index.
var segment = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9]*)(\[\d+\])?$`)

// StackKey spells a component field path (Nodes[1].Ports.Mongo) as the
// stack config key (nodes[1].ports.mongo).
func StackKey(path string) string {
	parts := strings.Split(path, ".")
	for i, p := range parts {
		m := segment.FindStringSubmatch(p)
		if m == nil {
			continue
		}
		if k, ok := fieldNames[m[1]]; ok {
			parts[i] = k + m[2]
		}
	}
	return strings.Join(parts, ".")
}

// stackErrors rewrites every component field path in err's text as its
// stack config key.
func stackErrors(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(fieldPath.ReplaceAllStringFunc(err.Error(), StackKey))
}
