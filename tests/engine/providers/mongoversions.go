package providers

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/rocketchat-ha/rocketchat-ha/internal/versions"
)

// This file is a labelled MODEL of the MongoDB version rules of the
// replica-set steps (internal/replicaset/reconcile.js, run by
// components/replicaset-step.sh; the reconciler's own rules are tested
// against a simulation in tests/mongosh). The fake never asks a mongod: a
// member's binary release is the tag of its container's image as the
// world recorded it ("mongo:7.0.16" is 7.0), and the replica set's
// featureCompatibilityVersion (FCV) is kept in the world, set to the
// target release when the full step initiates the set.
//
// The prune step (modes prune and force; it runs before any mongod
// container changes) refuses with exit status 1, writing nothing, when
// the target release (RCHA_DESIRED's mongoVersion, in the order of
// mongoReleases):
//   - skips a release relative to a running member: it comes after
//     next(binary);
//   - is past next(FCV);
//   - is older than FCV.
//
// The full step with featureCompatibility "auto" raises FCV to the target
// once every node's mongod container runs the target release; "manual"
// leaves FCV alone. An unknown target ("") or a release not in the list
// is not checked.

// versionDoc is what the model reads of RCHA_DESIRED.
type versionDoc struct {
	MongoVersion         string   `json:"mongoVersion"`
	MongoReleases        []string `json:"mongoReleases"`
	FeatureCompatibility string   `json:"featureCompatibility"`
}

func versionDocOf(env map[string]string) versionDoc {
	var d versionDoc
	_ = json.Unmarshal([]byte(env["RCHA_DESIRED"]), &d)
	if len(d.MongoReleases) == 0 {
		d.MongoReleases = versions.MongoReleaseNames()
	}
	return d
}

// releaseOfImage is the "major.minor" release of an image name, "" when
// its tag has no version.
func releaseOfImage(image string) string {
	v, ok, err := versions.FromImage(image)
	if !ok || err != nil {
		return ""
	}
	return v.String()
}

// nextRelease is the release after r in releases, "" when there is none
// or r is not listed.
func nextRelease(releases []string, r string) string {
	i := slices.Index(releases, r)
	if i < 0 || i+1 >= len(releases) {
		return ""
	}
	return releases[i+1]
}

// checkUpgrade applies the prune step's three rules; "" means allowed.
// Only running members count for the first rule (the reconciler reads
// each member's buildInfo); a mongod in no replica set is not one.
func (w *world) checkUpgrade(d versionDoc, nodes []stepNode, members []string, fcv string) string {
	rel, target := d.MongoReleases, d.MongoVersion
	ti := slices.Index(rel, target)
	if target == "" || ti < 0 {
		return ""
	}
	for _, n := range nodes {
		rec, ok := w.container(n.Host, n.Container)
		if w.hostDown(n.Host) || !ok || !rec.Running || !slices.Contains(members, n.memberHost()) {
			continue
		}
		bin := releaseOfImage(rec.ImageName)
		bi := slices.Index(rel, bin)
		if bi >= 0 && ti > bi+1 {
			return fmt.Sprintf("%s runs MongoDB %s and the target is %s: a replica set upgrades one release at a time; "+
				"upgrade to %s first", n.Name, bin, target, nextRelease(rel, bin))
		}
	}
	if fi := slices.Index(rel, fcv); fi >= 0 {
		switch {
		case ti > fi+1:
			return fmt.Sprintf("the featureCompatibilityVersion is %s and the target is %s: set it to %s "+
				"(go through MongoDB %s) first", fcv, target, nextRelease(rel, fcv), nextRelease(rel, fcv))
		case ti < fi:
			return fmt.Sprintf("the featureCompatibilityVersion is %s and the target %s is older: "+
				"MongoDB %s cannot run data of %s", fcv, target, target, fcv)
		}
	}
	return ""
}

// allRunRelease reports whether every node's mongod container runs
// release r (a host down, an absent or stopped container: no).
func (w *world) allRunRelease(nodes []stepNode, r string) bool {
	for _, n := range nodes {
		rec, ok := w.container(n.Host, n.Container)
		if w.hostDown(n.Host) || !ok || !rec.Running || releaseOfImage(rec.ImageName) != r {
			return false
		}
	}
	return true
}

func (w *world) fcvPath(set string) string {
	return filepath.Join(w.dir, "replicasets", strings.ReplaceAll(set, string(filepath.Separator), "_")+".fcv")
}

// readFCV returns the set's featureCompatibilityVersion, "" when unknown.
func (w *world) readFCV(set string) (string, error) {
	b, err := os.ReadFile(w.fcvPath(set))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return strings.TrimSpace(string(b)), err
}

func (w *world) writeFCV(set, fcv string) error {
	if err := os.MkdirAll(filepath.Dir(w.fcvPath(set)), 0o700); err != nil {
		return err
	}
	return os.WriteFile(w.fcvPath(set), []byte(fcv), 0o600)
}

// ReplicaSetFCV returns the simulated replica set's featureCompatibility
// Version in world directory dir ("" when never set).
func ReplicaSetFCV(dir, set string) string {
	v, _ := (&world{dir: dir}).readFCV(set)
	return v
}

// SetReplicaSetFCV sets the simulated replica set's featureCompatibility
// Version, as an operator's setFeatureCompatibilityVersion would.
func SetReplicaSetFCV(dir, set, fcv string) error {
	w := &world{dir: dir}
	return w.locked(func() error { return w.writeFCV(set, fcv) })
}
