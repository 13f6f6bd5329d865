package evaluate

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/records"
)

// TestDecideRun covers what one timed run becomes: a sample, or a failure
// of its arm (with the command's log when the command failed), and which
// fact wins: how the command ended before its output's metric.
func TestDecideRun(t *testing.T) {
	spec := func(m records.Metric) *Spec {
		s := &Spec{}
		s.Metric = m
		s.Timeout = records.Duration(30 * time.Second)
		return s
	}
	wall := spec(records.Metric{Kind: "wall"})
	regex := spec(records.Metric{Kind: "regex", Regex: `took ([0-9.]+) ms`})
	ok := CommandResult{Wall: 1500 * time.Millisecond, User: time.Second, Sys: 200 * time.Millisecond, CPUTimes: true,
		Pinned: true, RunDelay: 30 * time.Millisecond, RunDelayKnown: true}
	run := func(arm records.Arm, round int, warm bool, cr CommandResult, stdout, stderr string) runFacts {
		return runFacts{arm: arm, round: round, pos: 2, warm: warm, offset: 4.5, result: cr,
			stdout: []byte(stdout), stderr: stderr, stderrBytes: int64(len(stderr))}
	}
	sample := func(arm records.Arm, round int, warm bool, v float64) *records.Sample {
		return &records.Sample{Arm: arm, Round: round, Position: 2, Warmup: warm, Value: v,
			WallSeconds: 1.5, UserSeconds: 1, SysSeconds: 0.2, CPUTimes: true, Pinned: true, OffsetSeconds: 4.5,
			RunDelaySeconds: 0.03, RunDelayKnown: true}
	}
	failed := func(cr CommandResult) CommandResult {
		c := ok
		c.ExitCode, c.Signal, c.TimedOut = cr.ExitCode, cr.Signal, cr.TimedOut
		return c
	}
	log := func(arm records.Arm, cr CommandResult, out string) *records.CommandLog {
		return &records.CommandLog{Arm: arm, Phase: "workload", Command: "./bench.sh", ExitCode: cr.ExitCode, Signal: cr.Signal,
			TimedOut: cr.TimedOut, DurationSeconds: 1.5, Output: out, OutputBytes: int64(len(out))}
	}
	exit2 := failed(CommandResult{ExitCode: 2})
	killed := failed(CommandResult{ExitCode: -1, Signal: "killed"})
	timedOut := failed(CommandResult{ExitCode: -1, Signal: "killed", TimedOut: true})
	cases := []struct {
		name string
		spec *Spec
		f    runFacts
		want runVerdict
	}{
		{"wall time is the sample", wall, run(records.ArmHuman, 3, false, ok, "", ""),
			runVerdict{sample: sample(records.ArmHuman, 3, false, 1.5)}},
		{"a warm-up sample", wall, run(records.ArmBase, 0, true, ok, "", ""),
			runVerdict{sample: sample(records.ArmBase, 0, true, 1.5)}},
		{"the metric from the output", regex, run(records.ArmAgent, 1, false, ok, "took 12.5 ms\n", ""),
			runVerdict{sample: sample(records.ArmAgent, 1, false, 12.5)}},
		{"no metric in the output", regex, run(records.ArmAgent, 1, true, ok, "done\n", ""),
			runVerdict{fail: &failure{arm: records.ArmAgent, kind: "metric",
				reason: `no metric in the agent's candidate's output (warm-up round 1): metric regex "took ([0-9.]+) ms" matches nothing in the workload's output (output starts "done\n")`}}},
		{"a non-zero exit before the metric", regex, run(records.ArmBase, 4, false, exit2, "took 1 ms", "boom\nlast words\n"),
			runVerdict{log: log(records.ArmBase, exit2, "boom\nlast words\n"), fail: &failure{arm: records.ArmBase, kind: "workload",
				reason: "the workload failed on the baseline (round 4): exit status 2: last words"}}},
		{"killed by a signal", wall, run(records.ArmHuman, 0, true, killed, "", ""),
			runVerdict{log: log(records.ArmHuman, killed, ""), fail: &failure{arm: records.ArmHuman, kind: "workload",
				reason: "the workload failed on the human commit (warm-up round 0): killed by signal killed"}}},
		{"a timeout", wall, run(records.ArmAgent, 2, false, timedOut, "", "slow"),
			runVerdict{log: log(records.ArmAgent, timedOut, "slow"), fail: &failure{arm: records.ArmAgent, kind: "workload", timedOut: true,
				reason: "the workload failed on the agent's candidate (round 2): timed out after 30s: slow"}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := decideRun(c.spec, "./bench.sh", c.f)
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("decideRun =\n%s\nwant\n%s", show(got), show(c.want))
			}
		})
	}
	t.Run("truncated output", func(t *testing.T) {
		f := run(records.ArmBase, 0, false, exit2, "", "tail")
		f.stderrBytes = 1 << 20
		if got := decideRun(wall, "./bench.sh", f); got.log == nil || !got.log.OutputTruncated || got.log.OutputBytes != 1<<20 {
			t.Errorf("log = %+v, want the output marked truncated", got.log)
		}
	})
}

func show(v runVerdict) string {
	s := ""
	if v.sample != nil {
		s += fmt.Sprintf("sample %+v\n", *v.sample)
	}
	if v.log != nil {
		s += fmt.Sprintf("log %+v\n", *v.log)
	}
	if v.fail != nil {
		s += fmt.Sprintf("fail %+v\n", *v.fail)
	}
	return s
}
