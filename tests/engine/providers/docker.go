package providers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"sort"
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
// (provider/cmd/pulumi-resource-docker/schema.json at the v4.11.2 tag;
// docs/facts.md#pulumi-docker). Everything else (restart, memory, cpuShares,
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

// containerComputed are Container fields that are Optional+Computed in
// terraform-provider-docker v3.9.0's schema: when the program does not set
// them, the state keeps whatever the daemon reported and no diff arises.
var containerComputed = setOf(`healthcheck user workingDir entrypoints command hostname domainname logDriver
	ipcMode runtime shmSize stopSignal stopTimeout networkDatas bridge containerLogs exitCode init securityOpts
	dns dnsOpts dnsSearches groupAdds sysctls tmpfs storageOpts cgroupnsMode pidMode usernsMode ulimits
	capabilities devices mounts cpuSet memorySwap maxRetryCount`)

// containerDefaults are the schema defaults the bridge fills in for unset
// Container inputs; a missing value and its default are the same.
var containerDefaults = map[string]resource.PropertyValue{
	"mustRun":             resource.NewProperty(true),
	"start":               resource.NewProperty(true),
	"wait":                resource.NewProperty(false),
	"waitTimeout":         resource.NewProperty(60.0),
	"attach":              resource.NewProperty(false),
	"logs":                resource.NewProperty(false),
	"rm":                  resource.NewProperty(false),
	"restart":             resource.NewProperty("no"),
	"memory":              resource.NewProperty(0.0),
	"cpuShares":           resource.NewProperty(0.0),
	"privileged":          resource.NewProperty(false),
	"readOnly":            resource.NewProperty(false),
	"tty":                 resource.NewProperty(false),
	"stdinOpen":           resource.NewProperty(false),
	"publishAllPorts":     resource.NewProperty(false),
	"destroyGraceSeconds": resource.NewProperty(0.0),
}

// uploadPermissions is the pattern terraform-provider-docker v3.9.0
// validates upload.permissions against.
var uploadPermissions = regexp.MustCompile(`^0[0-7]{3}$`)

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
		for i, u := range arrayOf(news, "uploads") {
			m := plainValue(u)
			if !m.IsObject() {
				continue
			}
			perm := plainValue(m.ObjectValue()["permissions"])
			if perm.IsString() && !uploadPermissions.MatchString(perm.StringValue()) {
				failures = append(failures, plugin.CheckFailure{
					Property: resource.PropertyKey(fmt.Sprintf("uploads[%d].permissions", i)),
					Reason:   fmt.Sprintf("'%s' doesn't match the pattern '%s'", perm.StringValue(), uploadPermissions),
				})
			}
		}
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
		// pulumi-terraform-bridge plans new inputs against the prior
		// STATE (PlanResourceChange), not against the old inputs.
		d = diffContainer(req.OldOutputs, req.OldInputs, req.NewInputs, p.reportDBR)
		// pulumi-docker #1272: without an explicit
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

// diffContainer compares a container's new inputs with its prior state,
// field by field as terraform-provider-docker v3.9.0 does: keys the program
// sets now or set last time; computed fields it no longer sets keep their
// state; healthcheck durations compare as strings (the state holds the
// daemon's canonical form after a create or refresh); ports ignore order
// and fill protocol/ip defaults; hosts compare as a set; an empty user or
// workingDir is suppressed.
func diffContainer(state, oldInputs, news resource.PropertyMap, dbr bool) plugin.DiffResult {
	keys := keyUnion(news, oldInputs)
	detailed := map[string]plugin.PropertyDiff{}
	var changed, replaced []resource.PropertyKey
	for k := range keys {
		if internalKey(k) {
			continue
		}
		n, has := news[k]
		if !has && containerComputed[string(k)] {
			continue
		}
		o := state[k]
		if containerFieldEqual(string(k), o, n) {
			continue
		}
		changed = append(changed, k)
		if ContainerReplaceFields[string(k)] {
			replaced = append(replaced, k)
		}
		detailed[string(k)] = plugin.PropertyDiff{Kind: diffKind(o, n, ContainerReplaceFields[string(k)])}
	}
	sortKeys(changed)
	sortKeys(replaced)
	if len(changed) == 0 {
		return plugin.DiffResult{Changes: plugin.DiffNone}
	}
	return plugin.DiffResult{Changes: plugin.DiffSome, ChangedKeys: changed, ReplaceKeys: replaced,
		DetailedDiff: detailed, DeleteBeforeReplace: dbr && len(replaced) > 0}
}

