// Package report builds one model of a run (or of every run under a state
// root) from the files on disk — run.json, the spend ledgers, each item's
// journal.json and, after `bench evaluate`, its eval.json — and renders it
// as a terminal table, JSON, Markdown or one self-contained HTML page with
// charts (html.go). Evaluated runs gain per-item columns (human and agent
// speedups and agent/human with their CIs, verdict) and run-level figures
// (patch and correct rates as `bench compare` defines them, Opt@1,
// win/match/loss/inconclusive counts, pass@k and Opt@K with several
// samples). It never writes into the run directory.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/forensics"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// SchemaVersion of the JSON report.
const SchemaVersion = 2

// UnisolatedNote is what every format says of a run created with
// allow_unisolated: true.
const UnisolatedNote = "allow_unisolated: agents ran on cluster hosts without a container or run_as, where they could read the shared state root and the repository mirror (not leak-proof)"

// Report is one run.
type Report struct {
	SchemaVersion int            `json:"schema_version"`
	RunID         string         `json:"run_id"`
	RunDir        string         `json:"run_dir"`
	Task          string         `json:"task"`
	Agent         string         `json:"agent"`
	AgentType     string         `json:"agent_type"`
	Model         string         `json:"model"`
	Samples       int            `json:"samples"`
	Total         int            `json:"total"`
	Counts        map[string]int `json:"counts"`
	Missing       []string       `json:"missing"`
	TotalCostUSD  float64        `json:"total_cost_usd"`
	// SpentUSD is the run's whole spend, the sum of its processes'
	// ledgers: every attempt, retried ones included, across resumed
	// sessions and processes working on the run at once.
	SpentUSD          float64 `json:"spent_usd"`
	MaxTotalBudgetUSD float64 `json:"max_total_budget_usd,omitempty"`
	// Stopped says why the last prepare stopped early.
	Stopped string `json:"stopped,omitempty"`
	// AllowUnisolated: the run let agents run off one machine without a
	// container or run_as (bench.yaml's allow_unisolated).
	AllowUnisolated bool `json:"allow_unisolated,omitempty"`
	// Counts of what ended the rollouts: the agents' final states
	// (details.final_state, e.g. OpenHands' finished / max_iterations /
	// stuck_in_loop), the limits hit (timeout, max_iterations,
	// max_budget_usd, memory, ...), infra_error classes, out-of-memory
	// kills and usage read only partially (agent stopped mid-stream).
	FinalStates  map[string]int `json:"final_states,omitempty"`
	LimitsHit    map[string]int `json:"limits_hit,omitempty"`
	InfraKinds   map[string]int `json:"infra_kinds,omitempty"`
	OOMKilled    int            `json:"oom_killed,omitempty"`
	PartialUsage int            `json:"partial_usage,omitempty"`
	// LeakAttempts, LeakSuspected and RewardHacks count the items the
	// forensic scans flagged (package forensics); Flagged those with any.
	LeakAttempts  int    `json:"leak_attempts"`
	LeakSuspected int    `json:"leak_suspected"`
	RewardHacks   int    `json:"reward_hacks"`
	Flagged       int    `json:"flagged"`
	Items         []Item `json:"items"`
	// Evaluation summarises the items' eval.json; nil before evaluate.
	Evaluation *EvalSummary `json:"evaluation,omitempty"`
	// SampleItems aggregate each plan item's samples (runs with samples).
	SampleItems []SampleItem `json:"sample_items,omitempty"`
	// Problems are unreadable files met while loading (the report still
	// shows everything else).
	Problems []string `json:"problems,omitempty"`
	// Display are the terminal table's options (not data).
	Display Display `json:"-"`
}

// Display are options of the terminal table.
type Display struct {
	// Long adds the absolute medians, the human speedup's CI, agent/human
	// with its CI, p and n.
	Long bool
	// NoLegend drops the legend line under the table.
	NoLegend bool
}

