// Package procfs reads what the harness needs of Linux's /proc: the
// processes there and one process's stat line (state, parent, process
// group, start time). It is a leaf: the standard library only. Elsewhere
// than on Linux every read fails and callers take their fallbacks.
package procfs

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"time"
)

// Stat is what the harness reads of /proc/<pid>/stat (proc(5)).
type Stat struct {
	PID   int
	State byte
	PPID  int
	PGRP  int
	// StartTicks is the start time in clock ticks after boot (USER_HZ,
	// 100 in the kernel's ABI).
	StartTicks uint64
}

// ParseStat parses a stat line: "pid (comm) state ppid pgrp ...". comm may
// hold spaces and parentheses, so the fields are counted after the last ')'.
func ParseStat(data []byte) (Stat, bool) {
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return Stat{}, false
	}
	var st Stat
	if open := bytes.IndexByte(data, '('); open > 0 {
		st.PID, _ = strconv.Atoi(string(bytes.TrimSpace(data[:open])))
	}
	f := bytes.Fields(data[i+1:])
	if len(f) < 3 || len(f[0]) != 1 {
		return Stat{}, false
	}
	var err error
	st.State = f[0][0]
	if st.PPID, err = strconv.Atoi(string(f[1])); err != nil {
		return Stat{}, false
	}
	if st.PGRP, err = strconv.Atoi(string(f[2])); err != nil {
		return Stat{}, false
	}
	const startField = 22 - 3 // field 22 of proc(5), counted from field 3
	if len(f) > startField {
		st.StartTicks, _ = strconv.ParseUint(string(f[startField]), 10, 64)
	}
	return st, true
}

// ReadStat reads and parses /proc/<pid>/stat; false when the process is
// gone (it may exit while a caller scans) or the line is not understood.
func ReadStat(pid int) (Stat, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return Stat{}, false
	}
	return ParseStat(data)
}

// PIDs lists the processes in /proc (of this pid namespace).
func PIDs() ([]int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil, err
	}
	var out []int
	for _, e := range ents {
		if pid, err := strconv.Atoi(e.Name()); err == nil {
			out = append(out, pid)
		}
	}
	return out, nil
}

// StartTime is when pid started: its StartTicks after /proc/stat's btime.
func StartTime(pid int) (time.Time, bool) {
	st, ok := ReadStat(pid)
	if !ok || st.StartTicks == 0 {
		return time.Time{}, false
	}
	boot, ok := bootTime()
	if !ok {
		return time.Time{}, false
	}
	return boot.Add(time.Duration(st.StartTicks) * (time.Second / 100)), true
}

func bootTime() (time.Time, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return time.Time{}, false
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "btime "); ok {
			sec, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return time.Time{}, false
			}
			return time.Unix(sec, 0), true
		}
	}
	return time.Time{}, false
}
