// Package fsx owns how perfbench writes files: every write is atomic (temp
// file, fsync, rename), so a crash at any instant leaves either the old or
// the new file, never half of one; JSON documents are written with sorted,
// indented output. The temporary file is made next to its destination,
// never in the system temp dir (where renameio would put it when that is
// on the same file system): a harness killed mid-write leaves nothing
// there. It also owns copies out of directories an agent controls
// (CopyTree, OpenFileIn): confined with os.Root, they never follow a
// symbolic link.
package fsx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// WriteFile atomically replaces path with data.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := renameio.WriteFile(path, data, perm, renameio.WithTempDir(filepath.Dir(path))); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// WriteJSON atomically writes v as indented JSON with a trailing newline.
// Callers' document types carry their own schema_version field.
func WriteJSON(path string, v any) error {
	data, err := MarshalJSON(v)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return WriteFile(path, data, 0o644)
}

// MarshalJSON renders v as indented JSON without HTML escaping (patches and
// prompts contain < and >), with a trailing newline.
func MarshalJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// ReadJSON decodes path into v. A missing file returns an error for which
// errors.Is(err, fs.ErrNotExist) holds.
func ReadJSON(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read %s: %w", path, err)
	}
	return nil
}

// Exists reports whether path exists.
func Exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// IsNotExist reports whether err means a missing file.
func IsNotExist(err error) bool { return errors.Is(err, os.ErrNotExist) }
