package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/doctor"
	"github.com/perfbench/perfbench/internal/envbuild"
	"github.com/perfbench/perfbench/internal/evaluate"
	"github.com/perfbench/perfbench/internal/records"
)

type doctorOptions struct {
	benchCfg string
	agent    string
	task     string
}

func newDoctorCmd(env *System) *cobra.Command {
	o := &doctorOptions{}
	c := &cobra.Command{
		Use:   "doctor [--bench-cfg bench.yaml] [--agent NAME] [--task TASK.yaml]",
		Short: "Check the machine and configuration before a long run",
		Long: `Check what a run needs: the configuration, git, that the state and work
directories are writable, free disk space in work_root, and what the agent
needs. For OpenHands: the container engine answers (and its version), the
container_image is present locally (and the runtime_image with
sandbox_runtime: docker, with the docker socket), uvx or a Python with
openhands for the host modes, and the LLM credentials: one request to the
provider's model-list endpoint (or LLM_BASE_URL + /models), 10 s timeout.
For each agent on the host, its version (<cli> --version, 10 s timeout;
OpenHands: its image's tag) against the versions its adapter was checked
against (docs/agents/compatibility.md).
The instruction counter this machine has (perf stat counting the
instructions counter, else valgrind's cachegrind): none is a warning,
unless --task names a task whose metric or secondary_metrics count
instructions, when it fails; with that task's environment.image the
counter is probed in the image (the launcher counts a run of true there,
as evaluate's preflight does).
Prints ✓ or ✗ per check, ! for a warning that does not fail (a version
outside the checked range, or one that cannot be told). prepare runs the same checks as a preflight
(where missing LLM credentials do not stop it); --dry-run runs none.`,
		RunE: func(c *cobra.Command, args []string) error { return runDoctor(c.Context(), env, o) },
	}
	c.Flags().StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml (default ./bench.yaml when present)")
	c.Flags().StringVar(&o.agent, "agent", "", "check this agent entry (default: agents.default)")
	c.Flags().StringVar(&o.task, "task", "", "check what this task's evaluation needs (an instruction counter, in its image)")
	return c
}

func runDoctor(ctx context.Context, env *System, o *doctorOptions) error {
	cfg, err := env.loadBench(o.benchCfg)
	if err != nil {
		fmt.Fprintf(env.Stdout, "✗ config: %v\n", err)
		return err
	}
	where := cfg.bench.Path
	if where == "" {
		where = "no bench.yaml, defaults"
	}
	fmt.Fprintf(env.Stdout, "✓ config: %s\n", where)
	var a *config.Agent
	if o.agent != "" || cfg.bench.Agents.Default != "" {
		if a, err = cfg.bench.Agent(o.agent); err != nil {
			fmt.Fprintf(env.Stdout, "✗ agent: %v\n", err)
			return err
		}
		fmt.Fprintf(env.Stdout, "✓ agent: %s (type %s); --agent NAME checks another entry\n", a.Name, a.Type)
	}
	var task *config.Task
	if o.task != "" {
		if task, err = env.loadTask(cfg, env.path(o.task)); err != nil {
			fmt.Fprintf(env.Stdout, "✗ task: %v\n", err)
			return err
		}
		fmt.Fprintf(env.Stdout, "✓ task: %s (%s)\n", task.ID, task.Path)
	}
	checks := append(doctor.Checks(env.doctorInput(cfg.bench, a)), counterCheck(env, cfg.bench, task))
	if task != nil {
		spec, err := envbuild.FromTask(task)
		if err != nil {
			fmt.Fprintf(env.Stdout, "✗ task: %v\n", err)
			return err
		}
		if spec != nil {
			checks = append(checks, envImageCheck(env, cfg.bench, spec, o.task))
		}
	}
	if _, ok := doctor.Run(ctx, checks, env.Stdout); !ok {
		return errFailed
	}
	return nil
}

// envImageCheck checks that the environment image of the task's current
// hash is on the engine, else says to build it.
func envImageCheck(env *System, b *config.Bench, spec *envbuild.Spec, taskPath string) doctor.Check {
	return doctor.Check{Name: "environment image", Run: func(ctx context.Context) doctor.Result {
		cur, err := envbuild.Current(ctx, spec, env.engine(b), b.Container.Platform)
		switch {
		case err != nil:
			return doctor.Result{Detail: err.Error()}
		case cur.ID == "":
			return doctor.Result{Detail: fmt.Sprintf("%s is not built for the task's current files: run bench build %s", cur.Tag, taskPath)}
		}
		return doctor.Result{OK: true, Detail: cur.Tag + " " + cur.ID}
	}}
}

// doctorInput is what the checks of entry a (nil: every entry) look at:
// the process environment over .env, as agents see it.
func (e *System) doctorInput(b *config.Bench, a *config.Agent) doctor.Input {
	vars := map[string]string{}
	for k, v := range b.Env {
		vars[k] = v
	}
	for _, kv := range e.Environ() {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	list := []string{}
	for k, v := range vars {
		list = append(list, k+"="+v)
	}
	return doctor.Input{Bench: b, Agent: a, Kinds: e.kinds(), Env: list, LookupEnv: e.LookupEnv}
}

// counterCheck says how instructions are counted on this machine (metric
// or secondary_metrics instructions); none is a warning, since only
// such tasks need one — unless task (nil: none named) counts
// instructions, when it fails. With the task's environment.image the
// counter is the image's: probed there as evaluate's preflight does.
func counterCheck(env *System, b *config.Bench, task *config.Task) doctor.Check {
	counts := task != nil && countsInstructions(&task.Evaluation)
	if counts && task.Environment.Image != "" {
		return doctor.Check{Name: "instruction counter in " + task.Environment.Image, Run: func(ctx context.Context) doctor.Result {
			r, ok := evalRunner(env, b, task, "").(*evaluate.Container)
			if !ok {
				return doctor.Result{Detail: "no container runner"}
			}
			if err := r.Prepare(ctx, evaluate.PrepareInfo{RunID: "doctor", Env: env.Environ(), Counter: true}); err != nil {
				return doctor.Result{Detail: err.Error()}
			}
			return doctor.Result{OK: true, Detail: "the launcher counts instructions in the image (perf, else cachegrind)"}
		}}
	}
	return doctor.Check{Name: "instruction counter", Run: func(context.Context) doctor.Result {
		method, detail, ok := evaluate.HostCounter()
		switch {
		case !ok && counts:
			return doctor.Result{Detail: fmt.Sprintf("none, and task %s counts instructions: %s", task.ID, detail)}
		case !ok:
			return doctor.Result{OK: true, Warn: true, Detail: "none: " + detail}
		}
		return doctor.Result{OK: true, Detail: method + ": " + detail}
	}}
}

// countsInstructions says whether an evaluation section counts
// instructions (its metric, or a secondary metric).
func countsInstructions(ev *config.Evaluation) bool {
	if ev.Metric != nil && ev.Metric.Kind == records.MetricInstructions {
		return true
	}
	return slices.Contains(ev.SecondaryMetrics, records.MetricInstructions)
}
