// Package shard owns the partition of a plan's items among the N processes
// of one run (`--shard I/N`): which shard an item belongs to, by a stable
// hash of its id, so that the partition depends on nothing but the id and
// N — not on the plan's order, on which items are finished, or on which
// process starts first. I is 0-based, as Slurm's $SLURM_ARRAY_TASK_ID and
// Kubernetes' $(JOB_COMPLETION_INDEX) are. Standard library only: every
// layer may use it.
package shard

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Spec is shard I of N (0 <= I < N). The zero Spec, like any N <= 1, is
// the whole plan.
type Spec struct{ I, N int }

// Error is a malformed --shard value; it is bad input (exit status 2) by
// its BadInput method, which the CLI's error mapping looks for.
type Error struct{ Value string }

func (e *Error) Error() string {
	return fmt.Sprintf("--shard %q: expected I/N with 0 <= I < N (e.g. 0/4)", e.Value)
}

// BadInput marks the error as the user's (see package badinput).
func (e *Error) BadInput() bool { return true }

// Parse reads "I/N".
func Parse(s string) (Spec, error) {
	a, b, ok := strings.Cut(s, "/")
	i, err1 := strconv.Atoi(strings.TrimSpace(a))
	n, err2 := strconv.Atoi(strings.TrimSpace(b))
	if !ok || err1 != nil || err2 != nil || n < 1 || i < 0 || i >= n {
		return Spec{}, &Error{Value: s}
	}
	return Spec{I: i, N: n}, nil
}

// All reports whether the spec is the whole plan.
func (s Spec) All() bool { return s.N <= 1 }

// String is "I/N" ("" for the zero Spec).
func (s Spec) String() string {
	if s.N == 0 {
		return ""
	}
	return strconv.Itoa(s.I) + "/" + strconv.Itoa(s.N)
}

// Of is the shard (0..n-1) of an item id among n: FNV-1a 64 of the id,
// mod n. It is part of the on-disk contract: the shards of a run resumed
// by a newer bench must be the ones an older bench started.
func Of(itemID string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New64a()
	_, _ = h.Write([]byte(itemID))
	return int(h.Sum64() % uint64(n))
}

// Largest is the most of itemIDs that one shard of n takes: what the
// longest shard's deadline is sized for.
func Largest(itemIDs []string, n int) int {
	counts := make([]int, max(n, 1))
	most := 0
	for _, id := range itemIDs {
		i := Of(id, n)
		counts[i]++
		most = max(most, counts[i])
	}
	return most
}

// Has reports whether the item is in the shard. The samples of an item
// (<item>.s<k>) are the item's: callers pass the item id, never a
// sample's directory name.
func (s Spec) Has(itemID string) bool { return s.All() || Of(itemID, s.N) == s.I }
