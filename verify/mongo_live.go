package verify

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/connstring"
)

// UserCheck is a user whose roles are verified by logging in as that user and
// asking usersInfo about itself (any user may read its own entry, so no
// administrative credentials are needed).
type UserCheck struct {
	Expected ExpectedUser
	// Password logs in as the user; empty means use the mongoUrl's credentials
	// (only valid for the mongoUrl's own user).
	Password string
}

// MongoURLInfo is what the checks need from a MONGO_URL.
type MongoURLInfo struct {
	Hosts      []string
	Database   string
	ReplicaSet string
	Username   string
	AuthSource string
}

// ParseMongoURL extracts hosts, database, replica set, user and auth source
// from a MONGO_URL without contacting anything.
func ParseMongoURL(uri string) (MongoURLInfo, error) {
	cs, err := connstring.Parse(uri)
	if err != nil {
		return MongoURLInfo{}, fmt.Errorf("parse mongoUrl: %w", redactErr(err, uri))
	}
	info := MongoURLInfo{Hosts: cs.Hosts, Database: cs.Database, ReplicaSet: cs.ReplicaSet, Username: cs.Username, AuthSource: cs.AuthSource}
	if info.AuthSource == "" {
		info.AuthSource = info.Database
		if info.AuthSource == "" {
			info.AuthSource = "admin"
		}
	}
	return info, nil
}

// CheckMongoURL decides whether a MONGO_URL has what Rocket.Chat needs:
// every expected member, replicaSet= matching the set, authSource, and a
// database.
func CheckMongoURL(info MongoURLInfo, exp Expectation) []Finding {
	var out []Finding
	if info.ReplicaSet == "" {
		out = append(out, fail("mongo.url", "mongoUrl", "no replicaSet= parameter; Rocket.Chat needs it for change streams"))
	} else if info.ReplicaSet != exp.ReplicaSet {
		out = append(out, fail("mongo.url", "mongoUrl", "replicaSet=%s, but the set is expected to be %q", info.ReplicaSet, exp.ReplicaSet))
	}
	if info.Database == "" {
		out = append(out, fail("mongo.url", "mongoUrl", "no database in the path"))
	}
	listed := map[string]bool{}
	for _, h := range info.Hosts {
		listed[normHost(h)] = true
	}
	var missing []string
	for _, m := range exp.Members {
		if !listed[normHost(m)] {
			missing = append(missing, m)
		}
	}
	if len(missing) > 0 {
		out = append(out, fail("mongo.url", "mongoUrl", "does not list member(s) %s", strings.Join(missing, ", ")))
	}
	if len(out) == 0 {
		out = append(out, ok("mongo.url", "mongoUrl", "lists %d hosts, database %q, replicaSet=%s, authSource=%s", len(info.Hosts), info.Database, info.ReplicaSet, info.AuthSource))
	}
	return out
}

// MongoProbe runs the replica-set commands through the MongoDB driver.
type MongoProbe struct {
	// URL is the stack's mongoUrl output.
	URL string
	// Dialer connects to members (name mapping, SSH tunnel). Plain TCP when nil.
	Dialer options.ContextDialer
	// Timeout bounds server selection and each command; 20s when zero.
	Timeout time.Duration
}

func (p MongoProbe) timeout() time.Duration {
	if p.Timeout <= 0 {
		return 20 * time.Second
	}
	return p.Timeout
}

func (p MongoProbe) options() *options.ClientOptions {
	o := options.Client().ApplyURI(p.URL).
		SetServerSelectionTimeout(p.timeout()).
		SetConnectTimeout(p.timeout()).
		SetAppName("rcha-verify")
	if p.Dialer != nil {
		o.SetDialer(p.Dialer)
	}
	return o
}

