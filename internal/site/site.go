// Package site writes the browsable HTML site of `bench compare --format
// html --out DIR`: an index (the leaderboard per task, the item × run
// matrix, the cost-vs-Opt@1 Pareto chart, the threshold curves and the
// definitions of every metric), one page per run (report's run page) and
// one page per item and sample (task, patch, logs, limits, usage, the raw
// samples and their statistics). It works offline and from a file share:
// every link is relative, nothing is fetched, CSS and SVG are inline, and
// a small inline script only adds sorting and filtering to pages complete
// without it.
//
// It is a reader that composes the readers before it: it imports
// compare (the board) and report (run pages), and reads the records of
// every item itself, with bounded reads: an agent wrote the patch and the
// logs.
package site

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/compare"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/report"
	"golang.org/x/sys/unix"
)

// MarkerFile marks a directory as a site this package wrote: only such a
// directory (or an empty one) is replaced by a new site.
const MarkerFile = ".perfbench-site"

// Write renders the site of b into dir. The pages are written into a
// fresh directory next to dir, synced, which then replaces dir in one step
// (fsx.ReplaceDir): the site's write is atomic as a whole, a re-run leaves
// no stale page, and a failed run leaves dir as it was. An existing dir
// must be empty or a site written here (MarkerFile); its KeptFiles (.git,
// CNAME, .nojekyll) are moved into the new site, anything else is replaced. The human commits'
// subjects are the board's matrix's (Board.FillSubjects): reports are
// never shown to agents, so the commits may be named.
func Write(dir string, b *compare.Board) error {
	if err := checkReplaceable(dir); err != nil {
		return err
	}
	parent := filepath.Dir(filepath.Clean(dir))
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return err
	}
	fresh, err := os.MkdirTemp(parent, "."+filepath.Base(filepath.Clean(dir))+"-new-")
	if err != nil {
		return err
	}
	if err := os.Chmod(fresh, 0o755); err != nil {
		_ = fsx.RemoveAll(fresh)
		return err
	}
	if err := writeInto(fresh, b); err != nil {
		_ = fsx.RemoveAll(fresh)
		return err
	}
	moved, err := carryOver(filepath.Clean(dir), fresh)
	if err == nil {
		err = fsx.ReplaceDir(fresh, filepath.Clean(dir))
	}
	if err != nil {
		putBack(moved, filepath.Clean(dir), fresh)
		_ = fsx.RemoveAll(fresh)
		return err
	}
	return nil
}

// KeptFiles are the entries of a replaced site directory that the new site
// keeps: what publishing it from a git branch (GitHub Pages) puts there.
var KeptFiles = []string{".git", "CNAME", ".nojekyll"}

// carryOver moves dir's KeptFiles into fresh (renames within one parent)
// and returns the names moved.
func carryOver(dir, fresh string) ([]string, error) {
	var moved []string
	for _, name := range KeptFiles {
		if _, err := os.Lstat(filepath.Join(dir, name)); err != nil {
			continue
		}
		if err := os.Rename(filepath.Join(dir, name), filepath.Join(fresh, name)); err != nil {
			return moved, fmt.Errorf("keeping %s of %s: %w", name, dir, err)
		}
		moved = append(moved, name)
	}
	return moved, nil
}

// putBack undoes carryOver after a failed replacement.
func putBack(moved []string, dir, fresh string) {
	for _, name := range moved {
		_ = os.Rename(filepath.Join(fresh, name), filepath.Join(dir, name))
	}
}

