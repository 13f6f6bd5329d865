package evaluate

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/records"
)

// TimedCommand is the hidden subcommand that runs one timed process (see
// TimedMain); the CLI registers it and Host.Launcher names it.
const TimedCommand = "__timed"

// timedResult is what the launcher reports in its result file.
type timedResult struct {
	WallNanos int64  `json:"wall_ns"`
	UserNanos int64  `json:"user_ns"`
	SysNanos  int64  `json:"sys_ns"`
	ExitCode  int    `json:"exit_code"`
	Signal    string `json:"signal,omitempty"`
	// RunDelayNanos is how long the child (the workload's main process,
	// not its descendants) was runnable but waiting for a CPU.
	RunDelayNanos int64 `json:"run_delay_ns"`
	RunDelayKnown bool  `json:"run_delay_known"`
	// RunCPUNanos is the main process's own time on a CPU (schedstat),
	// against which its run delay is scaled to the whole tree
	// (stats.TreeRunDelay).
	RunCPUNanos int64 `json:"run_cpu_ns,omitempty"`
	// Adopted is how many processes of the workload the launcher reaped
	// after its main process (orphans it adopted as a child subreaper);
	// Killed how many of them were still running and were killed. Their
	// CPU times are in UserNanos and SysNanos.
	Adopted     int    `json:"adopted,omitempty"`
	Killed      int    `json:"killed,omitempty"`
	Pinned      bool   `json:"pinned"`
	AffinityErr string `json:"affinity_error,omitempty"`
	Error       string `json:"error,omitempty"`
	// Instructions is the count of a run with --count, by CountMethod;
	// CountError says why there is none.
	Instructions uint64 `json:"instructions,omitempty"`
	CountMethod  string `json:"count_method,omitempty"`
	CountError   string `json:"count_error,omitempty"`
	// TreeCPUNanos and TreeDelayNanos are a --count sched run's: the
	// whole tree's time on a CPU and run-queue delay, every task's
	// schedstat summed (TreeKnown: every task's could be read).
	TreeCPUNanos   int64 `json:"tree_cpu_ns,omitempty"`
	TreeDelayNanos int64 `json:"tree_delay_ns,omitempty"`
	TreeKnown      bool  `json:"tree_known,omitempty"`
}

// TimedMain is `bench __timed --cpu N --result FILE -- ARGV...`: the
// launcher of every timed run. It pins the OS thread it runs on to CPU N
// (-1: no pinning), takes the time, fork-execs ARGV on that thread (so the
// child and every descendant are born pinned), waits for it with wait4
// (which also gives the CPU time of exactly this process tree), takes the
// time again and writes both to FILE as JSON. The Go runtime's start-up
// happens before the first timestamp; both timestamps are taken on the
// pinned CPU, which nothing else uses, so the harness's own scheduling
// delays never reach the measurement. The launcher is a child subreaper:
// after the child exits it reaps every descendant left (killing those
// still running) and adds their CPU times, so work in a detached process
// is counted too. Its exit status is the child's
// (128+signal when it was killed).
//
// With --count METHOD (auto, perf, cachegrind) ARGV runs under the
// instruction counter, which writes into a directory next to FILE, and
// the count of the whole process tree is reported with the times. With
// --count sched the tree is traced instead (runTraced) and its run-queue
// delay and time on a CPU are reported: probe runs, not timed samples.
//
// `bench __timed --manifest -- DIR...` prints the manifests of the
// directories (ManifestMain): an arm container's own /tmp, listed inside
// it.
//
// `bench __timed --idle` waits for SIGTERM, SIGINT or SIGHUP and exits 0:
// the main process of an evaluation container, which needs no program of
// the image to stay up while commands run in it with `exec`.
func TimedMain(args []string) int {
	if len(args) == 1 && args[0] == "--idle" {
		idle()
		return 0
	}
	if len(args) >= 2 && args[0] == "--manifest" && args[1] == "--" {
		return ManifestMain(args[2:], os.Stdout)
	}
	cpu, result, count, argv, err := parseTimedArgs(args)
	if err != nil {
		fmt.Fprintf(os.Stderr, "bench %s: %v\n", TimedCommand, err)
		return 2
	}
	var res timedResult
	switch count {
	case "":
		res = runTimed(cpu, argv)
	case CounterSched:
		res = runTraced(cpu, argv)
	default:
		res = runCounted(cpu, count, filepath.Dir(result), argv)
	}
	if data, err := json.Marshal(res); err == nil {
		if err := writeResult(result, data); err != nil {
			fmt.Fprintf(os.Stderr, "bench %s: writing the result: %v\n", TimedCommand, err)
		}
	}
	switch {
	case res.Error != "":
		fmt.Fprintf(os.Stderr, "bench %s: %s\n", TimedCommand, res.Error)
		return 127
	case res.Signal != "":
		return 128 + signalNumber(res.Signal)
	}
	return res.ExitCode
}

