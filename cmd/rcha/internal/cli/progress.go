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
	"github.com/pulumi/pulumi/sdk/v3/go/common/diag/colors"
)

// progress turns the engine's event stream into one readable line per step,
// as it happens, and keeps the summary event.
type progress struct {
	w       io.Writer
	start   time.Time
	preview bool

	mu       sync.Mutex
	started  map[string]time.Time
	summary  *apitype.SummaryEvent
	failures []string
	diags    []string
}

func newProgress(w io.Writer, start time.Time, preview bool) *progress {
	return &progress{w: w, start: start, preview: preview, started: map[string]time.Time{}}
}

// consume reads events until the channel is closed, then closes done.
func (p *progress) consume(ch <-chan events.EngineEvent, done chan<- struct{}) {
	defer close(done)
	for ev := range ch {
		p.handle(ev)
	}
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
		if m.Op == apitype.OpSame {
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
		p.failures = append(p.failures, msg)
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
		case "error":
			p.diags = append(p.diags, who+strings.TrimSpace(msg))
			p.line("error: %s%s", who, indent(msg))
		case "warning":
			p.line("warning: %s%s", who, indent(msg))
		default:
			p.line("   %s%s", who, indent(msg))
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

func (p *progress) errors() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append(append([]string(nil), p.diags...), p.failures...)
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
