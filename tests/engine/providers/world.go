package providers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// world simulates what a Docker daemon enforces and remembers between
// pulumi runs: container names are unique per host, a host port can be
// published by one running container only, and volumes outlive the
// resources that created them (a retained volume is found again by name).
// State lives in files under RCHA_LAB_WORLD so that every provider process
// (one per docker host, plus default providers) sees the same hosts.
type world struct{ dir string }

func newWorld() *world {
	d := os.Getenv("RCHA_LAB_WORLD")
	if d == "" {
		return nil
	}
	return &world{dir: d}
}

// publishedPort is one host-side port binding of a container.
type publishedPort struct {
	IP       string `json:"ip"`
	Port     int    `json:"port"`
	Protocol string `json:"protocol"`
}

type containerRecord struct {
	Name  string          `json:"name"`
	Ports []publishedPort `json:"ports"`
}

func (w *world) hostDir(host string) string {
	sum := sha256.Sum256([]byte(host))
	return filepath.Join(w.dir, hex.EncodeToString(sum[:8]))
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

// startContainer registers a running container on host, failing the way
// dockerd does when the name or a published port is taken.
func (w *world) startContainer(host, name string, ports []publishedPort) error {
	if w == nil {
		return nil
	}
	return w.locked(func() error {
		dir := filepath.Join(w.hostDir(host), "containers")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(dir, name+".json")); err == nil {
			return fmt.Errorf("docker host %s: Conflict. The container name \"/%s\" is already in use", host, name)
		}
		entries, err := os.ReadDir(dir)
		if err != nil {
			return err
		}
		for _, ent := range entries {
			b, err := os.ReadFile(filepath.Join(dir, ent.Name()))
			if err != nil {
				return err
			}
			var other containerRecord
			if err := json.Unmarshal(b, &other); err != nil {
				return fmt.Errorf("lab world %s: %w", ent.Name(), err)
			}
			for _, p := range ports {
				for _, q := range other.Ports {
					if overlaps(p, q) {
						return fmt.Errorf("docker host %s: container %s: Bind for %s:%d failed: port is already allocated (by %s)",
							host, name, p.IP, p.Port, other.Name)
					}
				}
			}
		}
		b, err := json.Marshal(containerRecord{Name: name, Ports: ports})
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".json"), b, 0o600)
	})
}

// removeContainer forgets a container; a missing one is not an error,
// like `docker rm -f` on an already removed container in the provider.
func (w *world) removeContainer(host, name string) error {
	if w == nil {
		return nil
	}
	return w.locked(func() error {
		err := os.Remove(filepath.Join(w.hostDir(host), "containers", name+".json"))
		if errors.Is(err, os.ErrNotExist) {
			return nil
		}
		return err
	})
}

// containerExists reports whether a container is registered on host.
func (w *world) containerExists(host, name string) bool {
	if w == nil {
		return true
	}
	_, err := os.Stat(filepath.Join(w.hostDir(host), "containers", name+".json"))
	return err == nil
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

// VolumeExists reports whether the simulated docker host holds the named
// volume in the world directory dir. Tests use it to show that retained
// data volumes survive scale-in and destroy.
func VolumeExists(dir, host, name string) bool {
	return (&world{dir: dir}).volumeExists(host, name)
}

// ContainerExists reports whether the simulated docker host runs the named
// container in the world directory dir.
func ContainerExists(dir, host, name string) bool {
	return (&world{dir: dir}).containerExists(host, name)
}
