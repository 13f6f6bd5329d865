package compare

import (
	"maps"
	"math/rand/v2"
	"slices"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// itemOdds are the probabilities, over a bootstrap of an item's timed
// rounds, that its candidate reaches opt_base and opt_commit: how firmly
// the flag stands, rather than only on which side of the threshold the
// point estimate fell.
type itemOdds struct{ optBase, optCommit float64 }

// withinItem resamples whole rounds of ev's timed (non-warmup) samples B
// times, recomputing agent/base and human/base as ratios of medians, and
// counts the resamples reaching GSO's thresholds. ok is false with fewer
// than two rounds holding all three arms.
func withinItem(ev *records.Eval, better stats.Better, B int, seed uint64) (odds itemOdds, ok bool) {
	byRound := map[int]map[records.Arm]float64{}
	for _, s := range ev.Samples {
		if s.Warmup {
			continue
		}
		if byRound[s.Round] == nil {
			byRound[s.Round] = map[records.Arm]float64{}
		}
		byRound[s.Round][s.Arm] = s.Value
	}
	var base, human, agent []float64
	for _, r := range slices.Sorted(maps.Keys(byRound)) {
		m := byRound[r]
		b, okB := m[records.ArmBase]
		h, okH := m[records.ArmHuman]
		a, okA := m[records.ArmAgent]
		if okB && okH && okA && b > 0 && h > 0 && a > 0 {
			base, human, agent = append(base, b), append(human, h), append(agent, a)
		}
	}
	n := len(base)
	if n < 2 {
		return odds, false
	}
	speed := func(b, c float64) float64 {
		if better == stats.HigherIsBetter {
			return c / b
		}
		return b / c
	}
	rng := rand.New(rand.NewPCG(seed, 0x2545f4914f6cdd1d))
	// A resample is kept as counts per order statistic of each arm, so
	// its median is found in O(n) without sorting (as internal/stats does).
	arms := [3]countedArm{newCountedArm(base), newCountedArm(human), newCountedArm(agent)}
	var hitBase, hitCommit int
	for range B {
		for a := range arms {
			clear(arms[a].counts)
		}
		for range n {
			j := rng.IntN(n)
			for a := range arms {
				arms[a].counts[arms[a].rank[j]]++
			}
		}
		mb, mh, ma := arms[0].median(), arms[1].median(), arms[2].median()
		ab, hb := speed(mb, ma), speed(mb, mh)
		if ab >= stats.OptBaseSpeedup {
			hitBase++
			if ab >= stats.OptCommitFraction*hb {
				hitCommit++
			}
		}
	}
	return itemOdds{float64(hitBase) / float64(B), float64(hitCommit) / float64(B)}, true
}

// countedArm is one arm's values sorted, each round's position among them,
// and a resample's count per position.
type countedArm struct {
	sorted []float64
	rank   []int
	counts []int
}

func newCountedArm(xs []float64) countedArm {
	sorted, rank := stats.Ranks(xs)
	return countedArm{sorted: sorted, rank: rank, counts: make([]int, len(xs))}
}

// median of the resample the counts describe.
func (c countedArm) median() float64 { return stats.CountedMedian(c.sorted, c.counts) }
