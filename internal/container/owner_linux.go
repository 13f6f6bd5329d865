package container

import (
	"os"
	"syscall"
)

// O_PATH and AT_EMPTY_PATH (asm-generic, every Linux architecture bench
// is built for), which package syscall does not name.
const (
	oPath       = 0o10000000
	atEmptyPath = 0x1000
)

// chownEntry gives p (in root) to uid:gid unless it is uid's already, or,
// with skipLinked, it is a non-directory with other hard links. It checks
// and changes the same inode, through a descriptor opened without
// following a link: a name swapped between the two (for a link, or a hard
// link to a file elsewhere) is never what is changed.
func chownEntry(root *os.Root, dir, p string, uid, gid int, skipLinked bool) (fixed, linked bool, err error) {
	f, err := root.OpenFile(p, oPath|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return false, false, err
	}
	defer f.Close()
	sc, err := f.SyscallConn()
	if err != nil {
		return false, false, err
	}
	var st syscall.Stat_t
	var opErr error
	if err := sc.Control(func(fd uintptr) { opErr = syscall.Fstat(int(fd), &st) }); err != nil {
		return false, false, err
	}
	if opErr != nil {
		return false, false, opErr
	}
	if int(st.Uid) == uid {
		return false, false, nil
	}
	if skipLinked && st.Mode&syscall.S_IFMT != syscall.S_IFDIR && st.Nlink > 1 {
		return false, true, nil
	}
	if beforeLchown != nil {
		beforeLchown(dir, p)
	}
	if err := sc.Control(func(fd uintptr) { opErr = syscall.Fchownat(int(fd), "", uid, gid, atEmptyPath) }); err != nil {
		return false, false, err
	}
	return opErr == nil, false, opErr
}
