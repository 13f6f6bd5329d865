// Package sitetest builds fixtures for the site's tests and for tests that
// open its pages (the browser test): a state root of 3 runs × 6 items as
// prepare and evaluate would leave it (replay, noop and a breaker, with a
// missing item and an infra_error, hostile text in patches, logs and
// subjects), and the site written from it.
package sitetest

import (
	"bytes"
	"crypto/sha1"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/compare"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/site"
	"github.com/perfbench/perfbench/internal/stats"
)

// Hostile is text an agent (or a commit author) could write: every page
// must show it inert.
const Hostile = `<script>alert("x")</script>`

// Items are the fixture's plan items.
var Items = []string{"c1", "c2", "c3", "c4", "c5", "c6"}

// HumanSpeedups are the human speedups over the baseline, per item.
var HumanSpeedups = []float64{1.5, 2.0, 1.1, 3.0, 1.3, 4.2}

// HumanSHA is item i's human commit.
func HumanSHA(i int) string { return fmt.Sprintf("%x", sha1.Sum([]byte("human "+Items[i]))) }

// preSHA is item i's parent commit.
func preSHA(i int) string { return fmt.Sprintf("%x", sha1.Sum([]byte("pre "+Items[i]))) }

// Subject is the fixture's commit subjects: item c3's holds Hostile.
func Subject(sha string) string {
	for i := range Items {
		if HumanSHA(i) == sha {
			if i == 2 {
				return "speed up parsing " + Hostile
			}
			return fmt.Sprintf("perf: make %s faster", Items[i])
		}
	}
	return ""
}

func speedup(r float64) stats.Speedup {
	return stats.Speedup{Ratio: r, Valid: true, Lo: r * 0.97, Hi: r * 1.03, CIValid: true, Method: "bootstrap", P: 0.001, Significant: true, NBase: 5, NCand: 5}
}

func arm(median float64) stats.ArmSummary {
	return stats.ArmSummary{N: 5, Median: median, Lo: median * 0.98, Hi: median * 1.02, CIValid: true, CILevel: 0.96875,
		Mean: median, StdDev: median * 0.01, CV: 0.01, CVValid: true, Min: median * 0.98, Max: median * 1.02}
}

// threeWay is what evaluate would write for these speedups (agent 0: not
// timed), judged and flagged by the stats package.
func threeWay(human, agent float64) *stats.ThreeWay {
	o := stats.DefaultOptions()
	t := &stats.ThreeWay{Options: o, HumanOverBase: speedup(human), Base: arm(1), Human: arm(1 / human)}
	if agent > 0 {
		t.Agent = arm(1 / agent)
		t.AgentOverBase = speedup(agent)
		t.AgentOverHuman = speedup(agent / human)
		t.Verdict = stats.Judge(t.AgentOverHuman, o)
		t.OptBase, t.OptCommit = stats.OptFlags(t.AgentOverBase, t.HumanOverBase)
	}
	return t
}

// rounds are n timed rounds (after one warm-up) around the given times.
func rounds(n int, base, human, agent float64) []records.Sample {
	var out []records.Sample
	for r := range n + 1 {
		j := 1 + 0.02*float64((r*7)%5-2)/2
		for p, a := range []struct {
			arm records.Arm
			v   float64
		}{{records.ArmBase, base}, {records.ArmHuman, human * j}, {records.ArmAgent, agent / j}} {
			out = append(out, records.Sample{Arm: a.arm, Round: r, Position: p, Warmup: r == 0, Value: a.v, WallSeconds: a.v})
		}
	}
	return out
}

type item struct {
	rollout records.RolloutStatus // "" = no journal (missing)
	patch   bool
	eval    records.EvalStatus // "" = no eval.json
	agent   float64            // agent speedup over the baseline
	cost    float64
}

// writeRun writes a run as prepare and evaluate would: run.json, the run's
// plan.json, and per item task.txt, journal.json, the patch, the logs and
// eval.json.
func writeRun(root, id, agent string, items []item) error {
	return writeSampledRun(root, id, agent, [][]item{items})
}

