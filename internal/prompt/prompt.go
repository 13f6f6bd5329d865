// Package prompt renders what the agent is told: task.txt (structured
// markdown) and prompt.json (the same content as data). Material derived
// from the human commit enters only through Reference, which the caller
// fills only when the task opts in through hints.
package prompt

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
)

// SchemaVersion of prompt.json.
const SchemaVersion = 1

// DefaultTechniques is shown unless the task sets optimization_techniques.
var DefaultTechniques = []string{
	"Profile first: measure where the workload spends its time before changing code.",
	"Choose better algorithms and data structures (avoid quadratic loops, repeated scans, needless sorting).",
	"Avoid repeated work: hoist invariants out of loops, cache or memoize results, precompute.",
	"Reduce allocations and copies; reuse buffers; prefer streaming over materialising.",
	"Batch small operations (I/O, system calls, queries) and avoid per-item overhead.",
	"Use vectorised or built-in primitives of the language instead of interpreted loops.",
	"Remove unnecessary synchronisation, logging or validation on hot paths.",
	"Keep the change minimal and focused on the hot path.",
}

// Reference is material derived from the human commit; each field is shown
// only when its hint is enabled.
type Reference struct {
	CommitMessage string
	Diffstat      string
	Diff          string
	// TargetFiles are the files the human commit changed.
	TargetFiles []string
}

// Input is everything a task file is rendered from. Nothing in it may carry
// the human or pre commit's hash.
type Input struct {
	Task   *config.Task
	ItemID string
	// Workspace is the path of the repository as the agent sees it.
	Workspace string
	Workload  string
	// TargetFiles are the item's contract targets (task or pair).
	TargetFiles []string
	// Hints says which Reference fields to show (already intersected with
	// the global switch).
	Hints     config.Hints
	Reference Reference
	// Headless adds the rule for agents running without a human.
	Headless bool
}

// Section is one titled part of the task file.
type Section struct {
	ID    string   `json:"id"`
	Title string   `json:"title"`
	Body  string   `json:"body,omitempty"`
	Items []string `json:"items,omitempty"`
	// Code is shown as a fenced block after the body.
	Code     string `json:"code,omitempty"`
	CodeLang string `json:"code_lang,omitempty"`
}

// Prompt is prompt.json and the data of a prompt_template.
type Prompt struct {
	SchemaVersion int       `json:"schema_version"`
	TaskID        string    `json:"task_id"`
	ItemID        string    `json:"item_id"`
	Title         string    `json:"title"`
	Workspace     string    `json:"workspace"`
	Workload      string    `json:"workload,omitempty"`
	TargetFiles   []string  `json:"target_files,omitempty"`
	StrictTargets bool      `json:"strict_targets"`
	Constraints   []string  `json:"constraints,omitempty"`
	Techniques    []string  `json:"optimization_techniques"`
	HintsShown    HintsUsed `json:"hints_shown"`
	Sections      []Section `json:"sections"`
	// Reference holds the hint material that was shown (empty otherwise).
	Reference *ReferenceShown `json:"reference,omitempty"`
}

// HintsUsed says which hint material was actually shown.
type HintsUsed struct {
	CommitMessage bool `json:"commit_message"`
	Diffstat      bool `json:"diffstat"`
	Diff          bool `json:"diff"`
	TargetFiles   bool `json:"target_files"`
}

// ReferenceShown is the hint material in prompt.json.
type ReferenceShown struct {
	CommitMessage string   `json:"commit_message,omitempty"`
	Diffstat      string   `json:"diffstat,omitempty"`
	Diff          string   `json:"diff,omitempty"`
	TargetFiles   []string `json:"target_files,omitempty"`
}

// Section returns the section with the given id, for templates.
func (p *Prompt) Section(id string) *Section {
	for i := range p.Sections {
		if p.Sections[i].ID == id {
			return &p.Sections[i]
		}
	}
	return nil
}

