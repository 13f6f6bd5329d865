package fsx

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// Copies out of places an agent controls (its output folder, its HOME)
// never follow a symbolic link, at the source or at the destination, and
// never leave either directory: each directory is opened as an os.Root
// relative to its parent, and every entry is looked at with Lstat and then
// opened; an entry that is not, once opened, the very file Lstat saw (the
// agent swapped it for a link or another file meanwhile) is left out.
// os.Root resolves a link that stays inside its directory, so the identity
// check is what makes the opens no-follow; a link that leads out of the
// root is refused by os.Root itself. Symbolic links are recreated as links,
// never followed.

// CopyLimits bound a copy. Zero means no limit.
type CopyLimits struct {
	// MaxFile is the largest file copied, in bytes.
	MaxFile int64
	// MaxTotal bounds the bytes of all files copied: a file that would
	// bring the total over it is left out (later, smaller files may still
	// fit). Files are taken in path order.
	MaxTotal int64
	// MaxEntries bounds the entries (files, directories, links) copied:
	// empty files cost no bytes, but a million of them cost the state dir.
	MaxEntries int
	// Filter, when set, wraps the destination of every file copied (a
	// secret scrubber), so that no unfiltered byte reaches dst even when
	// the copy is cut short. Closing what it returns must flush, not close,
	// the file.
	Filter func(io.Writer) io.WriteCloser
	// Reject, when set, leaves out an entry whose name or link target it
	// refuses (one holding a secret value).
	Reject func(string) bool
}

// maxSkippedListed bounds the entries a copy lists as left out; the rest
// are counted in one last entry.
const maxSkippedListed = 100

// Skipped is an entry a copy left out, and why.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// maxCopyDepth bounds the nesting of a copied tree: each level holds two
// open directories.
const maxCopyDepth = 64

// beforeOpen, when set (by tests), runs between the Lstat of a regular
// file or directory and its open: the window in which an agent could swap
// it.
var beforeOpen func(dir *os.Root, name string)

// OpenRoot opens the directory dir as an os.Root without following a
// symbolic link at dir itself: a link (or anything else that is not a
// directory) there, or a directory swapped in after the check, is an
// error. The components above dir are trusted.
func OpenRoot(dir string) (*os.Root, error) {
	fi, err := os.Lstat(dir)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return nil, &os.PathError{Op: "open", Path: dir, Err: notDir(fi)}
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	if err := sameAsRoot(r, fi); err != nil {
		r.Close()
		return nil, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	return r, nil
}

// OpenRootUnder opens dir, a directory at or below base, as an os.Root
// following a symbolic link at no component below base: for a folder
// inside a tree an agent can rearrange (its rollout directory), base being
// what the harness made and the agent cannot replace (its mount point). A
// dir outside base is opened with OpenRoot.
func OpenRootUnder(base, dir string) (*os.Root, error) {
	rel, err := filepath.Rel(base, dir)
	if err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return OpenRoot(dir)
	}
	r, err := OpenRoot(base)
	if err != nil || rel == "." {
		return r, err
	}
	for _, name := range strings.Split(filepath.ToSlash(rel), "/") {
		fi, err := r.Lstat(name)
		if err == nil && !fi.IsDir() {
			err = &os.PathError{Op: "open", Path: dir, Err: notDir(fi)}
		}
		var sub *os.Root
		if err == nil {
			sub, err = openSubRoot(r, name, fi)
		}
		r.Close()
		if err != nil {
			return nil, err
		}
		r = sub
	}
	return r, nil
}

