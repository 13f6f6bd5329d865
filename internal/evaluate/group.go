package evaluate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
)

// group is what one evaluation times together: the units of one plan
// item. Without samples it is one unit, whose eval.json has the
// one-candidate layout; with samples (Unit.Samples > 1) it is every
// prepared sample of the item, its candidates timed in the same rounds as
// one baseline and one human, and its eval.json has the item layout, in
// the item's sample-0 directory.
type group struct {
	// units index Options.Units, in sample order.
	units []int
	// name is the unit's name, or the item's id in the item layout.
	name string
	// dir holds the group's eval.json.
	dir string
	// itemLayout is set with samples.
	itemLayout bool
	spec       *Spec
}

// groupUnits groups the units by plan item, in the order of their first
// unit.
func groupUnits(units []Unit, specs []*Spec) []*group {
	var out []*group
	byItem := map[string]*group{}
	for i, u := range units {
		if u.Samples <= 1 {
			out = append(out, &group{units: []int{i}, name: u.Name, dir: u.Dir, spec: specs[i]})
			continue
		}
		g := byItem[u.Item.ID]
		if g == nil {
			g = &group{name: u.Item.ID, dir: journal.EvalDir(filepath.Dir(u.Dir), u.Item.ID, u.Samples), itemLayout: true, spec: specs[i]}
			byItem[u.Item.ID] = g
			out = append(out, g)
		}
		g.units = append(g.units, i)
	}
	return out
}

// stored is the group's final evaluation on disk when it matches what
// would be evaluated now (the plan item, every candidate's patch and the
// configuration), as per-sample views in the group's unit order; nil when
// the group must be evaluated. An item of a run with samples evaluated in
// the per-sample layout (every sample its own eval.json, an older
// harness's) matches too when every sample's does.
func (e *evaluator) stored(g *group) []*records.Eval {
	us := e.o.Units
	if g.spec == nil {
		return nil
	}
	if !g.itemLayout {
		r, err := journal.ReadEval(g.dir)
		if err != nil || r.Candidates != nil || !e.matches(r, us[g.units[0]], g.spec) {
			return nil
		}
		return []*records.Eval{r}
	}
	views := make([]*records.Eval, 0, len(g.units))
	if r, err := journal.ReadEval(g.dir); err == nil && r.Candidates != nil {
		u0 := us[g.units[0]]
		if r.PlanItemHash != u0.Item.Hash() || r.ConfigHash != g.spec.hash || !r.Status.Done() || len(r.Candidates) != len(g.units) {
			return nil
		}
		for _, i := range g.units {
			c := r.Candidate(us[i].Sample)
			if c == nil || c.PatchHash != PatchHash(us[i].Patch) {
				return nil
			}
			views = append(views, r.SampleView(us[i].Sample))
		}
		return views
	}
	for _, i := range g.units {
		r, err := journal.ReadEval(us[i].Dir)
		// A file in a sample's own directory is that sample's, as
		// journal.ReadSampleEval reads it.
		if err != nil || r.Candidates != nil || !e.matches(r, us[i], g.spec) {
			return nil
		}
		views = append(views, r)
	}
	return views
}

// claimGroup claims the directories of a group's units (and its eval.json's)
// before any work in them. ok is false when the group is not this
// process's to do: another holds one of them (said on the log and recorded
// in the summary), or err says why it cannot be claimed.
func (e *evaluator) claimGroup(g *group) (release func(), ok bool, err error) {
	dirs := []string{}
	for _, i := range g.units {
		dirs = append(dirs, e.o.Units[i].Dir)
	}
	if g.itemLayout && e.o.Units[g.units[0]].Dir != g.dir {
		// Sample 0 is not prepared: its directory still holds the file.
		if err := os.MkdirAll(g.dir, 0o755); err != nil {
			return nil, false, fmt.Errorf("item %s: %w", g.name, err)
		}
		dirs = append(dirs, g.dir)
	}
	var claims []*journal.Claim
	release = func() {
		for _, c := range claims {
			c.Release()
		}
	}
	for _, dir := range dirs {
		c, err := journal.ClaimItem(dir, "evaluate", e.o.Now())
		var held *journal.HeldError
		if errors.As(err, &held) {
			release()
			e.mu.Lock()
			if e.held == nil {
				e.held = map[string]bool{}
			}
			for _, i := range g.units {
				e.held[e.o.Units[i].Name] = true
			}
			e.summary.Held = append(e.summary.Held, g.name+": held by "+held.Holder.Who())
			e.mu.Unlock()
			fmt.Fprintf(e.o.Log, "%s: skipped: held by %s\n", g.name, held.Holder)
			return nil, false, nil
		}
		if err != nil {
			release()
			return nil, false, fmt.Errorf("item %s: %w", g.name, err)
		}
		claims = append(claims, c)
	}
	return release, true, nil
}

// count adds the statuses of a group's views to the summary (mu held).
func (e *evaluator) count(views []*records.Eval) {
	for _, v := range views {
		e.summary.Counts[v.Status]++
	}
}

// dropSuperseded removes the per-sample eval.json files an older
// evaluation left in the samples' directories once the item layout's file
// is written: two files must not say two things of one sample.
func (e *evaluator) dropSuperseded(g *group) {
	if !g.itemLayout {
		return
	}
	for _, i := range g.units {
		u := e.o.Units[i]
		if u.Dir == g.dir {
			continue
		}
		if err := os.Remove(filepath.Join(u.Dir, journal.EvalFile)); err != nil && !os.IsNotExist(err) {
			fmt.Fprintf(e.o.Log, "warning: %s: %v\n", u.Name, err)
		}
	}
}
