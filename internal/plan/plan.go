// Package plan owns the list of work items of a task: it parses commits
// files, turns a task's commit pairs into items (human commit, its "pre"
// parent), resolves them against the repository, and reads and writes
// plan.json.
package plan

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/fsx"
)

// SchemaVersion of plan.json.
const SchemaVersion = 1

// Plan is plan.json.
type Plan struct {
	SchemaVersion int       `json:"schema_version"`
	TaskID        string    `json:"task_id"`
	TaskPath      string    `json:"task_path,omitempty"`
	RepoURL       string    `json:"repo_url"`
	Source        string    `json:"source"`
	CreatedAt     time.Time `json:"created_at"`
	// Hash identifies the items (not the creation time): runs resume only
	// against the same plan hash.
	Hash  string `json:"plan_hash"`
	Items []Item `json:"items"`
	// Resolved is false for a dry-run plan whose commits were not looked
	// up in the repository.
	Resolved bool `json:"resolved"`
}

// Item is one commit pair to prepare and evaluate.
type Item struct {
	ID             string             `json:"id"`
	Human          string             `json:"human"`
	Pre            string             `json:"pre"`
	PreParentIndex int                `json:"pre_parent_index,omitempty"`
	Workload       string             `json:"workload,omitempty"`
	TargetFiles    []string           `json:"target_files,omitempty"`
	Evaluation     *config.Evaluation `json:"evaluation,omitempty"`
}

