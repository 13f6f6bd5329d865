package k8s

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"sigs.k8s.io/yaml"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/records"
)

var update = flag.Bool("update", false, "rewrite the golden files")

// spec is a representative run: 4 shards, two samples, a rendered claim,
// the agent's key and a .env name from the Secret.
func spec(evaluate bool) *Spec {
	runID := "sqlite-opt__claude__claude-sonnet-4__20261204T020000Z"
	return &Spec{
		Base: BaseName("SQLite_Opt", runID), RunID: runID, Namespace: "bench", Image: "registry.example/perfbench:1.4",
		ProjectDir: "/srv/proj", RolloutRoot: "/tmp",
		TaskFile: "tasks/sqlite.yaml", PlanFile: "state/plan.json", BenchCfg: "bench.yaml", RunDir: "state/runs/" + runID,
		Agent: "claude", Samples: 2, Shards: 4, RunAs: DefaultRunAs,
		PVC: DefaultPVC, CreatePVC: true, PVCSize: resource.MustParse(DefaultPVCSize), StorageClass: "nfs",
		Secret: DefaultSecret, SecretEnv: []string{"ANTHROPIC_API_KEY", "LLM_MODEL", "ORG_PRIVATE"}, Withheld: []string{"ORG_PRIVATE"},
		PrepareDeadline: 3*time.Hour + 15*time.Minute,
		PrepareCPU:      resource.MustParse("1500m"), PrepareMemory: resource.MustParse("4Gi"),
		Evaluate: evaluate, EvalCPUs: 2, EvalMemory: resource.MustParse("4Gi"),
	}
}

