package config

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/secrets"
)

// argNamePattern is what docker accepts as a build arg name, portably.
var argNamePattern = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// Strategies of env_build (allowed_strategies), in their default order
// of preference.
var EnvBuildStrategies = []string{"dockerfile", "requirements"}

// DefaultSetupTimeout bounds env_build.workspace_setup when setup_timeout
// is unset.
const DefaultSetupTimeout = 30 * time.Minute

// EnvBuild is a task's env_build section: how its environment image is
// built. Two spellings name the files: the seed's (allowed_strategies plus
// params.dockerfile_path / params.requirements_file, either may be null)
// and perfbench's (dockerfile, context). Paths are relative to the task
// file; package envbuild resolves them.
type EnvBuild struct {
	AllowedStrategies []string       `yaml:"allowed_strategies" json:"allowed_strategies,omitempty"`
	Params            EnvBuildParams `yaml:"params" json:"params,omitzero"`
	Dockerfile        string         `yaml:"dockerfile" json:"dockerfile,omitempty"`
	// Context is the build context directory; default the Dockerfile's
	// (or the requirements file's) directory.
	Context string `yaml:"context" json:"context,omitempty"`
	// Args are --build-arg values; a secret-looking name is refused
	// (build args stay visible in the image history).
	Args map[string]string `yaml:"args" json:"args,omitempty"`
	// BaseImage is the FROM of the requirements strategy's generated
	// Dockerfile (required by it, no default: perfbench never pulls).
	BaseImage string `yaml:"base_image" json:"base_image,omitempty"`
	// WorkspaceSetup runs before the agent, in the rollout's container
	// (or its workspace on the host), under SetupTimeout.
	WorkspaceSetup []string         `yaml:"workspace_setup" json:"workspace_setup,omitempty"`
	SetupTimeout   records.Duration `yaml:"setup_timeout" json:"setup_timeout,omitempty"`

	// Strategy is the strategy chosen ("dockerfile", "requirements"), ""
	// when the section names no file: nothing is built.
	Strategy string `yaml:"-" json:"-"`
	// Where things are set, for errors found after loading (a missing
	// file): the section, the Dockerfile (whichever key names it), the
	// requirements file, the context, each arg's key.
	Pos             Pos            `yaml:"-" json:"-"`
	DockerfilePos   Pos            `yaml:"-" json:"-"`
	DockerfileField string         `yaml:"-" json:"-"`
	RequirementsPos Pos            `yaml:"-" json:"-"`
	ContextPos      Pos            `yaml:"-" json:"-"`
	ArgPos          map[string]Pos `yaml:"-" json:"-"`
	// WorkspaceSetupPos is where workspace_setup is set (for the
	// warning of SetupWarning).
	WorkspaceSetupPos Pos `yaml:"-" json:"-"`
}

// EnvBuildParams are the seed's file parameters.
type EnvBuildParams struct {
	DockerfilePath   string `yaml:"dockerfile_path" json:"dockerfile_path,omitempty"`
	RequirementsFile string `yaml:"requirements_file" json:"requirements_file,omitempty"`
}

// DockerfilePath is the Dockerfile the section names (dockerfile or
// params.dockerfile_path), relative to the task file.
func (e *EnvBuild) DockerfilePath() string {
	if e.Dockerfile != "" {
		return e.Dockerfile
	}
	return e.Params.DockerfilePath
}

// NamesFile reports whether the section names a file to build from.
func (e *EnvBuild) NamesFile() bool { return e.Strategy != "" }

// SortedArgs returns the arg names in order.
func (e *EnvBuild) SortedArgs() []string {
	names := make([]string, 0, len(e.Args))
	for k := range e.Args {
		names = append(names, k)
	}
	sort.Strings(names)
	return names
}

