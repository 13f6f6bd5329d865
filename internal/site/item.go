package site

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"math"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/report"
	"github.com/perfbench/perfbench/internal/stats"
	"github.com/perfbench/perfbench/internal/textx"
)

// Bounds of what an item page shows of files an agent wrote or steered:
// a huge file must not make a huge page.
const (
	maxTaskBytes  = 64 << 10
	maxPatchBytes = 256 << 10
	maxPatchLines = 4000
	maxLogBytes   = 16 << 10
)

// excerpt is a bounded part of a file: its text and, when cut, a note.
type excerpt struct {
	Text    string
	Note    string
	Missing bool
}

// readHead is the first max bytes of path (no link followed, no FIFO
// opened), cut at a line end where it can.
func readHead(path string, limit int64) excerpt {
	f, err := fsx.OpenNoFollow(path)
	if err != nil {
		return excerpt{Missing: true, Note: noteOf(err)}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return excerpt{Missing: true, Note: err.Error()}
	}
	data, err := io.ReadAll(io.LimitReader(f, limit))
	if err != nil {
		return excerpt{Missing: true, Note: err.Error()}
	}
	e := excerpt{}
	if fi.Size() > int64(len(data)) {
		if i := bytes.LastIndexByte(data, '\n'); i > 0 {
			data = data[:i+1]
		}
		e.Note = fmt.Sprintf("truncated: the first %d of %d bytes", len(data), fi.Size())
	}
	e.Text = strings.ToValidUTF8(string(data), "\uFFFD")
	return e
}

// readTail is the last max bytes of path, from a line start where it can.
func readTail(path string, limit int64) excerpt {
	f, err := fsx.OpenNoFollow(path)
	if err != nil {
		return excerpt{Missing: true, Note: noteOf(err)}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return excerpt{Missing: true, Note: err.Error()}
	}
	start := max(fi.Size()-limit, 0)
	data, err := io.ReadAll(io.NewSectionReader(f, start, limit))
	if err != nil {
		return excerpt{Missing: true, Note: err.Error()}
	}
	e := excerpt{}
	if start > 0 {
		if i := bytes.IndexByte(data, '\n'); i >= 0 && i < len(data)-1 {
			data = data[i+1:]
		}
		e.Note = fmt.Sprintf("the last %d of %d bytes", len(data), fi.Size())
	}
	// Drop a rune cut by the section's start.
	for len(data) > 0 && !utf8.RuneStart(data[0]) {
		data = data[1:]
	}
	e.Text = strings.ToValidUTF8(string(data), "\uFFFD")
	return e
}

func noteOf(err error) string {
	if fsx.IsNotExist(err) {
		return "no such file"
	}
	return err.Error()
}

// diffLine is one line of a patch with its class: file headers, hunk
// headers, added and removed lines, context.
type diffLine struct{ Class, Text string }

func diffLines(patch string) (lines []diffLine, cut int) {
	all := strings.Split(strings.TrimSuffix(patch, "\n"), "\n")
	if len(all) > maxPatchLines {
		cut = len(all) - maxPatchLines
		all = all[:maxPatchLines]
	}
	for _, l := range all {
		class := ""
		switch {
		case strings.HasPrefix(l, "diff "), strings.HasPrefix(l, "index "), strings.HasPrefix(l, "+++ "), strings.HasPrefix(l, "--- "),
			strings.HasPrefix(l, "new file"), strings.HasPrefix(l, "deleted file"), strings.HasPrefix(l, "similarity"), strings.HasPrefix(l, "rename "):
			class = "dm"
		case strings.HasPrefix(l, "@@"):
			class = "dh"
		case strings.HasPrefix(l, "+"):
			class = "da"
		case strings.HasPrefix(l, "-"):
			class = "dd"
		}
		lines = append(lines, diffLine{class, l})
	}
	return lines, cut
}

type itemView struct {
	Title, RunID, RunPage, Item, Dir string
	Sample, Samples                  int
	Siblings                         []sibling
	Human, Pre, Subject              string
	CSS                              template.CSS
	Facts                            []kv
	Flags                            []kv
	Stats                            []statRow
	Speedups                         []speedRow
	Strip                            *chart
	StripNote                        string
	Usage                            []kv
	Limits                           []kv
	Retries                          []string
	Task                             excerpt
	Patch                            []diffLine
	PatchNote                        string
	PatchMissing                     bool
	Logs                             []logView
	Commands                         []kv
	Problems                         []string
}

