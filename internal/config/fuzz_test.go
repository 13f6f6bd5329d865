package config

import (
	"errors"
	"os"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/perfbench/perfbench/internal/secrets"
)

// checkLoadError asserts what every loader error promises: one line,
// naming the file, bad input.
func checkLoadError(t *testing.T, file string, err error) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\r\n") {
		t.Fatalf("error spans lines: %q", msg)
	}
	if !strings.HasPrefix(msg, file+":") {
		t.Fatalf("error does not start with the file: %q", msg)
	}
	var cerr *Error
	if !errors.As(err, &cerr) || !isBadInput(err) {
		t.Fatalf("error %T is not a bad-input *config.Error: %v", err, err)
	}
}

func addSeedCorpus(f *testing.F, files ...string) {
	for _, file := range files {
		src, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
	}
	for _, s := range []string{
		"", "id: x\nrepo: {url: u}\n", "- a\n", "a: &a [*a]\n", "a: !!str\n", "? [a]\n: b\n",
		"x: &a {p: 1}\ny:\n  <<: *a\n", "<<: [1]\n", "id: ${X:-y}\nrepo: {url: \"${U:?need}\"}\n",
		"id: x\nrepo:\n  url: u\n  pairs:\n    - human: h\n      evaluation: {metric: {regex: '(a)'}}\n",
		"a: 1\n---\n", "id: x\nrepo: {url: \"\xff\"}\n", "agents:\n  noop:\n  default: noop\n", "container:\n  cpus: '${C:-2}'\n",
		"id: x\nrepo: {url: u}\npatch:\n  exclude: ['!*.py[co]', 'build/', \"a\\nb\", '#c', '!']\n",
		"id: x\nrepo: {url: u}\nenv_build:\n  dockerfile: env/Dockerfile\n  context: env/\n  args: {PYTHON: 3.12, API_KEY: x}\n  workspace_setup: [make]\n  setup_timeout: 5m\n",
		"id: x\nrepo: {url: u}\nenv_build:\n  allowed_strategies: [requirements, dockerfile, conda]\n  params: {dockerfile_path: D, requirements_file: r.txt}\n  base_image: py\n",
		"id: x\nrepo: {url: u}\nenvironment: {image: i}\nenv_build:\n  params: {dockerfile_path: null, requirements_file: null}\n  setup_timeout: -1s\n",
	} {
		f.Add([]byte(s))
	}
}

// FuzzLoadTask feeds arbitrary bytes as a task file: the loader must never
// panic, and its errors must keep the one-line promise.
func FuzzLoadTask(f *testing.F) {
	addSeedCorpus(f, seedTask, seedBench)
	env := envOf(map[string]string{"X": "1.5", "C": "4"})
	f.Fuzz(func(t *testing.T, src []byte) {
		task, err := parseTask("t.yaml", src, env)
		if err != nil {
			checkLoadError(t, "t.yaml", err)
			return
		}
		if !utf8.Valid(src) {
			t.Fatalf("task with invalid UTF-8 accepted: %q", src)
		}
		if !taskIDPattern.MatchString(task.ID) || task.Repo.URL == "" || task.Repo.PreParentIndex < 1 {
			t.Fatalf("invalid task accepted: %+v", task)
		}
		// An env_build that builds has one known strategy, its file, and
		// no ready-made image beside it.
		if e := task.EnvBuild; e.NamesFile() {
			switch {
			case task.Environment.Image != "":
				t.Fatalf("environment.image beside env_build accepted: %+v", e)
			case e.Strategy == "dockerfile" && e.DockerfilePath() == "",
				e.Strategy == "requirements" && (e.Params.RequirementsFile == "" || e.BaseImage == ""),
				e.Strategy != "dockerfile" && e.Strategy != "requirements":
				t.Fatalf("invalid env_build accepted: %+v", e)
			}
		}
		for name := range task.EnvBuild.Args {
			if secrets.LooksSecret(name) {
				t.Fatalf("secret-looking build arg accepted: %q", name)
			}
		}
		if task.EnvBuild.SetupTimeout <= 0 {
			t.Fatalf("setup_timeout %s accepted", task.EnvBuild.SetupTimeout)
		}
		// Each pattern becomes one line of a gitignore file.
		for _, e := range task.Patch.Excludes() {
			if strings.TrimSpace(strings.TrimPrefix(e, "!")) == "" || strings.ContainsAny(e, "\x00\r\n") || strings.HasPrefix(e, "#") || strings.HasPrefix(e, "!") {
				t.Fatalf("invalid exclude pattern accepted: %q", e)
			}
		}
	})
}

// FuzzLoadBench is FuzzLoadTask for bench.yaml.
func FuzzLoadBench(f *testing.F) {
	addSeedCorpus(f, seedBench, seedTask)
	env := envOf(map[string]string{"X": "1.5", "C": "4"})
	f.Fuzz(func(t *testing.T, src []byte) {
		b, err := parseBench("b.yaml", "/srv", src, env, testKinds)
		if err != nil {
			checkLoadError(t, "b.yaml", err)
			return
		}
		if !utf8.Valid(src) {
			t.Fatalf("bench.yaml with invalid UTF-8 accepted: %q", src)
		}
		for _, a := range b.Agents.Entries {
			if a.Type == "" || a.Limits.KillGrace <= 0 || a.Limits.Timeout < 0 {
				t.Fatalf("invalid agent accepted: %+v", a)
			}
		}
		if _, err := b.Agent(""); err != nil && !isBadInput(err) {
			t.Fatalf("Agent(\"\"): %v", err)
		}
	})
}
