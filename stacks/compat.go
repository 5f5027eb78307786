package stacks

import (
	"fmt"
	"strings"

	"github.com/rocketchat-ha/rocketchat-ha/internal/versions"
)

// version is a major.minor pair read from an image tag.
type version = versions.Version

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
	{from: version{Major: 6, Minor: 0}, to: version{Major: 6, Minor: 99}, mongo: []version{{Major: 4, Minor: 4}, {Major: 5, Minor: 0}, {Major: 6, Minor: 0}}},
	{from: version{Major: 7, Minor: 0}, to: version{Major: 7, Minor: 12}, mongo: []version{{Major: 5, Minor: 0}, {Major: 6, Minor: 0}, {Major: 7, Minor: 0}}},
	{from: version{Major: 8, Minor: 0}, to: version{Major: 8, Minor: 1}, mongo: []version{{Major: 8, Minor: 2}}},
	{from: version{Major: 8, Minor: 2}, to: version{Major: -1, Minor: 0}, minMongo: version{Major: 8, Minor: 0}},
}

// minMongoWithMongosh is the first MongoDB whose official image ships mongosh.
var minMongoWithMongosh = version{Major: 6, Minor: 0}

// CheckImagePair rejects an unpinned image and a Rocket.Chat/MongoDB pair
// that the matrix says will not start. Tags that do not begin with a
// version (a digest, a custom tag) are not checked against the matrix.
func CheckImagePair(rocketchat, mongo string) error {
	rc, rcOK, err := versions.FromImage(rocketchat)
	if err != nil {
		return err
	}
	mg, mgOK, err := versions.FromImage(mongo)
	if err != nil {
		return err
	}
	if mgOK && mg.Less(minMongoWithMongosh) {
		return fmt.Errorf("%s is MongoDB %s; the healthcheck and the replica-set step need mongosh, which the images ship from %s on", mongo, mg, minMongoWithMongosh)
	}
	if !rcOK || !mgOK {
		return nil
	}
	for _, row := range Compatibility {
		if rc.Less(row.from) || (row.to.Major >= 0 && row.to.Less(rc)) {
			continue
		}
		if row.mongo == nil {
			if mg.Less(row.minMongo) {
				return fmt.Errorf("Rocket.Chat %s needs MongoDB %s or newer, %s is MongoDB %s", rc, row.minMongo, mongo, mg)
			}
			return nil
		}
		for _, ok := range row.mongo {
			if ok == mg {
				return nil
			}
		}
		return fmt.Errorf("Rocket.Chat %s runs on MongoDB %s, not on %s (%s)", rc, versionList(row.mongo), mg, mongo)
	}
	return fmt.Errorf("Rocket.Chat %s is not in the compatibility matrix (6.0 and later)", rc)
}

func versionList(vs []version) string {
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = v.String()
	}
	return strings.Join(s, ", ")
}
