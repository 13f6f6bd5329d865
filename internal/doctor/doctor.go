// Package doctor owns the environment checks run by `bench doctor` and, as
// a preflight, by `prepare` before any rollout: git, the state and work
// directories, free disk space, and what the configured agents need: the
// executable or the engine and image of each entry, its config_file and
// home_files, prices for token-priced agents, the checks an agent kind
// brings (OpenHands' modes, in its package) from the probes doctor offers
// (the container engine, images present locally: perfbench never pulls),
// each agent's version against the range its adapter was checked against
// (a warning outside it), and the LLM credentials (one request to the provider's model-list
// endpoint, or LLM_BASE_URL + /models).
package doctor

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/perfbench/perfbench/internal/agent"
	"github.com/perfbench/perfbench/internal/config"
	"github.com/perfbench/perfbench/internal/gitx"
)

// MinFreeBytes is the free space below which work_root fails the check.
const MinFreeBytes = 1 << 30

// checkTimeout bounds each check.
const checkTimeout = 30 * time.Second

// Result of one check.
type Result struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	// NotConfigured marks a failure that only means "nothing to check"
	// (no LLM credentials): doctor shows it, the preflight goes on.
	NotConfigured bool `json:"not_configured,omitempty"`
	// Warn marks a passing check that found something to look at (an
	// agent version outside the range its adapter was checked against).
	Warn bool `json:"warn,omitempty"`
}

// Check is one named check.
type Check struct {
	Name string
	// PreflightOK is true for checks prepare also runs (cheap, and failing
	// only when a rollout would fail).
	Preflight bool
	Run       func(ctx context.Context) Result
}

// Input is what the checks look at.
type Input struct {
	Bench *config.Bench
	// Agent is the entry prepare will run (nil in doctor without --agent:
	// every entry's needs are checked).
	Agent *config.Agent
	// Kinds are the agent kinds of the build (internal/agent/all): their
	// default executables, pricing and own checks.
	Kinds []agent.Kind
	// Env is the environment of the checks ("NAME=value"): the process's
	// over Bench.Env (.env), as the agents get it. The checks read no
	// other: the caller passes the process in.
	Env []string
	// LookupEnv reads the harness's process environment, as adapters
	// read their mode switches (nil: nothing is set).
	LookupEnv func(string) (string, bool)
	// HTTPClient sends the credential check's request (nil: a default
	// client).
	HTTPClient *http.Client
}

// Checks returns the checks for this configuration, in display order.
func Checks(in Input) []Check {
	b := in.Bench
	checks := []Check{
		{Name: "git", Preflight: true, Run: checkGit},
		{Name: "state dir writable", Preflight: true, Run: func(context.Context) Result {
			return checkWritable("state dir writable", b.Paths.StateRoot)
		}},
		{Name: "work dir writable", Preflight: true, Run: func(context.Context) Result {
			return checkWritable("work dir writable", b.Paths.WorkRoot)
		}},
		{Name: "free disk in work_root", Preflight: true, Run: func(context.Context) Result {
			return checkFree("free disk in work_root", b.Paths.WorkRoot, MinFreeBytes)
		}},
		{Name: "rollout_root node-local", Run: func(context.Context) Result {
			return checkNodeLocal(rolloutRoot(b, in.LookupEnv), b.Paths.StateRoot)
		}},
	}
	return append(checks, agentChecks(in)...)
}

// Run executes checks, printing ✓/✗ lines to w (! for a passing check
// with a warning); it reports whether all passed.
func Run(ctx context.Context, checks []Check, w io.Writer) ([]Result, bool) {
	ok := true
	var out []Result
	for _, c := range checks {
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		r := c.Run(cctx)
		cancel()
		r.Name = c.Name
		mark := "✓"
		if r.Warn {
			mark = "!"
		}
		if !r.OK {
			mark = "✗"
			ok = false
		}
		if w != nil {
			fmt.Fprintf(w, "%s %s: %s\n", mark, r.Name, r.Detail)
		}
		out = append(out, r)
	}
	return out, ok
}

// Preflight runs the preflight checks quietly and returns the first
// failure as an error (one line).
func Preflight(ctx context.Context, checks []Check) error {
	for _, c := range checks {
		if !c.Preflight {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, checkTimeout)
		r := c.Run(cctx)
		cancel()
		if !r.OK && !r.NotConfigured {
			return fmt.Errorf("preflight: %s: %s (run `bench doctor` for details, or --skip-preflight)", c.Name, r.Detail)
		}
	}
	return nil
}

func checkGit(ctx context.Context) Result {
	v, err := gitx.Version(ctx)
	if err != nil {
		return Result{Detail: "git not usable: " + err.Error()}
	}
	return Result{OK: true, Detail: v}
}

