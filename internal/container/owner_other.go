//go:build !linux

package container

import (
	"os"
	"syscall"
)

// chownEntry is the by-name fallback where descriptors of O_PATH do not
// exist: it checks with Lstat and changes with Lchown.
func chownEntry(root *os.Root, dir, p string, uid, gid int, skipLinked bool) (fixed, linked bool, err error) {
	info, err := root.Lstat(p)
	if err != nil {
		return false, false, err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok || int(st.Uid) == uid {
		return false, false, nil
	}
	if skipLinked && !info.IsDir() && st.Nlink > 1 {
		return false, true, nil
	}
	if beforeLchown != nil {
		beforeLchown(dir, p)
	}
	if err := root.Lchown(p, uid, gid); err != nil {
		return false, false, err
	}
	return true, false, nil
}