func render(t *testing.T, s *Spec) []byte {
	t.Helper()
	ms, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	out, err := Marshal(ms)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestGolden(t *testing.T) {
	for _, tc := range []struct {
		name     string
		evaluate bool
	}{{"prepare", false}, {"evaluate", true}} {
		t.Run(tc.name, func(t *testing.T) {
			got := render(t, spec(tc.evaluate))
			file := filepath.Join("testdata", tc.name+".golden.yaml")
			if *update {
				if err := os.WriteFile(file, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(file)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from the render (go test ./internal/k8s -update to accept):\n%s", file, got)
			}
		})
	}
}

// objects parses the YAML back into the API types, strictly: a field
// the types do not have is an error.
type objects struct {
	claims []corev1.PersistentVolumeClaim
	jobs   map[Step]batchv1.Job
}

func parse(t *testing.T, out []byte) objects {
	t.Helper()
	o := objects{jobs: map[Step]batchv1.Job{}}
	for i, doc := range bytes.Split(out, []byte("\n---\n")) {
		var head struct{ Kind string }
		if err := yaml.Unmarshal(doc, &head); err != nil {
			t.Fatalf("document %d: %v", i, err)
		}
		switch head.Kind {
		case "PersistentVolumeClaim":
			var c corev1.PersistentVolumeClaim
			if err := yaml.UnmarshalStrict(doc, &c); err != nil {
				t.Fatalf("document %d: %v", i, err)
			}
			o.claims = append(o.claims, c)
		case "Job":
			var j batchv1.Job
			if err := yaml.UnmarshalStrict(doc, &j); err != nil {
				t.Fatalf("document %d: %v", i, err)
			}
			step := Step(j.Labels[LabelComponent])
			if _, dup := o.jobs[step]; dup {
				t.Fatalf("two Jobs of step %s", step)
			}
			o.jobs[step] = j
		default:
			t.Fatalf("document %d: unexpected kind %q", i, head.Kind)
		}
	}
	return o
}

// TestRules: the rules of the issue, asserted on the parsed manifests.
func TestRules(t *testing.T) {
	s := spec(true)
	o := parse(t, render(t, s))
	if len(o.claims) != 1 || !slices.Equal(o.claims[0].Spec.AccessModes, []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany}) {
		t.Fatalf("claims %+v: want one ReadWriteMany claim", o.claims)
	}
	for _, step := range []Step{StepInit, StepPrepare, StepEvaluate, StepMerge} {
		j, ok := o.jobs[step]
		if !ok {
			t.Fatalf("no %s Job", step)
		}
		pod := j.Spec.Template.Spec
		if pod.RestartPolicy != corev1.RestartPolicyNever {
			t.Errorf("%s: restartPolicy %q", step, pod.RestartPolicy)
		}
		if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
			t.Errorf("%s: the service account token is mounted", step)
		}
		names := s.SecretEnv
		if step == StepEvaluate || step == StepMerge {
			names = []string{"LLM_MODEL"} // the agents' patched code runs there: no credential
		}
		for _, c := range append(slices.Clone(pod.InitContainers), pod.Containers...) {
			checkContainer(t, s, string(step)+"/"+c.Name, c, pod, names)
		}
	}
	for _, step := range []Step{StepPrepare, StepEvaluate} {
		j := o.jobs[step]
		if j.Spec.CompletionMode == nil || *j.Spec.CompletionMode != batchv1.IndexedCompletion {
			t.Errorf("%s: not Indexed", step)
		}
		if j.Spec.Completions == nil || j.Spec.Parallelism == nil || *j.Spec.Completions != 4 || *j.Spec.Parallelism != 4 {
			t.Errorf("%s: completions %v, parallelism %v; want 4 and 4", step, j.Spec.Completions, j.Spec.Parallelism)
		}
		if j.Spec.BackoffLimitPerIndex == nil || *j.Spec.BackoffLimitPerIndex < 1 {
			t.Errorf("%s: backoffLimitPerIndex %v", step, j.Spec.BackoffLimitPerIndex)
		}
		c := j.Spec.Template.Spec.Containers[0]
		if !containsSeq(c.Args, "--shard", "$(JOB_COMPLETION_INDEX)/4") {
			t.Errorf("%s: args %q lack --shard $(JOB_COMPLETION_INDEX)/4", step, c.Args)
		}
		if i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == IndexEnv }); i < 0 ||
			c.Env[i].ValueFrom == nil || c.Env[i].ValueFrom.FieldRef == nil ||
			!strings.Contains(c.Env[i].ValueFrom.FieldRef.FieldPath, batchv1.JobCompletionIndexAnnotation) {
			t.Errorf("%s: %s is not the completion index annotation: %+v", step, IndexEnv, c.Env)
		}
	}
	prep := o.jobs[StepPrepare]
	if d := prep.Spec.ActiveDeadlineSeconds; d == nil || *d != int64((3*time.Hour+15*time.Minute)/time.Second) {
		t.Errorf("prepare: activeDeadlineSeconds %v", d)
	}
	for _, step := range []Step{StepInit, StepPrepare} {
		args := o.jobs[step].Spec.Template.Spec.Containers[0].Args
		if !containsSeq(args, "--run-as", "65534:65534") || !containsSeq(args, "--run-id", s.RunID) {
			t.Errorf("%s: args %q lack --run-as 65534:65534 and the run id", step, args)
		}
	}
	if args := o.jobs[StepInit].Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--init-run") || slices.Contains(args, "--shard") {
		t.Errorf("init: args %q", args)
	}
	// Guaranteed QoS: requests = limits for CPU and memory, whole CPUs.
	ec := o.jobs[StepEvaluate].Spec.Template.Spec.Containers[0]
	for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
		req, lim := ec.Resources.Requests[r], ec.Resources.Limits[r]
		if req.IsZero() || req.Cmp(lim) != 0 {
			t.Errorf("evaluate: %s request %s, limit %s: want equal and set", r, req.String(), lim.String())
		}
	}
	if cpu := ec.Resources.Requests[corev1.ResourceCPU]; cpu.MilliValue()%1000 != 0 {
		t.Errorf("evaluate: cpu %s is not whole", cpu.String())
	}
	if len(o.jobs[StepEvaluate].Spec.Template.Spec.InitContainers) != 0 {
		t.Error("evaluate: init containers would need Guaranteed resources too")
	}
	mj := o.jobs[StepMerge].Spec.Template.Spec
	if len(mj.InitContainers) != 1 || mj.InitContainers[0].Args[0] != "merge" || mj.Containers[0].Args[0] != "report" {
		t.Errorf("merge: want merge then report, got %+v", mj)
	}
}

