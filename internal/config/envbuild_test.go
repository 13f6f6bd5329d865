package config

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

const envBase = "id: x\nrepo: {url: u}\n"

func TestEnvBuildSeedShapeBuildsNothing(t *testing.T) {
	task, err := LoadTask(seedTask, Vars{})
	if err != nil {
		t.Fatal(err)
	}
	e := task.EnvBuild
	if e.NamesFile() || e.Strategy != "" {
		t.Errorf("seed env_build names a file: %+v", e)
	}
	if !slices.Equal(e.AllowedStrategies, []string{"dockerfile", "requirements"}) {
		t.Errorf("allowed_strategies = %q", e.AllowedStrategies)
	}
	if time.Duration(e.SetupTimeout) != DefaultSetupTimeout {
		t.Errorf("setup_timeout = %s, want the default", e.SetupTimeout)
	}
	if err := task.CheckEnvBuildFiles(); err != nil {
		t.Errorf("CheckEnvBuildFiles on a section naming no file: %v", err)
	}
	// A task without the section gets the default timeout too.
	plain, err := parseTask("t.yaml", []byte(envBase), Vars{})
	if err != nil || time.Duration(plain.EnvBuild.SetupTimeout) != DefaultSetupTimeout || plain.EnvBuild.NamesFile() {
		t.Errorf("task without env_build = %+v, %v", plain.EnvBuild, err)
	}
}

func TestEnvBuildShapes(t *testing.T) {
	for _, tc := range []struct {
		name, src                 string
		strategy, dockerfile, req string
	}{
		{"new keys", "env_build:\n  dockerfile: env/Dockerfile\n  context: env/\n  args: {PYTHON: 3.12}\n  workspace_setup: [\"pip install -e .\"]\n  setup_timeout: 5m\n",
			"dockerfile", "env/Dockerfile", ""},
		{"seed dockerfile", "env_build:\n  allowed_strategies: [dockerfile, requirements]\n  params: {dockerfile_path: d/Dockerfile, requirements_file: null}\n",
			"dockerfile", "d/Dockerfile", ""},
		{"seed requirements", "env_build:\n  allowed_strategies: [dockerfile, requirements]\n  params: {dockerfile_path: null, requirements_file: r.txt}\n  base_image: py:1\n",
			"requirements", "", "r.txt"},
		{"both params, dockerfile first", "env_build:\n  allowed_strategies: [dockerfile, requirements]\n  params: {dockerfile_path: D, requirements_file: r.txt}\n",
			"dockerfile", "D", "r.txt"},
		{"both params, requirements first", "env_build:\n  allowed_strategies: [requirements, dockerfile]\n  params: {dockerfile_path: D, requirements_file: r.txt}\n  base_image: py:1\n",
			"requirements", "D", "r.txt"},
		{"no allowed_strategies: dockerfile first", "env_build:\n  dockerfile: D\n  params: {requirements_file: r.txt}\n",
			"dockerfile", "D", "r.txt"},
		{"workspace_setup alone", "env_build:\n  workspace_setup: [make]\n", "", "", ""},
	} {
		task, err := parseTask("t.yaml", []byte(envBase+tc.src), Vars{})
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		e := task.EnvBuild
		if e.Strategy != tc.strategy || e.DockerfilePath() != tc.dockerfile || e.Params.RequirementsFile != tc.req {
			t.Errorf("%s: strategy %q dockerfile %q requirements %q", tc.name, e.Strategy, e.DockerfilePath(), e.Params.RequirementsFile)
		}
	}
	task, err := parseTask("t.yaml", []byte(envBase+"env_build:\n  dockerfile: env/Dockerfile\n  args: {PYTHON: 3.12, A_B: x}\n  setup_timeout: 5m\n  workspace_setup: [a, b]\n"), Vars{})
	if err != nil {
		t.Fatal(err)
	}
	e := task.EnvBuild
	if e.Args["PYTHON"] != "3.12" || !slices.Equal(e.SortedArgs(), []string{"A_B", "PYTHON"}) || time.Duration(e.SetupTimeout) != 5*time.Minute || !slices.Equal(e.WorkspaceSetup, []string{"a", "b"}) {
		t.Errorf("env_build = %+v", e)
	}
	if e.DockerfilePos.Line != 4 || e.ArgPos["PYTHON"].Line != 5 {
		t.Errorf("positions: dockerfile %v, arg %v", e.DockerfilePos, e.ArgPos["PYTHON"])
	}
}

