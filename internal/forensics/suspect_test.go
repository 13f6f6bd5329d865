package forensics

import (
	"context"
	"strings"
	"testing"
)

type treeStrings []string

func (t treeStrings) ContainsFixed(_ context.Context, s string) (bool, error) {
	for _, f := range t {
		if strings.Contains(f, s) {
			return true, nil
		}
	}
	return false, nil
}

func TestSuspectLines(t *testing.T) {
	long := func(i int) string {
		return "    result_value_" + strings.Repeat("x", 30) + "_" + string(rune('a'+i)) + " = compute(arguments)"
	}
	human := diffOf("m.py", "+"+long(0), "+"+long(1), "+"+long(2), "+"+long(3), "+short = 1")
	agent := diffOf("m.py", "+"+long(0), "+"+long(1), "+"+long(2), "+short = 1", "+"+long(9))
	pre := treeStrings{"unrelated"}
	got, err := SuspectLines(context.Background(), []byte(agent), []byte(human), pre)
	if err != nil || len(got) != 3 {
		t.Fatalf("SuspectLines = %q, %v; want the 3 long human lines", got, err)
	}
	// Lines the pre tree already holds (moved code) are no evidence.
	pre = treeStrings{strings.TrimSpace(long(0)) + "\n" + strings.TrimSpace(long(1))}
	if got, _ := SuspectLines(context.Background(), []byte(agent), []byte(human), pre); len(got) != 1 {
		t.Errorf("with pre holding two of them: %q", got)
	}
}
