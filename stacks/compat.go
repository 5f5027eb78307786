package stacks

import (
	"fmt"
	"strconv"
	"strings"
)

// version is a major.minor pair read from an image tag.
type version struct{ major, minor int }

func (v version) String() string { return fmt.Sprintf("%d.%d", v.major, v.minor) }

func (v version) less(o version) bool {
	return v.major < o.major || v.major == o.major && v.minor < o.minor
}

// compatRow is one line of the Rocket.Chat/MongoDB matrix: each release's
// "Engine versions" in its notes, and compatibleMongoVersions at
// https://releases.rocket.chat/<version>/info (see docs/facts.md).
type compatRow struct {
	from, to version   // Rocket.Chat versions, inclusive; to.major<0: no upper bound
	mongo    []version // accepted MongoDB versions; nil with minMongo
	minMongo version   // with mongo == nil: this MongoDB or newer
}

// Compatibility is the Rocket.Chat/MongoDB matrix the stack enforces.
var Compatibility = []compatRow{
	{from: version{6, 0}, to: version{6, 99}, mongo: []version{{4, 4}, {5, 0}, {6, 0}}},
	{from: version{7, 0}, to: version{7, 12}, mongo: []version{{5, 0}, {6, 0}, {7, 0}}},
	{from: version{8, 0}, to: version{8, 1}, mongo: []version{{8, 2}}},
	{from: version{8, 2}, to: version{-1, 0}, minMongo: version{8, 0}},
}

// minMongoWithMongosh is the first MongoDB whose official image ships mongosh.
var minMongoWithMongosh = version{6, 0}

// CheckImagePair rejects an unpinned image and a Rocket.Chat/MongoDB pair
// that the matrix says will not start. Tags that do not begin with a
// version (a digest, a custom tag) are not checked against the matrix.
func CheckImagePair(rocketchat, mongo string) error {
	rc, rcOK, err := imageVersion(rocketchat)
	if err != nil {
		return err
	}
	mg, mgOK, err := imageVersion(mongo)
	if err != nil {
		return err
	}
	if mgOK && mg.less(minMongoWithMongosh) {
		return fmt.Errorf("%s is MongoDB %s; the healthcheck and the replica-set step need mongosh, which the images ship from %s on", mongo, mg, minMongoWithMongosh)
	}
	if !rcOK || !mgOK {
		return nil
	}
	for _, row := range Compatibility {
		if rc.less(row.from) || (row.to.major >= 0 && row.to.less(rc)) {
			continue
		}
		if row.mongo == nil {
			if mg.less(row.minMongo) {
				return fmt.Errorf("Rocket.Chat %s needs MongoDB %s or newer, %s is MongoDB %s", rc, row.minMongo, mongo, mg)
			}
			return nil
		}
		for _, ok := range row.mongo {
			if ok == mg {
				return nil
			}
		}
		return fmt.Errorf("Rocket.Chat %s runs on MongoDB %s, not on %s (%s)", rc, versions(row.mongo), mg, mongo)
	}
	return fmt.Errorf("Rocket.Chat %s is not in the compatibility matrix (6.0 and later)", rc)
}

func versions(vs []version) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	return strings.Join(s, ", ")
}

// imageVersion reads major.minor from an image reference's tag. ok is false
// when the tag does not start with a version; an error means the image is
// not pinned at all.
func imageVersion(ref string) (v version, ok bool, err error) {
	if strings.Contains(ref, "@sha256:") {
		return version{}, false, nil
	}
	tag := ""
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		tag = ref[i+1:]
	}
	if tag == "" || tag == "latest" {
		return version{}, false, fmt.Errorf("%q is not pinned: give a version tag such as :7.0.16", ref)
	}
	parts := strings.SplitN(tag, ".", 3)
	if len(parts) < 2 {
		return version{}, false, nil
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.SplitN(parts[1], "-", 2)[0])
	if err1 != nil || err2 != nil {
		return version{}, false, nil
	}
	return version{major, minor}, true, nil
}
