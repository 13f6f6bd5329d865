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
//	evaltool predictions -plan PLAN -repo REPO -mode replay|empty [-model M]
//	    Writes predictions.jsonl to stdout: for every plan item the human
//	    diff (replay) or an empty patch.
//	evaltool summary [-json] RUN_DIR...
//	    Reads every <item>/eval.json of the runs and prints the figures the
//	    validation checks: statuses, verdicts, significance, CIs.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"

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
		fail("usage: evaltool spin N | predictions ... | summary RUN_DIR...")
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
		for i := 0; i < 31; i++ {
			cmd := exec.Command(*bench, evaluate.TimedCommand, "--cpu", strconv.Itoa(*cpu), "--result", result, "--", "sh", "-c", "sh bench.sh")
			cmd.Dir = *dir
			if err := cmd.Run(); err != nil {
				fail(err.Error())
			}
			var r struct {
				WallNanos int64 `json:"wall_ns"`
			}
			data, err := os.ReadFile(result)
			if err != nil || json.Unmarshal(data, &r) != nil {
				fail("calibrate: no result from the launcher")
			}
			ts = append(ts, float64(r.WallNanos)/1e9)
		}
		return median(ts)
	}
	tn, t0 := timeIt(*n), timeIt(0)
	perStep := (tn - t0) / float64(*n)
	target := tn / *speedup
	m := int(math.Round(float64(*n) - (tn-target)/perStep))
	fmt.Fprintf(os.Stderr, "calibrate: %d steps %.2f ms, start-up %.2f ms; %d steps for %.3fx\n", *n, 1e3*tn, 1e3*t0, m, *speedup)
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
