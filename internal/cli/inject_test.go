package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/evaluate"
	"github.com/perfbench/perfbench/internal/workspace/workspacetest"
)

// injectedEnv is an Env whose working directory and environment are dir
// and vars, not the test process's.
func injectedEnv(dir string, vars []string) (*System, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	return &System{
		Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errb,
		Environ:   func() []string { return vars },
		LookupEnv: agent.Host{Env: vars}.LookupEnv,
		Now:       func() time.Time { return time.Date(2026, 11, 25, 18, 41, 17, 0, time.UTC) },
		Dir:       dir,
	}, &out, &errb
}

// poison is in every value the test process has where the commands must
// use the injected ones instead.
const poison = "nonexistent-poison"

// validate, plan, doctor, prepare --dry-run and slurm submit --dry-run read the working directory
// (./bench.yaml, .env, relative arguments, default roots), the environment
// (${VAR} in bench.yaml, PATH, HOME, an adapter's mode switches) and the
// invoking user's home only from their Env: the test process's, poisoned,
// never shows.
func TestCommandsReadOnlyTheirEnv(t *testing.T) {
	repo, _, human := workspacetest.NewRepo(t)
	proj, home, bin := t.TempDir(), t.TempDir(), t.TempDir()
	write(t, home, ".agent/token", "t\n")
	write(t, bin, "fake-claude", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(bin, "fake-claude"), 0o755); err != nil {
		t.Fatal(err)
	}
	write(t, proj, "task.yaml", "id: injected\nrepo:\n  url: "+repo+"\n  human_commit: "+human+"\n")
	write(t, proj, ".env", "STATE_NAME=state-from-dot\n")
	write(t, proj, "bench.yaml", `allow_unisolated: true
paths:
  state_root: ./${STATE_NAME}
  work_root: ./work
agents:
  default: oh
  oh:
    type: openhands
    container_image: oh:1
  cc:
    type: claude_code
    cli: fake-claude
    home_files: [.agent/token]
`)
	vars := []string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + home, "LLM_API_KEY=sk-injected-0123456789",
		"OPENHANDS_CONTAINER_IMAGE=injected-image"}

	// The test process: another directory with its own bench.yaml, .env
	// and task, and a poisoned environment.
	elsewhere := t.TempDir()
	write(t, elsewhere, "task.yaml", "id: "+strings.ReplaceAll(poison, "-", "_")+"\nrepo:\n  url: /"+poison+"\n  human_commit: abcdef0\n")
	write(t, elsewhere, ".env", "STATE_NAME="+poison+"\n")
	write(t, elsewhere, "bench.yaml", "paths:\n  state_root: /"+poison+"\nagents:\n  default: x\n  x:\n    type: noop\n")
	for _, k := range []string{"HOME", "LLM_API_KEY", "OPENHANDS_CONTAINER_IMAGE", "STATE_NAME", "OPENHANDS_CLI"} {
		t.Setenv(k, "/"+poison)
	}
	t.Chdir(elsewhere)

	state := filepath.Join(proj, "state-from-dot")
	for _, tc := range []struct {
		args []string
		want []string
	}{
		{[]string{"validate", "task.yaml"}, []string{
			"ok: task injected (task.yaml): 1 commit pair(s) configured\n",
			"ok: " + filepath.Join(proj, "bench.yaml") + ": 2 agent(s), default oh\n"}},
		{[]string{"plan", "task.yaml"}, []string{
			"planned 1 item(s) of task injected → " + filepath.Join(state, "plan.json") + "\n"}},
		{[]string{"doctor", "--agent", "cc"}, []string{
			"✓ config: " + filepath.Join(proj, "bench.yaml") + "\n",
			"✓ state dir writable: " + state + "\n",
			"✓ agent cc: fake-claude: " + filepath.Join(bin, "fake-claude") + "\n",
			"✓ agent cc: home_files: .agent/token\n"}},
		{[]string{"prepare", "task.yaml", "--dry-run"}, []string{
			"state: " + state + "\n",
			// OpenHands' mode switch and ~/.openhands come from the
			// injected environment.
			" injected-image ",
			"source=" + filepath.Join(home, ".openhands") + ","}},
		// After plan: the job scripts name the injected directory, its
		// bench.yaml and state root, and export the injected names.
		{[]string{"slurm", "submit", "task.yaml", "--from-plan", filepath.Join(state, "plan.json"), "--agent", "cc", "--shards", "2", "--bench-bin", "/opt/bench", "--dry-run"}, []string{
			"#SBATCH --chdir=" + proj + "\n",
			"#SBATCH --export=NONE,HOME,PATH\n",
			" --bench-cfg " + filepath.Join(proj, "bench.yaml") + " ",
			"/opt/bench merge " + filepath.Join(state, "runs", "injected__cc__none__20261125T184117Z") + "\n",
		}},
	} {
		env, stdout, stderr := injectedEnv(proj, vars)
		code := Main(context.Background(), tc.args, env)
		if code != ExitOK {
			t.Fatalf("%v: exit %d\nstdout:\n%s\nstderr:\n%s", tc.args, code, stdout, stderr)
		}
		for _, w := range tc.want {
			if !strings.Contains(stdout.String(), w) {
				t.Errorf("%v: stdout lacks %q:\n%s", tc.args, w, stdout)
			}
		}
		if all := stdout.String() + stderr.String(); strings.Contains(all, poison) {
			t.Errorf("%v: the test process's directory or environment shows:\n%s", tc.args, all)
		}
	}
	if _, err := os.Stat(filepath.Join(state, "plan.json")); err != nil {
		t.Errorf("plan.json not in the injected directory's state root: %v", err)
	}
	ents, _ := os.ReadDir(elsewhere)
	if len(ents) != 3 {
		t.Errorf("the process's directory was written to: %v", ents)
	}
}

// evaluate's launcher is this binary as the Env names it (Args0 on the
// Env's PATH, else Executable), whatever the process's PATH.
func TestLauncherFromEnv(t *testing.T) {
	bin := t.TempDir()
	write(t, bin, "bench", "#!/bin/sh\n")
	if err := os.Chmod(filepath.Join(bin, "bench"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", "/"+poison)
	env, _, _ := injectedEnv(t.TempDir(), []string{"PATH=" + bin})
	env.Args0 = "bench"
	if got, want := launcherArgv(env), []string{filepath.Join(bin, "bench"), evaluate.TimedCommand}; !reflect.DeepEqual(got, want) {
		t.Errorf("launcher %q, want %q", got, want)
	}
	env.Args0 = "not-on-path"
	env.Executable = func() (string, error) { return "/opt/bench/bench", nil }
	if got := launcherArgv(env); len(got) == 0 || got[0] != "/opt/bench/bench" {
		t.Errorf("launcher %q, want the Executable", got)
	}
	env.Args0 = "rel/bench"
	if got, want := launcherArgv(env), filepath.Join(env.Dir, "rel/bench"); len(got) == 0 || got[0] != want {
		t.Errorf("launcher %q, want %s (relative to Dir)", got, want)
	}
}
