package slurm

import (
	"context"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite the golden job scripts in testdata")

const secretValue = "sk-live-0123456789abcdef"

// testEnv is a submitting environment with secrets in it.
var testEnv = []string{
	"PATH=/usr/bin:/bin", "HOME=/home/u", "LANG=C.UTF-8", "TMPDIR=/scratch/u",
	"OPENAI_API_KEY=" + secretValue, "GITHUB_TOKEN=" + secretValue, "MY_CREDENTIAL=" + secretValue,
	"BENCH_WATCH_TMP=", "BENCH_API_TOKEN=" + secretValue, "SEARXNG_URL=http://search",
	"LLM_MODEL=m", "PROJECT_ROOT=/shared/p", "UNUSED=x",
}

func fixture(evaluate bool) *Run {
	return &Run{
		Bench: "/opt/bench/bin/bench", Task: "/shared/p/tasks/t.yaml", Plan: "/shared/p/state/plan.json",
		BenchCfg: "/shared/p/bench.yaml", Agent: "claude", Samples: 2,
		RunID: "t__claude__m__20260102T030405Z", RunDir: "/shared/p/state/runs/t__claude__m__20260102T030405Z",
		Shards: 4, Evaluate: evaluate, Partition: "cpu", Extra: []string{"--account=lab", "--qos=normal"},
		PrepareTime: FormatTime(130 * time.Minute), CPUs: 2, Mem: "4g", Chdir: "/shared/p dir",
		Export: ExportNames(testEnv, []string{"PROJECT_ROOT", "MY_CREDENTIAL"}, []string{"my_credential"}),
	}
}

// TestGolden pins the three scripts of a run with --evaluate (go test
// -update rewrites them).
func TestGolden(t *testing.T) {
	for _, j := range fixture(true).Jobs() {
		got, err := j.Script.Render()
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join("testdata", j.Role+".sh")
		if *update {
			if err := os.WriteFile(path, got, 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Errorf("%s changed (go test -update rewrites it):\n%s", path, got)
		}
	}
}

func TestJobs(t *testing.T) {
	roles := func(js []Job) (r []string) {
		for _, j := range js {
			r = append(r, j.Role)
		}
		return r
	}
	if got := roles(fixture(false).Jobs()); !slices.Equal(got, []string{"prepare", "merge"}) {
		t.Fatalf("without --evaluate: %v", got)
	}
	js := fixture(true).Jobs()
	if got := roles(js); !slices.Equal(got, []string{"prepare", "evaluate", "merge"}) {
		t.Fatalf("with --evaluate: %v", got)
	}
	text := map[string]string{}
	for _, j := range js {
		b, err := j.Script.Render()
		if err != nil {
			t.Fatal(err)
		}
		text[j.Role] = string(b)
		if filepath.Dir(j.Path) != filepath.Join(fixture(true).RunDir, Dir) {
			t.Errorf("%s written to %s", j.Role, j.Path)
		}
	}
	for role, want := range map[string][]string{
		"prepare":  {"#SBATCH --array=0-3\n", "#SBATCH --time=02:10:00\n", "#SBATCH --cpus-per-task=2\n", "#SBATCH --mem=4g\n", ` --shard "$SLURM_ARRAY_TASK_ID/4"` + "\n", "--run-id t__claude__m__20260102T030405Z --shard"},
		"evaluate": {"#SBATCH --array=0-3\n", "#SBATCH --exclusive\n", ` --shard "$SLURM_ARRAY_TASK_ID/4"`},
		"merge":    {" merge /shared/p/state/runs/", " report /shared/p/state/runs/t__claude__m__20260102T030405Z --format html --out "},
	} {
		for _, w := range want {
			if !strings.Contains(text[role], w) {
				t.Errorf("%s script lacks %q:\n%s", role, w, text[role])
			}
		}
	}
	for _, bad := range []string{"--time", "--cpus-per-task", "--mem", "--array"} {
		if strings.Contains(text["merge"], bad) {
			t.Errorf("merge script has %s", bad)
		}
	}
	if strings.Contains(text["prepare"], "--exclusive") {
		t.Error("prepare asks for whole nodes")
	}
}

// No secret of the submitting environment reaches a script or sbatch's
// command line: only names are exported, and no secret's name.
func TestNoSecretInScriptsOrArgv(t *testing.T) {
	r := fixture(true)
	for _, n := range []string{"OPENAI_API_KEY", "GITHUB_TOKEN", "MY_CREDENTIAL", "BENCH_API_TOKEN", "SEARXNG_URL", "UNUSED", "TMPDIR"} {
		if slices.Contains(r.Export, n) {
			t.Errorf("%s exported", n)
		}
	}
	for _, n := range []string{"PATH", "HOME", "LANG", "LLM_MODEL", "BENCH_WATCH_TMP", "PROJECT_ROOT"} {
		if !slices.Contains(r.Export, n) {
			t.Errorf("%s not exported (%v)", n, r.Export)
		}
	}
	var argvs [][]string
	s := &Submitter{Sbatch: "sbatch", Run: func(ctx context.Context, argv []string) ([]byte, error) {
		argvs = append(argvs, argv)
		return []byte("42;cluster\n"), nil
	}}
	for _, j := range r.Jobs() {
		b, _ := j.Script.Render()
		if strings.Contains(string(b), secretValue) || strings.Contains(string(b), "OPENAI") {
			t.Errorf("%s script holds a secret:\n%s", j.Role, b)
		}
		id, err := s.Submit(context.Background(), Submission{Path: j.Path, Export: j.Script.Export, AfterAny: []string{"41"}})
		if err != nil || id != "42" {
			t.Fatalf("submit: %q %v", id, err)
		}
	}
	for _, a := range argvs {
		joined := strings.Join(a, " ")
		if strings.Contains(joined, secretValue) || strings.Contains(joined, "OPENAI") {
			t.Errorf("argv holds a secret: %s", joined)
		}
		if a[1] != "--parsable" || !strings.HasPrefix(a[2], "--export=NONE,") || a[3] != "--dependency=afterany:41" {
			t.Errorf("argv %q", a)
		}
	}
}

func TestSubmitErrors(t *testing.T) {
	fail := &Submitter{Sbatch: "sbatch", Run: func(ctx context.Context, argv []string) ([]byte, error) {
		return nil, errors.New("exit status 1: sbatch: error: invalid partition specified: nope")
	}}
	_, err := fail.Submit(context.Background(), Submission{Path: "/r/slurm/prepare.sh"})
	if err == nil || !strings.Contains(err.Error(), "invalid partition specified") || !strings.Contains(err.Error(), "/r/slurm/prepare.sh") {
		t.Fatalf("error %v", err)
	}
	garbled := &Submitter{Sbatch: "sbatch", Run: func(ctx context.Context, argv []string) ([]byte, error) { return []byte("Submitted batch job\n"), nil }}
	if _, err := garbled.Submit(context.Background(), Submission{Path: "p"}); err == nil || !strings.Contains(err.Error(), "no job id") {
		t.Fatalf("garbled output: %v", err)
	}
	// The real runner: a missing executable and a failing one, with its
	// stderr's first line, and a cancelled context.
	if _, err := ExecRunner(nil)(context.Background(), []string{"/nonexistent/sbatch"}); err == nil {
		t.Fatal("missing sbatch ran")
	}
	_, err = ExecRunner([]string{"PATH=/usr/bin:/bin"})(context.Background(), []string{"sh", "-c", "echo 'sbatch: error: nope' >&2; echo more >&2; exit 1"})
	if err == nil || !strings.HasSuffix(err.Error(), ": sbatch: error: nope") {
		t.Fatalf("failing runner: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := ExecRunner([]string{"PATH=/usr/bin:/bin"})(ctx, []string{"sleep", "5"}); err == nil {
		t.Fatal("cancelled runner ran")
	}
}

func TestParseJobID(t *testing.T) {
	for in, want := range map[string]string{"12\n": "12", "12;c1\n": "12", "warning\n13\n": "13"} {
		if got, err := ParseJobID([]byte(in)); err != nil || got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
	for _, in := range []string{"", "x", ";c", "12a"} {
		if got, err := ParseJobID([]byte(in)); err == nil {
			t.Errorf("%q: %q", in, got)
		}
	}
}

func TestTime(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0: "00:01:00", 90 * time.Minute: "01:30:00", 1500 * time.Millisecond * 100: "00:02:30",
		25*time.Hour + 61*time.Second: "1-01:01:01",
	} {
		if got := FormatTime(d); got != want {
			t.Errorf("FormatTime(%v) = %s, want %s", d, got, want)
		}
	}
	for in, want := range map[string]time.Duration{"01:30:00": 90 * time.Minute, "100:00:00": 100 * time.Hour, "2-00:00:01": 48*time.Hour + time.Second} {
		if got, err := ParseTime(in); err != nil || got != want {
			t.Errorf("ParseTime(%s) = %v %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "90", "1:30", "01:60:00", "01:5:00", "x-01:00:00", "00:00:00", "-01:00:00", "01:00:00\n"} {
		if _, err := ParseTime(bad); err == nil {
			t.Errorf("ParseTime(%q) accepted", bad)
		}
	}
}

func TestDirectivesRefuseWhatCannotBeWritten(t *testing.T) {
	for _, extra := range []string{"--comment=a\nb", `--comment="x"`} {
		s := &Script{Title: "t", Extra: []string{extra}}
		if _, err := s.Render(); err == nil {
			t.Errorf("%q rendered", extra)
		}
	}
}
