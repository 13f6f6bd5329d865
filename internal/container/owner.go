package container

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
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
}

// RestoreOwnership makes every file, directory and symlink under dirs owned
// by uid:gid where it is owned by another user, so that nothing a
// container wrote (as root, or as a user mapped differently) is left
// behind that the invoking user cannot delete. Containers run as the
// invoking user (--user uid:gid), so normally there is nothing to do; this
// is the safety net for images or nested runtime containers that write as
// another user. Symlinks are not followed. Without the privilege to chown,
// foreign entries are counted, not fixed.
func RestoreOwnership(uid, gid int, dirs ...string) (Ownership, error) {
	var o Ownership
	var errs []error
	for _, dir := range dirs {
		if dir == "" {
			continue
		}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				errs = append(errs, err)
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			st, ok := info.Sys().(*syscall.Stat_t)
			if !ok || int(st.Uid) == uid {
				return nil
			}
			if err := os.Lchown(p, uid, gid); err != nil {
				o.Foreign++
				if o.Example == "" {
					o.Example = p
				}
				return nil
			}
			o.Fixed++
			return nil
		})
		if err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return o, fmt.Errorf("restore ownership: %w", err)
	}
	return o, nil
}
