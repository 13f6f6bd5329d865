package agent_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/agent/all"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/envbuild"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenEnvID stands for the environment image's id in the goldens.
const goldenEnvID = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

// TestRecipeGoldens renders every kind's agent Dockerfile, as `bench build
// --agent X --print` prints it, against testdata/recipes/<type>.Dockerfile.golden.
func TestRecipeGoldens(t *testing.T) {
	n := 0
	for _, k := range all.Kinds() {
		if k.Recipe == nil {
			continue
		}
		n++
		t.Run(k.Type, func(t *testing.T) {
			r := k.Recipe()
			if err := r.Check(); err != nil {
				t.Fatalf("recipe: %v", err)
			}
			got := envbuild.AgentDockerfile(goldenEnvID, r)
			if !bytes.Equal(got, envbuild.AgentDockerfile(goldenEnvID, k.Recipe())) {
				t.Fatal("AgentDockerfile is not deterministic")
			}
			path := filepath.Join("testdata", "recipes", k.Type+".Dockerfile.golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs (run with -update):\n%s", path, got)
			}
		})
	}
	if n != 6 {
		t.Errorf("%d kinds have a recipe, want the six external agents", n)
	}
}

// TestRecipesPinned checks what every recipe promises: its own prefix,
// one exact version inside the adapter's checked range, that version in
// the compatibility matrix, the version in the Dockerfile's labels and
// install command, and nothing that moves (latest, unpinned ranges).
func TestRecipesPinned(t *testing.T) {
	matrix, err := os.ReadFile(filepath.Join("..", "..", "docs", "agents", "compatibility.md"))
	if err != nil {
		t.Fatal(err)
	}
	exact := regexp.MustCompile(`^[0-9]+\.[0-9]+\.[0-9]+(\+g[0-9a-f]{12})?$`)
	for _, k := range all.Kinds() {
		if k.Recipe == nil {
			continue
		}
		r := k.Recipe()
		if r.Agent != k.Type || r.Prefix != agent.Prefix(k.Type) || r.Prefix != envbuild.AgentRoot+"/"+k.Type {
			t.Errorf("%s: agent %q prefix %q", k.Type, r.Agent, r.Prefix)
		}
		if !exact.MatchString(r.Version) {
			t.Errorf("%s: version %q is not one exact version", k.Type, r.Version)
		}
		if v, ok := agent.ParseVersion(r.Version); !ok || !k.Checked.Contains(v) {
			t.Errorf("%s: version %s is outside the checked range %s", k.Type, r.Version, k.Checked)
		}
		if !bytes.Contains(matrix, []byte("`"+r.Version+"`")) {
			t.Errorf("%s: version %s is not in docs/agents/compatibility.md", k.Type, r.Version)
		}
		df := string(envbuild.AgentDockerfile(goldenEnvID, r))
		if !strings.Contains(df, envbuild.LabelAgentVersion+`="`+r.Version+`"`) || !strings.Contains(df, envbuild.LabelAgent+`="`+k.Type+`"`) {
			t.Errorf("%s: labels missing:\n%s", k.Type, df)
		}
		if strings.Contains(strings.ToLower(df), "latest") {
			t.Errorf("%s: the recipe installs a moving version:\n%s", k.Type, df)
		}
		for _, l := range r.Lines {
			// Nothing may go to the environment's own prefixes or PATH:
			// only the agent's prefix and its links in AgentBin.
			for _, bad := range []string{"pip install", "ENV PATH", "/usr/local/bin", "npm install -g"} {
				if strings.Contains(l, bad) && !strings.Contains(l, r.Prefix) {
					t.Errorf("%s: line %q touches the environment (%s)", k.Type, l, bad)
				}
			}
		}
	}
}