// writeSampledRun writes a run of len(samples) samples: samples[k][i] is
// sample k of item i.
func writeSampledRun(root, id, agent string, samples [][]item) error {
	dir := filepath.Join(journal.RunsDir(root), id)
	created := time.Date(2026, 1, 2, 3, 4, len(agent), 0, time.UTC)
	run := &records.Run{
		SchemaVersion: records.SchemaVersion, RunID: id, CreatedAt: created, UpdatedAt: created,
		Task:  records.RunTask{ID: "demo", Name: "demo"},
		Agent: records.RunAgent{Name: agent, Type: "command", Model: agent + "-model"},
		Items: Items, Samples: len(samples), PlanHash: "fixture",
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := journal.WriteRun(dir, run); err != nil {
		return err
	}
	var plan strings.Builder
	plan.WriteString(`{"schema_version": 1, "task_id": "demo", "items": [`)
	for i, it := range Items {
		if i > 0 {
			plan.WriteString(",")
		}
		fmt.Fprintf(&plan, `{"id": %q, "human": %q, "pre": %q}`, it, HumanSHA(i), preSHA(i))
	}
	plan.WriteString("]}\n")
	if err := os.WriteFile(filepath.Join(dir, "plan.json"), []byte(plan.String()), 0o644); err != nil {
		return err
	}
	for k, items := range samples {
		if err := writeItems(dir, id, items, k, len(samples)); err != nil {
			return err
		}
	}
	return nil
}

func writeItems(dir, id string, items []item, sample, samples int) error {
	for i, it := range items {
		itemDir := filepath.Join(dir, journal.ItemDirName(Items[i], sample, samples))
		if it.rollout == "" && it.eval == "" {
			continue
		}
		if err := os.MkdirAll(itemDir, 0o755); err != nil {
			return err
		}
		task := fmt.Sprintf("# Task\n\nMake the workload of %s faster.\n", Items[i])
		if err := os.WriteFile(filepath.Join(itemDir, journal.TaskFile), []byte(task), 0o644); err != nil {
			return err
		}
		if it.rollout != "" {
			j := &records.Journal{
				SchemaVersion: records.SchemaVersion, RunID: id, ItemID: Items[i], Sample: sample, Status: it.rollout,
				DurationSeconds: 10 * float64(i+1), Attempts: 1,
				Usage:  records.Usage{CostUSD: it.cost, InputTokens: 1000, OutputTokens: 100, CacheReadTokens: 50, Turns: 3},
				Limits: records.Limits{Timeout: records.Duration(30 * time.Minute)},
				Logs: records.Logs{Stdout: &records.LogFile{File: "command_stdout.txt", Bytes: 40, Kept: 40},
					Stderr: &records.LogFile{File: "command_stderr.txt", Bytes: 40, Kept: 40}},
			}
			if it.rollout == records.RolloutInfraError {
				j.InfraKind = "rate_limit"
				j.Attempts = 3
				j.Retries = []records.Retry{{Reason: "rate limited", DelaySeconds: 30}, {Reason: "rate limited " + Hostile, DelaySeconds: 60}}
			}
			if i == 3 {
				j.LimitsHit = []string{records.LimitTimeout}
			}
			if it.patch {
				j.Patch = &records.PatchInfo{Bytes: 120, Files: []string{"a.go"}, Added: 3, Removed: 1, Applies: true}
				patch := "diff --git a/a.go b/a.go\n--- a/a.go\n+++ b/a.go\n@@ -1,2 +1,4 @@\n package a\n-// slow\n+// fast " + Hostile + "\n+var x = 1\n+var y = \"</pre>\"\n"
				if err := os.WriteFile(filepath.Join(itemDir, journal.PatchFile), []byte(patch), 0o644); err != nil {
					return err
				}
			}
			if err := journal.WriteJournal(itemDir, j); err != nil {
				return err
			}
			for name, text := range map[string]string{"command_stdout.txt": "working on " + Items[i] + "\n" + Hostile + "\n", "command_stderr.txt": "warning: </pre><b>bold</b>\n"} {
				if err := os.WriteFile(filepath.Join(itemDir, name), []byte(text), 0o644); err != nil {
					return err
				}
			}
		}
		if it.eval != "" {
			ev := &records.Eval{
				SchemaVersion: records.EvalSchemaVersion, RunID: id, ItemID: Items[i], Sample: sample, Status: it.eval,
				Patch:   records.EvalPatch{Bytes: 120, Empty: !it.patch, Applied: it.patch},
				Stats:   threeWay(HumanSpeedups[i], it.agent),
				Commits: records.Commits{Human: HumanSHA(i), Pre: preSHA(i)},
				Config:  records.EvalSpec{Workload: "./bench.sh", Rounds: 5},
			}
			ev.Config.Metric.Kind, ev.Config.Metric.Better = "wall", "lower"
			if it.agent > 0 {
				ev.Samples = rounds(5, 1, 1/HumanSpeedups[i], 1/it.agent)
				ev.Flags = []string{records.FlagFewRounds}
			}
			if it.eval == records.EvalCorrectnessFailed {
				ev.Reason = "correctness command exited with status 1"
				ev.Commands = []records.CommandLog{{Arm: records.ArmAgent, Phase: "correctness", Command: "go test ./...", ExitCode: 1, Output: "FAIL " + Hostile}}
			}
			if err := journal.WriteEval(itemDir, ev); err != nil {
				return err
			}
		}
	}
	return nil
}

// StateRoot writes the fixture's state root into root: 3 runs × 6 items,
// replay (the human's patch: its speedups; c5 ended in infra_error), noop
// (no patch) and a breaker (patches failing the tests; c6 never rolled
// out); and a run of 3 samples per item in evaluate's item layout
// (ItemLayoutRun).
func StateRoot(root string) error {
	var replay, noop, breaker []item
	for i, h := range HumanSpeedups {
		replay = append(replay, item{records.RolloutSuccess, true, records.EvalSuccess, h * (0.98 + 0.01*float64(i)), 0.10})
		noop = append(noop, item{records.RolloutNoPatch, false, records.EvalSuccess, 1.0, 0})
		breaker = append(breaker, item{records.RolloutSuccess, true, records.EvalCorrectnessFailed, 0, 0.05})
	}
	replay[4] = item{rollout: records.RolloutInfraError, cost: 0.01}
	breaker[5] = item{}
	for _, r := range []struct {
		id, agent string
		items     []item
	}{{"demo-replay", "replay", replay}, {"demo-noop", "noop", noop}, {"demo-breaker", "breaker", breaker}} {
		if err := writeRun(root, r.id, r.agent, r.items); err != nil {
			return err
		}
	}
	return ItemLayoutRun(root)
}

// SampledRun adds to root a run of two samples per item: sample 0
// replays the human patch, sample 1 breaks the tests.
func SampledRun(root string) error {
	var replay, breaker []item
	for _, h := range HumanSpeedups {
		replay = append(replay, item{records.RolloutSuccess, true, records.EvalSuccess, h, 0.10})
		breaker = append(breaker, item{records.RolloutSuccess, true, records.EvalCorrectnessFailed, 0, 0.05})
	}
	return writeSampledRun(root, "demo-sampled", "sampled", [][]item{replay, breaker})
}

// ItemLayoutRun adds to root a run of three samples per item as evaluate
// writes it with K > 1 (the item layout): a journal per sample directory
// and one eval.json per item (journal.EvalDir) whose baseline and human
// were timed once, in the same rounds as the candidates: candidate 0
// reaches 1.02 × the human, candidate 1 breaks the tests (out of the
// rounds), candidate 2 is an empty patch. Item c6 is not evaluated.
func ItemLayoutRun(root string) error {
	const k = 3
	id := "demo-items"
	var replay, breaker, noop []item
	for range HumanSpeedups {
		replay = append(replay, item{rollout: records.RolloutSuccess, patch: true, cost: 0.10})
		breaker = append(breaker, item{rollout: records.RolloutSuccess, patch: true, cost: 0.05})
		noop = append(noop, item{rollout: records.RolloutNoPatch})
	}
	if err := writeSampledRun(root, id, "items", [][]item{replay, breaker, noop}); err != nil {
		return err
	}
	dir := filepath.Join(journal.RunsDir(root), id)
	for i, h := range HumanSpeedups {
		if Items[i] == "c6" {
			continue
		}
		ev := &records.Eval{SchemaVersion: records.EvalSchemaVersion, RunID: id, ItemID: Items[i], Status: records.EvalSuccess,
			Commits: records.Commits{Human: HumanSHA(i), Pre: preSHA(i)}, Config: records.EvalSpec{Workload: "./bench.sh", Rounds: 5}}
		ev.Config.Metric.Kind, ev.Config.Metric.Better = "wall", "lower"
		agent := h * 1.02
		for r := range 6 {
			j := 1 + 0.02*float64((r*7)%5-2)/2
			// K + 2 = 5 arms per round, the positions rotated; the
			// breaker left before the timed rounds.
			ev.Samples = append(ev.Samples,
				records.Sample{Arm: records.ArmBase, Round: r, Position: r % 4, Warmup: r == 0, Value: 1, WallSeconds: 1},
				records.Sample{Arm: records.ArmHuman, Round: r, Position: (r + 1) % 4, Warmup: r == 0, Value: j / h, WallSeconds: j / h},
				records.Sample{Arm: records.ArmAgent, Sample: 0, Round: r, Position: (r + 2) % 4, Warmup: r == 0, Value: 1 / (agent * j), WallSeconds: 1 / (agent * j)},
				records.Sample{Arm: records.ArmAgent, Sample: 2, Round: r, Position: (r + 3) % 4, Warmup: r == 0, Value: j, WallSeconds: j})
		}
		empty := threeWay(h, 1)
		empty.OptBase, empty.OptCommit = false, false
		ev.Candidates = []records.EvalCandidate{
			{Sample: 0, PatchHash: "p0", Status: records.EvalSuccess, Patch: records.EvalPatch{Bytes: 120, Applied: true}, Stats: threeWay(h, agent)},
			{Sample: 1, PatchHash: "p1", Status: records.EvalCorrectnessFailed, Reason: "correctness command exited with status 1", Patch: records.EvalPatch{Bytes: 120, Applied: true}},
			{Sample: 2, PatchHash: "p2", Status: records.EvalSuccess, Flags: []string{records.FlagEmptyPatch}, Patch: records.EvalPatch{Empty: true}, Stats: empty},
		}
		ev.Commands = []records.CommandLog{{Arm: records.ArmAgent, Sample: 1, Phase: "correctness", Command: "go test ./...", ExitCode: 1, Output: "FAIL " + Hostile}}
		if err := journal.WriteEval(journal.EvalDir(dir, Items[i], k), ev); err != nil {
			return err
		}
	}
	return nil
}

// Board is the leaderboard of the state root's runs, as bench compare
// computes it.
func Board(root string) (*compare.Board, error) {
	dirs, bad, err := compare.StateRunDirs(root)
	if err != nil {
		return nil, err
	}
	if len(bad) > 0 {
		return nil, bad[0]
	}
	return compare.Load(dirs, compare.Options{})
}

// Pages are the paths of three pages of a written site.
type Pages struct {
	Index, Run, Item string
	// Sample is the page of sample 0 of item c1 of the item-layout run.
	Sample string
}

// WriteSite writes the fixture's state root into dir/state and its site
// into dir/site, and returns the paths of the index, the replay run's page
// and the page of its item c1 (timed, with a patch and logs).
func WriteSite(dir string) (Pages, error) {
	root := filepath.Join(dir, "state")
	if err := StateRoot(root); err != nil {
		return Pages{}, err
	}
	b, err := Board(root)
	if err != nil {
		return Pages{}, err
	}
	out := filepath.Join(dir, "site")
	b.FillSubjects(Subject)
	if err := site.Write(out, b); err != nil {
		return Pages{}, err
	}
	run := filepath.Join(out, "runs", "demo-replay")
	return Pages{Index: filepath.Join(out, "index.html"), Run: filepath.Join(run, "index.html"), Item: filepath.Join(run, "c1.html"),
		Sample: filepath.Join(out, "runs", "demo-items", "c1.s0.html")}, nil
}

// WriteLargeIndex writes a synthetic state root of runs × items into
// dir/state (every kind of cell: timed with each verdict, failed, missing,
// infra_error; no raw samples, so that loading stays fast) and the site's
// index of it into dir/index.html, whose path it returns: the index at
// scale, for its size and for the browser.
func WriteLargeIndex(dir string, runs, items int) (string, error) {
	root := filepath.Join(dir, "state")
	ids := make([]string, items)
	for i := range ids {
		ids[i] = fmt.Sprintf("large-%04d", i)
	}
	verdicts := []stats.Outcome{stats.Win, stats.Match, stats.Loss, stats.Inconclusive}
	write := func(path string, v any) error {
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		return os.WriteFile(path, data, 0o644)
	}
	for r := range runs {
		id := fmt.Sprintf("large__agent-%02d__anthropic-claude-x__20261125T1841%02dZ", r, r%60)
		dir := filepath.Join(journal.RunsDir(root), id)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return "", err
		}
		run := &records.Run{SchemaVersion: records.SchemaVersion, RunID: id, Task: records.RunTask{ID: "large"},
			Agent: records.RunAgent{Name: fmt.Sprintf("agent-%02d", r), Type: "command", Model: "anthropic/claude-x"},
			Items: ids, Samples: 1, PlanHash: "large"}
		if err := write(filepath.Join(dir, journal.RunFile), run); err != nil {
			return "", err
		}
		for i, item := range ids {
			kind := (i + r) % 10
			if kind == 0 {
				continue // missing
			}
			itemDir := filepath.Join(dir, item)
			if err := os.MkdirAll(itemDir, 0o755); err != nil {
				return "", err
			}
			j := &records.Journal{SchemaVersion: records.SchemaVersion, RunID: id, ItemID: item, Status: records.RolloutSuccess,
				Usage: records.Usage{CostUSD: 0.01 * float64(r+1)}, Patch: &records.PatchInfo{Bytes: 100, Applies: true}}
			if kind == 1 {
				j.Status, j.Patch = records.RolloutInfraError, nil
			}
			if err := write(filepath.Join(itemDir, journal.JournalFile), j); err != nil {
				return "", err
			}
			if kind == 1 {
				continue
			}
			human := 1.2 + float64(i%30)/10
			ev := &records.Eval{SchemaVersion: records.EvalSchemaVersion, RunID: id, ItemID: item, Status: records.EvalSuccess,
				Patch: records.EvalPatch{Bytes: 100, Applied: true}, Commits: records.Commits{Human: fmt.Sprintf("%x", sha1.Sum([]byte(item)))}}
			if kind == 2 {
				ev.Status = records.EvalCorrectnessFailed
				ev.Stats = threeWay(human, 0)
			} else {
				agent := 0.5 + float64((i*7+r)%40)/10
				ev.Stats = threeWay(human, agent)
				ev.Stats.Verdict = stats.Verdict{Outcome: verdicts[i%4]}
			}
			if err := write(filepath.Join(itemDir, journal.EvalFile), ev); err != nil {
				return "", err
			}
		}
	}
	dirs, _, err := compare.StateRunDirs(root)
	if err != nil {
		return "", err
	}
	b, err := compare.Load(dirs, compare.Options{})
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	b.FillSubjects(func(sha string) string { return "perf: make the hot path faster (" + sha[:6] + ")" })
	if err := site.WriteIndex(&buf, b); err != nil {
		return "", err
	}
	index := filepath.Join(dir, "index.html")
	return index, os.WriteFile(index, buf.Bytes(), 0o644)
}
