package agent

import (
	"regexp"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/config"
)

// Versions are the upstream versions of an agent whose CLI and formats its
// adapter was checked against (docs/agents/compatibility.md), Min to Max
// inclusive; Max covers every version it is a prefix of ("0.86" is any
// 0.86.x). `bench doctor` prints the installed version of each entry and
// warns when it is outside.
type Versions struct {
	Min, Max string
	// Unpinned, when set, says why there is no range (the sources were
	// read at no version that can be named): the version is printed
	// without a verdict.
	Unpinned string
	// Probe, when set, says how an entry's version is found; nil or a
	// zero VersionProbe runs the executable with --version.
	Probe func(a *config.Agent, p Probes) VersionProbe
}

// VersionProbe is how doctor learns an entry's installed version: by
// running Argv, from what the configuration names (Known, e.g. an image
// tag), or not at all (None says why).
type VersionProbe struct {
	Argv  []string
	Known string
	None  string
}

// IsZero reports whether no range was declared.
func (v Versions) IsZero() bool { return v.Min == "" && v.Max == "" && v.Unpinned == "" }

// String is the range as doctor prints it: "0.86.0 to 0.86.x".
func (v Versions) String() string {
	if v.Unpinned != "" {
		return v.Unpinned
	}
	lo, hi := v.Min, v.Max
	if hi != "" && strings.Count(hi, ".") < 2 {
		hi += ".x"
	}
	switch {
	case lo == "":
		return "up to " + hi
	case hi == "":
		return lo + " and later"
	}
	return lo + " to " + hi
}

// versionRE is a dotted version number inside a CLI's --version output:
// "aider 0.86.1", "codex-cli 0.46.0", "2.1.3 (Claude Code)", "cli,
// version 0.1.0", an image tag "0.54" or "0.62.0-nikolaik".
var versionRE = regexp.MustCompile(`(?:^|[^0-9.])v?([0-9]+\.[0-9]+(?:\.[0-9]+)?)`)

// ParseVersion finds the version in a CLI's --version output: the first
// dotted number on its first line that has one.
func ParseVersion(out string) (string, bool) {
	for line := range strings.SplitSeq(out, "\n") {
		if m := versionRE.FindStringSubmatch(line); m != nil {
			return m[1], true
		}
	}
	return "", false
}

// Contains reports whether version v (as ParseVersion returns it) is in
// the range.
func (v Versions) Contains(ver string) bool {
	if v.Unpinned != "" {
		return true
	}
	n := versionParts(ver)
	if n == nil {
		return false
	}
	if v.Min != "" && compareParts(n, versionParts(v.Min), 3) < 0 {
		return false
	}
	if v.Max != "" {
		hi := versionParts(v.Max)
		if compareParts(n, hi, len(hi)) > 0 {
			return false
		}
	}
	return true
}

func versionParts(s string) []int {
	var out []int
	for p := range strings.SplitSeq(s, ".") {
		n, err := strconv.Atoi(p)
		if err != nil {
			return nil
		}
		out = append(out, n)
	}
	return out
}

// compareParts compares the first n parts of a and b, a missing part
// counting as 0.
func compareParts(a, b []int, n int) int {
	for i := range n {
		x, y := 0, 0
		if i < len(a) {
			x = a[i]
		}
		if i < len(b) {
			y = b[i]
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}
