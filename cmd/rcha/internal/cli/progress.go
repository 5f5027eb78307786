package cli

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/pulumi/pulumi/sdk/v3/go/auto/events"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag"
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
)

// progress turns the engine's event stream into one readable line per step,
// as it happens, and keeps the summary event.
type progress struct {
	w       io.Writer
	start   time.Time
	preview bool
	// debug shows debug-severity diagnostics (--debug). Providers put whole
	// API dumps in them: pulumi-docker logs every `docker inspect` of a
	// container, its environment (MONGO_URL with the password) included.
	debug bool
	// keep keeps every event in events, for what reads them afterwards
	// (the fingerprints of a preview).
	keep bool

	mu        sync.Mutex
	events    []events.EngineEvent
	received  int // events read, shown or not
	started   map[string]time.Time
	summary   *apitype.SummaryEvent
	completed map[string]int  // logical steps that finished, by op (replacements apart)
	replaced  map[string]bool // URNs whose replacement was created
	deletedRe map[string]bool // URNs whose replaced resource was deleted
	failures  []failure
	diags     []string
	diagURNs  map[string]bool // resources an error diagnostic named
}

type failure struct{ urn, msg string }

func newProgress(w io.Writer, start time.Time, preview bool) *progress {
	return &progress{w: w, start: start, preview: preview, started: map[string]time.Time{},
		completed: map[string]int{}, replaced: map[string]bool{}, deletedRe: map[string]bool{}, diagURNs: map[string]bool{}}
}

// consume reads events until the channel is closed, then closes done.
func (p *progress) consume(ch <-chan events.EngineEvent, done chan<- struct{}) {
	defer close(done)
	for ev := range ch {
		p.handle(ev)
	}
}

// eventStream is the channel rcha hands the Automation API for engine
// events, and the goroutine that prints them. rcha never closes the
// channel: the SDK does, when the CLI ends its event stream (auto's
// eventsServer.StreamEvents on EOF or error). An operation that failed
// before the CLI opened that stream (a wrong passphrase, a lock held by
// someone else) never gets it closed; wait tells the two cases apart by
// whether any event arrived.
type eventStream struct {
	ch     chan events.EngineEvent
	closed chan struct{} // the SDK closed ch and every event was handled
	stop   chan struct{} // abandon ch: stop handling, keep draining
	p      *progress
}

func (p *progress) stream() *eventStream {
	s := &eventStream{ch: make(chan events.EngineEvent), closed: make(chan struct{}), stop: make(chan struct{}), p: p}
	go s.pump()
	return s
}

func (s *eventStream) pump() {
	for {
		select {
		case ev, open := <-s.ch:
			if !open {
				close(s.closed)
				return
			}
			s.p.mu.Lock()
			s.p.received++
			if s.p.keep {
				s.p.events = append(s.p.events, ev)
			}
			s.p.mu.Unlock()
			s.p.handle(ev)
		case <-s.stop:
			// The SDK may still deliver (or close) later; never block it.
			go func() {
				for range s.ch { //nolint:revive // draining
				}
			}()
			return
		}
	}
}

// streamGrace bounds the wait for an event stream that has started but not
// ended although the operation returned. It is a safety net only: the CLI
// has exited by then, so the SDK's stream handler sees EOF or a broken
// connection at once and closes the channel.
const streamGrace = time.Minute

// wait returns once every event of the finished operation is handled. Call
// it after the Automation API call returned.
func (s *eventStream) wait() {
	select {
	case <-s.closed:
		return
	default:
	}
	s.p.mu.Lock()
	started := s.p.received > 0
	s.p.mu.Unlock()
	if !started {
		// The CLI never streamed an event: nothing will close the channel.
		close(s.stop)
		return
	}
	select {
	case <-s.closed:
	case <-time.After(streamGrace):
		close(s.stop)
		s.p.mu.Lock()
		s.p.line("warning: the engine's event stream did not end %s after the operation; later events are not shown", streamGrace)
		s.p.mu.Unlock()
	}
}

// logicalOps are the step kinds the engine's summary counts; the others
// (create-replacement, delete-replaced, refresh, ...) are parts of them.
var logicalOps = map[apitype.OpType]bool{
	apitype.OpSame: true, apitype.OpCreate: true, apitype.OpUpdate: true, apitype.OpDelete: true,
	apitype.OpReplace: true, apitype.OpRead: true, apitype.OpImport: true,
}

