package forensics

import (
	"math"
	"testing"
)

func TestLocalize(t *testing.T) {
	human := diffOf("lib/core.py", " def slow(n):", "-    return sum(range(n))", "+    return n * (n - 1) // 2", " ", " def other():", "-    pass", "+    return 1") +
		diffOf("lib/util.py", "+X = 1")
	// The agent changed slow() and a function of its own, in core.py
	// only.
	agent := diffOf("lib/core.py", " def slow(n):", "-    return sum(range(n))", "+    return (n * n - n) // 2") +
		diffOf("lib/core.py", " def helper(x):", "+    x += 1")
	l := Localize([]byte(agent), []byte(human), true)
	if l.Files.Agent != 1 || l.Files.Human != 2 || l.Files.Precision != 1 || l.Files.Recall != 0.5 {
		t.Errorf("files = %+v", l.Files)
	}
	f := l.Functions
	if f.Agent != 2 || f.Human != 2 || f.Both != 1 || f.Precision != 0.5 || f.Recall != 0.5 || math.Abs(f.F1-0.5) > 1e-9 || !l.Blind {
		t.Errorf("functions = %+v (human: slow and other; agent: slow and helper)", f)
	}
	// A hunk header's context names the function (git's -p output).
	hdr := "diff --git a/x.go b/x.go\n--- a/x.go\n+++ b/x.go\n@@ -10,2 +10,2 @@ func (s *Set) Add(k string) {\n \tx := 1\n-\ty := 2\n+\ty := 3\n"
	if l := Localize([]byte(hdr), []byte(hdr), false); l.Functions.Both != 1 || l.Functions.F1 != 1 || l.Blind {
		t.Errorf("hunk header: %+v", l)
	}
	if l := Localize(nil, []byte(human), true); l.Files.F1 != 0 || l.Functions.Recall != 0 {
		t.Errorf("empty patch: %+v", l)
	}
}

func TestPromptOverlap(t *testing.T) {
	human := diffOf("m.py", "+    return n * (n - 1) // 2", "+    cache_misses_total = 0", "+}", "+ ")
	o := PromptOverlapOf([]byte(human), "The human wrote: return n * (n - 1) // 2")
	if o.Lines != 2 || o.InPrompt != 1 || o.Share != 0.5 {
		t.Errorf("PromptOverlapOf = %+v", o)
	}
	if o := PromptOverlapOf([]byte(human), "make it fast"); o.Share != 0 {
		t.Errorf("no overlap: %+v", o)
	}
}
