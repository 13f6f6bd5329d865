// Package textx owns the small text helpers every layer shares: messages
// kept on one line, bounded cuts on a rune boundary, the bounded tail of
// a stream, and how dollar amounts print. It imports only the standard
// library, so any package may use it.
package textx

import (
	"io"
	"strings"
	"unicode/utf8"
)

// Ellipsis marks where Truncate cut a string.
const Ellipsis = "…"

// OneLine folds every run of white space in s (newlines included) into one
// space and trims both ends: a message quoting multi-line output (a tool's
// stderr, an exception) as one line.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// FirstLine is the first line of s once trimmed, itself trimmed: the
// headline of a message whose later lines are detail (a stack trace).
func FirstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = strings.TrimSpace(s[:i])
	}
	return s
}

// EscapeNewlines writes CR and LF as the two characters \r and \n, so an
// error quoting user text (a key, a value) stays on one line yet shows
// exactly what the user wrote.
func EscapeNewlines(s string) string {
	if !strings.ContainsAny(s, "\r\n") {
		return s
	}
	return strings.NewReplacer("\r", `\r`, "\n", `\n`).Replace(s)
}

// Brief is s on one line (OneLine) cut to n bytes (Truncate): an excerpt
// of an agent's message for a reason or a detail.
func Brief(s string, n int) string { return Truncate(OneLine(s), n) }

// Truncate keeps at most n bytes of s, cut back to a rune boundary so that
// valid UTF-8 stays valid, and appends Ellipsis when it cut: the result is
// never longer than n bytes plus the marker. A string of n bytes or fewer
// is returned as it is.
func Truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	n = max(n, 0)
	// A rune has at most UTFMax-1 continuation bytes; looking no further
	// back keeps a run of stray ones (invalid input) from eating the text.
	for i := 0; i < utf8.UTFMax-1 && n > 0 && !utf8.RuneStart(s[n]); i++ {
		n--
	}
	return s[:n] + Ellipsis
}

// StripControl drops the terminal control characters of s: C0 but tab
// and newline (ESC, BEL, CR, ...), DEL and C1 (U+0080–U+009F), so that
// text another program controls (an agent's, a command's output) cannot
// move the cursor, recolour or retitle the terminal it is printed on. An
// escape sequence loses its ESC and stays readable ("[31m"). Invalid
// UTF-8 is kept as it is, but for the bytes 0x80–0x9F, which a terminal in
// 8-bit mode reads as C1.
func StripControl(s string) string {
	if !strings.ContainsFunc(s, isControl) && utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			r = rune(s[i])
		}
		if !isControl(r) {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

func isControl(r rune) bool {
	return (r < 0x20 && r != '\t' && r != '\n') || r == 0x7f || (r >= 0x80 && r <= 0x9f)
}

// ControlFree is a writer that writes StripControl of every write to w:
// what a terminal writer prints through when it shows text from files (a
// reason quoting a command's output, a status, a problem). It reports
// the whole of p written when w took all that was left of it.
func ControlFree(w io.Writer) io.Writer { return controlFree{w} }

type controlFree struct{ w io.Writer }

func (c controlFree) Write(p []byte) (int, error) {
	if _, err := io.WriteString(c.w, StripControl(string(p))); err != nil {
		return 0, err
	}
	return len(p), nil
}
