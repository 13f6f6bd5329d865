package config

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/forensics"
	"github.com/perfbench/perfbench/internal/records"
)

// taskIDPattern: a task id becomes part of file names and run ids.
var taskIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)

// LoadTask loads, expands, decodes, defaults and validates a task file.
// Task.Path is path as given (errors name the file as the user wrote it);
// Task.Dir is its absolute directory.
func LoadTask(path string, env Vars) (*Task, error) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, BadInputError{fmt.Errorf("task %s: %w", path, pathErrorCause(err))}
	}
	t, err := parseTask(path, src, env)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("task %s: %w", path, err)
	}
	t.Dir = dir
	return t, nil
}

// parseTask is LoadTask without the file system.
func parseTask(path string, src []byte, env Vars) (*Task, error) {
	root, err := parseYAML(path, src)
	if err != nil {
		return nil, err
	}
	d := newDecoder(path, env)
	t := &Task{Path: path}
	if err := d.decodeTop(root, t, "task"); err != nil {
		return nil, err
	}
	t.Ignored = d.ignored
	if err := validateTask(d, t); err != nil {
		return nil, err
	}
	return t, nil
}

func validateTask(d *decoder, t *Task) error {
	if t.ID == "" {
		return d.errAtPos(d.posOf("id"), "id", "required field is missing (a task id such as vllm_core)")
	}
	if !taskIDPattern.MatchString(t.ID) {
		return d.errAtPos(d.valueAt("id"), "id", "must match %s (it becomes part of file names), got %s", taskIDPattern, quoteShort(t.ID))
	}
	if t.Name == "" {
		t.Name = t.ID
	}
	if t.Repo.URL == "" {
		return d.errAtPos(d.posOf("repo.url"), "repo.url", "required field is missing (the repository to clone)")
	}
	t.Repo.URLPos = d.valueAt("repo.url")
	t.Environment.RequireImagePos = d.valueAt("environment.require_image")
	if err := CheckRepoURL(t.Repo.URL); err != nil {
		return d.errAtPos(t.Repo.URLPos, "repo.url", "%v", err)
	}
	if d.isSet("repo.pre_commit") && d.isSet("repo.pre_parent_index") {
		return d.conflict("repo.pre_commit", "repo.pre_parent_index")
	}
	if d.isSet("repo.pre_parent_index") && t.Repo.PreParentIndex < 1 {
		return d.errAtPos(d.valueAt("repo.pre_parent_index"), "repo.pre_parent_index", "must be at least 1 (the first parent is 1), got %d", t.Repo.PreParentIndex)
	}
	if t.Repo.PreParentIndex == 0 {
		t.Repo.PreParentIndex = 1
	}
	if t.EnvBuild.SetupTimeout == 0 {
		t.EnvBuild.SetupTimeout = records.Duration(DefaultSetupTimeout)
	}
	if t.EnvBuild.NamesFile() && t.Environment.Image != "" {
		return d.errAtPos(d.valueAt("environment.image"), "environment.image", "conflicts with env_build's %s (set at line %d): the image is either built from the task (bench build) or named ready-made; set only one",
			envBuildFileField(&t.EnvBuild), envBuildFilePos(&t.EnvBuild).Line)
	}
	return nil
}

// envBuildFileField and envBuildFilePos name the file env_build builds
// from, for messages.
func envBuildFileField(e *EnvBuild) string {
	if e.Strategy == "requirements" {
		return "params.requirements_file"
	}
	return strings.TrimPrefix(e.DockerfileField, "env_build.")
}

func envBuildFilePos(e *EnvBuild) Pos {
	if e.Strategy == "requirements" {
		return e.RequirementsPos
	}
	return e.DockerfilePos
}

// conflict reports two fields of which only one may be set, at the one
// set later in the file.
func (d *decoder) conflict(a, b string) error {
	first, second := a, b
	if comparePos(d.keyPos[b], d.keyPos[a]) < 0 {
		first, second = b, a
	}
	return d.errAtPos(d.keyPos[second], second, "conflicts with %s (set at line %d); set only one", first, d.keyPos[first].Line)
}

// decodeNode decodes a repo.pairs entry and applies its defaults.
func (p *Pair) decodeNode(d *decoder, n *node, path string) error {
	if err := d.decodeStruct(n, reflect.ValueOf(p).Elem(), path); err != nil {
		return err
	}
	p.Pos = d.pos(n)
	if p.Human == "" {
		return d.errAtPos(p.Pos, joinPath(path, "human"), "required field is missing (the human commit of this pair)")
	}
	if d.isSet(joinPath(path, "pre")) && d.isSet(joinPath(path, "pre_parent_index")) {
		return d.conflict(joinPath(path, "pre"), joinPath(path, "pre_parent_index"))
	}
	if d.isSet(joinPath(path, "pre_parent_index")) && p.PreParentIndex < 1 {
		return d.errAtPos(d.valueAt(joinPath(path, "pre_parent_index")), joinPath(path, "pre_parent_index"), "must be at least 1 (the first parent is 1), got %d", p.PreParentIndex)
	}
	if p.PreParentIndex == 0 {
		p.PreParentIndex = 1
	}
	return nil
}