func TestEnvBuildErrors(t *testing.T) {
	for _, tc := range []struct{ name, src, want string }{
		{"dockerfile and params.dockerfile_path",
			"env_build:\n  params: {dockerfile_path: a}\n  dockerfile: b\n",
			`t.yaml:5:3: env_build.dockerfile: conflicts with env_build.params.dockerfile_path (set at line 4); set only one`},
		{"environment.image with a file",
			"env_build:\n  dockerfile: env/Dockerfile\nenvironment:\n  image: busybox:1\n",
			`t.yaml:6:10: environment.image: conflicts with env_build's dockerfile (set at line 4): the image is either built from the task (bench build) or named ready-made; set only one`},
		{"environment.image with the seed's requirements file",
			"environment: {image: py}\nenv_build:\n  base_image: py\n  params: {requirements_file: r.txt}\n",
			`t.yaml:3:22: environment.image: conflicts with env_build's params.requirements_file (set at line 6): the image is either built from the task (bench build) or named ready-made; set only one`},
		{"requirements without base_image",
			"env_build:\n  allowed_strategies: [requirements]\n  params:\n    requirements_file: req.txt\n",
			`t.yaml:6:24: env_build.base_image: required by the requirements strategy (the local image its generated Dockerfile starts FROM, such as python:3.12-slim; perfbench never pulls)`},
		{"unknown strategy",
			"env_build:\n  allowed_strategies: [dockerfile, conda]\n",
			`t.yaml:4:36: env_build.allowed_strategies[1]: expected one of dockerfile, requirements, got "conda"`},
		{"strategy twice",
			"env_build:\n  allowed_strategies: [dockerfile, dockerfile]\n",
			`t.yaml:4:36: env_build.allowed_strategies[1]: dockerfile is listed twice`},
		{"file of a strategy not allowed",
			"env_build:\n  allowed_strategies: [requirements]\n  dockerfile: D\n",
			`t.yaml:5:15: env_build.dockerfile: names a file for the dockerfile strategy, which allowed_strategies (requirements) does not list`},
		{"secret-looking arg",
			"env_build:\n  dockerfile: D\n  args:\n    PYTHON: '3'\n    HF_TOKEN: abc\n",
			`t.yaml:7:5: env_build.args.HF_TOKEN: looks like a secret (KEY, TOKEN, SECRET, PASSWORD in the name): build args stay visible in the image history; give credentials to the build another way`},
		{"a password in an arg's URL",
			"env_build:\n  dockerfile: D\n  args:\n    PIP_INDEX_URL: https://me:hunter2@pypi.example/simple\n",
			`t.yaml:6:5: env_build.args.PIP_INDEX_URL: holds a password in a URL (scheme://user:password@host): build args stay visible in the image history; give credentials to the build another way`},
		{"bad arg name",
			"env_build:\n  dockerfile: D\n  args: {\"A B\": x}\n",
			`t.yaml:5:10: env_build.args.A B: expected a build arg name (letters, digits, _), got "A B"`},
		{"base_image with a Dockerfile",
			"env_build:\n  dockerfile: D\n  base_image: py\n",
			`t.yaml:5:15: env_build.base_image: applies to the requirements strategy only (params.requirements_file); a Dockerfile names its own FROM`},
		{"context without a file",
			"env_build:\n  context: env/\n",
			`t.yaml:4:12: env_build.context: needs a file to build: dockerfile, params.dockerfile_path or params.requirements_file`},
		{"bad setup_timeout",
			"env_build:\n  setup_timeout: soon\n",
			`t.yaml:4:18: env_build.setup_timeout: expected a Go duration such as 90s, got "soon"`},
		{"negative setup_timeout",
			"env_build:\n  setup_timeout: -1s\n",
			`t.yaml:4:18: env_build.setup_timeout: must not be negative, got -1s`},
		{"empty setup command",
			"env_build:\n  workspace_setup: ['  ']\n",
			`t.yaml:4:21: env_build.workspace_setup[0]: expected a shell command, got an empty string`},
		{"unknown key",
			"env_build:\n  dockerfil: D\n",
			`t.yaml:4:3: env_build: unknown field "dockerfil" (did you mean "dockerfile"? expected one of: allowed_strategies, params, dockerfile, context, args, base_image, workspace_setup, setup_timeout)`},
		{"unknown param",
			"env_build:\n  params: {conda_file: x}\n",
			`t.yaml:4:12: env_build.params: unknown field "conda_file" (expected one of: dockerfile_path, requirements_file)`},
	} {
		_, err := parseTask("t.yaml", []byte(envBase+tc.src), Vars{})
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		checkLoadError(t, "t.yaml", err)
		if err.Error() != tc.want {
			t.Errorf("%s:\n got %s\nwant %s", tc.name, err, tc.want)
		}
	}
}

