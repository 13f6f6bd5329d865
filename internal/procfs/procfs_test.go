package procfs

import (
	"os"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	st, ok := ParseStat([]byte("123 (we ird) (name)) S 1 456 456 0 -1 4194560 0 0 0 0 1 2 0 0 20 0 1 0 98765 0"))
	if !ok || st.PID != 123 || st.State != 'S' || st.PPID != 1 || st.PGRP != 456 || st.StartTicks != 98765 {
		t.Errorf("got %+v %v", st, ok)
	}
	if _, ok := ParseStat([]byte("garbage")); ok {
		t.Error("parsed garbage")
	}
}

func TestThisProcess(t *testing.T) {
	st, ok := ReadStat(os.Getpid())
	if !ok {
		t.Skip("no /proc here")
	}
	if st.PID != os.Getpid() || st.PPID != os.Getppid() {
		t.Errorf("stat %+v, want pid %d ppid %d", st, os.Getpid(), os.Getppid())
	}
	start, ok := StartTime(os.Getpid())
	if d := time.Since(start); !ok || d < 0 || d > time.Hour {
		t.Errorf("started %v ago (%v)", d, ok)
	}
	pids, err := PIDs()
	if err != nil || len(pids) == 0 {
		t.Errorf("pids %v %v", pids, err)
	}
}