func containerFieldEqual(k string, o, n resource.PropertyValue) bool {
	if isUnknown(n) || isUnknown(o) {
		return false
	}
	if def, ok := containerDefaults[k]; ok {
		if plainValue(o).IsNull() {
			o = def
		}
		if plainValue(n).IsNull() {
			n = def
		}
	}
	switch k {
	case "healthcheck":
		return equalValues(healthcheckForDiff(o), healthcheckForDiff(n))
	case "ports":
		return equalValues(portsForDiff(o), portsForDiff(n))
	case "hosts":
		return strings.Join(hostsForDiff(o), "\n") == strings.Join(hostsForDiff(n), "\n")
	case "capabilities":
		// adds and drops are sets in the schema: order does not matter,
		// spelling does ("NET_ADMIN" differs from the read-back "CAP_NET_ADMIN").
		return setsEqual(o, n, "adds") && setsEqual(o, n, "drops")
	case "user", "workingDir":
		if nv := plainValue(n); nv.IsNull() || (nv.IsString() && nv.StringValue() == "") {
			return true
		}
	}
	return equalValues(o, n)
}

// healthcheckForDiff fills the schema defaults: durations "0s", retries 0.
// The strings are not canonicalized: "180s" and "3m0s" differ.
func healthcheckForDiff(v resource.PropertyValue) resource.PropertyValue {
	v = plainValue(v)
	if !v.IsObject() {
		return v
	}
	m := v.ObjectValue().Copy()
	for _, k := range []resource.PropertyKey{"interval", "timeout", "startPeriod", "startInterval"} {
		if s := plainValue(m[k]); s.IsNull() || (s.IsString() && s.StringValue() == "") {
			m[k] = resource.NewProperty("0s")
		}
	}
	if r := plainValue(m["retries"]); r.IsNull() {
		m["retries"] = resource.NewProperty(0.0)
	}
	return resource.NewProperty(m)
}

func portsForDiff(v resource.PropertyValue) resource.PropertyValue {
	v = plainValue(v)
	if !v.IsArray() {
		return v
	}
	ports := portsOf(v)
	out := make([]resource.PropertyValue, len(ports))
	for i, p := range sortPorts(ports) {
		out[i] = portValue(p)
	}
	return resource.NewProperty(out)
}

