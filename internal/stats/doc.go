// Package stats holds the statistics perfbench uses to compare the timings of
// three arms of one task: baseline (the pre-commit tree), human (the commit)
// and agent (baseline plus the agent's patch). It is pure: no I/O, no clock,
// no global randomness; the same input and [Options] give the same output,
// bit for bit, on a given platform.
//
// # Samples
//
// Each arm is a slice of measurements, one per round, in round order.
// Rounds are interleaved (baseline, human and agent run in the same round, in
// a rotated order), so sample i of two arms were taken close together in
// time. Non-finite values (NaN, ±Inf) are dropped and counted; everything
// else is used as given. By default a lower value is better (time); set
// [Options].Better to [HigherIsBetter] for throughput-like metrics.
//
// # Per-arm summary
//
// [Summarize] reports the median and its confidence interval exactly as
// benchstat does: golang.org/x/perf/benchmath's AssumeNothing.Summary, a
// distribution-free interval between two order statistics chosen from the
// binomial distribution (exact up to 30 samples, normal approximation
// above). With few samples that interval is unbounded (for 95%, benchmath
// needs at least 6 samples): CIValid is then false and Lo/Hi are 0. The
// summary also gives mean, sample standard deviation (n-1), min and max, and
// the coefficient of variation CV = stddev/|mean|; an arm is Noisy when its
// CV is above [Options].CVThreshold (default 10%). CV needs n >= 2 and a
// non-zero mean (CVValid).
//
// # Speedup
//
// [CompareSpeedup] compares a candidate arm with a base arm. The speedup of
// cand over base is median(base)/median(cand) for a lower-is-better metric and
// median(cand)/median(base) for a higher-is-better one, so in both cases a
// value above 1 means the candidate is better. Medians are benchmath's, so
// the ratio is the one benchstat would print. It is Valid only when both
// arms have samples and both medians are positive.
//
// Significance is the two-sided Mann–Whitney U test of benchmath's
// AssumeNothing.Compare, as in benchstat: exact null distribution up to 50
// samples per arm (up to 25 when there are ties, using the exact
// distribution conditioned on the tie pattern), normal approximation with
// tie and continuity correction above. A difference is Significant when
// p <= Alpha (benchstat prints "~" exactly when p > alpha). benchmath's
// exact p is computed in floating point and can exceed the exact fraction
// by an ulp (3 vs 3 fully separated samples give 0.10000000000000002, not
// 2/20), so a p that is "exactly" alpha may be judged not significant, as
// benchstat would. When the test cannot be computed (an empty arm, or every
// value of both arms equal) p is 1, i.e. not significant. With arms of
// equal size, a two-sided p <= 0.05 needs at least 4 samples per arm
// (benchmath warns below that).
//
// The ratio's confidence interval (level [Options].Confidence, default 95%)
// is computed two ways; [Options].Method picks the one reported in
// Lo/Hi/Method and the other is in Alt:
//
//   - "bootstrap" (default): percentile bootstrap of
//     median(base)/median(cand), B = 2000 resamples, with a seeded PCG
//     generator (math/rand/v2) so the interval is reproducible. When both
//     arms have the same number of samples (and none was dropped) the
//     resampling is paired: whole rounds are drawn with replacement, which
//     keeps each round's baseline and candidate together and so cancels slow
//     drift of the machine (thermal state, other tenants) that the
//     interleaved design already spreads evenly over the arms. Method is
//     then "bootstrap-paired", otherwise the arms are resampled independently
//     and Method is "bootstrap". The interval runs from the
//     floor(B·(1-c)/2)-th to the (B-1-floor(B·(1-c)/2))-th sorted resampled
//     ratio (0-based; 50th and 1949th for B=2000, c=0.95), so it is exactly
//     inverted when the roles of base and cand are swapped.
//   - "hodges-lehmann": the Hodges–Lehmann estimate of the shift between
//     log(base) and log(cand), i.e. the median of all pairwise differences
//     log(b_i) - log(c_j), exponentiated; its interval is the distribution-
//     free one obtained by inverting the Mann–Whitney test (Lehmann 1975,
//     Hollander & Wolfe): [D(k), D(mn+1-k)] over the sorted mn differences,
//     with k the largest integer such that P(U <= k-1) <= (1-c)/2 under the
//     exact null distribution of U (no ties, both arms up to 50 samples;
//     normal approximation with continuity correction above). Its Estimate
//     is exp(HL), which estimates the ratio of medians under a pure scale
//     model; it can differ slightly from Ratio.
//
// The bootstrap is the default because its interval is an interval for the
// very number that is reported and judged (the ratio of medians), because
// pairing by round uses the interleaved design to remove drift, and because
// it does not assume that the two arms differ by a pure scale factor (an
// optimisation often changes the spread as well as the location). The
// Hodges–Lehmann interval is kept for comparison: it assumes independent
// samples and a pure shift in log space, and it is the exact dual of the
// Mann–Whitney test (with no ties and exact critical values, it excludes 1
// exactly when p <= 1-c), so a disagreement between the two intervals is a
// sign that the shift model does not hold. Both intervals need at least two
// strictly positive samples per arm, and the Hodges–Lehmann interval needs
// enough samples for an exact critical value to exist (4 per arm at 95%).
// The percentile bootstrap of a median
// is somewhat narrow with 10 samples (coverage a little under nominal),
// which is one more reason a verdict also requires the band below.
//
// # Verdict
//
// [Judge] classifies the agent-over-human speedup. It is "win" when the
// Mann–Whitney difference is significant (p <= Alpha, default 0.05) and the
// ratio of medians is above 1+Band (default Band 0.05, so > 1.05), "loss"
// when it is significant and the ratio is below 1/(1+Band) (< 0.9524), and
// "match" when it is significant but within the band, or not significant
// with samples that could have been. The band is symmetric in log space: an
// agent 1.06× faster than the human is a win exactly when a human 1.06×
// faster than the agent would be a loss, whichever arm is called the
// reference.
//
// It is "inconclusive", never "match", when the samples cannot decide: the
// speedup is not computable; the sample counts cannot reach p <= Alpha at
// all ([MinPValue]: with 3 samples per arm the smallest two-sided p is
// 2/C(6,3) = 0.1, so a 4× loss would otherwise read as a match); or the
// confidence interval and the test disagree (significant but the CI
// contains 1, or not significant but the CI excludes 1). Each verdict has
// a Label worded so that it cannot be misread: "match (within ±5%)" for a
// real but small difference, "match (no significant difference)",
// "inconclusive (n too small)", "inconclusive (CI and test disagree)".
//
// # GSO flags
//
// As in GSO: OptBase is agent/base speedup >= 1.2 ([OptBaseSpeedup]);
// OptCommit is OptBase and agent/base >= 0.95 × human/base
// ([OptCommitFraction]). Both compare ratios of medians (with a 1e-12
// relative tolerance for floating-point round-off), and both are false when
// a needed ratio is not Valid.
//
// # pass@k and Opt@K
//
// [PassAtK] is the unbiased estimator of Chen et al. (2021), "Evaluating
// Large Language Models Trained on Code": with n samples of which c are
// correct, pass@k = 1 - C(n-c, k)/C(n, k), computed as the stable product
// 1 - Π_{i=n-c+1..n} (1 - k/i). Opt@K is the same estimator with c the
// number of samples that reached opt_commit (or opt_base). [MeanAtK] averages
// it over items.
//
// # JSON
//
// Every exported struct has snake_case json tags and no field ever holds NaN
// or ±Inf: a statistic that cannot be computed (n < 2, a zero median, a
// non-positive sample for a log-based method) is reported as 0 with its
// validity flag false and a line in Warnings.
package stats
