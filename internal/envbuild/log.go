package envbuild

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"time"

	"github.com/perfbench/perfbench/internal/fsx"
)

// ImagesSchemaVersion is images.json's.
const ImagesSchemaVersion = 1

// ImagesFile is the build log under the state root. The engine is the
// source of truth of which images exist; this file only records what
// perfbench built and reused, and when.
const ImagesFile = "images.json"

// maxLogEntries bounds images.json: the oldest entries go first.
const maxLogEntries = 1000

// ImageLog is images.json.
type ImageLog struct {
	SchemaVersion int        `json:"schema_version"`
	Entries       []LogEntry `json:"entries"`
}

// LogEntry is one build or reuse.
type LogEntry struct {
	Time time.Time `json:"time"`
	// Action is "built" or "reused".
	Action string `json:"action"`
	Kind   string `json:"kind"`
	Tag    string `json:"tag"`
	ID     string `json:"id"`
	Hash   string `json:"hash"`
	Task   string `json:"task,omitempty"`
}

// ReadImageLog reads <stateRoot>/images.json; an empty log when there is
// none.
func ReadImageLog(stateRoot string) (*ImageLog, error) {
	var l ImageLog
	err := fsx.ReadJSON(filepath.Join(stateRoot, ImagesFile), &l)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &ImageLog{SchemaVersion: ImagesSchemaVersion}, nil
	case err != nil:
		return nil, err
	case l.SchemaVersion > ImagesSchemaVersion:
		return nil, fmt.Errorf("%s: schema_version %d is newer than this bench (%d)", filepath.Join(stateRoot, ImagesFile), l.SchemaVersion, ImagesSchemaVersion)
	}
	return &l, nil
}

// logImage appends b to images.json under its lock, atomically.
func logImage(ctx context.Context, o BuildOptions, kind, task string, b *Built) error {
	lock, err := fsx.WaitLock(ctx, filepath.Join(o.StateRoot, "locks", ImagesFile+".lock"))
	if err != nil {
		return fmt.Errorf("images.json: %w", err)
	}
	defer lock.Unlock()
	l, err := ReadImageLog(o.StateRoot)
	if err != nil {
		return err
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	action := "built"
	if b.Reused {
		action = "reused"
	}
	l.SchemaVersion = ImagesSchemaVersion
	l.Entries = append(l.Entries, LogEntry{Time: now().UTC(), Action: action, Kind: kind, Tag: b.Image.Tag, ID: b.Image.ID, Hash: b.Image.Hash, Task: task})
	if n := len(l.Entries); n > maxLogEntries {
		l.Entries = append([]LogEntry(nil), l.Entries[n-maxLogEntries:]...)
	}
	return fsx.WriteJSON(filepath.Join(o.StateRoot, ImagesFile), l)
}
