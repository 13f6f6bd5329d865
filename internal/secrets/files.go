package secrets

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/renameio/v2"
)

// ScrubFile rewrites the regular file at path with every secret replaced.
// The file is streamed (any size) into a temp file next to it, which
// replaces it atomically, keeping its permissions; a file without any
// secret is left untouched (same inode and mtime). Symlinks and other
// non-regular files are refused: agents produce these files, and following
// a link planted by an agent would rewrite a file outside the run.
func (s *Set) ScrubFile(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("scrub %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("scrub %s: not a regular file", path)
	}
	if s.snapshot() == nil {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("scrub %s: %w", path, err)
	}
	defer f.Close()
	// The path could have been swapped for a link between Lstat and Open.
	if ofi, err := f.Stat(); err != nil || !os.SameFile(fi, ofi) {
		return fmt.Errorf("scrub %s: file changed while opening it", path)
	}
	pf, err := renameio.NewPendingFile(path, renameio.WithTempDir(filepath.Dir(path)), renameio.WithStaticPermissions(fi.Mode().Perm()))
	if err != nil {
		return fmt.Errorf("scrub %s: %w", path, err)
	}
	defer pf.Cleanup()
	// writeOnly hides pf's Close from the scrubbing writer, whose Close
	// would otherwise close the temp file before it is synced.
	sw := &writer{set: s, w: writeOnly{pf}}
	if _, err := io.Copy(sw, f); err != nil {
		return fmt.Errorf("scrub %s: %w", path, err)
	}
	if err := sw.Close(); err != nil {
		return fmt.Errorf("scrub %s: %w", path, err)
	}
	if sw.replaced == 0 {
		return nil // Cleanup removes the temp file
	}
	if err := pf.CloseAtomicallyReplace(); err != nil {
		return fmt.Errorf("scrub %s: %w", path, err)
	}
	return nil
}

type writeOnly struct{ w io.Writer }

func (w writeOnly) Write(p []byte) (int, error) { return w.w.Write(p) }

// ScrubTree scrubs every regular file under dir, streaming each one, so
// size does not matter. Symlinks are not followed. It goes on after an
// error and returns all of them.
func (s *Set) ScrubTree(dir string) error {
	var errs []error
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs = append(errs, fmt.Errorf("scrub %s: %w", p, err))
			return nil
		}
		if d.Type().IsRegular() {
			if err := s.ScrubFile(p); err != nil {
				errs = append(errs, err)
			}
		}
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
