package providers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
)

// Resource types the docker fake serves.
const (
	ContainerType   = "docker:index/container:Container"
	RemoteImageType = "docker:index/remoteImage:RemoteImage"
	VolumeType      = "docker:index/volume:Volume"
)

// ContainerReplaceFields are the Container inputs whose change forces
// replacement: willReplaceOnChanges in pulumi-docker 4.11.2's schema
// (FIELD-NOTES §3). Everything else (restart, memory, cpuShares,
// healthcheck, wait, mustRun, ...) updates in place.
var ContainerReplaceFields = setOf(`capabilities cgroupParent cgroupnsMode command cpus devices dns dnsOpts
	dnsSearches domainname entrypoints envs gpus groupAdds hostname hosts image ipcMode labels logDriver logOpts
	mounts name networkMode networksAdvanced pidMode ports privileged publishAllPorts readOnly runtime
	securityOpts shmSize stdinOpen stopSignal stopTimeout storageOpts sysctls tty ulimits uploads user
	usernsMode volumes workingDir`)

// RemoteImageReplaceFields force replacement of a RemoteImage.
var RemoteImageReplaceFields = setOf("name platform pullTriggers")

// VolumeReplaceFields force replacement of a Volume.
var VolumeReplaceFields = setOf("name driver driverOpts labels")

func setOf(words string) map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(words) {
		m[w] = true
	}
	return m
}

const defaultDockerHost = "unix:///var/run/docker.sock"

type dockerProvider struct {
	base
	world *world
	// reportDBR mirrors pulumi-docker: Container has DeleteBeforeReplace
	// in its bridge ResourceInfo, and a Volume whose name the program set
	// explicitly needs delete-before-replace (the bridge's autoname rule).
	reportDBR bool
}

func newDocker() *dockerProvider {
	return &dockerProvider{
		base:      newBase("docker", DockerVersion),
		world:     newWorld(),
		reportDBR: os.Getenv("RCHA_LAB_PROVIDER_DBR") != "0",
	}
}

// host is the docker host this provider instance talks to: its `host`
// config, else DOCKER_HOST, else the local socket (the real defaults).
func (p *dockerProvider) host() string {
	if h := stringOf(p.config, "host"); h != "" {
		return h
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return defaultDockerHost
}

func (p *dockerProvider) Check(_ context.Context, req plugin.CheckRequest) (plugin.CheckResponse, error) {
	news := req.News.Copy()
	var failures []plugin.CheckFailure
	required := func(keys ...resource.PropertyKey) {
		for _, k := range keys {
			if v, ok := news[k]; !ok || v.IsNull() {
				failures = append(failures, plugin.CheckFailure{Property: k, Reason: fmt.Sprintf("missing required property '%s'", k)})
			}
		}
	}
	switch string(req.Type) {
	case ContainerType:
		required("image", "name")
	case RemoteImageType:
		required("name")
	case VolumeType:
		// The bridge autonames a volume without a name; keep the old one.
		if v, ok := news["name"]; !ok || v.IsNull() {
			if old, ok := req.Olds["name"]; ok {
				news["name"] = old
			} else {
				news["name"] = resource.NewProperty(req.URN.Name() + "-" + randomHex(4)[:7])
			}
		}
	default:
		return plugin.CheckResponse{}, fmt.Errorf("engine lab docker fake: resource type %s (%s) is not simulated", req.Type, req.URN)
	}
	return plugin.CheckResponse{Properties: news, Failures: failures}, nil
}

func (p *dockerProvider) Diff(_ context.Context, req plugin.DiffRequest) (plugin.DiffResponse, error) {
	var d plugin.DiffResult
	switch string(req.Type) {
	case ContainerType:
		d = diffInputs(req.OldInputs, req.NewInputs, ContainerReplaceFields, p.reportDBR)
		// FIELD-NOTES §3 / pulumi-docker #1272: without an explicit
		// networkMode the state says "bridge" and every run diffs.
		_, set := req.NewInputs["networkMode"]
		if _, seen := d.DetailedDiff["networkMode"]; !set && !seen && stringOf(req.OldOutputs, "networkMode") == "bridge" {
			d = addReplace(d, "networkMode", p.reportDBR)
		}
	case RemoteImageType:
		d = diffInputs(req.OldInputs, req.NewInputs, RemoteImageReplaceFields, false)
	case VolumeType:
		_, named := req.NewInputs["name"]
		d = diffInputs(req.OldInputs, req.NewInputs, VolumeReplaceFields, p.reportDBR && named)
	default:
		return plugin.DiffResult{}, fmt.Errorf("engine lab docker fake: resource type %s is not simulated", req.Type)
	}
	p.trace.record(Event{Op: OpDiff, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID),
		Name: stringOf(req.NewInputs, "name"), Host: p.host(),
		Changes: keyStrings(d.ChangedKeys), Replaces: keyStrings(d.ReplaceKeys), DeleteBeforeReplace: d.DeleteBeforeReplace})
	return d, nil
}

