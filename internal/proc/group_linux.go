package proc

import "github.com/perfbench/perfbench/internal/procfs"

// groupMembers lists the live processes whose process group is pgid, read
// from /proc. Zombies are not listed: they are dead and wait only for their
// parent (or init) to reap them.
func groupMembers(pgid int) ([]int, error) {
	all, err := procfs.PIDs()
	if err != nil {
		return nil, err
	}
	var pids []int
	for _, pid := range all {
		st, ok := procfs.ReadStat(pid) // false: exited while we scanned
		if ok && st.PGRP == pgid && st.State != 'Z' && st.State != 'X' {
			pids = append(pids, pid)
		}
	}
	return pids, nil
}

// parseStat extracts the state and the process group from a
// /proc/PID/stat line.
func parseStat(data []byte) (state byte, pgrp int, ok bool) {
	st, ok := procfs.ParseStat(data)
	return st.State, st.PGRP, ok
}
