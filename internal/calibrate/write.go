package calibrate

import (
	"fmt"
	"io"
	"strings"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// WriteText prints each item's calibration: its class and why, the human
// speedup per session and pooled and whether the sessions agree, the A/A
// spread with the minimum detectable effect and the rounds a 10% speedup
// needs, and the metric to use; then the count of each class.
func WriteText(w io.Writer, items []records.CalibrationItem) error {
	counts := map[stats.Class]int{}
	var b strings.Builder
	for _, it := range items {
		counts[it.Class]++
		a := it.Analysis
		fmt.Fprintf(&b, "%s: %s: %s\n", it.ItemID, it.Class, it.Reason)
		if a == nil {
			continue
		}
		var parts []string
		for i, s := range a.Human {
			parts = append(parts, fmt.Sprintf("s%d %s", i+1, interval(s)))
		}
		agree := "no"
		if a.Classification.Agree {
			agree = "yes"
		}
		fmt.Fprintf(&b, "  human: %s; pooled %s; sessions agree: %s\n", strings.Join(parts, ", "), interval(a.Pooled), agree)
		m := a.MDE
		mde, normal := "-", "-"
		if m.SimulatedValid {
			mde = fmt.Sprintf("%.3fx", m.Simulated)
		}
		if m.NormalValid {
			normal = fmt.Sprintf("%.3fx", m.Normal)
		}
		need := "more than the maximum"
		if m.RoundsForTarget > 0 {
			need = fmt.Sprintf("%d", m.RoundsForTarget)
		}
		fmt.Fprintf(&b, "  A/A: CV %.2f%% (%d samples); MDE at %d rounds %s (normal approximation %s); rounds for a %.2fx speedup: %s\n",
			100*m.CV, m.N, m.Rounds, mde, normal, m.Target, need)
		for _, c := range a.Caveats {
			fmt.Fprintf(&b, "  caveat: %s\n", c)
		}
		if a.Metric != nil {
			fmt.Fprintf(&b, "  metric: %s\n", metricAdvice(a.Metric))
		}
	}
	fmt.Fprintf(&b, "%d item(s):", len(items))
	sep := " "
	for _, c := range []stats.Class{stats.ClassStable, stats.ClassUnstable, stats.ClassNoSpeedup, stats.ClassBroken} {
		fmt.Fprintf(&b, "%s%d %s", sep, counts[c], c)
		sep = ", "
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// interval is "2.01x [1.95, 2.07]", or "2.01x [-]" without a CI.
func interval(s stats.Speedup) string {
	if !s.Valid {
		return "-"
	}
	if !s.CIValid {
		return fmt.Sprintf("%.3fx [-]", s.Ratio)
	}
	return fmt.Sprintf("%.3fx [%.3f, %.3f]", s.Ratio, s.Lo, s.Hi)
}

// metricAdvice is the metric line: the metric to use for the task and
// why, and what to change when it is not the task's.
func metricAdvice(m *stats.MetricAdvice) string {
	use, configured := m.Use, m.Configured
	if use == "" {
		// An analysis of an older harness: the wall/CPU choice only.
		use, configured = m.Metric, m.Metric
	}
	switch {
	case use == configured && use == stats.MetricInstructions:
		return fmt.Sprintf("instructions (the task's; CPU-bound work: %s)", m.Reason)
	case use == configured && use != m.Metric:
		return fmt.Sprintf("%s (the task's: the workload's own figure); of the time metrics %s would suit its runs (%s)", use, m.Metric, m.Reason)
	case use == configured:
		return fmt.Sprintf("%s (%s)", use, m.Reason)
	}
	return fmt.Sprintf("%s (%s); the task uses %s: consider evaluation.metric: %s", use, m.Reason, configured, use)
}
