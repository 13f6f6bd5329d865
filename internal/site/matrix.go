package site

import (
	"fmt"
	"strings"

	"github.com/perfbench/perfbench/internal/compare"
	"github.com/perfbench/perfbench/internal/stats"
)

// The matrix and the threshold curves are compare's (Task.Matrix,
// Row.ThresholdCurve), the numbers the terminal and the JSON show: this
// file only turns a matrix cell into the grid's text, colour and filter.

// Display states of a correct candidate besides its verdict.
const (
	// stateSamples: several samples whose verdicts differ.
	stateSamples = "samples"
	// stateUnjudged: a correct candidate without a verdict (no timing).
	stateUnjudged = "unjudged"
)

// leadingStates come first in the legend and the filter, in this order;
// the other states (why a cell has no speedup) follow by name.
var leadingStates = []string{string(stats.Win), string(stats.Match), string(stats.Loss), string(stats.Inconclusive),
	stateSamples, stateUnjudged, compare.CellNoPatch}

// cellState is what a cell shows and how it is coloured: the verdict of
// a correct candidate, else compare's status (no_patch, missing,
// infra_error, not_evaluated, not_in_plan or the evaluation's failure).
func cellState(c compare.Cell, samples int) string {
	switch {
	case c.Status != compare.CellOK:
		return c.Status
	case c.Verdict != "":
		return c.Verdict
	case samples > 1:
		return stateSamples
	}
	return stateUnjudged
}

// cellView is one matrix cell as shown: the speedup with its CI and the
// verdict, or the state; with samples, how many were correct. page is
// the item's (first sample's) page, "" for none.
func cellView(c compare.Cell, samples int, page string) matrixCellView {
	st := cellState(c, samples)
	v := matrixCellView{Class: "c-" + stateClass(st), Page: page, Text: st}
	if c.Status == compare.CellOK && c.Speedup > 0 {
		v.Text = times(c.Speedup)
		if c.CIValid {
			v.Sub = "[" + num(c.Lo) + ", " + num(c.Hi) + "] "
		}
		if st != stateUnjudged && st != stateSamples {
			v.Sub += st
		}
	}
	if samples > 1 && c.Status != compare.CellNotInPlan {
		if v.Sub != "" {
			v.Sub += ", "
		}
		v.Sub += fmt.Sprintf("%d/%d correct", c.Correct, samples)
	}
	if c.Flagged {
		// The forensic scans flagged it (the terminal matrix's "!").
		v.Text += " !"
		v.Sub = strings.TrimPrefix(v.Sub+", flagged", ", ")
	}
	return v
}
