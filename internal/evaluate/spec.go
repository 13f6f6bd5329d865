package evaluate

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/plan"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/stats"
)

// Defaults of the evaluation section (the loader leaves them unset).
const (
	DefaultRounds  = 20
	DefaultWarmup  = 2
	DefaultTimeout = 10 * time.Minute
	DefaultBand    = 0.05
	DefaultAlpha   = 0.05
)

// Spec is the effective evaluation of one item, as eval.json records it,
// with what evaluate needs besides: the evaluation files' absolute paths
// and the hash.
type Spec struct {
	records.EvalSpec
	// FilesAbs are the absolute paths of Files (resolved against the
	// task's directory).
	FilesAbs []string `json:"-"`

	hash string // Hash(), computed once
}

// ResolveSpec merges the task's evaluation section with the item's
// override and applies the defaults. Every problem is bad input naming the
// item and the field.
func ResolveSpec(task *config.Task, it plan.Item) (*Spec, error) {
	e := task.Evaluation
	if o := it.Evaluation; o != nil {
		if len(o.Setup) > 0 {
			e.Setup = o.Setup
		}
		if o.Workload != "" {
			e.Workload = o.Workload
		}
		if o.Metric != nil {
			e.Metric = o.Metric
		}
		if len(o.Correctness) > 0 {
			e.Correctness = o.Correctness
		}
		if o.Equivalence != nil {
			e.Equivalence = o.Equivalence
		}
		if len(o.Files) > 0 {
			e.Files = o.Files
		}
		if o.Rounds > 0 {
			e.Rounds = o.Rounds
		}
		if o.Warmup != nil {
			e.Warmup = o.Warmup
		}
		if o.Timeout > 0 {
			e.Timeout = o.Timeout
		}
		if o.Band > 0 {
			e.Band = o.Band
		}
		if o.Alpha > 0 {
			e.Alpha = o.Alpha
		}
		if o.SecondaryMetricsSet {
			e.SecondaryMetrics, e.SecondaryMetricsSet = o.SecondaryMetrics, true
		}
		if o.Recheck != nil {
			e.Recheck = o.Recheck
		}
		if len(o.RejectFlags) > 0 {
			e.RejectFlags = o.RejectFlags
		}
	}
	s := &Spec{EvalSpec: records.EvalSpec{
		Setup: e.Setup, Workload: e.Workload, Correctness: e.Correctness,
		Equivalence: (*records.Equivalence)(e.Equivalence), Files: e.Files,
		Rounds: e.Rounds, Timeout: e.Timeout, Band: e.Band, Alpha: e.Alpha,
		Image: task.Environment.Image, RejectFlags: e.RejectFlags,
	}}
	if s.Workload == "" {
		s.Workload = it.Workload
	}
	if s.Workload == "" {
		s.Workload = task.Workload
	}
	if strings.TrimSpace(s.Workload) == "" {
		return nil, badinput.Errorf("item %s: no workload to time: set evaluation.workload or workload in %s (or the pair's workload)", it.ID, task.Path)
	}
	if e.Metric != nil {
		s.Metric = records.Metric(*e.Metric)
	}
	if s.Metric.Kind == "" {
		s.Metric.Kind = "wall"
	}
	if s.Metric.Better == "" {
		s.Metric.Better = "lower"
	}
	if s.Metric.Unit == "" {
		switch s.Metric.Kind {
		case records.MetricWall, records.MetricCPU:
			s.Metric.Unit = "s"
		case records.MetricInstructions:
			s.Metric.Unit = "instructions"
		}
	}
	secondary, err := secondaryMetrics(s.Metric.Kind, e.SecondaryMetrics, e.SecondaryMetricsSet)
	if err != nil {
		where := ""
		if p := e.SecondaryMetricsPos.String(); p != "" {
			where = p + ": "
		}
		return nil, badinput.Errorf("%sitem %s: evaluation.secondary_metrics: %v", where, it.ID, err)
	}
	s.SecondaryMetrics = secondary
	if s.Metric.Kind == "regex" {
		if _, err := regexp.Compile(s.Metric.Regex); err != nil {
			return nil, badinput.Errorf("item %s: evaluation.metric.regex: %v", it.ID, err)
		}
	}
	if s.Rounds <= 0 {
		s.Rounds = DefaultRounds
	}
	s.Warmup = DefaultWarmup
	if e.Warmup != nil {
		s.Warmup = *e.Warmup
	}
	if s.Timeout <= 0 {
		s.Timeout = records.Duration(DefaultTimeout)
	}
	if s.Band <= 0 {
		s.Band = DefaultBand
	}
	if s.Alpha <= 0 {
		s.Alpha = DefaultAlpha
	}
	// On by default when there is something to recheck.
	s.Recheck = len(s.Correctness) > 0 && (e.Recheck == nil || *e.Recheck)
	for _, f := range s.Files {
		p := f
		if !filepath.IsAbs(p) {
			p = filepath.Join(task.Dir, f)
		}
		if _, err := os.Stat(p); err != nil {
			return nil, badinput.Errorf("item %s: evaluation.files: %s (relative to %s): %v", it.ID, f, task.Dir, unwrapPathErr(err))
		}
		s.FilesAbs = append(s.FilesAbs, p)
	}
	return s, nil
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}

