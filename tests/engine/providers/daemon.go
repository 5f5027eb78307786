package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// This file models the Docker daemon side of pulumi-docker 4.11.2 (the
// kreuzwerker terraform-provider-docker v3.9.0 it wraps, and the Docker Go
// client under it): API version gates, what `docker inspect` returns, and
// the official images' configuration. See docs/engine-lab.md.

// bridgeError formats a provider error the way pulumi-terraform-bridge
// v3.125.0 returns Terraform diagnostics: as a hashicorp/go-multierror.
func bridgeError(format string, args ...any) error {
	return errors.New("1 error occurred:\n\t* " + fmt.Sprintf(format, args...) + "\n\n")
}

// apiMinor parses "1.NN".
func apiMinor(v string) (int, bool) {
	major, minor, ok := strings.Cut(strings.TrimSpace(v), ".")
	if !ok || major != "1" {
		return 0, false
	}
	n, err := strconv.Atoi(minor)
	return n, err == nil
}

// apiAtLeast reports whether daemon version have is want or newer.
func apiAtLeast(have, want string) bool {
	h, ok1 := apiMinor(have)
	w, ok2 := apiMinor(want)
	return ok1 && ok2 && h >= w
}

// versionError is the Docker Go client's error for a request field the
// negotiated API version does not have (client.NewVersionError).
func versionError(feature, need, have string) string {
	return fmt.Sprintf("%q requires API version %s, but the Docker daemon API version is %s", feature, need, have)
}

// canonicalDuration is how the provider reads a duration back from the
// daemon: time.Duration.String() of the stored nanoseconds.
func canonicalDuration(s string) string {
	d, err := time.ParseDuration(s)
	if err != nil {
		return s
	}
	return d.String()
}

func durationNS(s string) int64 {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0
	}
	return int64(d)
}

// imageConfig is the part of an image's configuration a container
// inherits when it does not set its own.
type imageConfig struct {
	Env        []string
	Entrypoint []string
	Cmd        []string
	User       string
	WorkingDir string
}

const imagePath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// imageConfigOf approximates the official images the program uses (from
// their Dockerfiles): mongo (no USER, ENTRYPOINT docker-entrypoint.sh),
// rocket.chat (USER rocketchat, WORKDIR /app/bundle, CMD node main.js, no
// curl, no bash) and nginx (ENTRYPOINT /docker-entrypoint.sh).
func imageConfigOf(name string) imageConfig {
	tag := ""
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		tag = name[i+1:]
	}
	switch {
	case strings.Contains(name, "rocket.chat"):
		return imageConfig{
			Env: []string{imagePath, "NODE_VERSION=22.16.0", "NODE_ENV=production", "DEPLOY_METHOD=docker",
				"HOME=/tmp", "PORT=3000", "ROOT_URL=http://localhost:3000", "Accounts_AvatarStorePath=/app/uploads"},
			Cmd: []string{"node", "main.js"}, User: "rocketchat", WorkingDir: "/app/bundle",
		}
	case strings.Contains(name, "mongo"):
		return imageConfig{
			Env: []string{imagePath, "GOSU_VERSION=1.17", "JSYAML_VERSION=3.13.1", "MONGO_PACKAGE=mongodb-org",
				"MONGO_REPO=repo.mongodb.org", "MONGO_VERSION=" + tag, "HOME=/data/db"},
			Entrypoint: []string{"docker-entrypoint.sh"}, Cmd: []string{"mongod"},
		}
	case strings.Contains(name, "nginx"):
		return imageConfig{
			Env:        []string{imagePath, "NGINX_VERSION=" + tag, "NJS_VERSION=0.8.9", "PKG_RELEASE=1"},
			Entrypoint: []string{"/docker-entrypoint.sh"}, Cmd: []string{"nginx", "-g", "daemon off;"},
		}
	}
	return imageConfig{Env: []string{imagePath}, Cmd: []string{"sh"}}
}

// mergeEnv is how dockerd combines the image's ENV with the container's
// Env: image entries first, a container entry replaces the image entry of
// the same name in place, new names are appended.
func mergeEnv(image, container []string) []string {
	out := append([]string{}, image...)
	for _, e := range container {
		name, _, _ := strings.Cut(e, "=")
		replaced := false
		for i, o := range out {
			if on, _, _ := strings.Cut(o, "="); on == name {
				out[i], replaced = e, true
				break
			}
		}
		if !replaced {
			out = append(out, e)
		}
	}
	return out
}

