package forensics

import (
	"bytes"
	"strconv"
	"strings"
)

// FileDiff is one file of a unified diff (git diff's output).
type FileDiff struct {
	// Old and New are the paths without a/ and b/ ("" for /dev/null: a
	// file added or deleted).
	Old, New string
	Binary   bool
	Hunks    []Hunk
}

// Path is the file's path after the change (before it, for a deletion).
func (f *FileDiff) Path() string {
	if f.New != "" {
		return f.New
	}
	return f.Old
}

// Hunk is one hunk: its header and its lines.
type Hunk struct {
	// Header is the whole "@@ -a,b +c,d @@ context" line; Context is the
	// text after the second @@ (the enclosing function, when git found it).
	Header   string
	Context  string
	OldStart int
	NewStart int
	Lines    []Line
}

// Line is one line of a hunk: Kind is ' ', '+' or '-'; Text is without
// the marker.
type Line struct {
	Kind byte
	Text string
}

// maxDiffFiles and maxHunkLines bound what the parser keeps of a hostile
// patch.
const (
	maxDiffFiles = 10_000
	maxHunkLines = 100_000
)

// ParseDiff reads a unified diff, tolerating what git and other tools
// write around it (a commit header, "index" lines, "\ No newline at end
// of file", binary files); a line it does not understand outside a hunk
// is skipped. It never fails: a malformed hunk ends where its lines stop
// being hunk lines.
func ParseDiff(data []byte) []FileDiff {
	var files []FileDiff
	var f *FileDiff
	var h *Hunk
	oldLeft, newLeft := 0, 0
	newFile := func() {
		if len(files) < maxDiffFiles {
			files = append(files, FileDiff{})
			f = &files[len(files)-1]
		} else {
			f = &FileDiff{}
		}
		h = nil
	}
	for _, raw := range bytes.Split(data, []byte("\n")) {
		line := strings.TrimSuffix(string(raw), "\r")
		if h != nil && (oldLeft > 0 || newLeft > 0) {
			if line == "" {
				// git writes an empty context line as " "; a bare empty
				// line inside a hunk is taken as one.
				line = " "
			}
			switch line[0] {
			case ' ', '+', '-':
				if len(h.Lines) < maxHunkLines {
					h.Lines = append(h.Lines, Line{Kind: line[0], Text: line[1:]})
				}
				if line[0] != '+' {
					oldLeft--
				}
				if line[0] != '-' {
					newLeft--
				}
				continue
			case '\\':
				continue
			}
			h = nil
		}
		switch {
		case strings.HasPrefix(line, "diff --git "):
			newFile()
			a, b := splitGitPaths(line[len("diff --git "):])
			f.Old, f.New = a, b
		case strings.HasPrefix(line, "--- "):
			if f == nil || len(f.Hunks) > 0 {
				newFile()
			}
			f.Old = diffPath(line[4:], "a/")
		case strings.HasPrefix(line, "+++ ") && f != nil:
			f.New = diffPath(line[4:], "b/")
		case strings.HasPrefix(line, "Binary files ") || strings.HasPrefix(line, "GIT binary patch"):
			if f != nil {
				f.Binary = true
			}
		case strings.HasPrefix(line, "deleted file mode") && f != nil:
			f.New = ""
		case strings.HasPrefix(line, "new file mode") && f != nil:
			f.Old = ""
		case strings.HasPrefix(line, "@@ ") && f != nil:
			hk, ol, nl, ok := parseHunkHeader(line)
			if !ok {
				continue
			}
			f.Hunks = append(f.Hunks, hk)
			h = &f.Hunks[len(f.Hunks)-1]
			oldLeft, newLeft = ol, nl
		}
	}
	return files
}

// splitGitPaths splits "a/x b/x" (names with spaces are ambiguous here:
// the ---/+++ lines that follow correct them).
func splitGitPaths(s string) (string, string) {
	if i := strings.Index(s, " b/"); i >= 0 {
		return unquote(strings.TrimPrefix(s[:i], "a/")), unquote(s[i+3:])
	}
	return "", ""
}

func diffPath(s, prefix string) string {
	if i := strings.IndexByte(s, '\t'); i >= 0 {
		s = s[:i]
	}
	s = unquote(s)
	if s == "/dev/null" {
		return ""
	}
	return strings.TrimPrefix(s, prefix)
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
	}
	return s
}

// parseHunkHeader parses "@@ -a[,b] +c[,d] @@ context".
func parseHunkHeader(line string) (Hunk, int, int, bool) {
	rest := line[3:]
	end := strings.Index(rest, " @@")
	if end < 0 {
		return Hunk{}, 0, 0, false
	}
	ranges := strings.Fields(rest[:end])
	if len(ranges) != 2 || !strings.HasPrefix(ranges[0], "-") || !strings.HasPrefix(ranges[1], "+") {
		return Hunk{}, 0, 0, false
	}
	os, ol, ok1 := parseRange(ranges[0][1:])
	ns, nl, ok2 := parseRange(ranges[1][1:])
	if !ok1 || !ok2 {
		return Hunk{}, 0, 0, false
	}
	return Hunk{Header: line, Context: strings.TrimSpace(rest[end+3:]), OldStart: os, NewStart: ns}, ol, nl, true
}

func parseRange(s string) (start, n int, ok bool) {
	a, b, has := strings.Cut(s, ",")
	start, err := strconv.Atoi(a)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	n = 1
	if has {
		if n, err = strconv.Atoi(b); err != nil || n < 0 || n > maxHunkLines*10 {
			return 0, 0, false
		}
	}
	return start, n, true
}

// Added returns the hunk's added lines.
func (h *Hunk) Added() []string {
	var out []string
	for _, l := range h.Lines {
		if l.Kind == '+' {
			out = append(out, l.Text)
		}
	}
	return out
}

// AddedLines returns every added line of a diff.
func AddedLines(files []FileDiff) []string {
	var out []string
	for i := range files {
		for j := range files[i].Hunks {
			out = append(out, files[i].Hunks[j].Added()...)
		}
	}
	return out
}
