package envbuild

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
)

// Where agent recipes install. Each agent has its own prefix under
// AgentRoot and puts its executables, as links or wrappers, in AgentBin,
// which the agent image appends to the environment's PATH: the
// environment's python, its packages and everything else on its PATH
// stay first, so that the agent's own python (often another version, with
// its own dependencies) never shadows the one the task is measured with.
const (
	AgentRoot = "/opt/perfbench"
	AgentBin  = AgentRoot + "/bin"
)

// DefaultPath is the PATH a container gets when its image sets none (the
// engine's default, as docker and podman set it): an environment image
// without ENV PATH keeps exactly that, with AgentBin after it.
const DefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// agentPathLine appends AgentBin to the environment's PATH. ${PATH:-...}
// stands for an image whose configuration has no PATH (docker's legacy
// builder gives even a FROM scratch build the default, but an imported
// image may have none): an unset PATH would expand to nothing, leaving
// ":/opt/perfbench/bin" (an empty entry is the working directory) and
// losing the engine's default.
const agentPathLine = "ENV PATH=${PATH:-" + DefaultPath + "}:" + AgentBin

// AgentDockerfile is the Dockerfile of an agent image: FROM the
// environment image (by id), the labels naming the agent and the version
// its recipe installs, the recipe's lines, and AgentBin appended to the
// environment's PATH. It is deterministic: the same from and recipe give
// the same bytes (`bench build --agent X --print` prints it). Values that
// could break a line (Recipe.Check refuses them) are flattened.
func AgentDockerfile(from string, r Recipe) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "# perfbench agent image: %s %s in %s, FROM the environment image.\n", recipeOneLine(r.Agent), recipeOneLine(r.Version), recipeOneLine(cmp.Or(r.Prefix, AgentRoot)))
	b.WriteString("# The environment's python and PATH come first; the agent's executables are\n")
	b.WriteString("# in " + AgentBin + ", appended to PATH by the last line.\n")
	fmt.Fprintf(&b, "FROM %s\n", recipeOneLine(from))
	fmt.Fprintf(&b, "LABEL %s=%s %s=%s\n", LabelAgent, recipeLabel(r.Agent), LabelAgentVersion, recipeLabel(r.Version))
	for _, l := range r.Lines {
		b.WriteString(recipeOneLine(l))
		b.WriteByte('\n')
	}
	b.WriteString(agentPathLine + "\n")
	return b.Bytes()
}

// Check reports what would make the recipe's Dockerfile or context wrong:
// a missing agent or version, a value or line spanning lines, a FROM (the
// agent image must stay a single stage on the environment image), a
// prefix outside AgentRoot, and context paths that are not plain
// relative paths (or would replace the Dockerfile).
func (r Recipe) Check() error {
	var errs []error
	if r.Agent == "" || r.Version == "" {
		errs = append(errs, errors.New("the recipe names no agent or no version"))
	}
	for name, v := range map[string]string{"agent": r.Agent, "version": r.Version, "prefix": r.Prefix} {
		if strings.ContainsAny(v, "\r\n\x00") {
			errs = append(errs, fmt.Errorf("the recipe's %s %q spans lines", name, v))
		}
	}
	if r.Prefix != "" && (path.Clean(r.Prefix) != r.Prefix || !strings.HasPrefix(r.Prefix, AgentRoot+"/") || r.Prefix == AgentBin) {
		errs = append(errs, fmt.Errorf("the recipe's prefix %q is not a directory of its own under %s", r.Prefix, AgentRoot))
	}
	if len(r.Lines) == 0 {
		errs = append(errs, errors.New("the recipe has no Dockerfile lines"))
	}
	for i, l := range r.Lines {
		if strings.ContainsAny(l, "\r\n\x00") {
			errs = append(errs, fmt.Errorf("line %d spans lines (give one line each)", i+1))
			continue
		}
		if word, _, _ := strings.Cut(strings.TrimSpace(l), " "); strings.EqualFold(word, "FROM") {
			errs = append(errs, fmt.Errorf("line %d is a FROM: the agent image is built FROM the environment image, in one stage", i+1))
		}
	}
	for _, p := range slices.Sorted(maps.Keys(r.Files)) {
		if err := checkContextPath(p); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// checkContextPath accepts a clean relative slash path that is not the
// Dockerfile or .dockerignore of the build context.
func checkContextPath(p string) error {
	switch {
	case p == "" || path.IsAbs(p) || path.Clean(p) != p || p == "." || p == ".." || strings.HasPrefix(p, "../"):
		return fmt.Errorf("context file %q is not a clean relative path", p)
	case p == "Dockerfile" || p == ".dockerignore":
		return fmt.Errorf("context file %q would replace the build's own", p)
	case strings.ContainsAny(p, "\r\n\x00\\"):
		return fmt.Errorf("context file %q has a character a build context cannot hold", p)
	}
	return nil
}

// ContextPaths are the recipe's context files in a fixed order.
func (r Recipe) ContextPaths() []string { return slices.Sorted(maps.Keys(r.Files)) }

// recipeOneLine keeps a value on its line: line breaks and NULs become spaces.
func recipeOneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == 0 {
			return ' '
		}
		return r
	}, s)
}

// recipeLabel quotes a LABEL value the way the Dockerfile parser reads it
// back: inside double quotes, with backslash, quote and dollar escaped
// (LABEL expands variables).
func recipeLabel(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range recipeOneLine(s) {
		if r == '\\' || r == '"' || r == '$' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	b.WriteByte('"')
	return b.String()
}