func hostsForDiff(v resource.PropertyValue) []string {
	var out []string
	for _, e := range arrayValues(v) {
		m := plainValue(e)
		if m.IsObject() {
			out = append(out, stringOf(m.ObjectValue(), "host")+"\x00"+stringOf(m.ObjectValue(), "ip"))
		}
	}
	sort.Strings(out)
	return out
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

func (p *dockerProvider) Create(ctx context.Context, req plugin.CreateRequest) (plugin.CreateResponse, error) {
	host := p.host()
	name := stringOf(req.Properties, "name")
	inputs, secretKeys := redactMap(req.Properties)
	ev := Event{Op: OpCreate, URN: string(req.URN), Type: string(req.Type), Name: name, Host: host,
		Preview: req.Preview, Inputs: inputs, SecretKeys: secretKeys}
	if !req.Preview && p.world.hostDown(host) {
		return plugin.CreateResponse{}, p.down(ev)
	}
	switch string(req.Type) {
	case ContainerType:
		return p.createContainer(ctx, req, ev)
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
			if err := p.world.rememberImage(host, imageID, name); err != nil {
				return plugin.CreateResponse{}, err
			}
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

// apiGate returns the error the Docker client gives for the first request
// field the daemon's API version does not support.
func apiGate(props resource.PropertyMap, api string) error {
	if hc := plainValue(props["healthcheck"]); hc.IsObject() {
		if si := stringOf(hc.ObjectValue(), "startInterval"); si != "" && durationNS(si) != 0 && !apiAtLeast(api, "1.44") {
			return bridgeError("Unable to create container: %s", versionError("specify health-check start interval", "1.44", api))
		}
	}
	if st := plainValue(props["stopTimeout"]); st.IsNumber() && !apiAtLeast(api, "1.25") {
		return bridgeError("Unable to create container: %s", versionError("stop timeout", "1.25", api))
	}
	for _, m := range arrayOf(props, "mounts") {
		mv := plainValue(m)
		if !mv.IsObject() {
			continue
		}
		vo := plainValue(mv.ObjectValue()["volumeOptions"])
		if vo.IsObject() && stringOf(vo.ObjectValue(), "subpath") != "" && !apiAtLeast(api, "1.45") {
			return bridgeError("Setting VolumeOptions.Subpath requires docker version 1.45 or higher")
		}
	}
	return nil
}

func (p *dockerProvider) createContainer(ctx context.Context, req plugin.CreateRequest, ev Event) (plugin.CreateResponse, error) {
	props := req.Properties
	fail := func(err error) (plugin.CreateResponse, error) {
		ev.Error = err.Error()
		p.trace.record(ev)
		return plugin.CreateResponse{}, err
	}
	if req.Preview {
		extra := map[string]resource.PropertyValue{}
		if _, set := props["networkMode"]; !set {
			extra["networkMode"] = resource.NewProperty("bridge")
		}
		p.trace.record(ev)
		return plugin.CreateResponse{Properties: outputsFrom(props, extra)}, nil
	}
	if err := apiGate(props, p.world.apiVersion(ev.Host)); err != nil {
		return fail(err)
	}
	wait := boolOf(props, "wait", false)
	if wait {
		if hc := plainValue(props["healthcheck"]); hc.IsNull() || isEmpty(hc) {
			return fail(fmt.Errorf("container %s on %s: wait=true but no healthcheck: it would never report healthy "+
				"(the mongo, rocketchat and nginx images ship no HEALTHCHECK)", ev.Name, ev.Host))
		}
	}
	rec, err := p.recordFrom(ev.Host, props)
	if err != nil {
		return fail(fmt.Errorf("container %s: %w", ev.Name, err))
	}
	rec, err = p.world.runContainer(ev.Host, rec)
	if err != nil {
		return fail(bridgeError("%s", err.Error()))
	}
	ev.ID = rec.ID
	p.trace.record(ev)
	if wait {
		time.Sleep(healthDelay())
		p.trace.record(Event{Op: OpHealthy, URN: ev.URN, Type: ev.Type, ID: ev.ID, Name: ev.Name, Host: ev.Host})
	} else {
		p.trace.record(Event{Op: OpStarted, URN: ev.URN, Type: ev.Type, ID: ev.ID, Name: ev.Name, Host: ev.Host})
	}
	// The provider's Create ends with its Read: the state is what the
	// daemon reports, not what the program wrote.
	p.logInspect(ctx, req.URN, rec)
	return plugin.CreateResponse{ID: resource.ID(ev.ID), Properties: stateFromRecord(props, rec)}, nil
}

// recordFrom builds what the daemon stores for a container created from
// props on host.
func (p *dockerProvider) recordFrom(host string, props resource.PropertyMap) (containerRecord, error) {
	ports, err := publishedPorts(props)
	if err != nil {
		return containerRecord{}, err
	}
	imageID := stringOf(props, "image")
	imageName := p.world.imageName(host, imageID)
	img := imageConfigOf(imageName)
	rec := containerRecord{
		Name: stringOf(props, "name"), Created: time.Now().UTC().Format(time.RFC3339Nano), Ports: ports,
		ImageID: imageID, ImageName: imageName,
		Env:         mergeEnv(img.Env, stringsOf(props, "envs")),
		User:        img.User,
		WorkingDir:  img.WorkingDir,
		Entrypoint:  img.Entrypoint,
		Cmd:         img.Cmd,
		NetworkMode: "bridge", Restart: "no", LogDriver: "json-file",
	}
	if e := stringsOf(props, "entrypoints"); len(e) > 0 {
		// Docker resets the image's CMD when the entrypoint is set.
		rec.Entrypoint, rec.Cmd = e, nil
	}
	if c := stringsOf(props, "command"); len(c) > 0 {
		rec.Cmd = c
	}
	if u := stringOf(props, "user"); u != "" {
		rec.User = u
	}
	if w := stringOf(props, "workingDir"); w != "" {
		rec.WorkingDir = w
	}
	if n := stringOf(props, "networkMode"); n != "" {
		rec.NetworkMode = n
	}
	if r := stringOf(props, "restart"); r != "" {
		rec.Restart = r
	}
	if d := stringOf(props, "logDriver"); d != "" {
		rec.LogDriver = d
	}
	rec.LogOpts = stringMapOf(props, "logOpts")
	for _, l := range arrayOf(props, "labels") {
		if m := plainValue(l); m.IsObject() {
			if rec.Labels == nil {
				rec.Labels = map[string]string{}
			}
			rec.Labels[stringOf(m.ObjectValue(), "label")] = stringOf(m.ObjectValue(), "value")
		}
	}
	for _, h := range arrayOf(props, "hosts") {
		if m := plainValue(h); m.IsObject() {
			// The provider passes ExtraHosts as "host:ip".
			rec.ExtraHosts = append(rec.ExtraHosts, stringOf(m.ObjectValue(), "host")+":"+stringOf(m.ObjectValue(), "ip"))
		}
	}
	// dockerd writes the extra hosts into the new container's /etc/hosts.
	rec.EtcHosts = etcHostsFromExtraHosts(rec.ExtraHosts)
	for _, v := range arrayOf(props, "volumes") {
		if m := plainValue(v); m.IsObject() {
			vm := m.ObjectValue()
			src := stringOf(vm, "volumeName")
			if src == "" {
				src = stringOf(vm, "hostPath")
			}
			rec.Binds = append(rec.Binds, src+":"+stringOf(vm, "containerPath"))
		}
	}
	if c := plainValue(props["capabilities"]); c.IsObject() {
		rec.CapAdd = daemonCapabilities(stringsOf(c.ObjectValue(), "adds"))
		rec.CapDrop = daemonCapabilities(stringsOf(c.ObjectValue(), "drops"))
	}
	if hc := plainValue(props["healthcheck"]); hc.IsObject() {
		m := hc.ObjectValue()
		h := &healthSpec{Test: stringsOf(m, "tests"), Interval: durationNS(stringOf(m, "interval")),
			Timeout: durationNS(stringOf(m, "timeout")), StartPeriod: durationNS(stringOf(m, "startPeriod")),
			StartInterval: durationNS(stringOf(m, "startInterval"))}
		if r := plainValue(m["retries"]); r.IsNumber() {
			h.Retries = int(r.NumberValue())
		}
		rec.Health = h
	}
	for _, u := range arrayOf(props, "uploads") {
		uv := plainValue(u)
		if !uv.IsObject() {
			continue
		}
		m := uv.ObjectValue()
		mode := "0644"
		if boolOf(m, "executable", false) {
			mode = "0744"
		}
		if perm := stringOf(m, "permissions"); perm != "" {
			mode = perm
		}
		secret := m["content"].ContainsSecrets() || m["contentBase64"].ContainsSecrets() || u.ContainsSecrets()
		rec.Uploads = append(rec.Uploads, UploadedFile{Path: stringOf(m, "file"), Mode: mode, UID: 0, GID: 0, Secret: secret})
	}
	return rec, nil
}

// stateFromRecord is the state the provider's Read leaves: base (the
// config, or the prior state) with every field the provider reads back
// from the daemon replaced by the daemon's value. Fields the provider does
// not read back (labels, envs, uploads, volumes, mustRun, wait,
// waitTimeout, destroyGraceSeconds, entrypoints/command/logOpts when set)
// keep base's value.
func stateFromRecord(base resource.PropertyMap, rec containerRecord) resource.PropertyMap {
	out := outputsFrom(base, nil)
	if rec.Health != nil {
		out["healthcheck"] = resource.NewProperty(resource.PropertyMap{
			"tests":         stringsValue(rec.Health.Test),
			"interval":      resource.NewProperty(time.Duration(rec.Health.Interval).String()),
			"timeout":       resource.NewProperty(time.Duration(rec.Health.Timeout).String()),
			"startPeriod":   resource.NewProperty(time.Duration(rec.Health.StartPeriod).String()),
			"startInterval": resource.NewProperty(time.Duration(rec.Health.StartInterval).String()),
			"retries":       resource.NewProperty(float64(rec.Health.Retries)),
		})
	}
	if len(rec.Ports) > 0 {
		var ps []resource.PropertyValue
		for _, p := range sortPorts(rec.Ports) {
			ps = append(ps, portValue(p))
		}
		out["ports"] = resource.NewProperty(ps)
	}
	if len(rec.ExtraHosts) > 0 {
		var hs []resource.PropertyValue
		for _, h := range rec.ExtraHosts {
			// flattenExtraHosts splits on every ":" and keeps parts 0
			// and 1, so an IPv6 address comes back cut short.
			parts := strings.Split(h, ":")
			ip := ""
			if len(parts) > 1 {
				ip = parts[1]
			}
			hs = append(hs, resource.NewProperty(resource.PropertyMap{
				"host": resource.NewProperty(parts[0]), "ip": resource.NewProperty(ip)}))
		}
		out["hosts"] = resource.NewProperty(hs)
	} else {
		delete(out, "hosts")
	}
	// The provider reads capabilities back from HostConfig.CapAdd/CapDrop,
	// in the daemon's CAP_ form.
	if len(rec.CapAdd) > 0 || len(rec.CapDrop) > 0 {
		out["capabilities"] = resource.NewProperty(resource.PropertyMap{
			"adds": stringsValue(rec.CapAdd), "drops": stringsValue(rec.CapDrop)})
	}
	out["user"] = resource.NewProperty(rec.User)
	out["workingDir"] = resource.NewProperty(rec.WorkingDir)
	if _, ok := base["entrypoints"]; !ok {
		out["entrypoints"] = stringsValue(rec.Entrypoint)
	}
	if _, ok := base["command"]; !ok {
		out["command"] = stringsValue(rec.Cmd)
	}
	out["networkMode"] = resource.NewProperty(rec.NetworkMode)
	out["restart"] = resource.NewProperty(rec.Restart)
	out["logDriver"] = resource.NewProperty(rec.LogDriver)
	if _, ok := out["mustRun"]; !ok {
		out["mustRun"] = resource.NewProperty(true)
	}
	out["bridge"] = resource.NewProperty("")
	out["networkDatas"] = resource.NewProperty([]resource.PropertyValue{resource.NewProperty(resource.PropertyMap{
		"networkName": resource.NewProperty("bridge"),
		"ipAddress":   resource.NewProperty("172.17.0.2"),
		"gateway":     resource.NewProperty("172.17.0.1"),
	})})
	return out
}

// logInspect emits the debug diagnostics the provider's Read writes: the
// whole inspect document, once from the refresh function and once after
// it, split into one log message per line as the bridge forwards them.
func (p *dockerProvider) logInspect(ctx context.Context, urn resource.URN, rec containerRecord) {
	dump := inspectJSON(rec)
	p.debug(ctx, urn, "[DEBUG] Docker container inspect: "+dump)
	p.debug(ctx, urn, fmt.Sprintf("[DEBUG] Container %s is running: %v", rec.ID, rec.Running))
	p.debug(ctx, urn, "[DEBUG] Docker container inspect from stateFunc: "+dump)
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
		if !plainValue(m["internal"]).IsNumber() {
			return nil, fmt.Errorf("ports[%d].internal is missing", i)
		}
		if !plainValue(m["external"]).IsNumber() {
			continue // docker picks a free port
		}
		out = append(out, portOf(m))
	}
	return out, nil
}

// portOf reads one port entry with the provider's defaults: protocol
// "tcp", ip "0.0.0.0" (its StateFunc maps "" to "0.0.0.0").
func portOf(m resource.PropertyMap) publishedPort {
	p := publishedPort{Protocol: stringOf(m, "protocol"), IP: stringOf(m, "ip")}
	if v := plainValue(m["internal"]); v.IsNumber() {
		p.Internal = int(v.NumberValue())
	}
	if v := plainValue(m["external"]); v.IsNumber() {
		p.Port = int(v.NumberValue())
	}
	if p.Protocol == "" {
		p.Protocol = "tcp"
	}
	if p.IP == "" {
		p.IP = "0.0.0.0"
	}
	return p
}

func portsOf(v resource.PropertyValue) []publishedPort {
	var out []publishedPort
	for _, e := range arrayValues(v) {
		if m := plainValue(e); m.IsObject() {
			out = append(out, portOf(m.ObjectValue()))
		}
	}
	return out
}

func portValue(p publishedPort) resource.PropertyValue {
	return resource.NewProperty(resource.PropertyMap{
		"internal": resource.NewProperty(float64(p.Internal)),
		"external": resource.NewProperty(float64(p.Port)),
		"ip":       resource.NewProperty(p.IP),
		"protocol": resource.NewProperty(p.Protocol),
	})
}

func (p *dockerProvider) Read(ctx context.Context, req plugin.ReadRequest) (plugin.ReadResponse, error) {
	host, name := p.host(), stringOf(req.State, "name")
	ev := Event{Op: OpRead, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID), Name: name, Host: host}
	if p.world.hostDown(host) {
		return plugin.ReadResponse{}, p.down(ev)
	}
	keep := plugin.ReadResponse{ReadResult: plugin.ReadResult{ID: req.ID, Inputs: req.Inputs, Outputs: req.State}}
	switch string(req.Type) {
	case ContainerType:
		if p.world == nil {
			p.trace.record(ev)
			return keep, nil
		}
		rec, ok := p.world.container(host, name)
		if !ok || rec.ID != string(req.ID) {
			// The provider lists containers by ID; gone means dropped.
			ev.Gone = true
			p.trace.record(ev)
			return plugin.ReadResponse{}, nil
		}
		dump := inspectJSON(rec)
		p.debug(ctx, req.URN, "[DEBUG] Docker container inspect: "+dump)
		if !rec.Running && boolOf(req.State, "mustRun", true) {
			// A fresh provider process did not just create it, so the
			// refresh function reports it "not created" and Read deletes
			// the container and drops the resource.
			p.debug(ctx, req.URN, fmt.Sprintf("[DEBUG] Container %s was not created", rec.ID))
			if err := p.world.removeContainer(host, name); err != nil {
				return plugin.ReadResponse{}, err
			}
			ev.Gone = true
			p.trace.record(ev)
			p.trace.record(Event{Op: OpDelete, URN: ev.URN, Type: ev.Type, ID: ev.ID, Name: name, Host: host})
			return plugin.ReadResponse{}, nil
		}
		p.debug(ctx, req.URN, fmt.Sprintf("[DEBUG] Container %s is running: %v", rec.ID, rec.Running))
		p.debug(ctx, req.URN, "[DEBUG] Docker container inspect from stateFunc: "+dump)
		p.trace.record(ev)
		keep.Outputs = stateFromRecord(req.State, rec)
		return keep, nil
	case VolumeType:
		if !p.world.volumeExists(host, name) {
			ev.Gone = true
			p.trace.record(ev)
			return plugin.ReadResponse{}, nil
		}
	}
	p.trace.record(ev)
	return keep, nil
}

func (p *dockerProvider) Update(_ context.Context, req plugin.UpdateRequest) (plugin.UpdateResponse, error) {
	if !req.Preview && p.world.hostDown(p.host()) {
		return plugin.UpdateResponse{}, p.down(Event{Op: OpUpdate, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID),
			Name: stringOf(req.OldOutputs, "name"), Host: p.host()})
	}
	inputs, secretKeys := redactMap(req.NewInputs)
	var d plugin.DiffResult
	if string(req.Type) == ContainerType {
		d = diffContainer(req.OldOutputs, req.OldInputs, req.NewInputs, false)
	} else {
		d = diffInputs(req.OldInputs, req.NewInputs, nil, false)
	}
	host, name := p.host(), stringOf(req.NewInputs, "name")
	p.trace.record(Event{Op: OpUpdate, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID),
		Name: name, Host: host, Preview: req.Preview, Inputs: inputs,
		SecretKeys: secretKeys, Changes: keyStrings(d.ChangedKeys)})
	// The provider's Update changes only restart and resource limits on
	// the daemon, and does not read back: the state holds the values as
	// written (a healthcheck "180s" stays "180s" until the next refresh).
	out := req.OldOutputs.Copy()
	for k := range req.OldInputs {
		if _, still := req.NewInputs[k]; !still && !(string(req.Type) == ContainerType && containerComputed[string(k)]) {
			delete(out, k)
		}
	}
	for k, v := range req.NewInputs {
		if !internalKey(k) {
			out[k] = v
		}
	}
	if string(req.Type) == ContainerType && !req.Preview {
		if r := stringOf(req.NewInputs, "restart"); r != "" {
			_ = p.world.updateContainer(host, name, func(rec *containerRecord) { rec.Restart = r })
		}
	}
	return plugin.UpdateResponse{Properties: out}, nil
}

