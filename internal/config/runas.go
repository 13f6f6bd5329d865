package config

import (
	"fmt"
	"strconv"
	"strings"
)

// RunAs is the user a host-runtime agent runs as (run_as: UID[:GID]):
// when bench runs as root, the agent's process group gets this uid and
// gid and no supplementary groups, so the harness's own files (the
// mirror, the state root) can be kept from it by their modes.
type RunAs struct {
	UID int
	GID int
}

// maxID is the largest uid or gid Linux accepts: (uid_t)-1 means "no
// change" to setuid and friends.
const maxID = 1<<32 - 2

// ParseRunAs reads "UID" or "UID:GID" (decimal). A missing GID is the
// UID's number, never root's group; 0 for either is refused, since an
// agent running as root (or in its group) is not isolated from anything.
func ParseRunAs(s string) (*RunAs, error) {
	us, gs, hasGID := strings.Cut(strings.TrimSpace(s), ":")
	uid, err := parseID(us)
	if err != nil {
		return nil, fmt.Errorf("expected UID[:GID] (numbers, not 0), got %s: uid %v", quoteShort(s), err)
	}
	gid := uid
	if hasGID {
		if gid, err = parseID(gs); err != nil {
			return nil, fmt.Errorf("expected UID[:GID] (numbers, not 0), got %s: gid %v", quoteShort(s), err)
		}
	}
	return &RunAs{UID: uid, GID: gid}, nil
}

func parseID(s string) (int, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("is not a decimal number")
	}
	n, err := strconv.ParseUint(s, 10, 64)
	switch {
	case err != nil || n > maxID:
		return 0, fmt.Errorf("is out of range (at most %d)", uint64(maxID))
	case n == 0:
		return 0, fmt.Errorf("must not be 0 (root)")
	}
	return int(n), nil
}

// String is the "UID:GID" form run.json records.
func (r RunAs) String() string { return fmt.Sprintf("%d:%d", r.UID, r.GID) }

// MarshalText writes run.json's "run_as": "UID:GID".
func (r RunAs) MarshalText() ([]byte, error) { return []byte(r.String()), nil }

// UnmarshalText reads it back.
func (r *RunAs) UnmarshalText(b []byte) error {
	p, err := ParseRunAs(string(b))
	if err != nil {
		return err
	}
	*r = *p
	return nil
}
