//go:build !linux

package proc

import (
	"context"
	"errors"
)

// Run is only implemented on Linux: the sweep of the group relies on
// waitid(WNOWAIT) and /proc. Elsewhere it refuses to start rather than run
// an agent without the contract.
func Run(ctx context.Context, spec Spec) (Result, error) {
	return Result{ExitCode: -1}, errors.New("start: running agents needs linux (process-group sweep uses waitid and /proc)")
}
