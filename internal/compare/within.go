package compare

import (
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
// times and counts the resamples reaching GSO's thresholds. ok is false
// with fewer than two rounds holding all three arms.
func withinItem(ev *records.Eval, better stats.Better, B int, seed uint64) (odds itemOdds, ok bool) {
	ab, hb := make([]float64, B), make([]float64, B)
	if !withinReplicates(ev, better, true, seed, ab, hb) {
		return odds, false
	}
	var hitBase, hitCommit int
	for b := range B {
		ob, oc := optFlags(ab[b], hb[b])
		hitBase += int(b2f(ob))
		hitCommit += int(b2f(oc))
	}
	return itemOdds{float64(hitBase) / float64(B), float64(hitCommit) / float64(B)}, true
}

// optFlags are GSO's flags of a correct candidate from its speedups, as
// stats.OptFlags computes them (with its round-off tolerance).
func optFlags(agentOverBase, humanOverBase float64) (optBase, optCommit bool) {
	optBase = agentOverBase >= stats.OptBaseSpeedup*(1-1e-12)
	return optBase, optBase && agentOverBase >= stats.OptCommitFraction*humanOverBase*(1-1e-12)
}

// withinReplicates is the inner level of the two-level bootstrap: it
// resamples whole rounds of ev's timed (non-warmup) samples len(hb) times
// from a PCG source seeded with seed, and writes each resample's
// human/base into hb and, withAgent, its agent/base into ab, as ratios of
// medians (the statistic eval.json's speedups are). A round enters when it
// holds every arm resampled; ok is false with fewer than two such rounds
// (ab and hb are then untouched).
func withinReplicates(ev *records.Eval, better stats.Better, withAgent bool, seed uint64, ab, hb []float64) (ok bool) {
	base, human, agent := roundValues(ev, withAgent)
	n := len(base)
	if n < 2 {
		return false
	}
	speed := func(b, c float64) float64 {
		if better == stats.HigherIsBetter {
			return c / b
		}
		return b / c
	}
	pcg := rand.NewPCG(seed, 0x2545f4914f6cdd1d)
	// A resample is kept as how often each round is drawn; each arm's
	// median is then the value at which the counts, walked in the arm's
	// sorted order, pass the middle: O(n) without sorting (as
	// internal/stats does).
	arms := []countedArm{newCountedArm(base), newCountedArm(human)}
	if withAgent {
		arms = append(arms, newCountedArm(agent))
	}
	drawn := make([]int32, n)
	un := uint64(n)
	for b := range hb {
		clear(drawn)
		// Two draws per 64 random bits, each by Lemire's multiply-shift
		// (a bias below n/2³², far under the bootstrap's own error).
		for r := 0; r < n; r += 2 {
			x := pcg.Uint64()
			drawn[(uint64(uint32(x))*un)>>32]++
			if r+1 < n {
				drawn[((x>>32)*un)>>32]++
			}
		}
		mb := arms[0].median(drawn)
		hb[b] = speed(mb, arms[1].median(drawn))
		if withAgent {
			ab[b] = speed(mb, arms[2].median(drawn))
		}
	}
	return true
}

// roundValues are the timed rounds holding a positive value for base and
// human (and, withAgent, the agent), in round order.
func roundValues(ev *records.Eval, withAgent bool) (base, human, agent []float64) {
	type round struct {
		r       int
		b, h, a float64
	}
	var rs []round
	at := map[int]int{}
	for _, s := range ev.Samples {
		if s.Warmup {
			continue
		}
		i, ok := at[s.Round]
		if !ok {
			i = len(rs)
			at[s.Round] = i
			rs = append(rs, round{r: s.Round})
		}
		switch s.Arm {
		case records.ArmBase:
			rs[i].b = s.Value
		case records.ArmHuman:
			rs[i].h = s.Value
		case records.ArmAgent:
			rs[i].a = s.Value
		}
	}
	slices.SortFunc(rs, func(x, y round) int { return x.r - y.r })
	for _, r := range rs {
		if r.b > 0 && r.h > 0 && (!withAgent || r.a > 0) {
			base, human = append(base, r.b), append(human, r.h)
			if withAgent {
				agent = append(agent, r.a)
			}
		}
	}
	return base, human, agent
}

// countedArm is one arm's values sorted and, for each position in that
// order, the round it came from.
type countedArm struct {
	sorted []float64
	round  []int
}

func newCountedArm(xs []float64) countedArm {
	sorted, rank := stats.Ranks(xs)
	round := make([]int, len(xs))
	for r, pos := range rank {
		round[pos] = r
	}
	return countedArm{sorted: sorted, round: round}
}

// median of the resample that holds drawn[r] copies of round r (as many
// draws as rounds): the middle value, or the mean of the two middle ones.
func (c countedArm) median(drawn []int32) float64 {
	n := int32(len(c.sorted))
	lo, hi := (n-1)/2, n/2 // 0-based middle positions
	var seen int32
	for pos, r := range c.round {
		d := drawn[r]
		// An undrawn round adds nothing and cannot pass the middle:
		// no branch for it.
		if seen+d > lo {
			if lo == hi || seen+d > hi {
				return c.sorted[pos]
			}
			// The lower middle is here, the upper at the next drawn value.
			for next := pos + 1; ; next++ {
				if drawn[c.round[next]] > 0 {
					return c.sorted[pos]/2 + c.sorted[next]/2
				}
			}
		}
		seen += d
	}
	return c.sorted[n-1] // not reached: the draws number n
}
