package evaluate

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/perfbench/perfbench/internal/procfs"
)

// allowedCPUs returns the CPUs this process may run on, ascending.
func allowedCPUs() ([]int, error) {
	var s unix.CPUSet
	if err := unix.SchedGetaffinity(0, &s); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var out []int
	for c := 0; c < len(s)*64; c++ {
		if s.IsSet(c) {
			out = append(out, c)
		}
	}
	return out, nil
}

// setAffinity restricts process pid to cpus.
func setAffinity(pid int, cpus []int) error {
	var s unix.CPUSet
	for _, c := range cpus {
		s.Set(c)
	}
	if err := unix.SchedSetaffinity(pid, &s); err != nil {
		return fmt.Errorf("sched_setaffinity to CPU %s: %w", cpuList(cpus), err)
	}
	return nil
}

// checkAffinity verifies that process pid runs on cpus only. A process that
// already exited cannot be checked and counts as pinned (it was born with
// the thread's mask).
func checkAffinity(pid int, cpus []int) error {
	var s unix.CPUSet
	if err := unix.SchedGetaffinity(pid, &s); err != nil {
		if errors.Is(err, unix.ESRCH) {
			return nil
		}
		return fmt.Errorf("sched_getaffinity of the child: %w", err)
	}
	var want unix.CPUSet
	for _, c := range cpus {
		want.Set(c)
	}
	if s != want {
		return fmt.Errorf("the child runs on %d CPU(s), not CPU %s", s.Count(), cpuList(cpus))
	}
	return nil
}

type cpuTimes struct{ user, sys time.Duration }

// childTimes is getrusage(RUSAGE_CHILDREN): the CPU times of every reaped
// child and their reaped descendants.
func childTimes() (cpuTimes, error) {
	var ru unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_CHILDREN, &ru); err != nil {
		return cpuTimes{}, err
	}
	return cpuTimes{
		user: time.Duration(ru.Utime.Nano()),
		sys:  time.Duration(ru.Stime.Nano()),
	}, nil
}

// restrictProcess restricts every thread of this process to cpus, so the
// harness (and every child it starts without a mask of its own: git, setup,
// correctness) stays off the CPUs reserved for timing. Threads created
// later inherit the mask of the thread that creates them. Two passes catch
// a thread created during the first. restore gives every thread the
// process's previous mask back.
func restrictProcess(cpus []int) (restore func(), err error) {
	var orig unix.CPUSet
	if err := unix.SchedGetaffinity(0, &orig); err != nil {
		return nil, fmt.Errorf("sched_getaffinity: %w", err)
	}
	var set unix.CPUSet
	for _, c := range cpus {
		set.Set(c)
	}
	apply := func(s *unix.CPUSet) error {
		for pass := 0; pass < 2; pass++ {
			tids, err := os.ReadDir("/proc/self/task")
			if err != nil {
				return err
			}
			for _, t := range tids {
				tid, err := strconv.Atoi(t.Name())
				if err != nil {
					continue
				}
				if err := unix.SchedSetaffinity(tid, s); err != nil && !errors.Is(err, unix.ESRCH) {
					return fmt.Errorf("sched_setaffinity of thread %d: %w", tid, err)
				}
			}
		}
		return nil
	}
	if err := apply(&set); err != nil {
		_ = apply(&orig)
		return nil, err
	}
	return func() { _ = apply(&orig) }, nil
}

// pinLauncher locks the launcher's goroutine to its OS thread and pins
// that thread to cpu (-1: no pinning), so that the child and every
// descendant are born pinned; res says whether it took.
func pinLauncher(cpu int, res *timedResult) {
	runtime.LockOSThread()
	if cpu < 0 {
		return
	}
	var s unix.CPUSet
	s.Set(cpu)
	if err := unix.SchedSetaffinity(0, &s); err != nil {
		res.AffinityErr = fmt.Sprintf("sched_setaffinity to CPU %d: %v", cpu, err)
	} else {
		res.Pinned = true
	}
}

