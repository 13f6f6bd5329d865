package envbuild

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/container"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// fakeEngine answers InspectImage from a map of ref → id.
type fakeEngine map[string]string

func (f fakeEngine) InspectImage(ctx context.Context, ref string) (*container.Image, error) {
	id, ok := f[ref]
	if !ok {
		return nil, fmt.Errorf("%s: %w", ref, container.ErrNoImage)
	}
	return &container.Image{Ref: ref, ID: id}, nil
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// loadTask writes a task file with this env_build section into dir and
// loads it.
func loadTask(t *testing.T, dir, envBuild string) *config.Task {
	t.Helper()
	p := filepath.Join(dir, "task.yaml")
	if err := os.WriteFile(p, []byte("id: My_Task\nrepo: {url: u}\nenv_build:\n"+envBuild), 0o644); err != nil {
		t.Fatal(err)
	}
	task, err := config.LoadTask(p, config.Vars{})
	if err != nil {
		t.Fatal(err)
	}
	return task
}

func TestFromTask(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"env/Dockerfile": "FROM scratch\n", "env/req/requirements.txt": "", "ctx/a": "a"})
	s, err := FromTask(loadTask(t, dir, "  dockerfile: env/Dockerfile\n  args: {PY: '3'}\n  workspace_setup: [make]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Strategy != StrategyDockerfile || s.Dockerfile != filepath.Join(dir, "env/Dockerfile") || s.Context != filepath.Join(dir, "env") ||
		s.Args["PY"] != "3" || s.TaskID != "My_Task" || s.TaskPath != filepath.Join(dir, "task.yaml") || s.SetupTimeout != DefaultSetupTimeout || !slices.Equal(s.WorkspaceSetup, []string{"make"}) {
		t.Errorf("spec = %+v", s)
	}
	s, err = FromTask(loadTask(t, dir, "  dockerfile: env/Dockerfile\n  context: ctx\n"))
	if err != nil || s.Context != filepath.Join(dir, "ctx") {
		t.Errorf("context: %+v, %v", s, err)
	}
	s, err = FromTask(loadTask(t, dir, "  params: {requirements_file: env/req/requirements.txt}\n  base_image: py:3\n  context: env\n"))
	if err != nil || s.Strategy != StrategyRequirements || s.Dockerfile != "" || s.Context != filepath.Join(dir, "env") || s.Requirements != filepath.Join(dir, "env/req/requirements.txt") {
		t.Errorf("requirements: %+v, %v", s, err)
	}
	// Nothing named: nothing built.
	if s, err := FromTask(loadTask(t, dir, "  allowed_strategies: [dockerfile]\n  params: {dockerfile_path: null}\n")); s != nil || err != nil {
		t.Errorf("no file: %+v, %v", s, err)
	}
	// A missing file, a requirements file outside the context: bad input
	// at the key.
	for _, tc := range []struct{ src, want string }{
		{"  dockerfile: env/Dockerfile.gone\n", `task.yaml:4:15: env_build.dockerfile: no such file: "env/Dockerfile.gone"`},
		{"  params: {requirements_file: env/req/requirements.txt}\n  base_image: py\n  context: ctx\n", `task.yaml:4:31: env_build.params.requirements_file: must be inside the build context`},
	} {
		_, err := FromTask(loadTask(t, dir, tc.src))
		var cerr *config.Error
		if !errors.As(err, &cerr) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v, want %s", tc.src, err, tc.want)
		}
	}
}

// A .dockerignore pattern the docker client would refuse is bad input at
// its line (validate and build both resolve the spec).
func TestFromTaskBadDockerignore(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"env/Dockerfile": "FROM scratch\n", "env/.dockerignore": "# ok\n*.log\n\n[\n"})
	_, err := FromTask(loadTask(t, dir, "  dockerfile: env/Dockerfile\n"))
	var cerr *config.Error
	want := filepath.Join(dir, "env/.dockerignore") + `:4:1: bad pattern "["`
	if !errors.As(err, &cerr) || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want %s…", err, want)
	}
}

func TestGeneratedDockerfileGolden(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"env/deps/requirements dev.txt": "numpy==2.0\n"})
	s, err := FromTask(loadTask(t, dir, "  allowed_strategies: [requirements, dockerfile]\n  params:\n    requirements_file: env/deps/requirements dev.txt\n  context: env\n  base_image: localhost/python:3.12-slim\n  args: {PIP_NO_INDEX: '1', PIP_FIND_LINKS: /wheels}\n"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.DockerfileBytes()
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "requirements.Dockerfile")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != string(want) {
		t.Errorf("generated Dockerfile:\n%s\nwant (go test -update to rewrite):\n%s", got, want)
	}
	if b := Bases(got, s.Args); !slices.Equal(b, []string{"localhost/python:3.12-slim"}) {
		t.Errorf("bases of the generated Dockerfile = %q", b)
	}
}

