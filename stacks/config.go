package stacks

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/rocketchat-ha/rocketchat-ha/components"
	"github.com/rocketchat-ha/rocketchat-ha/internal/check"
)

// Namespace is the config namespace of the project: keys are
// rocketchat-ha:<key>.
const Namespace = "rocketchat-ha"

// Config is the stack configuration, as plain values. Secrets are read
// separately and never stored here.
type Config struct {
	ClusterName          string             `json:"clusterName"`
	Nodes                []NodeConfig       `json:"nodes"`
	RootURL              string             `json:"rootUrl"`
	ReplicaSetName       string             `json:"replicaSetName"`
	RocketchatImage      string             `json:"rocketchatImage"`
	MongoImage           string             `json:"mongoImage"`
	NginxImage           string             `json:"nginxImage"`
	LoadBalancer         LoadBalancerConfig `json:"loadBalancer"`
	DeleteDataOnDestroy  bool               `json:"deleteDataOnDestroy"`
	HealthTimeoutSeconds int                `json:"healthTimeoutSeconds"`
	DockerAPIVersion     string             `json:"dockerApiVersion"`
	// MongoFeatureCompatibility is "auto" or "manual".
	MongoFeatureCompatibility string `json:"mongoFeatureCompatibility"`
	// Monitoring is `monitoring` (monitoring.go).
	Monitoring MonitoringConfig `json:"monitoring"`
	// Backup is `backup`: the scheduled backups (BackupConfig).
	Backup BackupConfig `json:"backup"`
}

// NodeConfig is one entry of `nodes`.
type NodeConfig struct {
	Name       string      `json:"name"`
	Address    string      `json:"address"`
	DockerHost string      `json:"dockerHost,omitempty"`
	Ports      PortsConfig `json:"ports,omitempty"`
}

// PortsConfig is `nodes[i].ports`.
type PortsConfig struct {
	Mongo      int `json:"mongo,omitempty"`
	Rocketchat int `json:"rocketchat,omitempty"`
	Instance   int `json:"instance,omitempty"`
	// MongoExporter and RocketchatMetrics are monitoring's per-node ports.
	MongoExporter     int `json:"mongoExporter,omitempty"`
	RocketchatMetrics int `json:"rocketchatMetrics,omitempty"`
}

// LoadBalancerConfig is `loadBalancer`. Certificate and PrivateKey are
// wrapped as secrets when they are turned into component arguments.
type LoadBalancerConfig struct {
	Nodes             []string `json:"nodes,omitempty"`
	Node              string   `json:"node,omitempty"`
	DockerHost        string   `json:"dockerHost,omitempty"`
	Address           string   `json:"address,omitempty"`
	BindAddress       string   `json:"bindAddress,omitempty"`
	HTTPPort          int      `json:"httpPort,omitempty"`
	HTTPSPort         int      `json:"httpsPort,omitempty"`
	Certificate       string   `json:"certificate,omitempty"`
	PrivateKey        string   `json:"privateKey,omitempty"`
	ClientMaxBodySize string   `json:"clientMaxBodySize,omitempty"`
	TrustedProxies    []string `json:"trustedProxies,omitempty"`
	VirtualIP         string   `json:"virtualIp,omitempty"`
	Interface         string   `json:"interface,omitempty"`
	VirtualRouterID   int      `json:"virtualRouterId,omitempty"`
	VRRPPassword      string   `json:"vrrpPassword,omitempty"`
	KeepalivedImage   string   `json:"keepalivedImage,omitempty"`
}

// DockerTLSConfig is `dockerTls`, used for every tcp:// Docker host.
type DockerTLSConfig struct {
	CAMaterial   string `json:"caMaterial"`
	CertMaterial string `json:"certMaterial"`
	KeyMaterial  string `json:"keyMaterial"`
}

// Secrets are the secret config values; an empty string means unset.
type Secrets struct {
	MongoRootPassword string
	RocketPassword    string
	OplogPassword     string
	License           string
	RegistrationToken string
	DockerTLS         *DockerTLSConfig
}

