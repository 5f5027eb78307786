// Package verify checks that a deployed Rocket.Chat HA cluster is healthy:
// the MongoDB replica set (name, primary, member health, lag, voting
// configuration, users and roles) and Rocket.Chat over HTTP (/api/info and,
// where the version has it, /readyz, through the load balancer and on every
// node).
//
// The package is split in two layers. The decision layer (CheckHello,
// CheckStatus, CheckConfig, CheckUser, CheckInfo, CheckReadyz,
// CheckVersionsAgree) takes plain documents decoded from server replies and
// returns findings; it does no I/O and is what the unit tests exercise with
// real-shaped replies. The thin I/O layer (Run, MongoProbe, HTTPProbe,
// Tunnel) runs the commands and requests and feeds the decision layer.
package verify

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// Status is the verdict of one finding.
type Status string

// Finding statuses. Only StatusFail makes a report fail.
const (
	StatusOK   Status = "ok"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
	StatusSkip Status = "skip"
)

// Finding is one checked fact about the cluster.
type Finding struct {
	// Check names what was checked, e.g. "replset.primary" or "http.api-info".
	Check string `json:"check"`
	// Target is what it was checked on: a member host, a URL or a user.
	Target string `json:"target"`
	// Status is the verdict.
	Status Status `json:"status"`
	// Message says what was found, in words.
	Message string `json:"message"`
}

func ok(check, target, format string, a ...any) Finding {
	return Finding{Check: check, Target: target, Status: StatusOK, Message: fmt.Sprintf(format, a...)}
}

func fail(check, target, format string, a ...any) Finding {
	return Finding{Check: check, Target: target, Status: StatusFail, Message: fmt.Sprintf(format, a...)}
}

func warn(check, target, format string, a ...any) Finding {
	return Finding{Check: check, Target: target, Status: StatusWarn, Message: fmt.Sprintf(format, a...)}
}

func skip(check, target, format string, a ...any) Finding {
	return Finding{Check: check, Target: target, Status: StatusSkip, Message: fmt.Sprintf(format, a...)}
}

// Report is the ordered list of findings of one verification run.
type Report struct {
	Findings []Finding `json:"findings"`
}

// Add appends findings to the report.
func (r *Report) Add(f ...Finding) { r.Findings = append(r.Findings, f...) }

// Failures returns the failed findings, in order.
func (r Report) Failures() []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Status == StatusFail {
			out = append(out, f)
		}
	}
	return out
}

// OK reports whether no finding failed.
func (r Report) OK() bool { return len(r.Failures()) == 0 }

// Counts returns how many findings have each status.
func (r Report) Counts() map[Status]int {
	c := map[Status]int{}
	for _, f := range r.Findings {
		c[f.Status]++
	}
	return c
}

// WriteTable writes the findings as an aligned human-readable table followed
// by a one-line verdict and, when something failed, the list of what is wrong.
func (r Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "STATUS\tCHECK\tTARGET\tDETAIL")
	for _, f := range r.Findings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", strings.ToUpper(string(f.Status)), f.Check, f.Target, oneLine(f.Message))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	c := r.Counts()
	fails := r.Failures()
	if len(fails) == 0 {
		_, err := fmt.Fprintf(w, "\nverification passed: %d ok, %d warnings, %d skipped\n", c[StatusOK], c[StatusWarn], c[StatusSkip])
		return err
	}
	fmt.Fprintf(w, "\nverification FAILED: %d problem(s):\n", len(fails))
	for _, f := range fails {
		fmt.Fprintf(w, "  - [%s] %s: %s\n", f.Check, f.Target, oneLine(f.Message))
	}
	return nil
}

// JSONReport is the machine-readable form of a Report.
type JSONReport struct {
	OK       bool           `json:"ok"`
	Counts   map[Status]int `json:"counts"`
	Findings []Finding      `json:"findings"`
	Problems []Finding      `json:"problems"`
}

// JSON returns the machine-readable form of the report.
func (r Report) JSON() JSONReport {
	findings := r.Findings
	if findings == nil {
		findings = []Finding{}
	}
	problems := r.Failures()
	if problems == nil {
		problems = []Finding{}
	}
	return JSONReport{OK: r.OK(), Counts: r.Counts(), Findings: findings, Problems: problems}
}

// MarshalJSON encodes the report in its JSONReport form.
func (r Report) MarshalJSON() ([]byte, error) { return json.Marshal(r.JSON()) }

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
