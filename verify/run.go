package verify

import "context"

// Plan is one complete verification: the replica set through MongoProbe and
// Rocket.Chat through HTTPProbe.
type Plan struct {
	Mongo     MongoProbe
	Expect    Expectation
	Users     []UserCheck
	HTTP      HTTPProbe
	Endpoints []Endpoint
}

// Run performs every check and returns the report; it never stops early, so
// the report lists everything that is wrong.
func (p Plan) Run(ctx context.Context) Report {
	var r Report
	r.Add(p.Mongo.Check(ctx, p.Expect, p.Users)...)
	r.Add(p.HTTP.Check(ctx, p.Endpoints)...)
	return r
}