// Build assembles the prompt's sections.
func Build(in Input) *Prompt {
	t := in.Task
	p := &Prompt{
		SchemaVersion: SchemaVersion,
		TaskID:        t.ID,
		ItemID:        in.ItemID,
		Title:         t.Name,
		Workspace:     in.Workspace,
		Workload:      strings.TrimSpace(in.Workload),
		StrictTargets: t.OptimizationContract.StrictTargets,
		Constraints:   t.OptimizationContract.Constraints,
		Techniques:    t.OptimizationTechniques,
	}
	if len(p.Techniques) == 0 {
		p.Techniques = DefaultTechniques
	}
	targets := append([]string(nil), in.TargetFiles...)
	ref := &ReferenceShown{}
	if in.Hints.TargetFiles && len(in.Reference.TargetFiles) > 0 {
		targets = appendUnique(targets, in.Reference.TargetFiles...)
		ref.TargetFiles = in.Reference.TargetFiles
		p.HintsShown.TargetFiles = true
	}
	p.TargetFiles = targets

	objective := "Make the workload below run faster in the repository in your workspace, without changing its observable behaviour."
	if d := strings.TrimSpace(t.Description); d != "" {
		objective += "\n\n" + d
	}
	p.Sections = append(p.Sections, Section{ID: "objective", Title: "Objective", Body: objective})

	p.Sections = append(p.Sections, Section{ID: "workspace", Title: "Workspace", Body: fmt.Sprintf(
		"The repository is checked out at `%s` (your current directory). It is a git repository with a single commit: "+
			"your changes are captured as a diff of the working tree against that commit, so you do not need to commit. "+
			"Use `.bench_scratch/` for notes, profiles and temporary files: it is excluded from the diff.", in.Workspace)})

	wl := Section{ID: "workload", Title: "Workload"}
	if p.Workload != "" {
		wl.Body = "This command's runtime is what you must improve. Run it from the repository root to measure before and after your change."
		wl.Code, wl.CodeLang = p.Workload, "sh"
	} else {
		wl.Body = "No workload command is given: find the performance-critical code path described in the objective and write your own measurement in `.bench_scratch/`."
	}
	p.Sections = append(p.Sections, wl)

	instructions := []string{
		"Explore the repository and understand how the workload exercises it.",
		"Measure the workload before changing anything, and keep the measurement for comparison.",
		"Find the bottleneck and implement the optimization in the repository's source code.",
		"Verify that behaviour is unchanged: run the existing tests relevant to your change.",
		"Measure again and keep only changes that make the workload faster.",
	}
	if in.Headless {
		instructions = append(instructions, "You are running non-interactively: do not ask for user input or confirmation; work until the task is done, then finish.")
	}
	instructions = append(instructions, t.Instructions...)
	p.Sections = append(p.Sections, Section{ID: "instructions", Title: "Instructions", Items: instructions})

	p.Sections = append(p.Sections, Section{ID: "techniques", Title: "Optimization techniques", Body: "Techniques that often help:", Items: p.Techniques})

	constraints := []string{
		"Preserve the public API and the workload's output.",
		"Do not modify, skip or weaken tests or benchmarks to make them pass or run faster.",
		"Do not special-case the workload's inputs.",
		"Do not download the project's history or look for the upstream solution.",
	}
	constraints = append(constraints, t.OptimizationContract.Constraints...)
	p.Sections = append(p.Sections, Section{ID: "constraints", Title: "Constraints", Items: constraints})

	tf := Section{ID: "target_files", Title: "Target files"}
	switch {
	case len(targets) == 0:
		tf.Body = "No restriction: change whichever files the optimization needs."
	case p.StrictTargets:
		tf.Body = "Change only these files (paths relative to the repository root); a change to any other file makes the attempt invalid:"
		tf.Items = targets
	default:
		tf.Body = "The optimization most likely belongs in these files (paths relative to the repository root):"
		tf.Items = targets
	}
	p.Sections = append(p.Sections, tf)

	rs := Section{ID: "reference", Title: "Reference information"}
	var parts []string
	if in.Hints.CommitMessage && in.Reference.CommitMessage != "" {
		parts = append(parts, "Description of the known optimization:\n\n"+indentQuote(in.Reference.CommitMessage))
		ref.CommitMessage = in.Reference.CommitMessage
		p.HintsShown.CommitMessage = true
	}
	if in.Hints.Diffstat && in.Reference.Diffstat != "" {
		parts = append(parts, "Files changed by the known optimization:\n\n```\n"+strings.TrimRight(in.Reference.Diffstat, "\n")+"\n```")
		ref.Diffstat = in.Reference.Diffstat
		p.HintsShown.Diffstat = true
	}
	if in.Hints.Diff && in.Reference.Diff != "" {
		parts = append(parts, "Diff of the known optimization:\n\n```diff\n"+strings.TrimRight(in.Reference.Diff, "\n")+"\n```")
		ref.Diff = in.Reference.Diff
		p.HintsShown.Diff = true
	}
	if len(parts) == 0 {
		rs.Body = "None: find the optimization yourself."
	} else {
		rs.Body = strings.Join(parts, "\n\n")
	}
	if p.HintsShown != (HintsUsed{}) {
		p.Reference = ref
	}
	p.Sections = append(p.Sections, rs)

	success := []string{
		"The workload runs measurably faster than before your change (it is timed repeatedly against the original).",
		"Its output and the project's tests are unchanged.",
		"Your diff applies cleanly to the original commit.",
	}
	if p.StrictTargets && len(targets) > 0 {
		success = append(success, "Only the target files are changed.")
	}
	p.Sections = append(p.Sections, Section{ID: "success_criteria", Title: "Success criteria", Items: success})

	p.Sections = append(p.Sections, Section{ID: "final_steps", Title: "Final steps", Items: []string{
		"Run the workload and the relevant tests one last time.",
		"Remove build artifacts and temporary files outside `.bench_scratch/` that are not part of the optimization.",
		"Leave your changes in the working tree (committing is optional) and stop.",
	}})
	return p
}