// idle blocks until a termination signal arrives.
func idle() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	<-ch
}

const timedUsage = "usage: " + TimedCommand + " --cpu N --result FILE [--count auto|perf|cachegrind|sched] -- ARGV..."

func parseTimedArgs(args []string) (cpu int, result, count string, argv []string, err error) {
	cpu = -1
	for i := 0; i < len(args); i++ {
		switch args[i] {
		case "--cpu":
			if i+1 >= len(args) {
				return 0, "", "", nil, fmt.Errorf("--cpu needs a value")
			}
			if cpu, err = strconv.Atoi(args[i+1]); err != nil {
				return 0, "", "", nil, fmt.Errorf("--cpu: %w", err)
			}
			i++
		case "--result":
			if i+1 >= len(args) {
				return 0, "", "", nil, fmt.Errorf("--result needs a value")
			}
			result = args[i+1]
			i++
		case "--count":
			if i+1 >= len(args) {
				return 0, "", "", nil, fmt.Errorf("--count needs a value")
			}
			count = args[i+1]
			if count != CounterAuto && count != records.CounterPerf && count != records.CounterCachegrind && count != CounterSched {
				return 0, "", "", nil, fmt.Errorf("--count: expected auto, perf, cachegrind or sched, got %q", count)
			}
			i++
		case "--":
			argv = args[i+1:]
			i = len(args)
		default:
			return 0, "", "", nil, fmt.Errorf("unexpected argument %q (%s)", args[i], timedUsage)
		}
	}
	if result == "" || len(argv) == 0 {
		return 0, "", "", nil, fmt.Errorf("--result and a command after -- are required (%s)", timedUsage)
	}
	return cpu, result, count, argv, nil
}

// runCounted runs argv under the instruction counter (method, or the
// one auto picks) in a directory of its own under dir, and reports the
// count with the run.
func runCounted(cpu int, method, dir string, argv []string) timedResult {
	out, err := os.MkdirTemp(dir, "count-")
	if err != nil {
		return timedResult{Error: fmt.Sprintf("counter directory: %v", err)}
	}
	defer os.RemoveAll(out)
	var why string
	if method == CounterAuto {
		method = records.CounterCachegrind
		if ok, reason := probePerf(out); ok {
			method = records.CounterPerf
		} else {
			why = " (perf: " + reason + ")"
		}
	}
	res := runTimed(cpu, counterArgv(method, out, argv))
	res.CountMethod = method
	if res.Error != "" {
		res.Error += why
		return res
	}
	if res.ExitCode != 0 || res.Signal != "" {
		res.CountError = "the run failed"
		return res
	}
	n, err := readCount(method, out)
	if err != nil {
		res.CountError = err.Error() + why
		return res
	}
	res.Instructions = n
	return res
}

// writeResult writes the result file as a new regular file: whatever is
// at its path goes first, and the file is created exclusively without
// following a link. In a container the workload (the agent's code) can
// write the result folder before its launcher writes there: a FIFO put
// in its place would block the write, a link would send it elsewhere.
func writeResult(path string, data []byte) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// readTimed reads a launcher's result file. In a container the workload
// (the agent's code) can write the result folder: a link or FIFO put there
// is not followed or opened.
func readTimed(path string) (*timedResult, error) {
	data, err := fsx.ReadFileNoFollow(path)
	if err != nil {
		return nil, err
	}
	var r timedResult
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

func nanos(n int64) time.Duration { return time.Duration(n) }