type sibling struct {
	Label, Page string
	Current     bool
}

type kv struct{ K, V string }

type statRow struct{ Arm, N, Median, CI, Mean, CV, MinMax string }

type speedRow struct{ Name, Ratio, CI, P, N, Significant string }

type logView struct {
	Name string
	excerpt
}

func writeItemPage(buf *bytes.Buffer, s *siteData, r *siteRun, it *siteItem, u *siteUnit) error {
	v := itemView{
		Title: "perfbench " + u.dir + " of " + r.row.RunID, RunID: r.row.RunID, RunPage: "index.html",
		Item: it.id, Dir: u.dir, Sample: u.sample, Samples: r.samples, Human: it.human, Pre: it.pre,
		CSS: report.Stylesheet() + "\n" + siteCSS(), Problems: u.problems,
	}
	v.Subject = it.subject
	if len(it.units) > 1 {
		for _, o := range it.units {
			v.Siblings = append(v.Siblings, sibling{Label: fmt.Sprintf("sample %d", o.sample), Page: path.Base(o.page), Current: o == u})
		}
	}
	v.Facts = unitFacts(r, it, u)
	if j := u.j; j != nil {
		v.Usage, v.Limits, v.Retries = usageFacts(j)
	}
	if ev := u.ev; ev != nil {
		v.Flags = flagFacts(ev)
		if st := ev.Stats; st != nil {
			v.Stats, v.Speedups = statRows(ev, st)
		}
		v.Strip, v.StripNote = stripPlot(ev)
		for _, c := range ev.Commands {
			if !c.OK {
				v.Commands = append(v.Commands, kv{fmt.Sprintf("%s %s: %s (exit %d)", c.Arm, c.Phase, c.Command, c.ExitCode), c.Output})
			}
		}
	}
	v.Task = readHead(filepath.Join(u.path, journal.TaskFile), maxTaskBytes)
	patch := readHead(filepath.Join(u.path, journal.PatchFile), maxPatchBytes)
	v.PatchMissing = patch.Missing
	v.PatchNote = patch.Note
	if !patch.Missing {
		var cut int
		v.Patch, cut = diffLines(patch.Text)
		if cut > 0 {
			v.PatchNote = strings.TrimPrefix(v.PatchNote+fmt.Sprintf("; %d more lines not shown", cut), "; ")
		}
	}
	v.Logs = logViews(u)
	return siteTemplates.ExecuteTemplate(buf, "item.html", v)
}

func unitFacts(r *siteRun, it *siteItem, u *siteUnit) []kv {
	f := []kv{{"run", r.row.RunID}, {"agent", r.row.Agent + " · " + orDash(r.row.Model)}, {"item", it.id}}
	if r.samples > 1 {
		f = append(f, kv{"sample", fmt.Sprintf("%d of %d", u.sample, r.samples)})
	}
	outcome := cellState(it.cell, r.samples)
	if r.samples > 1 {
		outcome = fmt.Sprintf("%s over the %d samples (%d correct)", outcome, r.samples, it.cell.Correct)
	}
	f = append(f, kv{"outcome", outcome})
	if c := it.calibration; c != "" {
		// As report and compare flag it: a verdict on an item whose human
		// speedup does not reproduce says little.
		text := string(c)
		switch c {
		case stats.ClassStable:
		case records.CalibrationStale:
			text += " — calibrated with another band or alpha than this evaluation's: its class is not used until bench calibrate re-analyses the stored samples"
		default:
			text += " — not stable (bench calibrate): the human speedup cannot be measured reproducibly here, so the verdict says little"
		}
		f = append(f, kv{"calibration", text})
	}
	if j := u.j; j != nil {
		l := string(j.Status)
		if j.Reason != "" {
			l += ": " + j.Reason
		}
		f = append(f, kv{"rollout", l}, kv{"duration", fmt.Sprintf("%.1fs", j.DurationSeconds)})
		if p := j.Patch; p != nil {
			f = append(f, kv{"patch", fmt.Sprintf("%d bytes, +%d/-%d lines, %d file(s), applies %v", p.Bytes, p.Added, p.Removed, len(p.Files), p.Applies)})
		}
		if len(j.SecretInPatch) > 0 {
			f = append(f, kv{"WARNING", "secrets found in the patch and replaced by [REDACTED:NAME]: " + strings.Join(j.SecretInPatch, ", ")})
		}
	} else {
		f = append(f, kv{"rollout", "no journal.json"})
	}
	if ev := u.ev; ev != nil {
		l := string(ev.Status)
		if ev.Reason != "" {
			l += ": " + ev.Reason
		}
		f = append(f, kv{"evaluation", l})
		if ev.Patch.ApplyError != "" {
			f = append(f, kv{"apply error", ev.Patch.ApplyError})
		}
		if st := ev.Stats; st != nil {
			verdict := "none: the agent's candidate was not timed"
			if st.Verdict.Outcome != "" {
				verdict = stats.VerdictText(st.Verdict.Outcome, st.Verdict.Significant, st.Verdict.Label)
			}
			f = append(f, kv{"verdict (agent vs human)", verdict},
				kv{"GSO flags", optFlagsText(ev)})
		}
	} else {
		f = append(f, kv{"evaluation", "no eval.json"})
	}
	for _, p := range r.row.PerItem {
		if p.ID == it.id {
			src := "bootstrap of the timed rounds"
			if !p.FromRounds {
				src = "the flags (too few rounds to resample)"
			}
			f = append(f, kv{"P(opt_base), P(opt_commit)", fmt.Sprintf("%.2f, %.2f (the item's samples, from %s)", p.POptBase, p.POptCommit, src)})
		}
	}
	return f
}

