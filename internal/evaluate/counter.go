package evaluate

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// Instruction counting runs in the launcher, where the workload runs (on
// the host or in the arm's container), so the counter tool is the one of
// that environment and its output files stay next to the launcher's
// result file.
//
// perf counts the hardware counter of the whole process tree (perf stat
// inherits the counter into every child); cachegrind simulates the
// program and writes one output file per process (--trace-children=yes,
// %p in the file name), which are summed. Cachegrind writes a process's
// file only when it exits: what an image runs before it execs another
// program is lost, whatever the file name (docs/evaluation.md, "Known
// gap").

// CounterAuto makes the launcher pick perf when the kernel exposes the
// instructions counter to this process, cachegrind otherwise.
const CounterAuto = "auto"

// CounterSched makes the launcher trace the run's whole process tree and
// report its run-queue delay and time on a CPU (runTraced): the probe runs
// of calibrate's metric advice.
const CounterSched = "sched"

// counterArgv is argv run under the counter, writing into dir.
func counterArgv(method, dir string, argv []string) []string {
	if method == records.CounterPerf {
		return append([]string{"perf", "stat", "-e", "instructions", "-x,", "-o", filepath.Join(dir, "perf.txt"), "--"}, argv...)
	}
	return append([]string{"valgrind", "--tool=cachegrind", "--trace-children=yes", "--cache-sim=no", "-q",
		"--cachegrind-out-file=" + filepath.Join(dir, "cg.%p")}, argv...)
}

// readCount sums what the counter wrote into dir.
func readCount(method, dir string) (uint64, error) {
	if method == records.CounterPerf {
		data, err := os.ReadFile(filepath.Join(dir, "perf.txt"))
		if err != nil {
			return 0, fmt.Errorf("perf stat output: %w", err)
		}
		return parsePerfStat(data)
	}
	return sumCachegrind(dir)
}

// sumCachegrind sums the instructions (Ir) of every cachegrind output
// file in dir: one per process of the tree.
func sumCachegrind(dir string) (uint64, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "cg.*"))
	if err != nil {
		return 0, err
	}
	if len(paths) == 0 {
		return 0, errors.New("cachegrind wrote no output file (is valgrind installed where the workload runs?)")
	}
	var total uint64
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return 0, err
		}
		n, err := parseCachegrind(f)
		f.Close()
		if err != nil {
			return 0, fmt.Errorf("%s: %w", filepath.Base(p), err)
		}
		if total+n < total {
			return 0, errors.New("instruction count overflows")
		}
		total += n
	}
	return total, nil
}

// parseCachegrind returns the Ir total of one cachegrind output file: the
// "summary:" line's column of the "events:" line's Ir.
func parseCachegrind(r io.Reader) (uint64, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	var events []string
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, "events:"); ok {
			events = strings.Fields(rest)
			continue
		}
		rest, ok := strings.CutPrefix(line, "summary:")
		if !ok {
			continue
		}
		if events == nil {
			return 0, errors.New("summary line before the events line")
		}
		col := -1
		for i, e := range events {
			if e == "Ir" {
				col = i
				break
			}
		}
		if col < 0 {
			return 0, fmt.Errorf("no Ir event (events: %s)", textx.Truncate(strings.Join(events, " "), 60))
		}
		vals := strings.Fields(rest)
		if col >= len(vals) {
			return 0, fmt.Errorf("summary has %d value(s), Ir is event %d", len(vals), col+1)
		}
		n, err := strconv.ParseUint(vals[col], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("summary Ir %q is not a count", textx.Truncate(vals[col], 30))
		}
		return n, nil
	}
	if err := sc.Err(); err != nil {
		return 0, err
	}
	return 0, errors.New("no summary line")
}

// parsePerfStat returns the instructions of `perf stat -x,` output: the
// first field of the line whose event is instructions (instructions:u
// when only user space is counted).
func parsePerfStat(data []byte) (uint64, error) {
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "#") || strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Split(line, ",")
		if len(f) < 3 || !strings.HasPrefix(f[2], "instructions") {
			continue
		}
		v := strings.TrimSpace(f[0])
		if strings.HasPrefix(v, "<") {
			// <not supported> or <not counted>: no counter for us.
			return 0, fmt.Errorf("perf cannot count instructions here: %s", v)
		}
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("perf instructions %q is not a count", textx.Truncate(v, 30))
		}
		return n, nil
	}
	return 0, fmt.Errorf("no instructions line in perf stat's output (%s)", excerpt(data))
}

// probePerf reports whether perf can count the instructions of a process
// here (the perf tool exists and the kernel exposes the counter: a
// virtual machine or perf_event_paranoid often does not); why says why
// not.
func probePerf(dir string) (ok bool, why string) {
	if _, err := exec.LookPath("perf"); err != nil {
		return false, "no perf in PATH"
	}
	if b, err := os.ReadFile("/proc/sys/kernel/perf_event_paranoid"); err == nil {
		if v, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && v > 2 && os.Geteuid() != 0 {
			return false, fmt.Sprintf("kernel.perf_event_paranoid is %d", v)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out := filepath.Join(dir, "perf-probe.txt")
	defer os.Remove(out)
	cmd := exec.CommandContext(ctx, "perf", "stat", "-e", "instructions", "-x,", "-o", out, "--", "true")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return false, fmt.Sprintf("perf stat failed: %v%s", err, lastLine(stderr.String()))
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return false, err.Error()
	}
	if _, err := parsePerfStat(data); err != nil {
		return false, err.Error()
	}
	return true, ""
}
