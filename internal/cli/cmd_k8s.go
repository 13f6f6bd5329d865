package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/doctor"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/k8s"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/prepare"
)

type k8sRenderOptions struct {
	benchCfg, fromPlan, agent, runID string
	shards, samples                  int
	image, namespace, pvc, secret    string
	pvcSize, storageClass            string
	runAs, evalCPUs, evalMemory      string
	secretEnv                        []string
	out                              string
	evaluate                         bool
}

func newK8sCmd(env *System) *cobra.Command {
	c := &cobra.Command{
		Use:   "k8s",
		Short: "Kubernetes manifests of a sharded run",
		Long:  "Render the Kubernetes Jobs that run one run's shards on a cluster (see 'bench k8s render --help').",
		Args:  cobra.NoArgs,
		// Like slurm's: a missing subcommand is a usage error, not help
		// a script would take for success.
		RunE: func(c *cobra.Command, args []string) error {
			return badinput.Errorf("bench k8s: a subcommand is required (render)")
		},
	}
	render := newK8sRenderCmd(env)
	render.Args = wrapArgs(render.Args)
	c.AddCommand(render)
	return c
}

func newK8sRenderCmd(env *System) *cobra.Command {
	o := &k8sRenderOptions{}
	c := &cobra.Command{
		Use:   "render TASK.yaml --from-plan P --bench-cfg B --shards N [--agent A] [--samples K] [--image IMG] [--namespace NS] [--pvc NAME] [--secret NAME] [--run-id ID] [--evaluate]",
		Short: "Print the Kubernetes manifests of a run sharded N ways",
		Long: `Print (on stdout, as YAML documents, or to --out FILE) the manifests of one run on a
Kubernetes cluster, and (on stderr) the order to apply them in:

  volume    a ReadWriteMany PersistentVolumeClaim holding the project
            directory (bench.yaml's), mounted in every pod at its own path,
            so the state root and plan mean the same there (not rendered
            with --pvc: an existing claim)
  init      a Job running 'bench prepare --init-run' once: the run
            directory exists before any shard starts
  prepare   an Indexed Job of N pods, each 'bench prepare --shard
            $(JOB_COMPLETION_INDEX)/N'; backoffLimitPerIndex retries a
            failed shard (Kubernetes >= 1.29), activeDeadlineSeconds from
            the agent's timeout and the largest shard
  evaluate  with --evaluate, an Indexed Job of N pods 'bench evaluate
            --shard', each with whole CPUs and memory, requests = limits
            (Guaranteed QoS: exclusive cores under the static CPU manager)
  merge     with --evaluate, 'bench merge' then 'bench report --format html'

Jobs do not wait for one another: apply each step when the one before it
has finished. Pods have no container engine: agents run on the host
runtime, as --run-as's user (bench runs as root in the pod to do that).
Credentials come from the Secret by name (secretKeyRef), never as values:
the names are the model's credential variables, every variable of .env,
every ${VAR} bench.yaml and the task file reference, secrets: and
--secret-env. Make the Secret from the .env, in the Jobs' namespace:
  kubectl -n NS create secret generic perfbench-secrets --from-env-file=.env`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error { return runK8sRender(c.Context(), env, o, args[0]) },
	}
	f := c.Flags()
	f.StringVar(&o.benchCfg, "bench-cfg", "", "bench.yaml (required: its directory is the project directory the pods mount)")
	f.StringVar(&o.fromPlan, "from-plan", "", "plan.json written by 'bench plan' (required)")
	f.IntVar(&o.shards, "shards", 0, "shards: pods of the prepare (and evaluate) Job (required)")
	f.StringVar(&o.agent, "agent", "", "agent entry or type (default agents.default)")
	f.IntVar(&o.samples, "samples", 1, "independent rollouts per item")
	f.StringVar(&o.runID, "run-id", "", "the run's id (default a new one, as prepare names runs)")
	f.StringVar(&o.image, "image", k8s.DefaultImage, "image with bench, git, the agent and the task's toolchain")
	f.StringVar(&o.namespace, "namespace", "", "namespace of every object (default: kubectl's)")
	f.StringVar(&o.pvc, "pvc", "", "an existing ReadWriteMany claim holding the project directory (default: render "+k8s.DefaultPVC+")")
	f.StringVar(&o.pvcSize, "pvc-size", k8s.DefaultPVCSize, "size of the rendered claim")
	f.StringVar(&o.storageClass, "storage-class", "", "storage class of the rendered claim (one that offers ReadWriteMany)")
	f.StringVar(&o.secret, "secret", k8s.DefaultSecret, "the Secret the credentials come from")
	f.StringSliceVar(&o.secretEnv, "secret-env", nil, "more variables to take from the Secret (repeatable)")
	f.StringVar(&o.runAs, "run-as", k8s.DefaultRunAs, "UID[:GID] the agents run as (bench prepare --run-as)")
	f.BoolVar(&o.evaluate, "evaluate", false, "also render the evaluation and merge Jobs")
	f.StringVar(&o.evalCPUs, "eval-cpus", "", "whole CPUs of each evaluation pod (default container.cpus rounded up, else 2)")
	f.StringVar(&o.evalMemory, "eval-memory", "", "memory of each evaluation pod (default container.memory, else 4Gi)")
	f.StringVar(&o.out, "out", "", "write the manifests to this file (atomically) instead of stdout; the apply order names it")
	return c
}

