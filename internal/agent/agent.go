// Package agent owns the contract between the harness and an agent: what a
// rollout gets (workspace, task file, private output folder, fresh HOME,
// environment, limits, log writers), what it gives back (process facts,
// usage, agent-specific details), and the Kind each adapter declares:
// everything the harness knows about its type (see kind.go). The built-in
// adapters here are command (any executable), replay (applies the human
// diff: the oracle) and noop; each external agent lives in its own
// sub-package, and internal/agent/all lists them all.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
)

// Rollout is one attempt of one agent on one item.
type Rollout struct {
	RunID  string
	ItemID string
	Sample int
	Agent  *config.Agent
	Bench  *config.Bench
	Limits records.Limits

	// Workspace, TaskFile, OutDir and Home are private paths outside
	// state_root and work_root.
	Workspace string
	TaskFile  string
	OutDir    string
	Home      string
	// HarnessDir is an owner-marked private directory for the harness's
	// own temporary files (a container's cid file): outside the paths
	// above, so that no agent can see or rewrite them, and removed by a
	// later run if this one is killed.
	HarnessDir string
	// Env is the agent's complete environment (see BaseEnv).
	Env []string
	// Host is the harness's own environment: an engine client runs with
	// the invoking user's HOME and XDG directories from it.
	Host Host
	// Prompt is the content of TaskFile.
	Prompt string

	Stdout io.Writer
	Stderr io.Writer

	Secrets *secrets.Set
	// Observe receives the cumulative usage the agent reports while it
	// runs; adapters call ReportUsage. Nil outside prepare.
	Observe func(records.Usage)
	// ObserveTrajectory, when set, is given the steps of the rollout's
	// trajectory that its bounds cut, whole (records.Trajectory's
	// SetObserve; NewTrajectory installs it): the leak scan's view of
	// what the bounded trajectory.json cannot show.
	ObserveTrajectory func(records.Step)
	// HumanDiff returns the human commit's diff against pre; only the
	// replay oracle calls it.
	HumanDiff func(ctx context.Context) ([]byte, error)
	// Setup, when set, is the task's workspace_setup: RunProcess runs it
	// before the agent's process (see Setup).
	Setup *Setup
}

// Outcome is what a rollout produced besides the workspace's changes.
type Outcome struct {
	// Command is the argv as run, secrets redacted (nil without process).
	Command []string
	// Process is how the process ended; nil for in-process agents.
	Process *proc.Result
	Usage   records.Usage
	// Details are agent-specific facts for the journal.
	Details map[string]any
	// Failed marks an agent failure that the exit status does not show
	// (e.g. replay's diff did not apply); Reason explains.
	Failed bool
	Reason string
	// Infra is set when the failure is the infrastructure's (auth,
	// rate limit, image missing): the item becomes infra_error and is
	// retried on resume.
	Infra error
	// ResultRead is set by adapters that read the agent's own final
	// result (a result event, a trajectory's exit status): the harness
	// then does not guess infrastructure failures from the logs.
	ResultRead bool
	// LimitsHit names limits that ended the rollout ("timeout",
	// "max_iterations", "max_budget_usd").
	LimitsHit []string
	// Trajectory is what the agent did, converted by its adapter from
	// what the agent left (see trajectory.go); nil when the adapter has
	// no structure to read, and the harness records the raw stdout as an
	// unstructured trajectory instead.
	Trajectory *records.Trajectory
}

// Adapter runs one kind of agent.
type Adapter interface {
	// Command returns the argv the rollout would run, for --dry-run and
	// the journal (placeholders resolved, secrets not yet redacted); nil
	// for in-process agents.
	Command(r *Rollout) ([]string, error)
	// Run performs the rollout. A returned error is a harness failure;
	// agent failures are reported in the Outcome.
	Run(ctx context.Context, r *Rollout) (*Outcome, error)
}

// StdoutName is "<type>_stdout.txt", e.g. openhands_stdout.txt.
func StdoutName(typ string) string { return typ + "_stdout.txt" }

// StderrName is "<type>_stderr.txt".
func StderrName(typ string) string { return typ + "_stderr.txt" }

// EnvInput is what BaseEnv combines.
type EnvInput struct {
	// Process is the harness's environment (os.Environ()).
	Process []string
	// Dot is the .env content; the process environment wins over it.
	Dot map[string]string
	// Extra is the agent entry's env:, which wins over both.
	Extra map[string]string
	// Workspace, TaskFile, OutDir and Home are the rollout's paths.
	Workspace, TaskFile, OutDir, Home string
}

// harnessOnly are variables of the harness process that must not reach an
// agent: they would point git or the agent at the harness's own state.
var harnessOnly = []string{
	"GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
	"GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_COMMON_DIR", "GIT_NAMESPACE",
	"GIT_CEILING_DIRECTORIES", "GIT_CONFIG", "GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM",
	"OLDPWD", "PWD",
}