// Check connects with the mongoUrl and runs hello, replSetGetStatus,
// replSetGetConfig and usersInfo, then hello on each expected member
// directly; it returns the findings of the decision functions.
func (p MongoProbe) Check(ctx context.Context, exp Expectation, users []UserCheck) []Finding {
	info, err := ParseMongoURL(p.URL)
	if err != nil {
		return []Finding{fail("mongo.url", "mongoUrl", "%v", err)}
	}
	if exp.ReplicaSet == "" {
		exp.ReplicaSet = info.ReplicaSet
	}
	out := CheckMongoURL(info, exp)

	client, err := mongo.Connect(p.options())
	if err != nil {
		return append(out, fail("mongo.connect", "mongoUrl", "%v", redactErr(err, p.URL)))
	}
	defer disconnect(client)

	admin := client.Database("admin")
	if raw, err := p.run(ctx, admin, bson.D{{Key: "hello", Value: 1}}); err != nil {
		out = append(out, fail("mongo.hello", "mongoUrl", "%v", redactErr(err, p.URL)))
		return append(out, p.memberHellos(ctx, exp)...)
	} else if h, err := ParseHello(raw); err != nil {
		out = append(out, fail("mongo.hello", "mongoUrl", "%v", err))
	} else {
		out = append(out, CheckHello("mongoUrl", h, exp)...)
	}

	if raw, err := p.run(ctx, admin, bson.D{{Key: "replSetGetStatus", Value: 1}}); err != nil {
		out = append(out, fail("replset.status", exp.ReplicaSet, "replSetGetStatus: %v", redactErr(err, p.URL)))
	} else if s, err := ParseStatus(raw); err != nil {
		out = append(out, fail("replset.status", exp.ReplicaSet, "%v", err))
	} else {
		out = append(out, CheckStatus(s, exp)...)
	}

	if raw, err := p.run(ctx, admin, bson.D{{Key: "replSetGetConfig", Value: 1}}); err != nil {
		out = append(out, fail("replset.config", exp.ReplicaSet, "replSetGetConfig: %v", redactErr(err, p.URL)))
	} else if c, err := ParseConfig(raw); err != nil {
		out = append(out, fail("replset.config", exp.ReplicaSet, "%v", err))
	} else {
		out = append(out, CheckConfig(c, exp)...)
	}

	for _, u := range users {
		out = append(out, p.checkUser(ctx, client, info, u))
	}
	return append(out, p.memberHellos(ctx, exp)...)
}

func (p MongoProbe) checkUser(ctx context.Context, shared *mongo.Client, info MongoURLInfo, u UserCheck) Finding {
	client := shared
	if u.Password != "" || u.Expected.User != info.Username {
		if u.Password == "" {
			return skip("mongo.user", u.Expected.Name(), "no password known to log in as this user; its roles were not checked")
		}
		o := p.options().SetAuth(options.Credential{Username: u.Expected.User, Password: u.Password, AuthSource: u.Expected.DB})
		c, err := mongo.Connect(o)
		if err != nil {
			return fail("mongo.user", u.Expected.Name(), "connect as %s: %v", u.Expected.User, err)
		}
		defer disconnect(c)
		client = c
	}
	cmd := bson.D{{Key: "usersInfo", Value: bson.D{{Key: "user", Value: u.Expected.User}, {Key: "db", Value: u.Expected.DB}}}}
	raw, err := p.run(ctx, client.Database(u.Expected.DB), cmd)
	if err != nil {
		return fail("mongo.user", u.Expected.Name(), "usersInfo as %s: %v", u.Expected.User, redactErr(err, p.URL))
	}
	found, err := ParseUsersInfo(raw)
	if err != nil {
		return fail("mongo.user", u.Expected.Name(), "%v", err)
	}
	return CheckUser(u.Expected, found)
}

// memberHellos runs hello on each expected member over a direct connection,
// proving each is reachable (through the dialer) and in the right set.
func (p MongoProbe) memberHellos(ctx context.Context, exp Expectation) []Finding {
	var out []Finding
	for _, host := range exp.Members {
		o := options.Client().SetHosts([]string{host}).SetDirect(true).
			SetServerSelectionTimeout(p.timeout()).SetConnectTimeout(p.timeout()).SetAppName("rcha-verify")
		if p.Dialer != nil {
			o.SetDialer(p.Dialer)
		}
		c, err := mongo.Connect(o)
		if err != nil {
			out = append(out, fail("mongo.reach", host, "%v", err))
			continue
		}
		raw, err := p.run(ctx, c.Database("admin"), bson.D{{Key: "hello", Value: 1}})
		disconnect(c)
		if err != nil {
			out = append(out, fail("mongo.reach", host, "hello: %v", err))
			continue
		}
		h, err := ParseHello(raw)
		if err != nil {
			out = append(out, fail("mongo.reach", host, "%v", err))
			continue
		}
		for _, f := range CheckHello(host, h, exp) {
			f.Check = "mongo.reach"
			out = append(out, f)
		}
	}
	return out
}

func (p MongoProbe) run(ctx context.Context, db *mongo.Database, cmd bson.D) (bson.Raw, error) {
	ctx, cancel := context.WithTimeout(ctx, p.timeout())
	defer cancel()
	return db.RunCommand(ctx, cmd).Raw()
}

func disconnect(c *mongo.Client) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = c.Disconnect(ctx)
}

// redactErr removes the URL's password from an error message.
func redactErr(err error, uri string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	if cs, perr := connstring.Parse(uri); perr == nil && cs.Password != "" {
		if !strings.Contains(msg, cs.Password) {
			return err
		}
		return errors.New(strings.ReplaceAll(msg, cs.Password, "[secret]"))
	}
	return err
}
