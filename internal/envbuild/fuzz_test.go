package envbuild

import (
	"regexp"
	"strings"
	"testing"
)

// FuzzBases feeds arbitrary Dockerfiles to the FROM scanner: it must not
// panic, and what it returns are image references to look up, never
// scratch, an empty string or a duplicate.
func FuzzBases(f *testing.F) {
	for _, s := range []string{
		"FROM scratch\n", "ARG A=b\nFROM $A AS x\nFROM x\n", "# escape=`\nFROM a `\n  :1\n", "FROM ${A:-b}${C:+d}\n",
		"COPY --from=img:1 / /\n", "FROM --platform=$P a as b\nCOPY --FROM=b / /\n", "FROM ${\n", "ARG\nFROM\n", "FROM a\\\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		seen := map[string]bool{}
		for _, b := range Bases(src, map[string]string{"A": "x"}) {
			if b == "" || strings.EqualFold(b, "scratch") || seen[b] {
				t.Fatalf("Bases(%q) gave %q", src, b)
			}
			seen[b] = true
		}
	})
}

// FuzzComponent: whatever the task id, the tag is a valid reference.
func FuzzComponent(f *testing.F) {
	for _, s := range []string{"vllm_core", "A..B", "__x__", "-", "é", "a/b", strings.Repeat("a.", 100)} {
		f.Add(s)
	}
	valid := regexp.MustCompile(`^[a-z0-9]+(?:(?:[._]|__|[-]*)[a-z0-9]+)*$`)
	f.Fuzz(func(t *testing.T, id string) {
		c := Component(id)
		if !valid.MatchString(c) || len(c) > maxComponent {
			t.Fatalf("Component(%q) = %q", id, c)
		}
	})
}
