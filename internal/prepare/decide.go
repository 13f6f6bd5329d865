package prepare

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/records"
)

// facts are what an attempt's status is decided from, gathered once the
// agent has run and its patch is captured.
type facts struct {
	// interrupted is the cause of the run's interruption (nil: none).
	interrupted error
	// runErr is the adapter's failure to run the agent at all; out is
	// the agent's outcome otherwise.
	runErr error
	out    *agent.Outcome
	// stopped is why the harness stopped the rollout (errItemBudget,
	// errRunBudget), nil when it did not.
	stopped    error
	captureErr error
	logErr     error
	// patchRefused is why no patch was kept (too large, a secret in a
	// binary file); patchOK and patchReason say whether the kept patch
	// applies to the pre tree.
	patchRefused string
	patchOK      bool
	patchReason  string
	patch        *records.PatchInfo
	targets      *records.Targets
	// limitsHit are the limits the journal records so far (the agent's).
	limitsHit []string
	// noPatchInfra is the provider error at the end of stderr of a
	// rollout that changed nothing and whose result was not read.
	noPatchInfra *agent.InfraError
	// costUSD is the attempt's spend, priorCost the earlier attempts'.
	costUSD, priorCost float64
	limits             records.Limits
	maxTotalBudgetUSD  float64
	// budgetName names the cap in the reason ("": the run's
	// max_total_budget_usd; a shard's share or shard_budget_usd).
	budgetName string
}

// verdict is an attempt's ending: its status and reason, the kind of an
// infra_error, and a limit the ending adds to the journal's limits_hit.
type verdict struct {
	status    records.RolloutStatus
	reason    string
	infraKind agent.InfraKind
	limitHit  string
}

// decide is the status of an attempt, from its facts alone. The order
// matters: what the harness or the infrastructure did comes before what
// the agent did, and the agent's own ending before what its patch is.
func decide(f facts) verdict {
	out := f.out
	switch {
	case f.interrupted != nil:
		return verdict{status: records.RolloutInterrupted, reason: "interrupted: " + f.interrupted.Error()}
	case f.runErr != nil:
		return infraVerdict("agent", f.runErr)
	case out.Infra != nil:
		kind := agent.InfraOther
		if ie, ok := out.Infra.(*agent.InfraError); ok {
			kind = ie.Kind
		}
		return verdict{status: records.RolloutInfraError, reason: out.Infra.Error(), infraKind: kind}
	case f.captureErr != nil:
		return infraVerdict("patch capture", f.captureErr)
	case f.logErr != nil:
		return infraVerdict("logs", f.logErr)
	case f.patchRefused != "":
		return verdict{status: records.RolloutAgentError, reason: f.patchRefused}
	case errors.Is(f.stopped, errItemBudget):
		spent := "spent " + usd(f.costUSD)
		if f.priorCost > 0 {
			spent += fmt.Sprintf(", %s with earlier attempts", usd(f.priorCost+f.costUSD))
		}
		return verdict{status: records.RolloutBudgetExceeded, limitHit: records.LimitMaxBudgetUSD,
			reason: fmt.Sprintf("%s of %s reached (%s); the harness stopped the agent", records.LimitMaxBudgetUSD, usd(f.limits.MaxBudgetUSD), spent)}
	case errors.Is(f.stopped, errRunBudget):
		// Not the agent's failure: the harness cut it short. It stays
		// to do, for a resume with a larger budget.
		return verdict{status: records.RolloutInterrupted, limitHit: records.LimitMaxTotalBudgetUSD,
			reason: fmt.Sprintf("stopped: %s of %s is reached", budgetName(f.budgetName), usd(f.maxTotalBudgetUSD))}
	case slices.Contains(f.limitsHit, records.LimitMaxBudgetUSD):
		return verdict{status: records.RolloutBudgetExceeded, reason: fmt.Sprintf("the agent stopped at its budget (spent %s)", usd(f.costUSD))}
	case out.Process != nil && out.Process.TimedOut:
		return verdict{status: records.RolloutTimeout, reason: fmt.Sprintf("wall-clock limit of %s reached", f.limits.Timeout)}
	case out.Failed:
		return verdict{status: records.RolloutAgentError, reason: out.Reason}
	case out.Process != nil && (out.Process.ExitCode != 0 || out.Process.Signal != "") && !stoppedAtIterations(out):
		return verdict{status: records.RolloutAgentError, reason: exitReason(out.Process)}
	case noPatch(f.patch) && !out.ResultRead && f.noPatchInfra != nil:
		// An agent that gave up on a provider error and exited 0 did
		// not get to try: redo it, do not count it as a result.
		return verdict{status: records.RolloutInfraError, reason: f.noPatchInfra.Error(), infraKind: f.noPatchInfra.Kind}
	case noPatch(f.patch):
		return verdict{status: records.RolloutNoPatch, reason: "the agent changed nothing"}
	case !f.patchOK:
		return verdict{status: records.RolloutAgentError, reason: f.patchReason}
	case f.targets != nil && f.targets.Strict && !f.targets.OK:
		return verdict{status: records.RolloutTargetViolation, reason: "changed files outside the targets: " + strings.Join(f.targets.Disallowed, ", ")}
	}
	return verdict{status: records.RolloutSuccess}
}

func infraVerdict(what string, err error) verdict {
	status, reason := infra(what, err)
	return verdict{status: status, reason: reason}
}

// noPatch reports whether an attempt left no change.
func noPatch(p *records.PatchInfo) bool { return p == nil || p.Bytes == 0 }

// budgetName is the name of the cap that stopped a rollout.
func budgetName(name string) string {
	if name == "" {
		return "the run's " + records.LimitMaxTotalBudgetUSD
	}
	return name
}
