package evaluate

import (
	"strings"
	"testing"
)

// TestReasonLinesHaveNoControlCharacters: the last (or first) line of a
// command's output, which the agent's code controls, goes into eval.json's
// reason and the log without escape sequences or bell.
func TestReasonLinesHaveNoControlCharacters(t *testing.T) {
	out := "ok\n\x1b[31mFAIL\x1b]0;pwned\x07 \x9b2J\n"
	for name, got := range map[string]string{"lastLine": lastLine(out), "firstLine": firstLine("\x1b[2J" + out)} {
		if strings.ContainsAny(got, "\x1b\x07\u009b") {
			t.Errorf("%s kept a control character: %q", name, got)
		}
	}
	if got := lastLine(out); got != ": [31mFAIL]0;pwned 2J" {
		t.Errorf("lastLine = %q", got)
	}
}
