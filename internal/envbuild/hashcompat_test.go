package envbuild

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/records"
)

// compatEngine answers InspectImage with fixed ids.
type compatEngine map[string]string

func (f compatEngine) InspectImage(ctx context.Context, ref string) (*container.Image, error) {
	return &container.Image{Ref: ref, ID: f[ref]}, nil
}

// compatTree writes files (name → content; a name ending in / is a
// directory, content "-> T" a symlink to T) under dir with exact modes,
// whatever the umask.
func compatTree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		data := files[n]
		switch {
		case n[len(n)-1] == '/':
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
		case len(data) > 3 && data[:3] == "-> ":
			if err := os.Symlink(data[3:], p); err != nil {
				t.Fatal(err)
			}
		default:
			if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Exact modes: the hash covers them.
	err := filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err != nil || p == dir || fi.Mode()&os.ModeSymlink != 0 {
			return err
		}
		mode := os.FileMode(0o644)
		if fi.IsDir() {
			mode = 0o755
		}
		if filepath.Base(p) == "run.sh" {
			mode = 0o750
		}
		return os.Chmod(p, mode)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// compatHashes are the hashes of typical contexts, computed by the same
// code on main's envbuild (hash v1) and on this one.
func compatHashes(t *testing.T) map[string]string {
	ctx := context.Background()
	eng := compatEngine{"python:3.12-slim": "sha256:1111", "base:1": "sha256:2222"}
	out := map[string]string{}
	hash := func(name string, s *Spec) {
		t.Helper()
		in, err := s.Inputs(ctx, eng, "linux/amd64")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out[name] = in.Hash()
	}
	common := map[string]string{
		"src/pkg/a.py": "print('a')\n", "src/pkg/__pycache__/a.pyc": "x", "debug.log": "l",
		"bin/run.sh": "#!/bin/sh\n", "bin/link": "-> ../src/pkg/a.py", "empty/": "",
		"requirements.txt": "numpy==2.0\n",
	}
	with := func(extra map[string]string) string {
		dir := t.TempDir()
		files := map[string]string{}
		for k, v := range common {
			files[k] = v
		}
		for k, v := range extra {
			files[k] = v
		}
		compatTree(t, dir, files)
		return dir
	}
	df := "FROM python:3.12-slim\nARG V\nCOPY . /src\n"

	// The Dockerfile at the context's root, kept and excluded.
	dir := with(map[string]string{"Dockerfile": df, ".dockerignore": "*.log\n**/__pycache__\n"})
	hash("root", &Spec{TaskID: "t", Strategy: StrategyDockerfile, Dockerfile: filepath.Join(dir, "Dockerfile"), Context: dir, Args: map[string]string{"V": "1"}})
	dir = with(map[string]string{"Dockerfile": df, ".dockerignore": "*.log\nDockerfile\n.dockerignore\n"})
	hash("root-excluded", &Spec{TaskID: "t", Strategy: StrategyDockerfile, Dockerfile: filepath.Join(dir, "Dockerfile"), Context: dir})
	// No .dockerignore.
	dir = with(map[string]string{"Dockerfile": df})
	hash("no-dockerignore", &Spec{TaskID: "t", Strategy: StrategyDockerfile, Dockerfile: filepath.Join(dir, "Dockerfile"), Context: dir})
	// In a subdirectory, kept; excluded with its directory sent anyway.
	dir = with(map[string]string{"docker/Dockerfile": df, "docker/entry.sh": "x"})
	hash("subdir-kept", &Spec{TaskID: "t", Strategy: StrategyDockerfile, Dockerfile: filepath.Join(dir, "docker/Dockerfile"), Context: dir})
	dir = with(map[string]string{"docker/Dockerfile": df, "docker/entry.sh": "x", ".dockerignore": "docker/Dockerfile\n"})
	hash("subdir-excluded-dir-sent", &Spec{TaskID: "t", Strategy: StrategyDockerfile, Dockerfile: filepath.Join(dir, "docker/Dockerfile"), Context: dir})
	// Outside the context.
	top := t.TempDir()
	compatTree(t, top, map[string]string{"Dockerfile": df})
	dir = with(map[string]string{".dockerignore": "*.log\n"})
	hash("outside", &Spec{TaskID: "t", Strategy: StrategyDockerfile, Dockerfile: filepath.Join(top, "Dockerfile"), Context: dir})
	// The requirements strategy.
	dir = with(nil)
	hash("requirements", &Spec{TaskID: "t", Strategy: StrategyRequirements, Requirements: filepath.Join(dir, "requirements.txt"), Context: dir, BaseImage: "base:1"})

	// An agent image's hash.
	a, err := agentHash(records.EnvImage{ID: "sha256:3333"}, Recipe{Agent: "x", Version: "1", Prefix: "/opt/perfbench/x", Files: map[string]File{"a": {Mode: 0o755, Data: []byte("a")}}}, []byte("FROM sha256:3333\n"), "", nil)
	if err != nil {
		t.Fatal(err)
	}
	out["agent"] = a
	return out
}

// mainV1Hashes were computed by compatHashes on main's envbuild (5ef1414,
// before the context tar; hash v1), the last scheme released: a run
// pinned with one of these contexts resumes after the upgrade.
var mainV1Hashes = map[string]string{
	"agent":                    "6b2268c2ab45270cd0e6123436a8262e67059e3e5403bae9930b706122afd325",
	"no-dockerignore":          "07fe32f95200c603e13bf71182d35d07ca92cfbb9c193d7e515be37c5a9fc0ea",
	"outside":                  "479cea692d9f4d5c5401248abbd0a8b0a4e56308d934d2085f44ad3cfe2089bf",
	"requirements":             "19812b3e7ef97ec7d63037d5ae5c2f80751b813328558c7c1adc89defe1bd367",
	"root":                     "44e2ed3aee86debcd72e2f3be397b01eaafa1715b051b5e76f9a7182c4d0714b",
	"root-excluded":            "c7e77a41778fdd9d7ae1d9e77a5e4e2f709e9e4dab2b44e6337520ef7e833b6f",
	"subdir-excluded-dir-sent": "06d7aa2e47bb20feca341f4b97479464f459592889ed7d01b5ce5f744774685b",
	"subdir-kept":              "0f834d9eea7971a26e4a8f09e1aca31e492c33dde0dddcaf8a9e2fe518daec45",
}

// The hash stays v1's wherever the Dockerfile's path cannot change the
// image: at the context's root, outside it, generated, or in a directory
// the context sends anyway.
func TestHashCompatibleWithV1(t *testing.T) {
	got := compatHashes(t)
	for name, want := range mainV1Hashes {
		if got[name] != want {
			t.Errorf("%s: hash %s, main's (v1) %s", name, got[name], want)
		}
	}
	if len(got) != len(mainV1Hashes) {
		t.Errorf("%d hashes, %d golden", len(got), len(mainV1Hashes))
		for name, h := range got {
			t.Logf("%q: %q,", name, h)
		}
	}
}

// Only a directory the Dockerfile's path alone puts in the image brings
// the path into the hash.
func TestDockerfileDirsMade(t *testing.T) {
	files := func(paths ...string) []ContextFile {
		var out []ContextFile
		for _, p := range paths {
			out = append(out, ContextFile{Path: p})
		}
		return out
	}
	for _, tc := range []struct {
		df    string
		files []ContextFile
		want  bool
	}{
		{"Dockerfile", files("a"), false},
		{".perfbench-dockerfile", nil, false},
		{"docker/Dockerfile", files("docker", "docker/Dockerfile"), false}, // kept
		{"docker/Dockerfile", files("docker", "docker/x"), false},          // its directory sent
		{"docker/Dockerfile", files("docker/keep"), false},                 // made for another entry
		{"docker/Dockerfile", files("dockerx", "src"), true},
		{"a/b/Dockerfile", files("a", "a/c"), true}, // a/b made for it alone
		{"a/b/Dockerfile", files("a/b/c"), false},
	} {
		in := &Inputs{DockerfilePath: tc.df, Files: tc.files}
		if got := in.dockerfileDirsMade(); got != tc.want {
			t.Errorf("%s with %v: %t, want %t", tc.df, tc.files, got, tc.want)
		}
	}
}