// The inspect document, in the field order of the Docker API's
// ContainerJSON (types.ContainerJSON), as json.MarshalIndent writes it.
type inspectDoc struct {
	ID              string          `json:"Id"`
	Created         string          `json:"Created"`
	Path            string          `json:"Path"`
	Args            []string        `json:"Args"`
	State           inspectState    `json:"State"`
	Image           string          `json:"Image"`
	ResolvConfPath  string          `json:"ResolvConfPath"`
	HostnamePath    string          `json:"HostnamePath"`
	HostsPath       string          `json:"HostsPath"`
	LogPath         string          `json:"LogPath"`
	Name            string          `json:"Name"`
	RestartCount    int             `json:"RestartCount"`
	Driver          string          `json:"Driver"`
	Platform        string          `json:"Platform"`
	MountLabel      string          `json:"MountLabel"`
	ProcessLabel    string          `json:"ProcessLabel"`
	AppArmorProfile string          `json:"AppArmorProfile"`
	ExecIDs         []string        `json:"ExecIDs"`
	HostConfig      inspectHost     `json:"HostConfig"`
	GraphDriver     inspectGraph    `json:"GraphDriver"`
	Mounts          []inspectMount  `json:"Mounts"`
	Config          inspectConfig   `json:"Config"`
	NetworkSettings inspectNetworks `json:"NetworkSettings"`
}

type inspectState struct {
	Status     string         `json:"Status"`
	Running    bool           `json:"Running"`
	Paused     bool           `json:"Paused"`
	Restarting bool           `json:"Restarting"`
	OOMKilled  bool           `json:"OOMKilled"`
	Dead       bool           `json:"Dead"`
	Pid        int            `json:"Pid"`
	ExitCode   int            `json:"ExitCode"`
	Error      string         `json:"Error"`
	StartedAt  string         `json:"StartedAt"`
	FinishedAt string         `json:"FinishedAt"`
	Health     *inspectHealth `json:"Health,omitempty"`
}

type inspectHealth struct {
	Status        string `json:"Status"`
	FailingStreak int    `json:"FailingStreak"`
	Log           []any  `json:"Log"`
}

type portBinding struct {
	HostIP   string `json:"HostIp"`
	HostPort string `json:"HostPort"`
}

type inspectHost struct {
	Binds           []string                 `json:"Binds"`
	ContainerIDFile string                   `json:"ContainerIDFile"`
	LogConfig       inspectLogConfig         `json:"LogConfig"`
	NetworkMode     string                   `json:"NetworkMode"`
	PortBindings    map[string][]portBinding `json:"PortBindings"`
	RestartPolicy   inspectRestart           `json:"RestartPolicy"`
	AutoRemove      bool                     `json:"AutoRemove"`
	ExtraHosts      []string                 `json:"ExtraHosts"`
	Privileged      bool                     `json:"Privileged"`
	ReadonlyRootfs  bool                     `json:"ReadonlyRootfs"`
	ShmSize         int64                    `json:"ShmSize"`
	Init            *bool                    `json:"Init"`
}

type inspectLogConfig struct {
	Type   string            `json:"Type"`
	Config map[string]string `json:"Config"`
}

type inspectRestart struct {
	Name              string `json:"Name"`
	MaximumRetryCount int    `json:"MaximumRetryCount"`
}

type inspectGraph struct {
	Data map[string]string `json:"Data"`
	Name string            `json:"Name"`
}

type inspectMount struct {
	Type        string `json:"Type"`
	Name        string `json:"Name"`
	Source      string `json:"Source"`
	Destination string `json:"Destination"`
	Driver      string `json:"Driver"`
	Mode        string `json:"Mode"`
	RW          bool   `json:"RW"`
	Propagation string `json:"Propagation"`
}

type inspectConfig struct {
	Hostname     string              `json:"Hostname"`
	Domainname   string              `json:"Domainname"`
	User         string              `json:"User"`
	AttachStdin  bool                `json:"AttachStdin"`
	AttachStdout bool                `json:"AttachStdout"`
	AttachStderr bool                `json:"AttachStderr"`
	ExposedPorts map[string]struct{} `json:"ExposedPorts,omitempty"`
	Tty          bool                `json:"Tty"`
	OpenStdin    bool                `json:"OpenStdin"`
	StdinOnce    bool                `json:"StdinOnce"`
	Env          []string            `json:"Env"`
	Cmd          []string            `json:"Cmd"`
	Healthcheck  *healthSpec         `json:"Healthcheck,omitempty"`
	Image        string              `json:"Image"`
	Volumes      map[string]struct{} `json:"Volumes"`
	WorkingDir   string              `json:"WorkingDir"`
	Entrypoint   []string            `json:"Entrypoint"`
	OnBuild      []string            `json:"OnBuild"`
	Labels       map[string]string   `json:"Labels"`
}

type inspectNetworks struct {
	Bridge      string                     `json:"Bridge"`
	SandboxID   string                     `json:"SandboxID"`
	Ports       map[string][]portBinding   `json:"Ports"`
	Gateway     string                     `json:"Gateway"`
	IPAddress   string                     `json:"IPAddress"`
	IPPrefixLen int                        `json:"IPPrefixLen"`
	MacAddress  string                     `json:"MacAddress"`
	Networks    map[string]inspectEndpoint `json:"Networks"`
}

