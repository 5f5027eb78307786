// Command promqlcheck parses PromQL expressions with Prometheus' own parser
// (github.com/prometheus/prometheus/promql/parser) and prints, for each, the
// metric names it selects. It is its own Go module so that the project's
// module does not depend on Prometheus; the monitoring tests run it with
// `go run`.
//
// Input: one JSON array of expressions on stdin. Output: a JSON array of
// {"names": [...]} or {"error": "..."} in the same order.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

type result struct {
	Names []string `json:"names,omitempty"`
	Error string   `json:"error,omitempty"`
}

func main() {
	var exprs []string
	if err := json.NewDecoder(os.Stdin).Decode(&exprs); err != nil {
		fmt.Fprintln(os.Stderr, "promqlcheck: reading stdin:", err)
		os.Exit(2)
	}
	out := make([]result, len(exprs))
	p := parser.NewParser(parser.Options{})
	for i, e := range exprs {
		expr, err := p.ParseExpr(e)
		if err != nil {
			out[i].Error = err.Error()
			continue
		}
		seen := map[string]bool{}
		parser.Inspect(expr, func(n parser.Node, _ []parser.Node) error {
			vs, ok := n.(*parser.VectorSelector)
			if !ok {
				return nil
			}
			name := vs.Name
			for _, m := range vs.LabelMatchers {
				if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
					name = m.Value
				}
			}
			if name == "" {
				out[i].Error = "selector without a metric name: " + vs.String()
			}
			seen[name] = true
			return nil
		})
		for n := range seen {
			out[i].Names = append(out[i].Names, n)
		}
		sort.Strings(out[i].Names)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		os.Exit(2)
	}
}