func TestCheckEnvBuildFiles(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "env", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"env/Dockerfile", "env/req.txt"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte("x\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	load := func(src string) *Task {
		t.Helper()
		path := filepath.Join(dir, "task.yaml")
		if err := os.WriteFile(path, []byte(envBase+src), 0o644); err != nil {
			t.Fatal(err)
		}
		task, err := LoadTask(path, Vars{})
		if err != nil {
			t.Fatal(err)
		}
		return task
	}
	ok := []string{
		"env_build:\n  dockerfile: env/Dockerfile\n  context: env/sub\n",
		"env_build:\n  params: {dockerfile_path: env/Dockerfile, requirements_file: env/req.txt}\n",
		"env_build:\n  params: {requirements_file: env/req.txt}\n  base_image: py\n",
	}
	for _, src := range ok {
		if err := load(src).CheckEnvBuildFiles(); err != nil {
			t.Errorf("%q: %v", src, err)
		}
	}
	for _, tc := range []struct{ src, want string }{
		{"env_build:\n  dockerfile: env/Dockerfil\n", `:4:15: env_build.dockerfile: no such file: "env/Dockerfil" (relative to the task file)`},
		{"env_build:\n  params:\n    dockerfile_path: env\n", `:5:22: env_build.params.dockerfile_path: expected a file, got a directory: "env"`},
		{"env_build:\n  params: {dockerfile_path: env/Dockerfile, requirements_file: nope.txt}\n", `:4:64: env_build.params.requirements_file: no such file: "nope.txt" (relative to the task file)`},
		{"env_build:\n  dockerfile: env/Dockerfile\n  context: env/Dockerfile\n", `:5:12: env_build.context: expected a directory (the build context), got a file: "env/Dockerfile"`},
		{"env_build:\n  dockerfile: env/Dockerfile\n  context: gone/\n", `:5:12: env_build.context: no such file: "gone/" (relative to the task file)`},
	} {
		err := load(tc.src).CheckEnvBuildFiles()
		if err == nil {
			t.Errorf("%q: accepted", tc.src)
			continue
		}
		if !isBadInput(err) || !strings.HasSuffix(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), filepath.Join(dir, "task.yaml")+":") {
			t.Errorf("%q:\n got %s\nwant …%s", tc.src, err, tc.want)
		}
	}
}

// SetupWarning: a workspace_setup that runs while evaluation sets nothing
// up is warned about, at workspace_setup's key; the task's
// evaluation.setup, every pair's own, or no workspace_setup is not; with
// some pairs setting theirs, the others are named. An env_build naming
// no file still runs its workspace_setup, so it is warned about too.
func TestSetupWarning(t *testing.T) {
	const file = "env_build:\n  dockerfile: env/Dockerfile\n  workspace_setup: [\"pip install -e .\"]\n"
	for _, tc := range []struct {
		name, yaml, repo, want string
	}{
		{"no evaluation.setup", file, "", "t.yaml:6:3: env_build.workspace_setup: evaluation does not run it and evaluation.setup is empty"},
		{"evaluation.setup", file + "evaluation: {setup: [\"pip install -e .\"]}\n", "", ""},
		{"every pair's setup", file, "  pairs:\n    - human: h\n      evaluation: {setup: [make]}\n    - human: h2\n      evaluation: {setup: [make]}\n", ""},
		{"a pair without", file, "  pairs:\n    - human: h\n      evaluation: {rounds: 12}\n", "t.yaml:"},
		// A pair's setup covers that pair only: h2 and h3 are timed
		// without the install.
		{"some pairs without", file, "  pairs:\n    - human: h\n      evaluation: {setup: [make]}\n    - human: h2\n    - human: h3\n      evaluation: {rounds: 12}\n",
			`t.yaml:12:3: env_build.workspace_setup: evaluation does not run it, evaluation.setup is empty and the pairs of human "h2", "h3" set none of their own`},
		{"task setup, a pair without", file + "evaluation: {setup: [\"pip install -e .\"]}\n", "  pairs:\n    - human: h\n      evaluation: {setup: [make]}\n    - human: h2\n", ""},
		{"no workspace_setup", "env_build:\n  dockerfile: env/Dockerfile\n", "", ""},
		{"no file to build", "env_build:\n  workspace_setup: [make]\n", "", "t.yaml:5:3: env_build.workspace_setup: evaluation does not run it"},
	} {
		task, err := parseTask("t.yaml", []byte("id: x\nrepo:\n  url: u\n"+tc.repo+tc.yaml), Vars{})
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := task.SetupWarning()
		if (tc.want == "") != (got == "") || !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: warning %q, want %q…", tc.name, got, tc.want)
		}
	}
}