func addReplace(d plugin.DiffResult, key resource.PropertyKey, dbr bool) plugin.DiffResult {
	if d.DetailedDiff == nil {
		d.DetailedDiff = map[string]plugin.PropertyDiff{}
	}
	d.Changes = plugin.DiffSome
	d.ChangedKeys = append(d.ChangedKeys, key)
	d.ReplaceKeys = append(d.ReplaceKeys, key)
	d.DetailedDiff[string(key)] = plugin.PropertyDiff{Kind: plugin.DiffUpdateReplace}
	d.DeleteBeforeReplace = dbr
	return d
}

func (p *dockerProvider) Create(_ context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	host := p.host()
	name := stringOf(req.Properties, "name")
	inputs, secretKeys := redactMap(req.Properties)
	ev := Event{Op: OpCreate, URN: string(req.URN), Type: string(req.Type), Name: name, Host: host,
		Preview: req.Preview, Inputs: inputs, SecretKeys: secretKeys}
	switch string(req.Type) {
	case ContainerType:
		return p.createContainer(req, ev)
	case RemoteImageType:
		imageID := "sha256:" + digest("image", name)
		repo := name
		if i := strings.LastIndex(repo, ":"); i > strings.LastIndex(repo, "/") {
			repo = repo[:i]
		}
		out := outputsFrom(req.Properties, map[string]resource.PropertyValue{
			"imageId":    resource.NewProperty(imageID),
			"repoDigest": resource.NewProperty(repo + "@sha256:" + digest("manifest", name)),
		})
		if req.Preview {
			out["imageId"] = resource.MakeComputed(resource.NewProperty(""))
			out["repoDigest"] = resource.MakeComputed(resource.NewProperty(""))
		} else {
			ev.ID = imageID + name
		}
		p.trace.record(ev)
		return plugin.CreateResponse{ID: resource.ID(ev.ID), Properties: out}, nil
	case VolumeType:
		out := outputsFrom(req.Properties, map[string]resource.PropertyValue{
			"driver":     resource.NewProperty("local"),
			"mountpoint": resource.NewProperty("/var/lib/docker/volumes/" + name + "/_data"),
		})
		if d := stringOf(req.Properties, "driver"); d != "" {
			out["driver"] = resource.NewProperty(d)
		}
		if !req.Preview {
			reused, err := p.world.createVolume(host, name)
			if err != nil {
				ev.Error = err.Error()
				p.trace.record(ev)
				return plugin.CreateResponse{}, err
			}
			ev.ID, ev.Reused = name, reused
		}
		p.trace.record(ev)
		return plugin.CreateResponse{ID: resource.ID(ev.ID), Properties: out}, nil
	}
	return plugin.CreateResponse{}, fmt.Errorf("engine lab docker fake: resource type %s (%s) is not simulated", req.Type, req.URN)
}

func (p *dockerProvider) createContainer(req plugin.CreateRequest, ev Event) (plugin.CreateResponse, error) {
	props := req.Properties
	extra := map[string]resource.PropertyValue{
		"networkDatas": resource.NewProperty([]resource.PropertyValue{resource.NewProperty(resource.PropertyMap{
			"networkName": resource.NewProperty("bridge"),
			"ipAddress":   resource.NewProperty("172.17.0.2"),
			"gateway":     resource.NewProperty("172.17.0.1"),
		})}),
	}
	if _, set := props["networkMode"]; !set {
		extra["networkMode"] = resource.NewProperty("bridge")
	}
	out := outputsFrom(props, extra)
	if req.Preview {
		p.trace.record(ev)
		return plugin.CreateResponse{Properties: out}, nil
	}
	wait := boolOf(props, "wait", false)
	if wait {
		if hc := plainValue(props["healthcheck"]); hc.IsNull() || isEmpty(hc) {
			err := fmt.Errorf("container %s on %s: wait=true but no healthcheck: it would never report healthy "+
				"(the mongo, rocketchat and nginx images ship no HEALTHCHECK)", ev.Name, ev.Host)
			ev.Error = err.Error()
			p.trace.record(ev)
			return plugin.CreateResponse{}, err
		}
	}
	ports, err := publishedPorts(props)
	if err != nil {
		return plugin.CreateResponse{}, fmt.Errorf("container %s: %w", ev.Name, err)
	}
	if err := p.world.startContainer(ev.Host, ev.Name, ports); err != nil {
		ev.Error = err.Error()
		p.trace.record(ev)
		return plugin.CreateResponse{}, err
	}
	ev.ID = randomHex(32)
	p.trace.record(ev)
	if wait {
		time.Sleep(healthDelay())
		p.trace.record(Event{Op: OpHealthy, URN: ev.URN, Type: ev.Type, ID: ev.ID, Name: ev.Name, Host: ev.Host})
	} else {
		p.trace.record(Event{Op: OpStarted, URN: ev.URN, Type: ev.Type, ID: ev.ID, Name: ev.Name, Host: ev.Host})
	}
	return plugin.CreateResponse{ID: resource.ID(ev.ID), Properties: out}, nil
}