// checkWritable checks that dir, or the nearest existing directory above
// it when dir does not exist yet, is writable, without creating anything:
// a check must leave the disk as it found it (access(2), not a probe file).
func checkWritable(name, dir string) Result {
	probe := existingAncestor(dir)
	if fi, err := os.Stat(probe); err != nil {
		return Result{Detail: err.Error()}
	} else if !fi.IsDir() {
		return Result{Detail: fmt.Sprintf("%s is not a directory", probe)}
	}
	if err := unix.Access(probe, unix.W_OK|unix.X_OK); err != nil {
		return Result{Detail: fmt.Sprintf("%s is not writable: %v", probe, err)}
	}
	if probe != dir {
		return Result{OK: true, Detail: fmt.Sprintf("%s (does not exist yet; %s is writable)", dir, probe)}
	}
	return Result{OK: true, Detail: dir}
}

// existingAncestor is dir, or its nearest ancestor that exists.
func existingAncestor(dir string) string {
	probe := dir
	for {
		if _, err := os.Lstat(probe); err == nil {
			return probe
		}
		parent := filepath.Dir(probe)
		if parent == probe {
			return probe
		}
		probe = parent
	}
}

func checkFree(name, dir string, min uint64) Result {
	probe := existingAncestor(dir)
	var st unix.Statfs_t
	if err := unix.Statfs(probe, &st); err != nil {
		return Result{Detail: err.Error()}
	}
	free := st.Bavail * uint64(st.Bsize)
	detail := fmt.Sprintf("%s free in %s", human(free), dir)
	if free < min {
		return Result{Detail: detail + fmt.Sprintf(" (need at least %s)", human(min))}
	}
	return Result{OK: true, Detail: detail}
}

func human(b uint64) string {
	const unit = 1024
	if b < unit {
		return fmt.Sprintf("%d B", b)
	}
	div, exp := uint64(unit), 0
	for n := b / unit; n >= unit; n /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(b)/float64(div), "KMGTPE"[exp])
}

// rolloutRoot is where private workspaces go (config.Bench.PrivateRoot's
// choice, without creating it): paths.rollout_root, else $TMPDIR, else
// /tmp.
func rolloutRoot(b *config.Bench, lookup func(string) (string, bool)) string {
	if b.Paths.RolloutRoot != "" {
		return b.Paths.RolloutRoot
	}
	if lookup != nil {
		if v, ok := lookup("TMPDIR"); ok && v != "" {
			return v
		}
	}
	return "/tmp"
}

// networkFS names the network and cluster file systems by their statfs
// magic numbers.
var networkFS = map[int64]string{
	0x6969:     "nfs",
	0xff534d42: "cifs",
	0xfe534d42: "smb2",
	0x0bd00bd0: "lustre",
	0x47504653: "gpfs",
	0x00c36400: "ceph",
	0x19830326: "beegfs",
}

// checkNodeLocal warns when the rollout root is on a network file system,
// or on the same file system (st_dev) as a state root that is on one. On
// a cluster the state root is the shared storage every node writes, and
// the rollout root must be node-local: each node's sweep of stale private
// directories judges owners by pid, which only means something on the
// node that made them (owner files name their host, and no sweep touches
// another host's), and workspaces on shared storage would put every
// agent's build over the network. Both on one local disk is the ordinary
// single-machine set-up, and not warned about.
func checkNodeLocal(rollout, state string) Result {
	rp, sp := existingAncestor(rollout), existingAncestor(state)
	var rs, ss unix.Stat_t
	if err := unix.Stat(rp, &rs); err != nil {
		return Result{OK: true, Warn: true, Detail: fmt.Sprintf("cannot stat paths.rollout_root %s: %v", rollout, err)}
	}
	if err := unix.Stat(sp, &ss); err != nil {
		return Result{OK: true, Warn: true, Detail: fmt.Sprintf("cannot stat state_root %s: %v", state, err)}
	}
	return nodeLocalVerdict(rollout, state, rs.Dev == ss.Dev, fsName(rp), fsName(sp))
}

// fsName is the network file system a path is on, or "" for a local one.
func fsName(path string) string {
	var fs unix.Statfs_t
	if err := unix.Statfs(path, &fs); err != nil {
		return ""
	}
	return networkFS[int64(fs.Type)]
}

// nodeLocalVerdict is checkNodeLocal's decision, given the facts.
func nodeLocalVerdict(rollout, state string, sameFS bool, rolloutNet, stateNet string) Result {
	switch {
	case rolloutNet != "":
		return Result{OK: true, Warn: true, Detail: fmt.Sprintf("paths.rollout_root %s is on a network file system (%s): on a cluster it must be node-local storage (a local disk or tmpfs), not shared", rollout, rolloutNet)}
	case sameFS && stateNet != "":
		return Result{OK: true, Warn: true, Detail: fmt.Sprintf("paths.rollout_root %s is on the same file system as the shared state_root %s (%s): it must be node-local (a local disk or tmpfs), so that one node's sweep never judges another node's directories and workspaces stay off the network", rollout, state, stateNet)}
	case sameFS:
		return Result{OK: true, Detail: fmt.Sprintf("%s (on state_root's local file system: fine on one machine; on a cluster keep it node-local when state_root is shared)", rollout)}
	}
	return Result{OK: true, Detail: fmt.Sprintf("%s (its own file system, not state_root's)", rollout)}
}
