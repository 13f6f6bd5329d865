package evaluate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// DefaultLockDir is where the timing locks live unless Options.LockDir says
// otherwise: machine-wide (/tmp, whatever $TMPDIR says), so evaluations of
// different users, state roots and test runs exclude each other too.
func DefaultLockDir() string {
	if fi, err := os.Stat("/tmp"); err == nil && fi.IsDir() {
		return "/tmp/perfbench-timing"
	}
	return filepath.Join(os.TempDir(), "perfbench-timing")
}

// timingSlot is a held timing lock: the CPU it reserves (-1 when timing is
// not pinned) and the open lock file.
type timingSlot struct {
	cpu  int
	f    *os.File
	path string
}

// timingCPUs chooses the CPUs reserved for timing: the slots highest CPUs
// this process may use (CPU 0 usually takes most interrupts), and the
// others, for untimed commands. With one CPU there is nothing to reserve.
func timingCPUs(slots int) (timing, rest []int, err error) {
	cpus, err := allowedCPUs()
	if err != nil {
		return nil, nil, err
	}
	if len(cpus) == 0 {
		return nil, nil, errors.New("no CPU available")
	}
	if slots < 1 {
		slots = 1
	}
	if slots >= len(cpus) {
		// Keep one CPU for the harness and the untimed commands.
		slots = max(1, len(cpus)-1)
	}
	timing = cpus[len(cpus)-slots:]
	rest = cpus[:len(cpus)-slots]
	return timing, rest, nil
}

// acquireTiming takes the exclusive lock of one of the candidate CPUs,
// waiting (and saying so once on log) while all are held by other
// evaluations. With no candidates it takes one machine-wide lock.
func acquireTiming(ctx context.Context, dir string, candidates []int, log io.Writer) (*timingSlot, error) {
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, fmt.Errorf("timing lock: %w", err)
	}
	// Shared by every user of the machine, like /tmp itself. Best effort:
	// only the owner may change it.
	// Checked before the chmod, which would follow a planted link.
	if err := checkLockDir(dir, log); err != nil {
		return nil, err
	}
	_ = os.Chmod(dir, 0o777|os.ModeSticky)
	type cand struct {
		cpu  int
		path string
	}
	var cands []cand
	for _, c := range candidates {
		cands = append(cands, cand{c, filepath.Join(dir, "cpu"+strconv.Itoa(c)+".lock")})
	}
	if len(cands) == 0 {
		cands = []cand{{-1, filepath.Join(dir, "unpinned.lock")}}
	}
	said := false
	delay := 20 * time.Millisecond
	for {
		for _, c := range cands {
			// O_NOFOLLOW: a link planted in the shared directory must not
			// make the harness create or truncate a file elsewhere.
			f, err := os.OpenFile(c.path, os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o666)
			if err != nil {
				return nil, fmt.Errorf("timing lock: %w", err)
			}
			if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
				f.Close()
				return nil, fmt.Errorf("timing lock %s: not a regular file", c.path)
			}
			_ = f.Chmod(0o666)
			err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			if err == nil {
				// Best effort: who holds it, for the next one waiting.
				_ = f.Truncate(0)
				_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
				return &timingSlot{cpu: c.cpu, f: f, path: c.path}, nil
			}
			f.Close()
			if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
				return nil, fmt.Errorf("timing lock %s: %w", c.path, err)
			}
		}
		if !said && log != nil {
			holder, _ := os.ReadFile(cands[0].path)
			fmt.Fprintf(log, "waiting for the timing lock %s (held by pid %s): only one evaluation times at a time\n",
				cands[0].path, orUnknown(strings.TrimSpace(string(holder))))
			said = true
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("timing lock: %w", context.Cause(ctx))
		case <-time.After(delay):
		}
		delay = min(delay*2, 500*time.Millisecond)
	}
}

// checkLockDir refuses a lock directory that is a link or not a directory,
// and warns when another unprivileged user owns it: that user (an agent's
// run_as user, say, that created it first) could remove the lock files and
// so let two evaluations time at once.
func checkLockDir(dir string, log io.Writer) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("timing lock: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("timing lock: %s is not a directory", dir)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && st.Uid != 0 && int(st.Uid) != os.Getuid() && log != nil {
		fmt.Fprintf(log, "warning: the timing lock directory %s belongs to uid %d, who can break the exclusion of timed runs; remove it or set a lock directory of your own\n", dir, st.Uid)
	}
	return nil
}

// release drops the lock. The file stays: removing a flock file lets two
// processes hold "the" lock on different inodes.
func (s *timingSlot) release() {
	if s == nil || s.f == nil {
		return
	}
	_ = syscall.Flock(int(s.f.Fd()), syscall.LOCK_UN)
	s.f.Close()
	s.f = nil
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}
