// Package k8s owns the Kubernetes manifests of `bench k8s render`: the
// Jobs that run the shards of one run on a cluster (an init Job that
// creates the run directory once, the Indexed prepare Job, with
// --evaluate the Indexed evaluation Job on exclusive cores and the merge
// + report Job), the ReadWriteMany claim that holds the project directory
// and its state root, and the Secret references that bring credentials
// in by name. The objects are k8s.io/api types serialized with
// sigs.k8s.io/yaml, so a manifest is valid by construction; the values
// that the API server would still refuse (names, quantities) are checked
// here, as bad input. It renders; it applies nothing.
package k8s

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/yaml"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/secrets"
)

// Step is one stage of a rendered run, in apply order; it is every
// manifest's component label, so `kubectl apply -l` applies one step of
// the file at a time.
type Step string

const (
	StepVolume   Step = "volume"
	StepInit     Step = "init"
	StepPrepare  Step = "prepare"
	StepEvaluate Step = "evaluate"
	StepMerge    Step = "merge"
)

// Labels and annotations of every manifest.
const (
	LabelName      = "app.kubernetes.io/name"
	LabelInstance  = "app.kubernetes.io/instance"
	LabelComponent = "app.kubernetes.io/component"
	AnnotationRun  = "perfbench.dev/run-id"
	appName        = "perfbench"
)

// Names of the pods' parts.
const (
	ContainerName  = "bench"
	VolumeState    = "state"
	VolumeRollouts = "rollouts"
	// IndexEnv is the Indexed Job's completion index, which the args
	// read as $(JOB_COMPLETION_INDEX) (Kubernetes expands it, no shell).
	IndexEnv = "JOB_COMPLETION_INDEX"
)

// Defaults of the flags.
const (
	DefaultImage   = "perfbench:latest"
	DefaultSecret  = "perfbench-secrets"
	DefaultPVC     = "perfbench-state"
	DefaultPVCSize = "100Gi"
	DefaultRunAs   = "65534:65534"
	// BackoffLimitPerIndex is each shard's retries: a retried shard
	// resumes (finished items skipped), so one retry is cheap.
	BackoffLimitPerIndex = 1
	// maxCompletions is the API's bound on an Indexed Job with
	// backoffLimitPerIndex.
	maxCompletions = 100_000
	// maxJobName leaves room for "-<index>" in an Indexed Job's pod
	// hostnames (63 characters at most), as CronJob's 52 does.
	maxJobName = 52
)

// Spec is one run's manifests, everything resolved: paths as the pods
// see them (the claim is mounted at ProjectDir, the project's own
// absolute path, so the plan's and bench.yaml's absolute paths mean the
// same in a pod), the run id every shard shares, the names.
type Spec struct {
	// Base names the Jobs (<Base>-prepare, ...): BaseName of the task
	// and run id.
	Base      string
	RunID     string
	Namespace string
	Image     string
	// ProjectDir is bench.yaml's directory, absolute: the claim's mount
	// path and the pods' working directory.
	ProjectDir string
	// RolloutRoot is paths.rollout_root, absolute: an emptyDir (node-
	// local, never the shared claim), also the pods' TMPDIR.
	RolloutRoot string
	// TaskFile, PlanFile and BenchCfg are relative to ProjectDir, as
	// the pods' arguments; RunDir is the run directory, relative too.
	TaskFile, PlanFile, BenchCfg, RunDir string
	// Agent is the entry's name ("" for agents.default); Samples > 1
	// adds --samples.
	Agent   string
	Samples int
	Shards  int
	// RunAs is the user the agents run as (bench prepare --run-as).
	RunAs string
	// PVC is the claim of the project directory; CreatePVC renders it
	// (ReadWriteMany), else it names an existing one.
	PVC          string
	CreatePVC    bool
	PVCSize      resource.Quantity
	StorageClass string
	// Secret is the Secret the variables of SecretEnv come from.
	Secret    string
	SecretEnv []string
	// Withheld are bench.yaml's secrets:: like every name that looks
	// like a credential, they are kept from the evaluation and merge
	// pods, where the agents' patched code runs and no agent does.
	Withheld []string
	// PrepareDeadline bounds the prepare Job (activeDeadlineSeconds).
	PrepareDeadline time.Duration
	// PrepareCPU and PrepareMemory are the rollout pods' requests
	// (container.cpus and memory; zero: none).
	PrepareCPU, PrepareMemory resource.Quantity
	// Evaluate adds the evaluation and merge Jobs; EvalCPUs (whole
	// CPUs) and EvalMemory are their pods' requests and limits.
	Evaluate   bool
	EvalCPUs   int64
	EvalMemory resource.Quantity
}

