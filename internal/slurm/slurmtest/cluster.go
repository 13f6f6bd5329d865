// Package slurmtest starts a real one-node Slurm cluster for tests: munged,
// slurmctld and slurmd of Debian's slurm-wlm and munge packages, as root,
// with every file (key, sockets, state, spool, logs, pid files) in one
// temporary directory and ports of their own, so that it never meets the
// machine's cluster or another test's. Stop ends the daemons by their pid
// files. Tests skip without Slurm unless BENCH_REQUIRE_SLURM=1.
package slurmtest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// RequireEnv set to 1 turns a missing Slurm into a failure.
const RequireEnv = "BENCH_REQUIRE_SLURM"

// daemons are the executables a cluster needs, and clients the tests use.
var (
	daemons = []string{"munged", "mungekey", "slurmctld", "slurmd"}
	clients = []string{"sbatch", "squeue", "sinfo", "scontrol", "scancel"}
)

// Available reports whether a cluster can be started here (the binaries,
// and root: slurmd runs jobs as their users), and if not, why.
func Available() (bool, string) {
	for _, b := range append(append([]string{}, daemons...), clients...) {
		if _, err := exec.LookPath(b); err != nil {
			return false, b + " not found (apt-get install slurm-wlm munge)"
		}
	}
	if os.Geteuid() != 0 {
		return false, "not root: slurmd must run as root"
	}
	return true, ""
}

// Required reports whether BENCH_REQUIRE_SLURM=1 is set.
func Required() bool { return os.Getenv(RequireEnv) == "1" }

// Cluster is a running one-node cluster.
type Cluster struct {
	// Dir holds all of its files; Conf is its slurm.conf, which the
	// clients find through SLURM_CONF (Env).
	Dir  string
	Conf string
	Node string
	pids []string // pid files, in stop order
}

// Env is the variable that points Slurm's clients at the cluster.
func (c *Cluster) Env() string { return "SLURM_CONF=" + c.Conf }

// Start starts a cluster for t and stops it when t ends; it skips t when
// Slurm is not available, unless BENCH_REQUIRE_SLURM=1.
func Start(t testing.TB) *Cluster {
	t.Helper()
	if ok, why := Available(); !ok {
		if Required() {
			t.Fatalf("slurm: %s (and %s=1)", why, RequireEnv)
		}
		t.Skipf("slurm: %s", why)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c, err := StartCluster(ctx)
	if c != nil {
		t.Cleanup(func() {
			if err := c.Stop(); err != nil {
				t.Errorf("slurm: stop: %v", err)
			}
		})
	}
	if err != nil {
		t.Fatalf("slurm: %v", err)
	}
	t.Setenv("SLURM_CONF", c.Conf)
	return c
}

// StartCluster starts munged, slurmctld and slurmd and waits until the
// node is idle. On an error the cluster returned (when not nil) holds
// what was started, for Stop.
func StartCluster(ctx context.Context) (*Cluster, error) {
	sweep()
	// A short directory: munge's socket path must fit a sockaddr_un.
	dir, err := os.MkdirTemp("", dirPrefix)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Dir: dir, Conf: filepath.Join(dir, "slurm.conf")}
	if err := os.WriteFile(filepath.Join(dir, ownerFile), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return c, err
	}
	for _, d := range []string{"munge", "state", "spool"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o700); err != nil {
			return c, err
		}
	}
	// munged refuses a directory others may write, and a key others may
	// read.
	if err := os.Chmod(dir, 0o755); err != nil {
		return c, err
	}
	key := filepath.Join(dir, "munge", "munge.key")
	if err := run(ctx, "mungekey", "--create", "--keyfile", key); err != nil {
		return c, err
	}
	sock := filepath.Join(dir, "munge", "munge.socket")
	c.pids = append(c.pids, filepath.Join(dir, "munge", "munged.pid"))
	if err := run(ctx, "munged", "--force", "--socket="+sock, "--key-file="+key,
		"--pid-file="+c.pids[0], "--log-file="+filepath.Join(dir, "munge", "munged.log"),
		"--seed-file="+filepath.Join(dir, "munge", "munged.seed")); err != nil {
		return c, err
	}
	node, hw, err := hardware(ctx)
	if err != nil {
		return c, err
	}
	c.Node = node
	ports, err := freePorts(2)
	if err != nil {
		return c, err
	}
	if err := os.WriteFile(c.Conf, []byte(conf(dir, node, hw, sock, ports)), 0o644); err != nil {
		return c, err
	}
	// slurmd before slurmctld on the way down: jobs' steps end first.
	c.pids = append(c.pids, filepath.Join(dir, "slurmctld.pid"), filepath.Join(dir, "slurmd.pid"))
	if err := run(ctx, "slurmctld", "-f", c.Conf); err != nil {
		return c, fmt.Errorf("%w (log: %s)", err, tailFile(filepath.Join(dir, "slurmctld.log")))
	}
	if err := run(ctx, "slurmd", "-f", c.Conf); err != nil {
		return c, fmt.Errorf("%w (log: %s)", err, tailFile(filepath.Join(dir, "slurmd.log")))
	}
	return c, c.waitIdle(ctx)
}