func (p *dockerProvider) Delete(_ context.Context, req plugin.DeleteRequest) (plugin.DeleteResponse, error) {
	host, name := p.host(), stringOf(req.Outputs, "name")
	ev := Event{Op: OpDelete, URN: string(req.URN), Type: string(req.Type), ID: string(req.ID), Name: name, Host: host}
	if p.world.hostDown(host) {
		return plugin.DeleteResponse{}, p.down(ev)
	}
	switch string(req.Type) {
	case ContainerType:
		if p.world != nil {
			if rec, ok := p.world.container(host, name); !ok || rec.ID != string(req.ID) {
				// The provider stops the container first and does not
				// ignore that error.
				err := bridgeError("Error stopping container %s: Error response from daemon: No such container: %s", req.ID, req.ID)
				ev.Error = err.Error()
				p.trace.record(ev)
				return plugin.DeleteResponse{}, err
			}
		}
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

// arrayOf returns the plain elements of the array at key k.
func arrayOf(m resource.PropertyMap, k resource.PropertyKey) []resource.PropertyValue {
	return arrayValues(m[k])
}

func arrayValues(v resource.PropertyValue) []resource.PropertyValue {
	v = plainValue(v)
	if !v.IsArray() {
		return nil
	}
	return v.ArrayValue()
}

// stringsOf returns the plain strings of the array at key k.
func stringsOf(m resource.PropertyMap, k resource.PropertyKey) []string {
	var out []string
	for _, e := range arrayOf(m, k) {
		if s := plainValue(e); s.IsString() {
			out = append(out, s.StringValue())
		}
	}
	return out
}

func stringsValue(ss []string) resource.PropertyValue {
	out := make([]resource.PropertyValue, len(ss))
	for i, s := range ss {
		out[i] = resource.NewProperty(s)
	}
	return resource.NewProperty(out)
}

func stringMapOf(m resource.PropertyMap, k resource.PropertyKey) map[string]string {
	v := plainValue(m[k])
	if !v.IsObject() {
		return nil
	}
	out := map[string]string{}
	for kk, vv := range v.ObjectValue() {
		if s := plainValue(vv); s.IsString() {
			out[string(kk)] = s.StringValue()
		}
	}
	return out
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

// daemonCapabilities is how Docker 20.10 and later store capability
// names: upper case with a CAP_ prefix, except ALL.
func daemonCapabilities(caps []string) []string {
	out := make([]string, len(caps))
	for i, c := range caps {
		c = strings.ToUpper(c)
		if c != "ALL" && !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out[i] = c
	}
	return out
}

// setsEqual compares the string list key of two objects as sets.
func setsEqual(o, n resource.PropertyValue, key string) bool {
	list := func(v resource.PropertyValue) []string {
		if v = plainValue(v); !v.IsObject() {
			return nil
		}
		l := stringsOf(v.ObjectValue(), resource.PropertyKey(key))
		sort.Strings(l)
		return l
	}
	return strings.Join(list(o), "\n") == strings.Join(list(n), "\n")
}

// down records ev as failed on a host that does not answer and returns
// the error the real provider reports: the docker client's, wrapped in the
// bridge's one-error list.
func (p *dockerProvider) down(ev Event) error {
	err := bridgeError("%v", unreachable(ev.Host))
	ev.Error = err.Error()
	p.trace.record(ev)
	return err
}

// Configure is base's, except on a host that does not answer: the real
// provider pings the daemon when it is configured (its native half) and
// fails, so the engine cannot load that host's provider at all, whatever
// the operation and whether or not anything of that host changes.
func (p *dockerProvider) Configure(ctx context.Context, req plugin.ConfigureRequest) (plugin.ConfigureResponse, error) {
	resp, err := p.base.Configure(ctx, req)
	if err != nil {
		return resp, err
	}
	if host := p.host(); p.world.hostDown(host) {
		p.trace.record(Event{Op: OpConfigure, Host: host, Error: "host down"})
		return plugin.ConfigureResponse{}, errors.New("docker native provider returned an unexpected error from Configure: failed to connect to any docker daemon")
	}
	return resp, nil
}
