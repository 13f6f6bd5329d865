package evaluate

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runTraced is runTimed for a probe run (--count sched): it follows the
// workload's whole process tree with ptrace — stops at fork, clone, exec
// and exit only, no system-call tracing — and at each task's exit stop,
// before its parent can reap it, reads its /proc/<tid>/schedstat: the
// tree's time on a CPU and its run-queue delay (time runnable but waiting
// for a CPU another task held), summed over every task. The launcher of a
// timed run reads only its main process's, since a descendant's schedstat
// is gone once its parent reaps it. The stops cost a few context switches
// per process, so probe runs serve calibrate's metric advice, never a
// timed sample. The wall time ends at the main process's exit stop; tasks
// still running then are killed, as after a timed run.
func runTraced(cpu int, argv []string) timedResult {
	var res timedResult
	// Every ptrace request must come from the thread that traces, which
	// pinLauncher locks.
	pinLauncher(cpu, &res)
	path, err := exec.LookPath(argv[0])
	if err != nil {
		res.Error = err.Error()
		return res
	}
	attr := &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}, Sys: &syscall.SysProcAttr{Ptrace: true}}
	start := time.Now()
	pid, err := syscall.ForkExec(path, argv, attr)
	if err != nil {
		res.Error = fmt.Sprintf("start %s: %v", argv[0], err)
		return res
	}
	res.CountMethod = CounterSched
	// The child stops with SIGTRAP after its execve (PTRACE_TRACEME).
	var ws syscall.WaitStatus
	if _, err := wait4(pid, &ws, 0); err != nil || !ws.Stopped() {
		res.Error = fmt.Sprintf("trace %s: the child did not stop after exec (%v)", argv[0], err)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_, _ = wait4(pid, &ws, 0)
		return res
	}
	opts := unix.PTRACE_O_TRACEFORK | unix.PTRACE_O_TRACEVFORK | unix.PTRACE_O_TRACECLONE |
		unix.PTRACE_O_TRACEEXEC | unix.PTRACE_O_TRACEEXIT | unix.PTRACE_O_EXITKILL
	if err := unix.PtraceSetOptions(pid, opts); err != nil {
		res.Error = fmt.Sprintf("ptrace: %v", err)
		_ = syscall.Kill(pid, syscall.SIGKILL)
		_, _ = wait4(pid, &ws, 0)
		return res
	}
	_ = unix.PtraceCont(pid, 0)
	live := map[int]bool{pid: true}
	seen := map[int]bool{pid: true}
	var onCPU, waited int64
	known, mainDone := true, false
	for len(live) > 0 {
		var ru syscall.Rusage
		tid, err := syscall.Wait4(-1, &ws, unix.WALL, &ru)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			break // ECHILD: no tracee left
		}
		switch {
		case ws.Exited() || ws.Signaled():
			delete(live, tid)
			if tid == pid {
				mainDone = true
				res.UserNanos, res.SysNanos = ru.Utime.Nano(), ru.Stime.Nano()
				if ws.Signaled() {
					res.ExitCode, res.Signal = -1, ws.Signal().String()
				} else {
					res.ExitCode = ws.ExitStatus()
				}
				// What outlives the main process is killed: the run
				// ended with it.
				for t := range live {
					_ = syscall.Kill(t, syscall.SIGKILL)
				}
			}
		case ws.Stopped() && ws.StopSignal() == syscall.SIGTRAP && ws.TrapCause() == unix.PTRACE_EVENT_EXIT:
			if tid == pid {
				res.WallNanos = int64(time.Since(start))
			}
			if !mainDone {
				if c, w, ok := taskSchedstat(tid); ok {
					onCPU, waited = onCPU+c, waited+w
				} else {
					known = false
				}
			}
			_ = unix.PtraceCont(tid, 0)
		case ws.Stopped() && ws.StopSignal() == syscall.SIGTRAP && ws.TrapCause() > 0:
			// fork, vfork, clone, exec: the new task is traced by the
			// options; it reports its own first stop.
			if ws.TrapCause() != unix.PTRACE_EVENT_EXEC {
				if child, err := unix.PtraceGetEventMsg(tid); err == nil {
					live[int(child)] = true
				}
			}
			_ = unix.PtraceCont(tid, 0)
		case ws.Stopped() && ws.StopSignal() == syscall.SIGSTOP && !seen[tid]:
			// A new task's attach stop.
			seen[tid], live[tid] = true, true
			_ = unix.PtraceCont(tid, 0)
		case ws.Stopped():
			seen[tid], live[tid] = true, true
			// A signal for the workload: deliver it.
			_ = unix.PtraceCont(tid, int(ws.StopSignal()))
		}
	}
	if !mainDone {
		res.Error = "trace: lost the main process"
		return res
	}
	if res.WallNanos == 0 {
		res.WallNanos = int64(time.Since(start))
	}
	res.TreeCPUNanos, res.TreeDelayNanos, res.TreeKnown = onCPU, waited, known
	return res
}

// taskSchedstat reads a task's time on a CPU and run-queue delay
// (nanoseconds), its thread's own when tid is a thread.
func taskSchedstat(tid int) (onCPU, waited int64, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(tid) + "/task/" + strconv.Itoa(tid) + "/schedstat")
	if err != nil {
		return runDelay(tid)
	}
	return parseSchedstat(b)
}

func wait4(pid int, ws *syscall.WaitStatus, opts int) (int, error) {
	for {
		p, err := syscall.Wait4(pid, ws, opts, nil)
		if err != syscall.EINTR {
			return p, err
		}
	}
}