func appendUnique(list []string, more ...string) []string {
	seen := map[string]bool{}
	for _, s := range list {
		seen[s] = true
	}
	for _, s := range more {
		if !seen[s] {
			seen[s] = true
			list = append(list, s)
		}
	}
	return list
}

func indentQuote(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = strings.TrimRight("> "+l, " ")
	}
	return strings.Join(lines, "\n")
}

// Markdown renders the default layout.
func Markdown(p *Prompt) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Task: %s\n", p.Title)
	for _, s := range p.Sections {
		fmt.Fprintf(&b, "\n## %s\n\n", s.Title)
		if s.Body != "" {
			b.WriteString(s.Body)
			b.WriteString("\n")
		}
		if len(s.Items) > 0 {
			if s.Body != "" {
				b.WriteString("\n")
			}
			for _, it := range s.Items {
				fmt.Fprintf(&b, "- %s\n", it)
			}
		}
		if s.Code != "" {
			fmt.Fprintf(&b, "\n```%s\n%s\n```\n", s.CodeLang, strings.TrimRight(s.Code, "\n"))
		}
	}
	return b.String()
}

// Render produces task.txt: the default layout, or the task's
// prompt_template (a Go text/template whose data is the Prompt).
func Render(p *Prompt, task *config.Task) (string, error) {
	if task.PromptTemplate == "" {
		return Markdown(p), nil
	}
	path := task.PromptTemplate
	if !filepath.IsAbs(path) {
		path = filepath.Join(task.Dir, path)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return "", badinput.Wrap(fmt.Errorf("%s: prompt_template: %w", task.Path, err))
	}
	tmpl, err := template.New(filepath.Base(path)).Option("missingkey=error").Funcs(template.FuncMap{
		"markdown": func() string { return Markdown(p) },
		"join":     strings.Join,
	}).Parse(string(src))
	if err != nil {
		return "", badinput.Wrap(fmt.Errorf("prompt_template %w", err))
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, p); err != nil {
		return "", badinput.Wrap(fmt.Errorf("prompt_template %w", err))
	}
	return buf.String(), nil
}