func usageFacts(j *records.Journal) (usage, limits []kv, retries []string) {
	u := j.Usage
	usage = []kv{{"cost", textx.USD(u.CostUSD)}, {"tokens in / out", fmt.Sprintf("%d / %d", u.InputTokens, u.OutputTokens)},
		{"cache read / write", fmt.Sprintf("%d / %d", u.CacheReadTokens, u.CacheWriteTokens)}, {"turns", fmt.Sprintf("%d", u.Turns)}}
	if u.Partial {
		usage = append(usage, kv{"partial", "the agent stopped before reporting its final usage"})
	}
	if j.Attempts > 0 {
		usage = append(usage, kv{"attempts", fmt.Sprintf("%d", j.Attempts)})
	}
	hit := "none"
	if len(j.LimitsHit) > 0 {
		hit = strings.Join(j.LimitsHit, ", ")
	}
	limits = []kv{{"limits hit", hit}}
	l := j.Limits
	if l.Timeout > 0 {
		limits = append(limits, kv{records.LimitTimeout, l.Timeout.String()})
	}
	if l.MaxIterations > 0 {
		limits = append(limits, kv{records.LimitMaxIterations, fmt.Sprintf("%d", l.MaxIterations)})
	}
	if l.MaxBudgetUSD > 0 {
		limits = append(limits, kv{records.LimitMaxBudgetUSD, textx.USDShort(l.MaxBudgetUSD)})
	}
	if j.InfraKind != "" {
		limits = append(limits, kv{"infra kind", j.InfraKind})
	}
	for _, r := range j.Retries {
		retries = append(retries, fmt.Sprintf("%s (cost %s, waited %.0fs)", r.Reason, textx.USD(r.CostUSD), r.DelaySeconds))
	}
	return usage, limits, retries
}

// flagMeaning explains each evaluation flag.
var flagMeaning = map[string]string{
	records.FlagEmptyPatch:         "the patch was empty: the agent arm is the baseline",
	records.FlagThreeWay:           "the patch applied only with git apply --3way",
	records.FlagNotPinned:          "some timed run was not pinned to a CPU: timings may be noisier",
	records.FlagNoisy:              "an arm's coefficient of variation is above the threshold (10%): see CV below",
	records.FlagFewRounds:          fmt.Sprintf("fewer than %d timed rounds: the rank test has little power, and below 4 per arm it cannot reach p ≤ 0.05", records.FewRounds),
	records.FlagContended:          "the workload waited for its CPU during a large share of the timed wall time: other tasks ran there",
	records.FlagMetricsDisagree:    "the metric and a secondary metric (wall vs CPU time, or instructions) disagree: one finds the candidate significantly faster, the other significantly slower; or the metric finds a significant gain beyond the band and the other (wall vs CPU time) a gain smaller by more than the band or none, their confidence intervals apart (a gain by parallelism or by waiting less, or work the metric does not see)",
	records.FlagWritesDuringTiming: "the agent's timed runs created or changed files (workspace, HOME, TMPDIR) that the baseline's did not: a cache across runs (eval.json protocol.timing_writes)",
	records.FlagWarmCache:          "the agent's first run was slower than its timed median by more than twice the baseline's factor (floored at 1), and by more than twice the baseline's excess in time: a first run that pays for what later runs reuse",
	records.FlagWatchTruncated:     "a watched directory's listing (workspace, HOME, TMPDIR, the host's /tmp, /var/tmp, /dev/shm) stopped at its 20,000-entry cap: writes beyond it were not seen (eval.json protocol.watched)",
	records.FlagSetupGrew:          "the agent's setup took more than twice the baseline's and at least 1 s longer: work moved into setup (eval.json protocol.setup_seconds)",
}

