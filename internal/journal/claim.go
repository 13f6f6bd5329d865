package journal

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/records"
)

// Lock files. A claim is an flock on <item>/.claim held while a process
// works in the item directory; <state_root>/runs/.lock covers choosing
// and creating a run; <run>/.lock covers rewriting run.json and the
// predictions files.
const (
	ClaimFile = ".claim"
	LockFile  = ".lock"
)

// Self is this process.
func Self() records.Harness {
	host, _ := os.Hostname()
	return records.Harness{Host: host, PID: os.Getpid()}
}

// Holder is what a claim file says about the process holding it: for
// messages only (the flock decides who holds it).
type Holder struct {
	SchemaVersion int    `json:"schema_version"`
	Command       string `json:"command"`
	records.Harness
	Since time.Time `json:"since"`
}

// String is "pid 123@host (prepare) since 2026-01-02T15:04:05Z".
func (h *Holder) String() string {
	if h == nil || h.PID == 0 {
		return "another process"
	}
	return fmt.Sprintf("%s since %s", h.Who(), h.Since.UTC().Format(time.RFC3339))
}

// Who is "pid 123@host (prepare)".
func (h *Holder) Who() string {
	if h == nil || h.PID == 0 {
		return "another process"
	}
	return fmt.Sprintf("%s (%s)", h.Harness, h.Command)
}

// HeldError is returned by ClaimItem when another process holds the item.
type HeldError struct {
	Dir string
	// Holder is nil when the claim file could not be read (being
	// written at that instant).
	Holder *Holder
}

func (e *HeldError) Error() string {
	return fmt.Sprintf("%s: held by %s", filepath.Base(e.Dir), e.Holder)
}

// Claim is a held claim on an item directory.
type Claim struct{ lock *fsx.Lock }

// ClaimItem claims an item (or sample) directory, creating it, before any
// work in it: a *HeldError when another live process holds it. A claim
// file whose lock is free (its process died) is taken over.
func ClaimItem(itemDir, command string, now time.Time) (*Claim, error) {
	path := filepath.Join(itemDir, ClaimFile)
	l, err := fsx.TryLock(path)
	if errors.Is(err, fsx.ErrLocked) {
		return nil, &HeldError{Dir: itemDir, Holder: readHolder(path)}
	}
	if err != nil {
		return nil, fmt.Errorf("claim: %w", err)
	}
	h := Holder{SchemaVersion: records.SchemaVersion, Command: command, Harness: Self(), Since: now.UTC()}
	data, _ := json.Marshal(h)
	// Written in place, not renamed: the lock is on this inode. A reader
	// may see it half-written; it is only ever shown in messages.
	f := l.File()
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(data, '\n'), 0)
	}
	return &Claim{lock: l}, nil
}

// Release empties the claim file and drops the lock.
func (c *Claim) Release() {
	if c == nil || c.lock == nil {
		return
	}
	_ = c.lock.File().Truncate(0)
	_ = c.lock.Unlock()
	c.lock = nil
}

func readHolder(path string) *Holder {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var h Holder
	if json.Unmarshal([]byte(strings.TrimSpace(string(data))), &h) != nil || h.PID == 0 {
		return nil
	}
	return &h
}

// LockRuns takes <state_root>/runs/.lock, under which a run is chosen
// (resume's newest matching run) or created (its new id), waiting while
// another process holds it.
func LockRuns(ctx context.Context, stateRoot string) (*fsx.Lock, error) {
	return fsx.WaitLock(ctx, filepath.Join(RunsDir(stateRoot), LockFile))
}

// LockRun takes <run>/.lock, under which run.json and the predictions
// files are rewritten.
func LockRun(ctx context.Context, runDir string) (*fsx.Lock, error) {
	return fsx.WaitLock(ctx, filepath.Join(runDir, LockFile))
}

// UpdateRun re-reads run.json under the run's lock, applies change and
// writes it back, so that one process never writes back another's fields
// from a stale copy.
func UpdateRun(ctx context.Context, runDir string, change func(*records.Run)) (*records.Run, error) {
	l, err := LockRun(ctx, runDir)
	if err != nil {
		return nil, err
	}
	defer l.Unlock()
	r, err := ReadRun(runDir)
	if err != nil {
		return nil, err
	}
	change(r)
	if err := WriteRun(runDir, r); err != nil {
		return nil, err
	}
	return r, nil
}
