package evaluate

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// ContendedShare is the run-queue delay, as a share of the timed wall
// time, above which an item is flagged contended.
const ContendedShare = 0.05

// Contention returns the run-queue delay of the timed samples as a share
// of their wall time; ok is false when it was not measured.
func Contention(samples []records.Sample) (share float64, ok bool) {
	var delay, wall float64
	for _, s := range samples {
		if s.Warmup {
			continue
		}
		if !s.RunDelayKnown {
			return 0, false
		}
		delay += s.RunDelaySeconds
		wall += s.WallSeconds
	}
	if wall <= 0 {
		return 0, false
	}
	return delay / wall, true
}

// Timed returns the values of the arm's timed samples in round order.
func Timed(samples []records.Sample, arm records.Arm) []float64 {
	var out []float64
	for _, s := range samples {
		if s.Arm == arm && !s.Warmup {
			out = append(out, s.Value)
		}
	}
	return out
}

// Analyze computes the statistics of the timed samples with the spec's
// options.
func Analyze(samples []records.Sample, spec *Spec) stats.ThreeWay {
	return stats.Analyze(Timed(samples, records.ArmBase), Timed(samples, records.ArmHuman), Timed(samples, records.ArmAgent), spec.Options())
}

// AnalyzeSample is Analyze for the candidate of sample k of the item
// layout, against the item's one baseline and human.
func AnalyzeSample(samples []records.Sample, k int, spec *Spec) stats.ThreeWay {
	var agent []float64
	for _, s := range samples {
		if s.Arm == records.ArmAgent && s.Sample == k && !s.Warmup {
			agent = append(agent, s.Value)
		}
	}
	return stats.Analyze(Timed(samples, records.ArmBase), Timed(samples, records.ArmHuman), agent, spec.Options())
}

// PatchHash identifies a patch's bytes.
func PatchHash(patch []byte) string {
	sum := sha256.Sum256(patch)
	return hex.EncodeToString(sum[:8])
}

// failure is why an arm stopped.
type failure struct {
	arm records.Arm
	// kind is "files", "setup", "correctness", "workload", "metric" or
	// "equivalence".
	kind     string
	timedOut bool
	reason   string
}

// statusOf decides the status from the first failure (nil: success).
// The baseline and the human arm failing are problems of the task or the
// machine; the agent's candidate failing is the agent's result: timeout
// when the limit stopped it, equivalence_failed when its output differs,
// correctness_failed otherwise.
func statusOf(f *failure) records.EvalStatus {
	if f == nil {
		return records.EvalSuccess
	}
	switch f.arm {
	case records.ArmBase:
		return records.EvalBaseFailed
	case records.ArmHuman:
		return records.EvalHumanFailed
	}
	switch {
	case f.kind == "patch":
		return records.EvalPatchFailed
	case f.timedOut:
		return records.EvalTimeout
	case f.kind == "equivalence":
		return records.EvalEquivalenceFailed
	}
	return records.EvalCorrectnessFailed
}
