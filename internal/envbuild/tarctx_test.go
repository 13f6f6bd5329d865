package envbuild

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
)

type tarEntry struct {
	hdr  *tar.Header
	data []byte
}

// readTar lists a tar's entries by name.
func readTar(t *testing.T, r io.Reader) map[string]tarEntry {
	t.Helper()
	out := map[string]tarEntry{}
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := out[hdr.Name]; dup {
			t.Errorf("tar entry %s twice", hdr.Name)
		}
		out[hdr.Name] = tarEntry{hdr, data}
	}
}

// specTar writes the tar of s as the build does, and the inputs it
// hashed while writing.
func specTar(t *testing.T, s *Spec) (*bytes.Buffer, *Inputs) {
	t.Helper()
	df, err := s.DockerfileBytes()
	if err != nil {
		t.Fatal(err)
	}
	dfRel, err := s.dockerfileRel()
	if err != nil {
		t.Fatal(err)
	}
	ignore, has, err := readDockerignore(s.Context)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	in, err := writeContextTar(context.Background(), &buf, s.Context, df, dfRel, ignore, has, time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	return &buf, in
}

// The tar holds exactly the entries ContextFiles lists, with their modes,
// targets and bytes, owned by root, plus the excluded Dockerfile and
// .dockerignore the engine removes; what it hashed while writing is what
// the reuse walk hashes.
func TestContextTarIsTheHashedEntries(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"Dockerfile":    "FROM scratch\nCOPY . /ctx\n",
		".dockerignore": "*.log\n**/__pycache__\nbuild\n!build/keep\nDockerfile\n.dockerignore\n",
		"src/pkg/a.py":  "a", "src/pkg/__pycache__/a.pyc": "x", "src/b.log": "l",
		"build/keep": "k", "build/drop": "d", "bin/run": "#!/bin/sh\n", "big": strings.Repeat("x", 200<<10),
	})
	os.Chmod(filepath.Join(dir, "bin/run"), fs.ModeSetuid|0o750)
	os.Symlink("../src/pkg/a.py", filepath.Join(dir, "bin/link"))
	os.Mkdir(filepath.Join(dir, "empty"), 0o700)
	s := hashSpec(dir, nil)
	buf, sent := specTar(t, s)
	entries := readTar(t, buf)

	ignore, _ := os.ReadFile(filepath.Join(dir, ".dockerignore"))
	files, err := ContextFiles(dir, ignore)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(sent.Files, files) {
		t.Errorf("the tar's walk hashed\n%+v\nthe reuse walk\n%+v", sent.Files, files)
	}
	in, err := s.Inputs(context.Background(), fakeEngine{}, "")
	if err != nil {
		t.Fatal(err)
	}
	if sent.Hash() != in.Hash() || sent.DockerfilePath != "Dockerfile" {
		t.Errorf("tar inputs hash %s (dockerfile %q), reuse walk %s", sent.Hash(), sent.DockerfilePath, in.Hash())
	}
	want := []string{"Dockerfile", ".dockerignore"} // excluded: sent, removed by the engine
	for _, f := range files {
		name := f.Path
		if f.Mode.IsDir() {
			name += "/"
		}
		want = append(want, name)
	}
	var got []string
	for name := range entries {
		got = append(got, name)
	}
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Fatalf("tar entries %q, want %q", got, want)
	}
	for _, f := range files {
		name := f.Path
		if f.Mode.IsDir() {
			name += "/"
		}
		e := entries[name]
		h := e.hdr
		if h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" || h.ModTime.Nanosecond() != 0 {
			t.Errorf("%s: owner %d:%d %q:%q, mtime %v", name, h.Uid, h.Gid, h.Uname, h.Gname, h.ModTime)
		}
		if fs.FileMode(h.Mode).Perm() != f.Mode.Perm() || h.Linkname != f.Target {
			t.Errorf("%s: mode %o target %q, hashed %v %q", name, h.Mode, h.Linkname, f.Mode, f.Target)
		}
		if f.Mode.IsRegular() {
			sum := sha256.Sum256(e.data)
			if hex.EncodeToString(sum[:]) != f.SHA256 || h.Typeflag != tar.TypeReg {
				t.Errorf("%s: the bytes sent are not the bytes hashed", name)
			}
		}
	}
	if entries["bin/run"].hdr.Mode != 0o4750 {
		t.Errorf("setuid bit lost: %o", entries["bin/run"].hdr.Mode)
	}
	if string(entries[".dockerignore"].data) != string(ignore) {
		t.Errorf(".dockerignore sent as %q", entries[".dockerignore"].data)
	}
}

