//go:build ignore

// evaltool is the helper of scripts/validate-evaluation.sh. It is not part
// of bench: build it with `go build -o evaltool scripts/evaltool.go`.
//
//	evaltool spin N      (or a link named spin: spin N)
//	    A controlled CPU-bound workload: N steps of a dependent xorshift
//	    recurrence (time proportional to N, nothing to optimise away).
//	    Prints "ok" whatever N is, so outputs stay equivalent.
//	evaltool calibrate -n N -speedup S -dir DIR -bench BENCH -cpu C
//	    Times the workload exactly as evaluate does (`BENCH __timed --cpu C
//	    -- sh -c 'sh bench.sh'` in DIR), with N and with 0 steps in
//	    DIR/spin.conf (the fixed cost of shells and process start-up), 31
//	    times each, and prints the number of steps M for which the whole
//	    workload is S times faster than with N steps, so that a "5%
//	    faster" candidate is 5% faster as a whole.
//	evaltool calibrate ... -metric cpu
//	    The same with the runs' user + system CPU time.
//	evaltool calibrate ... -count cachegrind|perf
//	    The same with the workload's instruction count (`__timed --count`,
//	    5 runs each) instead of its wall time.
//	evaltool classes [-json] CALIBRATION_JSON FIRST:LAST=CLASS...
//	    Compares the classes `bench calibrate` gave (calibration.json) with
//	    the expected ones (items by their index in the file, which is
//	    sorted by item id) and prints one row per item and the count right.
//	evaltool advice CALIBRATION_JSON
//	    Prints the metric calibrate recommends for most items (cpu or wall)
//	    and, on stderr, the counts and one item's reason.
//	evaltool predictions -plan PLAN -repo REPO -mode replay|empty [-model M]
//	    Writes predictions.jsonl to stdout: for every plan item the human
//	    diff (replay) or an empty patch.
//	evaltool summary [-json] RUN_DIR...
//	    Reads every <item>/eval.json of the runs and prints the figures the
//	    validation checks: statuses, verdicts, significance, CIs.
//	evaltool peers [-json] [-aa RUN_DIR] [-power RUN_DIR]
//	    Applies peers' rules and ours to the stored samples of an A/A run
//	    (every arm the same tree) and a power run (human and agent truly
//	    faster) and prints, per rule, the false "faster" calls on the
//	    first and the calls found on the second, for human/base and
//	    agent/base (see peerRules; one of ours reads the CPU times of the
//	    same runs), and the A/A items' minimum detectable effect.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/perf/benchmath"

	"github.com/perfbench/perfbench/internal/evaluate"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

func main() {
	if filepath.Base(os.Args[0]) == "spin" {
		spin(os.Args[1:])
		return
	}
	if len(os.Args) < 2 {
		fail("usage: evaltool spin N | calibrate ... | predictions ... | summary RUN_DIR... | peers [-aa RUN_DIR] [-power RUN_DIR]")
	}
	switch os.Args[1] {
	case "spin":
		spin(os.Args[2:])
	case "predictions":
		predictions(os.Args[2:])
	case "calibrate":
		calibrate(os.Args[2:])
	case "summary":
		summary(os.Args[2:])
	case "classes":
		classes(os.Args[2:])
	case "advice":
		advice(os.Args[2:])
	case "peers":
		peers(os.Args[2:])
	default:
		fail("unknown command " + os.Args[1])
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "evaltool: "+msg)
	os.Exit(2)
}

func spin(args []string) {
	if len(args) != 1 {
		fail("usage: evaltool spin N")
	}
	n, err := strconv.Atoi(args[0])
	if err != nil || n < 0 {
		fail("spin: N must be a non-negative integer")
	}
	x := uint64(88172645463325252)
	for i := 0; i < n; i++ {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
	}
	if x == 42 { // never: keeps the loop observable
		fmt.Println("unlikely")
	}
	fmt.Println("ok")
}