func TestTagHostileIDs(t *testing.T) {
	const hash = "0123456789abcdef0123456789abcdef"
	valid := regexp.MustCompile(`^perfbench-env/[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*:[a-f0-9]{16}$`)
	for id, want := range map[string]string{
		"vllm_core":               "vllm_core",
		"My.Task-1":               "my.task-1",
		"UPPER":                   "upper",
		"a..b":                    "a-b",
		"a___b":                   "a-b",
		"a__b":                    "a__b",
		"a---b":                   "a---b",
		"_lead.trail-":            "lead.trail",
		"a/b:c@d":                 "a-b-c-d",
		"../../etc/passwd":        "etc-passwd",
		"":                        "task",
		"...":                     "task",
		"ünïcödé":                 "n-c-d",
		"a\nb":                    "a-b",
		"x._y":                    "x-y",
		strings.Repeat("ab", 200): strings.Repeat("ab", 64),
	} {
		got := Tag(id, hash)
		if got != "perfbench-env/"+want+":0123456789abcdef" {
			t.Errorf("Tag(%q) = %q, want component %q", id, got, want)
		}
		if !valid.MatchString(got) || len(got) > 255 {
			t.Errorf("Tag(%q) = %q is not a valid tag", id, got)
		}
	}
}

func TestBases(t *testing.T) {
	df := "# syntax=docker/dockerfile:1\n" +
		"# escape=`\n" +
		"ARG PY=3.11\n" +
		"ARG REG\n" +
		"ARG DIST=\"bookworm\"\n" +
		"FROM ${REG:-local}/python:${PY}-$DIST AS Builder\n" +
		"# a comment\n" +
		"RUN make `\n" +
		"  # inside\n" +
		"  all\n" +
		"from --platform=$BUILDPLATFORM builder as second\n" +
		"FROM scratch\n" +
		"COPY --from=builder /a /a\n" +
		"COPY --from=0 /a /a\n" +
		"COPY --from=tools:1 /t /t\n" +
		"ARG LATE=x\n" +
		"FROM base:$LATE\n" +
		"FROM `\n  busybox:1\n" +
		"FROM second\n"
	got := Bases([]byte(df), nil)
	want := []string{"docker/dockerfile:1", "local/python:3.11-bookworm", "tools:1", "base:", "busybox:1"}
	if !slices.Equal(got, want) {
		t.Errorf("Bases = %q, want %q", got, want)
	}
	got = Bases([]byte(df), map[string]string{"PY": "3.12", "REG": "r.example", "LATE": "ignored"})
	want[1] = "r.example/python:3.12-bookworm"
	if !slices.Equal(got, want) {
		t.Errorf("Bases with build args = %q, want %q", got, want)
	}
}

// hashDir builds a dockerfile-strategy spec over dir.
func hashSpec(dir string, args map[string]string) *Spec {
	return &Spec{TaskID: "t", Strategy: StrategyDockerfile, Dockerfile: filepath.Join(dir, "Dockerfile"), Context: dir, Args: args}
}