const (
	dirPrefix = "slurm-"
	// ownerFile holds the pid of the test process that started a cluster.
	ownerFile = "owner"
)

// sweep stops the clusters of test processes that died without stopping
// theirs (a killed go test): their daemons by the pid files, their
// directories removed.
func sweep() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), dirPrefix+"*"))
	for _, d := range dirs {
		b, err := os.ReadFile(filepath.Join(d, ownerFile))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err != nil || alive(pid) {
			continue
		}
		c := &Cluster{Dir: d, Conf: filepath.Join(d, "slurm.conf"), pids: []string{
			filepath.Join(d, "munge", "munged.pid"), filepath.Join(d, "slurmctld.pid"), filepath.Join(d, "slurmd.pid")}}
		_ = c.Stop()
	}
}

// conf is the cluster's slurm.conf: one node with the machine's CPUs and
// memory, one default partition, no cgroups, no accounting.
func conf(dir, node, hw, sock string, ports []int) string {
	lines := []string{
		"ClusterName=benchtest",
		"SlurmctldHost=" + node + "(127.0.0.1)",
		"SlurmctldPort=" + strconv.Itoa(ports[0]),
		"SlurmdPort=" + strconv.Itoa(ports[1]),
		"SlurmUser=root",
		"AuthType=auth/munge",
		"CredType=cred/munge",
		"AuthInfo=socket=" + sock,
		"ProctrackType=proctrack/linuxproc",
		"TaskPlugin=task/none",
		"SelectType=select/cons_tres",
		// Cores only: memory is not consumed, so jobs without --mem
		// do not each take the whole node's.
		"SelectTypeParameters=CR_Core",
		"MpiDefault=none",
		"JobAcctGatherType=jobacct_gather/none",
		"AccountingStorageType=accounting_storage/none",
		"JobCompType=jobcomp/none",
		"ReturnToService=2",
		// Pending jobs (a dependency just met) are looked at every
		// second, not every minute.
		"SchedulerParameters=sched_interval=1,bf_interval=1",
		"MinJobAge=600",
		"StateSaveLocation=" + filepath.Join(dir, "state"),
		"SlurmdSpoolDir=" + filepath.Join(dir, "spool"),
		"SlurmctldPidFile=" + filepath.Join(dir, "slurmctld.pid"),
		"SlurmdPidFile=" + filepath.Join(dir, "slurmd.pid"),
		"SlurmctldLogFile=" + filepath.Join(dir, "slurmctld.log"),
		"SlurmdLogFile=" + filepath.Join(dir, "slurmd.log"),
		"NodeName=" + node + " NodeAddr=127.0.0.1 " + hw + " State=UNKNOWN",
		"PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP",
	}
	return strings.Join(lines, "\n") + "\n"
}

// hardware is the node's name and its description as `slurmd -C` prints
// it (CPUs, sockets, cores, threads, RealMemory), which slurmd checks.
func hardware(ctx context.Context) (node, hw string, err error) {
	out, err := exec.CommandContext(ctx, "slurmd", "-C").Output()
	if err != nil {
		return "", "", fmt.Errorf("slurmd -C: %w", err)
	}
	line, _, _ := strings.Cut(string(out), "\n")
	var keep []string
	for _, f := range strings.Fields(line) {
		k, v, _ := strings.Cut(f, "=")
		switch k {
		case "NodeName":
			node = v
		case "CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore", "RealMemory":
			keep = append(keep, f)
		}
	}
	if node == "" || len(keep) == 0 {
		return "", "", fmt.Errorf("slurmd -C: unexpected output %q", line)
	}
	return node, strings.Join(keep, " "), nil
}