// Parse reads the configuration from a lookup function that returns the raw
// value of a fully qualified key (as pulumi.Context.GetConfig does). Every
// error names the key.
func Parse(get func(key string) (string, bool)) (Config, Secrets, error) {
	var cfg Config
	var sec Secrets
	var errs []error
	str := func(key string, dst *string) {
		if v, ok := get(Namespace + ":" + key); ok {
			*dst = v
		}
	}
	obj := func(key string, dst any) {
		v, ok := get(Namespace + ":" + key)
		if !ok {
			return
		}
		dec := json.NewDecoder(bytes.NewReader([]byte(v)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(dst); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s", key, jsonProblem(err)))
		}
	}
	str("clusterName", &cfg.ClusterName)
	obj("nodes", &cfg.Nodes)
	str("rootUrl", &cfg.RootURL)
	str("replicaSetName", &cfg.ReplicaSetName)
	str("rocketchatImage", &cfg.RocketchatImage)
	str("mongoImage", &cfg.MongoImage)
	str("nginxImage", &cfg.NginxImage)
	obj("loadBalancer", &cfg.LoadBalancer)
	obj("deleteDataOnDestroy", &cfg.DeleteDataOnDestroy)
	obj("healthTimeoutSeconds", &cfg.HealthTimeoutSeconds)
	str("dockerApiVersion", &cfg.DockerAPIVersion)
	str("mongoFeatureCompatibility", &cfg.MongoFeatureCompatibility)
	obj("monitoring", &cfg.Monitoring)
	obj("backup", &cfg.Backup)

	str("mongoRootPassword", &sec.MongoRootPassword)
	str("rocketPassword", &sec.RocketPassword)
	str("oplogPassword", &sec.OplogPassword)
	str("license", &sec.License)
	str("registrationToken", &sec.RegistrationToken)
	if _, ok := get(Namespace + ":dockerTls"); ok {
		sec.DockerTLS = &DockerTLSConfig{}
		obj("dockerTls", sec.DockerTLS)
		if *sec.DockerTLS == (DockerTLSConfig{}) {
			sec.DockerTLS = nil // the declared default, {}
		}
	}
	return cfg, sec, errors.Join(errs...)
}

// CheckSecrets refuses secret settings that were stored in plain text.
// Pulumi.yaml cannot mark optional keys secret, so this is where the marker
// is enforced. isSecret reports whether a fully qualified key is secret, as
// pulumi.Context.IsConfigSecret does.
func (c Config) CheckSecrets(sec Secrets, isSecret func(key string) bool) error {
	var errs []error
	check := func(key string, set bool) {
		if set && !isSecret(Namespace+":"+key) {
			errs = append(errs, fmt.Errorf("%s: is a secret; set it with `pulumi config set --secret %s ...`", key, key))
		}
	}
	check("mongoRootPassword", sec.MongoRootPassword != "")
	check("rocketPassword", sec.RocketPassword != "")
	check("oplogPassword", sec.OplogPassword != "")
	check("license", sec.License != "")
	check("registrationToken", sec.RegistrationToken != "")
	check("dockerTls", sec.DockerTLS != nil)
	if c.Monitoring.Alertmanager != "" && !isSecret(Namespace+":monitoring") {
		errs = append(errs, errors.New("monitoring.alertmanager: is a secret (receivers hold webhook URLs and passwords); set it with `pulumi config set --secret --path monitoring.alertmanager ...`"))
	}
	for _, f := range []struct {
		key string
		set bool
	}{{"privateKey", c.LoadBalancer.PrivateKey != ""}, {"vrrpPassword", c.LoadBalancer.VRRPPassword != ""}} {
		if f.set && !isSecret(Namespace+":loadBalancer") {
			errs = append(errs, fmt.Errorf("loadBalancer.%s: is a secret; set it with `pulumi config set --secret --path loadBalancer.%s ...`", f.key, f.key))
		}
	}
	errs = append(errs, c.Backup.checkSecrets(isSecret)...)
	return errors.Join(errs...)
}

// jsonProblem turns a decoding error into a short sentence.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := te.Field
		if field == "" {
			return fmt.Sprintf("expected %s, got a JSON %s", te.Type, te.Value)
		}
		return fmt.Sprintf("%s: expected %s, got a JSON %s", field, te.Type, te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

// Validate checks what the component cannot check on its own (the root URL,
// the cluster name, the image pair and the TLS material), then args, the
// component arguments built from the config, whose errors it spells with the
// config's keys. It runs before any resource is registered.
func (c Config) Validate(sec Secrets, args *components.RocketChatHAArgs) error {
	var errs []error
	if c.ClusterName != "" && !check.DNSLabel(c.ClusterName) {
		errs = append(errs, fmt.Errorf("clusterName: %q is not a DNS label", c.ClusterName))
	}
	if err := checkRootURL(c.RootURL); err != nil {
		errs = append(errs, fmt.Errorf("rootUrl: %w", err))
	}
	if err := CheckImagePair(c.rocketchatImage(), c.mongoImage()); err != nil {
		errs = append(errs, fmt.Errorf("rocketchatImage/mongoImage: %w", err))
	}
	if sec.DockerTLS != nil {
		t := sec.DockerTLS
		if t.CAMaterial == "" || t.CertMaterial == "" || t.KeyMaterial == "" {
			errs = append(errs, errors.New("dockerTls: caMaterial, certMaterial and keyMaterial are all required"))
		}
	}
	if err := args.WithDefaults().Validate(); err != nil {
		errs = append(errs, stackErrors(err))
	}
	return errors.Join(errs...)
}

// checkRootURL accepts an absolute http(s) URL without a path beyond "/".
func checkRootURL(s string) error {
	if s == "" {
		return errors.New("is required (the public URL, for example https://chat.example.com)")
	}
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("%q is not a URL: %v", s, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q must start with https:// or http://", s)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q has no host name", s)
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("%q must not carry user info, a query or a fragment", s)
	}
	return nil
}

func (c Config) rocketchatImage() string {
	return or(c.RocketchatImage, components.DefaultRocketChatImage)
}

func (c Config) mongoImage() string { return or(c.MongoImage, components.DefaultMongoImage) }

func or(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