// decodeNode reads and checks an env_build section on its own; the checks
// against other sections (environment.image) are validateTask's.
func (e *EnvBuild) decodeNode(d *decoder, n *node, path string) error {
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
	strategiesField := joinPath(path, "allowed_strategies")
	for i, s := range e.AllowedStrategies {
		fi := strategiesField + "[" + strconv.Itoa(i) + "]"
		switch {
		case !slices.Contains(EnvBuildStrategies, s):
			return d.errAtPos(d.valueAt(fi), fi, "expected one of %s, got %s", strings.Join(EnvBuildStrategies, ", "), quoteShort(s))
		case slices.Index(e.AllowedStrategies, s) < i:
			return d.errAtPos(d.valueAt(fi), fi, "%s is listed twice", s)
		}
	}
	dockerfileField, paramsDockerfile := joinPath(path, "dockerfile"), joinPath(path, "params.dockerfile_path")
	if e.Dockerfile != "" && e.Params.DockerfilePath != "" {
		return d.conflict(dockerfileField, paramsDockerfile)
	}
	e.DockerfileField = dockerfileField
	if e.Dockerfile == "" {
		e.DockerfileField = paramsDockerfile
	}
	e.DockerfilePos = d.valueAt(e.DockerfileField)
	reqField, reqPos := field("params.requirements_file")
	e.RequirementsPos = reqPos
	for _, c := range []struct{ field, value string }{{e.DockerfileField, e.DockerfilePath()}, {reqField, e.Params.RequirementsFile}, {joinPath(path, "context"), e.Context}} {
		if (c.value != "" && strings.TrimSpace(c.value) == "") || strings.ContainsAny(c.value, "\x00\r\n") {
			return d.errAtPos(d.valueAt(c.field), c.field, "expected a path relative to the task file, got %s", quoteShort(c.value))
		}
	}

	// The strategy: the first allowed one whose file is named.
	order := e.AllowedStrategies
	if len(order) == 0 {
		order = EnvBuildStrategies
	}
	named := map[string]bool{"dockerfile": e.DockerfilePath() != "", "requirements": e.Params.RequirementsFile != ""}
	for _, s := range order {
		if named[s] {
			e.Strategy = s
			break
		}
	}
	if e.Strategy == "" {
		for _, s := range EnvBuildStrategies {
			if !named[s] {
				continue
			}
			f, pos := e.DockerfileField, e.DockerfilePos
			if s == "requirements" {
				f, pos = reqField, reqPos
			}
			return d.errAtPos(pos, f, "names a file for the %s strategy, which allowed_strategies (%s) does not list", s, strings.Join(e.AllowedStrategies, ", "))
		}
	}

	baseField, basePos := field("base_image")
	switch {
	case e.Strategy == "requirements" && strings.TrimSpace(e.BaseImage) == "":
		return d.errAtPos(reqPos, baseField, "required by the requirements strategy (the local image its generated Dockerfile starts FROM, such as python:3.12-slim; perfbench never pulls)")
	case e.Strategy != "requirements" && e.BaseImage != "":
		return d.errAtPos(basePos, baseField, "applies to the requirements strategy only (params.requirements_file); a Dockerfile names its own FROM")
	}
	if strings.ContainsAny(e.BaseImage, " \t\r\n") {
		return d.errAtPos(basePos, baseField, "expected an image reference such as python:3.12-slim, got %s", quoteShort(e.BaseImage))
	}
	ctxField, ctxPos := field("context")
	e.ContextPos = ctxPos
	if e.Context != "" && e.Strategy == "" {
		return d.errAtPos(ctxPos, ctxField, "needs a file to build: dockerfile, params.dockerfile_path or params.requirements_file")
	}
	argsField := joinPath(path, "args")
	e.ArgPos = map[string]Pos{}
	for _, name := range e.SortedArgs() {
		f := joinPath(argsField, name)
		e.ArgPos[name] = d.posOf(f)
		switch {
		case !argNamePattern.MatchString(name):
			return d.errAtPos(d.posOf(f), f, "expected a build arg name (letters, digits, _), got %s", quoteShort(name))
		case secrets.LooksSecret(name):
			return d.errAtPos(d.posOf(f), f, "looks like a secret (KEY, TOKEN, SECRET, PASSWORD in the name): build args stay visible in the image history; give credentials to the build another way")

		case secrets.HasURLCredentials(e.Args[name]):
			return d.errAtPos(d.posOf(f), f, "holds a password in a URL (scheme://user:password@host): build args stay visible in the image history; give credentials to the build another way")
		}
	}
	if f, pos := field("setup_timeout"); e.SetupTimeout < 0 {
		return d.errAtPos(pos, f, "must not be negative, got %s", e.SetupTimeout)
	} else if e.SetupTimeout == 0 {
		e.SetupTimeout = records.Duration(DefaultSetupTimeout)
	}
	e.WorkspaceSetupPos = d.posOf(joinPath(path, "workspace_setup"))
	for i, c := range e.WorkspaceSetup {
		if strings.TrimSpace(c) == "" {
			f := joinPath(path, "workspace_setup") + "[" + strconv.Itoa(i) + "]"
			return d.errAtPos(d.valueAt(f), f, "expected a shell command, got an empty string")
		}
	}
	return nil
}