func calibrate(args []string) {
	fs := flag.NewFlagSet("calibrate", flag.ExitOnError)
	n := fs.Int("n", 0, "steps of the baseline")
	speedup := fs.Float64("speedup", 1.05, "how much faster the candidate must be")
	dir := fs.String("dir", "", "a directory with bench.sh")
	bench := fs.String("bench", "", "the bench binary")
	cpu := fs.Int("cpu", -1, "the timing CPU")
	count := fs.String("count", "", "time by the instruction count of this counter (cachegrind, perf) instead of wall time")
	metric := fs.String("metric", "wall", "wall or cpu (user+system seconds of the same runs)")
	fs.Parse(args)
	if os.Getenv("SPIN") == "" || *n <= 0 || *dir == "" || *bench == "" {
		fail("calibrate needs $SPIN, -n N, -dir DIR and -bench BENCH")
	}
	result := filepath.Join(*dir, "timed.json")
	timeIt := func(steps int) float64 {
		if err := os.WriteFile(filepath.Join(*dir, "spin.conf"), []byte(strconv.Itoa(steps)+"\n"), 0o644); err != nil {
			fail(err.Error())
		}
		var ts []float64
		runs := 31
		var countArgs []string
		if *count != "" {
			runs, countArgs = 5, []string{"--count", *count} // counts hardly vary
		}
		for i := 0; i < runs; i++ {
			argv := append([]string{evaluate.TimedCommand, "--cpu", strconv.Itoa(*cpu), "--result", result}, countArgs...)
			cmd := exec.Command(*bench, append(argv, "--", "sh", "-c", "sh bench.sh")...)
			cmd.Dir = *dir
			if err := cmd.Run(); err != nil {
				fail(err.Error())
			}
			var r struct {
				WallNanos    int64  `json:"wall_ns"`
				UserNanos    int64  `json:"user_ns"`
				SysNanos     int64  `json:"sys_ns"`
				Instructions uint64 `json:"instructions"`
				CountError   string `json:"count_error"`
			}
			data, err := os.ReadFile(result)
			if err != nil || json.Unmarshal(data, &r) != nil {
				fail("calibrate: no result from the launcher")
			}
			v := float64(r.WallNanos) / 1e9
			if *metric == "cpu" {
				v = float64(r.UserNanos+r.SysNanos) / 1e9
			}
			if *count != "" {
				if r.Instructions == 0 {
					fail("calibrate: no instruction count: " + r.CountError)
				}
				v = float64(r.Instructions)
			}
			ts = append(ts, v)
		}
		return median(ts)
	}
	tn, t0 := timeIt(*n), timeIt(0)
	perStep := (tn - t0) / float64(*n)
	target := tn / *speedup
	m := int(math.Round(float64(*n) - (tn-target)/perStep))
	if *count != "" {
		fmt.Fprintf(os.Stderr, "calibrate: %d steps %.0f instructions, start-up %.0f; %d steps for %.3fx\n", *n, tn, t0, m, *speedup)
	} else {
		fmt.Fprintf(os.Stderr, "calibrate: %d steps %.2f ms, start-up %.2f ms (%s); %d steps for %.3fx\n", *n, 1e3*tn, 1e3*t0, *metric, m, *speedup)
	}
	fmt.Println(m)
}

