package compare

import (
	"math"
	"slices"
)

// MaxAllPairs is the number of rows up to which every pair of a task's
// rows is compared; beyond it only the pairs asked for.
const MaxAllPairs = 10

// Pair is the paired comparison of two runs of the same plan (A − B) on
// the items both have.
type Pair struct {
	A string `json:"a"`
	B string `json:"b"`
	// Shared is the number of items evaluated in both runs; OnlyA and
	// OnlyB name the items evaluated in one run only (missing, infra_error
	// or not evaluated in the other), left out of the differences.
	Shared int      `json:"shared"`
	OnlyA  []string `json:"only_a"`
	OnlyB  []string `json:"only_b"`
	// Opt1Diff is Opt@1(A) − Opt@1(B) on the shared items, with a paired
	// bootstrap CI; McNemarP is the exact two-sided McNemar p of the
	// discordant items (with samples, an item counts as reaching Opt@1
	// when at least half its samples do).
	Opt1Diff Metric  `json:"opt_at_1_diff"`
	McNemarP float64 `json:"mcnemar_p"`
	// SRDiff is SR(A) − SR(B) on the shared items where both measured a
	// human speedup, each item's two terms divided by the same human
	// speedup: the geometric mean of the two runs' measurements of it.
	SRDiff Metric `json:"speedup_ratio_diff"`
	// WinsA and WinsB count the shared items (with a human speedup in
	// both) where one run's agent speedup is higher than the other's;
	// two failures (each counting as 1.0) are a tie.
	WinsA int `json:"wins_a"`
	WinsB int `json:"wins_b"`
}

func pairs(rows []Row, asked [][2]string, bs Bootstrap) []Pair {
	// The pairs are chosen first, each with its seed, then computed
	// concurrently: the numbers do not depend on the parallelism.
	type job struct{ a, b *Row }
	var chosen []job
	for i := range rows {
		for j := i + 1; j < len(rows); j++ {
			a, b := &rows[i], &rows[j]
			if a.plan != b.plan {
				continue
			}
			if len(rows) > MaxAllPairs && !slices.ContainsFunc(asked, func(p [2]string) bool {
				return (p[0] == a.RunID && p[1] == b.RunID) || (p[0] == b.RunID && p[1] == a.RunID)
			}) {
				continue
			}
			chosen = append(chosen, job{a, b})
		}
	}
	out := make([]Pair, len(chosen))
	fs := make([]func(), len(chosen))
	for i, j := range chosen {
		fs[i] = func() { out[i] = comparePair(j.a, j.b, bs, bs.Seed+uint64(1000+i)) }
	}
	parallel(fs)
	if len(out) == 0 {
		return nil
	}
	return out
}

func comparePair(a, b *Row, bs Bootstrap, seed uint64) Pair {
	p := Pair{A: a.RunID, B: b.RunID, OnlyA: []string{}, OnlyB: []string{}}
	var oa, ob, sa, sb []float64
	var disAB, disBA int
	for _, id := range a.order {
		x := a.perItem[id]
		y, ok := b.perItem[id]
		if !ok {
			p.OnlyA = append(p.OnlyA, id)
			continue
		}
		p.Shared++
		oa, ob = append(oa, x.opt1), append(ob, y.opt1)
		switch ra, rb := x.opt1 >= 0.5, y.opt1 >= 0.5; {
		case ra && !rb:
			disAB++
		case rb && !ra:
			disBA++
		}
		if x.human > 0 && y.human > 0 {
			// One human speedup for both terms: a failure in both runs
			// is then the same term, and the difference is the agents'.
			h := math.Sqrt(x.human * y.human)
			sa, sb = append(sa, x.agent/h), append(sb, y.agent/h)
			switch {
			case x.agent > y.agent:
				p.WinsA++
			case y.agent > x.agent:
				p.WinsB++
			}
		}
	}
	for _, id := range b.order {
		if _, ok := a.perItem[id]; !ok {
			p.OnlyB = append(p.OnlyB, id)
		}
	}
	p.Opt1Diff = EstimatePaired(oa, ob, Mean, bs.Resamples, seed, bs.Confidence)
	p.SRDiff = EstimatePaired(sa, sb, HarmonicMean, bs.Resamples, seed+1, bs.Confidence)
	p.McNemarP = McNemarExact(disAB, disBA)
	return p
}

// McNemarExact is the exact two-sided McNemar p-value for b and c
// discordant pairs: twice the binomial(b+c, ½) tail of min(b, c), at most 1.
func McNemarExact(b, c int) float64 {
	n := b + c
	if n == 0 {
		return 1
	}
	k := min(b, c)
	// Σ_{i≤k} C(n,i) / 2^n, in logs so that large n neither overflows nor
	// underflows term by term.
	tail := 0.0
	for i := 0; i <= k; i++ {
		lc, _ := math.Lgamma(float64(n + 1))
		l1, _ := math.Lgamma(float64(i + 1))
		l2, _ := math.Lgamma(float64(n - i + 1))
		tail += math.Exp(lc - l1 - l2 - float64(n)*math.Ln2)
	}
	return min(1, 2*tail)
}
