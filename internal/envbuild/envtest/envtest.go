// Package envtest provides, for tests of environment images (issue 16),
// a Python base image and a generated pure-Python task built on it,
// without any registry:
//
//   - PythonBase returns the image scripts/python-base.sh builds FROM
//     scratch out of Debian's python3, python3-pip, python3-setuptools,
//     python3-wheel and busybox-static (see that script): it is tagged
//     perfbench-test/python-base:<key> by its package list and recipe, and
//     :current, which this package looks up. .ci/run builds it before the
//     tests; a developer runs the script once (about a minute, then
//     "cached").
//   - PythonTask writes a task directory: a git repository holding a small
//     setuptools project (src layout, so the package imports only once
//     installed) whose CPU-bound workload a human commit makes faster, a
//     commits file, and a task file whose env_build Dockerfile is FROM the
//     base and whose workspace_setup is an offline editable install, as is
//     its evaluation.setup (evaluation runs in containers of its own, with
//     another HOME: what workspace_setup installed is not there).
//
// Tests that need the base call PythonBase: it skips them when the image
// (or an engine) is absent, unless BENCH_REQUIRE_DOCKER is set, in which
// case they fail, naming the script to run.
package envtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
	"github.com/perfbench/perfbench/internal/workspace/workspacetest"
)

// The base image.
const (
	// Repo is its repository; Current the tag the script moves to the
	// image it built or found.
	Repo    = "perfbench-test/python-base"
	Current = Repo + ":current"
	// KeyLabel holds the key, the tag's part after the colon.
	KeyLabel = "perfbench.test.key"
	// Script builds it (relative to the repository's root).
	Script = "scripts/python-base.sh"
	// User is the image's non-root user, bench, whose home (Home, owned by
	// it) `docker run --user 1000:1000` gets as HOME from /etc/passwd.
	User = "1000:1000"
	Home = "/home/bench"
)

var (
	baseOnce sync.Once
	baseRef  string
	baseErr  error
)

// PythonBase returns the base image's content-addressed tag,
// perfbench-test/python-base:<key> (the image :current names). Without an
// engine or the image it skips t, or fails it when BENCH_REQUIRE_DOCKER is
// set.
func PythonBase(t testing.TB) string {
	t.Helper()
	evaltest.RequireEngine(t)
	baseOnce.Do(func() { baseRef, baseErr = findBase() })
	if baseErr != nil {
		if os.Getenv("BENCH_REQUIRE_DOCKER") != "" {
			t.Fatalf("BENCH_REQUIRE_DOCKER is set: %v", baseErr)
		}
		t.Skipf("%v (set BENCH_REQUIRE_DOCKER=1 to fail instead)", baseErr)
	}
	return baseRef
}

// Base is PythonBase for callers without a testing.TB (a testscript
// condition): the base's tag, or "" when there is no engine or no image;
// with BENCH_REQUIRE_DOCKER set, an absent one is an error naming the
// script to run.
func Base() (string, error) {
	ok, err := evaltest.Available()
	if err != nil {
		return "", err
	}
	if !ok {
		return "", nil
	}
	baseOnce.Do(func() { baseRef, baseErr = findBase() })
	if baseErr != nil {
		if os.Getenv("BENCH_REQUIRE_DOCKER") != "" {
			return "", fmt.Errorf("BENCH_REQUIRE_DOCKER is set: %v", baseErr)
		}
		return "", nil
	}
	return baseRef, nil
}

func findBase() (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	bin := evaltest.Engine().Bin
	out, err := exec.CommandContext(ctx, bin, "image", "inspect", "--format",
		`{{index .Config.Labels "`+KeyLabel+`"}}`, Current).Output()
	if err != nil {
		return "", fmt.Errorf("no %s image: run %s to build it", Current, Script)
	}
	key := strings.TrimSpace(string(out))
	if key == "" || strings.ContainsAny(key, " :/") {
		return "", fmt.Errorf("%s has no %s label: rerun %s", Current, KeyLabel, Script)
	}
	ref := Repo + ":" + key
	if err := exec.CommandContext(ctx, bin, "image", "inspect", "--format", "{{.Id}}", ref).Run(); err != nil {
		return "", fmt.Errorf("%s names %s, which is not present: rerun %s", Current, ref, Script)
	}
	return ref, nil
}

// Paths and values of the task PythonTask writes.
const (
	// TaskID is the task's id.
	TaskID = "pyprimes"
	// Package is the Python package (src/pbprimes in the repository).
	Package = "pbprimes"
	// Workload runs the benchmark, from the repository's root; it prints
	// Output.
	Workload = "python3 bench.py"
	Output   = "5133"
	// Setup is the task's workspace_setup: an editable install, offline,
	// with Debian's setuptools; as a non-root user it goes to ~/.local.
	Setup = "python3 -m pip install --no-index --no-build-isolation -e ."
	// ContextFile is a file of the build context (env/) the Dockerfile
	// COPYs; IgnoredFile one .dockerignore leaves out. Both are relative
	// to the context.
	ContextFile = "files/greeting.txt"
	IgnoredFile = "notes.local"
	// ContextDir is where the Dockerfile copies the context in the image.
	ContextDir = "/ctx"
)