// Item is one row: one sample of one plan item.
type Item struct {
	ID              string  `json:"id"`
	Sample          int     `json:"sample"`
	Dir             string  `json:"dir"`
	Status          string  `json:"status"`
	Reason          string  `json:"reason,omitempty"`
	DurationSeconds float64 `json:"duration_seconds"`
	LinesAdded      int     `json:"lines_added"`
	LinesRemoved    int     `json:"lines_removed"`
	FilesChanged    int     `json:"files_changed"`
	CostUSD         float64 `json:"cost_usd"`
	InputTokens     int64   `json:"input_tokens"`
	OutputTokens    int64   `json:"output_tokens"`
	Turns           int     `json:"turns"`
	// SecretInPatch names the secrets found (and redacted) in the
	// item's patch.
	SecretInPatch []string `json:"secret_in_patch,omitempty"`
	// Forensics are the leak-attempt and reward-hack flags of its
	// journal and evaluation.
	Forensics records.ForensicFlags `json:"forensics,omitzero"`
	// Localization compares the patch's files and functions with the
	// human's; PromptOverlap is the share of the human diff in task.txt
	// (with a hint on).
	Localization  *records.Localization  `json:"localization,omitempty"`
	PromptOverlap *records.PromptOverlap `json:"prompt_overlap,omitempty"`
	// Eval is the item's evaluation (eval.json); nil when not evaluated.
	Eval *ItemEval `json:"evaluation,omitempty"`
}

// Load reads a run directory.
func Load(runDir string) (*Report, error) {
	run, err := journal.ReadRun(runDir)
	if err != nil {
		if fsx.IsNotExist(err) {
			return nil, badinput.Errorf("%s is not a run directory (no %s)", runDir, journal.RunFile)
		}
		return nil, badinput.Wrap(err)
	}
	samples := run.Samples
	if samples < 1 {
		samples = 1
	}
	r := &Report{
		SchemaVersion: SchemaVersion, RunID: run.RunID, RunDir: runDir,
		Task: run.Task.ID, Agent: run.Agent.Name, AgentType: run.Agent.Type, Model: run.Agent.Model,
		Samples: samples, Counts: map[string]int{}, Missing: []string{}, Items: []Item{},
		MaxTotalBudgetUSD: run.MaxTotalBudgetUSD, Stopped: run.Stopped, AllowUnisolated: run.AllowUnisolated,
	}
	spent, bad := journal.Spent(runDir, run)
	r.SpentUSD = spent
	for _, err := range bad {
		r.Problems = append(r.Problems, err.Error())
	}
	// units are what the run figures count: every unit of the plan.
	units := make([][]records.Unit, len(run.Items))
	for i, id := range run.Items {
		for s := 0; s < samples; s++ {
			name := journal.ItemDirName(id, s, samples)
			r.Total++
			ev, raw, everr := loadEval(filepath.Join(runDir, name))
			if everr != nil {
				r.Problems = append(r.Problems, everr.Error())
			}
			j, err := journal.ReadJournal(filepath.Join(runDir, name))
			units[i] = append(units[i], records.UnitOf(j, raw))
			if err != nil {
				if !fsx.IsNotExist(err) {
					r.Problems = append(r.Problems, err.Error())
				}
				if ev != nil && fsx.IsNotExist(err) {
					// A patch from a predictions file: no rollout.
					it := Item{ID: id, Sample: s, Dir: name, Status: StatusExternal, Eval: ev, Forensics: records.ForensicFlagsOf(nil, raw)}
					r.countForensics(it.Forensics)
					it.LinesAdded, it.LinesRemoved, it.FilesChanged = patchStats(filepath.Join(runDir, name, journal.PatchFile))
					r.Counts[it.Status]++
					r.Items = append(r.Items, it)
					continue
				}
				r.Missing = append(r.Missing, name)
				continue
			}
			it := Item{
				ID: id, Sample: s, Dir: name, Status: string(j.Status), Reason: j.Reason,
				DurationSeconds: j.DurationSeconds, Eval: ev, SecretInPatch: j.SecretInPatch,
				CostUSD: j.Usage.CostUSD, InputTokens: j.Usage.InputTokens, OutputTokens: j.Usage.OutputTokens, Turns: j.Usage.Turns,
				Forensics: records.ForensicFlagsOf(j, raw),
			}
			if j.Forensics != nil {
				it.Localization, it.PromptOverlap = j.Forensics.Localization, j.Forensics.PromptOverlap
			}
			r.countForensics(it.Forensics)
			if j.Patch != nil {
				it.LinesAdded, it.LinesRemoved, it.FilesChanged = j.Patch.Added, j.Patch.Removed, len(j.Patch.Files)
			}
			r.Counts[it.Status]++
			r.TotalCostUSD += it.CostUSD
			r.countEndings(j)
			if !j.Status.Final() {
				r.Missing = append(r.Missing, name)
			}
			r.Items = append(r.Items, it)
		}
	}
	applyCalibration(r, runDir, run)
	r.Evaluation = summarize(r.Items, r.Total, records.RunFigures(units, samples))
	r.SampleItems = sampleItems(r.Items, samples)
	if r.SpentUSD < r.TotalCostUSD {
		r.SpentUSD = r.TotalCostUSD
	}
	return r, nil
}

