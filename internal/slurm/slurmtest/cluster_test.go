package slurmtest_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/slurm"
	"github.com/perfbench/perfbench/internal/slurm/slurmtest"
)

// A real cluster runs a rendered array script submitted by the real
// sbatch, then a job that waits for it; the secret of the submitting
// environment is not in the jobs' environment, the exported name is.
func TestClusterRunsRenderedJobs(t *testing.T) {
	c := slurmtest.Start(t)
	dir := t.TempDir()
	t.Setenv("SLURMTEST_SECRET_TOKEN", "very-secret-value")
	t.Setenv("BENCH_VISIBLE", "yes")
	env := os.Environ()
	export := slurm.ExportNames(env, nil, nil)
	arr := slurm.Script{Title: "t", Name: "t-array", Array: 2, Chdir: dir, Output: filepath.Join(dir, "a-%A_%a.out"), Export: export,
		Commands: [][]string{{"sh", "-c", `echo "shard $1 job $SLURM_JOB_ID visible=$BENCH_VISIBLE secret=${SLURMTEST_SECRET_TOKEN:-none}" > "out.$SLURM_ARRAY_TASK_ID"`, "sh", slurm.ShardArg}}}
	after := slurm.Script{Title: "t", Name: "t-after", Chdir: dir, Output: filepath.Join(dir, "b-%j.out"), Export: export,
		Commands: [][]string{{"sh", "-c", "cat out.0 out.1 > all"}}}
	sub := &slurm.Submitter{Sbatch: "sbatch", Run: slurm.ExecRunner(env)}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var ids []string
	for i, s := range []slurm.Script{arr, after} {
		b, err := s.Render()
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, s.Name+".sh")
		if err := os.WriteFile(p, b, 0o755); err != nil {
			t.Fatal(err)
		}
		id, err := sub.Submit(ctx, slurm.Submission{Path: p, Export: s.Export, AfterAny: ids[:i]})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	states, err := c.Wait(ctx, ids...)
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range []string{ids[0] + "_0", ids[0] + "_1", ids[1]} {
		if states[j] != "COMPLETED" {
			t.Errorf("job %s: %q (all: %v)", j, states[j], states)
		}
	}
	all, err := os.ReadFile(filepath.Join(dir, "all"))
	if err != nil {
		t.Fatal(err)
	}
	got := string(all)
	for _, w := range []string{"shard 0/2 job ", "shard 1/2 job ", "visible=yes secret=none"} {
		if !strings.Contains(got, w) {
			t.Errorf("job output lacks %q:\n%s", w, got)
		}
	}
	if strings.Contains(got, "very-secret-value") {
		t.Errorf("a secret reached the job:\n%s", got)
	}
}

// A cluster whose test process died is stopped by the next start: its
// daemons end and its directory goes.
func TestSweepStopsAnOrphanedCluster(t *testing.T) {
	if ok, why := slurmtest.Available(); !ok {
		if slurmtest.Required() {
			t.Fatal(why)
		}
		t.Skip(why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	orphan, err := slurmtest.StartCluster(ctx)
	if orphan != nil {
		defer orphan.Stop()
	}
	if err != nil {
		t.Fatal(err)
	}
	pid, err := os.ReadFile(filepath.Join(orphan.Dir, "slurmctld.pid"))
	if err != nil {
		t.Fatal(err)
	}
	// Its owner is now a process that has ended.
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(orphan.Dir, "owner"), []byte(strconv.Itoa(dead.Process.Pid)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := slurmtest.Start(t)
	if _, err := os.Stat(orphan.Dir); !os.IsNotExist(err) {
		t.Errorf("orphan's directory %s: %v", orphan.Dir, err)
	}
	if _, err := os.Stat("/proc/" + strings.TrimSpace(string(pid))); err == nil {
		st, _ := os.ReadFile("/proc/" + strings.TrimSpace(string(pid)) + "/stat")
		if !strings.Contains(string(st), ") Z ") {
			t.Errorf("orphan's slurmctld %s still runs", pid)
		}
	}
	if c.Dir == orphan.Dir {
		t.Fatal("same directory")
	}
}