func TestHashCovers(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile":    "ARG BASE=base:1\nFROM $BASE\nCOPY . /ctx\n",
		".dockerignore": "*.log\nbuild/\n!build/keep\n",
		"src/a.py":      "print(1)\n",
		"run.sh":        "#!/bin/sh\n",
	})
	eng := fakeEngine{"base:1": "sha256:aaa", "base:2": "sha256:bbb"}
	hash := func() string {
		t.Helper()
		h, err := hashSpec(dir, nil).Hash(ctx, eng, "")
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	h0 := hash()
	if len(h0) != 64 || hash() != h0 {
		t.Fatalf("hash %q is not stable", h0)
	}
	seen := map[string]string{h0: "initial"}
	changed := func(what string, h string) {
		t.Helper()
		if prev, ok := seen[h]; ok {
			t.Errorf("%s: hash unchanged (same as after %s)", what, prev)
		}
		seen[h] = what
	}
	same := func(what string, h string) {
		t.Helper()
		if h != h0 {
			t.Errorf("%s changed the hash", what)
		}
	}
	// Ignored files do not count.
	writeFiles(t, dir, map[string]string{"debug.log": "x", "build/out.o": "x"})
	same("an ignored file", hash())
	// As docker's, *.log matches at the context's root only.
	writeFiles(t, dir, map[string]string{"src/x.log": "y"})
	changed("a .log file below the root", hash())
	writeFiles(t, dir, map[string]string{"src/a.py": "print(2)\n"})
	changed("a changed file", hash())
	if err := os.Chmod(filepath.Join(dir, "run.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
	changed("a chmod", hash())
	writeFiles(t, dir, map[string]string{"build/keep": "k"})
	changed("a file an exception keeps", hash())
	if err := os.Symlink("src/a.py", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	changed("a new symlink", hash())
	os.Remove(filepath.Join(dir, "link"))
	if err := os.Symlink("run.sh", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	changed("a symlink's target", hash())
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	changed("an empty directory", hash())
	writeFiles(t, dir, map[string]string{".dockerignore": "*.log\nbuild/\n!build/keep\n# comment\n"})
	changed("the .dockerignore", hash())
	writeFiles(t, dir, map[string]string{"Dockerfile": "ARG BASE=base:1\nFROM $BASE\nCOPY . /ctx\n\n"})
	changed("the Dockerfile", hash())
	base := hash()
	h, err := hashSpec(dir, map[string]string{"X": "1"}).Hash(ctx, eng, "")
	if err != nil {
		t.Fatal(err)
	}
	changed("an arg", h)
	h, _ = hashSpec(dir, map[string]string{"X": "2"}).Hash(ctx, eng, "")
	changed("an arg's value", h)
	h, _ = hashSpec(dir, map[string]string{"BASE": "base:2"}).Hash(ctx, eng, "")
	changed("a build arg choosing another base", h)
	h, _ = hashSpec(dir, nil).Hash(ctx, eng, "linux/amd64")
	changed("the platform", h)
	eng["base:1"] = "sha256:rebuilt"
	changed("a rebuilt base", hash())
	if h := hash(); h == base {
		t.Error("the base's id is not in the hash")
	}
	// A missing base is an error naming it.
	_, err = hashSpec(dir, map[string]string{"BASE": "nowhere:9"}).Hash(ctx, eng, "")
	if !errors.Is(err, container.ErrNoImage) || !strings.Contains(err.Error(), "nowhere:9") {
		t.Errorf("missing base: %v", err)
	}
}

func TestContextFilesFollowDockerignore(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile": "x", "keep.txt": "k", "a.log": "l", "cache/x": "c", "cache/sub/y": "c",
		"docs/keep.md": "m", "docs/drop.md": "d", "deep/a/b.tmp": "t", "deep/a/c": "c",
	})
	ignore := []byte("*.log\ncache\ndocs\n!docs/keep.md\n**/*.tmp\nDockerfile\n")
	files, err := ContextFiles(dir, ignore)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	want := []string{"deep", "deep/a", "deep/a/c", "docs/keep.md", "keep.txt"}
	if !slices.Equal(paths, want) {
		t.Errorf("kept %q, want %q", paths, want)
	}
	if _, err := ContextFiles(dir, []byte("[\n")); err == nil {
		t.Error("a bad pattern is accepted")
	}
}

func TestBuildArgv(t *testing.T) {
	r := &buildRequest{Dockerfile: "/t/Dockerfile", Context: "/t", Tag: "perfbench-env/x:1", NoCache: true, Platform: "linux/amd64",
		Labels: map[string]string{LabelTask: "X", LabelKind: KindEnv}, Args: map[string]string{"B": "2", "A": "1"}}
	got := strings.Join(r.argv("docker"), " ")
	want := "docker build --force-rm -f /t/Dockerfile -t perfbench-env/x:1 --label perfbench.image=env --label perfbench.task=X --no-cache --platform linux/amd64 --build-arg A=1 --build-arg B=2 /t"
	if got != want {
		t.Errorf("argv:\n got %s\nwant %s", got, want)
	}
	if strings.Contains(got, "--pull") {
		t.Error("build pulls")
	}
	// podman pulls a missing base by default: never.
	if got := strings.Join(r.argv("/usr/bin/podman"), " "); !strings.HasPrefix(got, "/usr/bin/podman build --force-rm -f /t/Dockerfile -t perfbench-env/x:1 --pull=never --label") {
		t.Errorf("podman argv: %s", got)
	}
}