func inc(m *map[string]int, k string) {
	if *m == nil {
		*m = map[string]int{}
	}
	(*m)[k]++
}

// countForensics counts an item's forensic flags.
func (r *Report) countForensics(f records.ForensicFlags) {
	if len(f.Leaks) > 0 {
		r.LeakAttempts++
	}
	if f.LeakSuspected {
		r.LeakSuspected++
	}
	if len(f.Hacks) > 0 {
		r.RewardHacks++
	}
	if f.Any() {
		r.Flagged++
	}
}

// countEndings adds a journal's final state, limits, infra class, OOM kill
// and partial usage to the run's counts.
func (r *Report) countEndings(j *records.Journal) {
	if s, ok := j.Details["final_state"].(string); ok && s != "" {
		inc(&r.FinalStates, s)
	}
	for _, l := range j.LimitsHit {
		inc(&r.LimitsHit, l)
	}
	if j.InfraKind != "" {
		inc(&r.InfraKinds, j.InfraKind)
	}
	if oom, _ := j.Details["oom_killed"].(bool); oom {
		r.OOMKilled++
	}
	if j.Usage.Partial {
		r.PartialUsage++
	}
}

// countsText is "a 2, b 1" by count, then name.
func countsText(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// spendText is the run's spend, against its cap and, when earlier attempts
// spent too, against the items' last attempts; every rendering says it so.
func spendText(r *Report) string {
	l := textx.USD(r.SpentUSD)
	if r.MaxTotalBudgetUSD > 0 {
		l += " of " + records.LimitMaxTotalBudgetUSD + " " + textx.USDShort(r.MaxTotalBudgetUSD)
	}
	if r.SpentUSD > r.TotalCostUSD+1e-9 {
		l += " (" + textx.USD(r.TotalCostUSD) + " in the items' last attempts; the rest in earlier ones: retried, or cut short by a crash)"
	}
	return l
}

// runLines are the run-level lines about spend and endings shared by the
// table and Markdown renderings.
func runLines(r *Report) []string {
	var out []string
	if r.SpentUSD > 0 || r.MaxTotalBudgetUSD > 0 {
		l := "spend " + spendText(r)
		if r.PartialUsage > 0 {
			l += fmt.Sprintf("; %d item(s) stopped before reporting final usage (partial)", r.PartialUsage)
		}
		out = append(out, l)
	}
	if len(r.FinalStates) > 0 {
		out = append(out, "agent final states: "+countsText(r.FinalStates))
	}
	if len(r.LimitsHit) > 0 {
		l := "limits hit: " + countsText(r.LimitsHit)
		if r.OOMKilled > 0 {
			l += fmt.Sprintf(" (%d out-of-memory kill(s))", r.OOMKilled)
		}
		out = append(out, l)
	}
	if len(r.InfraKinds) > 0 {
		out = append(out, "infra errors: "+countsText(r.InfraKinds))
	}
	if r.Stopped != "" {
		out = append(out, "stopped early: "+r.Stopped)
	}
	if r.AllowUnisolated {
		out = append(out, "isolation: "+UnisolatedNote)
	}
	var leaked []string
	for _, it := range r.Items {
		if len(it.SecretInPatch) > 0 {
			leaked = append(leaked, it.Dir+" ("+strings.Join(it.SecretInPatch, ", ")+")")
		}
	}
	var overlapping []string
	for _, it := range r.Items {
		if o := it.PromptOverlap; o != nil && o.Share > forensics.PromptOverlapWarn {
			overlapping = append(overlapping, fmt.Sprintf("%s (%.0f%%)", it.Dir, 100*o.Share))
		}
	}
	if len(overlapping) > 0 {
		out = append(out, fmt.Sprintf("WARNING: the prompt shows more than %.0f%% of the human diff's added lines (hints on): %s", 100*forensics.PromptOverlapWarn, strings.Join(overlapping, ", ")))
	}
	if r.Flagged > 0 {
		out = append(out, fmt.Sprintf("forensics: %d item(s) flagged: %d with leak attempts (%d leak_suspected), %d with reward-hack flags (flags never change a status; see each item)",
			r.Flagged, r.LeakAttempts, r.LeakSuspected, r.RewardHacks))
	}
	if len(leaked) > 0 {
		out = append(out, fmt.Sprintf("WARNING: %d patch(es) contained secret values, replaced by [REDACTED:NAME] (the code may no longer build), or the patch dropped when a binary file held them: %s", len(leaked), strings.Join(leaked, "; ")))
	}
	return out
}

// StatusExternal is the rollout status of an item whose patch came from a
// predictions file (evaluate --predictions): it has no journal.
const StatusExternal = "external"

// statusOrder lists statuses for display: known ones first, in order.
func statusOrder(counts map[string]int) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range records.RolloutStatuses {
		if counts[string(s)] > 0 {
			out = append(out, string(s))
		}
		seen[string(s)] = true
	}
	var rest []string
	for s := range counts {
		if !seen[s] {
			rest = append(rest, s)
		}
	}
	sort.Strings(rest)
	return append(out, rest...)
}