// BaseEnv is the agent's environment: the harness's environment plus .env
// (the process wins), minus the web-search deny list and harness-only
// variables, plus the entry's env:, the BENCH_* paths, a fresh HOME and XDG
// directories, and TMPDIR inside the rollout.
func BaseEnv(in EnvInput) []string {
	vars := map[string]string{}
	for k, v := range in.Dot {
		vars[k] = v
	}
	for _, kv := range in.Process {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	for _, k := range secrets.SearchKeyDenyList {
		delete(vars, k)
	}
	for _, k := range harnessOnly {
		delete(vars, k)
	}
	for k := range vars {
		if strings.HasPrefix(k, "BENCH_") {
			delete(vars, k)
		}
	}
	for k, v := range in.Extra {
		vars[k] = v
	}
	vars["BENCH_WORKSPACE"] = in.Workspace
	vars["BENCH_TASK_FILE"] = in.TaskFile
	vars["BENCH_OUT_DIR"] = in.OutDir
	vars["PWD"] = in.Workspace
	if in.Home != "" {
		vars["HOME"] = in.Home
		vars["XDG_CONFIG_HOME"] = filepath.Join(in.Home, ".config")
		vars["XDG_CACHE_HOME"] = filepath.Join(in.Home, ".cache")
		vars["XDG_DATA_HOME"] = filepath.Join(in.Home, ".local", "share")
		vars["XDG_STATE_HOME"] = filepath.Join(in.Home, ".local", "state")
		vars["TMPDIR"] = filepath.Join(filepath.Dir(in.Home), "tmp")
	}
	out := make([]string, 0, len(vars))
	for k, v := range vars {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// Expand replaces {workspace}, {task_file} and {out_dir} in an argv.
func Expand(argv []string, r *Rollout) []string {
	rep := strings.NewReplacer("{workspace}", r.Workspace, "{task_file}", r.TaskFile, "{out_dir}", r.OutDir)
	out := make([]string, len(argv))
	for i, a := range argv {
		out[i] = rep.Replace(a)
	}
	return out
}

// RunProcess runs argv on the host under the process contract and returns
// the outcome's process part. A start failure (executable not found) is an
// agent error, not a harness failure: the configuration names a missing
// program.
//
// With runtime: container (agents.<name>.runtime) the same argv runs in the
// entry's image instead (see runInContainer): adapters need not care.
func RunProcess(ctx context.Context, r *Rollout, argv []string, stdin io.Reader) (*Outcome, error) {
	if r.Agent != nil && r.Agent.Runtime == RuntimeContainer {
		return runInContainer(ctx, r, argv, stdin)
	}
	out := &Outcome{Command: r.Secrets.RedactArgv(argv)}
	spec := proc.Spec{
		Argv:    argv,
		Dir:     r.Workspace,
		Env:     r.Env,
		Stdin:   stdin,
		Stdout:  r.Stdout,
		Stderr:  r.Stderr,
		Timeout: r.Limits.Timeout.D(),
		Grace:   r.Limits.KillGrace.D(),
	}
	if user := RunsAs(r.Agent); user != nil {
		// proc.Run returns once the group is swept, and what left the
		// group is killed by its uid (unless another rollout runs as
		// that user): nothing of the agent's runs while its files are
		// taken back (also those a failed give already gave).
		leave := enterUser(user.UID)
		defer func() {
			if err := leave(); err != nil {
				fmt.Fprintf(r.Stderr, "perfbench: run_as: %v\n", err)
			}
			if err := reclaimRollout(r); err != nil {
				fmt.Fprintf(r.Stderr, "perfbench: run_as: take the rollout back: %v\n", err)
			}
		}()
		if err := giveRollout(r, user); err != nil {
			return nil, err
		}
		spec.User = &proc.User{UID: user.UID, GID: user.GID}
		out.SetDetail("run_as", user.String())
	}
	if r.Setup.pending() {
		if err := setupOnHost(ctx, r, spec.User); err != nil {
			return setupInfra(out, r, err), nil
		}
	}
	res, err := proc.Run(ctx, spec)
	if err != nil && spec.User != nil && errors.Is(err, fs.ErrPermission) {
		err = fmt.Errorf("%w (run_as %d:%d: that user must reach the executable and the workspace)", err, spec.User.UID, spec.User.GID)
	}
	if err != nil {
		out.Failed = true
		out.Reason = err.Error()
		fmt.Fprintf(r.Stderr, "perfbench: %v\n", err)
		return out, nil
	}
	out.Process = &res
	if res.TimedOut {
		out.LimitsHit = append(out.LimitsHit, records.LimitTimeout)
	}
	return out, nil
}

// MkdirPrivate creates dir with owner-only permissions.
func MkdirPrivate(dir string) error { return os.MkdirAll(dir, 0o700) }