// freePorts are n TCP ports free now on the loopback.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// waitIdle waits until sinfo shows the node idle.
func (c *Cluster) waitIdle(ctx context.Context) error {
	var last string
	for {
		out, err := c.Command(ctx, "sinfo", "-h", "-N", "-o", "%T").CombinedOutput()
		last = strings.TrimSpace(string(out))
		if err == nil && last == "idle" {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node not idle (sinfo: %q; slurmd log: %s)", last, tailFile(filepath.Join(c.Dir, "slurmd.log")))
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// Command is a Slurm client command against the cluster.
func (c *Cluster) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), c.Env())
	return cmd
}

// Wait waits until none of the jobs is pending or running, and returns
// the state of each of their jobs (array tasks one by one) by id.
func (c *Cluster) Wait(ctx context.Context, ids ...string) (map[string]string, error) {
	list := strings.Join(ids, ",")
	for {
		out, err := c.Command(ctx, "squeue", "-h", "-j", list, "-o", "%i %T").Output()
		if err == nil && strings.TrimSpace(string(out)) == "" {
			break
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("jobs %s still queued: %s", list, strings.TrimSpace(string(out)))
		case <-time.After(500 * time.Millisecond):
		}
	}
	states := map[string]string{}
	for _, id := range ids {
		out, err := c.Command(ctx, "scontrol", "-o", "show", "job", id).Output()
		if err != nil {
			return nil, fmt.Errorf("scontrol show job %s: %w", id, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(out))
		for sc.Scan() {
			var job, arrayJob, task, state string
			for _, f := range strings.Fields(sc.Text()) {
				k, v, _ := strings.Cut(f, "=")
				switch k {
				case "JobId":
					job = v
				case "ArrayJobId":
					arrayJob = v
				case "ArrayTaskId":
					task = v
				case "JobState":
					state = v
				}
			}
			if arrayJob != "" && task != "" {
				job = arrayJob + "_" + task
			}
			if job != "" {
				states[job] = state
			}
		}
	}
	return states, nil
}

// Stop cancels what is left of the cluster's jobs and ends its daemons by
// their pid files (SIGTERM, then SIGKILL after a grace), then removes its
// directory.
func (c *Cluster) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	if fileExists(c.Conf) {
		if out, err := c.Command(ctx, "squeue", "-h", "-o", "%A").Output(); err == nil {
			if ids := strings.Fields(string(out)); len(ids) > 0 {
				_ = c.Command(ctx, "scancel", ids...).Run()
				// Give the steps a moment to end before slurmd goes.
				for range 50 {
					if o, err := c.Command(ctx, "squeue", "-h").Output(); err != nil || len(bytes.TrimSpace(o)) == 0 {
						break
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}
	}
	for i := len(c.pids) - 1; i >= 0; i-- {
		if err := stopPidFile(c.pids[i]); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(c.Dir); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func stopPidFile(path string) error {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return fmt.Errorf("%s: bad pid %q", path, b)
	}
	if !alive(pid) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGTERM)
	for range 100 {
		if !alive(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	_ = syscall.Kill(pid, syscall.SIGKILL)
	for range 100 {
		if !alive(pid) {
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s: pid %d did not end", path, pid)
}

// alive reports whether pid is a live process (a zombie is not: the
// daemons are not our children, so init reaps them).
func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// run runs a command that may leave a daemon behind: its output goes to a
// file, not a pipe, which the daemon would hold open after its parent
// exits.
func run(ctx context.Context, name string, args ...string) error {
	f, err := os.CreateTemp("", "slurmtest-out-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Run(); err != nil {
		out, _ := os.ReadFile(f.Name())
		return fmt.Errorf("%s: %w: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

// tailFile is the last lines of a log, on one line, for an error.
func tailFile(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > 5 {
		lines = lines[len(lines)-5:]
	}
	return strings.Join(lines, " | ")
}
