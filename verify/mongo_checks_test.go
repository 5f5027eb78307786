package verify

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
)

// The replies below have the shape and field types a MongoDB 7/8 server
// sends (relaxed extended JSON, numbers typed as the server types them:
// health and priority are doubles, state and votes int32, optimes timestamps
// plus dates). They are decoded with the same Parse* functions the live
// probe uses.

var t0 = time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)

func extJSON(t *testing.T, doc string) bson.Raw {
	t.Helper()
	var d bson.D
	require.NoError(t, bson.UnmarshalExtJSON([]byte(doc), false, &d), "parse test document:\n%s", doc)
	raw, err := bson.Marshal(d)
	require.NoError(t, err)
	return raw
}

type memberRow struct {
	id     int
	name   string
	state  int
	health float64
	optime time.Time
	self   bool
	hbMsg  string
}

func stateStr(state int) string {
	switch state {
	case 1:
		return "PRIMARY"
	case 2:
		return "SECONDARY"
	case 7:
		return "ARBITER"
	case 0:
		return "STARTUP"
	case 5:
		return "STARTUP2"
	case 3:
		return "RECOVERING"
	default:
		return "(not reachable/healthy)"
	}
}

func statusDoc(t *testing.T, set string, myState int, members ...memberRow) bson.Raw {
	t.Helper()
	var ms []string
	for _, m := range members {
		ts := m.optime.Unix()
		tm := "1"
		if m.optime.Unix() <= 0 {
			ts, tm = 0, "-1"
		}
		optime := fmt.Sprintf(`{"ts": {"$timestamp": {"t": %d, "i": 1}}, "t": {"$numberLong": "%s"}}`, ts, tm)
		date := m.optime.UTC().Format(time.RFC3339Nano)
		common := fmt.Sprintf(`"_id": %d, "name": %q, "health": {"$numberDouble": "%g"}, "state": %d, "stateStr": %q,
			"uptime": 8123, "optime": %s, "optimeDate": {"$date": %q},
			"lastAppliedWallTime": {"$date": %q}, "lastDurableWallTime": {"$date": %q},
			"syncSourceHost": "", "syncSourceId": -1, "infoMessage": "",
			"configVersion": 5, "configTerm": 1`,
			m.id, m.name, m.health, m.state, stateStr(m.state), optime, date, date, date)
		if m.self {
			ms = append(ms, fmt.Sprintf(`{%s, "self": true, "lastHeartbeatMessage": ""}`, common))
			continue
		}
		ms = append(ms, fmt.Sprintf(`{%s, "optimeDurable": %s, "optimeDurableDate": {"$date": %q},
			"lastHeartbeat": {"$date": "2026-11-28T12:00:01Z"}, "lastHeartbeatRecv": {"$date": "2026-11-28T12:00:01Z"},
			"pingMs": {"$numberLong": "0"}, "lastHeartbeatMessage": %q}`, common, optime, date, m.hbMsg))
	}
	doc := fmt.Sprintf(`{
		"set": %q, "date": {"$date": "2026-11-28T12:00:02Z"}, "myState": %d, "term": {"$numberLong": "1"},
		"syncSourceHost": "", "syncSourceId": -1, "heartbeatIntervalMillis": {"$numberLong": "2000"},
		"majorityVoteCount": 2, "writeMajorityCount": 2, "votingMembersCount": 3, "writableVotingMembersCount": 3,
		"optimes": {"lastCommittedOpTime": {"ts": {"$timestamp": {"t": 1796040000, "i": 1}}, "t": {"$numberLong": "1"}}},
		"members": [%s],
		"ok": 1.0,
		"$clusterTime": {"clusterTime": {"$timestamp": {"t": 1796040000, "i": 1}}, "signature": {"hash": {"$binary": {"base64": "AAAAAAAAAAAAAAAAAAAAAAAAAAA=", "subType": "00"}}, "keyId": {"$numberLong": "0"}}},
		"operationTime": {"$timestamp": {"t": 1796040000, "i": 1}}
	}`, set, myState, strings.Join(ms, ",\n"))
	return extJSON(t, doc)
}

type cfgRow struct {
	id       int
	host     string
	votes    int
	priority float64
	arbiter  bool
}

