package stats_test

import (
	"fmt"

	"github.com/perfbench/perfbench/internal/stats"
)

func ExampleAnalyze() {
	// Ten interleaved rounds of one item, in seconds (lower is better).
	base := []float64{1.00, 1.02, 0.99, 1.01, 1.03, 0.98, 1.00, 1.01, 0.99, 1.02}
	human := []float64{0.80, 0.81, 0.79, 0.80, 0.82, 0.78, 0.80, 0.81, 0.79, 0.80}
	agent := []float64{0.50, 0.52, 0.49, 0.51, 0.50, 0.49, 0.50, 0.51, 0.50, 0.52}

	r := stats.Analyze(base, human, agent, stats.DefaultOptions())
	for _, a := range []struct {
		name string
		s    stats.ArmSummary
	}{{"base", r.Base}, {"human", r.Human}, {"agent", r.Agent}} {
		fmt.Printf("%-6s median %.3f s  95%% CI [%.3f, %.3f]  cv %.1f%%\n",
			a.name, a.s.Median, a.s.Lo, a.s.Hi, 100*a.s.CV)
	}
	for _, c := range []struct {
		name string
		s    stats.Speedup
	}{{"human/base", r.HumanOverBase}, {"agent/base", r.AgentOverBase}, {"agent/human", r.AgentOverHuman}} {
		fmt.Printf("%-11s %.3fx  [%.3f, %.3f] %s  hodges-lehmann %.3fx [%.3f, %.3f]  p=%.2g\n",
			c.name, c.s.Ratio, c.s.Lo, c.s.Hi, c.s.Method, c.s.Alt.Estimate, c.s.Alt.Lo, c.s.Alt.Hi, c.s.P)
	}
	fmt.Printf("verdict: %s (significant: %v)\n", r.Verdict.Outcome, r.Verdict.Significant)
	fmt.Printf("opt_base: %v  opt_commit: %v  noisy: %v\n", r.OptBase, r.OptCommit, r.Noisy)
	// Output:
	// base   median 1.005 s  95% CI [0.990, 1.020]  cv 1.6%
	// human  median 0.800 s  95% CI [0.790, 0.810]  cv 1.4%
	// agent  median 0.500 s  95% CI [0.490, 0.520]  cv 2.1%
	// human/base  1.256x  [1.248, 1.269] bootstrap-paired  hodges-lehmann 1.256x [1.238, 1.275]  p=1.1e-05
	// agent/base  2.010x  [1.980, 2.030] bootstrap-paired  hodges-lehmann 2.000x [1.960, 2.040]  p=1.1e-05
	// agent/human 1.600x  [1.569, 1.610] bootstrap-paired  hodges-lehmann 1.590x [1.558, 1.620]  p=1.1e-05
	// verdict: win (significant: true)
	// opt_base: true  opt_commit: true  noisy: false
}
