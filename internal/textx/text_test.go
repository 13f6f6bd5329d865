package textx

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"
)

func TestOneLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                         "",
		"plain":                    "plain",
		"  a\n\tb  \r\n c\u00a0d ": "a b c d",
		"Traceback:\n  File x\n":   "Traceback: File x",
	} {
		if got := OneLine(in); got != want {
			t.Errorf("OneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStripControl(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"plain, tab\there\nnext":             "plain, tab\there\nnext",
		"\x1b[31mred\x1b[0m\x07":             "[31mred[0m",
		"\x1b]0;title\x07ok":                 "]0;titleok",
		"over\rwrite\x00\x08\x7f":            "overwrite",
		"c1 \u009b2J csi, \u0085nel":         "c1 2J csi, nel",
		"keeps é, ✓ and \u00a0":              "keeps é, ✓ and \u00a0",
		string([]byte{'a', 0xff, 0x1b, 'b'}): string([]byte{'a', 0xff, 'b'}),
		string([]byte{'a', 0x9b, '2', 'J'}):  "a2J",
	} {
		if got := StripControl(in); got != want {
			t.Errorf("StripControl(%q) = %q, want %q", in, got, want)
		}
	}
	var b strings.Builder
	w := ControlFree(&b)
	if n, err := fmt.Fprintf(w, "reason: %s\tok\n", "\x1b[2Jboom\x07"); err != nil || n != len("reason: \x1b[2Jboom\x07\tok\n") {
		t.Fatalf("ControlFree: %d, %v", n, err)
	}
	if b.String() != "reason: [2Jboom\tok\n" {
		t.Errorf("ControlFree wrote %q", b.String())
	}
}

func TestFirstLine(t *testing.T) {
	for in, want := range map[string]string{
		"":                       "",
		"one":                    "one",
		"\n  boom  \r\n  at x\n": "boom",
		"error: a\nb\nc":         "error: a",
		"  spaced   out  ":       "spaced   out",
	} {
		if got := FirstLine(in); got != want {
			t.Errorf("FirstLine(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestEscapeNewlines(t *testing.T) {
	for in, want := range map[string]string{
		"key":        "key",
		"a\nb":       `a\nb`,
		"a\r\nb\tc":  `a\r\nb` + "\tc",
		`already \n`: `already \n`,
	} {
		if got := EscapeNewlines(in); got != want {
			t.Errorf("EscapeNewlines(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestTruncate(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
	}{
		{"", 0, ""},
		{"abc", 3, "abc"},
		{"abcd", 3, "abc…"},
		{"abc", 0, "…"},
		{"abc", -1, "…"},
		{"héllo", 2, "h…"}, // é is 2 bytes: not split
		{"héllo", 3, "hé…"},
		{"€uro", 2, "…"}, // € is 3 bytes
		{strings.Repeat("x", 301), 300, strings.Repeat("x", 300) + "…"},
	} {
		if got := Truncate(c.in, c.n); got != c.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", c.in, c.n, got, c.want)
		}
	}
}

func TestBrief(t *testing.T) {
	got := Brief("Invalid API key\n · Please run /login", 17) // inside "·"
	if got != "Invalid API key …" || !utf8.ValidString(got) {
		t.Errorf("Brief = %q", got)
	}
	if got := Brief("a\tb\n c", 10); got != "a b c" {
		t.Errorf("Brief = %q", got)
	}
}

func FuzzTruncate(f *testing.F) {
	for _, s := range []string{"", "abc", "héllo wörld", "€€€", "a\nb\r\n\tc", "\xff\xfe"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		n %= 1 << 10
		got := Truncate(s, n)
		if len(s) <= n {
			if got != s {
				t.Fatalf("Truncate(%q, %d) = %q: a short string changed", s, n, got)
			}
		} else {
			kept, ok := strings.CutSuffix(got, Ellipsis)
			if !ok || len(kept) > max(n, 0) || !strings.HasPrefix(s, kept) {
				t.Fatalf("Truncate(%q, %d) = %q: not a prefix of at most n bytes plus %q", s, n, got, Ellipsis)
			}
			if len(kept) < n-utf8.UTFMax+1 {
				t.Fatalf("Truncate(%q, %d) = %q: cut more than a rune back", s, n, got)
			}
		}
		if utf8.ValidString(s) && !utf8.ValidString(got) {
			t.Fatalf("Truncate(%q, %d) = %q: valid UTF-8 made invalid", s, n, got)
		}
		line := OneLine(s)
		if strings.ContainsAny(line, "\r\n\t") || strings.Contains(line, "  ") || line != strings.TrimSpace(line) {
			t.Fatalf("OneLine(%q) = %q: not one line of single spaces", s, line)
		}
		if utf8.ValidString(s) && !utf8.ValidString(line) {
			t.Fatalf("OneLine(%q) = %q: valid UTF-8 made invalid", s, line)
		}
		if first := FirstLine(s); strings.Contains(first, "\n") || len(first) > len(s) {
			t.Fatalf("FirstLine(%q) = %q", s, first)
		}
		if esc := EscapeNewlines(s); strings.ContainsAny(esc, "\r\n") {
			t.Fatalf("EscapeNewlines(%q) = %q", s, esc)
		}
	})
}

func TestTail(t *testing.T) {
	tb := NewTail(4)
	for _, s := range []string{"ab", "cdef", "gh", "é"} {
		tb.Write([]byte(s))
	}
	if tb.String() != "ghé" || tb.Total() != 10 {
		t.Fatalf("tail: %q %d", tb.String(), tb.Total())
	}
	// The kept bytes start inside € (E2 82 AC): its rest is dropped.
	tb = NewTail(3)
	tb.Write([]byte("€é"))
	if tb.String() != "é" {
		t.Fatalf("tail from a rune boundary: %q", tb.String())
	}
	// Many small writes keep exactly the last max bytes.
	tb = NewTail(5)
	for i := range 1000 {
		fmt.Fprint(tb, i%10)
	}
	if tb.String() != "56789" || tb.Total() != 1000 {
		t.Fatalf("tail after many writes: %q %d", tb.String(), tb.Total())
	}
}

func TestTailConcurrentWriters(t *testing.T) {
	tb := NewTail(64)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				tb.Write([]byte("xy"))
			}
		}()
	}
	wg.Wait()
	if tb.Total() != 800 || len(tb.String()) != 64 {
		t.Fatalf("tail: %d bytes kept of %d", len(tb.String()), tb.Total())
	}
}

func TestUSD(t *testing.T) {
	for _, c := range []struct{ got, want string }{
		{USD(0.06), "$0.0600"}, {USD(2.5), "$2.5000"}, {USD(0.00004), "$0.0000"},
		{USDShort(0.05), "$0.05"}, {USDShort(1), "$1"}, {USDShort(0.045), "$0.045"}, {USDShort(12.34567), "$12.35"},
		{USDCents(0.0612), "$0.06"}, {USDCents(0), "$0.00"},
	} {
		if c.got != c.want {
			t.Errorf("got %s, want %s", c.got, c.want)
		}
	}
}