func configDoc(t *testing.T, set string, members ...cfgRow) bson.Raw {
	t.Helper()
	var ms []string
	for _, m := range members {
		ms = append(ms, fmt.Sprintf(`{"_id": %d, "host": %q, "arbiterOnly": %t, "buildIndexes": true, "hidden": false,
			"priority": {"$numberDouble": "%g"}, "tags": {}, "secondaryDelaySecs": {"$numberLong": "0"}, "votes": %d}`,
			m.id, m.host, m.arbiter, m.priority, m.votes))
	}
	doc := fmt.Sprintf(`{"config": {"_id": %q, "version": 5, "term": 1, "members": [%s], "protocolVersion": {"$numberLong": "1"},
		"writeConcernMajorityJournalDefault": true,
		"settings": {"chainingAllowed": true, "heartbeatIntervalMillis": 2000, "heartbeatTimeoutSecs": 10, "electionTimeoutMillis": 10000,
			"catchUpTimeoutMillis": -1, "catchUpTakeoverDelayMillis": 30000, "getLastErrorModes": {},
			"getLastErrorDefaults": {"w": 1, "wtimeout": 0}, "replicaSetId": {"$oid": "67485f0c1a2b3c4d5e6f7081"}}},
		"ok": 1.0}`, set, strings.Join(ms, ",\n"))
	return extJSON(t, doc)
}

func usersDoc(t *testing.T, users ...string) bson.Raw {
	t.Helper()
	return extJSON(t, fmt.Sprintf(`{"users": [%s], "ok": 1.0}`, strings.Join(users, ",")))
}

func userJSON(user, db string, roles ...Role) string {
	var rs []string
	for _, r := range roles {
		rs = append(rs, fmt.Sprintf(`{"role": %q, "db": %q}`, r.Role, r.DB))
	}
	return fmt.Sprintf(`{"_id": "%s.%s", "userId": {"$binary": {"base64": "3q2+796tvu/erb7v3q2+7w==", "subType": "04"}},
		"user": %q, "db": %q, "roles": [%s], "mechanisms": ["SCRAM-SHA-1", "SCRAM-SHA-256"]}`,
		db, user, user, db, strings.Join(rs, ","))
}

func helloDoc(t *testing.T, set, me, primary string, writable bool) bson.Raw {
	t.Helper()
	setField := ""
	if set != "" {
		setField = fmt.Sprintf(`"setName": %q, "setVersion": 5, "hosts": ["a:27017", "b:27017", "c:27017"], "primary": %q, "me": %q,`, set, primary, me)
		if primary == "" {
			setField = fmt.Sprintf(`"setName": %q, "setVersion": 5, "hosts": ["a:27017", "b:27017", "c:27017"], "me": %q,`, set, me)
		}
	}
	return extJSON(t, fmt.Sprintf(`{
		"topologyVersion": {"processId": {"$oid": "67485f0c1a2b3c4d5e6f7080"}, "counter": {"$numberLong": "6"}},
		%s
		"isWritablePrimary": %t, "secondary": %t,
		"maxBsonObjectSize": 16777216, "maxMessageSizeBytes": 48000000, "maxWriteBatchSize": 100000,
		"localTime": {"$date": "2026-11-28T12:00:02Z"}, "logicalSessionTimeoutMinutes": 30, "connectionId": 42,
		"minWireVersion": 0, "maxWireVersion": 25, "readOnly": false, "ok": 1.0}`, setField, writable, !writable))
}

var (
	expect3 = Expectation{ReplicaSet: "rs0", Members: []string{"a:27017", "b:27017", "c:27017"}, MaxLag: 10 * time.Second}
	healthy = []memberRow{
		{0, "a:27017", 1, 1, t0, true, ""},
		{1, "b:27017", 2, 1, t0.Add(-1 * time.Second), false, ""},
		{2, "c:27017", 2, 1, t0, false, ""},
	}
	cfg3 = []cfgRow{{0, "a:27017", 1, 1, false}, {1, "b:27017", 1, 1, false}, {2, "c:27017", 1, 1, false}}
)

func byStatus(fs []Finding, s Status) []Finding {
	var out []Finding
	for _, f := range fs {
		if f.Status == s {
			out = append(out, f)
		}
	}
	return out
}

func find(fs []Finding, check, target string) (Finding, bool) {
	for _, f := range fs {
		if f.Check == check && f.Target == target {
			return f, true
		}
	}
	return Finding{}, false
}

