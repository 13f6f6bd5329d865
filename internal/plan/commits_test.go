package plan

import (
	"strings"
	"testing"

	"github.com/perfbench/perfbench/internal/badinput"
)

const (
	shaA = "1111111111111111111111111111111111111111"
	shaB = "2222222222222222222222222222222222222222"
)

func TestParseCommits(t *testing.T) {
	in := "# header\n\n" + shaA + "\n" + shaB + " parent=2  # merge\n  " + strings.ToUpper(shaA[:10]) + " " + shaB + "\n"
	got, err := ParseCommits(strings.NewReader(in), "c.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 {
		t.Fatalf("got %d entries", len(got))
	}
	if got[0].Human != shaA || got[0].Pre != "" || got[0].PreParentIndex != 0 || got[0].Where != "c.txt:3" {
		t.Errorf("entry 0 = %+v", got[0])
	}
	if got[1].Human != shaB || got[1].PreParentIndex != 2 {
		t.Errorf("entry 1 = %+v", got[1])
	}
	if got[2].Human != strings.ToLower(shaA[:10]) || got[2].Pre != shaB {
		t.Errorf("entry 2 = %+v", got[2])
	}
}

func TestParseCommitsErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"", "c.txt: no commits"},
		{"# only a comment\n\n", "c.txt: no commits"},
		{"zzz\n", `c.txt:1: expected "<human_sha> [<pre_sha> | parent=N]": "zzz" is not a commit sha`},
		{shaA + " parent=0\n", `c.txt:1: parent=N needs N between 1 and 64, got "parent=0"`},
		{shaA + " parent=x\n", `c.txt:1: parent=N needs N between 1 and 64`},
		{"\n" + shaA + " " + shaB + " extra\n", "c.txt:2: expected \"<human_sha> [<pre_sha> | parent=N]\", got 3 fields"},
		{shaA + " nonsense\n", `c.txt:1: expected "<human_sha> [<pre_sha> | parent=N]": "nonsense" is neither a commit sha nor parent=N`},
		{shaA + "\n" + shaA + " parent=1\n", "c.txt:2: duplicate of line 1"},
	} {
		_, err := ParseCommits(strings.NewReader(tc.in), "c.txt")
		if err == nil {
			t.Errorf("%q: no error", tc.in)
			continue
		}
		if !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%q: error %q, want prefix %q", tc.in, err, tc.want)
		}
		if !badinput.Is(err) {
			t.Errorf("%q: error is not bad input", tc.in)
		}
		if strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: multi-line error %q", tc.in, err)
		}
	}
}

func FuzzParseCommits(f *testing.F) {
	f.Add(shaA + " parent=1\n# c\n" + shaB + " " + shaA + "\n")
	f.Add("")
	f.Add("abc\x00\n")
	f.Fuzz(func(t *testing.T, in string) {
		entries, err := ParseCommits(strings.NewReader(in), "f")
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Fatalf("multi-line error %q", err)
			}
			if !badinput.Is(err) {
				t.Fatalf("error is not bad input: %v", err)
			}
			return
		}
		if len(entries) == 0 {
			t.Fatal("no entries and no error")
		}
		for _, e := range entries {
			if !shaRe.MatchString(e.Human) || (e.Pre != "" && !shaRe.MatchString(e.Pre)) {
				t.Fatalf("bad entry %+v", e)
			}
			if e.Pre != "" && e.PreParentIndex != 0 {
				t.Fatalf("both pre and parent: %+v", e)
			}
		}
	})
}