// publishedPorts reads the host side of a container's `ports` input.
func publishedPorts(props resource.PropertyMap) ([]publishedPort, error) {
	v := plainValue(props["ports"])
	if !v.IsArray() {
		return nil, nil
	}
	var out []publishedPort
	for i, e := range v.ArrayValue() {
		e = plainValue(e)
		if !e.IsObject() {
			return nil, fmt.Errorf("ports[%d] is %s, not an object", i, e.TypeString())
		}
		m := e.ObjectValue()
		internal := plainValue(m["internal"])
		if !internal.IsNumber() {
			return nil, fmt.Errorf("ports[%d].internal is missing", i)
		}
		ext := plainValue(m["external"])
		if !ext.IsNumber() {
			continue // docker picks a free port
		}
		proto := stringOf(m, "protocol")
		if proto == "" {
			proto = "tcp"
		}
		ip := stringOf(m, "ip")
		if ip == "" {
			ip = "0.0.0.0"
		}
		out = append(out, publishedPort{IP: ip, Port: int(ext.NumberValue()), Protocol: proto})
	}
	return out, nil
}

func (p *dockerProvider) Read(_ context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	host, name := p.host(), stringOf(req.State, "name")
	p.trace.record(Event{Op: OpRead, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID), Name: name, Host: host})
	gone := false
	switch string(req.Type) {
	case ContainerType:
		gone = !p.world.containerExists(host, name)
	case VolumeType:
		gone = !p.world.volumeExists(host, name)
	}
	if gone {
		return plugin.ReadResponse{}, nil
	}
	return plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State}}, nil
}

func (p *dockerProvider) Update(_ context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	inputs, secretKeys := redactMap(req.NewInputs)
	d := diffInputs(req.OldInputs, req.NewInputs, nil, false)
	p.trace.record(Event{Op: OpUpdate, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID),
		Name: stringOf(req.NewInputs, "name"), Host: p.host(), Preview: req.Preview, Inputs: inputs,
		SecretKeys: secretKeys, Changes: keyStrings(d.ChangedKeys)})
	// Computed outputs stay; inputs are replaced by the new ones.
	out := req.OldOutputs.Copy()
	for k := range req.OldInputs {
		delete(out, k)
	}
	for k, v := range req.NewInputs {
		if !internalKey(k) {
			out[k] = v
		}
	}
	return plugin.UpdateResponse{Properties: out}, nil
}

func (p *dockerProvider) Delete(_ context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	host, name := p.host(), stringOf(req.Outputs, "name")
	ev := Event{Op: OpDelete, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID), Name: name, Host: host}
	switch string(req.Type) {
	case ContainerType:
		if err := p.world.removeContainer(host, name); err != nil {
			return plugin.DeleteResponse{}, err
		}
		p.trace.record(ev)
		p.trace.record(Event{Op: OpDown, URN: ev.URN, Type: ev.Type, ID: ev.ID, Name: name, Host: host})
	case VolumeType:
		if err := p.world.removeVolume(host, name); err != nil {
			return plugin.DeleteResponse{}, err
		}
		p.trace.record(ev)
	default:
		p.trace.record(ev)
	}
	return plugin.DeleteResponse{}, nil
}

// digest is a stable fake sha256 for a name.
func digest(kind, name string) string {
	sum := sha256.Sum256([]byte(kind + "\x00" + name))
	return hex.EncodeToString(sum[:])
}

func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}