func mustStatus(t *testing.T, raw bson.Raw) ReplSetStatus {
	t.Helper()
	s, err := ParseStatus(raw)
	require.NoError(t, err)
	return s
}

func TestParseRealShapedReplies(t *testing.T) {
	s := mustStatus(t, statusDoc(t, "rs0", 1, healthy...))
	require.Len(t, s.Members, 3)
	assert.Equal(t, "rs0", s.Set)
	assert.Equal(t, 1.0, s.Members[1].Health)
	assert.Equal(t, "SECONDARY", s.Members[1].StateStr)
	assert.True(t, s.Members[0].Self)
	assert.Equal(t, t0.Add(-time.Second), s.Members[1].OptimeDate.UTC())

	c, err := ParseConfig(configDoc(t, "rs0", cfg3...))
	require.NoError(t, err)
	assert.Equal(t, "rs0", c.ID)
	assert.Equal(t, int64(5), c.Version)
	require.Len(t, c.Members, 3)
	assert.Equal(t, 1, c.Members[2].Votes)
	assert.Equal(t, 1.0, c.Members[2].Priority)

	h, err := ParseHello(helloDoc(t, "rs0", "a:27017", "a:27017", true))
	require.NoError(t, err)
	assert.Equal(t, "rs0", h.SetName)
	assert.True(t, h.IsWritablePrimary)
	assert.Equal(t, []string{"a:27017", "b:27017", "c:27017"}, h.Hosts)

	us, err := ParseUsersInfo(usersDoc(t, userJSON("rocket", "admin", Role{"readWrite", "rocketchat"}, Role{"clusterMonitor", "admin"})))
	require.NoError(t, err)
	require.Len(t, us, 1)
	assert.Equal(t, "admin.rocket", us[0].ID)
	assert.Equal(t, []Role{{"readWrite", "rocketchat"}, {"clusterMonitor", "admin"}}, us[0].Roles)

	_, err = ParseStatus(nil)
	assert.ErrorContains(t, err, "replSetGetStatus")
}

func TestHealthy(t *testing.T) {
	var fs []Finding
	fs = append(fs, CheckHello("mongoUrl", mustHello(t, helloDoc(t, "rs0", "a:27017", "a:27017", true)), expect3)...)
	fs = append(fs, CheckStatus(mustStatus(t, statusDoc(t, "rs0", 1, healthy...)), expect3)...)
	c, err := ParseConfig(configDoc(t, "rs0", cfg3...))
	require.NoError(t, err)
	fs = append(fs, CheckConfig(c, expect3)...)
	us, err := ParseUsersInfo(usersDoc(t, userJSON("rocket", "admin", Role{"clusterMonitor", "admin"}, Role{"readWrite", "rocketchat"})))
	require.NoError(t, err)
	fs = append(fs, CheckUser(RocketUser("rocket", "admin", "rocketchat"), us))

	assert.Empty(t, byStatus(fs, StatusFail), "healthy set must not fail")
	assert.Empty(t, byStatus(fs, StatusWarn))
	p, found := find(fs, "replset.primary", "a:27017")
	require.True(t, found)
	assert.Equal(t, StatusOK, p.Status)
	for _, m := range expect3.Members {
		f, found := find(fs, "replset.member", m)
		require.True(t, found, m)
		assert.Equal(t, StatusOK, f.Status, m)
		lag, found := find(fs, "replset.lag", m)
		require.True(t, found, "lag reported for %s", m)
		assert.Equal(t, StatusOK, lag.Status)
	}
	lagB, _ := find(fs, "replset.lag", "b:27017")
	assert.Equal(t, "1s behind the primary", lagB.Message)
	v, _ := find(fs, "replset.voters", "rs0")
	assert.Equal(t, StatusOK, v.Status)
	assert.Contains(t, v.Message, "3 voting of 3")
}

func mustHello(t *testing.T, raw bson.Raw) Hello {
	t.Helper()
	h, err := ParseHello(raw)
	require.NoError(t, err)
	return h
}