func TestRecipeFor(t *testing.T) {
	kinds := all.Kinds()
	find := func(typ string) *agent.Kind {
		k, ok := agent.Find(kinds, typ)
		if !ok {
			t.Fatalf("no kind %s", typ)
		}
		return &k
	}
	dir := t.TempDir()
	b := &config.Bench{Dir: dir}
	ctxDir := filepath.Join(dir, "agent-files")
	if err := os.MkdirAll(filepath.Join(ctxDir, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "run.sh"), []byte("#!/bin/sh\necho hi\n"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ctxDir, "sub", "conf"), []byte("x=1\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	// The kind's recipe.
	r, err := agent.RecipeFor(&config.Agent{Name: "a", Type: "aider"}, b, find("aider"))
	if err != nil || r.Version == "" || r.Agent != "aider" {
		t.Fatalf("aider: %+v %v", r, err)
	}

	// install: replaces it, with the files of install_context and their modes.
	a := &config.Agent{Name: "mine", Type: "aider", Install: []string{"COPY run.sh /opt/perfbench/mine/run.sh", "COPY sub/conf /opt/perfbench/mine/conf"}, InstallContext: "agent-files"}
	r, err = agent.RecipeFor(a, b, find("aider"))
	if err != nil {
		t.Fatal(err)
	}
	if r.Agent != "aider" || !strings.HasPrefix(r.Version, "install-") || len(r.Lines) != 2 || r.Lines[0] != a.Install[0] {
		t.Errorf("install: recipe %+v", r)
	}
	if f := r.Files["run.sh"]; string(f.Data) != "#!/bin/sh\necho hi\n" || f.Mode != 0o750 {
		t.Errorf("run.sh: %+v", f)
	}
	if f := r.Files["sub/conf"]; string(f.Data) != "x=1\n" || f.Mode != 0o600 || len(r.Files) != 2 {
		t.Errorf("sub/conf: %+v (%d files)", f, len(r.Files))
	}
	// Its version follows its content.
	v1 := r.Version
	if err := os.WriteFile(filepath.Join(ctxDir, "sub", "conf"), []byte("x=2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r, _ := agent.RecipeFor(a, b, find("aider")); r.Version == v1 {
		t.Errorf("a changed context file kept version %s", v1)
	}
	// A command entry has no recipe of its own but may have install:.
	if r, err := agent.RecipeFor(&config.Agent{Name: "c", Type: "command", Install: []string{"RUN true"}}, b, find("command")); err != nil || len(r.Files) != 0 {
		t.Errorf("command with install: %+v %v", r, err)
	}

	for _, tc := range []struct {
		name string
		a    *config.Agent
		k    *agent.Kind
		want string
	}{
		{"no recipe", &config.Agent{Name: "c", Type: "command"}, find("command"), "agent c: agent type command has no install recipe; set install:"},
		{"unknown kind", &config.Agent{Name: "x", Type: "x"}, nil, "agent type x has no install recipe"},
		{"missing context", &config.Agent{Name: "m", Type: "noop", Install: []string{"RUN true"}, InstallContext: "gone"}, find("noop"), "agent m: install_context: "},
		{"FROM", &config.Agent{Name: "f", Type: "noop", Install: []string{"from busybox"}}, find("noop"), "agent f: install: line 1 is a FROM"},
	} {
		_, err := agent.RecipeFor(tc.a, b, tc.k)
		if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want bad input with %q", tc.name, err, tc.want)
		}
	}

	// A symlink in install_context is refused: only files are copied.
	if err := os.Symlink("/etc/passwd", filepath.Join(ctxDir, "link")); err != nil {
		t.Fatal(err)
	}
	if _, err := agent.RecipeFor(a, b, find("aider")); err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "link is not a regular file") {
		t.Errorf("symlink in install_context: %v", err)
	}
}

func TestUseAgentImage(t *testing.T) {
	kinds := all.Kinds()
	aider, _ := agent.Find(kinds, "aider")
	for _, tc := range []struct {
		a         config.Agent
		used      bool
		wantImage string
	}{
		{config.Agent{Name: "c", Runtime: agent.RuntimeContainer}, true, "sha256:agent"},
		{config.Agent{Name: "own", Runtime: agent.RuntimeContainer, Image: "mine:1"}, false, "mine:1"},
		{config.Agent{Name: "h", Runtime: agent.RuntimeHost}, false, ""},
	} {
		a := tc.a
		used, err := agent.UseAgentImage(&aider, &a, "sha256:agent")
		if err != nil || used != tc.used || a.Image != tc.wantImage {
			t.Errorf("%s: used %v image %q err %v, want %v %q", a.Name, used, a.Image, err, tc.used, tc.wantImage)
		}
	}
}
