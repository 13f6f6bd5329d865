// Package cli wires the bench command line: one file per command, each with
// an options struct that registers its flags and a runX function. Streams,
// environment and clock are injected through Env so every command runs in
// tests without touching the process: OSEnv is the one place that reads
// it. Exit statuses are mapped in one place, ExitCode.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/agent/all"
	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/textx"
)

// Exit statuses (docs/design.md, "Contracts").
const (
	ExitOK          = 0
	ExitFailure     = 1
	ExitBadInput    = 2
	ExitInterrupted = 130
)

// System is the outside world of a command.
type System struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Environ and LookupEnv read the process environment; commands and
	// the stages they call read no other.
	Environ   func() []string
	LookupEnv func(string) (string, bool)
	Now       func() time.Time
	// Dir is the working directory, absolute: ./bench.yaml and .env are
	// looked for there, the default roots are relative to it, and so is
	// every relative path in arguments. "" is the process's own (OSEnv):
	// the system resolves relative paths, and messages show them as typed.
	Dir string
	// Args0 and Executable find this binary, which evaluate re-executes
	// as the launcher of timed runs (os.Args[0], os.Executable); with
	// neither, the harness times the runs itself.
	Args0      string
	Executable func() (string, error)
	// StderrTTY enables live progress bars.
	StderrTTY bool
	// Kinds are the agent kinds commands know; nil means all.Kinds().
	Kinds []agent.Kind
}

// withEnv is a copy of the system whose environment has name=value.
func (s *System) withEnv(name, value string) *System {
	c := *s
	environ, lookup := s.Environ, s.LookupEnv
	c.Environ = func() []string {
		var out []string
		if environ != nil {
			for _, kv := range environ() {
				if !strings.HasPrefix(kv, name+"=") {
					out = append(out, kv)
				}
			}
		}
		return append(out, name+"="+value)
	}
	c.LookupEnv = func(k string) (string, bool) {
		if k == name {
			return value, true
		}
		if lookup == nil {
			return "", false
		}
		return lookup(k)
	}
	return &c
}

// kinds are the agent kinds of this build, or the test's.
func (e *System) kinds() []agent.Kind {
	if e.Kinds == nil {
		return all.Kinds()
	}
	return e.Kinds
}

// OSEnv is the real process: its streams, environment, clock and binary;
// its working directory is the system's (Dir "").
func OSEnv() *System {
	return &System{
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		Environ: os.Environ, LookupEnv: os.LookupEnv, Now: time.Now,
		Args0: os.Args[0], Executable: os.Executable,
		StderrTTY: isTerminal(os.Stderr) && os.Getenv("NO_COLOR") == "" && os.Getenv("TERM") != "dumb",
	}
}

// errFailed is returned by commands that already printed why they failed
// and only need exit status 1.
var errFailed = errors.New("failed")

// exitError carries an explicit exit status.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// ExitCode maps an error to the process exit status.
func ExitCode(ctx context.Context, err error) int {
	if err == nil {
		if ctx.Err() != nil {
			return ExitInterrupted
		}
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) {
		return ExitInterrupted
	}
	if badinput.Is(err) {
		return ExitBadInput
	}
	return ExitFailure
}

// Main runs the bench command line and returns the exit status.
func Main(ctx context.Context, args []string, env *System) int {
	root := newRoot(env)
	root.SetArgs(args)
	root.SetIn(env.Stdin)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	err := root.ExecuteContext(ctx)
	if err != nil && strings.HasPrefix(err.Error(), "unknown command") {
		// cobra has no typed error for this one.
		err = badinput.Wrap(err)
	}
	code := ExitCode(ctx, err)
	if err != nil && !errors.Is(err, errFailed) && code != ExitInterrupted {
		fmt.Fprintf(env.Stderr, "bench: %s\n", textx.FirstLine(err.Error()))
	}
	if code == ExitInterrupted && err != nil {
		fmt.Fprintln(env.Stderr, "bench: interrupted")
	}
	return code
}

const exitStatusHelp = `
EXIT STATUS
  0    done (agent failures are results, not errors)
  1    harness or infrastructure failure (including any item left in infra_error)
  2    bad input or usage
  130  interrupted`

func newRoot(env *System) *cobra.Command {
	root := &cobra.Command{
		Use:   "bench",
		Short: "Benchmark AI coding agents on real performance optimizations",
		Long: `bench plans commit pairs where a human made code faster, lets an agent attempt
the same optimization in a leak-proof workspace, and reports the results.

  bench init                 write an example task, bench.yaml and commits file
  bench build TASK.yaml      build the task's environment image (env_build)
  bench plan TASK.yaml       resolve commit pairs into state/plan.json
  bench prepare TASK.yaml    run the agent on every item (resumable)
  bench evaluate RUN_DIR     time baseline, human and agent behind a correctness gate
  bench merge RUN_DIR        rebuild a sharded run's predictions from its journals
  bench slurm submit TASK    create a run and submit its shards as Slurm jobs
  bench report RUN_DIR       show a run
  bench export atif RUN_DIR  write the run's trajectories in Harbor's ATIF
  bench demo                 the whole pipeline on an embedded example
  bench openhands dockerfile the OpenHands image sandbox_runtime: local needs`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version(),
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return badinput.Errorf("%s: %v (see %s --help)", c.CommandPath(), err, c.CommandPath())
	})
	// EXIT STATUS comes after Usage and Flags, like a man page's section,
	// for every command (subcommands inherit the root's template).
	root.SetHelpTemplate(root.HelpTemplate() + exitStatusHelp + "\n")
	root.CompletionOptions.DisableDefaultCmd = true
	for _, c := range []*cobra.Command{
		newInitCmd(env), newValidateCmd(env), newBuildCmd(env), newPlanCmd(env), newPrepareCmd(env), newEvaluateCmd(env), newCalibrateCmd(env), newTimedCmd(env),
		newMergeCmd(env),
		newK8sCmd(env), newSlurmCmd(env),
		newReportCmd(env), newReportAllCmd(env), newCompareCmd(env), newDoctorCmd(env), newDemoCmd(env), newOpenhandsCmd(env), newExportCmd(env), newVersionCmd(env),
	} {
		c.Args = wrapArgs(c.Args)
		root.AddCommand(c)
	}
	return root
}

// wrapArgs makes argument-count errors bad input (exit 2).
func wrapArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	if v == nil {
		v = cobra.NoArgs
	}
	return func(c *cobra.Command, args []string) error {
		if err := v(c, args); err != nil {
			return badinput.Errorf("%s: %v (usage: %s)", c.CommandPath(), err, c.UseLine())
		}
		return nil
	}
}

// Version is the module version stamped by the go command, or "devel".
func Version() string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			return v
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "devel-" + s.Value[:12]
			}
		}
	}
	return "devel"
}

func newVersionCmd(env *System) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Long:  "Print bench's version and the Go version it was built with.",
		RunE: func(c *cobra.Command, args []string) error {
			bi, _ := debug.ReadBuildInfo()
			gov := "unknown"
			if bi != nil {
				gov = bi.GoVersion
			}
			fmt.Fprintf(env.Stdout, "bench %s (%s)\n", Version(), gov)
			return nil
		},
	}
}