func TestNoPrimary(t *testing.T) {
	// Two of three members down: the survivor stays SECONDARY, no primary.
	epoch := time.Unix(0, 0)
	s := mustStatus(t, statusDoc(t, "rs0", 2,
		memberRow{0, "a:27017", 8, 0, epoch, false, "Error connecting to a:27017 :: caused by :: Connection refused"},
		memberRow{1, "b:27017", 2, 1, t0, true, ""},
		memberRow{2, "c:27017", 8, 0, epoch, false, "Error connecting to c:27017 :: caused by :: Connection refused"},
	))
	fs := CheckStatus(s, expect3)
	p, found := find(fs, "replset.primary", "rs0")
	require.True(t, found)
	assert.Equal(t, StatusFail, p.Status)
	assert.Contains(t, p.Message, "no PRIMARY")
	assert.Contains(t, p.Message, "a:27017=(not reachable/healthy)")

	a, _ := find(fs, "replset.member", "a:27017")
	assert.Equal(t, StatusFail, a.Status)
	assert.Contains(t, a.Message, "Connection refused")
	b, _ := find(fs, "replset.member", "b:27017")
	assert.Equal(t, StatusOK, b.Status)
	lag, found := find(fs, "replset.lag", "rs0")
	require.True(t, found)
	assert.Equal(t, StatusSkip, lag.Status)
	assert.Len(t, byStatus(fs, StatusFail), 3)

	h := CheckHello("mongoUrl", mustHello(t, helloDoc(t, "rs0", "b:27017", "", false)), expect3)
	require.Len(t, h, 1)
	assert.Equal(t, StatusFail, h[0].Status)
	assert.Contains(t, h[0].Message, "knows no primary")
}

func TestTwoPrimaries(t *testing.T) {
	s := mustStatus(t, statusDoc(t, "rs0", 1,
		memberRow{0, "a:27017", 1, 1, t0, true, ""},
		memberRow{1, "b:27017", 1, 1, t0, false, ""},
		memberRow{2, "c:27017", 2, 1, t0, false, ""},
	))
	p, found := find(CheckStatus(s, expect3), "replset.primary", "rs0")
	require.True(t, found)
	assert.Equal(t, StatusFail, p.Status)
	assert.Contains(t, p.Message, "2 members claim PRIMARY: a:27017, b:27017")
}

func TestLagging(t *testing.T) {
	s := mustStatus(t, statusDoc(t, "rs0", 1,
		memberRow{0, "a:27017", 1, 1, t0, true, ""},
		memberRow{1, "b:27017", 2, 1, t0.Add(-45 * time.Second), false, ""},
		memberRow{2, "c:27017", 2, 1, t0.Add(-9 * time.Second), false, ""},
	))
	fs := CheckStatus(s, expect3)
	b, _ := find(fs, "replset.lag", "b:27017")
	assert.Equal(t, StatusFail, b.Status)
	assert.Equal(t, "45s behind the primary (limit 10s)", b.Message)
	c, _ := find(fs, "replset.lag", "c:27017")
	assert.Equal(t, StatusOK, c.Status)
	assert.Len(t, byStatus(fs, StatusFail), 1, "only the lag of b fails")

	// Default limit applies when MaxLag is unset.
	e := expect3
	e.MaxLag = 0
	b, _ = find(CheckStatus(s, e), "replset.lag", "b:27017")
	assert.Contains(t, b.Message, "limit 10s")
}

func TestMissingMember(t *testing.T) {
	s := mustStatus(t, statusDoc(t, "rs0", 1, healthy[0], healthy[1]))
	fs := CheckStatus(s, expect3)
	c, found := find(fs, "replset.member", "c:27017")
	require.True(t, found)
	assert.Equal(t, StatusFail, c.Status)
	assert.Equal(t, "expected member is not in the replica set (members: a:27017, b:27017)", c.Message)
	assert.Len(t, byStatus(fs, StatusFail), 1)

	// A member still in initial sync (STARTUP2) is not yet healthy.
	s = mustStatus(t, statusDoc(t, "rs0", 1, healthy[0], healthy[1], memberRow{2, "c:27017", 5, 1, time.Unix(0, 0), false, ""}))
	c, _ = find(CheckStatus(s, expect3), "replset.member", "c:27017")
	assert.Equal(t, StatusFail, c.Status)
	assert.Contains(t, c.Message, "STARTUP2")

	// An extra member that the stack does not know about is a warning.
	e := expect3
	e.Members = []string{"a:27017", "b:27017"}
	w, found := find(CheckStatus(mustStatus(t, statusDoc(t, "rs0", 1, healthy...)), e), "replset.member", "c:27017")
	require.True(t, found)
	assert.Equal(t, StatusWarn, w.Status)

	// The URL must list every member too.
	urlFs := CheckMongoURL(MongoURLInfo{Hosts: []string{"a:27017", "b:27017"}, Database: "rocketchat", ReplicaSet: "rs0", AuthSource: "admin"}, expect3)
	require.Len(t, urlFs, 1)
	assert.Equal(t, StatusFail, urlFs[0].Status)
	assert.Contains(t, urlFs[0].Message, "c:27017")
}