// SetupWarning is the warning, "" when none, of a task whose
// env_build.workspace_setup runs (whether or not env_build names a file)
// while some item's evaluation sets nothing up: evaluation never runs
// workspace_setup, so what it installs (say the project, editable) is
// missing when that item's candidates are timed. A pair's evaluation
// overrides the task's field by field, so a pair's setup covers that pair
// only: no warning when the task's evaluation.setup is set or every pair
// sets its own; else the pairs without one are named (by human commit).
// A warning, not an error: a workload may need none of it. validate
// prints it.
func (t *Task) SetupWarning() string {
	e := &t.EnvBuild
	if len(e.WorkspaceSetup) == 0 || len(t.Evaluation.Setup) > 0 {
		return ""
	}
	var without []string
	for _, p := range t.Repo.Pairs {
		if p.Evaluation == nil || len(p.Evaluation.Setup) == 0 {
			without = append(without, p.Human)
		}
	}
	if len(t.Repo.Pairs) > 0 && len(without) == 0 {
		return ""
	}
	pos := e.WorkspaceSetupPos
	if pos.File == "" {
		pos = Pos{File: t.Path}
	}
	const fix = "list the install in evaluation.setup too"
	if len(without) > 0 && len(without) < len(t.Repo.Pairs) {
		return fmt.Sprintf("%s: env_build.workspace_setup: evaluation does not run it, evaluation.setup is empty and the pairs of human %s set none of their own, so what it installs is missing when their candidates are timed: %s (or in each of those pairs')", pos, quoteList(without), fix)
	}
	return fmt.Sprintf("%s: env_build.workspace_setup: evaluation does not run it and evaluation.setup is empty, so what it installs is missing when candidates are timed: %s", pos, fix)
}

// quoteList is "a", "b", "c", each quoted short; past a few, the
// count of the rest (a task may list hundreds of pairs).
func quoteList(vs []string) string {
	const shown = 5
	var q []string
	for i, v := range vs {
		if i == shown {
			q = append(q, fmt.Sprintf("and %d more", len(vs)-shown))
			break
		}
		q = append(q, quoteShort(v))
	}
	return strings.Join(q, ", ")
}

// CheckEnvBuildFiles checks that the files env_build names exist,
// relative to the task file: the Dockerfile and the requirements file as
// regular files, the context as a directory. validate calls it; the
// loader does not, since a task file copied into a run directory keeps
// its relative paths.
func (t *Task) CheckEnvBuildFiles() error {
	e := &t.EnvBuild
	if !e.NamesFile() {
		return nil
	}
	check := func(rel string, pos Pos, field string, dir bool) error {
		if rel == "" {
			return nil
		}
		p := rel
		if !filepath.IsAbs(p) {
			p = filepath.Join(t.Dir, p)
		}
		fi, err := os.Stat(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			return &Error{Pos: pos, Field: field, Msg: "no such file: " + quoteShort(rel) + " (relative to the task file)"}
		case err != nil:
			return &Error{Pos: pos, Field: field, Msg: err.Error()}
		case dir && !fi.IsDir():
			return &Error{Pos: pos, Field: field, Msg: "expected a directory (the build context), got a file: " + quoteShort(rel)}
		case !dir && fi.IsDir():
			return &Error{Pos: pos, Field: field, Msg: "expected a file, got a directory: " + quoteShort(rel)}
		}
		return nil
	}
	if err := check(e.DockerfilePath(), e.DockerfilePos, e.DockerfileField, false); err != nil {
		return err
	}
	if err := check(e.Params.RequirementsFile, e.RequirementsPos, "env_build.params.requirements_file", false); err != nil {
		return err
	}
	return check(e.Context, e.ContextPos, "env_build.context", true)
}