// A Dockerfile from outside the context (the requirements strategy's)
// goes in at perfbench's fixed name, which the .dockerignore sent lists
// (so the engine removes it), numbered when the context has that name.
func TestContextTarOutsideDockerfile(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"req.txt": "x\n", ".perfbench-dockerfile": "mine"})
	s := &Spec{TaskID: "t", Strategy: StrategyRequirements, Requirements: filepath.Join(dir, "req.txt"), Context: dir, BaseImage: "base:1"}
	buf, sent := specTar(t, s)
	entries := readTar(t, buf)
	name := dockerfileTarName + "-1"
	df, _ := s.DockerfileBytes()
	if sent.DockerfilePath != name || string(entries[name].data) != string(df) || string(entries[dockerfileTarName].data) != "mine" {
		t.Errorf("dockerfile at %q: %q", sent.DockerfilePath, entries[name].data)
	}
	if got := string(entries[".dockerignore"].data); got != ".dockerignore\n"+name+"\n" {
		t.Errorf(".dockerignore sent as %q", got)
	}
	in, err := s.Inputs(context.Background(), fakeEngine{"base:1": "sha256:b"}, "")
	if err != nil {
		t.Fatal(err)
	}
	sent.Bases = in.Bases
	if sent.Hash() != in.Hash() {
		t.Error("the tar's hash is not the reuse walk's")
	}
	// A .dockerignore of the context's own gets the name appended.
	writeFiles(t, dir, map[string]string{".dockerignore": "*.log"})
	buf, _ = specTar(t, s)
	if got := string(readTar(t, buf)[".dockerignore"].data); got != "*.log\n"+name+"\n" {
		t.Errorf(".dockerignore sent as %q", got)
	}
}

// An excluded Dockerfile in a directory makes the engine create that
// directory (empty) in the context: its path is in the hash.
func TestDockerfilePathInHash(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{".dockerignore": "docker\nother\n", "docker/Dockerfile": "FROM scratch\n", "other/Dockerfile": "FROM scratch\n"})
	hash := func(df string) string {
		s := hashSpec(dir, nil)
		s.Dockerfile = filepath.Join(dir, df)
		in, err := s.Inputs(context.Background(), fakeEngine{}, "")
		if err != nil {
			t.Fatal(err)
		}
		if in.DockerfilePath != df {
			t.Errorf("DockerfilePath %q, want %q", in.DockerfilePath, df)
		}
		return in.Hash()
	}
	if hash("docker/Dockerfile") == hash("other/Dockerfile") {
		t.Error("the same hash for the Dockerfile in docker/ and in other/")
	}
	// --print says so when the path is hashed, and only then.
	summary := func(df string) string {
		s := hashSpec(dir, nil)
		s.Dockerfile = filepath.Join(dir, df)
		in, err := s.Inputs(context.Background(), fakeEngine{}, "")
		if err != nil {
			t.Fatal(err)
		}
		return in.Summary()
	}
	if got := summary("docker/Dockerfile"); !strings.Contains(got, "\ndockerfile path: docker/Dockerfile (hashed") {
		t.Errorf("summary without the hashed path:\n%s", got)
	}
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\n"})
	if got := summary("Dockerfile"); strings.Contains(got, "dockerfile path") {
		t.Errorf("summary with a path that is not hashed:\n%s", got)
	}
}

// A device file's numbers are not hashed: the context is refused.
func TestContextRefusesDevices(t *testing.T) {
	if _, err := os.Stat("/dev/null"); err != nil {
		t.Skip(err)
	}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\n"})
	if err := os.Symlink("/dev/null", filepath.Join(dir, "null")); err != nil {
		t.Fatal(err)
	}
	// A link to a device is a link, fine; a device node needs mknod.
	if _, err := ContextFiles(dir, nil); err != nil {
		t.Errorf("a symlink to a device refused: %v", err)
	}
	if os.Geteuid() != 0 {
		t.Skip("mknod needs root")
	}
	if out, err := exec.Command("mknod", filepath.Join(dir, "dev"), "c", "1", "3").CombinedOutput(); err != nil {
		t.Skipf("mknod: %v %s", err, out)
	}
	if _, err := ContextFiles(dir, nil); err == nil || !strings.Contains(err.Error(), "device file") {
		t.Errorf("a device node: %v", err)
	}
}

