package slurm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"

	"github.com/perfbench/perfbench/internal/textx"
)

// Runner runs argv and returns its standard output; an error carries the
// command's standard error. ExecRunner is the real one.
type Runner func(ctx context.Context, argv []string) ([]byte, error)

// ExecRunner runs argv as a process of env (sbatch needs the submitting
// environment: SLURM_CONF, and the values of the exported names), and
// stops it with ctx.
func ExecRunner(env []string) Runner {
	return func(ctx context.Context, argv []string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
		cmd.Env = env
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		if err := cmd.Run(); err != nil {
			if msg := textx.FirstLine(strings.TrimSpace(errb.String())); msg != "" {
				return out.Bytes(), fmt.Errorf("%w: %s", err, msg)
			}
			return out.Bytes(), err
		}
		return out.Bytes(), nil
	}
}

// Submitter submits batch scripts with `sbatch --parsable`.
type Submitter struct {
	// Sbatch is the sbatch executable.
	Sbatch string
	Run    Runner
}

// Submission is one job to submit: the script's file, its --export names
// (given on the command line too, where they beat an SBATCH_EXPORT of the
// environment) and the jobs it waits for (afterany: it runs whether they
// succeeded or not, so that a failed shard still gets the others
// evaluated and merged).
type Submission struct {
	Path     string
	Export   []string
	AfterAny []string
}

// Argv is the sbatch command line of sub.
func (s *Submitter) Argv(sub Submission) []string {
	argv := []string{s.Sbatch, "--parsable", ExportOption(sub.Export)}
	if len(sub.AfterAny) > 0 {
		argv = append(argv, "--dependency=afterany:"+strings.Join(sub.AfterAny, ":"))
	}
	return append(argv, sub.Path)
}

// Submit submits sub and returns the job id sbatch printed.
func (s *Submitter) Submit(ctx context.Context, sub Submission) (string, error) {
	out, err := s.Run(ctx, s.Argv(sub))
	if err != nil {
		return "", fmt.Errorf("sbatch %s: %w", sub.Path, err)
	}
	id, err := ParseJobID(out)
	if err != nil {
		return "", fmt.Errorf("sbatch %s: %w", sub.Path, err)
	}
	return id, nil
}

// ParseJobID reads what `sbatch --parsable` prints: "ID" or
// "ID;CLUSTER", on its last line.
func ParseJobID(out []byte) (string, error) {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	last := strings.TrimSpace(lines[len(lines)-1])
	id, _, _ := strings.Cut(last, ";")
	if id == "" || strings.Trim(id, "0123456789") != "" {
		return "", errors.New("no job id in its output " + fmt.Sprintf("%q", textx.Truncate(last, 80)))
	}
	return id, nil
}