// runTimed is the body of TimedMain on Linux.
func runTimed(cpu int, argv []string) timedResult {
	var res timedResult
	pinLauncher(cpu, &res)
	// A child subreaper adopts the workload's orphans (a detached
	// `( (x) & )`, a daemon): their CPU time is then reaped here and
	// counted, instead of going to init with the work.
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		res.Error = fmt.Sprintf("prctl(PR_SET_CHILD_SUBREAPER): %v", err)
		return res
	}
	path, err := exec.LookPath(argv[0])
	if err != nil {
		res.Error = err.Error()
		return res
	}
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}}
	start := time.Now()
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		res.Error = fmt.Sprintf("start %s: %v", argv[0], err)
		return res
	}
	// Wait without reaping first: the end time is taken at once, and the
	// exited process's schedstat (its run-queue delay) is still readable.
	var info unix.Siginfo
	for {
		err = unix.Waitid(unix.P_PID, pid, &info, unix.WEXITED|unix.WNOWAIT, nil)
		if err != unix.EINTR {
			break
		}
	}
	res.WallNanos = int64(time.Since(start))
	if err == nil {
		res.RunCPUNanos, res.RunDelayNanos, res.RunDelayKnown = runDelay(pid)
	}
	var ws syscall.WaitStatus
	var ru syscall.Rusage
	for {
		_, err = syscall.Wait4(pid, &ws, 0, &ru)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		res.Error = fmt.Sprintf("wait: %v", err)
		return res
	}
	res.UserNanos, res.SysNanos = ru.Utime.Nano(), ru.Stime.Nano()
	adopted, killed, user, sys := reapDescendants()
	res.Adopted, res.Killed = adopted, killed
	res.UserNanos += user
	res.SysNanos += sys
	if ws.Signaled() {
		res.ExitCode, res.Signal = -1, ws.Signal().String()
	} else {
		res.ExitCode = ws.ExitStatus()
	}
	return res
}

// reapDescendants reaps every process left of the workload once its main
// process has been reaped: the orphans this subreaper adopted, already
// exited or still running. Those still running are killed (SIGKILL): the
// run ended with its main process (its wall time is that one's), and a
// process that outlives it would otherwise run on into the next timed run
// (in a container nobody else kills it). The children of a killed process
// are adopted in turn and killed on the next pass, so the loop ends only
// when no descendant is left (ECHILD). It returns how many processes were
// reaped, how many of them were killed, and the CPU times of all of them
// (each one's rusage includes its own reaped descendants).
func reapDescendants() (adopted, killed int, user, sys int64) {
	self := os.Getpid()
	signalled := map[int]bool{}
	for {
		var ws syscall.WaitStatus
		var ru syscall.Rusage
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, &ru)
		switch {
		case err == syscall.EINTR:
			continue
		case err != nil: // ECHILD: nothing left
			return adopted, killed, user, sys
		case pid > 0:
			adopted++
			if signalled[pid] {
				killed++
				delete(signalled, pid) // the pid may be reused by a new child
			}
			user += ru.Utime.Nano()
			sys += ru.Stime.Nano()
			continue
		}
		// Children are left and none has exited: kill those running, then
		// wait for one to end.
		for _, c := range childrenOf(self) {
			if !signalled[c] {
				signalled[c] = true
				_ = syscall.Kill(c, syscall.SIGKILL)
			}
		}
		for {
			pid, err = syscall.Wait4(-1, &ws, 0, &ru)
			if err != syscall.EINTR {
				break
			}
		}
		if err != nil {
			return adopted, killed, user, sys
		}
		adopted++
		if signalled[pid] {
			killed++
			delete(signalled, pid)
		}
		user += ru.Utime.Nano()
		sys += ru.Stime.Nano()
	}
}

// childrenOf lists the processes whose parent is pid, from /proc (the
// pid namespace's: the container's inside one).
func childrenOf(pid int) []int {
	all, _ := procfs.PIDs()
	var out []int
	for _, c := range all {
		if st, ok := procfs.ReadStat(c); ok && st.PPID == pid {
			out = append(out, c)
		}
	}
	return out
}

// runDelay reads, from /proc/<pid>/schedstat, the time process pid spent
// on a CPU and the time it spent runnable but waiting for one; ok is false
// when the file cannot be read.
func runDelay(pid int) (onCPU, waited int64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/schedstat")
	if err != nil {
		return 0, 0, false
	}
	return parseSchedstat(b)
}

// parseSchedstat reads the first two fields of a schedstat file:
// nanoseconds on a CPU and nanoseconds runnable but waiting for one.
func parseSchedstat(b []byte) (onCPU, waited int64, ok bool) {
	f := strings.Fields(string(b))
	if len(f) < 2 {
		return 0, 0, false
	}
	onCPU, err1 := strconv.ParseInt(f[0], 10, 64)
	waited, err2 := strconv.ParseInt(f[1], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, false
	}
	return onCPU, waited, true
}

// signalNumber maps a signal name (as syscall.Signal.String) to its number.
func signalNumber(name string) int {
	for n := 1; n < 65; n++ {
		if syscall.Signal(n).String() == name {
			return n
		}
	}
	return 0
}
