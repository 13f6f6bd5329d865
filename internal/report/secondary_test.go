package report

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// An evaluation's secondary metrics reach every format: the reader keeps
// each metric's speedups and whether it disagrees (and the item's
// metrics_disagree flag), the terminal, Markdown and HTML tables get a
// column with the agent's speedup on each secondary metric (marked when
// it disagrees), JSON the figures; without secondary metrics there is no
// such column.
func TestSecondaryColumns(t *testing.T) {
	dir := t.TempDir()
	three := func(human, agent float64) *stats.ThreeWay {
		s := func(v float64) stats.Speedup {
			return stats.Speedup{Ratio: v, Valid: true, Lo: v * 0.9, Hi: v * 1.1, CIValid: true, Significant: true, P: 0.001}
		}
		return &stats.ThreeWay{HumanOverBase: s(human), AgentOverBase: s(agent), AgentOverHuman: s(agent / human)}
	}
	ev := &records.Eval{
		SchemaVersion: records.EvalSchemaVersion, ItemID: "x-0000", Status: records.EvalSuccess,
		Config: records.EvalSpec{Metric: records.Metric{Kind: records.MetricWall, Better: "lower"}, Rounds: 5, Band: 0.05, Alpha: 0.05},
		Stats:  three(2, 1.5),
		Flags:  []string{records.FlagMetricsDisagree},
		Secondary: []records.SecondaryStats{
			{Metric: records.MetricCPU, Stats: three(2, 0.8), Disagrees: true},
			{Metric: records.MetricInstructions, Error: "valgrind is missing"},
		},
	}
	if err := journal.WriteEval(dir, ev); err != nil {
		t.Fatal(err)
	}
	ie, _, err := loadEval(dir)
	if err != nil || ie == nil {
		t.Fatalf("loadEval: %v", err)
	}
	if !ie.MetricsDisagree || len(ie.Secondary) != 2 || ie.Secondary[0].AgentSpeedup == nil || ie.Secondary[0].AgentSpeedup.Ratio != 0.8 ||
		!ie.Secondary[0].Disagrees || ie.Secondary[1].Error != "valgrind is missing" || ie.Secondary[1].AgentSpeedup != nil {
		t.Fatalf("reader: %+v", ie)
	}
	items := []Item{{ID: "x-0000", Dir: "x-0000", Status: "success", Eval: ie}}
	r := &Report{RunID: "r", Samples: 1, Items: items, Evaluation: summarize(items, 1, records.Figures{})}
	const cell = "cpu 0.80x [0.72, 0.88] (disagrees); instructions -"

	var term bytes.Buffer
	if err := WriteTable(&term, r); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`VERDICT +SECONDARY AGENT/BASE \[95% CI\] +REASON`).MatchString(term.String()) || !strings.Contains(term.String(), cell) ||
		!strings.Contains(term.String(), "[metrics_disagree]") {
		t.Errorf("terminal:\n%s", term.String())
	}
	r.Display.Long = true
	term.Reset()
	if err := WriteTable(&term, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(term.String(), "SECONDARY AGENT/BASE [95% CI]") || !strings.Contains(term.String(), cell) {
		t.Errorf("terminal --long:\n%s", term.String())
	}
	r.Display.Long = false

	var md bytes.Buffer
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(md.String(), "| verdict | secondary agent/base [95% CI] | reason |") || !strings.Contains(md.String(), "| "+cell+" |") {
		t.Errorf("markdown:\n%s", md.String())
	}

	html := renderHTML(t, r)
	if !strings.Contains(html, ">secondary agent/base [95% CI]</th>") || !strings.Contains(html, `<td class="num">`+cell+`</td>`) {
		t.Errorf("html: no secondary column")
	}

	var js bytes.Buffer
	if err := WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	var back struct {
		Items []struct {
			Eval struct {
				MetricsDisagree bool `json:"metrics_disagree"`
				Secondary       []struct {
					Metric       string   `json:"metric"`
					HumanSpeedup *Speedup `json:"human_speedup"`
					AgentSpeedup *Speedup `json:"agent_speedup"`
					Error        string   `json:"error"`
					Disagrees    bool     `json:"disagrees"`
				} `json:"secondary"`
			} `json:"evaluation"`
		} `json:"items"`
	}
	if err := json.Unmarshal(js.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if e := back.Items[0].Eval; !e.MetricsDisagree || len(e.Secondary) != 2 || e.Secondary[0].Metric != "cpu" || e.Secondary[0].HumanSpeedup.Ratio != 2 ||
		e.Secondary[0].AgentSpeedup.Ratio != 0.8 || !e.Secondary[0].Disagrees || e.Secondary[1].Error == "" {
		t.Errorf("json: %s", js.String())
	}

	// No secondary metrics: no column.
	ie.Secondary = nil
	term.Reset()
	if err := WriteTable(&term, r); err != nil {
		t.Fatal(err)
	}
	md.Reset()
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(term.String(), "SECONDARY") || strings.Contains(md.String(), "secondary") || strings.Contains(renderHTML(t, r), "secondary agent/base") {
		t.Errorf("a secondary column without secondary metrics:\n%s\n%s", term.String(), md.String())
	}
}