// openSubRoot opens name in parent as a root, refusing anything but the
// directory fi describes (from parent.Lstat(name)).
func openSubRoot(parent *os.Root, name string, fi os.FileInfo) (*os.Root, error) {
	if beforeOpen != nil {
		beforeOpen(parent, name)
	}
	r, err := parent.OpenRoot(name)
	if err != nil {
		return nil, err
	}
	if err := sameAsRoot(r, fi); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

var errChanged = errors.New("changed while being copied")

func sameAsRoot(r *os.Root, fi os.FileInfo) error {
	st, err := r.Stat(".")
	if err != nil {
		return err
	}
	if !os.SameFile(fi, st) {
		return errChanged
	}
	return nil
}

func notDir(fi os.FileInfo) error {
	if fi.Mode()&os.ModeSymlink != 0 {
		return errors.New("a symbolic link, not a directory")
	}
	return syscall.ENOTDIR
}

// OpenFileIn opens the regular file name (a slash-separated path inside
// dir.Name()) for reading: never outside dir, never a symbolic link as its
// last component, never a FIFO or device (opened non-blocking, checked
// after the open).
func OpenFileIn(dir *os.Root, name string) (*os.File, error) {
	fi, err := dir.Lstat(name)
	if err != nil {
		return nil, err
	}
	return openRegular(dir, name, fi)
}

// OpenNoFollow opens the regular file path for reading, following a
// symbolic link neither at path nor at its directory (see OpenRoot,
// OpenFileIn), and never opening a FIFO: for files an agent wrote that the
// harness parses.
func OpenNoFollow(path string) (*os.File, error) {
	r, err := OpenRoot(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	return OpenFileIn(r, filepath.Base(path))
}

// ReadFileNoFollow reads the file OpenNoFollow opens.
func ReadFileNoFollow(path string) ([]byte, error) {
	f, err := OpenNoFollow(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// openRegular opens name in dir, which Lstat described as fi, and checks
// that the opened file is that regular file.
func openRegular(dir *os.Root, name string, fi os.FileInfo) (*os.File, error) {
	if !fi.Mode().IsRegular() {
		return nil, &os.PathError{Op: "open", Path: name, Err: errors.New("not a regular file")}
	}
	if beforeOpen != nil {
		beforeOpen(dir, name)
	}
	// O_NOFOLLOW is what os.Root does anyway; O_NONBLOCK keeps a FIFO
	// swapped in from blocking the open.
	f, err := dir.OpenFile(name, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil && (!st.Mode().IsRegular() || !os.SameFile(fi, st)) {
		err = &os.PathError{Op: "open", Path: name, Err: errChanged}
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// CopyFileRoots copies the regular file srcName of src (see OpenFileIn)
// to dstName in dst, replacing an entry of that name (a link there is
// replaced, not followed). Nothing leaves either root.
func CopyFileRoots(src *os.Root, srcName string, dst *os.Root, dstName string, perm os.FileMode) error {
	in, err := OpenFileIn(src, srcName)
	if err != nil {
		return err
	}
	defer in.Close()
	if err := dst.Remove(dstName); err != nil && !IsNotExist(err) {
		return err
	}
	out, err := dst.OpenFile(dstName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	return CopyClose(out, in)
}

// CopyClose copies in to out and closes out, reporting the first error.
func CopyClose(out io.WriteCloser, in io.Reader) error {
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// CopyTree copies the directories, regular files and symbolic links under
// src into dst, created if needed and expected empty; see CopyTreeRoots.
// A src that is missing or not a directory (a link to one included) is
// reported as skipped ".", not as an error.
func CopyTree(src, dst string, lim CopyLimits) ([]Skipped, error) {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return nil, fmt.Errorf("copy %s: %w", src, err)
	}
	d, err := os.OpenRoot(dst)
	if err != nil {
		return nil, fmt.Errorf("copy %s: %w", src, err)
	}
	defer d.Close()
	s, err := OpenRoot(src)
	if err != nil {
		return []Skipped{{Path: ".", Reason: reasonOf(err)}}, nil
	}
	defer s.Close()
	skipped, err := CopyTreeRoots(s, d, lim)
	if err != nil {
		return skipped, fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	return skipped, nil
}

// CopyTreeRoots copies the tree of src into dst (whose directory is
// expected empty: nothing is overwritten). Regular files get their
// permission bits (without setuid, setgid or sticky); symbolic links are
// recreated with the same target, never followed; other kinds of files,
// entries the agent changed while they were copied, unreadable entries and
// files over lim are left out and returned in skipped (slash-separated
// paths). An error means the destination could not be written.
func CopyTreeRoots(src, dst *os.Root, lim CopyLimits) (skipped []Skipped, err error) {
	c := &copier{lim: lim}
	err = c.dir(src, dst, "", 0)
	if c.more > 0 {
		c.skipped = append(c.skipped, Skipped{Path: "...", Reason: fmt.Sprintf("%d more entries left out", c.more)})
	}
	return c.skipped, err
}

type copier struct {
	lim     CopyLimits
	total   int64
	entries int
	skipped []Skipped
	more    int // skipped beyond maxSkippedListed
}

func (c *copier) skip(p, reason string) {
	if len(c.skipped) >= maxSkippedListed {
		c.more++
		return
	}
	c.skipped = append(c.skipped, Skipped{Path: p, Reason: reason})
}

// admit counts an entry against MaxEntries and Reject.
func (c *copier) admit(p, name string) bool {
	if c.lim.Reject != nil && c.lim.Reject(name) {
		c.skip("[name withheld]", "its name holds a secret value")
		return false
	}
	if c.lim.MaxEntries > 0 && c.entries >= c.lim.MaxEntries {
		c.skip(p, fmt.Sprintf("over the limit of %d entries", c.lim.MaxEntries))
		return false
	}
	c.entries++
	return true
}

// dir copies the entries of src (at path rel of the tree) into dst.
func (c *copier) dir(src, dst *os.Root, rel string, depth int) error {
	f, err := src.Open(".")
	if err != nil {
		c.skip(relOrDot(rel), reasonOf(err))
		return nil
	}
	names, err := f.Readdirnames(-1)
	f.Close()
	if err != nil {
		c.skip(relOrDot(rel), reasonOf(err))
		return nil
	}
	slices.Sort(names)
	for _, name := range names {
		p := path.Join(rel, name)
		fi, err := src.Lstat(name)
		if err != nil {
			c.skip(p, reasonOf(err))
			continue
		}
		if !c.admit(p, name) {
			continue
		}
		switch m := fi.Mode(); {
		case m.IsDir():
			if depth+1 > maxCopyDepth {
				c.skip(p, fmt.Sprintf("nested deeper than %d directories", maxCopyDepth))
				continue
			}
			if err := c.subdir(src, dst, name, p, fi, depth+1); err != nil {
				return err
			}
		case m&os.ModeSymlink != 0:
			target, err := src.Readlink(name)
			if err != nil {
				c.skip(p, reasonOf(err))
				continue
			}
			if c.lim.Reject != nil && c.lim.Reject(target) {
				c.skip(p, "its link target holds a secret value")
				continue
			}
			if err := dst.Symlink(target, name); err != nil {
				return err
			}
		case m.IsRegular():
			if err := c.file(src, dst, name, p, fi); err != nil {
				return err
			}
		default:
			c.skip(p, "not a regular file, directory or symbolic link ("+m.Type().String()+")")
		}
	}
	return nil
}

func (c *copier) subdir(src, dst *os.Root, name, p string, fi os.FileInfo, depth int) error {
	s, err := openSubRoot(src, name, fi)
	if err != nil {
		c.skip(p, reasonOf(err))
		return nil
	}
	defer s.Close()
	if err := dst.Mkdir(name, 0o755); err != nil {
		return err
	}
	d, err := dst.OpenRoot(name)
	if err != nil {
		return err
	}
	defer d.Close()
	return c.dir(s, d, p, depth)
}

func (c *copier) file(src, dst *os.Root, name, p string, fi os.FileInfo) error {
	in, err := openRegular(src, name, fi)
	if err != nil {
		c.skip(p, reasonOf(err))
		return nil
	}
	defer in.Close()
	// The size of what was opened (it may have grown since Lstat).
	size := fi.Size()
	if st, err := in.Stat(); err == nil {
		size = st.Size()
	}
	limit := int64(-1)
	if c.lim.MaxFile > 0 {
		if size > c.lim.MaxFile {
			c.skip(p, fmt.Sprintf("%d bytes, over the limit of %d bytes per file", size, c.lim.MaxFile))
			return nil
		}
		limit = c.lim.MaxFile
	}
	if c.lim.MaxTotal > 0 {
		left := c.lim.MaxTotal - c.total
		if size > left {
			c.skip(p, fmt.Sprintf("%d bytes, over the total limit of %d bytes (%d copied before it)", size, c.lim.MaxTotal, c.total))
			return nil
		}
		if limit < 0 || left < limit {
			limit = left
		}
	}
	out, err := dst.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fi.Mode().Perm())
	if err != nil {
		return err
	}
	r := &sourceReader{r: in}
	var lr io.Reader = r
	if limit >= 0 {
		lr = io.LimitReader(r, limit+1)
	}
	var w io.WriteCloser = nopWriteCloser{out}
	if c.lim.Filter != nil {
		w = c.lim.Filter(nopWriteCloser{out})
	}
	n, err := io.Copy(w, lr)
	if ferr := w.Close(); err == nil {
		err = ferr
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	switch {
	case r.err != nil:
		// The source's failure: leave the file out.
		c.skip(p, reasonOf(r.err))
		return dst.Remove(name)
	case err != nil:
		return err
	case limit >= 0 && n > limit:
		c.skip(p, "grew past the size limit while being copied")
		return dst.Remove(name)
	}
	c.total += n
	return nil
}

// nopWriteCloser keeps a filter's Close from closing the file.
type nopWriteCloser struct{ io.Writer }

func (nopWriteCloser) Close() error { return nil }

// sourceReader remembers a read error, to tell it from a write error.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

func relOrDot(rel string) string {
	if rel == "" {
		return "."
	}
	return rel
}

// reasonOf is an error as a skip reason, without the paths os.Root's
// errors carry (the harness's, not the agent's).
func reasonOf(err error) string {
	if errors.Is(err, errChanged) {
		return errChanged.Error()
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		err = le.Err
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return "missing"
	case errors.Is(err, unix.ELOOP) || err.Error() == "path escapes from parent":
		// os.Root refuses a link that leads out of it.
		return "a symbolic link out of the folder"
	}
	return err.Error()
}

// ReplaceDir puts the directory fresh in place of dir (which may be
// missing), then removes what dir held: the swap is one atomic
// renameat2(RENAME_EXCHANGE) where the file system supports it, else a
// rename of dir out of the way followed by a rename of fresh into its
// place. fresh and dir must be in the same directory.
func ReplaceDir(fresh, dir string) error {
	if _, err := os.Lstat(dir); IsNotExist(err) {
		return os.Rename(fresh, dir)
	}
	exchanged, err := exchange(fresh, dir)
	if exchanged {
		return RemoveAll(fresh) // now holds the old dir
	}
	if err != nil {
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	old, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+"-old-")
	if err != nil {
		return err
	}
	moved := filepath.Join(old, filepath.Base(dir))
	if err := os.Rename(dir, moved); err != nil {
		os.Remove(old)
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	if err := os.Rename(fresh, dir); err != nil {
		return fmt.Errorf("replace %s: %w", dir, err)
	}
	return RemoveAll(old)
}
