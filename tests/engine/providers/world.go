package providers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
)

// world simulates what a Docker daemon enforces and remembers between
// pulumi runs: container names are unique per host, a host port can be
// published by one running container only, volumes outlive the resources
// that created them (a retained volume is found again by name), each
// container keeps the configuration it was created with (what `docker
// inspect` shows and what the provider reads back; only its /etc/hosts
// entries change, through the hosts steps), and each host has an Engine
// API version. State lives in files under RCHA_LAB_WORLD so that
// every provider process (one per docker host, plus default providers) and
// the tests see the same hosts.
type world struct{ dir string }

func newWorld() *world {
	d := os.Getenv("RCHA_LAB_WORLD")
	if d == "" {
		return nil
	}
	return &world{dir: d}
}

// publishedPort is one port binding of a container. Internal is 0 in
// records written before it was kept.
type publishedPort struct {
	Internal int    `json:"internal,omitempty"`
	IP       string `json:"ip"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
}

// UploadedFile is a file the provider copied into a container (an
// `uploads` entry). pulumi-docker writes it with a tar header whose mode is
// the upload's `permissions` (else 0644, 0744 when executable) and whose
// owner is always root: 0:0.
type UploadedFile struct {
	Path string `json:"path"`
	// Mode is the octal file mode, e.g. "0400".
	Mode string `json:"mode"`
	UID  int    `json:"uid"`
	GID  int    `json:"gid"`
	// Secret is true when the upload's content was a secret.
	Secret bool `json:"secret"`
}

// GroupOrWorldBits reports whether the file has any group or world
// permission bit.
func (f UploadedFile) GroupOrWorldBits() bool {
	var m uint32
	_, _ = fmt.Sscanf(f.Mode, "%o", &m)
	return m&0o077 != 0
}

// healthSpec is a container's healthcheck as the daemon stores it
// (durations in nanoseconds, as in `docker inspect`).
type healthSpec struct {
	Test          []string `json:"Test,omitempty"`
	Interval      int64    `json:"Interval,omitempty"`
	Timeout       int64    `json:"Timeout,omitempty"`
	StartPeriod   int64    `json:"StartPeriod,omitempty"`
	StartInterval int64    `json:"StartInterval,omitempty"`
	Retries       int      `json:"Retries,omitempty"`
}

// containerRecord is one container on a simulated host: what the daemon
// knows about it.
type containerRecord struct {
	Name     string          `json:"name"`
	ID       string          `json:"id,omitempty"`
	Created  string          `json:"created,omitempty"`
	Running  bool            `json:"running"`
	ExitCode int             `json:"exitCode,omitempty"`
	Ports    []publishedPort `json:"ports"`
	// ImageID is the image the container runs, ImageName its name when
	// the world knows it (a RemoteImage created it).
	ImageID     string            `json:"imageId,omitempty"`
	ImageName   string            `json:"imageName,omitempty"`
	Env         []string          `json:"env,omitempty"`
	Entrypoint  []string          `json:"entrypoint,omitempty"`
	Cmd         []string          `json:"cmd,omitempty"`
	User        string            `json:"user,omitempty"`
	WorkingDir  string            `json:"workingDir,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	ExtraHosts  []string          `json:"extraHosts,omitempty"`
	NetworkMode string            `json:"networkMode,omitempty"`
	Restart     string            `json:"restart,omitempty"`
	LogDriver   string            `json:"logDriver,omitempty"`
	LogOpts     map[string]string `json:"logOpts,omitempty"`
	Binds       []string          `json:"binds,omitempty"`
	// CapAdd and CapDrop are as the daemon stores them: Docker 20.10 and
	// later write every capability but ALL with a CAP_ prefix.
	CapAdd  []string       `json:"capAdd,omitempty"`
	CapDrop []string       `json:"capDrop,omitempty"`
	Health  *healthSpec    `json:"health,omitempty"`
	Uploads []UploadedFile `json:"uploads,omitempty"`
	// EtcHosts are the name-to-address lines ("address name") of the
	// container's /etc/hosts: its ExtraHosts when it was created, then as
	// the hosts steps rewrote them in the running container (mongohosts.go).
	// ExtraHosts, what `docker inspect` shows, never changes.
	EtcHosts []string `json:"etcHosts,omitempty"`
}

func (w *world) hostDir(host string) string {
	sum := sha256.Sum256([]byte(host))
	return filepath.Join(w.dir, hex.EncodeToString(sum[:8]))
}

func (w *world) containerPath(host, name string) string {
	return filepath.Join(w.hostDir(host), "containers", name+".json")
}

// locked runs fn while holding the world's exclusive lock.
func (w *world) locked(fn func() error) error {
	if err := os.MkdirAll(w.dir, 0o700); err != nil {
		return fmt.Errorf("lab world %s: %w", w.dir, err)
	}
	f, err := os.OpenFile(filepath.Join(w.dir, ".lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("lab world lock: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("lab world lock: %w", err)
	}
	defer func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }()
	return fn()
}

