package forensics

import (
	"context"
	"strings"
	"unicode"
)

// Leak suspicion: a rollout that made a recorded attempt is suspected of
// a leak when its patch holds at least SuspectMinLines added lines of at
// least SuspectMinChars non-space characters that are added lines of the
// human diff and appear nowhere in the pre tree: lines it can only have
// had from the answer.
const (
	SuspectMinLines = 3
	SuspectMinChars = 40
	maxSuspectLines = 20
)

// TreeSearcher says whether a fixed string occurs in some file of the pre
// tree (git grep -F at the pre commit, on the mirror).
type TreeSearcher interface {
	ContainsFixed(ctx context.Context, s string) (bool, error)
}

// SuspectLines returns the patch's added lines (trimmed, each once) of at
// least SuspectMinChars non-space characters that are added lines of the
// human diff and that pre does not contain, at most maxSuspectLines.
func SuspectLines(ctx context.Context, patch, human []byte, pre TreeSearcher) ([]string, error) {
	humanAdded := map[string]bool{}
	for _, l := range AddedLines(ParseDiff(human)) {
		if t := strings.TrimSpace(l); longLine(t) {
			humanAdded[t] = true
		}
	}
	var out []string
	seen := map[string]bool{}
	for _, l := range AddedLines(ParseDiff(patch)) {
		t := strings.TrimSpace(l)
		if seen[t] || !humanAdded[t] {
			continue
		}
		seen[t] = true
		found, err := pre.ContainsFixed(ctx, t)
		if err != nil {
			return nil, err
		}
		if !found {
			out = append(out, t)
			if len(out) == maxSuspectLines {
				break
			}
		}
	}
	return out, nil
}

func longLine(s string) bool {
	n := 0
	for _, r := range s {
		if !unicode.IsSpace(r) {
			n++
		}
	}
	return n >= SuspectMinChars
}