func TestWrongSetName(t *testing.T) {
	s := mustStatus(t, statusDoc(t, "rs1", 1, healthy...))
	n, _ := find(CheckStatus(s, expect3), "replset.name", "rs1")
	assert.Equal(t, StatusFail, n.Status)
	h := CheckHello("a:27017", mustHello(t, helloDoc(t, "rs1", "a:27017", "a:27017", true)), expect3)
	assert.Equal(t, StatusFail, h[0].Status)
	assert.Contains(t, h[0].Message, `set name is "rs1", expected "rs0"`)
	h = CheckHello("a:27017", mustHello(t, helloDoc(t, "", "", "", true)), expect3)
	assert.Equal(t, StatusFail, h[0].Status)
	assert.Contains(t, h[0].Message, "no setName")
}

func TestEvenVoters(t *testing.T) {
	c, err := ParseConfig(configDoc(t, "rs0",
		cfgRow{0, "a:27017", 1, 1, false}, cfgRow{1, "b:27017", 1, 1, false},
		cfgRow{2, "c:27017", 1, 1, false}, cfgRow{3, "d:27017", 1, 1, false}))
	require.NoError(t, err)
	fs := CheckConfig(c, expect3)
	v, found := find(fs, "replset.voters", "rs0")
	require.True(t, found)
	assert.Equal(t, StatusFail, v.Status)
	assert.Contains(t, v.Message, "4 voting members")
	assert.Contains(t, v.Message, "even")

	// The vote policy's fix: the fourth member gets votes 0, priority 0.
	c, err = ParseConfig(configDoc(t, "rs0",
		cfgRow{0, "a:27017", 1, 1, false}, cfgRow{1, "b:27017", 1, 1, false},
		cfgRow{2, "c:27017", 1, 1, false}, cfgRow{3, "d:27017", 0, 0, false}))
	require.NoError(t, err)
	assert.Empty(t, byStatus(CheckConfig(c, expect3), StatusFail))
}

func TestTooManyVotersAndArbiter(t *testing.T) {
	var rows []cfgRow
	for i := 0; i < 9; i++ {
		rows = append(rows, cfgRow{i, fmt.Sprintf("n%d:27017", i), 1, 1, false})
	}
	c, err := ParseConfig(configDoc(t, "rs0", rows...))
	require.NoError(t, err)
	v, _ := find(CheckConfig(c, expect3), "replset.voters", "rs0")
	assert.Equal(t, StatusFail, v.Status)
	assert.Contains(t, v.Message, "9 voting members; MongoDB allows at most 7")

	c, err = ParseConfig(configDoc(t, "rs0", cfgRow{0, "a:27017", 1, 1, false}, cfgRow{1, "b:27017", 1, 1, false}, cfgRow{2, "arb:27017", 1, 0, true}))
	require.NoError(t, err)
	fs := CheckConfig(c, expect3)
	w, found := find(fs, "replset.config", "arb:27017")
	require.True(t, found)
	assert.Equal(t, StatusWarn, w.Status)
	assert.Empty(t, byStatus(fs, StatusFail))

	c, err = ParseConfig(configDoc(t, "rs0", cfgRow{0, "a:27017", 1, 1, false}, cfgRow{1, "b:27017", 0, 1, false}))
	require.NoError(t, err)
	f, _ := find(CheckConfig(c, expect3), "replset.voters", "b:27017")
	assert.Equal(t, StatusFail, f.Status)
}

