package proc

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"syscall"
	"time"
	"unsafe"

	"github.com/perfbench/perfbench/internal/procfs"
)

// KillUser SIGKILLs every process of uid and waits (at most sweepBound)
// until none is alive: what a run_as agent left running outside its
// process group (setsid, a daemon) would otherwise go on writing in the
// rollout while the harness takes it back and captures it, and outlive
// the rollout into the evaluation's timing. The uid must be one only the
// agents use: every process of it is killed. Only root may call it.
func KillUser(uid int) error {
	if uid <= 0 {
		return fmt.Errorf("kill the processes of uid %d: not an agent's uid", uid)
	}
	deadline := time.Now().Add(sweepBound)
	for {
		if err := killAllAs(uid); err != nil {
			return fmt.Errorf("kill the processes of uid %d: %w", uid, err)
		}
		live, err := UserProcesses(uid)
		if err != nil {
			return fmt.Errorf("kill the processes of uid %d: %w", uid, err)
		}
		if len(live) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("processes of uid %d still alive after SIGKILL: %v", uid, live)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// UserProcesses lists the live processes (not zombies) whose real,
// effective or saved uid is uid: a set-user-ID program the agent started
// keeps its real uid.
func UserProcesses(uid int) ([]int, error) {
	all, err := procfs.PIDs()
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, pid := range all {
		data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
		if err != nil {
			continue // exited while we scanned
		}
		if statusHasUID(data, uid) {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// statusHasUID reads a /proc/<pid>/status: a live process (state not Z
// or X) with uid among its real, effective and saved uids.
func statusHasUID(data []byte, uid int) bool {
	var state []byte
	var uids [][]byte
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		if v, ok := bytes.CutPrefix(line, []byte("State:")); ok {
			state = bytes.TrimSpace(v)
		} else if v, ok := bytes.CutPrefix(line, []byte("Uid:")); ok {
			uids = bytes.Fields(v)
		}
	}
	if len(state) == 0 || state[0] == 'Z' || state[0] == 'X' {
		return false
	}
	want := []byte(strconv.Itoa(uid))
	for i, u := range uids {
		if i < 3 && bytes.Equal(u, want) {
			return true
		}
	}
	return false
}

// killAllAs sends SIGKILL with kill(-1) from a thread that has become uid:
// the kernel then signals exactly the processes of uid (real or saved uid,
// set-user-ID programs it started included) in one pass that a fork
// cannot outrun, and never bench itself.
func killAllAs(uid int) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if syscall.Gettid() == syscall.Getpid() {
			// The main thread is never ended (and is what /proc and
			// kill(2) see of bench): hold it, so that the goroutine
			// below runs on another thread.
			errc <- killAllAs(uid)
			runtime.UnlockOSThread()
			return
		}
		// Never unlocked: the thread keeps uid and ends with this
		// goroutine instead of going back to run others.
		errc <- killFromThread(uid)
	}()
	return <-errc
}

func killFromThread(uid int) error {
	// The raw system call changes this thread only (syscall.Setresuid
	// would change every thread of bench).
	u := uintptr(uid)
	if _, _, e := syscall.RawSyscall(syscall.SYS_SETRESUID, u, u, u); e != 0 {
		return fmt.Errorf("setresuid: %w", e)
	}
	// kill(-1) reaches every process the caller may signal: with CAP_KILL
	// kept (securebits) that would be the whole machine.
	hdr := struct {
		version uint32
		pid     int32
	}{version: 0x20080522} // _LINUX_CAPABILITY_VERSION_3
	var data [2]struct{ effective, permitted, inheritable uint32 }
	if _, _, e := syscall.RawSyscall(syscall.SYS_CAPGET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
		return fmt.Errorf("capget: %w", e)
	}
	if data[0].effective|data[1].effective != 0 {
		return errors.New("capabilities kept after setresuid: refusing kill(-1)")
	}
	minus1 := -1
	if _, _, e := syscall.RawSyscall(syscall.SYS_KILL, uintptr(minus1), uintptr(syscall.SIGKILL), 0); e != 0 && e != syscall.ESRCH {
		return fmt.Errorf("kill: %w", e)
	}
	return nil
}
