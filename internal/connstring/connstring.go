// Package connstring builds and checks the MongoDB connection strings of
// the cluster (MONGO_URL, MONGO_OPLOG_URL), escaping users and passwords.
package connstring

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// MongoURL describes one MongoDB connection string. All of the project's
// connection strings are built by its String method, so escaping and
// checking happen in one place.
type MongoURL struct {
	User       string
	Password   string
	Hosts      []string // host:port of every member
	Database   string
	AuthSource string
	ReplicaSet string
	// Majority adds w=majority, as the seed's MONGO_URL does.
	Majority bool
}

// String renders the URL, escaping user and password, and checks the result
// with the MongoDB driver's parser.
func (m MongoURL) String() (string, error) {
	if len(m.Hosts) == 0 {
		return "", fmt.Errorf("mongo url for %q: no hosts", m.User)
	}
	q := []string{}
	if m.AuthSource != "" {
		q = append(q, "authSource="+url.QueryEscape(m.AuthSource))
	}
	if m.ReplicaSet != "" {
		q = append(q, "replicaSet="+url.QueryEscape(m.ReplicaSet))
	}
	if m.Majority {
		q = append(q, "w=majority")
	}
	var b strings.Builder
	b.WriteString("mongodb://")
	if m.User != "" {
		b.WriteString(escapeUserinfo(m.User))
		b.WriteString(":")
		// QueryEscape would turn spaces into '+', which the driver reads
		// back as '+'; PathEscape leaves ':' '@' and '/' alone. Escape
		// every byte outside the unreserved set instead.
		b.WriteString(escapeUserinfo(m.Password))
		b.WriteString("@")
	}
	b.WriteString(strings.Join(m.Hosts, ","))
	b.WriteString("/")
	b.WriteString(url.PathEscape(m.Database))
	if len(q) > 0 {
		b.WriteString("?")
		b.WriteString(strings.Join(q, "&"))
	}
	s := b.String()
	cs, err := connstring.ParseAndValidate(s)
	if err != nil {
		return "", fmt.Errorf("mongo url for user %q: %w", m.User, redactErr(err, m.Password))
	}
	if cs.Username != m.User || cs.Password != m.Password || cs.Database != m.Database ||
		cs.ReplicaSet != m.ReplicaSet || len(cs.Hosts) != len(m.Hosts) {
		return "", fmt.Errorf("mongo url for user %q: the driver reads back different values", m.User)
	}
	return s, nil
}

// escapeUserinfo percent-encodes every byte that is not unreserved
// (RFC 3986), so any password survives a round trip through the driver.
func escapeUserinfo(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteString("%" + strings.ToUpper(strconv.FormatInt(int64(c)|0x100, 16)[1:]))
	}
	return b.String()
}

// redactErr keeps a password out of an error message.
func redactErr(err error, secret string) error {
	if secret == "" {
		return err
	}
	msg := err.Error()
	for _, s := range []string{secret, escapeUserinfo(secret)} {
		msg = strings.ReplaceAll(msg, s, "[secret]")
	}
	return fmt.Errorf("%s", msg)
}