// A file changed after the reuse walk hashed it but before the build's
// tar is written: the build fails before the engine runs, and no image
// is tagged with either hash.
func TestBuildContextChangedBeforeTar(t *testing.T) {
	evaltest.RequireEngine(t)
	ctx := context.Background()
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY nonce /nonce\n", "nonce": nonce(t)})
	s := hashSpec(dir, nil)
	o := options(t, root)
	before, err := s.Hash(ctx, o.Engine, "")
	if err != nil {
		t.Fatal(err)
	}
	orig := beforeContextTar
	beforeContextTar = func() { writeFiles(t, dir, map[string]string{"nonce": "changed " + nonce(t)}) }
	t.Cleanup(func() { beforeContextTar = orig })
	calls := countBuilds(t)
	_, err = Build(ctx, s, o)
	if err == nil || !strings.Contains(err.Error(), "the build context changed while") || !strings.Contains(err.Error(), "run bench build again") {
		t.Fatalf("err = %v, want the context-changed error", err)
	}
	after, err := s.Hash(ctx, o.Engine, "")
	if err != nil {
		t.Fatal(err)
	}
	removeImages(t, Tag(s.TaskID, before), Tag(s.TaskID, after))
	if calls.Load() != 0 {
		t.Errorf("the engine built (%d calls)", calls.Load())
	}
	for _, h := range []string{before, after} {
		if _, err := o.Engine.InspectImage(ctx, Tag(s.TaskID, h)); !errors.Is(err, container.ErrNoImage) {
			t.Errorf("%s is tagged: %v", Tag(s.TaskID, h), err)
		}
	}
}

// A file changed right after its bytes went into the tar: the engine
// builds from the tar, so the image holds the old bytes and carries the
// hash of the old bytes; the new content is another, unbuilt, hash.
func TestBuildContextChangedAfterTar(t *testing.T) {
	base := evaltest.RequireImage(t)
	ctx := context.Background()
	dir, root := t.TempDir(), t.TempDir()
	old := nonce(t)
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM " + base + "\nCOPY nonce /nonce\n", "nonce": old})
	s := hashSpec(dir, nil)
	o := options(t, root)
	before, err := s.Hash(ctx, o.Engine, "")
	if err != nil {
		t.Fatal(err)
	}
	orig := tarFileWritten
	tarFileWritten = func(rel string) {
		if rel == "nonce" {
			writeFiles(t, dir, map[string]string{"nonce": "changed " + nonce(t)})
		}
	}
	t.Cleanup(func() { tarFileWritten = orig })
	b, err := Build(ctx, s, o)
	if err != nil {
		t.Fatal(err)
	}
	removeImages(t, b.Image.Tag)
	if b.Image.Hash != before || b.Image.Tag != Tag(s.TaskID, before) || labels(t, b.Image.Tag)[LabelHash] != before {
		t.Errorf("image %+v, want the hash %s of the bytes sent", b.Image, before)
	}
	out, err := exec.Command("docker", "run", "--rm", "--network", "none", b.Image.Tag, "cat", "/nonce").CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v %s", err, out)
	}
	if string(out) != old {
		t.Errorf("/nonce = %q, want the bytes hashed %q", out, old)
	}
	cur, err := Current(ctx, s, o.Engine, "")
	if err != nil || cur.Hash == before || cur.ID != "" {
		t.Errorf("the changed context: %+v, %v", cur, err)
	}
}

