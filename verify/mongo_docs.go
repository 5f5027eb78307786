package verify

import (
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Member states reported by replSetGetStatus (the "state" field).
const (
	StatePrimary   = 1
	StateSecondary = 2
	StateArbiter   = 7
)

// Hello is the part of a `hello` reply the checks use.
type Hello struct {
	SetName           string   `bson:"setName"`
	SetVersion        int64    `bson:"setVersion"`
	IsWritablePrimary bool     `bson:"isWritablePrimary"`
	Secondary         bool     `bson:"secondary"`
	ArbiterOnly       bool     `bson:"arbiterOnly"`
	Primary           string   `bson:"primary"`
	Me                string   `bson:"me"`
	Hosts             []string `bson:"hosts"`
	Passives          []string `bson:"passives"`
	Arbiters          []string `bson:"arbiters"`
	OK                float64  `bson:"ok"`
}

// MemberStatus is one element of replSetGetStatus.members.
type MemberStatus struct {
	ID                   int       `bson:"_id"`
	Name                 string    `bson:"name"`
	Health               float64   `bson:"health"`
	State                int       `bson:"state"`
	StateStr             string    `bson:"stateStr"`
	OptimeDate           time.Time `bson:"optimeDate"`
	SyncSourceHost       string    `bson:"syncSourceHost"`
	ConfigVersion        int64     `bson:"configVersion"`
	Self                 bool      `bson:"self"`
	LastHeartbeatMessage string    `bson:"lastHeartbeatMessage"`
}

// ReplSetStatus is the part of a replSetGetStatus reply the checks use.
type ReplSetStatus struct {
	Set     string         `bson:"set"`
	Date    time.Time      `bson:"date"`
	MyState int            `bson:"myState"`
	Members []MemberStatus `bson:"members"`
	OK      float64        `bson:"ok"`
}

// MemberConfig is one element of the replica-set configuration's members.
type MemberConfig struct {
	ID                 int     `bson:"_id"`
	Host               string  `bson:"host"`
	ArbiterOnly        bool    `bson:"arbiterOnly"`
	Hidden             bool    `bson:"hidden"`
	Priority           float64 `bson:"priority"`
	Votes              int     `bson:"votes"`
	SecondaryDelaySecs int64   `bson:"secondaryDelaySecs"`
}

// ReplSetConfig is the replica-set configuration (replSetGetConfig.config).
type ReplSetConfig struct {
	ID      string         `bson:"_id"`
	Version int64          `bson:"version"`
	Term    int64          `bson:"term"`
	Members []MemberConfig `bson:"members"`
}

// Role is one role grant: a role name on a database.
type Role struct {
	Role string `bson:"role" json:"role"`
	DB   string `bson:"db" json:"db"`
}

// String renders the role as role@db.
func (r Role) String() string { return r.Role + "@" + r.DB }

// UserInfo is one element of a usersInfo reply.
type UserInfo struct {
	ID         string   `bson:"_id"`
	User       string   `bson:"user"`
	DB         string   `bson:"db"`
	Roles      []Role   `bson:"roles"`
	Mechanisms []string `bson:"mechanisms"`
}

// ParseHello decodes a raw hello reply.
func ParseHello(raw bson.Raw) (Hello, error) {
	var h Hello
	if err := decodeReply("hello", raw, &h); err != nil {
		return Hello{}, err
	}
	return h, nil
}

// ParseStatus decodes a raw replSetGetStatus reply.
func ParseStatus(raw bson.Raw) (ReplSetStatus, error) {
	var s ReplSetStatus
	if err := decodeReply("replSetGetStatus", raw, &s); err != nil {
		return ReplSetStatus{}, err
	}
	return s, nil
}

// ParseConfig decodes a raw replSetGetConfig reply and returns its config.
func ParseConfig(raw bson.Raw) (ReplSetConfig, error) {
	var reply struct {
		Config ReplSetConfig `bson:"config"`
	}
	if err := decodeReply("replSetGetConfig", raw, &reply); err != nil {
		return ReplSetConfig{}, err
	}
	return reply.Config, nil
}

// ParseUsersInfo decodes a raw usersInfo reply.
func ParseUsersInfo(raw bson.Raw) ([]UserInfo, error) {
	var reply struct {
		Users []UserInfo `bson:"users"`
	}
	if err := decodeReply("usersInfo", raw, &reply); err != nil {
		return nil, err
	}
	return reply.Users, nil
}

func decodeReply(command string, raw bson.Raw, into any) error {
	if len(raw) == 0 {
		return fmt.Errorf("decode %s reply: empty document", command)
	}
	if err := bson.Unmarshal(raw, into); err != nil {
		return fmt.Errorf("decode %s reply: %w", command, err)
	}
	return nil
}

// normHost normalises a "host:port" for comparison: lower case, and a missing
// port means 27017.
func normHost(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if h == "" {
		return h
	}
	if !strings.Contains(h, ":") || (strings.HasPrefix(h, "[") && strings.HasSuffix(h, "]")) {
		h += ":27017"
	}
	return h
}
