package container

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/perfbench/perfbench/internal/fsx"
)

// Ownership is what RestoreOwnership found.
type Ownership struct {
	// Fixed entries were given back to the invoking user.
	Fixed int
	// Foreign entries still belong to someone else: only root may give
	// files away, so a non-root harness can only report them.
	Foreign int
	// Example is one foreign path, for the message.
	Example string
	// Linked non-directories with other hard links were left as they are
	// (GiveOwnership only).
	Linked int
}

// beforeLchown, when set (by tests), runs just before an entry is given
// back: the window in which a process still running could swap a
// directory above it for a link.
var beforeLchown func(dir, rel string)

// RestoreOwnership makes every file, directory and symlink under dirs owned
// by uid:gid where it is owned by another user, so that nothing a
// container wrote (as root, or as a user mapped differently) is left
// behind that the invoking user cannot delete. Containers run as the
// invoking user (--user uid:gid), so normally there is nothing to do; this
// is the safety net for images or nested runtime containers that write as
// another user. Symlinks are not followed: each dir is walked as an
// os.Root opened without following a link at dir itself, and entries are
// changed with Lchown inside it, so a link (or a directory swapped for one
// by a process still running) never takes the walk out of dir. Without
// the privilege to chown, foreign entries are counted, not fixed.
func RestoreOwnership(uid, gid int, dirs ...string) (Ownership, error) {
	return chownTrees(uid, gid, false, dirs)
}

// GiveOwnership is RestoreOwnership for handing trees of the harness's to
// an unprivileged user (run_as) before it runs: a non-directory with more
// than one hard link is left as it is and counted as Linked, since its
// other name may be anywhere on the file system (a file of root's that a
// process of the user's, racing the give, linked in).
func GiveOwnership(uid, gid int, dirs ...string) (Ownership, error) {
	return chownTrees(uid, gid, true, dirs)
}

func chownTrees(uid, gid int, skipLinked bool, dirs []string) (Ownership, error) {
	var o Ownership
	var errs []error
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		root, err := fsx.OpenRoot(dir)
		if err != nil {
			if !errors.Is(err, fs.ErrNotExist) {
				errs = append(errs, err)
			}
			continue
		}
		err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if !errors.Is(err, fs.ErrNotExist) {
					errs = append(errs, fmt.Errorf("%s: %w", filepath.Join(dir, p), err))
				}
				return nil
			}
			fixed, linked, err := chownEntry(root, dir, p, uid, gid, skipLinked)
			switch {
			case errors.Is(err, fs.ErrNotExist):
				return nil // gone since it was listed
			case linked:
				o.Linked++
				return nil
			case err != nil:
				o.Foreign++
				if o.Example == "" {
					o.Example = filepath.Join(dir, p)
				}
				return nil
			case !fixed:
				return nil
			}
			o.Fixed++
			return nil
		})
		root.Close()
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("restore ownership: %w", err)
	}
	return o, nil
}
