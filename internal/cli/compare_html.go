package cli

import (
	"context"
	"fmt"
	"io"
	"path/filepath"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/compare"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/report"
	"github.com/perfbench/perfbench/internal/site"
	"github.com/perfbench/perfbench/internal/textx"
	"github.com/perfbench/perfbench/internal/workspace"
)

// The html format of bench compare writes a directory, not a stream: its
// entry in compareFormats is there for the help and the list of formats,
// and runCompare hands it to writeCompareSite before any stream is opened.

const compareHTMLDoc = "a browsable static site written into the directory --out (required; replaced whole on a re-run): " +
	"index.html with the leaderboard, the item × run matrix, a cost-vs-Opt@1 Pareto chart, threshold curves and the metrics' definitions; " +
	"one page per run and per item and sample. Relative links only, nothing fetched: publish the directory as it is"

// htmlNeedsDir is the html format's stream writer: never called when
// --out is given, and an error saying why otherwise.
func htmlNeedsDir(io.Writer, *compare.Board) error { return errHTMLNeedsOut }

var errHTMLNeedsOut = badinput.Errorf("--format html writes a site into a directory: give --out DIR")

// checkCompareHTML is the up-front check of --format html: a directory.
func checkCompareHTML(o *compareOptions) error {
	if o.format == "html" && o.out == "" {
		return errHTMLNeedsOut
	}
	return nil
}

// writeCompareSite writes the board's site into dir.
func writeCompareSite(env *System, b *compare.Board, dir string) error {
	if err := site.Write(dir, b); err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, "wrote %s\n", filepath.Join(dir, "index.html"))
	return nil
}

// fillSubjects gives the board's matrix the human commits' subjects, for
// every format of compare and report-all.
func fillSubjects(env *System, benchCfg string, b *compare.Board) {
	b.FillSubjects(commitSubjects(env, benchCfg, b))
}

// commitSubjects looks the human commits' subjects up in the mirrors that
// prepare left under work_root, never cloning or fetching: a commit no
// mirror has is shown without its subject. nil when there is no mirror.
func commitSubjects(env *System, benchCfg string, b *compare.Board) func(sha string) string {
	cfg, err := env.loadBench(benchCfg)
	if err != nil {
		return nil
	}
	var mirrors []*workspace.Mirror
	seen := map[string]bool{}
	for _, t := range b.Tasks {
		for _, r := range t.Rows {
			run, err := journal.ReadRun(r.RunDir)
			if err != nil || seen[run.Task.RepoURL] {
				continue
			}
			seen[run.Task.RepoURL] = true
			if m, ok := workspace.FindMirror(cfg.bench.Paths.WorkRoot, run.Task.RepoURL); ok {
				mirrors = append(mirrors, m)
			}
		}
	}
	if len(mirrors) == 0 {
		return nil
	}
	cache := map[string]string{}
	return func(sha string) string {
		if s, ok := cache[sha]; ok {
			return s
		}
		s := ""
		for _, m := range mirrors {
			if msg, err := m.CommitMessage(context.Background(), sha); err == nil {
				s = textx.FirstLine(msg)
				break
			}
		}
		cache[sha] = s
		return s
	}
}

// reportAllLeaderboard gives report-all's HTML page the leaderboard of
// the evaluated runs, rendered by package site (report cannot import it).
func reportAllLeaderboard(root string, render func(io.Writer, *report.All) error) func(io.Writer, *report.All) error {
	return func(w io.Writer, a *report.All) error {
		board, err := loadStateBoard(root, nil)
		if err != nil {
			return err
		}
		if len(board.Tasks) > 0 {
			if a.Leaderboard, err = site.Leaderboard(board); err != nil {
				return err
			}
		}
		return render(w, a)
	}
}
