// Package fsx owns how perfbench writes files: every write is atomic (temp
// file, fsync, rename), so a crash at any instant leaves either the old or
// the new file, never half of one; JSON documents are written with sorted,
// indented output. The temporary file is made next to its destination,
// never in the system temp dir (where renameio would put it when that is
// on the same file system): a harness killed mid-write leaves nothing
// there.
package fsx

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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

// CopyTree copies the regular files, directories and symlinks under src into
// dst (created if needed). Files larger than maxFile bytes (when > 0) are
// skipped and returned in skipped.
func CopyTree(src, dst string, maxFile int64) (skipped []string, err error) {
	err = filepath.WalkDir(src, func(p string, d os.DirEntry, werr error) error {
		if werr != nil {
			return werr
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.MkdirAll(target, 0o755)
		case d.Type()&os.ModeSymlink != 0:
			link, err := os.Readlink(p)
			if err != nil {
				return err
			}
			return os.Symlink(link, target)
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			if maxFile > 0 && info.Size() > maxFile {
				skipped = append(skipped, rel)
				return nil
			}
			return copyFile(p, target, info.Mode().Perm())
		}
		return nil
	})
	if err != nil {
		return skipped, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return skipped, nil
}

// copyFile streams src into an atomically replaced dst, so large agent
// outputs never sit in memory.
func copyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	out, err := renameio.NewPendingFile(dst, renameio.WithTempDir(filepath.Dir(dst)), renameio.WithPermissions(perm))
	if err != nil {
		return err
	}
	defer out.Cleanup()
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.CloseAtomicallyReplace()
}