func overlaps(a, b publishedPort) bool {
	if a.Port != b.Port || a.Protocol != b.Protocol {
		return false
	}
	wild := func(ip string) bool { return ip == "" || ip == "0.0.0.0" || ip == "::" }
	return a.IP == b.IP || wild(a.IP) || wild(b.IP)
}

func (w *world) readRecord(path string) (containerRecord, error) {
	var rec containerRecord
	b, err := os.ReadFile(path)
	if err != nil {
		return rec, err
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("lab world %s: %w", path, err)
	}
	return rec, nil
}

func (w *world) writeRecord(host string, rec containerRecord) error {
	dir := filepath.Join(w.hostDir(host), "containers")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	return os.WriteFile(w.containerPath(host, rec.Name), b, 0o600)
}

// startContainer registers a running container on host, failing the way
// dockerd does when the name is taken (by a running or stopped container)
// or a published port is held by a running one. rec.Name and rec.Ports
// must be set; a missing ID is generated.
func (w *world) startContainer(host, name string, ports []publishedPort) error {
	_, err := w.runContainer(host, containerRecord{Name: name, Ports: ports})
	return err
}

func (w *world) runContainer(host string, rec containerRecord) (containerRecord, error) {
	if w == nil {
		if rec.ID == "" {
			rec.ID = randomHex(32)
		}
		rec.Running = true
		return rec, nil
	}
	err := w.locked(func() error {
		dir := filepath.Join(w.hostDir(host), "containers")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if other, err := w.readRecord(w.containerPath(host, rec.Name)); err == nil {
			return fmt.Errorf("Unable to create container: Error response from daemon: Conflict. "+
				"The container name \"/%s\" is already in use by container \"%s\". "+
				"You have to remove (or rename) that container to be able to reuse that name.", rec.Name, other.ID)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, ent := range entries {
			other, err := w.readRecord(filepath.Join(dir, ent.Name()))
			if err != nil {
				return err
			}
			if !other.Running {
				continue // a stopped container holds no port
			}
			for _, p := range rec.Ports {
				for _, q := range other.Ports {
					if overlaps(p, q) {
						return fmt.Errorf("Unable to start container: Error response from daemon: driver failed programming "+
							"external connectivity on endpoint %s: Bind for %s:%d failed: port is already allocated (by %s on docker host %s)",
							rec.Name, p.IP, p.Port, other.Name, host)
					}
				}
			}
		}
		if rec.ID == "" {
			rec.ID = randomHex(32)
		}
		rec.Running = true
		return w.writeRecord(host, rec)
	})
	return rec, err
}

// container returns the record of the named container on host.
func (w *world) container(host, name string) (containerRecord, bool) {
	if w == nil {
		return containerRecord{}, false
	}
	rec, err := w.readRecord(w.containerPath(host, name))
	return rec, err == nil
}

// updateContainer rewrites a container's record under the lock.
func (w *world) updateContainer(host, name string, fn func(*containerRecord)) error {
	if w == nil {
		return nil
	}
	return w.locked(func() error {
		rec, err := w.readRecord(w.containerPath(host, name))
		if err != nil {
			return err
		}
		fn(&rec)
		return w.writeRecord(host, rec)
	})
}

// removeContainer forgets a container; a missing one is not an error,
// like `docker rm -f` on an already removed container.
func (w *world) removeContainer(host, name string) error {
	if w == nil {
		return nil
	}
	return w.locked(func() error {
		err := os.Remove(w.containerPath(host, name))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	})
}

// containerExists reports whether a container (running or not) is
// registered on host.
func (w *world) containerExists(host, name string) bool {
	if w == nil {
		return true
	}
	_, err := os.Stat(w.containerPath(host, name))
	return err == nil
}

// rememberImage records an image's name under its ID, so that containers
// created from the ID can show the image's configuration.
func (w *world) rememberImage(host, id, name string) error {
	if w == nil {
		return nil
	}
	return w.locked(func() error {
		dir := filepath.Join(w.hostDir(host), "images")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, strings.TrimPrefix(id, "sha256:")), []byte(name), 0o600)
	})
}

// imageName returns the name of the image with the given ID, or ref
// itself when it is not an ID the world knows (a program may pass a name).
func (w *world) imageName(host, ref string) string {
	if w == nil || !strings.HasPrefix(ref, "sha256:") {
		return ref
	}
	b, err := os.ReadFile(filepath.Join(w.hostDir(host), "images", strings.TrimPrefix(ref, "sha256:")))
	if err != nil {
		return ref
	}
	return string(b)
}

// createVolume registers a volume and reports whether it already existed
// (docker volume create is idempotent: an existing volume is reused).
func (w *world) createVolume(host, name string) (bool, error) {
	if w == nil {
		return false, nil
	}
	reused := false
	err := w.locked(func() error {
		dir := filepath.Join(w.hostDir(host), "volumes")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			reused = true
			return nil
		}
		return os.WriteFile(p, []byte(host+"\n"), 0o600)
	})
	return reused, err
}

// removeVolume deletes a volume (and with it, in real life, its data).
func (w *world) removeVolume(host, name string) error {
	if w == nil {
		return nil
	}
	return w.locked(func() error {
		err := os.Remove(filepath.Join(w.hostDir(host), "volumes", name))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	})
}

