package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/shard"
	"github.com/perfbench/perfbench/internal/slurm/slurmtest"
)

// The cluster of the script that started one, for slurmwait (scripts
// run in parallel).
var (
	clustersMu sync.Mutex
	clusters   = map[*testscript.TestScript]*slurmtest.Cluster{}
)

// cmdSlurmCluster starts a one-node Slurm cluster for the script (stopped
// when it ends, also on failure) and sets SLURM_CONF.
//
//	slurmcluster
func cmdSlurmCluster(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: slurmcluster")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := slurmtest.StartCluster(ctx)
	if c != nil {
		ts.Defer(func() {
			clustersMu.Lock()
			delete(clusters, ts)
			clustersMu.Unlock()
			if err := c.Stop(); err != nil {
				ts.Logf("slurm: stop: %v", err)
			}
		})
	}
	if err != nil {
		ts.Fatalf("slurm: %v", err)
	}
	clustersMu.Lock()
	clusters[ts] = c
	clustersMu.Unlock()
	ts.Setenv("SLURM_CONF", c.Conf)
}

var followLine = regexp.MustCompile(`(?m)^  squeue -j ([0-9,]+)$`)

// cmdSlurmWait waits (at most 3 minutes) for the jobs that the submit
// output FILE names in its follow lines, and fails unless every job and
// array task COMPLETED.
//
//	slurmwait FILE
func cmdSlurmWait(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: slurmwait FILE")
	}
	clustersMu.Lock()
	c := clusters[ts]
	clustersMu.Unlock()
	if c == nil {
		ts.Fatalf("slurmwait: no slurmcluster")
	}
	m := followLine.FindStringSubmatch(ts.ReadFile(args[0]))
	if m == nil {
		ts.Fatalf("slurmwait: no squeue line in %s", args[0])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	states, err := c.Wait(ctx, strings.Split(m[1], ",")...)
	if err != nil {
		ts.Fatalf("slurmwait: %v", err)
	}
	var bad []string
	for job, st := range states {
		if st != "COMPLETED" {
			bad = append(bad, job+" "+st)
		}
	}
	sort.Strings(bad)
	ts.Logf("jobs: %v", states)
	if len(bad) > 0 || len(states) == 0 {
		ts.Fatalf("slurmwait: jobs not completed: %v (all: %v)", bad, states)
	}
}

// cmdSlurmCheck compares the run SHARDED, prepared and evaluated in N
// Slurm array tasks, with the run ONE of one process on the same plan:
// every plan item once in each; the same rollout status, evaluation
// status and opt flags per item (timing verdicts may differ: the
// workload's speedup is large enough for the flags not to); each item's
// rollout and evaluation by the array task of its shard (eval.json's
// Slurm ids), one process per shard and one shard per process (no
// shard's files in another's); predictions.jsonl with every item once.
//
//	slurmcheck SHARDED ONE N
func cmdSlurmCheck(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: slurmcheck SHARDED ONE N")
	}
	sharded, one := ts.MkAbs(args[0]), ts.MkAbs(args[1])
	n, _ := strconv.Atoi(args[2])
	var run records.Run
	readJSON(ts, filepath.Join(sharded, "run.json"), &run)
	if len(run.Items) == 0 {
		ts.Fatalf("%s: no items", sharded)
	}
	prepBy := map[int]map[string]bool{} // shard -> rollout harnesses
	evalBy := map[int]map[string]bool{} // shard -> evaluation harnesses
	shardOf := map[string]int{}         // harness -> shard
	arrayJobs := map[string]bool{}
	note := func(by map[int]map[string]bool, s int, h records.Harness, what string) {
		k := what + " " + h.String()
		if prev, ok := shardOf[k]; ok && prev != s {
			ts.Fatalf("%s worked on shards %d and %d", k, prev, s)
		}
		shardOf[k] = s
		if by[s] == nil {
			by[s] = map[string]bool{}
		}
		by[s][k] = true
	}
	for _, id := range run.Items {
		s := shard.Of(id, n)
		var ja, jb records.Journal
		readJSON(ts, filepath.Join(sharded, id, "journal.json"), &ja)
		readJSON(ts, filepath.Join(one, id, "journal.json"), &jb)
		if ja.ItemID != id || ja.Status != jb.Status {
			ts.Fatalf("%s: rollout %s (item %s), one process: %s", id, ja.Status, ja.ItemID, jb.Status)
		}
		note(prepBy, s, ja.Harness, "prepare")
		var ea, eb records.Eval
		readJSON(ts, filepath.Join(sharded, id, "eval.json"), &ea)
		readJSON(ts, filepath.Join(one, id, "eval.json"), &eb)
		oa1, oa2 := ea.CountsOpt()
		ob1, ob2 := eb.CountsOpt()
		if ea.Status != eb.Status || ea.Correct() != eb.Correct() || oa1 != ob1 || oa2 != ob2 {
			ts.Fatalf("%s: evaluation %s (correct %v, opt_base %v, opt_commit %v), one process: %s (%v, %v, %v)",
				id, ea.Status, ea.Correct(), oa1, oa2, eb.Status, eb.Correct(), ob1, ob2)
		}
		sj := ea.Environment.Slurm
		if sj == nil || sj.ArrayTaskID != strconv.Itoa(s) || sj.JobID == "" || sj.ArrayJobID == "" {
			ts.Fatalf("%s (shard %d): eval.json's slurm job %+v", id, s, sj)
		}
		arrayJobs[sj.ArrayJobID] = true
		if eb.Environment.Slurm != nil {
			ts.Fatalf("%s: the one-process evaluation names a Slurm job", id)
		}
		note(evalBy, s, ea.Harness, "evaluate")
	}
	for s, hs := range prepBy {
		if len(hs) != 1 || len(evalBy[s]) != 1 {
			ts.Fatalf("shard %d: rollouts by %v, evaluations by %v", s, hs, evalBy[s])
		}
	}
	if len(arrayJobs) != 1 {
		ts.Fatalf("evaluations of array jobs %v", arrayJobs)
	}
	// Every directory of the run is a plan item's (or the scripts').
	ents, err := os.ReadDir(sharded)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	for _, e := range ents {
		if e.IsDir() && e.Name() != "slurm" && !slices.Contains(run.Items, e.Name()) {
			ts.Fatalf("%s: unexpected directory %s", sharded, e.Name())
		}
	}
	seen := map[string]int{}
	for _, l := range strings.Split(strings.TrimSpace(ts.ReadFile(filepath.Join(sharded, "predictions.jsonl"))), "\n") {
		var row struct {
			InstanceID string `json:"instance_id"`
		}
		if err := json.Unmarshal([]byte(l), &row); err != nil {
			ts.Fatalf("predictions.jsonl: %v", err)
		}
		seen[row.InstanceID]++
	}
	for _, id := range run.Items {
		if seen[id] != 1 {
			ts.Fatalf("predictions.jsonl: %s %d time(s) (%v)", id, seen[id], seen)
		}
	}
	if len(seen) != len(run.Items) {
		ts.Fatalf("predictions.jsonl: %d rows for %d items", len(seen), len(run.Items))
	}
	fmt.Fprintf(ts.Stdout(), "same: %d items in %d shards\n", len(run.Items), len(prepBy))
}

func readJSON(ts *testscript.TestScript, path string, v any) {
	data, err := os.ReadFile(path)
	if err != nil {
		ts.Fatalf("%v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		ts.Fatalf("%s: %v", path, err)
	}
}