// Task is a task directory PythonTask wrote.
type Task struct {
	// Dir is the directory; File its task file (task.yaml), Commits its
	// commits file (commits.txt), Repo the git repository (repo/).
	Dir     string
	File    string
	Commits string
	Repo    string
	// Context is the build context (env/), Dockerfile the env_build
	// Dockerfile in it.
	Context    string
	Dockerfile string
	// Base is the Dockerfile's FROM.
	Base string
	// Pre and Human are the commits: the human one makes the workload
	// faster (trial division replaced by a sieve), the same output.
	Pre, Human string
}

// PythonTask writes the task into dir (created if needed) with its
// Dockerfile FROM the Python base (PythonBase: it skips or fails t the same
// way).
func PythonTask(t testing.TB, dir string) *Task {
	t.Helper()
	return PythonTaskFrom(t, dir, PythonBase(t))
}

// PythonTaskFrom is PythonTask with the Dockerfile FROM base; it needs no
// engine.
func PythonTaskFrom(t testing.TB, dir, base string) *Task {
	t.Helper()
	tk := &Task{
		Dir:        dir,
		File:       filepath.Join(dir, "task.yaml"),
		Commits:    filepath.Join(dir, "commits.txt"),
		Repo:       filepath.Join(dir, "repo"),
		Context:    filepath.Join(dir, "env"),
		Dockerfile: filepath.Join(dir, "env", "Dockerfile"),
		Base:       base,
	}
	if err := os.MkdirAll(tk.Repo, 0o755); err != nil {
		t.Fatal(err)
	}
	w := func(base, rel, content string) { workspacetest.WriteFile(t, base, rel, content, 0o644) }

	workspacetest.Git(t, tk.Repo, "init", "-q", "--template=", "--initial-branch=main")
	w(tk.Repo, "pyproject.toml", pyproject)
	w(tk.Repo, ".gitignore", "__pycache__/\n*.egg-info/\nbuild/\n")
	w(tk.Repo, "README.md", "# pbprimes\n\nCounts the primes below n.\n")
	w(tk.Repo, "src/"+Package+"/__init__.py", slowModule)
	w(tk.Repo, "bench.py", benchScript)
	tk.Pre = workspacetest.Commit(t, tk.Repo, "pbprimes: count primes by trial division")
	w(tk.Repo, "src/"+Package+"/__init__.py", fastModule)
	tk.Human = workspacetest.Commit(t, tk.Repo, "perf: count primes with a sieve")

	w(dir, "commits.txt", tk.Human+" "+tk.Pre+"\n")
	w(tk.Context, "Dockerfile", "FROM "+base+"\n"+dockerfileBody)
	w(tk.Context, ".dockerignore", IgnoredFile+"\n")
	w(tk.Context, ContextFile, "hello from the build context\n")
	w(tk.Context, IgnoredFile, "not sent to the engine\n")
	w(dir, "task.yaml", taskYAML)
	return tk
}

const pyproject = `[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "pbprimes"
version = "0.1.0"
description = "Counts the primes below n"
requires-python = ">=3.9"

[tool.setuptools.packages.find]
where = ["src"]
`

const slowModule = `"""Counts the primes below n."""


def count_primes(n):
    """The number of primes below n, by trial division."""
    count = 0
    for k in range(2, n):
        d = 2
        while d * d <= k:
            if k % d == 0:
                break
            d += 1
        else:
            count += 1
    return count
`

const fastModule = `"""Counts the primes below n."""


def count_primes(n):
    """The number of primes below n, by the sieve of Eratosthenes."""
    if n < 3:
        return 0
    sieve = bytearray([1]) * n
    sieve[0] = sieve[1] = 0
    for p in range(2, int(n ** 0.5) + 1):
        if sieve[p]:
            sieve[p * p::p] = bytes(len(range(p * p, n, p)))
    return sum(sieve)
`

const benchScript = `"""The benchmark: prints the number of primes below N (default 50000)."""
import sys

from pbprimes import count_primes

n = int(sys.argv[1]) if len(sys.argv) > 1 else 50000
print(count_primes(n))
`

// dockerfileBody follows the FROM line. The context lands in ContextDir,
// so a test can compare what the engine was sent with what is hashed.
const dockerfileBody = `COPY . ` + ContextDir + `
ENV PBPRIMES_GREETING_FILE=` + ContextDir + `/` + ContextFile + `
`

const taskYAML = `id: ` + TaskID + `
name: Count primes faster
description: A pure-Python task whose environment image is built from env/Dockerfile.
repo:
  url: ./repo
workload: "` + Workload + `"
env_build:
  dockerfile: env/Dockerfile
  workspace_setup: ["` + Setup + `"]
evaluation:
  setup: ["` + Setup + `"]
  correctness: ["test \"$(` + Workload + `)\" = ` + Output + `"]
  equivalence: exact
  rounds: 3
  warmup: 1
`
