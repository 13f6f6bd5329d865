package agent

import (
	"fmt"
	"os"

	"github.com/perfbench/perfbench/internal/config"
)

// RunsAs is the user entry a's host-runtime rollouts switch to, nil when
// they run as bench's own user: no run_as, a container runtime (which
// runs as the invoking user anyway), or a run_as that is bench's own
// uid and gid already.
func RunsAs(a *config.Agent) *config.RunAs {
	if a == nil || a.RunAs == nil || a.Runtime == RuntimeContainer {
		return nil
	}
	if a.RunAs.UID == os.Geteuid() && a.RunAs.GID == os.Getegid() {
		return nil
	}
	return a.RunAs
}

// CheckRunAs refuses a run_as bench cannot honour: only root may give
// its rollouts another user (an unprivileged harness could not keep its
// files from an agent running as itself anyway).
func CheckRunAs(a *config.Agent) error {
	r := RunsAs(a)
	if r == nil || os.Geteuid() == 0 {
		return nil
	}
	return fmt.Errorf("agents.%s: run_as %s needs bench to run as root (it runs as uid %d, gid %d): run it as root, or drop run_as (and --run-as)",
		a.Name, r, os.Geteuid(), os.Getegid())
}