// CountsLine is "success 3, no_patch 1".
func CountsLine(counts map[string]int) string {
	var parts []string
	for _, s := range statusOrder(counts) {
		parts = append(parts, fmt.Sprintf("%s %d", s, counts[s]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// WriteJSON renders the report as JSON.
func WriteJSON(w io.Writer, r any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable renders the report for a terminal. An evaluated run gets the
// evaluation's run-level lines and, per item, the evaluation status, the
// human and agent speedups over the baseline (the agent's with its 95% CI)
// and the verdict of agent vs human.
func WriteTable(w io.Writer, r *Report) error {
	// Reasons quote commands' output: no control character of theirs
	// reaches the terminal.
	w = textx.ControlFree(w)
	fmt.Fprintf(w, "run %s\n", r.RunID)
	fmt.Fprintf(w, "task %s, agent %s (%s), model %s\n", r.Task, r.Agent, r.AgentType, orDash(r.Model))
	fmt.Fprintf(w, "items %d: %s\n", r.Total, CountsLine(r.Counts))
	for _, l := range runLines(r) {
		fmt.Fprintln(w, l)
	}
	for _, l := range evalLines(r.Evaluation) {
		fmt.Fprintln(w, l)
	}
	fmt.Fprintln(w)
	if r.Samples > 1 {
		return writeSampleTable(w, r)
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	switch {
	case hasEval(r) && r.Display.Long:
		fmt.Fprintln(tw, "ITEM\tSTATUS\tDURATION\tLINES +/-\tFILES\tCOST\tEVAL\tBASE\tHUMAN\tAGENT\tHUMAN/BASE [95% CI]\tAGENT/BASE [95% CI]\tAGENT/HUMAN [95% CI]\tP\tN\tVERDICT\t"+secondaryHead(r)+"REASON")
	case hasEval(r):
		fmt.Fprintln(tw, "ITEM\tSTATUS\tDURATION\tLINES +/-\tFILES\tCOST\tEVAL\tHUMAN [95% CI]\tAGENT [95% CI]\tAGENT/HUMAN [95% CI]\tVERDICT\t"+secondaryHead(r)+"REASON")
	default:
		fmt.Fprintln(tw, "ITEM\tSTATUS\tDURATION\tLINES +/-\tFILES\tCOST\tREASON")
	}
	for _, it := range r.Items {
		writeItemRow(tw, r, it, "", hasEval(r))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if hasEval(r) && !r.Display.NoLegend {
		fmt.Fprintf(w, "\n%s\n", legend(r.Items))
	}
	return writeFooter(w, r)
}

// secondaryHead is the secondary metrics' column header ("" without
// any), tab included.
func secondaryHead(r *Report) string {
	if !hasSecondary(r) {
		return ""
	}
	return "SECONDARY AGENT/BASE [95% CI]\t"
}

// itemReason is the rollout's reason, or the evaluation's when the
// evaluation failed; the evaluation's flags (empty_patch, noisy,
// contended, ...) follow in brackets.
func itemReason(it Item) string {
	rest := evalReason(it)
	if it.Forensics.Noted() {
		// A low-severity rule alone is shown, not flagged.
		flags := "forensics: " + it.Forensics.String()
		if it.Forensics.Any() {
			flags = "FLAGGED: " + it.Forensics.String()
		}
		if it.Eval != nil && it.Eval.Status != string(records.EvalSuccess) {
			// Why the evaluation failed comes first: a failed candidate
			// counts for nothing, flagged or not.
			rest = strings.TrimPrefix(rest+"; "+flags, "; ")
		} else {
			// First on a success, so that truncating the reason never
			// hides them.
			rest = strings.TrimSuffix(flags+"; "+rest, "; ")
		}
	}
	if len(it.SecretInPatch) > 0 {
		w := "WARNING: secrets in patch (" + strings.Join(it.SecretInPatch, ", ") + ")"
		if rest != "" {
			w += "; " + rest
		}
		return w
	}
	return rest
}

func evalReason(it Item) string {
	if it.Eval == nil {
		return it.Reason
	}
	if it.Eval.Status != "success" && it.Eval.Reason != "" {
		return "eval: " + it.Eval.Reason
	}
	if flags := append(calibrationFlag(it.Eval), it.Eval.Flags...); len(flags) > 0 {
		for i, f := range flags {
			if f == records.FlagNoisy && len(it.Eval.NoisyArms) > 0 {
				flags[i] = noisyText(it.Eval.NoisyArms)
			}
			if f == records.FlagSetupGrew {
				flags[i] = fmt.Sprintf("setup_grew: %.1fs → %.1fs", it.Eval.BaseSetupSeconds, it.Eval.SetupSeconds)
			}
		}
		return strings.TrimSpace(it.Reason + " [" + strings.Join(flags, ", ") + "]")
	}
	return it.Reason
}

func writeFooter(w io.Writer, r *Report) error {
	if len(r.Missing) > 0 {
		fmt.Fprintf(w, "\nmissing %d: %s\n", len(r.Missing), strings.Join(r.Missing, ", "))
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	return nil
}

// WriteMarkdown renders the report as a Markdown document.
func WriteMarkdown(w io.Writer, r *Report) error {
	fmt.Fprintf(w, "# Run `%s`\n\n", r.RunID)
	fmt.Fprintf(w, "- task: `%s`\n- agent: `%s` (%s)\n- model: `%s`\n- items: %d (%s)\n", r.Task, r.Agent, r.AgentType, orDash(r.Model), r.Total, CountsLine(r.Counts))
	for _, l := range runLines(r) {
		fmt.Fprintf(w, "- %s\n", mdEscape(l))
	}
	for _, l := range evalLines(r.Evaluation) {
		fmt.Fprintf(w, "- %s\n", l)
	}
	sec := hasSecondary(r)
	switch {
	case hasEval(r) && sec:
		fmt.Fprintf(w, "\n| item | status | duration | lines +/- | files | cost | eval | human [95%% CI] | agent [95%% CI] | verdict | secondary agent/base [95%% CI] | reason |\n|---|---|---:|---:|---:|---:|---|---:|---:|---|---|---|\n")
	case hasEval(r):
		fmt.Fprintf(w, "\n| item | status | duration | lines +/- | files | cost | eval | human [95%% CI] | agent [95%% CI] | verdict | reason |\n|---|---|---:|---:|---:|---:|---|---:|---:|---|---|\n")
	default:
		fmt.Fprintf(w, "\n| item | status | duration | lines +/- | files | cost | reason |\n|---|---|---:|---:|---:|---:|---|\n")
	}
	for _, it := range r.Items {
		fmt.Fprintf(w, "| %s | %s | %.1fs | +%d/-%d | %d | %s |", it.Dir, it.Status, it.DurationSeconds,
			it.LinesAdded, it.LinesRemoved, it.FilesChanged, money(it.CostUSD))
		if hasEval(r) {
			st, human, agent, verdict := evalCells(it.Eval)
			fmt.Fprintf(w, " %s | %s | %s | %s |", st, human, agent, verdict)
			if sec {
				fmt.Fprintf(w, " %s |", mdEscape(secondaryCell(it.Eval)))
			}
		}
		fmt.Fprintf(w, " %s |\n", mdEscape(itemReason(it)))
	}
	if len(r.Missing) > 0 {
		fmt.Fprintf(w, "\nMissing: %s\n", strings.Join(r.Missing, ", "))
	}
	return nil
}

// RunSummary is one line of report-all.
type RunSummary struct {
	RunID        string         `json:"run_id"`
	Task         string         `json:"task"`
	Agent        string         `json:"agent"`
	Model        string         `json:"model"`
	CreatedAt    string         `json:"created_at"`
	Total        int            `json:"total"`
	Counts       map[string]int `json:"counts"`
	Missing      int            `json:"missing"`
	TotalCostUSD float64        `json:"total_cost_usd"`
}

// All summarises every run under a state root, newest first.
type All struct {
	SchemaVersion int          `json:"schema_version"`
	StateRoot     string       `json:"state_root"`
	Runs          []RunSummary `json:"runs"`
	Problems      []string     `json:"problems,omitempty"`
	// Leaderboard is the HTML page's leaderboard of the evaluated runs,
	// rendered by the caller (package site; nil: none).
	Leaderboard *Embed `json:"-"`
	// NoLegend drops the legend line under the table; not part of the data.
	NoLegend bool `json:"-"`
}

// allLegend is the line under report-all's table.
const allLegend = "legend: ITEMS = units of the plan (items × samples); STATUS = rollouts by final status; MISSING = units without a rollout record; COST = the rollouts' recorded spend"

// LoadAll reads every run under stateRoot.
func LoadAll(stateRoot string) (*All, error) {
	runs, bad, err := journal.ListRuns(stateRoot)
	if err != nil {
		return nil, err
	}
	a := &All{SchemaVersion: SchemaVersion, StateRoot: stateRoot, Runs: []RunSummary{}}
	for _, e := range bad {
		a.Problems = append(a.Problems, e.Error())
	}
	for _, run := range runs {
		r, err := Load(filepath.Join(journal.RunsDir(stateRoot), run.RunID))
		if err != nil {
			a.Problems = append(a.Problems, err.Error())
			continue
		}
		a.Runs = append(a.Runs, RunSummary{
			RunID: r.RunID, Task: r.Task, Agent: r.Agent, Model: r.Model,
			CreatedAt: run.CreatedAt.UTC().Format("2006-01-02 15:04:05Z"),
			Total:     r.Total, Counts: r.Counts, Missing: len(r.Missing), TotalCostUSD: r.TotalCostUSD,
		})
	}
	return a, nil
}

// WriteAllTable renders report-all for a terminal.
func WriteAllTable(w io.Writer, a *All) error {
	w = textx.ControlFree(w)
	if len(a.Runs) == 0 {
		fmt.Fprintf(w, "no runs under %s\n", a.StateRoot)
	} else {
		tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
		fmt.Fprintln(tw, "RUN\tTASK\tAGENT\tMODEL\tITEMS\tSTATUS\tMISSING\tCOST")
		for _, r := range a.Runs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%d\t%s\n", r.RunID, r.Task, r.Agent, orDash(r.Model), r.Total, CountsLine(r.Counts), r.Missing, money(r.TotalCostUSD))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		if !a.NoLegend {
			fmt.Fprintln(w, allLegend)
		}
	}
	for _, p := range a.Problems {
		fmt.Fprintf(w, "problem: %s\n", p)
	}
	return nil
}

// WriteAllMarkdown renders report-all as a Markdown document.
func WriteAllMarkdown(w io.Writer, a *All) error {
	fmt.Fprintf(w, "# Runs under %s\n\n", mdEscape(a.StateRoot))
	if len(a.Runs) == 0 {
		fmt.Fprintln(w, "No runs.")
	} else {
		fmt.Fprintf(w, "| run | task | agent | model | created | items | status | missing | cost |\n|---|---|---|---|---|---:|---|---:|---:|\n")
		for _, r := range a.Runs {
			fmt.Fprintf(w, "| %s | %s | %s | %s | %s | %d | %s | %d | %s |\n", mdEscape(r.RunID), mdEscape(r.Task), mdEscape(r.Agent),
				mdEscape(orDash(r.Model)), r.CreatedAt, r.Total, mdEscape(CountsLine(r.Counts)), r.Missing, money(r.TotalCostUSD))
		}
	}
	for i, p := range a.Problems {
		if i == 0 {
			fmt.Fprintln(w)
		}
		fmt.Fprintf(w, "- problem: %s\n", mdEscape(p))
	}
	return nil
}

func money(v float64) string {
	if v == 0 {
		return "-"
	}
	return textx.USD(v)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// truncate fits s, on one line, in a table cell of n bytes; a cut one
// keeps n-1 and the marker.
func truncate(s string, n int) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) <= n {
		return s
	}
	return textx.Truncate(s, n-1)
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}

// ReadRunDir checks that dir exists; used for clear errors.
func ReadRunDir(dir string) error {
	if _, err := os.Stat(dir); err != nil {
		return badinput.Wrap(fmt.Errorf("report: %w", err))
	}
	return nil
}

// noisyText is "noisy: human CV 14%, agent CV 12%".
func noisyText(arms []NoisyArm) string {
	parts := make([]string, len(arms))
	for i, a := range arms {
		parts[i] = fmt.Sprintf("%s CV %.0f%%", a.Arm, 100*a.CV)
	}
	return records.FlagNoisy + ": " + strings.Join(parts, ", ")
}

// writeItemRow is one item's (or sample's, indented) line of the table.
func writeItemRow(tw io.Writer, r *Report, it Item, indent string, eval bool) {
	fmt.Fprintf(tw, "%s%s\t%s\t%.1fs\t+%d/-%d\t%d\t%s\t", indent, it.Dir, it.Status, it.DurationSeconds,
		it.LinesAdded, it.LinesRemoved, it.FilesChanged, money(it.CostUSD))
	if eval {
		st, human, agent, verdict := evalCells(it.Eval)
		if r.Display.Long {
			l := longCells(it.Eval)
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t", st, l[0], l[1], l[2], l[3], agent, l[4], l[5], l[6], verdict)
		} else {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t", st, human, agent, agentOverHuman(it.Eval), verdict)
		}
		if hasSecondary(r) {
			fmt.Fprintf(tw, "%s\t", secondaryCell(it.Eval))
		}
	}
	fmt.Fprintf(tw, "%s\n", truncate(itemReason(it), 60))
}