// checkReplaceable refuses to replace a directory that is not a site: a
// mistyped --out must not remove a user's files.
func checkReplaceable(dir string) error {
	fi, err := os.Lstat(dir)
	if fsx.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode()&os.ModeSymlink != 0 {
		return badinput.Errorf("--out %s: is a symbolic link: give the directory itself (the site replaces its directory whole, which would replace the link, not what it points to)", dir)
	}
	if !fi.IsDir() {
		return badinput.Errorf("--out %s: exists and is not a directory", dir)
	}
	if holdsWorkingDir(dir) {
		return badinput.Errorf("--out %s: is the current directory or holds it: the site replaces its directory whole; run bench compare from outside it", dir)
	}
	if fsx.Exists(filepath.Join(dir, MarkerFile)) {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	if len(ents) > 0 {
		return badinput.Errorf("--out %s: not empty and not a site written by bench compare (no %s): refusing to replace it", dir, MarkerFile)
	}
	return nil
}

// holdsWorkingDir says dir is the working directory or one of its
// parents (after resolving links).
func holdsWorkingDir(dir string) bool {
	wd, err := os.Getwd()
	if err != nil {
		return false
	}
	d, err1 := filepath.EvalSymlinks(dir)
	w, err2 := filepath.EvalSymlinks(wd)
	if err1 != nil || err2 != nil {
		return false
	}
	d, _ = filepath.Abs(d)
	rel, err := filepath.Rel(d, w)
	return err == nil && (rel == "." || (rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))))
}

// writeInto writes every page of the site into root.
func writeInto(root string, b *compare.Board) error {
	s := load(b)
	var pages []page
	pages = append(pages, page{"index.html", func(buf *bytes.Buffer) error { return writeIndex(buf, s) }})
	for _, r := range s.runs {
		pages = append(pages, page{r.page, func(buf *bytes.Buffer) error { return writeRunPage(buf, r) }})
		for _, it := range r.items {
			for _, u := range it.units {
				pages = append(pages, page{u.page, func(buf *bytes.Buffer) error { return writeItemPage(buf, s, r, it, u) }})
			}
		}
	}
	var buf bytes.Buffer
	for _, p := range pages {
		buf.Reset()
		if err := p.render(&buf); err != nil {
			return fmt.Errorf("render %s: %w", p.path, err)
		}
		path := filepath.Join(root, filepath.FromSlash(p.path))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		// No file of root is seen before the swap: a plain write, and one
		// sync of the file system below (an fsync per page made a site
		// of 20,000 pages five times slower).
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			return err
		}
	}
	if err := os.WriteFile(filepath.Join(root, MarkerFile), []byte("written by bench compare --format html; replaced whole by the next\n"), 0o644); err != nil {
		return err
	}
	return syncFS(root)
}

// syncFS makes everything written under dir durable before it replaces
// the old site: syncfs(2) on dir's file system.
func syncFS(dir string) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// WriteIndex writes the site's index alone: the leaderboard, the matrix,
// the charts and the definitions of b (its links lead to the pages Write
// adds). For a quick look, or a test of the index at scale.
func WriteIndex(w io.Writer, b *compare.Board) error {
	var buf bytes.Buffer
	if err := writeIndex(&buf, load(b)); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

type page struct {
	path   string // slash-separated, relative to the site's root
	render func(*bytes.Buffer) error
}

func writeRunPage(buf *bytes.Buffer, r *siteRun) error {
	rep, err := report.Load(r.row.RunDir)
	if err != nil {
		// The board was read from the same files a moment ago: a run
		// that cannot be read now still gets a page saying so.
		if !badinput.Is(err) {
			return err
		}
		return writeProblemPage(buf, "Run "+r.row.RunID, err.Error())
	}
	return report.WriteHTMLLinked(buf, rep, report.Links{
		Up: "../../index.html",
		Item: func(dir string) string {
			if u := r.unitByDir[dir]; u != nil {
				return filepath.Base(u.page)
			}
			return ""
		},
	})
}

var safeName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,150}$`)

// fileName is name when it is a safe file name (run ids and item
// directories are), else a numbered stand-in: a name from a file must not
// reach outside the site or collide with another page.
func fileName(name, prefix string, n int) string {
	if safeName.MatchString(name) && name != "index" {
		return name
	}
	return prefix + strconv.Itoa(n)
}