func flagFacts(ev *records.Eval) []kv {
	var out []kv
	for _, f := range ev.Flags {
		m, ok := flagMeaning[f]
		if !ok {
			m = "(no explanation known)"
		}
		out = append(out, kv{f, m})
	}
	return out
}

func statRows(ev *records.Eval, st *stats.ThreeWay) ([]statRow, []speedRow) {
	unit := metricUnit(ev)
	var rows []statRow
	for _, a := range []struct {
		name string
		s    stats.ArmSummary
	}{{"base", st.Base}, {"human", st.Human}, {"agent", st.Agent}} {
		if a.s.N == 0 {
			rows = append(rows, statRow{Arm: a.name, N: "0", Median: "not timed", CI: "-", Mean: "-", CV: "-", MinMax: "-"})
			continue
		}
		r := statRow{Arm: a.name, N: fmt.Sprintf("%d", a.s.N), Median: num(a.s.Median) + unit, Mean: num(a.s.Mean) + unit,
			MinMax: num(a.s.Min) + " – " + num(a.s.Max), CI: "-", CV: "-"}
		if a.s.CIValid {
			r.CI = fmt.Sprintf("[%s, %s] (%.0f%%)", num(a.s.Lo), num(a.s.Hi), 100*a.s.CILevel)
		}
		if a.s.CVValid {
			r.CV = fmt.Sprintf("%.1f%%", 100*a.s.CV)
			if a.s.Noisy {
				r.CV += " noisy"
			}
		}
		rows = append(rows, r)
	}
	var sp []speedRow
	for _, s := range []struct {
		name string
		s    stats.Speedup
	}{{"human / base", st.HumanOverBase}, {"agent / base", st.AgentOverBase}, {"agent / human", st.AgentOverHuman}} {
		if !s.s.Valid {
			sp = append(sp, speedRow{Name: s.name, Ratio: "not measured", CI: "-", P: "-", N: "-", Significant: "-"})
			continue
		}
		r := speedRow{Name: s.name, Ratio: times(s.s.Ratio), CI: "-", P: num(s.s.P), N: fmt.Sprintf("%d vs %d", s.s.NBase, s.s.NCand), Significant: fmt.Sprintf("%v", s.s.Significant)}
		if s.s.CIValid {
			r.CI = "[" + num(s.s.Lo) + ", " + num(s.s.Hi) + "]"
			if s.s.Method != "" {
				r.CI += " " + s.s.Method
			}
		}
		sp = append(sp, r)
	}
	return rows, sp
}

func metricUnit(ev *records.Eval) string {
	if ev.Config.Metric.Kind == "wall" || ev.Config.Metric.Kind == "" {
		return " s"
	}
	if ev.Config.Metric.Unit != "" {
		return " " + ev.Config.Metric.Unit
	}
	return ""
}