// writeBenchContext makes a context of n files in nested directories,
// most small, every 50th 64 KiB.
func writeBenchContext(b *testing.B, n int) string {
	dir := b.TempDir()
	small := bytes.Repeat([]byte("print('hello')\n"), 100)
	big := bytes.Repeat([]byte{'x'}, 64<<10)
	for i := range n {
		p := filepath.Join(dir, fmt.Sprintf("pkg%02d/sub%d/file%04d.py", i%20, i%5, i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			b.Fatal(err)
		}
		data := small
		if i%50 == 0 {
			data = big
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM scratch\nCOPY . /ctx\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".dockerignore"), []byte("*.log\n"), 0o644)
	return dir
}

// BenchmarkContextHash is the reuse walk alone (the only walk before the
// tar); BenchmarkContextTar the build's walk, which hashes while it writes
// the tar to its temporary file. Their ratio is what the build pays for
// sending exactly what it hashed, on ~2,000 files.
func BenchmarkContextHash(b *testing.B) {
	dir := writeBenchContext(b, 2000)
	ignore, _ := os.ReadFile(filepath.Join(dir, ".dockerignore"))
	b.ResetTimer()
	for b.Loop() {
		if _, err := ContextFiles(dir, ignore); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkContextTar(b *testing.B) {
	dir := writeBenchContext(b, 2000)
	df, _ := os.ReadFile(filepath.Join(dir, "Dockerfile"))
	b.ResetTimer()
	for b.Loop() {
		f, _, err := contextTar(context.Background(), dir, df, "Dockerfile", time.Now())
		if err != nil {
			b.Fatal(err)
		}
		removeTemp(f)
	}
}

// imageFiles lists an image's files (path → content, a link's target)
// by exporting a container created from it: FROM scratch images run
// nothing.
func imageFiles(t *testing.T, ref string) map[string]string {
	t.Helper()
	id, err := exec.Command("docker", "create", ref, "none").Output()
	if err != nil {
		t.Fatalf("docker create %s: %v", ref, err)
	}
	cid := strings.TrimSpace(string(id))
	defer exec.Command("docker", "rm", "-f", cid).Run()
	out, err := exec.Command("docker", "export", cid).Output()
	if err != nil {
		t.Fatalf("docker export: %v", err)
	}
	files := map[string]string{}
	for name, e := range readTar(t, bytes.NewReader(out)) {
		if e.hdr.Typeflag == tar.TypeSymlink {
			files[name] = "-> " + e.hdr.Linkname
		} else {
			files[name] = string(e.data)
		}
	}
	return files
}

// A context whose first tar entry needs a PAX header (a non-ASCII name,
// a name over 100 bytes, a link target over 100 bytes) builds: the
// docker client sniffs stdin for a tar in its first 512 bytes, and took
// such a tar for a Dockerfile ("ambiguous Dockerfile source") until the
// tar went in gzip.
func TestBuildContextPAXFirstEntry(t *testing.T) {
	evaltest.RequireEngine(t)
	long := strings.Repeat("a", 101)
	for _, tc := range []struct{ name, entry string }{
		{"non-ascii", "café.txt"},
		{"long-name", long},
		{"long-link", "link"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			dir := t.TempDir()
			content := nonce(t)
			writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY . /ctx\n"})
			want := content
			if tc.entry == "link" {
				want = "-> " + long + "/" + content[:20]
				if err := os.Symlink(strings.TrimPrefix(want, "-> "), filepath.Join(dir, "link")); err != nil {
					t.Fatal(err)
				}
			} else {
				writeFiles(t, dir, map[string]string{tc.entry: content})
			}
			s := hashSpec(dir, nil)
			// The entry is the tar's first (the Dockerfile goes last), so
			// the test is of the case the client's sniffing failed.
			df, _ := s.DockerfileBytes()
			f, _, err := contextTar(ctx, dir, df, "Dockerfile", time.Now())
			if err != nil {
				t.Fatal(err)
			}
			defer removeTemp(f)
			gz, err := gzip.NewReader(f)
			if err != nil {
				t.Fatalf("the context is not gzip: %v", err)
			}
			hdr, err := tar.NewReader(gz).Next()
			if err != nil || hdr.Name != tc.entry {
				t.Fatalf("first entry %v, %v; want %s", hdr, err, tc.entry)
			}
			b, err := Build(ctx, s, options(t, t.TempDir()))
			if err != nil {
				t.Fatal(err)
			}
			removeImages(t, b.Image.Tag)
			if got := imageFiles(t, b.Image.Tag)["ctx/"+tc.entry]; got != want {
				t.Errorf("/ctx/%s in the image: %q, want %q", tc.entry, got, want)
			}
		})
	}
}