// Manifest is one rendered object and the step it belongs to.
type Manifest struct {
	Step   Step
	Kind   string
	Name   string
	Object any
}

// BaseName is the DNS-1123 label naming a run's Jobs: the task id in
// lower case with every other character a '-', cut so that the longest
// Job name fits maxJobName, and 8 hex digits of the run id's hash, so
// that two runs of one task never share a Job name.
func BaseName(taskID, runID string) string {
	var b strings.Builder
	dash := true // no leading '-', no "--"
	for _, r := range strings.ToLower(taskID) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
			dash = false
		} else if !dash {
			b.WriteByte('-')
			dash = true
		}
	}
	sum := sha256.Sum256([]byte(runID))
	suffix := hex.EncodeToString(sum[:4])
	room := maxJobName - len("-"+string(StepEvaluate)) - len("-"+suffix)
	name := strings.Trim(b.String(), "-")
	if len(name) > room {
		name = strings.TrimRight(name[:room], "-")
	}
	if name == "" {
		name = "run"
	}
	return name + "-" + suffix
}

// ParseCPUs reads --eval-cpus: a whole number of CPUs, since the static
// CPU manager gives exclusive cores only to integer requests.
func ParseCPUs(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 1 {
		return 0, badinput.Errorf("--eval-cpus %q: expected a whole number of CPUs, at least 1 (exclusive cores need integer requests)", s)
	}
	return n, nil
}

// CPUsUp is container.cpus rounded up to whole CPUs (at least 1).
func CPUsUp(cpus float64) int64 {
	n := int64(cpus)
	if float64(n) < cpus {
		n++
	}
	return max(n, 1)
}

// ParseMemory reads --eval-memory: a Kubernetes quantity of at least 1Mi
// ("8Gi", "8G"), whole bytes.
func ParseMemory(s string) (resource.Quantity, error) {
	q, err := resource.ParseQuantity(strings.TrimSpace(s))
	if err != nil || q.Cmp(resource.MustParse("1Mi")) < 0 {
		return resource.Quantity{}, badinput.Errorf("--eval-memory %q: expected a Kubernetes quantity of at least 1Mi, such as 8Gi", s)
	}
	return q, nil
}

// DockerMemory is bench.yaml's container.memory ("4g", "512m", "1.5GiB":
// docker's binary units, as config accepts them) as a quantity of bytes.
// Docker's m is MiB, Kubernetes' m is a thousandth: a size is never
// passed through as written.
func DockerMemory(s string) (resource.Quantity, error) {
	t := strings.ToLower(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "b"), "i")
	mult := 1.0
	if t != "" {
		if i := strings.IndexByte("kmgtp", t[len(t)-1]); i >= 0 {
			for range i + 1 {
				mult *= 1024
			}
			t = t[:len(t)-1]
		}
	}
	v, err := strconv.ParseFloat(t, 64)
	if err != nil || v <= 0 {
		return resource.Quantity{}, fmt.Errorf("container.memory %q: expected a size such as 4g or 512m", s)
	}
	bytes := int64(v*mult + 0.5)
	return *resource.NewQuantity(bytes, resource.BinarySI), nil
}

// ParseRunAs checks UID[:GID].
func ParseRunAs(s string) error {
	uid, gid, hasGID := strings.Cut(s, ":")
	ok := func(v string) bool {
		n, err := strconv.ParseUint(v, 10, 32)
		return err == nil && n > 0
	}
	if !ok(uid) || hasGID && !ok(gid) {
		return badinput.Errorf("--run-as %q: expected UID[:GID], numbers above 0 (the agents must not run as root)", s)
	}
	return nil
}

