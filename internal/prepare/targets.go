package prepare

import (
	"path"
	"strings"

	"github.com/perfbench/perfbench/internal/records"
)

// CheckTargets compares the changed files with the allowed patterns. With
// no patterns every change is allowed. A pattern is an exact path, a
// directory ("src/" or "src/**": everything below), or a path.Match glob
// ("src/*.py").
func CheckTargets(changed, allowed []string, strict bool) *records.Targets {
	t := &records.Targets{
		SchemaVersion: records.SchemaVersion,
		Changed:       nonNil(changed),
		Allowed:       nonNil(allowed),
		Disallowed:    []string{},
		Strict:        strict,
	}
	if len(allowed) > 0 {
		for _, f := range changed {
			if !matchesAny(f, allowed) {
				t.Disallowed = append(t.Disallowed, f)
			}
		}
	}
	t.OK = len(t.Disallowed) == 0
	return t
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func matchesAny(file string, patterns []string) bool {
	for _, p := range patterns {
		if matchTarget(file, p) {
			return true
		}
	}
	return false
}

func matchTarget(file, pattern string) bool {
	pattern = strings.TrimPrefix(pattern, "./")
	switch {
	case pattern == file:
		return true
	case strings.HasSuffix(pattern, "/**"):
		dir := strings.TrimSuffix(pattern, "**")
		return strings.HasPrefix(file, dir)
	case strings.HasSuffix(pattern, "/"):
		return strings.HasPrefix(file, pattern)
	}
	ok, err := path.Match(pattern, file)
	return err == nil && ok
}
