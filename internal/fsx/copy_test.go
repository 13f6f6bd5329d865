package fsx

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// tree writes files (path -> content; a content "-> target" makes a
// symbolic link, a path ending in / a directory) under dir.
func tree(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for _, p := range slices.Sorted(func(yield func(string) bool) {
		for p := range files {
			if !yield(p) {
				return
			}
		}
	}) {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		c := files[p]
		var err error
		switch {
		case strings.HasSuffix(p, "/"):
			err = os.MkdirAll(full, 0o755)
		case strings.HasPrefix(c, "-> "):
			err = os.Symlink(strings.TrimPrefix(c, "-> "), full)
		default:
			err = os.WriteFile(full, []byte(c), 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// listing describes every entry under dir: "path: content", "path ->
// target" or "path/".
func listing(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case d.Type()&os.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			out = append(out, rel+" -> "+target)
		case d.IsDir():
			out = append(out, rel+"/")
		default:
			data, _ := os.ReadFile(p)
			out = append(out, rel+": "+string(data))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func emptyDir(t *testing.T, dir string) {
	t.Helper()
	if l := listing(t, dir); len(l) > 0 {
		t.Errorf("%s was written into: %q", dir, l)
	}
}

func TestCopyTreeKeepsLinksAsLinks(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o600)
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "out")
	tree(t, src, map[string]string{
		"a.txt":         "a",
		"d/b.txt":       "b",
		"d/e/":          "",
		"escape":        "-> " + outside,
		"escape-file":   "-> " + filepath.Join(outside, "secret"),
		"d/inside":      "-> ../a.txt",
		"d/dangling":    "-> nowhere",
		"setuid.sh":     "#!/bin/sh",
		"d/private.txt": "p",
	})
	os.Chmod(filepath.Join(src, "setuid.sh"), 0o4755)
	os.Chmod(filepath.Join(src, "d", "private.txt"), 0o600)
	skipped, err := CopyTree(src, dst, CopyLimits{})
	if err != nil || len(skipped) > 0 {
		t.Fatalf("CopyTree: %v, skipped %v", err, skipped)
	}
	want := []string{
		"a.txt: a", "d/", "d/b.txt: b", "d/dangling -> nowhere", "d/e/", "d/inside -> ../a.txt", "d/private.txt: p",
		"escape -> " + outside, "escape-file -> " + filepath.Join(outside, "secret"), "setuid.sh: #!/bin/sh",
	}
	if got := listing(t, dst); !slices.Equal(got, want) {
		t.Errorf("copy:\n%q\nwant\n%q", got, want)
	}
	for name, perm := range map[string]os.FileMode{"setuid.sh": 0o755, "d/private.txt": 0o600} {
		fi, err := os.Lstat(filepath.Join(dst, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != perm {
			t.Errorf("%s: mode %v, want %v (permission bits only)", name, fi.Mode(), perm)
		}
	}
}

func TestCopyTreeSourceLinkIsNotFollowed(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o600)
	parent := t.TempDir()
	src := filepath.Join(parent, "out")
	os.Symlink(outside, src)
	dst := t.TempDir()
	skipped, err := CopyTree(src, dst, CopyLimits{})
	if err != nil {
		t.Fatal(err)
	}
	if len(skipped) != 1 || skipped[0].Path != "." || !strings.Contains(skipped[0].Reason, "symbolic link") {
		t.Errorf("skipped = %v, want the folder itself as a symbolic link", skipped)
	}
	emptyDir(t, dst)

	skipped, err = CopyTree(filepath.Join(parent, "missing"), dst, CopyLimits{})
	if err != nil || len(skipped) != 1 || skipped[0].Reason != "missing" {
		t.Errorf("missing folder: %v, %v", skipped, err)
	}
}

// The two-attempt attack: the destination holds a link from an earlier
// copy; the next copy, replacing the directory, never writes through it.
func TestCopyTreeDestinationLinkIsNotWrittenThrough(t *testing.T) {
	victim := t.TempDir()
	item := t.TempDir()
	out := filepath.Join(item, "out")

	first := t.TempDir()
	tree(t, first, map[string]string{"sub": "-> " + victim, "keep.txt": "1"})
	fresh, _ := os.MkdirTemp(item, ".out-")
	if _, err := CopyTree(first, fresh, CopyLimits{}); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceDir(fresh, out); err != nil {
		t.Fatal(err)
	}

	second := t.TempDir()
	tree(t, second, map[string]string{"sub/x": "pwned"})
	fresh, _ = os.MkdirTemp(item, ".out-")
	if _, err := CopyTree(second, fresh, CopyLimits{}); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceDir(fresh, out); err != nil {
		t.Fatal(err)
	}
	emptyDir(t, victim)
	if got, want := listing(t, out), []string{"sub/", "sub/x: pwned"}; !slices.Equal(got, want) {
		t.Errorf("out = %q, want %q (the second copy only)", got, want)
	}
	if left, _ := filepath.Glob(filepath.Join(item, ".out*")); len(left) > 0 {
		t.Errorf("left behind: %q", left)
	}

	// Copying into a root that already holds the link: an error, never a
	// write through it.
	d, err := os.OpenRoot(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	if err := d.Symlink(victim, "sub"); err != nil {
		t.Fatal(err)
	}
	s, err := OpenRoot(second)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := CopyTreeRoots(s, d, CopyLimits{}); err == nil {
		t.Error("copying over a link: no error")
	}
	emptyDir(t, victim)
}

// An agent's process that outlived it swaps an entry for a link between
// the copy's Lstat and its open (beforeOpen makes the window
// deterministic): the copy leaves the entry out instead of following it.
func TestCopyTreeEntrySwappedDuringCopy(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o600)
	os.WriteFile(filepath.Join(outside, "x"), []byte("host x"), 0o600)
	src := t.TempDir()
	tree(t, src, map[string]string{
		"1-out":     "agent",
		"2-in":      "agent",
		"3-fifo":    "agent",
		"4-dirout/": "",
		"5-dirin/":  "",
		"6-other":   "other",
		"7-plain":   "plain",
	})
	swaps := map[string]func(p string) error{
		"1-out": func(p string) error { return os.Symlink(filepath.Join(outside, "secret"), p) },
		"2-in":  func(p string) error { return os.Symlink("6-other", p) },
		"3-fifo": func(p string) error {
			return syscall.Mkfifo(p, 0o644)
		},
		"4-dirout": func(p string) error { return os.Symlink(outside, p) },
		"5-dirin":  func(p string) error { return os.Symlink("4-dirout-moved", p) },
	}
	os.MkdirAll(filepath.Join(src, "4-dirout-moved"), 0o755)
	os.WriteFile(filepath.Join(src, "4-dirout-moved", "y"), []byte("y"), 0o644)
	beforeOpen = func(dir *os.Root, name string) {
		swap := swaps[name]
		if swap == nil {
			return
		}
		p := filepath.Join(dir.Name(), name)
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
		if err := swap(p); err != nil {
			t.Fatal(err)
		}
	}
	defer func() { beforeOpen = nil }()
	dst := t.TempDir()
	skipped, err := CopyTree(src, dst, CopyLimits{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, s := range skipped {
		got[s.Path] = s.Reason
	}
	want := map[string]string{
		"1-out":    "a symbolic link out of the folder",
		"2-in":     "changed while being copied",
		"3-fifo":   "changed while being copied",
		"4-dirout": "a symbolic link out of the folder",
		"5-dirin":  "changed while being copied",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("skipped = %v\nwant %v", got, want)
	}
	if l := listing(t, dst); !slices.Equal(l, []string{"4-dirout-moved/", "4-dirout-moved/y: y", "6-other: other", "7-plain: plain"}) {
		t.Errorf("copied %q", l)
	}
	for _, l := range listing(t, dst) {
		if strings.Contains(l, "host") {
			t.Errorf("a host file was copied: %s", l)
		}
	}
}

func TestOpenFileIn(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("host secret"), 0o600)
	dir := t.TempDir()
	tree(t, dir, map[string]string{"ok.json": "{}", "link.json": "-> " + filepath.Join(outside, "secret"), "in.json": "-> ok.json", "sub": "-> " + outside})
	syscall.Mkfifo(filepath.Join(dir, "fifo.json"), 0o644)
	r, err := OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	f, err := OpenFileIn(r, "ok.json")
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, name := range []string{"link.json", "in.json", "fifo.json", "sub/secret"} {
		if f, err := OpenFileIn(r, name); err == nil {
			f.Close()
			t.Errorf("%s opened", name)
		}
	}
}

func TestCopyTreeLimits(t *testing.T) {
	src := t.TempDir()
	tree(t, src, map[string]string{
		"a":      strings.Repeat("a", 10),
		"b":      strings.Repeat("b", 20),
		"c":      strings.Repeat("c", 5),
		"d/e":    strings.Repeat("e", 10),
		"d/f":    strings.Repeat("f", 15),
		"empty":  "",
		"link":   "-> b",
		"z/dir/": "",
	})
	for _, tc := range []struct {
		name   string
		lim    CopyLimits
		copied []string
		skip   []Skipped
	}{
		{"no limits", CopyLimits{}, []string{"a", "b", "c", "d/e", "d/f", "empty"}, nil},
		{"total fits exactly", CopyLimits{MaxTotal: 60}, []string{"a", "b", "c", "d/e", "d/f", "empty"}, nil},
		{
			// a+b = 30; c (5) would make 35; d/e (10) too; d/f 15 too;
			// an empty file always fits; links and directories cost nothing.
			"total in path order, smaller later files still fit", CopyLimits{MaxTotal: 30},
			[]string{"a", "b", "empty"},
			[]Skipped{
				{"c", "5 bytes, over the total limit of 30 bytes (30 copied before it)"},
				{"d/e", "10 bytes, over the total limit of 30 bytes (30 copied before it)"},
				{"d/f", "15 bytes, over the total limit of 30 bytes (30 copied before it)"},
			},
		},
		{
			"a big file skipped leaves room", CopyLimits{MaxTotal: 25},
			[]string{"a", "c", "d/e", "empty"},
			[]Skipped{
				{"b", "20 bytes, over the total limit of 25 bytes (10 copied before it)"},
				{"d/f", "15 bytes, over the total limit of 25 bytes (25 copied before it)"},
			},
		},
		{
			"per file", CopyLimits{MaxFile: 10},
			[]string{"a", "c", "d/e", "empty"},
			[]Skipped{
				{"b", "20 bytes, over the limit of 10 bytes per file"},
				{"d/f", "15 bytes, over the limit of 10 bytes per file"},
			},
		},
		{
			// Files over the per-file limit do not count against the total.
			"both", CopyLimits{MaxFile: 15, MaxTotal: 20},
			[]string{"a", "c", "empty"},
			[]Skipped{
				{"b", "20 bytes, over the limit of 15 bytes per file"},
				{"d/e", "10 bytes, over the total limit of 20 bytes (15 copied before it)"},
				{"d/f", "15 bytes, over the total limit of 20 bytes (15 copied before it)"},
			},
		},
		{
			"one byte", CopyLimits{MaxTotal: 1},
			[]string{"empty"},
			[]Skipped{
				{"a", "10 bytes, over the total limit of 1 bytes (0 copied before it)"},
				{"b", "20 bytes, over the total limit of 1 bytes (0 copied before it)"},
				{"c", "5 bytes, over the total limit of 1 bytes (0 copied before it)"},
				{"d/e", "10 bytes, over the total limit of 1 bytes (0 copied before it)"},
				{"d/f", "15 bytes, over the total limit of 1 bytes (0 copied before it)"},
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := t.TempDir()
			skipped, err := CopyTree(src, dst, tc.lim)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(skipped, tc.skip) {
				t.Errorf("skipped\n%v\nwant\n%v", skipped, tc.skip)
			}
			var files []string
			var total int64
			for _, l := range listing(t, dst) {
				if name, content, ok := strings.Cut(l, ": "); ok {
					files = append(files, name)
					total += int64(len(content))
					if want, _ := os.ReadFile(filepath.Join(src, name)); string(want) != content {
						t.Errorf("%s: %q, want %q", name, content, want)
					}
				}
			}
			if !slices.Equal(files, tc.copied) {
				t.Errorf("copied %q, want %q", files, tc.copied)
			}
			if tc.lim.MaxTotal > 0 && total > tc.lim.MaxTotal {
				t.Errorf("copied %d bytes, over %d", total, tc.lim.MaxTotal)
			}
			// Links and directories are always copied.
			if _, err := os.Readlink(filepath.Join(dst, "link")); err != nil {
				t.Errorf("link: %v", err)
			}
			if fi, err := os.Stat(filepath.Join(dst, "z", "dir")); err != nil || !fi.IsDir() {
				t.Errorf("z/dir: %v", err)
			}
		})
	}
}

// A file that grows between the Lstat and the open is judged by what was
// opened.
func TestCopyTreeLimitsGrownFile(t *testing.T) {
	src := t.TempDir()
	tree(t, src, map[string]string{"a": "small", "b": "1234"})
	beforeOpen = func(dir *os.Root, name string) {
		if name == "a" {
			os.WriteFile(filepath.Join(dir.Name(), name), []byte(strings.Repeat("x", 100)), 0o644)
		}
	}
	defer func() { beforeOpen = nil }()
	dst := t.TempDir()
	skipped, err := CopyTree(src, dst, CopyLimits{MaxTotal: 10})
	if err != nil {
		t.Fatal(err)
	}
	if want := []Skipped{{"a", "100 bytes, over the total limit of 10 bytes (0 copied before it)"}}; !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	if got := listing(t, dst); !slices.Equal(got, []string{"b: 1234"}) {
		t.Errorf("copied %q", got)
	}
}

func TestCopyTreeDepth(t *testing.T) {
	src := t.TempDir()
	deep := src
	var parts []string
	for i := 0; i < maxCopyDepth+2; i++ {
		parts = append(parts, "d")
		deep = filepath.Join(deep, "d")
	}
	os.MkdirAll(deep, 0o755)
	dst := t.TempDir()
	skipped, err := CopyTree(src, dst, CopyLimits{})
	if err != nil {
		t.Fatal(err)
	}
	want := []Skipped{{strings.Join(parts[:maxCopyDepth+1], "/"), fmt.Sprintf("nested deeper than %d directories", maxCopyDepth)}}
	if !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	if fi, err := os.Stat(filepath.Join(dst, filepath.Join(parts[:maxCopyDepth]...))); err != nil || !fi.IsDir() {
		t.Errorf("the %dth level was not copied: %v", maxCopyDepth, err)
	}
}

// Filter sees every byte copied (none reaches dst unfiltered), Reject
// withholds names and link targets, MaxEntries bounds the entries, and
// the list of what was left out is bounded too.
func TestCopyTreeFilterRejectEntries(t *testing.T) {
	src, dst := t.TempDir(), filepath.Join(t.TempDir(), "d")
	os.WriteFile(filepath.Join(src, "a"), []byte("the SECRET here"), 0o644)
	os.WriteFile(filepath.Join(src, "SECRET.txt"), []byte("x"), 0o644)
	os.Symlink("/x/SECRET", filepath.Join(src, "l"))
	upper := func(w io.Writer) io.WriteCloser { return upperWriter{w} }
	reject := func(s string) bool { return strings.Contains(s, "SECRET") }
	skipped, err := CopyTree(src, dst, CopyLimits{Filter: upper, Reject: reject})
	if err != nil {
		t.Fatal(err)
	}
	if data, _ := os.ReadFile(filepath.Join(dst, "a")); string(data) != "THE SECRET HERE" {
		t.Errorf("filtered copy %q", data)
	}
	want := []Skipped{{Path: "[name withheld]", Reason: "its name holds a secret value"}, {Path: "l", Reason: "its link target holds a secret value"}}
	if !slices.Equal(skipped, want) {
		t.Errorf("skipped %v, want %v", skipped, want)
	}
	if ents, _ := os.ReadDir(dst); len(ents) != 1 {
		t.Errorf("dst holds %v", ents)
	}

	many := t.TempDir()
	for i := range 250 {
		os.WriteFile(filepath.Join(many, fmt.Sprintf("f%03d", i)), nil, 0o644)
	}
	dst = filepath.Join(t.TempDir(), "d")
	skipped, err = CopyTree(many, dst, CopyLimits{MaxEntries: 20})
	if err != nil {
		t.Fatal(err)
	}
	if ents, _ := os.ReadDir(dst); len(ents) != 20 {
		t.Errorf("copied %d entries, want 20", len(ents))
	}
	if len(skipped) != maxSkippedListed+1 || skipped[maxSkippedListed].Reason != "130 more entries left out" {
		t.Errorf("skipped: %d entries, last %v", len(skipped), skipped[len(skipped)-1])
	}
}

type upperWriter struct{ w io.Writer }

func (u upperWriter) Write(p []byte) (int, error) {
	return u.w.Write([]byte(strings.ToUpper(string(p))))
}
func (upperWriter) Close() error { return nil }