var opSymbols = map[apitype.OpType]string{
	apitype.OpCreate:               "+",
	apitype.OpUpdate:               "~",
	apitype.OpDelete:               "-",
	apitype.OpReplace:              "+-",
	apitype.OpCreateReplacement:    "++",
	apitype.OpDeleteReplaced:       "--",
	apitype.OpRead:                 ">",
	apitype.OpReadReplacement:      ">>",
	apitype.OpRefresh:              "~",
	apitype.OpImport:               "=",
	apitype.OpImportReplacement:    "=>",
	apitype.OpReadDiscard:          "-",
	apitype.OpDiscardReplaced:      "--",
	apitype.OpRemovePendingReplace: "-",
}

func (p *progress) line(format string, a ...any) {
	elapsed := time.Since(p.start).Seconds()
	fmt.Fprintf(p.w, "[%6.1fs] %s\n", elapsed, fmt.Sprintf(format, a...))
}

func resName(urn string) string {
	if i := strings.LastIndex(urn, "::"); i >= 0 {
		return urn[i+2:]
	}
	return urn
}

func describeStep(m apitype.StepEventMetadata) string {
	s := fmt.Sprintf("%s %s", m.Type, resName(m.URN))
	var keys []string
	if len(m.Keys) > 0 && (m.Op == apitype.OpReplace || m.Op == apitype.OpCreateReplacement) {
		keys = append(keys, "replace on: "+strings.Join(m.Keys, ", "))
	} else if len(m.Diffs) > 0 {
		d := append([]string(nil), m.Diffs...)
		sort.Strings(d)
		keys = append(keys, "changed: "+strings.Join(d, ", "))
	}
	if len(keys) > 0 {
		s += " (" + strings.Join(keys, "; ") + ")"
	}
	return s
}

func (p *progress) handle(ev events.EngineEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if ev.Error != nil {
		p.line("warning: reading engine events: %v", ev.Error)
		return
	}
	switch {
	case ev.ResourcePreEvent != nil:
		m := ev.ResourcePreEvent.Metadata
		if m.Op == apitype.OpSame || m.Op == apitype.OpRefresh {
			// A refresh step is shown when it is done, and only when it
			// found drift: one line per resource would bury the changes.
			return
		}
		sym := opSymbols[m.Op]
		if p.preview {
			p.line("%-2s would %s %s", sym, m.Op, describeStep(m))
			return
		}
		p.started[m.URN+string(m.Op)] = time.Now()
		p.line("%-2s %s %s ...", sym, ing(m.Op), describeStep(m))
	case ev.ResOutputsEvent != nil:
		m := ev.ResOutputsEvent.Metadata
		if !p.preview {
			switch {
			case m.Op == apitype.OpReplace:
				// The engine ends the logical replace step before the
				// replacement is created; count that creation instead.
			case m.Op == apitype.OpCreateReplacement:
				p.replaced[m.URN] = true
			case m.Op == apitype.OpDeleteReplaced:
				p.deletedRe[m.URN] = true
			case logicalOps[m.Op]:
				p.completed[string(m.Op)]++
			}
		}
		if m.Op == apitype.OpRefresh {
			switch {
			case m.New == nil:
				p.line("%-2s refresh: %s %s is gone from the real world", opSymbols[m.Op], m.Type, resName(m.URN))
			case len(m.Diffs) > 0:
				d := append([]string(nil), m.Diffs...)
				sort.Strings(d)
				p.line("%-2s refresh: %s %s differs from the state (changed: %s)", opSymbols[m.Op], m.Type, resName(m.URN), strings.Join(d, ", "))
			}
			return
		}
		if p.preview || m.Op == apitype.OpSame {
			return
		}
		took := ""
		if t, found := p.started[m.URN+string(m.Op)]; found {
			took = fmt.Sprintf(" in %.1fs", time.Since(t).Seconds())
		}
		p.line("%-2s %s %s %s%s", opSymbols[m.Op], ed(m.Op), m.Type, resName(m.URN), took)
	case ev.ResOpFailedEvent != nil:
		m := ev.ResOpFailedEvent.Metadata
		msg := fmt.Sprintf("%s %s: %s failed", m.Type, resName(m.URN), m.Op)
		p.failures = append(p.failures, failure{urn: m.URN, msg: msg})
		p.line("!  %s", msg)
	case ev.DiagnosticEvent != nil:
		d := ev.DiagnosticEvent
		if d.Ephemeral {
			return
		}
		msg := strings.TrimRight(colors.Never.Colorize(d.Message), "\n")
		if msg == "" {
			return
		}
		who := ""
		if d.URN != "" {
			who = resName(d.URN) + ": "
		}
		switch d.Severity {
		case string(diag.Error):
			msg = trimErrorPrefix(msg)
			p.diags = append(p.diags, who+strings.TrimSpace(msg))
			if d.URN != "" {
				p.diagURNs[d.URN] = true
			}
			p.line("error: %s%s", who, indent(msg))
		case string(diag.Warning):
			p.line("warning: %s%s", who, indent(msg))
		case string(diag.Info), string(diag.Infoerr):
			p.line("   %s%s", who, indent(msg))
		default:
			// debug, and any severity this rcha does not know: providers
			// put raw API dumps with secrets in them.
			if p.debug {
				p.line("%s: %s%s", d.Severity, who, indent(msg))
			}
		}
	case ev.StdoutEvent != nil:
		msg := strings.TrimRight(colors.Never.Colorize(ev.StdoutEvent.Message), "\n")
		if msg != "" {
			p.line("   %s", indent(msg))
		}
	case ev.SummaryEvent != nil:
		s := *ev.SummaryEvent
		p.summary = &s
	}
}