// volumeExists reports whether a volume is registered on host.
func (w *world) volumeExists(host, name string) bool {
	if w == nil {
		return true
	}
	_, err := os.Stat(filepath.Join(w.hostDir(host), "volumes", name))
	return err == nil
}

// DefaultDockerAPIVersion is the Engine API version a simulated docker
// host reports unless RCHA_LAB_DOCKER_API_VERSION or SetDockerAPIVersion
// says otherwise: Debian 12's docker.io 20.10.24.
const DefaultDockerAPIVersion = "1.41"

// apiVersion is the Engine API version of host: its world file, else
// RCHA_LAB_DOCKER_API_VERSION, else DefaultDockerAPIVersion.
func (w *world) apiVersion(host string) string {
	if w != nil {
		if b, err := os.ReadFile(filepath.Join(w.hostDir(host), "api-version")); err == nil {
			if v := strings.TrimSpace(string(b)); v != "" {
				return v
			}
		}
	}
	if v := os.Getenv("RCHA_LAB_DOCKER_API_VERSION"); v != "" {
		return v
	}
	return DefaultDockerAPIVersion
}

// SetDockerAPIVersion makes the simulated docker host report Engine API
// version v (for example "1.44" for Docker 25) in world directory dir.
func SetDockerAPIVersion(dir, host, v string) error {
	w := &world{dir: dir}
	return w.locked(func() error {
		if err := os.MkdirAll(w.hostDir(host), 0o700); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(w.hostDir(host), "api-version"), []byte(v+"\n"), 0o600)
	})
}

// VolumeExists reports whether the simulated docker host holds the named
// volume in the world directory dir. Tests use it to show that retained
// data volumes survive scale-in and destroy.
func VolumeExists(dir, host, name string) bool {
	return (&world{dir: dir}).volumeExists(host, name)
}

// ContainerExists reports whether the simulated docker host has the named
// container (running or stopped) in the world directory dir.
func ContainerExists(dir, host, name string) bool {
	return (&world{dir: dir}).containerExists(host, name)
}

// ContainerInfo is what a test can see of a simulated container.
type ContainerInfo struct {
	Name, ID string
	Running  bool
	ExitCode int
	Env      []string
	User     string
	Uploads  []UploadedFile
	// EtcHosts are the "address name" lines of its /etc/hosts (see
	// EtcHosts).
	EtcHosts []string
}

// Containers lists the containers of a simulated docker host, by name.
func Containers(dir, host string) []ContainerInfo {
	w := &world{dir: dir}
	entries, _ := os.ReadDir(filepath.Join(w.hostDir(host), "containers"))
	var out []ContainerInfo
	for _, ent := range entries {
		rec, err := w.readRecord(filepath.Join(w.hostDir(host), "containers", ent.Name()))
		if err != nil {
			continue
		}
		out = append(out, ContainerInfo{Name: rec.Name, ID: rec.ID, Running: rec.Running,
			ExitCode: rec.ExitCode, Env: rec.Env, User: rec.User, Uploads: rec.Uploads, EtcHosts: rec.EtcHosts})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// KillContainer is `docker kill NAME` on the simulated host: the container
// stops with exit code 137 and stays (restart: unless-stopped does not
// bring back a container Docker counts as stopped by hand). It releases
// its ports.
func KillContainer(dir, host, name string) error {
	w := &world{dir: dir}
	if !w.containerExists(host, name) {
		return fmt.Errorf("Error response from daemon: No such container: %s", name)
	}
	return w.updateContainer(host, name, func(r *containerRecord) { r.Running, r.ExitCode = false, 137 })
}

// RemoveContainer is `docker rm -f NAME` on the simulated host.
func RemoveContainer(dir, host, name string) error {
	w := &world{dir: dir}
	if !w.containerExists(host, name) {
		return fmt.Errorf("Error response from daemon: No such container: %s", name)
	}
	return w.removeContainer(host, name)
}

// downMarker is the file that marks a simulated Docker host as not
// answering.
const downMarker = "down"

// hostDown reports whether host was taken down with SetHostDown.
func (w *world) hostDown(host string) bool {
	if w == nil {
		return false
	}
	_, err := os.Stat(filepath.Join(w.hostDir(host), downMarker))
	return err == nil
}

// SetHostDown makes the simulated Docker host stop answering (down) or
// answer again: every daemon call of the docker fake on it, and every
// command step whose DOCKER_HOST it is, then fails as with a dead host.
func SetHostDown(dir, host string, down bool) error {
	w := &world{dir: dir}
	marker := filepath.Join(w.hostDir(host), downMarker)
	if !down {
		if err := os.Remove(marker); err != nil && !os.IsNotExist(err) {
			return err
		}
		return nil
	}
	if err := os.MkdirAll(w.hostDir(host), 0o755); err != nil {
		return err
	}
	return os.WriteFile(marker, nil, 0o644)
}

// unreachable is the docker client's error for a daemon that does not
// answer (client.ErrorConnectionFailed's text).
func unreachable(host string) error {
	return fmt.Errorf("Cannot connect to the Docker daemon at %s. Is the docker daemon running?", host)
}