// decodeNode decodes and validates an evaluation section (the task's or
// a pair's).
func (e *Evaluation) decodeNode(d *decoder, n *node, path string) error {
	if err := d.decodeStruct(n, reflect.ValueOf(e).Elem(), path); err != nil {
		return err
	}
	if n.kind == nullNode {
		return nil
	}
	e.Pos = d.pos(n)
	field := func(name string) (string, Pos) {
		f := joinPath(path, name)
		return f, d.valueAt(f)
	}
	f, pos := field("rounds")
	if e.Rounds < 0 {
		return d.errAtPos(pos, f, "must be at least 0, got %d", e.Rounds)
	}
	e.RoundsPos = pos
	if f, pos := field("warmup"); e.Warmup != nil && *e.Warmup < 0 {
		return d.errAtPos(pos, f, "must be at least 0, got %d", *e.Warmup)
	}
	if f, pos := field("timeout"); e.Timeout < 0 {
		return d.errAtPos(pos, f, "must not be negative, got %s", e.Timeout)
	}
	if f, pos := field("band"); e.Band < 0 || e.Band >= 1 {
		return d.errAtPos(pos, f, "must be in [0, 1), got %s", formatFloat(e.Band))
	}
	if f, pos := field("alpha"); d.isSet(f) && (e.Alpha <= 0 || e.Alpha >= 1) {
		return d.errAtPos(pos, f, "must be in (0, 1), got %s", formatFloat(e.Alpha))
	}
	if err := e.checkSecondary(d, path); err != nil {
		return err
	}
	if err := e.checkRejectFlags(d, path); err != nil {
		return err
	}
	return e.checkPlaceholders(d, path)
}

// checkRejectFlags checks reject_flags: known reward-hack rules, each
// once.
func (e *Evaluation) checkRejectFlags(d *decoder, path string) error {
	f := joinPath(path, "reject_flags")
	known := forensics.HackRuleIDs()
	for i, id := range e.RejectFlags {
		fi := f + "[" + strconv.Itoa(i) + "]"
		switch {
		case !slices.Contains(known, id):
			return d.errAtPos(d.valueAt(fi), fi, "expected a reward-hack rule (%s), got %s", strings.Join(known, ", "), quoteShort(id))
		case slices.Index(e.RejectFlags, id) < i:
			return d.errAtPos(d.valueAt(fi), fi, "%s is listed twice", id)
		}
	}
	return nil
}

// checkSecondary checks secondary_metrics: known kinds, each once, not
// the section's own metric, and no timing metric beside instructions (its
// runs are under the counter, slowed ~50× by valgrind).
func (e *Evaluation) checkSecondary(d *decoder, path string) error {
	f := joinPath(path, "secondary_metrics")
	if !d.isSet(f) {
		return nil
	}
	e.SecondaryMetricsSet = true
	e.SecondaryMetricsPos = d.valueAt(f)
	for i, k := range e.SecondaryMetrics {
		fi := f + "[" + strconv.Itoa(i) + "]"
		pos := d.valueAt(fi)
		switch {
		case !slices.Contains(MetricKinds, k):
			return d.errAtPos(pos, fi, "expected one of %s, got %s", strings.Join(MetricKinds, ", "), quoteShort(k))
		case slices.Index(e.SecondaryMetrics, k) < i:
			return d.errAtPos(pos, fi, "%s is listed twice", k)
		case e.Metric != nil && e.Metric.Kind == k:
			return d.errAtPos(pos, fi, "%s is already evaluation.metric", k)
		case e.Metric != nil && e.Metric.Kind == "instructions":
			return d.errAtPos(pos, fi, "%s cannot be recorded beside metric instructions (its runs are under the instruction counter); use metric: %s with secondary_metrics: [instructions]", k, k)
		}
	}
	return nil
}

