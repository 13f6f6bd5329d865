package plan

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/badinput"
)

var shaRe = regexp.MustCompile(`^[0-9a-fA-F]{7,64}$`)

const commitsSyntax = `expected "<human_sha> [<pre_sha> | parent=N]"`

// ReadCommitsFile parses a commits file; see ParseCommits.
func ReadCommitsFile(path string) ([]Entry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, badinput.Wrap(fmt.Errorf("commits file: %w", err))
	}
	defer f.Close()
	return ParseCommits(f, path)
}

// ParseCommits reads lines of "<human_sha> [<pre_sha> | parent=N]";
// '#' starts a comment, blank lines are skipped. Errors name the file and
// line. A file without any commit is an error.
func ParseCommits(r io.Reader, name string) ([]Entry, error) {
	var out []Entry
	seen := map[string]int{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if i := strings.IndexByte(text, '#'); i >= 0 {
			text = text[:i]
		}
		fields := strings.Fields(text)
		if len(fields) == 0 {
			continue
		}
		where := fmt.Sprintf("%s:%d", name, line)
		if len(fields) > 2 {
			return nil, badinput.Errorf("%s: %s, got %d fields", where, commitsSyntax, len(fields))
		}
		if !shaRe.MatchString(fields[0]) {
			return nil, badinput.Errorf("%s: %s: %q is not a commit sha (7 to 64 hex digits)", where, commitsSyntax, fields[0])
		}
		e := Entry{Human: strings.ToLower(fields[0]), Where: where}
		if len(fields) == 2 {
			f := fields[1]
			switch {
			case strings.HasPrefix(f, "parent="):
				n, err := strconv.Atoi(strings.TrimPrefix(f, "parent="))
				if err != nil || n < 1 || n > 64 {
					return nil, badinput.Errorf("%s: parent=N needs N between 1 and 64, got %q", where, f)
				}
				e.PreParentIndex = n
			case shaRe.MatchString(f):
				e.Pre = strings.ToLower(f)
			default:
				return nil, badinput.Errorf("%s: %s: %q is neither a commit sha nor parent=N", where, commitsSyntax, f)
			}
		}
		idx := e.PreParentIndex
		if e.Pre == "" && idx == 0 {
			idx = 1
		}
		key := e.Human + " " + e.Pre + " " + strconv.Itoa(idx)
		if prev, ok := seen[key]; ok {
			return nil, badinput.Errorf("%s: duplicate of line %d", where, prev)
		}
		seen[key] = line
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, badinput.Wrap(fmt.Errorf("%s:%d: %w", name, line+1, err))
	}
	if len(out) == 0 {
		return nil, badinput.Errorf("%s: no commits (%s per line)", name, commitsSyntax)
	}
	return out, nil
}
