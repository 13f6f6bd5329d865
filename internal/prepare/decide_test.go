package prepare

import (
	"errors"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
)

// TestDecide covers every status decide gives, and its order of
// precedence: each case sets the fact that decides it and the facts of
// the cases after it, which must lose.
func TestDecide(t *testing.T) {
	rateLimit := &agent.InfraError{Kind: agent.InfraRateLimit, Msg: "429"}
	auth := &agent.InfraError{Kind: agent.InfraAuth, Msg: "401 from the provider"}
	exited := func(code int) *proc.Result { return &proc.Result{ExitCode: code} }
	strictBad := &records.Targets{Strict: true, OK: false, Disallowed: []string{"b.go", "c.go"}}
	// ok is a rollout that ended by itself with an applying patch.
	ok := func() facts {
		return facts{
			out:     &agent.Outcome{Process: exited(0)},
			patch:   &records.PatchInfo{Bytes: 12},
			patchOK: true,
			costUSD: 0.25,
			limits:  records.Limits{Timeout: records.Duration(90 * time.Second), MaxBudgetUSD: 1},

			maxTotalBudgetUSD: 5,
		}
	}
	with := func(change func(*facts)) facts {
		f := ok()
		change(&f)
		return f
	}
	cases := []struct {
		name string
		f    facts
		want verdict
	}{
		{"success", ok(), verdict{status: records.RolloutSuccess}},
		{"non-strict targets are a success", with(func(f *facts) { f.targets = &records.Targets{Strict: false, OK: false, Disallowed: []string{"b.go"}} }),
			verdict{status: records.RolloutSuccess}},
		{"interrupted before everything", with(func(f *facts) {
			f.interrupted = errors.New("signal: interrupt")
			f.runErr = errors.New("agent crashed")
			f.out = nil
		}), verdict{status: records.RolloutInterrupted, reason: "interrupted: signal: interrupt"}},
		{"adapter error before the outcome's infra", with(func(f *facts) {
			f.runErr = errors.New("no such file")
			f.out = &agent.Outcome{Infra: rateLimit}
		}), verdict{status: records.RolloutInfraError, reason: "agent: no such file"}},
		{"adapter error on a full disk", with(func(f *facts) { f.runErr = fmt.Errorf("write: %w", syscall.ENOSPC) }),
			verdict{status: records.RolloutInfraError, reason: "disk full during agent: write: no space left on device"}},
		{"infra error of the outcome before capture", with(func(f *facts) {
			f.out.Infra = rateLimit
			f.captureErr = errors.New("git diff failed")
		}), verdict{status: records.RolloutInfraError, reason: rateLimit.Error(), infraKind: agent.InfraRateLimit}},
		{"infra error that is not classified", with(func(f *facts) { f.out.Infra = errors.New("engine gone") }),
			verdict{status: records.RolloutInfraError, reason: "engine gone", infraKind: agent.InfraOther}},
		{"capture error before log error", with(func(f *facts) {
			f.captureErr = errors.New("git diff failed")
			f.logErr = errors.New("write log")
		}), verdict{status: records.RolloutInfraError, reason: "patch capture: git diff failed"}},
		{"log error before a refused patch", with(func(f *facts) {
			f.logErr = errors.New("write log")
			f.patchRefused = "patch too large"
		}), verdict{status: records.RolloutInfraError, reason: "logs: write log"}},
		{"refused patch before the item's budget", with(func(f *facts) {
			f.patchRefused = "patch too large (9 bytes > 8, max_patch_bytes)"
			f.stopped = errItemBudget
		}), verdict{status: records.RolloutAgentError, reason: "patch too large (9 bytes > 8, max_patch_bytes)"}},
		{"item budget stop with earlier attempts", with(func(f *facts) {
			f.stopped = errItemBudget
			f.priorCost = 0.5
			f.limitsHit = []string{records.LimitMaxBudgetUSD}
			f.out.Process = &proc.Result{ExitCode: -1, Signal: "terminated", Stopped: true, TimedOut: true}
		}), verdict{status: records.RolloutBudgetExceeded, limitHit: records.LimitMaxBudgetUSD,
			reason: "max_budget_usd of $1 reached (spent $0.25, $0.75 with earlier attempts); the harness stopped the agent"}},
		{"item budget stop", with(func(f *facts) { f.stopped = errItemBudget }),
			verdict{status: records.RolloutBudgetExceeded, limitHit: records.LimitMaxBudgetUSD,
				reason: "max_budget_usd of $1 reached (spent $0.25); the harness stopped the agent"}},
		{"run budget stop before the agent's own budget", with(func(f *facts) {
			f.stopped = errRunBudget
			f.limitsHit = []string{records.LimitMaxBudgetUSD}
		}), verdict{status: records.RolloutInterrupted, limitHit: records.LimitMaxTotalBudgetUSD,
			reason: "stopped: the run's max_total_budget_usd of $5 is reached"}},
		{"another cause of a stop is no budget", with(func(f *facts) { f.stopped = errors.New("other") }),
			verdict{status: records.RolloutSuccess}},
		{"agent's own budget stop before the timeout", with(func(f *facts) {
			f.limitsHit = []string{records.LimitMaxIterations, records.LimitMaxBudgetUSD}
			f.out.Process = &proc.Result{ExitCode: -1, Signal: "killed", TimedOut: true}
		}), verdict{status: records.RolloutBudgetExceeded, reason: "the agent stopped at its budget (spent $0.25)"}},
		{"timeout before a failure", with(func(f *facts) {
			f.out = &agent.Outcome{Process: &proc.Result{ExitCode: -1, Signal: "killed", TimedOut: true}, Failed: true, Reason: "no result"}
		}), verdict{status: records.RolloutTimeout, reason: "wall-clock limit of 1m30s reached"}},
		{"failure before the exit status", with(func(f *facts) {
			f.out = &agent.Outcome{Process: exited(2), Failed: true, Reason: "result: error_during_execution"}
		}), verdict{status: records.RolloutAgentError, reason: "result: error_during_execution"}},
		{"failure without a process", with(func(f *facts) { f.out = &agent.Outcome{Failed: true, Reason: "image missing"} }),
			verdict{status: records.RolloutAgentError, reason: "image missing"}},
		{"non-zero exit before no patch", with(func(f *facts) {
			f.out.Process = exited(3)
			f.patch = nil
		}), verdict{status: records.RolloutAgentError, reason: "agent exited with status 3"}},
		{"killed by a signal", with(func(f *facts) { f.out.Process = &proc.Result{ExitCode: -1, Signal: "segmentation fault"} }),
			verdict{status: records.RolloutAgentError, reason: "agent killed by signal segmentation fault"}},
		{"non-zero exit at max_iterations is judged by its patch", with(func(f *facts) {
			f.out = &agent.Outcome{Process: exited(1), LimitsHit: []string{records.LimitMaxIterations}}
		}), verdict{status: records.RolloutSuccess}},
		{"non-zero exit at max_iterations without a patch", with(func(f *facts) {
			f.out = &agent.Outcome{Process: exited(1), LimitsHit: []string{records.LimitMaxIterations}}
			f.patch = &records.PatchInfo{}
		}), verdict{status: records.RolloutNoPatch, reason: "the agent changed nothing"}},
		{"no patch after a provider error is infra", with(func(f *facts) {
			f.patch = nil
			f.noPatchInfra = auth
		}), verdict{status: records.RolloutInfraError, reason: auth.Error(), infraKind: agent.InfraAuth}},
		{"no patch with its result read is no_patch", with(func(f *facts) {
			f.patch = &records.PatchInfo{}
			f.out.ResultRead = true
			f.noPatchInfra = auth
		}), verdict{status: records.RolloutNoPatch, reason: "the agent changed nothing"}},
		{"no patch before a patch that does not apply", with(func(f *facts) {
			f.patch = &records.PatchInfo{Bytes: 0}
			f.patchOK = false
			f.patchReason = "does not apply"
		}), verdict{status: records.RolloutNoPatch, reason: "the agent changed nothing"}},
		{"patch that does not apply before the targets", with(func(f *facts) {
			f.patchOK = false
			f.patchReason = "the patch does not apply cleanly to the pre tree: a.go: patch failed"
			f.targets = strictBad
		}), verdict{status: records.RolloutAgentError, reason: "the patch does not apply cleanly to the pre tree: a.go: patch failed"}},
		{"target violation", with(func(f *facts) { f.targets = strictBad }),
			verdict{status: records.RolloutTargetViolation, reason: "changed files outside the targets: b.go, c.go"}},
	}
	seen := map[records.RolloutStatus]bool{}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := decide(c.f); got != c.want {
				t.Errorf("decide = %+v, want %+v", got, c.want)
			}
		})
		seen[c.want.status] = true
	}
	for _, st := range records.RolloutStatuses {
		if st != records.RolloutRunning && !seen[st] {
			t.Errorf("no case ends in %s", st)
		}
	}
}