func indent(s string) string {
	return strings.ReplaceAll(s, "\n", "\n           ")
}

// verbs says how a progress line names a step of kind op while it runs
// and once it is done.
func verbs(op apitype.OpType) (running, done string) {
	switch op {
	case apitype.OpCreate, apitype.OpCreateReplacement:
		return "creating", "created"
	case apitype.OpUpdate:
		return "updating", "updated"
	case apitype.OpDelete, apitype.OpDeleteReplaced, apitype.OpReadDiscard, apitype.OpDiscardReplaced:
		return "deleting", "deleted"
	case apitype.OpReplace:
		return "replacing", "replaced"
	case apitype.OpRead, apitype.OpReadReplacement:
		return "reading", "read"
	case apitype.OpRefresh:
		return "refreshing", "refreshed"
	case apitype.OpImport, apitype.OpImportReplacement:
		return "importing", "imported"
	default:
		return string(op), string(op) + " done"
	}
}

func ing(op apitype.OpType) string { running, _ := verbs(op); return running }

func ed(op apitype.OpType) string { _, done := verbs(op); return done }

// applied returns the logical steps that completed, keyed by operation
// kind: what a failed or interrupted up, refresh or destroy did change. A
// replacement counts once its new resource was created; one whose old
// resource was deleted (delete-before-replace) but whose new one was not
// counts as a delete.
func (p *progress) applied() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	for op, n := range p.completed {
		out[op] = n
	}
	if n := len(p.replaced); n > 0 {
		out[string(apitype.OpReplace)] += n
	}
	for urn := range p.deletedRe {
		if !p.replaced[urn] {
			out[string(apitype.OpDelete)]++
		}
	}
	return out
}

// changes returns the summary's change counts keyed by operation kind.
func (p *progress) changes() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string]int{}
	if p.summary == nil {
		return out
	}
	for op, n := range p.summary.ResourceChanges {
		out[string(op)] = n
	}
	return out
}

func (p *progress) hasSummary() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.summary != nil
}

// errors returns each error once: the engine's error diagnostics, and the
// failed steps of resources no diagnostic named.
func (p *progress) errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []string
	for _, d := range p.diags {
		// The engine's closing "update failed" adds nothing to the errors
		// that made it fail.
		if len(p.diags) > 1 && genericFailure[d] {
			continue
		}
		out = append(out, d)
	}
	for _, f := range p.failures {
		if !p.diagURNs[f.urn] {
			out = append(out, f.msg)
		}
	}
	return out
}

var genericFailure = map[string]bool{"update failed": true, "preview failed": true, "refresh failed": true, "destroy failed": true}

// trimErrorPrefix drops the "error: " the engine and the CLI put in front
// of messages that rcha prints under its own "error: " already.
func trimErrorPrefix(s string) string {
	for {
		t := strings.TrimSpace(s)
		if !strings.HasPrefix(strings.ToLower(t), "error: ") {
			return s
		}
		s = t[len("error: "):]
	}
}

// countChanges sums every kind except "same" (and "read", which changes nothing).
func countChanges(changes map[string]int) int {
	n := 0
	for op, c := range changes {
		if op == string(apitype.OpSame) || op == string(apitype.OpRead) {
			continue
		}
		n += c
	}
	return n
}
