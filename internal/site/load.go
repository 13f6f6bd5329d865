package site

import (
	"path"
	"path/filepath"
	"strconv"

	"github.com/perfbench/perfbench/internal/compare"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// siteData is everything the pages show: the board, and per run its
// items' records.
type siteData struct {
	board *compare.Board
	tasks []*siteTask
	runs  []*siteRun
}

type siteTask struct {
	task *compare.Task
	runs []*siteRun // aligned with task.Rows and task.Matrix.Runs
}

type siteRun struct {
	row     *compare.Row
	task    string
	slug    string // directory under runs/
	page    string // runs/<slug>/index.html
	samples int
	items   []*siteItem
	// unitByDir finds a unit by its item directory's name, itemByID an
	// item by its id.
	unitByDir map[string]*siteUnit
	itemByID  map[string]*siteItem
	problems  []string
}

// siteItem is one plan item of a run.
type siteItem struct {
	id         string
	human, pre string // from the run's plan.json, else the evaluation's
	units      []*siteUnit
	// cell is the item's cell of compare's matrix, subject its human
	// commit's subject there.
	cell    compare.Cell
	subject string
	// calibration is the item's class in calibration.json (`bench
	// calibrate`), "" when not calibrated.
	calibration stats.Class
}

// page is the item's page: its first sample's.
func (it *siteItem) page() string {
	if it == nil || len(it.units) == 0 {
		return ""
	}
	return it.units[0].page
}

// siteUnit is one sample of an item: its directory and records.
type siteUnit struct {
	dir    string // the item directory's name
	path   string // the item directory
	page   string // runs/<slug>/<file>.html
	sample int
	j      *records.Journal
	ev     *records.Eval
	// problems are the records that could not be read.
	problems []string
}

// planFile is what the site reads of a run's own plan.json (the plan
// package is a stage: its types are not a reader's).
type planFile struct {
	Items []struct {
		ID    string `json:"id"`
		Human string `json:"human"`
		Pre   string `json:"pre"`
	} `json:"items"`
}

// runPlanFile is the run's copy of its plan (prepare writes it).
const runPlanFile = "plan.json"

func load(b *compare.Board) *siteData {
	s := &siteData{board: b}
	used := map[string]bool{}
	for ti := range b.Tasks {
		t := &siteTask{task: &b.Tasks[ti]}
		for ri := range t.task.Rows {
			r := loadRun(&t.task.Rows[ri], t.task.ID, len(s.runs), used)
			t.runs = append(t.runs, r)
			s.runs = append(s.runs, r)
		}
		t.attachMatrix()
		s.tasks = append(s.tasks, t)
	}
	return s
}

func loadRun(row *compare.Row, task string, n int, used map[string]bool) *siteRun {
	slug := fileName(row.RunID, "run-", n+1)
	for used[slug] {
		n++
		slug = "run-" + strconv.Itoa(n+1)
	}
	used[slug] = true
	r := &siteRun{row: row, task: task, slug: slug, page: path.Join("runs", slug, "index.html"),
		samples: max(row.Samples, 1), unitByDir: map[string]*siteUnit{}, itemByID: map[string]*siteItem{}}
	humans := map[string][2]string{}
	var pf planFile
	if err := fsx.ReadJSON(filepath.Join(row.RunDir, runPlanFile), &pf); err == nil {
		for _, it := range pf.Items {
			humans[it.ID] = [2]string{it.Human, it.Pre}
		}
	} else if !fsx.IsNotExist(err) {
		r.problems = append(r.problems, err.Error())
	}
	run, err := journal.ReadRun(row.RunDir)
	if err != nil {
		r.problems = append(r.problems, err.Error())
		return r
	}
	files := map[string]bool{"index": true}
	for i, id := range run.Items {
		it := &siteItem{id: id, human: humans[id][0], pre: humans[id][1]}
		for k := range r.samples {
			dir := journal.ItemDirName(id, k, r.samples)
			file := fileName(dir, "item-", i*r.samples+k)
			for files[file] {
				file += "_"
			}
			files[file] = true
			u := &siteUnit{dir: dir, path: filepath.Join(row.RunDir, dir), page: path.Join("runs", slug, file+".html"), sample: k}
			readUnit(u)
			if it.human == "" && u.ev != nil {
				it.human, it.pre = u.ev.Commits.Human, u.ev.Commits.Pre
			}
			it.units = append(it.units, u)
			r.unitByDir[dir] = u
		}
		r.items = append(r.items, it)
		r.itemByID[id] = it
	}
	return r
}

// attachMatrix gives each run's items their cells and subjects from the
// task's matrix, whose columns are the task's rows.
func (t *siteTask) attachMatrix() {
	m := t.task.Matrix
	if m == nil {
		return
	}
	for i := range m.Items {
		mi := &m.Items[i]
		for col, c := range mi.Cells {
			if col >= len(t.runs) {
				break
			}
			if it := t.runs[col].itemByID[mi.ID]; it != nil {
				it.cell, it.subject = c, mi.Subject
				if rc := t.runs[col].row.Calibration; rc != nil {
					it.calibration = rc.Classes[mi.ID]
				}
			}
		}
	}
}

func readUnit(u *siteUnit) {
	j, err := journal.ReadJournal(u.path)
	if err != nil && !fsx.IsNotExist(err) {
		u.problems = append(u.problems, err.Error())
	}
	u.j = j
	ev, err := journal.ReadSampleEval(u.path)
	if err != nil && !fsx.IsNotExist(err) {
		u.problems = append(u.problems, err.Error())
	}
	u.ev = ev
}