func predictions(args []string) {
	fs := flag.NewFlagSet("predictions", flag.ExitOnError)
	planPath := fs.String("plan", "", "plan.json")
	repo := fs.String("repo", "", "the task's repository")
	mode := fs.String("mode", "replay", "replay or empty")
	model := fs.String("model", "validation", "model_name_or_path")
	fs.Parse(args)
	p, err := plan.Read(*planPath)
	if err != nil {
		fail(err.Error())
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetEscapeHTML(false)
	for _, it := range p.Items {
		patch := ""
		if *mode == "replay" {
			out, err := exec.Command("git", "-C", *repo, "diff", "--binary", "--full-index", it.Pre, it.Human).Output()
			if err != nil {
				fail(fmt.Sprintf("git diff %s %s: %v", it.Pre, it.Human, err))
			}
			patch = string(out)
		}
		enc.Encode(records.Prediction{InstanceID: it.ID, ModelPatch: patch, ModelNameOrPath: *model})
	}
}

// Summary is what the validation reads.
type Summary struct {
	Items  int
	Status map[string]int
	// Verdicts of agent vs human.
	Win, Match, Loss, Inconclusive int
	// Significant counts p <= alpha per comparison; Faster counts
	// significant with ratio > 1.
	SigHumanBase, SigAgentBase, SigAgentHuman          int
	FasterHumanBase, FasterAgentBase                   int
	HumanBaseCIHas1, AgentBaseCIHas1, AgentHumanCIHas1 int
	// Overlaps: the agent's and the human's median CIs overlap; the
	// agent/base and human/base speedup CIs overlap.
	MedianCIsOverlap, SpeedupCIsOverlap int
	Noisy, Pinned                       int
	// Medians over items.
	MedianHumanBase, MedianAgentBase, MedianAgentHuman float64
	MedianCV                                           float64
	MaxCV                                              float64
	MedianBaseSeconds                                  float64
	LoadAvg                                            string
	CPUModel                                           string
	Cores                                              int
	Rounds, Warmup                                     int
}

func summary(args []string) {
	fs := flag.NewFlagSet("summary", flag.ExitOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Parse(args)
	s := Summary{Status: map[string]int{}}
	var hb, ab, ah, cvs, base []float64
	for _, run := range fs.Args() {
		dirs, _ := filepath.Glob(filepath.Join(run, "*", journal.EvalFile))
		sort.Strings(dirs)
		for _, f := range dirs {
			r, err := journal.ReadEval(filepath.Dir(f))
			if err != nil {
				fail(err.Error())
			}
			s.Items++
			s.Status[string(r.Status)]++
			s.Rounds, s.Warmup = r.Config.Rounds, r.Config.Warmup
			s.CPUModel, s.Cores = r.Environment.CPUModel, r.Environment.Cores
			if l := r.Environment.LoadAvgBefore; len(l) == 3 {
				s.LoadAvg = fmt.Sprintf("%.2f %.2f %.2f", l[0], l[1], l[2])
			}
			if r.Environment.Pinning.Applied {
				s.Pinned++
			}
			st := r.Stats
			if st == nil {
				continue
			}
			switch st.Verdict.Outcome {
			case stats.Win:
				s.Win++
			case stats.Loss:
				s.Loss++
			case stats.Inconclusive:
				s.Inconclusive++
			default:
				s.Match++
			}
			count := func(sp stats.Speedup, sig, faster, has1 *int) {
				if sp.Significant {
					*sig++
					if sp.Ratio > 1 {
						*faster++
					}
				}
				if sp.CIValid && sp.Lo <= 1 && 1 <= sp.Hi {
					*has1++
				}
			}
			var dummy int
			count(st.HumanOverBase, &s.SigHumanBase, &s.FasterHumanBase, &s.HumanBaseCIHas1)
			count(st.AgentOverBase, &s.SigAgentBase, &s.FasterAgentBase, &s.AgentBaseCIHas1)
			count(st.AgentOverHuman, &s.SigAgentHuman, &dummy, &s.AgentHumanCIHas1)
			if st.Agent.CIValid && st.Human.CIValid && st.Agent.Lo <= st.Human.Hi && st.Human.Lo <= st.Agent.Hi {
				s.MedianCIsOverlap++
			}
			if st.AgentOverBase.CIValid && st.HumanOverBase.CIValid && st.AgentOverBase.Lo <= st.HumanOverBase.Hi && st.HumanOverBase.Lo <= st.AgentOverBase.Hi {
				s.SpeedupCIsOverlap++
			}
			if st.Noisy {
				s.Noisy++
			}
			hb = append(hb, st.HumanOverBase.Ratio)
			ab = append(ab, st.AgentOverBase.Ratio)
			ah = append(ah, st.AgentOverHuman.Ratio)
			base = append(base, st.Base.Median)
			for _, a := range []stats.ArmSummary{st.Base, st.Human, st.Agent} {
				cvs = append(cvs, a.CV)
				s.MaxCV = math.Max(s.MaxCV, a.CV)
			}
		}
	}
	s.MedianHumanBase, s.MedianAgentBase, s.MedianAgentHuman = median(hb), median(ab), median(ah)
	s.MedianCV, s.MedianBaseSeconds = median(cvs), median(base)
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(s)
		return
	}
	fmt.Printf("items=%d statuses=%v rounds=%d warmup=%d pinned=%d/%d cpu=%q cores=%d loadavg=%q\n",
		s.Items, s.Status, s.Rounds, s.Warmup, s.Pinned, s.Items, s.CPUModel, s.Cores, s.LoadAvg)
	fmt.Printf("verdict agent-vs-human: win=%d match=%d loss=%d inconclusive=%d\n", s.Win, s.Match, s.Loss, s.Inconclusive)
	fmt.Printf("significant (p<=0.05): human/base=%d (faster %d) agent/base=%d (faster %d) agent/human=%d\n",
		s.SigHumanBase, s.FasterHumanBase, s.SigAgentBase, s.FasterAgentBase, s.SigAgentHuman)
	fmt.Printf("95%% CI contains 1: human/base=%d agent/base=%d agent/human=%d\n", s.HumanBaseCIHas1, s.AgentBaseCIHas1, s.AgentHumanCIHas1)
	fmt.Printf("CIs overlap agent vs human: medians=%d speedups=%d\n", s.MedianCIsOverlap, s.SpeedupCIsOverlap)
	fmt.Printf("median speedups: human/base=%.4f agent/base=%.4f agent/human=%.4f; median base=%.4gs; CV median=%.2f%% max=%.2f%%; noisy items=%d\n",
		s.MedianHumanBase, s.MedianAgentBase, s.MedianAgentHuman, s.MedianBaseSeconds, 100*s.MedianCV, 100*s.MaxCV, s.Noisy)
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	ys := append([]float64(nil), xs...)
	sort.Float64s(ys)
	n := len(ys)
	if n%2 == 1 {
		return ys[n/2]
	}
	return (ys[n/2-1] + ys[n/2]) / 2
}

// armSamples are an item's timed samples (warm-up excluded) per arm, in
// round order, with the item's evaluation options.
type armSamples struct {
	base, human, agent []float64
	// cpuBase, cpuHuman, cpuAgent are the user+system seconds of the same
	// runs; nil when a run's CPU times are unknown.
	cpuBase, cpuHuman, cpuAgent []float64
	opts                        stats.Options
	stored                      *stats.ThreeWay
	cv, cpuCV                   float64
}

// readArms reads the timed samples of every successful item of a run.
func readArms(run string) (items []armSamples, load string, rounds int) {
	var loads []float64 // 1-minute load averages before and after each item
	files, _ := filepath.Glob(filepath.Join(run, "*", journal.EvalFile))
	sort.Strings(files)
	for _, f := range files {
		r, err := journal.ReadEval(filepath.Dir(f))
		if err != nil {
			fail(err.Error())
		}
		if r.Status != records.EvalSuccess {
			continue
		}
		o := stats.DefaultOptions()
		o.Alpha, o.Band = r.Config.Alpha, r.Config.Band
		if r.Config.Metric.Better == "higher" {
			o.Better = stats.HigherIsBetter
		}
		it := armSamples{opts: o, stored: r.Stats}
		timed := slices.Clone(r.Samples)
		sort.SliceStable(timed, func(i, j int) bool { return timed[i].Round < timed[j].Round })
		cpuKnown := true
		for _, sm := range timed {
			if sm.Warmup {
				continue
			}
			cpuKnown = cpuKnown && sm.CPUTimes
			cpu := sm.UserSeconds + sm.SysSeconds
			switch sm.Arm {
			case records.ArmBase:
				it.base, it.cpuBase = append(it.base, sm.Value), append(it.cpuBase, cpu)
			case records.ArmHuman:
				it.human, it.cpuHuman = append(it.human, sm.Value), append(it.cpuHuman, cpu)
			case records.ArmAgent:
				it.agent, it.cpuAgent = append(it.agent, sm.Value), append(it.cpuAgent, cpu)
			}
		}
		if !cpuKnown || r.Config.Metric.Kind != "wall" {
			it.cpuBase, it.cpuHuman, it.cpuAgent = nil, nil, nil
		}
		it.cv = stats.Summarize(it.base, o).CV
		if it.cpuBase != nil {
			it.cpuCV = stats.Summarize(it.cpuBase, o).CV
		}
		rounds = max(rounds, len(it.base))
		for _, l := range [][]float64{r.Environment.LoadAvgBefore, r.Environment.LoadAvgAfter} {
			if len(l) == 3 {
				loads = append(loads, l[0])
			}
		}
		items = append(items, it)
	}
	if len(loads) > 0 {
		load = fmt.Sprintf("%.1f–%.1f", slices.Min(loads), slices.Max(loads))
	}
	return items, load, rounds
}

// speedupOf is the candidate's improvement over the base for statistics
// a (of the base) and b (of the candidate): above 1 is better.
func speedupOf(base, cand float64, o stats.Options) float64 {
	if o.Better == stats.HigherIsBetter {
		return cand / base
	}
	return base / cand
}

func mean(xs []float64) float64 {
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func firstN(xs []float64, n int) []float64 { return xs[:min(n, len(xs))] }

// iqrFilter keeps the values within [Q1 − 1.5·IQR, Q3 + 1.5·IQR]
// (quartiles by linear interpolation), as SWE-Perf filters its 20 runs.
func iqrFilter(xs []float64) []float64 {
	s := slices.Sorted(slices.Values(xs))
	q := func(p float64) float64 {
		pos := p * float64(len(s)-1)
		lo := int(math.Floor(pos))
		if lo >= len(s)-1 {
			return s[len(s)-1]
		}
		return s[lo] + (pos-float64(lo))*(s[lo+1]-s[lo])
	}
	q1, q3 := q(0.25), q(0.75)
	lo, hi := q1-1.5*(q3-q1), q3+1.5*(q3-q1)
	var out []float64
	for _, x := range xs {
		if x >= lo && x <= hi {
			out = append(out, x)
		}
	}
	return out
}

// oneSidedFasterP is the one-sided Mann–Whitney p that cand is better
// than base: half benchmath's two-sided p when U points that way, else
// 1 − half (the null distribution is symmetric).
func oneSidedFasterP(base, cand []float64, o stats.Options) float64 {
	if len(base) == 0 || len(cand) == 0 {
		return 1
	}
	th := &benchmath.Thresholds{CompareAlpha: 0.1}
	p := benchmath.AssumeNothing.Compare(benchmath.NewSample(slices.Clone(base), th), benchmath.NewSample(slices.Clone(cand), th)).P
	if math.IsNaN(p) {
		return 1
	}
	var u float64 // pairs in which the candidate is better
	for _, b := range base {
		for _, c := range cand {
			switch {
			case b == c:
				u += 0.5
			case (b > c) == (o.Better == stats.LowerIsBetter):
				u++
			}
		}
	}
	if u > float64(len(base)*len(cand))/2 {
		return p / 2
	}
	return 1 - p/2
}

// A peerRule calls a candidate faster than its base (cand and base are an
// item's timed samples in round order); human is the human arm, for rules
// that compare with it.
type peerRule struct {
	Name string
	call func(it armSamples, base, cand []float64) bool
	// agentOnly rules say nothing about the human arm.
	agentOnly bool
	// cpu rules read the CPU times of the same runs instead of the metric.
	cpu bool
}

var peerRules = []peerRule{
	{"ours: Mann–Whitney p ≤ alpha and faster (all rounds)", func(it armSamples, base, cand []float64) bool {
		sp := stats.CompareSpeedup(base, cand, it.opts)
		return sp.Significant && sp.Ratio > 1
	}, false, false},
	{"ours on CPU time (user+system of the same runs): p ≤ alpha and faster", func(it armSamples, base, cand []float64) bool {
		sp := stats.CompareSpeedup(base, cand, it.opts)
		return sp.Significant && sp.Ratio > 1
	}, false, true},
	{"ours: win rule (p ≤ alpha and beyond 1+band)", func(it armSamples, base, cand []float64) bool {
		sp := stats.CompareSpeedup(base, cand, it.opts)
		return sp.Significant && sp.Ratio > 1+it.opts.Band
	}, false, false},
	{"GSO: mean of first 5 runs > 1.05×", func(it armSamples, base, cand []float64) bool {
		return speedupOf(mean(firstN(base, 5)), mean(firstN(cand, 5)), it.opts) > 1.05
	}, false, false},
	{"GSO: opt_base (mean of 5 ≥ 1.2×)", func(it armSamples, base, cand []float64) bool {
		return speedupOf(mean(firstN(base, 5)), mean(firstN(cand, 5)), it.opts) >= stats.OptBaseSpeedup
	}, false, false},
	{"GSO: opt_commit (≥ 1.2× and ≥ 0.95 × human, mean of 5)", func(it armSamples, base, cand []float64) bool {
		b5 := mean(firstN(base, 5))
		s := speedupOf(b5, mean(firstN(cand, 5)), it.opts)
		h := speedupOf(b5, mean(firstN(it.human, 5)), it.opts)
		return s >= stats.OptBaseSpeedup && s >= stats.OptCommitFraction*h
	}, true, false},
	{"SWE-Perf: 20 runs, IQR filter, one-sided Mann–Whitney p < 0.1", func(it armSamples, base, cand []float64) bool {
		return oneSidedFasterP(iqrFilter(firstN(base, 20)), iqrFilter(firstN(cand, 20)), it.opts) < 0.1
	}, false, false},
}

// PeerRow is one rule's counts: calls on the A/A set (false) and on the
// power set (found), for human/base and agent/base; -1 when the rule does
// not apply.
type PeerRow struct {
	Rule                   string
	AAHuman, AAAgent       int
	PowerHuman, PowerAgent int
}

// Peers is the output of evaltool peers.
type Peers struct {
	AAItems, PowerItems   int
	AARounds, PowerRounds int
	AALoad, PowerLoad     string
	AAMedianCV            float64
	PowerMedianCV         float64
	// The same for the CPU times of the base arm's runs.
	AAMedianCPUCV, PowerMedianCPUCV float64
	// OursAAFalse and OursPower are the first rule's human/base counts,
	// for the validation's threshold.
	OursAAFalse, OursPower int
	// MDE over the A/A items (base and agent series pooled, the items'
	// rounds): medians of the simulated and the normal figures and of the
	// rounds needed for a 10% speedup (math.MaxInt32 when more than the
	// search's cap).
	MDESimulated, MDENormal        float64
	RoundsFor10, RoundsFor10Normal float64
	// StoredMismatch counts items whose stored human/base statistics
	// differ from the ones recomputed here with stats.Analyze.
	StoredMismatch int
	Rows           []PeerRow
}

func peers(args []string) {
	fs := flag.NewFlagSet("peers", flag.ExitOnError)
	aaRun := fs.String("aa", "", "the A/A run directory")
	powerRun := fs.String("power", "", "the power run directory")
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Parse(args)
	if *aaRun == "" && *powerRun == "" {
		fail("peers needs -aa RUN_DIR and/or -power RUN_DIR")
	}
	var out Peers
	var aa, pw []armSamples
	if *aaRun != "" {
		aa, out.AALoad, out.AARounds = readArms(*aaRun)
	}
	if *powerRun != "" {
		pw, out.PowerLoad, out.PowerRounds = readArms(*powerRun)
	}
	out.AAItems, out.PowerItems = len(aa), len(pw)
	cvs := func(items []armSamples) float64 {
		var xs []float64
		for _, it := range items {
			xs = append(xs, it.cv)
		}
		return median(xs)
	}
	out.AAMedianCV, out.PowerMedianCV = cvs(aa), cvs(pw)
	cpuCVs := func(items []armSamples) float64 {
		var xs []float64
		for _, it := range items {
			if it.cpuBase != nil {
				xs = append(xs, it.cpuCV)
			}
		}
		return median(xs)
	}
	out.AAMedianCPUCV, out.PowerMedianCPUCV = cpuCVs(aa), cpuCVs(pw)
	// Ours recomputed with stats.Analyze must be what evaluate stored.
	for _, it := range append(slices.Clone(aa), pw...) {
		re := stats.Analyze(it.base, it.human, it.agent, it.opts)
		if it.stored == nil || re.HumanOverBase.P != it.stored.HumanOverBase.P || re.HumanOverBase.Ratio != it.stored.HumanOverBase.Ratio ||
			re.AgentOverBase.Significant != it.stored.AgentOverBase.Significant {
			out.StoredMismatch++
		}
	}
	var sim, nor, r10, r10n []float64
	for _, it := range aa {
		m := stats.MinDetectableEffect([][]float64{it.base, it.agent}, stats.MDEConfig{Rounds: len(it.base)}, it.opts)
		sim, nor = append(sim, m.Simulated), append(nor, m.Normal)
		// Not reached within MaxRounds (0) counts as more than any.
		for _, p := range []struct {
			to *[]float64
			r  int
		}{{&r10, m.RoundsForTarget}, {&r10n, m.RoundsForTargetNormal}} {
			if p.r == 0 {
				p.r = math.MaxInt32
			}
			*p.to = append(*p.to, float64(p.r))
		}
	}
	out.MDESimulated, out.MDENormal, out.RoundsFor10, out.RoundsFor10Normal = median(sim), median(nor), median(r10), median(r10n)
	count := func(items []armSamples, r peerRule, agent bool) int {
		if r.agentOnly && !agent {
			return -1
		}
		n := 0
		for _, it := range items {
			base, cand := it.base, it.human
			if agent {
				cand = it.agent
			}
			if r.cpu {
				if it.cpuBase == nil {
					return -1 // not every run has its CPU times
				}
				base, cand = it.cpuBase, it.cpuHuman
				if agent {
					cand = it.cpuAgent
				}
			}
			if r.call(it, base, cand) {
				n++
			}
		}
		return n
	}
	for _, r := range peerRules {
		out.Rows = append(out.Rows, PeerRow{Rule: r.Name,
			AAHuman: count(aa, r, false), AAAgent: count(aa, r, true),
			PowerHuman: count(pw, r, false), PowerAgent: count(pw, r, true)})
	}
	out.OursAAFalse, out.OursPower = out.Rows[0].AAHuman, out.Rows[0].PowerHuman
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return
	}
	cell := func(n, of int) string {
		if n < 0 {
			return "—"
		}
		return fmt.Sprintf("%d/%d", n, of)
	}
	// CPU time beside the metric only for wall-time runs (on a cpu run it
	// is the metric itself).
	cpuCV := func(cv float64, items []armSamples) string {
		for _, it := range items {
			if it.cpuBase != nil {
				return fmt.Sprintf(" (CPU time %.2f%%)", 100*cv)
			}
		}
		return ""
	}
	fmt.Printf("A/A set: %d items, %d rounds, base CV median %.2f%%%s, load %s; power set: %d items, %d rounds, base CV median %.2f%%%s, load %s\n",
		out.AAItems, out.AARounds, 100*out.AAMedianCV, cpuCV(out.AAMedianCPUCV, aa), out.AALoad, out.PowerItems, out.PowerRounds, 100*out.PowerMedianCV, cpuCV(out.PowerMedianCPUCV, pw), out.PowerLoad)
	fmt.Printf("| rule | A/A false \"faster\" human/base | agent/base | power found human/base | agent/base |\n|---|---|---|---|---|\n")
	for _, r := range out.Rows {
		fmt.Printf("| %s | %s | %s | %s | %s |\n", r.Rule, cell(r.AAHuman, out.AAItems), cell(r.AAAgent, out.AAItems), cell(r.PowerHuman, out.PowerItems), cell(r.PowerAgent, out.PowerItems))
	}
	if out.AAItems > 0 {
		rounds := func(r float64) string {
			if r >= math.MaxInt32 {
				return fmt.Sprintf("more than %d", stats.DefaultMDEMaxRounds)
			}
			return fmt.Sprintf("%.0f", r)
		}
		fmt.Printf("A/A minimum detectable effect at %d rounds (win rule, 80%% of repeats; median over items): simulated %.4g×, normal approximation %.4g×; rounds for a 10%% speedup: %s (normal %s)\n",
			out.AARounds, out.MDESimulated, out.MDENormal, rounds(out.RoundsFor10), rounds(out.RoundsFor10Normal))
	}
	fmt.Printf("stored statistics differing from stats.Analyze on the same samples: %d items\n", out.StoredMismatch)
}

func readCalibration(path string) records.Calibration {
	data, err := os.ReadFile(path)
	if err != nil {
		fail(err.Error())
	}
	var c records.Calibration
	if err := json.Unmarshal(data, &c); err != nil {
		fail(path + ": " + err.Error())
	}
	return c
}

// ClassRow is one item of evaltool classes.
type ClassRow struct {
	Item, Expected, Got string
	// Sessions are the human-over-base ratios of the sessions, Pooled
	// of all of them; AACV the A/A spread, MDE the simulated figure.
	Sessions     []float64
	Pooled       float64
	PooledLo     float64
	PooledHi     float64
	AACV, MDE    float64
	MetricAdvice string
}

// Classes is the output of evaltool classes.
type Classes struct {
	Items, Right int
	// Confusion counts expected→got.
	Confusion map[string]int
	Rows      []ClassRow
}

func classes(args []string) {
	fs := flag.NewFlagSet("classes", flag.ExitOnError)
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Parse(args)
	if fs.NArg() < 2 {
		fail("usage: evaltool classes [-json] CALIBRATION_JSON FIRST:LAST=CLASS...")
	}
	c := readCalibration(fs.Arg(0))
	expect := map[int]string{}
	for _, a := range fs.Args()[1:] {
		var lo, hi int
		var class string
		rng, cl, ok := strings.Cut(a, "=")
		if _, err := fmt.Sscanf(rng, "%d:%d", &lo, &hi); !ok || err != nil {
			fail("expected FIRST:LAST=CLASS, got " + a)
		}
		class = cl
		for i := lo; i <= hi; i++ {
			expect[i] = class
		}
	}
	out := Classes{Confusion: map[string]int{}}
	for i, it := range c.Items {
		r := ClassRow{Item: it.ItemID, Expected: expect[i], Got: string(it.Class)}
		if it.Partial {
			r.Got = "partial"
		}
		if a := it.Analysis; a != nil {
			for _, h := range a.Human {
				r.Sessions = append(r.Sessions, h.Ratio)
			}
			r.Pooled, r.PooledLo, r.PooledHi = a.Pooled.Ratio, a.Pooled.Lo, a.Pooled.Hi
			r.AACV, r.MDE = a.MDE.CV, a.MDE.Simulated
			if a.Metric != nil {
				r.MetricAdvice = a.Metric.Metric
			}
		}
		out.Items++
		if r.Got == r.Expected {
			out.Right++
		}
		out.Confusion[r.Expected+"→"+r.Got]++
		out.Rows = append(out.Rows, r)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(out)
		return
	}
	fmt.Printf("| item | expected | class | human/base per session | pooled [95%% CI] | A/A CV | MDE | metric advice |\n|---|---|---|---|---|---|---|---|\n")
	for _, r := range out.Rows {
		var ss []string
		for _, s := range r.Sessions {
			ss = append(ss, fmt.Sprintf("%.3f", s))
		}
		mark := ""
		if r.Got != r.Expected {
			mark = " ✗"
		}
		fmt.Printf("| %s | %s | %s%s | %s | %.3f [%.3f, %.3f] | %.2f%% | %.3f | %s |\n", r.Item, r.Expected, r.Got, mark,
			strings.Join(ss, " "), r.Pooled, r.PooledLo, r.PooledHi, 100*r.AACV, r.MDE, r.MetricAdvice)
	}
	keys := slices.Sorted(maps.Keys(out.Confusion))
	var conf []string
	for _, k := range keys {
		conf = append(conf, fmt.Sprintf("%s %d", k, out.Confusion[k]))
	}
	fmt.Printf("classified right: %d of %d (%s)\n", out.Right, out.Items, strings.Join(conf, ", "))
}

func advice(args []string) {
	if len(args) != 1 {
		fail("usage: evaltool advice CALIBRATION_JSON")
	}
	c := readCalibration(args[0])
	n := map[string]int{}
	reason := ""
	for _, it := range c.Items {
		if it.Analysis == nil || it.Analysis.Metric == nil {
			n["none"]++
			continue
		}
		n[it.Analysis.Metric.Metric]++
		reason = it.Analysis.Metric.Reason
	}
	m := stats.MetricWall
	if n[stats.MetricCPU] > n[stats.MetricWall] {
		m = stats.MetricCPU
	}
	fmt.Fprintf(os.Stderr, "advice: cpu %d, wall %d, none %d of %d item(s); e.g. %s\n", n[stats.MetricCPU], n[stats.MetricWall], n["none"], len(c.Items), reason)
	fmt.Println(m)
}
