// Package slurm owns bench's side of Slurm: the batch scripts of a
// sharded run (rendered from plain values, no I/O, golden-tested), the
// variables a job may receive, and their submission through `sbatch
// --parsable` by an injectable runner. Slurm schedules; bench builds no
// scheduler: every job runs the same bench binary against the run
// directory on shared storage.
package slurm

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/secrets"
)

// ShardArg stands, in a command of an array job, for the shard the task
// runs: it renders as "$SLURM_ARRAY_TASK_ID/N" (N the array's size),
// expanded by the job's shell on the node.
const ShardArg = "{shard}"

// Script is one batch script: its #SBATCH directives and the commands it
// runs, in order, stopping at the first that fails.
type Script struct {
	// Title is the script's first comment line: what the job does.
	Title string
	// Notes are further comment lines (how to resubmit a shard).
	Notes []string
	Name  string // --job-name
	// Array > 0 makes a job array of that many tasks, 0..Array-1.
	Array int
	// Time is --time ("" leaves the partition's default).
	Time string
	// CPUsPerTask and Mem are --cpus-per-task and --mem when set.
	CPUsPerTask int
	Mem         string
	Partition   string
	// Exclusive asks for whole nodes: nothing else runs beside the job.
	Exclusive bool
	// Chdir is the job's working directory, where bench finds ./.env.
	Chdir string
	// Output is the log path (%A array job, %a task, %j job).
	Output string
	// Export names the variables the job receives from the submitting
	// environment (after NONE): names only, never values.
	Export []string
	// Extra are --sbatch-arg options, as given.
	Extra []string
	// Commands are argv lists; ShardArg in one is the task's shard.
	Commands [][]string
}

// Directives are the script's sbatch options, in the order written. The
// submitter passes --export again on the command line, where it beats an
// SBATCH_EXPORT in the submitting environment.
func (s *Script) Directives() ([]string, error) {
	var d []string
	add := func(opt, val string) { d = append(d, opt+"="+val) }
	if s.Name != "" {
		add("--job-name", s.Name)
	}
	if s.Array > 0 {
		add("--array", fmt.Sprintf("0-%d", s.Array-1))
	}
	if s.Time != "" {
		add("--time", s.Time)
	}
	if s.CPUsPerTask > 0 {
		add("--cpus-per-task", strconv.Itoa(s.CPUsPerTask))
	}
	if s.Mem != "" {
		add("--mem", s.Mem)
	}
	if s.Partition != "" {
		add("--partition", s.Partition)
	}
	if s.Exclusive {
		d = append(d, "--exclusive")
	}
	if s.Chdir != "" {
		add("--chdir", s.Chdir)
	}
	if s.Output != "" {
		add("--output", s.Output)
	}
	d = append(d, ExportOption(s.Export))
	d = append(d, s.Extra...)
	for _, v := range d {
		if strings.ContainsAny(v, "\n\r\"\x00") {
			return nil, fmt.Errorf("sbatch option %q: a newline, NUL or double quote cannot be written as an #SBATCH line", v)
		}
	}
	return d, nil
}

// ExportOption is --export=NONE plus the names, so that Slurm saves no
// value but theirs with the job.
func ExportOption(names []string) string {
	return "--export=" + strings.Join(append([]string{"NONE"}, names...), ",")
}

// Render is the script's text.
func (s *Script) Render() ([]byte, error) {
	d, err := s.Directives()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.WriteString("#!/bin/sh\n")
	fmt.Fprintf(&b, "# %s\n", oneLine(s.Title))
	for _, n := range s.Notes {
		fmt.Fprintf(&b, "# %s\n", oneLine(n))
	}
	for _, v := range d {
		// sbatch reads a directive's value in double quotes whole.
		if strings.ContainsAny(v, " \t'") {
			opt, val, ok := strings.Cut(v, "=")
			if ok {
				v = opt + `="` + val + `"`
			} else {
				v = `"` + v + `"`
			}
		}
		fmt.Fprintf(&b, "#SBATCH %s\n", v)
	}
	b.WriteString("set -eu\n")
	for _, c := range s.Commands {
		b.WriteString(s.command(c))
		b.WriteByte('\n')
	}
	return []byte(b.String()), nil
}

// command is one command line: its arguments single-quoted, the shard in
// double quotes so that the shell expands the task id.
func (s *Script) command(argv []string) string {
	parts := make([]string, len(argv))
	for i, a := range argv {
		if a == ShardArg {
			parts[i] = fmt.Sprintf(`"$SLURM_ARRAY_TASK_ID/%d"`, s.Array)
			continue
		}
		parts[i] = secrets.ShellQuote([]string{a})
	}
	return strings.Join(parts, " ")
}

func oneLine(s string) string { return strings.NewReplacer("\n", " ", "\r", " ").Replace(s) }

// FormatTime is d as sbatch's --time: "HH:MM:SS", or "D-HH:MM:SS" from a
// day on; rounded up to the second, at least one minute.
func FormatTime(d time.Duration) string {
	secs := int64((d + time.Second - 1) / time.Second)
	if secs < 60 {
		secs = 60
	}
	days, secs := secs/86400, secs%86400
	hms := fmt.Sprintf("%02d:%02d:%02d", secs/3600, secs/60%60, secs%60)
	if days > 0 {
		return fmt.Sprintf("%d-%s", days, hms)
	}
	return hms
}

// ParseTime reads --time as bench accepts it: HH:MM:SS or D-HH:MM:SS
// (minutes and seconds below 60).
func ParseTime(s string) (time.Duration, error) {
	bad := fmt.Errorf("time %q: expected HH:MM:SS or D-HH:MM:SS", s)
	var days int64
	rest := s
	if d, r, ok := strings.Cut(s, "-"); ok {
		n, err := strconv.ParseInt(d, 10, 32)
		if err != nil || n < 0 {
			return 0, bad
		}
		days, rest = n, r
	}
	f := strings.Split(rest, ":")
	if len(f) != 3 {
		return 0, bad
	}
	var v [3]int64
	for i, p := range f {
		n, err := strconv.ParseInt(p, 10, 32)
		if err != nil || n < 0 || len(p) == 0 || (i > 0 && (n > 59 || len(p) != 2)) {
			return 0, bad
		}
		v[i] = n
	}
	d := time.Duration(days)*24*time.Hour + time.Duration(v[0])*time.Hour + time.Duration(v[1])*time.Minute + time.Duration(v[2])*time.Second
	if d <= 0 {
		return 0, fmt.Errorf("time %q: must be positive", s)
	}
	return d, nil
}
