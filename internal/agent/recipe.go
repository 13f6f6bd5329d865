package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/envbuild"
)

// The agent images' install recipes (Kind.Recipe) install each agent into
// its own prefix, envbuild.AgentRoot/<type>, with links to its
// executables in envbuild.AgentBin, which the agent image appends to the
// environment's PATH (see envbuild.AgentDockerfile): the environment's
// python and PATH are unchanged, and an executable the environment
// already has on its PATH shadows the agent's (set cli: to
// /opt/perfbench/bin/<name> to force it). Every recipe pins one exact
// upstream version, recorded in docs/agents/compatibility.md and inside
// the adapter's Kind.Checked range (recipe_test.go checks both).
//
// The Python agents get a Python of their own, not the environment's:
// uv (UVVersion, its standalone installer) makes a virtual environment
// in the prefix from a Python it downloads there (AgentPython), so the
// agent's dependencies never meet the task's and the environment's
// Python version does not matter. The Node agents use the environment's
// node and npm (node 18 or later), which the environment image must
// have. Every recipe needs /bin/sh and runs as root (USER root): the
// rollouts run as the invoking user anyway (--user).

// UVVersion is the uv release the Python recipes install with.
const UVVersion = "0.9.28"

// AgentPython is the Python version of the Python agents' environments.
const AgentPython = "3.12"

// Prefix is an agent type's install prefix in its agent image.
func Prefix(typ string) string { return envbuild.AgentRoot + "/" + typ }

// PythonInstall describes a Python agent's recipe.
type PythonInstall struct {
	// Type and Version are the agent's type and the one version installed.
	Type, Version string
	// Requirement is what uv installs: "aider-chat==0.86.1", or a pinned
	// archive URL.
	Requirement string
	// Executables are the venv's scripts linked into envbuild.AgentBin.
	Executables []string
	// Before are shell commands run first (system packages the agent
	// needs), each a complete command.
	Before []string
}

// VenvPython is the Python of a Python agent's environment.
func VenvPython(typ string) string { return Prefix(typ) + "/venv/bin/python" }

// PythonRecipe is the recipe of a Python agent: uv, a Python and a
// virtual environment in the agent's prefix, the pinned requirement
// installed there, and its executables linked into envbuild.AgentBin.
func PythonRecipe(p PythonInstall) envbuild.Recipe {
	pre := Prefix(p.Type)
	uv := pre + "/uv/uv"
	cmds := []string{Needs(p.Type, "curl")}
	cmds = append(cmds, p.Before...)
	cmds = append(cmds,
		"mkdir -p "+envbuild.AgentBin+" "+pre,
		"curl -fLsS -o /tmp/perfbench-uv-install.sh https://astral.sh/uv/"+UVVersion+"/install.sh",
		"env UV_UNMANAGED_INSTALL="+pre+"/uv sh /tmp/perfbench-uv-install.sh",
		"rm -f /tmp/perfbench-uv-install.sh",
		"export UV_NO_CACHE=1 UV_NO_CONFIG=1 UV_PYTHON_INSTALL_DIR="+pre+"/python",
		uv+" venv --python "+AgentPython+" --python-preference only-managed "+pre+"/venv",
		uv+" pip install --python "+VenvPython(p.Type)+" "+shellQuote(p.Requirement),
	)
	for _, exe := range p.Executables {
		cmds = append(cmds, "ln -s "+pre+"/venv/bin/"+exe+" "+envbuild.AgentBin+"/"+exe)
	}
	return envbuild.Recipe{
		Agent: p.Type, Version: p.Version, Prefix: pre,
		Lines: append([]string{"USER root"}, runLines(cmds)...),
	}
}

// NPMRecipe is the recipe of a Node agent: the pinned package installed
// with the environment's npm into the agent's prefix, its executables
// linked into envbuild.AgentBin. The environment image must have node (18
// or later) and npm.
func NPMRecipe(typ, version, pkg string, executables ...string) envbuild.Recipe {
	pre := Prefix(typ)
	cmds := []string{
		Needs(typ, "node", "npm"),
		"mkdir -p " + envbuild.AgentBin + " " + pre,
		"npm install --prefix " + pre + " --no-fund --no-audit --no-update-notifier --cache /tmp/perfbench-npm-cache " + pkg + "@" + version,
		"rm -rf /tmp/perfbench-npm-cache",
	}
	for _, exe := range executables {
		cmds = append(cmds, "ln -s "+pre+"/node_modules/.bin/"+exe+" "+envbuild.AgentBin+"/"+exe)
	}
	return envbuild.Recipe{
		Agent: typ, Version: version, Prefix: pre,
		Lines: append([]string{"USER root"}, runLines(cmds)...),
	}
}

