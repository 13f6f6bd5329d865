package prepare

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/shard"
)

// workspace_setup is part of a run's identity: run.json records it
// (secrets scrubbed), a resume without --run-id picks only a run with the
// same setup, and an explicit --run-id (a resume, a shard) of a run that
// ran another one is refused naming --new, leaving run.json as it was. A
// run without the record and a task without a setup resume as before.
func TestWorkspaceSetupInRunKey(t *testing.T) {
	b, task, p, a := noopSetup(t, "")
	const secret = "s3cr3t-index-token-4711"
	run := func(runID string, sh shard.Spec) (*Summary, error) {
		t.Helper()
		var log bytes.Buffer
		return Run(context.Background(), Options{Task: task, Bench: b, Agent: a, Plan: p, RunID: runID, Shard: sh, Log: &log,
			ProcessEnv: []string{"PIP_INDEX_TOKEN=" + secret}})
	}
	setSetup := func(cmds []string, timeout time.Duration) {
		task.EnvBuild.WorkspaceSetup = cmds
		task.EnvBuild.SetupTimeout = records.Duration(timeout)
	}
	readRun := func(dir string) (*records.Run, []byte) {
		t.Helper()
		r, err := journal.ReadRun(dir)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := os.ReadFile(filepath.Join(dir, journal.RunFile))
		return r, data
	}
	refused := func(what string, err error, before []byte, dir string) {
		t.Helper()
		if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "--new") || !strings.Contains(err.Error(), "workspace_setup") {
			t.Errorf("%s: %v, want bad input naming workspace_setup and --new", what, err)
		}
		if _, after := readRun(dir); !bytes.Equal(after, before) {
			t.Errorf("%s: the refused prepare rewrote run.json", what)
		}
	}

	// No setup: no record, resumed as before.
	plain, err := run("", shard.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	plainRun, plainJSON := readRun(plain.RunDir)
	if plainRun.WorkspaceSetup != nil || bytes.Contains(plainJSON, []byte("workspace_setup")) {
		t.Fatalf("a task without workspace_setup recorded %s", plainJSON)
	}
	if again, err := run("", shard.Spec{}); err != nil || again.RunID != plain.RunID {
		t.Fatalf("resume without a setup: %v, run %v, want %s", err, again, plain.RunID)
	}

	// A setup: not the plain run's, a new run recording it.
	setSetup([]string{"echo " + secret + " > /dev/null", "true"}, 0)
	withSetup, err := run("", shard.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if withSetup.RunID == plain.RunID {
		t.Fatalf("a setup added: resumed %s, want a new run", plain.RunID)
	}
	setupRun, setupJSON := readRun(withSetup.RunDir)
	want := &records.WorkspaceSetup{Commands: []string{"echo [REDACTED:PIP_INDEX_TOKEN] > /dev/null", "true"}, Timeout: records.Duration(30 * time.Minute)}
	if setupRun.WorkspaceSetup.Hash() != want.Hash() {
		t.Errorf("run.json workspace_setup %+v, want %+v", setupRun.WorkspaceSetup, want)
	}
	if bytes.Contains(setupJSON, []byte(secret)) {
		t.Errorf("run.json holds the secret:\n%s", setupJSON)
	}
	// The same setup (the timeout explicit at its default): resumed.
	setSetup(task.EnvBuild.WorkspaceSetup, 30*time.Minute)
	if again, err := run("", shard.Spec{}); err != nil || again.RunID != withSetup.RunID {
		t.Fatalf("resume with the same setup: %v, run %v, want %s", err, again, withSetup.RunID)
	}

	// Another timeout: a new run, not a resume of either.
	setSetup(task.EnvBuild.WorkspaceSetup, time.Minute)
	other, err := run("", shard.Spec{})
	if err != nil {
		t.Fatal(err)
	}
	if other.RunID == withSetup.RunID || other.RunID == plain.RunID {
		t.Fatalf("a changed setup_timeout resumed %s", other.RunID)
	}

	// Explicit run ids of another setup: refused, as a resume and as a
	// shard, whichever way the setup differs.
	setSetup([]string{"make install"}, 0)
	_, setupJSON = readRun(withSetup.RunDir) // as the resumes above left it
	_, plainJSON = readRun(plain.RunDir)
	refused("--run-id, commands changed", second(run(withSetup.RunID, shard.Spec{})), setupJSON, withSetup.RunDir)
	refused("--shard, commands changed", second(run(withSetup.RunID, shard.Spec{I: 0, N: 2})), setupJSON, withSetup.RunDir)
	refused("--run-id of a run without a setup", second(run(plain.RunID, shard.Spec{})), plainJSON, plain.RunDir)
	setSetup(nil, 0)
	refused("--run-id, the setup removed", second(run(withSetup.RunID, shard.Spec{})), setupJSON, withSetup.RunDir)
	if again, err := run(plain.RunID, shard.Spec{}); err != nil || again.RunID != plain.RunID {
		t.Fatalf("--run-id without a setup: %v, run %v, want %s", err, again, plain.RunID)
	}
}

func second[T any](_ T, err error) error { return err }