// Options returns the statistics options of the spec.
func (s *Spec) Options() stats.Options {
	o := stats.DefaultOptions()
	o.Band, o.Alpha = s.Band, s.Alpha
	if s.Metric.Better == "higher" {
		o.Better = stats.HigherIsBetter
	}
	return o
}

// Hash identifies what the measurement depends on: commands, metric,
// equivalence, rounds, warm-up, timeout, image and the content of the
// evaluation files. Band and alpha are left out: they only change the
// statistics, which --regrade recomputes.
func (s *Spec) Hash() (string, error) {
	h := sha256.New()
	m := *s
	m.Band, m.Alpha = 0, 0
	// Wall and CPU time come from the metric's own runs: only
	// instructions, which needs runs of its own, changes the measurement.
	m.SecondaryMetrics = nil
	if slices.Contains(s.SecondaryMetrics, records.MetricInstructions) {
		m.SecondaryMetrics = []string{records.MetricInstructions}
	}
	data, err := json.Marshal(m)
	if err != nil {
		return "", err
	}
	h.Write(data)
	for _, f := range s.FilesAbs {
		if err := hashTree(h, f); err != nil {
			return "", fmt.Errorf("evaluation file %s: %w", f, err)
		}
	}
	return hex.EncodeToString(h.Sum(nil)[:8]), nil
}

// hashTree feeds the names, modes and contents under root into h.
func hashTree(h io.Writer, root string) error {
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		info, err := d.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%o\x00", rel, info.Mode())
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			io.WriteString(h, l)
		case d.Type().IsRegular():
			f, err := os.Open(p)
			if err != nil {
				return err
			}
			_, err = io.Copy(h, f)
			f.Close()
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// fileTarget is where an evaluation file lands in a workspace: its path
// relative to the task's directory when it is inside it, else its base
// name at the top of the workspace.
func fileTarget(taskDir, written, abs string) string {
	if !filepath.IsAbs(written) {
		rel := filepath.Clean(written)
		if rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return rel
		}
	}
	if rel, err := filepath.Rel(taskDir, abs); err == nil && !strings.HasPrefix(rel, "..") && rel != "." {
		return rel
	}
	return filepath.Base(abs)
}

// secondaryMetrics are the secondary metrics of an item with the given
// metric: the list as set (the task's, or the pair's override), or by
// default CPU time beside wall time and wall time beside CPU time (the
// same runs give both). The list is checked again once merged: the
// task's list may name the pair's metric.
func secondaryMetrics(metric string, list []string, set bool) ([]string, error) {
	if !set {
		switch metric {
		case records.MetricWall:
			return []string{records.MetricCPU}, nil
		case records.MetricCPU:
			return []string{records.MetricWall}, nil
		}
		return nil, nil
	}
	for _, k := range list {
		switch {
		case k == metric:
			return nil, fmt.Errorf("%s is the metric", k)
		case metric == records.MetricInstructions:
			return nil, fmt.Errorf("%s cannot be recorded beside metric instructions (its runs are under the instruction counter)", k)
		}
	}
	return slices.Clone(list), nil
}