// Validate checks what the API server would refuse, or what would make
// the manifests wrong, before anything is printed.
func (s *Spec) Validate() error {
	if s.Shards < 1 {
		return badinput.Errorf("--shards %d: expected at least 1", s.Shards)
	}
	if s.Shards > maxCompletions {
		return badinput.Errorf("--shards %d: an Indexed Job with backoffLimitPerIndex has at most %d completions", s.Shards, maxCompletions)
	}
	for _, c := range []struct {
		flag, value string
		check       func(string) []string
	}{
		{"--namespace", s.Namespace, validation.IsDNS1123Label},
		{"--pvc", s.PVC, validation.IsDNS1123Subdomain},
		{"--secret", s.Secret, validation.IsDNS1123Subdomain},
		{"job name", s.Base + "-" + string(StepEvaluate), validation.IsDNS1123Label},
	} {
		if c.flag == "--namespace" && c.value == "" {
			continue
		}
		if errs := c.check(c.value); len(errs) > 0 {
			return badinput.Errorf("%s %q: not a valid Kubernetes name: %s", c.flag, c.value, errs[0])
		}
	}
	if s.Image == "" || strings.ContainsAny(s.Image, " \t\n") {
		return badinput.Errorf("--image %q: expected an image reference", s.Image)
	}
	if err := ParseRunAs(s.RunAs); err != nil {
		return err
	}
	for _, n := range s.SecretEnv {
		if errs := append(validation.IsEnvVarName(n), validation.IsConfigMapKey(n)...); len(errs) > 0 {
			return badinput.Errorf("variable %q cannot come from a Kubernetes Secret: %s", n, errs[0])
		}
	}
	if !path.IsAbs(s.ProjectDir) || !path.IsAbs(s.RolloutRoot) {
		return fmt.Errorf("project directory %q and rollout root %q must be absolute", s.ProjectDir, s.RolloutRoot)
	}
	if s.Evaluate && s.EvalCPUs < 1 {
		return badinput.Errorf("evaluation pods need at least one whole CPU")
	}
	return nil
}

// Render builds the manifests, in apply order.
func Render(s *Spec) ([]Manifest, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	var out []Manifest
	if s.CreatePVC {
		out = append(out, Manifest{StepVolume, "PersistentVolumeClaim", s.PVC, s.claim()})
	}
	initJob := s.job(StepInit, s.prepareArgs("--init-run"), corev1.ResourceRequirements{}, s.SecretEnv)
	initJob.Spec.BackoffLimit = ptr(int32(1))
	out = append(out, Manifest{StepInit, "Job", initJob.Name, initJob})

	prep := s.job(StepPrepare, s.prepareArgs("--shard", s.shardArg()), s.prepareResources(), s.SecretEnv)
	s.indexed(prep)
	prep.Spec.ActiveDeadlineSeconds = ptr(int64(s.PrepareDeadline.Round(time.Second) / time.Second))
	out = append(out, Manifest{StepPrepare, "Job", prep.Name, prep})
	if !s.Evaluate {
		return out, nil
	}
	eval := s.job(StepEvaluate, []string{"evaluate", s.RunDir, "--bench-cfg", s.BenchCfg, "--shard", s.shardArg(), "--quiet"}, s.evalResources(), s.evalEnv())
	s.indexed(eval)
	out = append(out, Manifest{StepEvaluate, "Job", eval.Name, eval})

	// merge, then the report: an init container runs to completion
	// before the container starts, so no shell is needed to chain them.
	merge := s.job(StepMerge, []string{"report", s.RunDir, "--format", "html", "--out", path.Join(s.RunDir, "report.html")}, corev1.ResourceRequirements{}, s.evalEnv())
	merge.Spec.BackoffLimit = ptr(int32(1))
	mc := merge.Spec.Template.Spec.Containers[0]
	mc.Name = "merge"
	mc.Args = []string{"merge", s.RunDir}
	merge.Spec.Template.Spec.InitContainers = []corev1.Container{mc}
	out = append(out, Manifest{StepMerge, "Job", merge.Name, merge})
	return out, nil
}

// shardArg is "$(JOB_COMPLETION_INDEX)/N": the pod's own shard.
func (s *Spec) shardArg() string { return "$(" + IndexEnv + ")/" + strconv.Itoa(s.Shards) }