type inspectEndpoint struct {
	NetworkID   string `json:"NetworkID"`
	EndpointID  string `json:"EndpointID"`
	Gateway     string `json:"Gateway"`
	IPAddress   string `json:"IPAddress"`
	IPPrefixLen int    `json:"IPPrefixLen"`
	MacAddress  string `json:"MacAddress"`
}

// inspectJSON renders rec as `docker inspect` would for one container,
// with json.MarshalIndent(inspect, "", "\t") like the provider's log.
func inspectJSON(rec containerRecord) string {
	path, args := "", []string{}
	argv := append(append([]string{}, rec.Entrypoint...), rec.Cmd...)
	if len(argv) > 0 {
		path, args = argv[0], argv[1:]
	}
	state := inspectState{Status: "running", Running: rec.Running, Pid: 4242, StartedAt: rec.Created,
		FinishedAt: "0001-01-01T00:00:00Z"}
	if !rec.Running {
		state.Status, state.Pid, state.ExitCode, state.FinishedAt = "exited", 0, rec.ExitCode, time.Now().UTC().Format(time.RFC3339Nano)
	}
	if rec.Health != nil {
		status := "healthy"
		if !rec.Running {
			status = "unhealthy"
		}
		state.Health = &inspectHealth{Status: status, Log: []any{}}
	}
	bindings := map[string][]portBinding{}
	exposed := map[string]struct{}{}
	for _, p := range rec.Ports {
		k := fmt.Sprintf("%d/%s", p.Internal, p.Protocol)
		exposed[k] = struct{}{}
		bindings[k] = append(bindings[k], portBinding{HostIP: p.IP, HostPort: strconv.Itoa(p.Port)})
	}
	var mounts []inspectMount
	for _, b := range rec.Binds {
		parts := strings.Split(b, ":")
		if len(parts) >= 2 {
			mounts = append(mounts, inspectMount{Type: "volume", Name: parts[0],
				Source: "/var/lib/docker/volumes/" + parts[0] + "/_data", Destination: parts[1], Driver: "local", Mode: "z", RW: true})
		}
	}
	init := false
	logOpts := rec.LogOpts
	if logOpts == nil {
		logOpts = map[string]string{}
	}
	doc := inspectDoc{
		ID: rec.ID, Created: rec.Created, Path: path, Args: args, State: state, Image: rec.ImageID,
		ResolvConfPath: "/var/lib/docker/containers/" + rec.ID + "/resolv.conf",
		HostnamePath:   "/var/lib/docker/containers/" + rec.ID + "/hostname",
		HostsPath:      "/var/lib/docker/containers/" + rec.ID + "/hosts",
		LogPath:        "/var/lib/docker/containers/" + rec.ID + "/" + rec.ID + "-json.log",
		Name:           "/" + rec.Name, Driver: "overlay2", Platform: "linux",
		HostConfig: inspectHost{Binds: rec.Binds, LogConfig: inspectLogConfig{Type: rec.LogDriver, Config: logOpts},
			NetworkMode: rec.NetworkMode, PortBindings: bindings, RestartPolicy: inspectRestart{Name: rec.Restart},
			ExtraHosts: rec.ExtraHosts, ShmSize: 67108864, Init: &init},
		GraphDriver: inspectGraph{Name: "overlay2", Data: map[string]string{
			"MergedDir": "/var/lib/docker/overlay2/" + rec.ID[:12] + "/merged"}},
		Mounts: mounts,
		Config: inspectConfig{Hostname: rec.ID[:12], User: rec.User, ExposedPorts: exposed, Env: rec.Env, Cmd: rec.Cmd,
			Healthcheck: rec.Health, Image: rec.ImageID, WorkingDir: rec.WorkingDir, Entrypoint: rec.Entrypoint,
			Labels: rec.Labels},
		NetworkSettings: inspectNetworks{SandboxID: digest("sandbox", rec.ID), Ports: bindings, Gateway: "172.17.0.1",
			IPAddress: "172.17.0.2", IPPrefixLen: 16, MacAddress: "02:42:ac:11:00:02",
			Networks: map[string]inspectEndpoint{"bridge": {NetworkID: digest("network", "bridge"),
				EndpointID: digest("endpoint", rec.ID), Gateway: "172.17.0.1", IPAddress: "172.17.0.2",
				IPPrefixLen: 16, MacAddress: "02:42:ac:11:00:02"}}},
	}
	if !rec.Running {
		doc.NetworkSettings.Ports = map[string][]portBinding{}
	}
	b, _ := json.MarshalIndent(doc, "", "\t")
	return string(b)
}

// sortPorts orders ports by internal port, as the provider reads them back
// (flattenContainerPorts sorts the daemon's port map).
func sortPorts(ps []publishedPort) []publishedPort {
	out := append([]publishedPort{}, ps...)
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Internal != out[j].Internal {
			return out[i].Internal < out[j].Internal
		}
		return out[i].Protocol < out[j].Protocol
	})
	return out
}