func runK8sRender(ctx context.Context, env *System, o *k8sRenderOptions, taskPath string) error {
	for _, req := range []struct{ flag, value string }{{"--bench-cfg", o.benchCfg}, {"--from-plan", o.fromPlan}} {
		if req.value == "" {
			return badinput.Errorf("bench k8s render: %s is required", req.flag)
		}
	}
	if o.shards < 1 {
		return badinput.Errorf("--shards %d: expected at least 1", o.shards)
	}
	if o.samples < 1 {
		return badinput.Errorf("--samples must be at least 1")
	}
	if err := k8s.ParseRunAs(o.runAs); err != nil {
		return err
	}
	if o.runID != "" && !journal.ValidRunID(o.runID) {
		return badinput.Errorf("--run-id %q: expected one path component of [A-Za-z0-9._-]", o.runID)
	}
	cfg, err := env.loadBench(o.benchCfg)
	if err != nil {
		return err
	}
	b := cfg.bench
	task, err := env.loadTask(cfg, taskPath)
	if err != nil {
		return err
	}
	a, err := b.Agent(o.agent)
	if err != nil {
		return err
	}
	// A task that builds its environment image: a container entry
	// without image: runs in the image the run pins (prepare --init-run).
	envBuild, err := hasEnvBuild(task)
	if err != nil {
		return err
	}
	if a, err = prepare.ResolveAgentEnv(env.kinds(), task, a, agent.Host{Env: env.Environ()}, envBuild); err != nil {
		return err
	}
	if a.Runtime == agent.RuntimeContainer {
		return badinput.Errorf("agents.%s: runtime: container needs a container engine, which pods do not have: use runtime: host (the pods run it as --run-as's user)", a.Name)
	}
	if o.evaluate && task.Environment.Image != "" {
		return badinput.Errorf("%s: environment.image %s: evaluation pods have no container engine; use that image (with bench in it) as --image and leave environment.image unset", taskPath, task.Environment.Image)
	}
	p, err := plan.ReadResolved(env.path(o.fromPlan))
	if err != nil {
		return err
	}
	if p.TaskID != task.ID {
		return badinput.Errorf("--from-plan %s is for task %s, not %s", o.fromPlan, p.TaskID, task.ID)
	}

	cwd, err := env.wd()
	if err != nil {
		return err
	}
	project := absIn(cwd, b.Dir)
	// The claim holds the project directory: what the pods read must be
	// in it.
	rel := func(what, p string) (string, error) {
		r, err := filepath.Rel(project, absIn(cwd, p))
		if err != nil || r == ".." || strings.HasPrefix(r, "../") {
			return "", badinput.Errorf("%s %s is outside the project directory %s (bench.yaml's, which the pods mount)", what, p, project)
		}
		return filepath.ToSlash(r), nil
	}
	// Unset, the rollout root is the temp dir: the pod's own /tmp, an
	// emptyDir, whatever this machine's TMPDIR.
	rollouts := b.Paths.RolloutRoot
	if rollouts == "" {
		rollouts = "/tmp"
	}
	if r, err := filepath.Rel(project, rollouts); err == nil && r != ".." && !strings.HasPrefix(r, "../") {
		return badinput.Errorf("paths.rollout_root %s is inside the project directory %s, the claim every node shares: on a cluster it must be node-local (leave it unset: the pod's /tmp)", rollouts, project)
	}
	s := &k8s.Spec{
		Namespace: o.namespace, Image: o.image, ProjectDir: project, RolloutRoot: rollouts,
		Agent: o.agent, Samples: o.samples, Shards: o.shards, RunAs: o.runAs,
		PVC: o.pvc, CreatePVC: o.pvc == "", StorageClass: o.storageClass,
		Secret: o.secret, Withheld: b.Secrets, Evaluate: o.evaluate,
	}
	if s.TaskFile, err = rel("TASK.yaml", env.path(taskPath)); err != nil {
		return err
	}
	if s.PlanFile, err = rel("--from-plan", env.path(o.fromPlan)); err != nil {
		return err
	}
	if s.BenchCfg, err = rel("--bench-cfg", env.path(o.benchCfg)); err != nil {
		return err
	}
	for _, d := range []struct{ what, dir string }{{"paths.state_root", b.Paths.StateRoot}, {"paths.work_root", b.Paths.WorkRoot}} {
		if _, err := rel(d.what, d.dir); err != nil {
			return err
		}
	}
	if config.IsLocalRepo(p.RepoURL) {
		if _, err := rel("the plan's repository", p.RepoURL); err != nil {
			return err
		}
	}
	if s.CreatePVC {
		s.PVC = k8s.DefaultPVC
		q, err := resource.ParseQuantity(o.pvcSize)
		if err != nil || q.Sign() <= 0 {
			return badinput.Errorf("--pvc-size %q: expected a Kubernetes quantity such as 100Gi", o.pvcSize)
		}
		s.PVCSize = q
	}

	s.RunID = o.runID
	if s.RunID == "" {
		s.RunID = journal.NewRunID(task.ID, a.Name, a.Model, env.Now())
	}
	s.Base = k8s.BaseName(task.ID, s.RunID)
	if s.RunDir, err = rel("the run directory", filepath.Join(journal.RunsDir(b.Paths.StateRoot), s.RunID)); err != nil {
		return err
	}

	s.PrepareDeadline = k8s.PrepareDeadline(p.ItemIDs(), o.samples, o.shards, prepare.EffectiveLimits(a.Limits))
	if c := b.Container; c.CPUs > 0 {
		s.PrepareCPU = *resource.NewMilliQuantity(int64(c.CPUs*1000+0.5), resource.DecimalSI)
	}
	if b.Container.Memory != "" {
		if s.PrepareMemory, err = k8s.DockerMemory(b.Container.Memory); err != nil {
			return badinput.Wrap(err)
		}
	}
	if o.evaluate {
		switch {
		case o.evalCPUs != "":
			if s.EvalCPUs, err = k8s.ParseCPUs(o.evalCPUs); err != nil {
				return err
			}
		case b.Container.CPUs > 0:
			s.EvalCPUs = k8s.CPUsUp(b.Container.CPUs)
		default:
			s.EvalCPUs = 2
		}
		switch {
		case o.evalMemory != "":
			if s.EvalMemory, err = k8s.ParseMemory(o.evalMemory); err != nil {
				return err
			}
		case !s.PrepareMemory.IsZero():
			s.EvalMemory = s.PrepareMemory
		default:
			s.EvalMemory = resource.MustParse("4Gi")
		}
	}

	files := [][]byte{}
	for _, f := range []string{env.path(o.benchCfg), task.Path} {
		if data, err := os.ReadFile(f); err == nil {
			files = append(files, data)
		}
	}
	s.SecretEnv = k8s.SecretEnv(k8s.SecretInput{
		Credentials: doctor.CredentialNames(a.Model), DotEnv: b.Env, Files: files,
		Secrets: b.Secrets, Extra: o.secretEnv,
	})

	ms, err := k8s.Render(s)
	if err != nil {
		return err
	}
	out, err := k8s.Marshal(ms)
	if err != nil {
		return err
	}
	file := s.Base + ".yaml"
	if o.out != "" {
		file = o.out
	}
	if err := emit(env, env.path(o.out), func(w io.Writer) error { _, err := w.Write(out); return err }); err != nil {
		return err
	}
	if o.shards > len(p.Items) {
		fmt.Fprintf(env.Stderr, "note: %d shards for %d item(s): some shards have nothing to do\n", o.shards, len(p.Items))
	}
	if o.out == "" {
		fmt.Fprintf(env.Stderr, "save the manifests (stdout) as %s, or render with --out FILE\n", file)
	}
	fmt.Fprint(env.Stderr, k8s.ApplyOrder(s, ms, file))
	return ctx.Err()
}
