package workspace_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/gitx"
	"github.com/perfbench/perfbench/internal/workspace"
)

// benchRepoParams shape the benchmark repository: 10,000 files of about
// 100 MB in all (10% incompressible), 1,000 commits of history.
type benchRepoParams struct {
	Dirs, FilesPerDir int
	MinSize, MaxSize  int // bytes per file, uniform
	BinaryPercent     int
	Commits           int
	FilesPerCommit    int
}

var benchParams = benchRepoParams{
	Dirs: 100, FilesPerDir: 100,
	MinSize: 2 << 10, MaxSize: 18 << 10,
	BinaryPercent: 10,
	Commits:       1000, FilesPerCommit: 10,
}

func (p benchRepoParams) key() string {
	return fmt.Sprintf("perfbench-benchrepo-v1-%dx%d-%d-%d-b%d-c%dx%d",
		p.Dirs, p.FilesPerDir, p.MinSize, p.MaxSize, p.BinaryPercent, p.Commits, p.FilesPerCommit)
}

// benchRepo returns the benchmark repository, generating it once (git
// fast-import, then a full repack so its pack looks like a clone's) and
// caching it under os.TempDir() by parameters.
func benchRepo(b *testing.B, p benchRepoParams) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), p.key())
	if _, err := os.Stat(filepath.Join(dir, ".complete")); err == nil {
		return dir
	}
	start := time.Now()
	tmp, err := os.MkdirTemp(os.TempDir(), p.key()+".tmp-")
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	ctx := context.Background()
	g := &gitx.Git{Dir: tmp}
	if _, err := g.Run(ctx, "init", "-q", "--bare", "--template=", "-b", "main"); err != nil {
		b.Fatal(err)
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeFastImport(pw, p)) }()
	if _, err := g.RunInput(ctx, pr, "fast-import", "--quiet"); err != nil {
		b.Fatal(err)
	}
	if _, err := g.Run(ctx, "repack", "-a", "-d", "-f", "-q", "--window=10", "--depth=50"); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, ".complete"), nil, 0o644); err != nil {
		b.Fatal(err)
	}
	_ = os.RemoveAll(dir)
	if err := os.Rename(tmp, dir); err != nil {
		b.Fatal(err)
	}
	b.Logf("generated %s in %v", dir, time.Since(start).Round(time.Millisecond))
	return dir
}

var words = strings.Fields(`func return if else for range var const type struct interface map
	chan select case default package import go defer break continue goto fallthrough
	int string byte rune error nil true false len cap append make new copy delete panic
	buffer index value result count total offset length cache table node tree list`)

func textLine(r *rand.Rand) string {
	var sb strings.Builder
	sb.WriteByte('\t')
	for n := 3 + r.IntN(9); n > 0; n-- {
		sb.WriteString(words[r.IntN(len(words))])
		if r.IntN(5) == 0 {
			fmt.Fprintf(&sb, "%d", r.IntN(100000))
		}
		sb.WriteByte(' ')
	}
	sb.WriteByte('\n')
	return sb.String()
}

func textFile(r *rand.Rand, size int) []byte {
	var sb strings.Builder
	for sb.Len() < size {
		sb.WriteString(textLine(r))
	}
	return []byte(sb.String())
}

func binaryFile(r *rand.Rand, size int) []byte {
	data := make([]byte, size)
	for i := range data {
		data[i] = byte(r.Uint32())
	}
	return data
}

// mutate changes about a tenth of a file, as a commit would.
func mutate(r *rand.Rand, data []byte, binary bool) []byte {
	if binary {
		out := append([]byte(nil), data...)
		off := r.IntN(len(out))
		for i := off; i < len(out) && i < off+1024; i++ {
			out[i] = byte(r.Uint32())
		}
		return out
	}
	lines := strings.SplitAfter(string(data), "\n")
	for n := len(lines)/10 + 1; n > 0; n-- {
		lines[r.IntN(len(lines))] = textLine(r)
	}
	return []byte(strings.Join(lines, ""))
}

func writeFastImport(w io.Writer, p benchRepoParams) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	n := p.Dirs * p.FilesPerDir
	files := make([][]byte, n)
	binary := make([]bool, n)
	path := func(i int) string { return fmt.Sprintf("pkg%02d/file%03d.go", i/p.FilesPerDir, i%p.FilesPerDir) }
	data := func(b []byte) {
		fmt.Fprintf(bw, "data %d\n", len(b))
		bw.Write(b)
		bw.WriteByte('\n')
	}
	for c := 0; c < p.Commits; c++ {
		fmt.Fprintf(bw, "commit refs/heads/main\ncommitter Bench <bench@example.com> %d +0000\n", 1e9+c*3600)
		data([]byte(fmt.Sprintf("commit %d\n", c)))
		if c == 0 {
			for i := range files {
				size := p.MinSize + r.IntN(p.MaxSize-p.MinSize+1)
				binary[i] = r.IntN(100) < p.BinaryPercent
				if binary[i] {
					files[i] = binaryFile(r, size)
				} else {
					files[i] = textFile(r, size)
				}
				fmt.Fprintf(bw, "M 100644 inline %s\n", path(i))
				data(files[i])
			}
			continue
		}
		for k := 0; k < p.FilesPerCommit; k++ {
			i := r.IntN(n)
			files[i] = mutate(r, files[i], binary[i])
			fmt.Fprintf(bw, "M 100644 inline %s\n", path(i))
			data(files[i])
		}
	}
	return bw.Flush()
}

// BenchmarkCreateWorkspace compares Create (+ Remove) of a big tree with
// `git worktree add --detach` (+ `git worktree remove --force`) of the same
// commit from the same mirror. The create sub-benchmark also times a
// worktree round before each of its iterations (timer stopped) and reports
// median(create)/median(worktree) as x-worktree (target: at most 1.5):
// interleaving cancels the drift of a shared machine's load and disk.
func BenchmarkCreateWorkspace(b *testing.B) {
	src := benchRepo(b, benchParams)
	ctx := context.Background()
	m, err := workspace.OpenMirror(ctx, b.TempDir(), src)
	if err != nil {
		b.Fatal(err)
	}
	pre, err := m.Resolve(ctx, "main~1")
	if err != nil {
		b.Fatal(err)
	}
	scratch := b.TempDir()
	mg := &gitx.Git{Dir: m.Dir}
	seq := 0
	worktree := func(b *testing.B) {
		seq++
		dir := filepath.Join(scratch, fmt.Sprintf("wt-%d", seq))
		if _, err := mg.Run(ctx, "worktree", "add", "--quiet", "--detach", dir, pre); err != nil {
			b.Fatal(err)
		}
		if _, err := mg.Run(ctx, "worktree", "remove", "--force", dir); err != nil {
			b.Fatal(err)
		}
	}
	create := func(b *testing.B) {
		seq++
		w, err := workspace.Create(ctx, m, pre, filepath.Join(scratch, fmt.Sprintf("ws-%d", seq)))
		if err != nil {
			b.Fatal(err)
		}
		if err := w.Remove(); err != nil {
			b.Fatal(err)
		}
	}
	b.Run("worktree", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			worktree(b)
		}
	})
	b.Run("create", func(b *testing.B) {
		var wt, cr []time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			start := time.Now()
			worktree(b)
			wt = append(wt, time.Since(start))
			b.StartTimer()
			start = time.Now()
			create(b)
			cr = append(cr, time.Since(start))
		}
		b.ReportMetric(float64(median(cr))/float64(median(wt)), "x-worktree")
		b.ReportMetric(float64(median(wt).Nanoseconds()), "worktree-ns")
	})
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}