// checkContainer: secrets by secretKeyRef only, the claim at the project
// directory, the rollout root on the pod's emptyDir, bench as root.
func checkContainer(t *testing.T, s *Spec, where string, c corev1.Container, pod corev1.PodSpec, names []string) {
	t.Helper()
	for _, e := range c.Env {
		if e.Name != "TMPDIR" && e.Name != IndexEnv && !slices.Contains(names, e.Name) {
			t.Errorf("%s: unexpected variable %s", where, e.Name)
		}
	}
	for _, n := range names {
		i := slices.IndexFunc(c.Env, func(e corev1.EnvVar) bool { return e.Name == n })
		if i < 0 {
			t.Errorf("%s: no variable %s", where, n)
			continue
		}
		e := c.Env[i]
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil ||
			e.ValueFrom.SecretKeyRef.Name != s.Secret || e.ValueFrom.SecretKeyRef.Key != n {
			t.Errorf("%s: %s is not a secretKeyRef to %s/%s without a value: %+v", where, n, s.Secret, n, e)
		}
	}
	volumes := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		volumes[v.Name] = v
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		v := volumes[m.Name]
		switch {
		case v.PersistentVolumeClaim != nil:
			if v.PersistentVolumeClaim.ClaimName != s.PVC {
				t.Errorf("%s: claim %s", where, v.PersistentVolumeClaim.ClaimName)
			}
			mounts["claim"] = m.MountPath
		case v.EmptyDir != nil:
			mounts["emptyDir"] = m.MountPath
		default:
			t.Errorf("%s: mount %s of an unexpected volume %+v", where, m.Name, v)
		}
	}
	if mounts["claim"] != s.ProjectDir || c.WorkingDir != s.ProjectDir {
		t.Errorf("%s: claim at %q, working dir %q; want %s", where, mounts["claim"], c.WorkingDir, s.ProjectDir)
	}
	if mounts["emptyDir"] != s.RolloutRoot || within(s.RolloutRoot, mounts["claim"]) {
		t.Errorf("%s: rollout root %s must be the emptyDir, not on the claim (mounts %v)", where, s.RolloutRoot, mounts)
	}
	if sc := c.SecurityContext; sc == nil || sc.RunAsUser == nil || *sc.RunAsUser != 0 {
		t.Errorf("%s: bench must run as root (to run agents as --run-as's user)", where)
	}
}

func within(p, dir string) bool {
	rel, err := filepath.Rel(dir, p)
	return err == nil && !strings.HasPrefix(rel, "..")
}

func containsSeq(args []string, a, b string) bool {
	for i := range len(args) - 1 {
		if args[i] == a && args[i+1] == b {
			return true
		}
	}
	return false
}

func TestNoEvaluate(t *testing.T) {
	o := parse(t, render(t, spec(false)))
	if _, ok := o.jobs[StepEvaluate]; ok {
		t.Error("evaluate Job without --evaluate")
	}
	if _, ok := o.jobs[StepMerge]; ok {
		t.Error("merge Job without --evaluate")
	}
	s := spec(false)
	s.CreatePVC = false
	s.PVC = "shared-nfs"
	o = parse(t, render(t, s))
	if len(o.claims) != 0 {
		t.Error("a claim rendered for --pvc")
	}
	if got := o.jobs[StepPrepare].Spec.Template.Spec.Volumes[0].PersistentVolumeClaim.ClaimName; got != "shared-nfs" {
		t.Errorf("claim %s", got)
	}
}

func TestBadSpec(t *testing.T) {
	for name, edit := range map[string]func(s *Spec){
		"no shards":       func(s *Spec) { s.Shards = 0 },
		"too many shards": func(s *Spec) { s.Shards = maxCompletions + 1 },
		"namespace":       func(s *Spec) { s.Namespace = "Bench_NS" },
		"pvc":             func(s *Spec) { s.PVC = "my pvc" },
		"secret":          func(s *Spec) { s.Secret = "-x" },
		"image":           func(s *Spec) { s.Image = "" },
		"run-as root":     func(s *Spec) { s.RunAs = "0" },
		"run-as text":     func(s *Spec) { s.RunAs = "nobody" },
		"env name":        func(s *Spec) { s.SecretEnv = []string{"1BAD"} },
	} {
		s := spec(true)
		edit(s)
		if _, err := Render(s); err == nil || !badinput.Is(err) {
			t.Errorf("%s: err %v, want bad input", name, err)
		}
	}
}

func TestBaseName(t *testing.T) {
	for _, tc := range []struct{ task, want string }{
		{"sqlite", "sqlite-"},
		{"SQLite_Opt.v2", "sqlite-opt-v2-"},
		{"--__--", "run-"},
		{strings.Repeat("a", 80), strings.Repeat("a", 34) + "-"},
	} {
		got := BaseName(tc.task, "run-1")
		if !strings.HasPrefix(got, tc.want) || len(got) != len(tc.want)+8 {
			t.Errorf("BaseName(%q) = %q, want %s<8 hex>", tc.task, got, tc.want)
		}
		if len(got+"-evaluate") > maxJobName {
			t.Errorf("%q: job names too long", got)
		}
	}
	if BaseName("t", "a") == BaseName("t", "b") {
		t.Error("two runs share Job names")
	}
}