func TestWrongRoles(t *testing.T) {
	rocket := RocketUser("rocket", "admin", "rocketchat")
	cases := []struct {
		name  string
		reply bson.Raw
		want  Status
		msg   string
	}{
		{"exact", usersDoc(t, userJSON("rocket", "admin", Role{"readWrite", "rocketchat"}, Role{"clusterMonitor", "admin"})), StatusOK, "roles clusterMonitor@admin, readWrite@rocketchat"},
		{"missing clusterMonitor", usersDoc(t, userJSON("rocket", "admin", Role{"readWrite", "rocketchat"})), StatusFail, "roles differ: missing clusterMonitor@admin"},
		{"readWrite on wrong db", usersDoc(t, userJSON("rocket", "admin", Role{"readWrite", "test"}, Role{"clusterMonitor", "admin"})), StatusFail, "roles differ: missing readWrite@rocketchat; unexpected readWrite@test"},
		{"extra root", usersDoc(t, userJSON("rocket", "admin", Role{"readWrite", "rocketchat"}, Role{"clusterMonitor", "admin"}, Role{"root", "admin"})), StatusFail, "roles differ: unexpected root@admin"},
		{"absent", usersDoc(t), StatusFail, "user does not exist"},
		{"other db", usersDoc(t, userJSON("rocket", "rocketchat", Role{"readWrite", "rocketchat"}, Role{"clusterMonitor", "admin"})), StatusFail, "user does not exist"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			us, err := ParseUsersInfo(c.reply)
			require.NoError(t, err)
			f := CheckUser(rocket, us)
			assert.Equal(t, c.want, f.Status)
			assert.Equal(t, c.msg, f.Message)
			assert.Equal(t, "rocket@admin", f.Target)
		})
	}
	oplog := OplogUser("oploguser", "admin")
	us, err := ParseUsersInfo(usersDoc(t, userJSON("oploguser", "admin", Role{"read", "local"}, Role{"clusterMonitor", "admin"})))
	require.NoError(t, err)
	assert.Equal(t, StatusOK, CheckUser(oplog, us).Status)
	us, err = ParseUsersInfo(usersDoc(t, userJSON("oploguser", "admin", Role{"readWrite", "local"}, Role{"clusterMonitor", "admin"})))
	require.NoError(t, err)
	assert.Equal(t, "roles differ: missing read@local; unexpected readWrite@local", CheckUser(oplog, us).Message)
}

func TestParseMongoURL(t *testing.T) {
	info, err := ParseMongoURL("mongodb://rocket:s3cr%40t@a:27017,b:27017,c:27017/rocketchat?replicaSet=rs0&authSource=admin&w=majority")
	require.NoError(t, err)
	assert.Equal(t, []string{"a:27017", "b:27017", "c:27017"}, info.Hosts)
	assert.Equal(t, "rocketchat", info.Database)
	assert.Equal(t, "rs0", info.ReplicaSet)
	assert.Equal(t, "rocket", info.Username)
	assert.Equal(t, "admin", info.AuthSource)
	fs := CheckMongoURL(info, expect3)
	require.Len(t, fs, 1)
	assert.Equal(t, StatusOK, fs[0].Status)

	info, err = ParseMongoURL("mongodb://rocket:pw@a:27017,b:27017,c:27017/rocketchat")
	require.NoError(t, err)
	fs = CheckMongoURL(info, expect3)
	assert.Equal(t, StatusFail, fs[0].Status)
	assert.Contains(t, fs[0].Message, "no replicaSet=")

	_, err = ParseMongoURL("http://nope")
	assert.Error(t, err)
}

func TestReportTableAndJSON(t *testing.T) {
	var r Report
	r.Add(ok("replset.name", "rs0", "replica set name matches"), fail("replset.lag", "b:27017", "45s behind the primary (limit 10s)"), warn("replset.member", "d:27017", "extra"))
	assert.False(t, r.OK())
	var sb strings.Builder
	require.NoError(t, r.WriteTable(&sb))
	out := sb.String()
	assert.Contains(t, out, "STATUS  CHECK")
	assert.Contains(t, out, "FAIL    replset.lag     b:27017  45s behind the primary (limit 10s)")
	assert.Contains(t, out, "verification FAILED: 1 problem(s):\n  - [replset.lag] b:27017: 45s behind the primary (limit 10s)")

	j := r.JSON()
	assert.False(t, j.OK)
	assert.Equal(t, 1, j.Counts[StatusFail])
	require.Len(t, j.Problems, 1)
	assert.Equal(t, "replset.lag", j.Problems[0].Check)

	var good Report
	good.Add(ok("x", "y", "z"))
	sb.Reset()
	require.NoError(t, good.WriteTable(&sb))
	assert.Contains(t, sb.String(), "verification passed: 1 ok, 0 warnings, 0 skipped")
}