// prepareArgs are bench prepare's arguments, the same for the init Job
// and the shards (so that the run the init Job creates is the one every
// shard resumes), plus extra.
func (s *Spec) prepareArgs(extra ...string) []string {
	args := []string{"prepare", s.TaskFile, "--from-plan", s.PlanFile, "--bench-cfg", s.BenchCfg}
	if s.Agent != "" {
		args = append(args, "--agent", s.Agent)
	}
	if s.Samples > 1 {
		args = append(args, "--samples", strconv.Itoa(s.Samples))
	}
	args = append(args, "--run-id", s.RunID, "--run-as", s.RunAs)
	return append(args, extra...)
}

func (s *Spec) labels(step Step) map[string]string {
	return map[string]string{LabelName: appName, LabelInstance: s.Base, LabelComponent: string(step)}
}

func (s *Spec) meta(name string, step Step) metav1.ObjectMeta {
	return metav1.ObjectMeta{
		Name: name, Namespace: s.Namespace, Labels: s.labels(step),
		Annotations: map[string]string{AnnotationRun: s.RunID},
	}
}

func (s *Spec) claim() *corev1.PersistentVolumeClaim {
	c := &corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: s.meta(s.PVC, StepVolume),
		Spec: corev1.PersistentVolumeClaimSpec{
			// Every node's pods write the one run directory.
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: s.PVCSize}},
		},
	}
	// The claim outlives runs: the next render's apply must not change
	// it, so it carries no run annotation.
	c.Annotations = nil
	c.Labels = map[string]string{LabelName: appName, LabelComponent: string(StepVolume)}
	if s.StorageClass != "" {
		c.Spec.StorageClassName = ptr(s.StorageClass)
	}
	return c
}

// evalEnv are the names of SecretEnv the evaluation and merge pods get:
// no credential.
func (s *Spec) evalEnv() []string {
	var out []string
	for _, n := range s.SecretEnv {
		if !secrets.LooksSecret(n) && !slices.Contains(s.Withheld, n) {
			out = append(out, n)
		}
	}
	return out
}

// job is a Job of one step running bench with args, taking the
// variables named secretEnv from the Secret.
func (s *Spec) job(step Step, args []string, res corev1.ResourceRequirements, secretEnv []string) *batchv1.Job {
	name := s.Base + "-" + string(step)
	env := []corev1.EnvVar{{Name: "TMPDIR", Value: s.RolloutRoot}}
	for _, n := range secretEnv {
		// By name only: the value stays in the Secret. Optional, so a
		// Secret made from a .env without every name still starts the
		// pod; prepare's preflight names a missing credential.
		env = append(env, corev1.EnvVar{Name: n, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: s.Secret}, Key: n, Optional: ptr(true),
		}}})
	}
	c := corev1.Container{
		Name: ContainerName, Image: s.Image, ImagePullPolicy: corev1.PullIfNotPresent,
		Command: []string{"bench"}, Args: args, WorkingDir: s.ProjectDir, Env: env, Resources: res,
		VolumeMounts: []corev1.VolumeMount{
			{Name: VolumeState, MountPath: s.ProjectDir},
			{Name: VolumeRollouts, MountPath: s.RolloutRoot},
		},
		SecurityContext: &corev1.SecurityContext{
			// bench runs as root in the pod so that it can run each
			// agent as --run-as's user and keep the state root, the
			// mirror and its private directories unreadable to it
			// (runtime: host's run_as); nothing the agent runs gains
			// privileges through setuid files.
			RunAsUser: ptr(int64(0)), RunAsGroup: ptr(int64(0)),
			AllowPrivilegeEscalation: ptr(false),
		},
	}
	return &batchv1.Job{
		TypeMeta:   metav1.TypeMeta{APIVersion: "batch/v1", Kind: "Job"},
		ObjectMeta: s.meta(name, step),
		Spec: batchv1.JobSpec{
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: s.labels(step)},
				Spec: corev1.PodSpec{
					// A failed pod is a failed attempt of its index;
					// backoffLimitPerIndex needs Never.
					RestartPolicy: corev1.RestartPolicyNever,
					// No API token: an agent in the pod has no business
					// with the cluster.
					AutomountServiceAccountToken: ptr(false),
					Containers:                   []corev1.Container{c},
					Volumes: []corev1.Volume{
						{Name: VolumeState, VolumeSource: corev1.VolumeSource{PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: s.PVC}}},
						// Node-local: one node's sweep of dead owners'
						// directories must never see another node's.
						{Name: VolumeRollouts, VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
					},
				},
			},
		},
	}
}