func TestQuantities(t *testing.T) {
	for in, want := range map[string]int64{"2": 2, " 16 ": 16} {
		if n, err := ParseCPUs(in); err != nil || n != want {
			t.Errorf("ParseCPUs(%q) = %d, %v", in, n, err)
		}
	}
	for _, bad := range []string{"1.5", "0", "-2", "two", "500m", ""} {
		if _, err := ParseCPUs(bad); !badinput.Is(err) {
			t.Errorf("ParseCPUs(%q): %v, want bad input", bad, err)
		}
	}
	for in, want := range map[float64]int64{0: 1, 0.5: 1, 1: 1, 1.5: 2, 2: 2, 3.01: 4} {
		if got := CPUsUp(in); got != want {
			t.Errorf("CPUsUp(%g) = %d, want %d", in, got, want)
		}
	}
	for in, want := range map[string]string{"4g": "4Gi", "512m": "512Mi", "1.5GiB": "1536Mi", "2 GB": "2Gi", "1024k": "1Mi", "100": "100"} {
		q, err := DockerMemory(in)
		if err != nil || q.String() != want {
			t.Errorf("DockerMemory(%q) = %s, %v; want %s", in, q.String(), err, want)
		}
	}
	if _, err := ParseMemory("8Gi"); err != nil {
		t.Error(err)
	}
	for _, bad := range []string{"8g", "512m", "lots", "0"} {
		if _, err := ParseMemory(bad); !badinput.Is(err) {
			t.Errorf("ParseMemory(%q): %v, want bad input", bad, err)
		}
	}
}

func TestPrepareDeadline(t *testing.T) {
	ids := make([]string, 10)
	for i := range ids {
		ids[i] = fmt.Sprintf("t-%04d", i)
	}
	l := records.Limits{Timeout: records.Duration(30 * time.Minute), KillGrace: records.Duration(10 * time.Second)}
	per := 30*time.Minute + 10*time.Second + setupAllowance
	// One shard: every item, twice (one retry), plus the margin.
	if got, want := PrepareDeadline(ids, 1, 1, l), 10*2*per+deadlineMargin; got != want {
		t.Errorf("1 shard: %v, want %v", got, want)
	}
	// Four shards: the largest shard by the shards' own partition.
	got := PrepareDeadline(ids, 3, 4, l)
	if got < 3*3*2*per+deadlineMargin || got >= 10*3*2*per+deadlineMargin {
		t.Errorf("4 shards of 10 items × 3 samples: %v", got)
	}
}

func TestSecretEnv(t *testing.T) {
	got := SecretEnv(SecretInput{
		Credentials: []string{"ANTHROPIC_API_KEY", "LLM_API_KEY"},
		DotEnv:      map[string]string{"MY_PROXY_URL": "x", "TAVILY_API_KEY": "x", "PATH": "/x", "BENCH_FOO": "1"},
		Files:       [][]byte{[]byte("model: ${LLM_MODEL:-${FALLBACK_MODEL}}\nliteral: $${NOT_A_REF}\nkey: ${ORG_TOKEN}\n")},
		Secrets:     []string{"MY_PRIVATE"},
		Extra:       []string{"EXTRA_KEY"},
	})
	want := []string{"ANTHROPIC_API_KEY", "EXTRA_KEY", "FALLBACK_MODEL", "LLM_API_KEY", "LLM_MODEL", "MY_PRIVATE", "MY_PROXY_URL", "ORG_TOKEN"}
	if !slices.Equal(got, want) {
		t.Errorf("SecretEnv = %q, want %q", got, want)
	}
}

// TestApplyOrder: every manifest is applied by its step, in order, and
// the init Job is waited for before the shards start.
func TestApplyOrder(t *testing.T) {
	s := spec(true)
	ms, err := Render(s)
	if err != nil {
		t.Fatal(err)
	}
	got := ApplyOrder(s, ms, "m.yaml")
	last := -1
	for _, step := range []Step{StepVolume, StepInit, StepPrepare, StepEvaluate, StepMerge} {
		i := strings.Index(got, "kubectl -n bench apply -f m.yaml -l "+LabelComponent+"="+string(step)+"\n")
		if i <= last {
			t.Errorf("step %s applied at %d, after %d:\n%s", step, i, last, got)
		}
		last = i
	}
	// The Secret the pods read is made in their namespace (a Secret in
	// another one leaves every optional credential unset), before the
	// first pod starts.
	secret := strings.Index(got, "kubectl -n bench create secret generic "+s.Secret+" --from-env-file=.env")
	if secret < 0 || secret > strings.Index(got, "component=init") {
		t.Errorf("no Secret made in the Jobs' namespace before the init Job:\n%s", got)
	}
	wait := strings.Index(got, "wait --for=condition=complete --timeout=30m job/"+s.Base+"-init")
	if wait < 0 || wait > strings.Index(got, "component=prepare") {
		t.Errorf("the init Job is not waited for before the shards:\n%s", got)
	}
}