// Hash identifies an item's content: a result counts as done only when it
// was produced for an item with the same hash.
func (it Item) Hash() string {
	data, _ := json.Marshal(it)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// Resolver finds commits in the task's repository (a workspace.Mirror).
type Resolver interface {
	Resolve(ctx context.Context, rev string) (string, error)
	Parent(ctx context.Context, sha string, n int) (string, error)
}

// Entry is one unresolved commit pair, from a commits file, repo.pairs or
// repo.human_commit.
type Entry struct {
	Human          string
	Pre            string
	PreParentIndex int
	Workload       string
	TargetFiles    []string
	Evaluation     *config.Evaluation
	// Where names the origin for error messages ("commits.txt:3").
	Where string
}

// Entries returns the task's own commit pairs: repo.pairs, else
// repo.human_commit. An empty result is bad input.
func Entries(task *config.Task) ([]Entry, string, error) {
	if len(task.Repo.Pairs) > 0 {
		out := make([]Entry, 0, len(task.Repo.Pairs))
		for i, p := range task.Repo.Pairs {
			out = append(out, Entry{
				Human: p.Human, Pre: p.Pre, PreParentIndex: p.PreParentIndex,
				Workload: p.Workload, TargetFiles: p.TargetFiles, Evaluation: p.Evaluation,
				Where: fmt.Sprintf("%s: repo.pairs[%d]", task.Path, i),
			})
		}
		return out, "repo.pairs", nil
	}
	if task.Repo.HumanCommit != "" {
		return []Entry{{
			Human: task.Repo.HumanCommit, Pre: task.Repo.PreCommit,
			PreParentIndex: task.Repo.PreParentIndex,
			Where:          task.Path + ": repo.human_commit",
		}}, "repo.human_commit", nil
	}
	return nil, "", badinput.Errorf("task %s: no commits to plan: pass --commits FILE, or set repo.pairs or repo.human_commit", task.Path)
}

// EntriesFrom gathers the entries of a commits file (when commits is
// given, merged with the task's repo.pairs fields), else the task's own.
func EntriesFrom(task *config.Task, commits string) ([]Entry, string, error) {
	if commits != "" {
		entries, err := ReadCommitsFile(commits)
		if err != nil {
			return nil, "", err
		}
		MergePairFields(entries, task)
		return entries, commits, nil
	}
	return Entries(task)
}

// MergePairFields fills entries from a commits file with the workload,
// target files and evaluation of the task's repo.pairs entry for the same
// human commit, so a commits file can list pairs the task describes.
func MergePairFields(entries []Entry, task *config.Task) {
	for i := range entries {
		for _, p := range task.Repo.Pairs {
			if sameCommit(p.Human, entries[i].Human) {
				if entries[i].Workload == "" {
					entries[i].Workload = p.Workload
				}
				if len(entries[i].TargetFiles) == 0 {
					entries[i].TargetFiles = p.TargetFiles
				}
				if entries[i].Evaluation == nil {
					entries[i].Evaluation = p.Evaluation
				}
			}
		}
	}
}

func sameCommit(a, b string) bool {
	if len(a) > len(b) {
		a, b = b, a
	}
	return len(a) >= 7 && b[:len(a)] == a
}

// Build resolves entries into a plan: each human commit and its pre (the
// given sha, else its N-th parent, default 1) must exist in the repository.
func Build(ctx context.Context, task *config.Task, source string, entries []Entry, r Resolver, now time.Time) (*Plan, error) {
	if len(entries) == 0 {
		return nil, badinput.Errorf("%s: no commits to plan", source)
	}
	p := newPlan(task, source, now)
	p.Resolved = true
	for i, e := range entries {
		human, err := r.Resolve(ctx, e.Human)
		if err != nil {
			return nil, fmt.Errorf("%s: human commit: %w", e.Where, err)
		}
		var pre string
		idx := e.PreParentIndex
		if e.Pre != "" {
			idx = 0
			if pre, err = r.Resolve(ctx, e.Pre); err != nil {
				return nil, fmt.Errorf("%s: pre commit: %w", e.Where, err)
			}
		} else {
			if idx == 0 {
				idx = 1
			}
			if pre, err = r.Parent(ctx, human, idx); err != nil {
				return nil, fmt.Errorf("%s: %w", e.Where, err)
			}
		}
		p.Items = append(p.Items, item(task, i, e, human, pre, idx))
	}
	p.Hash = hashItems(p.Items)
	return p, nil
}

// Unresolved builds a plan without looking anything up (for --dry-run):
// commits stay as written and pre may be empty, meaning "parent N".
func Unresolved(task *config.Task, source string, entries []Entry, now time.Time) *Plan {
	p := newPlan(task, source, now)
	for i, e := range entries {
		idx := e.PreParentIndex
		if e.Pre == "" && idx == 0 {
			idx = 1
		}
		if e.Pre != "" {
			idx = 0
		}
		p.Items = append(p.Items, item(task, i, e, e.Human, e.Pre, idx))
	}
	p.Hash = hashItems(p.Items)
	return p
}

func newPlan(task *config.Task, source string, now time.Time) *Plan {
	return &Plan{
		SchemaVersion: SchemaVersion,
		TaskID:        task.ID,
		TaskPath:      task.Path,
		RepoURL:       task.Repo.URL,
		Source:        source,
		CreatedAt:     now.UTC().Truncate(time.Second),
	}
}

func item(task *config.Task, i int, e Entry, human, pre string, idx int) Item {
	workload := e.Workload
	if workload == "" {
		workload = task.Workload
	}
	return Item{
		ID:             ItemID(task.ID, i),
		Human:          human,
		Pre:            pre,
		PreParentIndex: idx,
		Workload:       workload,
		TargetFiles:    e.TargetFiles,
		Evaluation:     e.Evaluation,
	}
}

// ItemID is "<task>-NNNN".
func ItemID(taskID string, i int) string { return fmt.Sprintf("%s-%04d", taskID, i) }

func hashItems(items []Item) string {
	data, _ := json.Marshal(items)
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

// Write stores the plan atomically: a failure leaves any previous file.
func Write(path string, p *Plan) error { return fsx.WriteJSON(path, p) }

// Read loads plan.json and checks its schema.
func Read(path string) (*Plan, error) {
	var p Plan
	if err := fsx.ReadJSON(path, &p); err != nil {
		return nil, badinput.Wrap(fmt.Errorf("plan %s: %w", path, err))
	}
	if p.SchemaVersion != SchemaVersion {
		return nil, badinput.Errorf("plan %s: schema_version %d, expected %d", path, p.SchemaVersion, SchemaVersion)
	}
	if len(p.Items) == 0 {
		return nil, badinput.Errorf("plan %s: no items", path)
	}
	seen := map[string]bool{}
	for i, it := range p.Items {
		if it.ID == "" || it.Human == "" {
			return nil, badinput.Errorf("plan %s: items[%d]: id and human are required", path, i)
		}
		if !validID.MatchString(it.ID) {
			return nil, badinput.Errorf("plan %s: items[%d]: id %q is not a valid file name", path, i, it.ID)
		}
		if seen[it.ID] {
			return nil, badinput.Errorf("plan %s: items[%d]: duplicate id %q", path, i, it.ID)
		}
		seen[it.ID] = true
	}
	if err := config.CheckRepoURL(p.RepoURL); err != nil {
		return nil, badinput.Errorf("plan %s: repo_url: %v", path, err)
	}
	if p.Resolved {
		if err := checkCommits(path, &p); err != nil {
			return nil, err
		}
	}
	if p.Hash == "" || p.Hash != hashItems(p.Items) {
		// A hand-edited plan is fine; its hash is recomputed so resume
		// matches its content.
		p.Hash = hashItems(p.Items)
	}
	return &p, nil
}

var validID = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// ReadResolved is Read for prepare and evaluate, which hand the commits to
// git: every item must name its human and pre commits by full sha, as plan
// writes them, so that no hand-edited value ("--output=x", "sha:path",
// "$(...)") reaches git as an option or a revision expression.
func ReadResolved(path string) (*Plan, error) {
	p, err := Read(path)
	if err != nil {
		return nil, err
	}
	if err := checkCommits(path, p); err != nil {
		return nil, err
	}
	return p, nil
}

// fullSHA is a commit as git prints it: SHA-1 or SHA-256, lower case.
var fullSHA = regexp.MustCompile(`^(?:[0-9a-f]{40}|[0-9a-f]{64})$`)

// IsSHA reports whether s is a full commit sha (40 or 64 lowercase hex
// digits).
func IsSHA(s string) bool { return fullSHA.MatchString(s) }

func checkCommits(path string, p *Plan) error {
	for i, it := range p.Items {
		for _, f := range []struct{ name, value string }{{"human", it.Human}, {"pre", it.Pre}} {
			if IsSHA(f.value) {
				continue
			}
			hint := ""
			if !p.Resolved {
				hint = " (the plan is not resolved: write it with bench plan)"
			}
			v := f.value
			if len(v) > 80 {
				v = v[:80] + "..."
			}
			return badinput.Errorf("plan %s: items[%d] (%s): %s: expected a commit sha (40 or 64 lowercase hex digits), got %q%s", path, i, it.ID, f.name, v, hint)
		}
	}
	return nil
}

// ItemIDs are the ids of the plan's items, in its order.
func (p *Plan) ItemIDs() []string {
	ids := make([]string, len(p.Items))
	for i, it := range p.Items {
		ids[i] = it.ID
	}
	return ids
}