// decodeNode reads and checks a task's patch section: each exclude entry
// becomes one line of a gitignore file, and "!P" must name a default.
func (p *PatchCapture) decodeNode(d *decoder, n *node, path string) error {
	if err := d.decodeStruct(n, reflect.ValueOf(p).Elem(), path); err != nil {
		return err
	}
	for i, e := range p.Exclude {
		f := joinPath(path, "exclude") + "[" + strconv.Itoa(i) + "]"
		pattern, removes := strings.CutPrefix(e, "!")
		switch {
		case strings.TrimSpace(pattern) == "":
			return d.errAtPos(d.valueAt(f), f, "expected a gitignore pattern such as build/ or *.o, got %s", quoteShort(e))
		case strings.ContainsAny(e, "\x00\r\n"):
			return d.errAtPos(d.valueAt(f), f, "a pattern must be one line, got %s", quoteShort(e))
		case strings.HasPrefix(e, "#"):
			return d.errAtPos(d.valueAt(f), f, "a pattern must not start with # (a comment in gitignore), got %s", quoteShort(e))
		case removes && !slices.Contains(DefaultPatchExclude, pattern):
			return d.errAtPos(d.valueAt(f), f, "!%s removes a default pattern, but %s is not one (defaults: %s)", pattern, quoteShort(pattern), strings.Join(DefaultPatchExclude, " "))
		}
	}
	return nil
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// MetricKinds are the scalar forms of evaluation.metric, and what
// evaluation.secondary_metrics may list.
var MetricKinds = []string{"wall", "cpu", "instructions"}

// decodeNode reads "wall", "cpu", "instructions" or {regex|json, unit,
// better}.
func (m *Metric) decodeNode(d *decoder, n *node, path string) error {
	const want = "wall, cpu, instructions or a mapping with regex or json"
	switch n.kind {
	case nullNode:
		return nil
	case scalarNode:
		s, _, err := d.scalar(n, path)
		if err != nil {
			return err
		}
		if !slices.Contains(MetricKinds, s) {
			return d.typeError(n, path, want, quoteShort(s))
		}
		*m = Metric{Kind: s, Better: "lower"}
		return nil
	case mapNode:
		return m.decodeMapping(d, n, path)
	default:
		return d.typeError(n, path, want, describe(n))
	}
}

func (m *Metric) decodeMapping(d *decoder, n *node, path string) error {
	if err := d.decodeStruct(n, reflect.ValueOf(m).Elem(), path); err != nil {
		return err
	}
	regexField, jsonField := joinPath(path, "regex"), joinPath(path, "json")
	switch {
	case m.Regex != "" && m.JSON != "":
		return d.conflict(regexField, jsonField)
	case m.Regex != "":
		re, err := regexp.Compile(m.Regex)
		if err != nil {
			return d.errAtPos(d.valueAt(regexField), regexField, "invalid regular expression: %v", err)
		}
		if re.NumSubexp() < 1 {
			return d.errAtPos(d.valueAt(regexField), regexField, "needs a capture group around the number, e.g. `time: ([0-9.]+)`")
		}
		m.Kind = "regex"
	case m.JSON != "":
		m.Kind = "json"
	default:
		return d.errAt(n, path, "needs regex or json (or write metric: wall)")
	}
	switch m.Better {
	case "":
		m.Better = "lower"
	case "lower", "higher":
	default:
		f := joinPath(path, "better")
		return d.errAtPos(d.valueAt(f), f, "expected lower or higher, got %s", quoteShort(m.Better))
	}
	return nil
}

// decodeNode reads "exact", "numeric" or {mode, tolerance}.
func (q *Equivalence) decodeNode(d *decoder, n *node, path string) error {
	const want = "exact, numeric or a mapping with mode and tolerance"
	switch n.kind {
	case nullNode:
		return nil
	case scalarNode:
		s, _, err := d.scalar(n, path)
		if err != nil {
			return err
		}
		if s != "exact" && s != "numeric" {
			return d.typeError(n, path, want, quoteShort(s))
		}
		*q = Equivalence{Mode: s}
		return nil
	case mapNode:
		if err := d.decodeStruct(n, reflect.ValueOf(q).Elem(), path); err != nil {
			return err
		}
		modeField, tolField := joinPath(path, "mode"), joinPath(path, "tolerance")
		switch q.Mode {
		case "exact", "numeric":
		case "":
			return d.errAt(n, path, "mode is missing (exact or numeric)")
		default:
			return d.errAtPos(d.valueAt(modeField), modeField, "expected exact or numeric, got %s", quoteShort(q.Mode))
		}
		if q.Tolerance < 0 || math.IsNaN(q.Tolerance) {
			return d.errAtPos(d.valueAt(tolField), tolField, "must not be negative, got %s", formatFloat(q.Tolerance))
		}
		if q.Mode == "exact" && q.Tolerance != 0 {
			return d.errAtPos(d.valueAt(tolField), tolField, "applies to mode numeric only")
		}
		return nil
	default:
		return d.typeError(n, path, want, describe(n))
	}
}