// indexed makes j the Indexed Job of the shards: one completion per
// shard, all at once, each index retried on its own.
func (s *Spec) indexed(j *batchv1.Job) {
	n := int32(s.Shards)
	mode := batchv1.IndexedCompletion
	j.Spec.CompletionMode = &mode
	j.Spec.Completions, j.Spec.Parallelism = ptr(n), ptr(n)
	j.Spec.BackoffLimitPerIndex = ptr(int32(BackoffLimitPerIndex))
	c := &j.Spec.Template.Spec.Containers[0]
	// The controller sets it too; declared, the args' $(...) reference
	// is visibly defined.
	c.Env = append([]corev1.EnvVar{{Name: IndexEnv, ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{
		FieldPath: "metadata.annotations['" + batchv1.JobCompletionIndexAnnotation + "']",
	}}}}, c.Env...)
}

func (s *Spec) prepareResources() corev1.ResourceRequirements {
	req := corev1.ResourceList{}
	if !s.PrepareCPU.IsZero() {
		req[corev1.ResourceCPU] = s.PrepareCPU
	}
	if !s.PrepareMemory.IsZero() {
		req[corev1.ResourceMemory] = s.PrepareMemory
	}
	if len(req) == 0 {
		return corev1.ResourceRequirements{}
	}
	return corev1.ResourceRequirements{Requests: req}
}

// evalResources are Guaranteed QoS: requests = limits for CPU and
// memory, whole CPUs, which the kubelet's static CPU manager turns into
// exclusive cores.
func (s *Spec) evalResources() corev1.ResourceRequirements {
	l := corev1.ResourceList{
		corev1.ResourceCPU:    *resource.NewQuantity(s.EvalCPUs, resource.DecimalSI),
		corev1.ResourceMemory: s.EvalMemory,
	}
	return corev1.ResourceRequirements{Requests: l, Limits: l.DeepCopy()}
}

// Marshal is the manifests as YAML documents separated by "---".
func Marshal(ms []Manifest) ([]byte, error) {
	var b bytes.Buffer
	for i, m := range ms {
		data, err := yaml.Marshal(m.Object)
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", m.Kind, m.Name, err)
		}
		// Objects to apply carry no status.
		data = bytes.Replace(data, []byte("\nstatus: {}\n"), []byte("\n"), 1)
		if i > 0 {
			b.WriteString("---\n")
		}
		b.Write(data)
	}
	return b.Bytes(), nil
}

// ApplyOrder is how to apply the manifests, saved as file: Jobs do not
// depend on one another, so each step is applied once the one before it
// has finished. The init Job must succeed; the shards' Jobs may end
// Failed (a shard out of retries, or the deadline) and the next step
// still runs on what the others finished, as Slurm's afterany: the
// failed shard's items are left to the next submission, as resume does.
func ApplyOrder(s *Spec, ms []Manifest, file string) string {
	kc := "kubectl"
	if s.Namespace != "" {
		kc += " -n " + s.Namespace
	}
	var b strings.Builder
	fmt.Fprintf(&b, "run %s, %d shard(s): apply the manifests (%s) step by step; Jobs do not wait for one another:\n", s.RunID, s.Shards, file)
	// In the Jobs' namespace: the pods' secretKeyRefs are optional, so a
	// Secret made in another one leaves every credential silently unset.
	fmt.Fprintf(&b, "  %s create secret generic %s --from-env-file=.env   # once, if it does not exist\n", kc, s.Secret)
	for _, m := range ms {
		fmt.Fprintf(&b, "  %s apply -f %s -l %s=%s\n", kc, file, LabelComponent, m.Step)
		switch {
		case m.Kind != "Job":
		case m.Step == StepInit:
			fmt.Fprintf(&b, "  %s wait --for=condition=complete --timeout=30m job/%s\n", kc, m.Name)
		default:
			fmt.Fprintf(&b, "  until %s get job %s -o jsonpath='{.status.conditions[?(@.status==\"True\")].type}' | grep -qwE 'Complete|Failed'; do sleep 30; done\n", kc, m.Name)
		}
	}
	fmt.Fprintf(&b, "follow: %s get jobs,pods -l %s=%s\n", kc, LabelInstance, s.Base)
	return b.String()
}

func ptr[T any](v T) *T { return &v }
