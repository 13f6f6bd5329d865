package agent

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/fsx"
)

// BenchPath is p, a path from bench.yaml such as an entry's config_file,
// as an absolute path: a relative p is taken relative to bench.yaml's
// directory, or to the working directory when the bench has none. "" stays
// "".
func BenchPath(b *config.Bench, p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	if b != nil && b.Dir != "" {
		return filepath.Join(b.Dir, p)
	}
	// Without bench.yaml's directory (never in the harness, whose Bench
	// always has one): the process's working directory.
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	return abs
}

// CopyFile copies src to dst, creating dst with perm or truncating it.
func CopyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	return fsx.CopyClose(out, in)
}

// CopyConfigFile copies the entry's config_file (BenchPath) to dst, for an
// agent that reads it from the rollout's private output folder. It returns
// nil when the entry has no config_file or the copy succeeded, else the
// outcome that fails the rollout before the agent starts: argv (redacted)
// and the reason "agent NAME: config_file: ERROR".
func CopyConfigFile(r *Rollout, a *config.Agent, dst string, argv []string) *Outcome {
	f := BenchPath(r.Bench, ConfigFile(a))
	if f == "" {
		return nil
	}
	if err := CopyFile(f, dst, 0o644); err != nil {
		return &Outcome{
			Command: r.Secrets.RedactArgv(argv), Failed: true,
			Reason: fmt.Sprintf("agent %s: config_file: %v", a.Name, err),
		}
	}
	return nil
}
