package evaluate

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"
)

// A probe run (CounterSched) sums the run-queue delay of every task of the
// tree: with a busy loop pinned to the same CPU, a forking CPU-bound
// workload (an outer shell that waits for an inner one doing the work)
// waits for its CPU about as long as it runs, which the main process's own
// delay (a timed run's) misses; without the delay its CPU/wall ratio looks
// like a workload that sleeps, with it the ratio is ~1. A sleeping
// workload keeps its low ratio.
func TestLauncherTracedTreeDelay(t *testing.T) {
	cpus, err := allowedCPUs()
	if err != nil || len(cpus) == 0 {
		t.Skip("no CPU affinity here")
	}
	cpu := cpus[len(cpus)-1]
	h := launcher(t)
	busy := exec.Command("sh", "-c", "while :; do :; done")
	if err := busy.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = busy.Process.Kill(); _ = busy.Wait() }()
	if err := setAffinity(busy.Process.Pid, []int{cpu}); err != nil {
		t.Fatal(err)
	}
	run := func(script, count string) CommandResult {
		t.Helper()
		res, err := h.Run(context.Background(), CommandSpec{Script: script, Env: os.Environ(), Timed: true,
			Timeout: 30 * time.Second, CPUs: []int{cpu}, Count: count})
		if err != nil || !res.OK() {
			t.Fatalf("%s (count %q): %+v %v", script, count, res, err)
		}
		return res
	}
	work := "sh -c 'i=0; while [ $i -lt 150000 ]; do i=$((i+1)); done'; true"
	probe := run(work, CounterSched)
	if !probe.TreeKnown || probe.TreeCPU <= 0 || probe.CountMethod != CounterSched {
		t.Fatalf("probe: %+v", probe)
	}
	cpuT, wall, delay := probe.TreeCPU.Seconds(), probe.Wall.Seconds(), probe.TreeDelay.Seconds()
	t.Logf("probe: cpu %.3fs, wall %.3fs, tree delay %.3fs", cpuT, wall, delay)
	if raw := cpuT / wall; raw > 0.8 {
		t.Logf("the busy loop took little of the CPU (cpu/wall %.2f): the contention is not visible", raw)
	}
	if delay < 0.2*cpuT {
		t.Errorf("tree delay %.3fs for %.3fs of CPU under a busy loop on the same CPU: the descendants' waits were not summed", delay, cpuT)
	}
	if r := cpuT / (wall - delay); r < 0.7 || r > 1.3 {
		t.Errorf("cpu/(wall-delay) = %.2f (cpu %.3fs, wall %.3fs, delay %.3fs), want ~1", r, cpuT, wall, delay)
	}
	timed := run(work, "")
	if timed.RunDelay.Seconds() < 0.5*delay {
		t.Logf("main process delay %.3fs vs the tree's %.3fs", timed.RunDelay.Seconds(), delay)
	}
	sleeping := run("sleep 0.3", CounterSched)
	if r := sleeping.TreeCPU.Seconds() / (sleeping.Wall.Seconds() - sleeping.TreeDelay.Seconds()); !sleeping.TreeKnown || r > 0.5 {
		t.Errorf("sleep: cpu/(wall-delay) = %.2f (%+v), want well below 1", r, sleeping)
	}
	// The exit status and a signal reach the result as in a timed run.
	if res, err := h.Run(context.Background(), CommandSpec{Script: "sh -c 'exit 3'", Env: os.Environ(), Timed: true,
		Timeout: 30 * time.Second, Count: CounterSched}); err != nil || res.ExitCode != 3 {
		t.Errorf("exit 3: %+v %v", res, err)
	}
}
