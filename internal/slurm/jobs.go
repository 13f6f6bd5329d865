package slurm

import (
	"fmt"
	"path/filepath"
	"strconv"
)

// Dir is the directory of a run's job scripts and logs, in the run
// directory.
const Dir = "slurm"

// Run is what the job scripts of one sharded run are made of. Paths are
// absolute: the jobs run on other machines, in Chdir.
type Run struct {
	Bench    string // the bench binary, as every node reaches it
	Task     string
	Plan     string
	BenchCfg string // "" when bench.yaml is not given and none is used
	Agent    string // "" for agents.default
	Samples  int
	RunID    string
	RunDir   string
	Shards   int
	Evaluate bool
	// Partition, Extra: for every job.
	Partition string
	Extra     []string
	// PrepareTime, CPUs and Mem: the rollout shards' limits.
	PrepareTime string
	CPUs        int
	Mem         string
	Chdir       string
	Export      []string
}

// Job is one script of a run, by its role.
type Job struct {
	Role   string // prepare | evaluate | merge
	Path   string // where the script is written
	Script Script
}

// Jobs are the run's scripts in submission order: the rollout array, the
// evaluation array (with Evaluate), the merge.
func (r *Run) Jobs() []Job {
	dir := filepath.Join(r.RunDir, Dir)
	common := func(role string, s Script) Job {
		s.Name = "bench-" + role
		s.Partition, s.Extra = r.Partition, r.Extra
		s.Chdir, s.Export = r.Chdir, r.Export
		path := filepath.Join(dir, role+".sh")
		if s.Array > 0 {
			s.Output = filepath.Join(dir, role+"-%A_%a.out")
			s.Notes = append(s.Notes,
				fmt.Sprintf("A failed shard I is run again by: sbatch --array=I %s", path),
				"(finished items are skipped, interrupted and infra_error ones redone).")
		} else {
			s.Output = filepath.Join(dir, role+"-%j.out")
		}
		return Job{Role: role, Path: path, Script: s}
	}
	prep := []string{r.Bench, "prepare", r.Task, "--from-plan", r.Plan}
	if r.BenchCfg != "" {
		prep = append(prep, "--bench-cfg", r.BenchCfg)
	}
	if r.Agent != "" {
		prep = append(prep, "--agent", r.Agent)
	}
	if r.Samples > 1 {
		prep = append(prep, "--samples", strconv.Itoa(r.Samples))
	}
	prep = append(prep, "--run-id", r.RunID, "--shard", ShardArg)
	jobs := []Job{common("prepare", Script{
		Title:       fmt.Sprintf("bench: rollouts of run %s, one of %d shards", r.RunID, r.Shards),
		Array:       r.Shards,
		Time:        r.PrepareTime,
		CPUsPerTask: r.CPUs,
		Mem:         r.Mem,
		Commands:    [][]string{prep},
	})}
	if r.Evaluate {
		ev := []string{r.Bench, "evaluate", r.RunDir}
		if r.BenchCfg != "" {
			ev = append(ev, "--bench-cfg", r.BenchCfg)
		}
		ev = append(ev, "--shard", ShardArg, "--quiet")
		jobs = append(jobs, common("evaluate", Script{
			Title: fmt.Sprintf("bench: evaluation of run %s, one of %d shards, on a node of its own", r.RunID, r.Shards),
			Array: r.Shards,
			// A whole node per timing shard: nothing else of the
			// cluster runs beside the timed rounds.
			Exclusive: true,
			Commands:  [][]string{ev},
		}))
	}
	jobs = append(jobs, common("merge", Script{
		Title: fmt.Sprintf("bench: merge of run %s once its shards are done, and its HTML report", r.RunID),
		Commands: [][]string{
			{r.Bench, "merge", r.RunDir},
			{r.Bench, "report", r.RunDir, "--format", "html", "--out", filepath.Join(r.RunDir, "report.html")},
		},
	}))
	return jobs
}
