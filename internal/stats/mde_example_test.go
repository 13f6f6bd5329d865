package stats_test

import (
	"fmt"

	"github.com/perfbench/perfbench/internal/stats"
)

func ExampleMinDetectableEffect() {
	// Two A/A series of one item (the same tree in two workspaces), in
	// seconds: about 4% noise.
	a := []float64{1.02, 0.97, 1.05, 0.99, 1.01, 0.96, 1.03, 1.00, 0.98, 1.04, 1.01, 0.95}
	b := []float64{0.99, 1.03, 0.97, 1.06, 1.00, 0.98, 1.02, 0.96, 1.01, 1.03, 0.99, 1.00}
	m := stats.MinDetectableEffect([][]float64{a, b}, stats.MDEConfig{Rounds: 20}, stats.DefaultOptions())
	fmt.Printf("CV %.1f%%: a win needs a true speedup of %.3fx (normal approximation %.3fx) at %d rounds\n",
		100*m.CV, m.Simulated, m.Normal, m.Rounds)
	fmt.Printf("a 10%% speedup needs %d rounds (normal approximation %d)\n", m.RoundsForTarget, m.RoundsForTargetNormal)
	// Output:
	// CV 2.9%: a win needs a true speedup of 1.060x (normal approximation 1.060x) at 20 rounds
	// a 10% speedup needs 4 rounds (normal approximation 6)
}