// Needs is the shell command that stops the build, naming what is
// missing, when one of the programs is not in the environment image.
func Needs(typ string, programs ...string) string {
	var checks []string
	for _, p := range programs {
		checks = append(checks, "command -v "+p+" >/dev/null")
	}
	return "{ " + strings.Join(checks, " && ") + "; } || { echo \"perfbench: the " + typ + " recipe needs " + strings.Join(programs, " and ") + " in the environment image\" >&2; exit 1; }"
}

// RunLines is one RUN of shell commands, as Dockerfile lines: `set -eu`,
// then each command on its own continued line.
func RunLines(cmds ...string) []string { return runLines(cmds) }

func runLines(cmds []string) []string {
	out := []string{"RUN set -eu; \\"}
	for i, c := range cmds {
		end := "; \\"
		if i == len(cmds)-1 {
			end = ""
		}
		out = append(out, "    "+c+end)
	}
	return out
}

// shellQuote quotes s for sh when it holds more than a plain word.
func shellQuote(s string) string {
	if s != "" && strings.Trim(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.=/:@+,") == "" {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// MaxInstallContextBytes bounds the files of an install_context, which
// are read into memory.
const MaxInstallContextBytes = 256 << 20

// RecipeFor is the recipe `bench build --agent NAME` builds the entry's
// agent image with: the entry's install: lines (with the files of its
// install_context, relative to bench.yaml, their permission bits kept)
// when it sets them, else its kind's recipe. An entry whose type has no
// recipe and that sets no install:, and an install_context that cannot be
// read (a symlink or special file in it, one that vanished), are bad
// input (exit 2). k may be nil (an unknown type).
func RecipeFor(a *config.Agent, b *config.Bench, k *Kind) (envbuild.Recipe, error) {
	if len(a.Install) > 0 {
		r := envbuild.Recipe{Agent: a.Type, Lines: slices.Clone(a.Install)}
		if a.InstallContext != "" {
			files, err := readInstallContext(BenchPath(b, a.InstallContext))
			if err != nil {
				return envbuild.Recipe{}, badinput.Errorf("agent %s: install_context: %v", a.Name, err)
			}
			r.Files = files
		}
		r.Version = customVersion(r)
		if err := r.Check(); err != nil {
			return envbuild.Recipe{}, badinput.Errorf("agent %s: install: %v", a.Name, err)
		}
		return r, nil
	}
	if k == nil || k.Recipe == nil {
		return envbuild.Recipe{}, badinput.Errorf("agent %s: agent type %s has no install recipe; set install: (the Dockerfile lines that install it) in the entry", a.Name, a.Type)
	}
	r := k.Recipe()
	if err := r.Check(); err != nil {
		return envbuild.Recipe{}, fmt.Errorf("agent %s: the %s recipe: %w", a.Name, a.Type, err)
	}
	return r, nil
}

// customVersion names what an install: recipe installs, which perfbench
// cannot know: "install-" and the first 12 hex digits of the SHA-256 of
// its lines and files, so that its label changes with them.
func customVersion(r envbuild.Recipe) string {
	h := sha256.New()
	for _, l := range r.Lines {
		fmt.Fprintf(h, "line %d %s\n", len(l), l)
	}
	for _, p := range r.ContextPaths() {
		f := r.Files[p]
		fmt.Fprintf(h, "file %d %s %o %d\n", len(p), p, f.Mode, len(f.Data))
		h.Write(f.Data)
	}
	return "install-" + hex.EncodeToString(h.Sum(nil))[:12]
}

// readInstallContext reads every regular file under dir, confined to it
// (os.Root), by slash path relative to dir, with its permission bits.
func readInstallContext(dir string) (map[string]envbuild.File, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	files := map[string]envbuild.File{}
	total := 0
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file (%s): only files and directories are copied", filepath.Join(dir, p), d.Type())
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		total += int(fi.Size())
		if total > MaxInstallContextBytes {
			return fmt.Errorf("%s holds more than %d MiB", dir, MaxInstallContextBytes>>20)
		}
		data, err := root.ReadFile(p)
		if err != nil {
			return err
		}
		files[p] = envbuild.File{Data: data, Mode: uint32(fi.Mode().Perm())}
		return nil
	})
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) && pe.Path != "" && !filepath.IsAbs(pe.Path) {
			pe.Path = filepath.Join(dir, pe.Path)
		}
		return nil, err
	}
	return files, nil
}

// UseAgentImage makes entry a run in ref, the agent image built for it,
// when the entry names no image of its own, and reports whether it does:
// the kind's UseAgentImage decides when it has one (OpenHands:
// container_image, in its local sandbox mode only), else image: is set
// for runtime: container. A host runtime needs no image. It changes a.
func UseAgentImage(k *Kind, a *config.Agent, ref string) (bool, error) {
	if k != nil && k.UseAgentImage != nil {
		return k.UseAgentImage(a, ref)
	}
	if a.Runtime != RuntimeContainer || a.Image != "" {
		return false, nil
	}
	a.Image = ref
	return true, nil
}