// stripPlot: per arm, every timed sample as a dot, the median as a bar and
// its CI as a band; warm-ups are left out (and counted in the note).
func stripPlot(ev *records.Eval) (*chart, string) {
	arms := records.Arms
	vals := map[records.Arm][]float64{}
	warm := 0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ev.Samples {
		if s.Warmup {
			warm++
			continue
		}
		if math.IsNaN(s.Value) || math.IsInf(s.Value, 0) {
			continue
		}
		vals[s.Arm] = append(vals[s.Arm], s.Value)
		lo, hi = math.Min(lo, s.Value), math.Max(hi, s.Value)
	}
	if len(vals) == 0 {
		return nil, "no timed samples"
	}
	if hi <= lo {
		lo, hi = lo*0.9, hi*1.1+1e-9
	}
	pad := (hi - lo) * 0.05
	lo, hi = lo-pad, hi+pad
	const w, rowH, x0, top = 560.0, 46.0, 70.0, 8.0
	xOf := func(v float64) float64 { return x0 + w*(v-lo)/(hi-lo) }
	h := top + rowH*float64(len(arms)) + 36
	c := &chart{ID: "strip", Label: "Raw timed samples per arm with the median and its confidence interval", W: f1(x0 + w + 20), H: f1(h)}
	ticks := niceTicks(lo, hi, 6)
	bottom := top + rowH*float64(len(arms))
	for _, t := range ticks {
		if t < lo || t > hi {
			continue
		}
		c.Els = append(c.Els, line(xOf(t), top, xOf(t), bottom, "grid"), text(xOf(t), bottom+14, "middle", "tick", num(t)))
	}
	c.Els = append(c.Els, line(x0, bottom, x0+w, bottom, "axis"),
		text(x0+w/2, bottom+30, "middle", "axis-label", strings.TrimSpace("metric"+metricUnit(ev))+" ("+ev.Config.Metric.Better+" is better)"))
	var sum map[records.Arm]stats.ArmSummary
	if st := ev.Stats; st != nil {
		sum = map[records.Arm]stats.ArmSummary{records.ArmBase: st.Base, records.ArmHuman: st.Human, records.ArmAgent: st.Agent}
	}
	for i, a := range arms {
		y := top + rowH*float64(i) + rowH/2
		c.Els = append(c.Els, text(x0-8, y+4, "end", "", string(a)))
		if s, ok := sum[a]; ok && s.CIValid {
			c.Els = append(c.Els, rect(xOf(s.Lo), y-12, xOf(s.Hi)-xOf(s.Lo), 24, "ciband", fmt.Sprintf("%s median CI [%s, %s]", a, num(s.Lo), num(s.Hi))))
		}
		vs := slices.Clone(vals[a])
		for j, v := range vs {
			// A fixed jitter, so the same file draws the same plot.
			dy := float64((j*7)%9-4) * 2
			c.Els = append(c.Els, circle(xOf(v), y+dy, 2.6, "dot arm-"+string(a), fmt.Sprintf("%s %s", a, num(v))))
		}
		if s, ok := sum[a]; ok && s.N > 0 {
			c.Els = append(c.Els, line(xOf(s.Median), y-14, xOf(s.Median), y+14, "median"))
		}
	}
	note := fmt.Sprintf("%d timed samples", len(vals[records.ArmBase])+len(vals[records.ArmHuman])+len(vals[records.ArmAgent]))
	if warm > 0 {
		note += fmt.Sprintf(", %d warm-up runs not shown", warm)
	}
	return c, note
}

func logViews(u *siteUnit) []logView {
	var out []logView
	add := func(name string, lf *records.LogFile) {
		file := name
		if lf != nil && lf.File != "" {
			file = filepath.Base(lf.File)
		}
		e := readTail(filepath.Join(u.path, file), maxLogBytes)
		if lf != nil && lf.Truncated {
			e.Note = strings.TrimPrefix(e.Note+fmt.Sprintf("; the harness kept %d of %d bytes", lf.Kept, lf.Bytes), "; ")
		}
		out = append(out, logView{Name: file, excerpt: e})
	}
	if u.j != nil && (u.j.Logs.Stdout != nil || u.j.Logs.Stderr != nil) {
		if u.j.Logs.Stdout != nil {
			add("stdout", u.j.Logs.Stdout)
		}
		if u.j.Logs.Stderr != nil {
			add("stderr", u.j.Logs.Stderr)
		}
		return out
	}
	// Without the journal's record, the files prepare names
	// <type>_stdout.txt and <type>_stderr.txt.
	for _, suffix := range []string{"_stdout.txt", "_stderr.txt"} {
		matches, _ := filepath.Glob(filepath.Join(u.path, "*"+suffix))
		for _, m := range matches {
			out = append(out, logView{Name: filepath.Base(m), excerpt: readTail(m, maxLogBytes)})
		}
	}
	return out
}

// writeProblemPage is a page saying a run could not be read.
func writeProblemPage(buf *bytes.Buffer, title, problem string) error {
	return siteTemplates.ExecuteTemplate(buf, "problem.html", struct {
		Title, Problem string
		CSS            template.CSS
	}{title, problem, report.Stylesheet() + "\n" + siteCSS()})
}

// optFlagsText is the GSO flags as the figures count them
// (records.Eval.CountsOpt): a candidate that is not correct has none,
// whatever an older eval.json says.
func optFlagsText(ev *records.Eval) string {
	ob, oc := ev.CountsOpt()
	s := fmt.Sprintf("opt_base %v, opt_commit %v", ob, oc)
	if !ev.Correct() {
		s += " (not a correct candidate: an empty or failed patch counts for neither)"
	}
	return s
}
