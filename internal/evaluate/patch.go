package evaluate

import (
	"bufio"
	"bytes"
	"regexp"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/gitx"
	"github.com/perfbench/perfbench/internal/records"
)

var (
	patchFailedRE = regexp.MustCompile(`(?m)^error: patch failed: (.+):([0-9]+)\s*$`)
	// "error: x: does not exist in index", "error: x: No such file or
	// directory", "error: x: already exists in working directory".
	fileErrorRE = regexp.MustCompile(`(?m)^error: (.+?): (does not exist in index|No such file or directory|already exists in (?:working directory|index)|does not match index|patch does not apply)\s*$`)
	hunkHeadRE  = regexp.MustCompile(`^@@ -([0-9]+)(?:,[0-9]+)? \+[0-9]+(?:,[0-9]+)? @@`)
)

const maxHunkText = 4096

// gitStderr collects the stderr of every git failure in err's tree.
func gitStderr(err error) string {
	var b strings.Builder
	var walk func(error)
	walk = func(e error) {
		for e != nil {
			if ge, ok := e.(*gitx.GitError); ok {
				b.WriteString(ge.Stderr)
				if !strings.HasSuffix(ge.Stderr, "\n") {
					b.WriteByte('\n')
				}
			}
			switch u := e.(type) {
			case interface{ Unwrap() []error }:
				for _, x := range u.Unwrap() {
					walk(x)
				}
				return
			case interface{ Unwrap() error }:
				e = u.Unwrap()
			default:
				return
			}
		}
	}
	walk(err)
	if b.Len() == 0 && err != nil {
		return err.Error()
	}
	return b.String()
}

// failingHunks lists the hunks git apply reported as failing, with their
// text from the patch when found.
func failingHunks(stderr string, patch []byte) []records.Hunk {
	var out []records.Hunk
	seen := map[string]bool{}
	for _, m := range patchFailedRE.FindAllStringSubmatch(stderr, -1) {
		line, _ := strconv.Atoi(m[2])
		key := m[1] + ":" + m[2]
		if seen[key] {
			continue
		}
		seen[key] = true
		h := records.Hunk{File: m[1], Line: line}
		h.Header, h.Text = findHunk(patch, m[1], line)
		out = append(out, h)
	}
	for _, m := range fileErrorRE.FindAllStringSubmatch(stderr, -1) {
		if seen[m[1]+":"] || m[2] == "patch does not apply" && hasFile(out, m[1]) {
			continue
		}
		seen[m[1]+":"] = true
		out = append(out, records.Hunk{File: m[1], Header: m[2]})
	}
	return out
}

func hasFile(hs []records.Hunk, f string) bool {
	for _, h := range hs {
		if h.File == f {
			return true
		}
	}
	return false
}

// findHunk returns the header and body of the hunk of file whose old range
// starts at line.
func findHunk(patch []byte, file string, line int) (string, string) {
	sc := bufio.NewScanner(bytes.NewReader(patch))
	sc.Buffer(make([]byte, 64*1024), 16<<20)
	inFile, inHunk := false, false
	var header string
	var body strings.Builder
	for sc.Scan() {
		l := sc.Text()
		switch {
		case strings.HasPrefix(l, "diff --git "):
			if inHunk {
				return header, capText(body.String())
			}
			inFile = strings.HasSuffix(l, " b/"+file) || strings.Contains(l, " a/"+file+" ")
		case inFile && strings.HasPrefix(l, "@@"):
			if inHunk {
				return header, capText(body.String())
			}
			if m := hunkHeadRE.FindStringSubmatch(l); m != nil {
				if n, _ := strconv.Atoi(m[1]); n == line {
					inHunk, header = true, l
				}
			}
		case inHunk:
			body.WriteString(l)
			body.WriteByte('\n')
		}
	}
	if inHunk {
		return header, capText(body.String())
	}
	return "", ""
}

func capText(s string) string {
	if len(s) <= maxHunkText {
		return s
	}
	return s[:maxHunkText] + "…\n"
}
