// Package versions reads release versions from image tags and knows the
// order in which MongoDB releases must be upgraded through.
package versions

import (
	"fmt"
	"strconv"
	"strings"
)

// Version is a major.minor release (the patch level does not matter to any
// rule here).
type Version struct{ Major, Minor int }

// String is "major.minor", as MongoDB writes featureCompatibilityVersion.
func (v Version) String() string { return fmt.Sprintf("%d.%d", v.Major, v.Minor) }

// Less orders versions.
func (v Version) Less(o Version) bool {
	return v.Major < o.Major || v.Major == o.Major && v.Minor < o.Minor
}

// IsZero reports an unset version.
func (v Version) IsZero() bool { return v == Version{} }

// Parse reads "7.0", "7.0.16" or "8.2.1-noble".
func Parse(s string) (Version, error) {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) < 2 {
		return Version{}, fmt.Errorf("%q is not a major.minor version", s)
	}
	major, err1 := strconv.Atoi(parts[0])
	minor, err2 := strconv.Atoi(strings.SplitN(parts[1], "-", 2)[0])
	if err1 != nil || err2 != nil || major < 0 || minor < 0 {
		return Version{}, fmt.Errorf("%q is not a major.minor version", s)
	}
	return Version{major, minor}, nil
}

// FromImage reads major.minor from an image reference's tag. ok is false
// when the tag does not start with a version (a digest, a custom tag); an
// error means the image is not pinned at all.
func FromImage(ref string) (v Version, ok bool, err error) {
	if strings.Contains(ref, "@sha256:") {
		return Version{}, false, nil
	}
	tag := ""
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		tag = ref[i+1:]
	}
	if tag == "" || tag == "latest" {
		return Version{}, false, fmt.Errorf("%q is not pinned: give a version tag such as :7.0.16", ref)
	}
	v, err = Parse(tag)
	if err != nil {
		return Version{}, false, nil
	}
	return v, true, nil
}

// MongoReleases is the order in which a MongoDB replica set is upgraded:
// each release accepts only binaries and data of the one before it
// (featureCompatibilityVersion), so an upgrade goes through every one (see
// docs/facts.md).
var MongoReleases = []Version{{4, 4}, {5, 0}, {6, 0}, {7, 0}, {8, 0}, {8, 2}}

// MongoReleaseNames is MongoReleases as "major.minor" strings, the form
// the replica-set step is given.
func MongoReleaseNames() []string {
	out := make([]string, len(MongoReleases))
	for i, r := range MongoReleases {
		out[i] = r.String()
	}
	return out
}
