package envbuild

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/evaluate/evaltest"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
)

// countBuilds counts the engine build calls for the rest of the test.
func countBuilds(t *testing.T) *atomic.Int32 {
	var n atomic.Int32
	orig := runBuild
	runBuild = func(ctx context.Context, eng *container.Engine, r *buildRequest, out io.Writer) (int, error) {
		n.Add(1)
		return orig(ctx, eng, r, out)
	}
	t.Cleanup(func() { runBuild = orig })
	return &n
}

// nonce makes a test's build context, and so its tag, its own: the hash
// does not depend on where the context is.
func nonce(t *testing.T) string { return t.Name() + " " + randHex() + "\n" }

func randHex() string {
	b := make([]byte, 8)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// removeImages removes the tags at the end of the test.
func removeImages(t *testing.T, tags ...string) {
	t.Cleanup(func() {
		for _, tag := range tags {
			exec.Command("docker", "rmi", tag).Run()
		}
	})
}

func options(t *testing.T, root string) BuildOptions {
	return BuildOptions{Engine: evaltest.Engine(), StateRoot: root, Progress: io.Discard,
		Now: func() time.Time { return time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC) }}
}

func labels(t *testing.T, ref string) map[string]string {
	t.Helper()
	out, err := exec.Command("docker", "image", "inspect", "--format", "{{json .Config.Labels}}", ref).Output()
	if err != nil {
		t.Fatalf("inspect %s: %v", ref, err)
	}
	var m map[string]string
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func TestBuildReusesAndLogs(t *testing.T) {
	evaltest.RequireEngine(t)
	ctx := context.Background()
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY nonce /nonce\n", "nonce": nonce(t)})
	s := hashSpec(dir, map[string]string{"UNUSED": "1"})
	s.TaskID = "Tiny.Task"
	calls := countBuilds(t)
	o := options(t, root)
	removeRootImages(t, root) // the --no-cache build below leaves the earlier one untagged
	b, err := Build(ctx, s, o)
	if err != nil {
		t.Fatal(err)
	}
	removeImages(t, b.Image.Tag)
	if b.Reused || !strings.HasPrefix(b.Image.Tag, "perfbench-env/tiny.task:") || !strings.HasPrefix(b.Image.ID, "sha256:") || calls.Load() != 1 {
		t.Fatalf("first build = %+v, %d build calls", b, calls.Load())
	}
	hash, err := s.Hash(ctx, o.Engine, "")
	if err != nil || b.Image.Hash != hash || b.Image.Tag != Tag("Tiny.Task", hash) {
		t.Errorf("image %+v, hash %s, %v", b.Image, hash, err)
	}
	want := map[string]string{LabelKind: KindEnv, LabelTask: "Tiny.Task", LabelHash: hash, LabelStateRoot: root}
	got := labels(t, b.Image.Tag)
	for k, v := range want {
		if got[k] != v {
			t.Errorf("label %s = %q, want %q", k, got[k], v)
		}
	}
	b2, err := Build(ctx, s, o)
	if err != nil {
		t.Fatal(err)
	}
	if !b2.Reused || b2.Image != b.Image || calls.Load() != 1 {
		t.Errorf("second build = %+v, %d build calls: not reused", b2, calls.Load())
	}
	cur, err := Current(ctx, s, o.Engine, "")
	if err != nil || cur != b.Image {
		t.Errorf("Current = %+v, %v", cur, err)
	}
	l, err := ReadImageLog(root)
	if err != nil {
		t.Fatal(err)
	}
	if l.SchemaVersion != ImagesSchemaVersion || len(l.Entries) != 2 || l.Entries[0].Action != "built" || l.Entries[1].Action != "reused" ||
		l.Entries[0].Tag != b.Image.Tag || l.Entries[0].ID != b.Image.ID || l.Entries[0].Hash != hash || l.Entries[0].Task != "Tiny.Task" || l.Entries[0].Kind != KindEnv {
		t.Errorf("images.json = %+v", l)
	}
	// The engine is the source of truth: an image removed behind
	// perfbench's back is built again, whatever images.json says.
	if out, err := exec.Command("docker", "rmi", b.Image.Tag).CombinedOutput(); err != nil {
		t.Fatalf("rmi: %v %s", err, out)
	}
	if cur, err := Current(ctx, s, o.Engine, ""); err != nil || cur.ID != "" || cur.Tag != b.Image.Tag {
		t.Errorf("Current after rmi = %+v, %v", cur, err)
	}
	b3, err := Build(ctx, s, o)
	if err != nil || b3.Reused || calls.Load() != 2 {
		t.Errorf("build after rmi = %+v, %v, %d calls", b3, err, calls.Load())
	}
	// --no-cache builds even when the tag is there.
	o.NoCache = true
	if b4, err := Build(ctx, s, o); err != nil || b4.Reused || calls.Load() != 3 {
		t.Errorf("no-cache build = %+v, %v, %d calls", b4, err, calls.Load())
	}
}

func TestBuildConcurrentBuildsOnce(t *testing.T) {
	evaltest.RequireEngine(t)
	ctx := context.Background()
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY nonce /nonce\n", "nonce": nonce(t)})
	s := hashSpec(dir, nil)
	calls := countBuilds(t)
	var wg sync.WaitGroup
	results := make([]*Built, 4)
	errs := make([]error, 4)
	for i := range results {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i], errs[i] = Build(ctx, s, options(t, root))
		}()
	}
	wg.Wait()
	reused := 0
	for i, b := range results {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		removeImages(t, b.Image.Tag)
		if b.Image != results[0].Image {
			t.Errorf("builds disagree: %+v vs %+v", b.Image, results[0].Image)
		}
		if b.Reused {
			reused++
		}
	}
	if calls.Load() != 1 || reused != 3 {
		t.Errorf("%d build calls, %d reused; want 1 and 3", calls.Load(), reused)
	}
}

func TestBuildNeverPullsAMissingBase(t *testing.T) {
	evaltest.RequireEngine(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch AS a\nFROM perfbench-test/no-such-base:never\nCOPY --from=a / /\n"})
	calls := countBuilds(t)
	_, err := Build(context.Background(), hashSpec(dir, nil), options(t, t.TempDir()))
	if !errors.Is(err, container.ErrNoImage) || !strings.Contains(err.Error(), "perfbench-test/no-such-base:never") || calls.Load() != 0 {
		t.Errorf("missing base: %v (%d build calls)", err, calls.Load())
	}
}

func TestBuildFailureNamesTheStep(t *testing.T) {
	evaltest.RequireEngine(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY nonce /nonce\nCOPY not-there /x\n", "nonce": nonce(t)})
	var out strings.Builder
	o := options(t, t.TempDir())
	o.Progress = &out
	removeStepImages(t, out.String)
	_, err := Build(context.Background(), hashSpec(dir, nil), o)
	var be *BuildError
	if !errors.As(err, &be) {
		t.Fatalf("err = %v, want a BuildError", err)
	}
	// The engine counts the --label step too: Step 3/4.
	if !strings.HasPrefix(be.Step, "Step 3/") || !strings.HasSuffix(be.Step, " : COPY not-there /x") || !strings.Contains(be.Tail, "not-there") || !strings.Contains(be.Report(), be.Step) {
		t.Errorf("step %q, tail %q", be.Step, be.Tail)
	}
	if !strings.Contains(out.String(), " : FROM scratch") {
		t.Errorf("progress not streamed: %q", out.String())
	}
	// The engine's last line says why: in the message itself, which is
	// all that some callers (prepare) show.
	if !strings.Contains(be.Last, "not-there") || !strings.HasSuffix(be.Error(), ": "+be.Last) {
		t.Errorf("message %q, last line %q", be.Error(), be.Last)
	}
}

func TestLastLine(t *testing.T) {
	for in, want := range map[string]string{
		"Step 2/3 : COPY x /x\nCOPY failed: no x\n\n":                           "COPY failed: no x",
		"Step 1/2 : FROM scratch\n ---> \nRemoving intermediate container ab\n": "Step 1/2 : FROM scratch",
		"#5 0.1 10%\r#5 0.2 50%\r#5 ERROR: boom\n":                              "#5 ERROR: boom",
		"error: \x1b[31mred\x1b[0m  text\n":                                     "error: [31mred[0m text",
		"":                                                                      "",
	} {
		if got := lastLine(in); got != want {
			t.Errorf("lastLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestHashedFilesAreWhatCopyPuts builds an image whose Dockerfile copies
// the whole context to /ctx and lists /ctx inside it with busybox find:
// the entries are exactly those the hash covers, with their modes and
// symlink targets. With the Dockerfile excluded in a directory of its own,
// the engine creates that directory, which the hash covers through the
// Dockerfile's path.
func TestHashedFilesAreWhatCopyPuts(t *testing.T) {
	for _, df := range []string{"Dockerfile", "docker/Dockerfile"} {
		t.Run(strings.ReplaceAll(df, "/", "_"), func(t *testing.T) { testHashedFilesAreWhatCopyPuts(t, df) })
	}
}

func testHashedFilesAreWhatCopyPuts(t *testing.T, df string) {
	base, _ := evaltest.Require(t)
	ctx := context.Background()
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{
		df:              "FROM " + base + "\nCOPY . /ctx\n",
		".dockerignore": "*.log\n**/__pycache__\nbuild\n!build/keep\nsecret*\n.git\nDockerfile\ndocker\n",
		"nonce":         nonce(t),
		"src/pkg/a.py":  "a", "src/pkg/__pycache__/a.pyc": "x", "src/b.log": "l", "top.log": "l",
		"build/keep": "k", "build/drop": "d", "secret.txt": "s", ".git/HEAD": "h", "data/with space.txt": "w",
		"bin/run": "#!/bin/sh\n",
	})
	if err := os.Chmod(filepath.Join(dir, "bin/run"), 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("../src/pkg/a.py", filepath.Join(dir, "bin/link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	s := hashSpec(dir, nil)
	s.Dockerfile = filepath.Join(dir, df)
	b, err := Build(ctx, s, options(t, root))
	if err != nil {
		t.Fatal(err)
	}
	removeImages(t, b.Image.Tag)
	out, err := exec.Command("docker", "run", "--rm", "--network", "none", b.Image.Tag, "find", "/ctx", "-mindepth", "1", "-exec", "stat", "-c", "%n|%a|%F|%N", "{}", ";").CombinedOutput()
	if err != nil {
		t.Fatalf("docker run: %v\n%s", err, out)
	}
	type entry struct{ path, mode, target string }
	var inImage []entry
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		parts := strings.SplitN(line, "|", 4)
		if len(parts) != 4 {
			t.Fatalf("stat line %q", line)
		}
		e := entry{path: strings.TrimPrefix(parts[0], "/ctx/"), mode: parts[1]}
		if parts[2] == "symbolic link" {
			_, target, _ := strings.Cut(parts[3], " -> ")
			e.target = strings.Trim(target, "'`\"")
			e.mode = "link"
		}
		inImage = append(inImage, e)
	}
	ignore, _ := os.ReadFile(filepath.Join(dir, ".dockerignore"))
	files, err := ContextFiles(dir, ignore)
	if err != nil {
		t.Fatal(err)
	}
	var hashed []entry
	for _, f := range files {
		e := entry{path: f.Path, mode: strings.TrimPrefix(strconvOctal(uint32(f.Mode.Perm())), "0")}
		if f.Target != "" {
			e.mode, e.target = "link", f.Target
		}
		hashed = append(hashed, e)
	}
	// A directory the walk only descended into (excluded, with an
	// exception inside) is not sent: the engine creates it, 0755; so it
	// does the directories of the (excluded) Dockerfile's path.
	for _, f := range append(files, ContextFile{Path: df}) {
		for p := filepath.Dir(f.Path); p != "."; p = filepath.Dir(p) {
			if !slices.ContainsFunc(hashed, func(e entry) bool { return e.path == p }) {
				hashed = append(hashed, entry{path: p, mode: "755"})
			}
		}
	}
	sortEntries := func(es []entry) {
		slices.SortFunc(es, func(a, b entry) int { return strings.Compare(a.path, b.path) })
	}
	sortEntries(inImage)
	sortEntries(hashed)
	if !slices.Equal(inImage, hashed) {
		t.Errorf("COPY . /ctx put\n%v\nthe hash covers\n%v", inImage, hashed)
	}
	if len(hashed) < 8 {
		t.Errorf("too few entries to mean anything: %v", hashed)
	}
}

func strconvOctal(m uint32) string {
	const digits = "01234567"
	if m == 0 {
		return "0"
	}
	var b []byte
	for m > 0 {
		b = append([]byte{digits[m&7]}, b...)
		m >>= 3
	}
	return string(b)
}

// TestBuildRequirementsStrategy builds the generated Dockerfile on a base
// whose python3 is a stand-in that records how pip was called.
func TestBuildRequirementsStrategy(t *testing.T) {
	bb, _ := evaltest.Require(t)
	ctx := context.Background()
	baseDir, dir, root := t.TempDir(), t.TempDir(), t.TempDir()
	baseTag := "perfbench-test/envbuild-python:" + randHex()
	writeFiles(t, baseDir, map[string]string{
		"Dockerfile": "FROM " + bb + "\nCOPY python3 /bin/python3\n",
		"python3":    "#!/bin/sh\necho \"$@\" > /pip-args\necho \"no_index=$PIP_NO_INDEX\" >> /pip-args\ncat /perfbench/requirements.txt >> /pip-args\n",
	})
	os.Chmod(filepath.Join(baseDir, "python3"), 0o755)
	if out, err := exec.Command("docker", "build", "-q", "-t", baseTag, baseDir).CombinedOutput(); err != nil {
		t.Fatalf("base: %v %s", err, out)
	}
	removeImages(t, baseTag)
	writeFiles(t, dir, map[string]string{"env/requirements.txt": "# nothing\n" + nonce(t)})
	task := loadTask(t, dir, "  allowed_strategies: [requirements]\n  params: {requirements_file: env/requirements.txt}\n  base_image: "+baseTag+"\n  args: {PIP_NO_INDEX: '1'}\n")
	s, err := FromTask(task)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Build(ctx, s, options(t, root))
	if err != nil {
		var be *BuildError
		if errors.As(err, &be) {
			t.Fatalf("%v\n%s", err, be.Report())
		}
		t.Fatal(err)
	}
	removeImages(t, b.Image.Tag)
	out, err := exec.Command("docker", "run", "--rm", "--network", "none", b.Image.Tag, "cat", "/pip-args").CombinedOutput()
	if err != nil {
		t.Fatalf("run: %v %s", err, out)
	}
	want := "-m pip install --no-cache-dir --disable-pip-version-check -r /perfbench/requirements.txt\nno_index=1\n# nothing\n"
	if !strings.HasPrefix(string(out), want) {
		t.Errorf("pip called as\n%s\nwant\n%s", out, want)
	}
	// The base is in the hash: rebuilding it gives a new image.
	h1 := b.Image.Hash
	writeFiles(t, baseDir, map[string]string{"extra": "x"})
	os.WriteFile(filepath.Join(baseDir, "Dockerfile"), []byte("FROM "+bb+"\nCOPY python3 /bin/python3\nCOPY extra /extra\n"), 0o644)
	if out, err := exec.Command("docker", "build", "-q", "-t", baseTag, baseDir).CombinedOutput(); err != nil {
		t.Fatalf("base: %v %s", err, out)
	}
	cur, err := Current(ctx, s, evaltest.Engine(), "")
	if err != nil || cur.Hash == h1 || cur.ID != "" {
		t.Errorf("after rebuilding the base: %+v, %v", cur, err)
	}
}

func TestBuildAgent(t *testing.T) {
	evaltest.RequireEngine(t)
	r := Recipe{Agent: "stand-in", Version: "1.0", Prefix: "/opt/perfbench/stand-in", Lines: []string{"COPY bin/agent /opt/perfbench/stand-in/bin/agent"},
		Files: map[string]File{"bin/agent": {Data: []byte("#!/bin/sh\necho agent\n" + nonce(t)), Mode: 0o755}}}
	if len(AgentDockerfile("sha256:x", r)) == 0 {
		t.Fatal("AgentDockerfile gives nothing")
	}
	ctx := context.Background()
	root := t.TempDir()
	env := nonceEnv(t, root)
	calls := countBuilds(t)
	a, err := BuildAgent(ctx, env.Image, r, options(t, root))
	if err != nil {
		t.Fatal(err)
	}
	removeImages(t, a.Image.Tag)
	if !strings.HasPrefix(a.Image.Tag, "perfbench-agent/stand-in:") || a.Reused || calls.Load() != 1 {
		t.Errorf("agent image %+v, %d calls", a, calls.Load())
	}
	got := labels(t, a.Image.Tag)
	if got[LabelKind] != KindAgent || got[LabelAgent] != "stand-in" || got[LabelAgentVersion] != "1.0" || got[LabelStateRoot] != root || got[LabelHash] != a.Image.Hash {
		t.Errorf("labels %v", got)
	}
	a2, err := BuildAgent(ctx, env.Image, r, options(t, root))
	if err != nil || !a2.Reused || a2.Image != a.Image || calls.Load() != 1 {
		t.Errorf("second agent build %+v, %v, %d calls", a2, err, calls.Load())
	}
	_, err = BuildAgent(ctx, records.EnvImage{ID: "sha256:" + strings.Repeat("0", 64), Tag: "perfbench-env/gone:1"}, r, options(t, root))
	if !errors.Is(err, container.ErrNoImage) {
		t.Errorf("missing environment image: %v", err)
	}
}

// Two state roots building the same content: the second builds its own
// image (labelled for it) rather than reuse the first's, so the first
// root's prune, which sees only its own runs, cannot remove an image the
// second root's run pins.
func TestBuildPerStateRoot(t *testing.T) {
	evaltest.RequireEngine(t)
	ctx := context.Background()
	dir, rootA, rootB := t.TempDir(), t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY nonce /nonce\n", "nonce": nonce(t)})
	s := hashSpec(dir, nil)
	a, err := Build(ctx, s, options(t, rootA))
	if err != nil {
		t.Fatal(err)
	}
	removeImages(t, a.Image.Tag, a.Image.ID)
	b, err := Build(ctx, s, options(t, rootB))
	if err != nil {
		t.Fatal(err)
	}
	removeImages(t, b.Image.ID)
	if b.Reused || b.Image.ID == a.Image.ID || b.Image.Tag != a.Image.Tag {
		t.Fatalf("B reused A's image: A %+v, B %+v", a, b)
	}
	runDir := filepath.Join(journal.RunsDir(rootB), "rB")
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		t.Fatal(err)
	}
	img := b.Image
	if err := journal.WriteRun(runDir, &records.Run{RunID: "rB", EnvImage: &img}); err != nil {
		t.Fatal(err)
	}
	if _, err := PruneImages(ctx, options(t, rootA).Engine, rootA); err != nil {
		t.Fatal(err)
	}
	if _, err := options(t, rootB).Engine.InspectImage(ctx, b.Image.ID); err != nil {
		t.Errorf("A's prune removed the image B's run pins: %v", err)
	}
	// B again: its own image is reused.
	again, err := Build(ctx, s, options(t, rootB))
	if err != nil || !again.Reused || again.Image.ID != b.Image.ID {
		t.Errorf("B's second build: %+v %v", again, err)
	}
}

// An agent recipe naming an image not on the engine (COPY --from=) is the
// never-pull error naming it, before any engine build.
func TestBuildAgentNeverPulls(t *testing.T) {
	evaltest.RequireEngine(t)
	ctx := context.Background()
	root := t.TempDir()
	env := nonceEnv(t, root)
	calls := countBuilds(t)
	_, err := BuildAgent(ctx, env.Image, Recipe{Agent: "x", Version: "1", Lines: []string{"COPY --from=perfbench-test/no-such-agent-base:never /x /x"}}, options(t, root))
	if !errors.Is(err, container.ErrNoImage) || !strings.Contains(err.Error(), "perfbench-test/no-such-agent-base:never") {
		t.Errorf("err = %v, want the never-pull error naming the image", err)
	}
	if calls.Load() != 0 {
		t.Errorf("the engine build ran (%d calls)", calls.Load())
	}
}

// A context file changed while the engine builds from the context
// directory (podman's build, run here on docker): the image would carry
// either side of the change under the old hash's tag, so it is removed and
// the build fails saying so. (The docker engine's build from the tar is
// TestBuildContextChangedAfterTar.)
func TestBuildContextChangedDuringDirectoryBuild(t *testing.T) {
	base, _ := evaltest.Require(t)
	orig := directoryBuild
	directoryBuild = func(context.Context, *container.Engine) bool { return true }
	t.Cleanup(func() { directoryBuild = orig })
	ctx := context.Background()
	dir, root := t.TempDir(), t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM " + base + "\nCOPY nonce /nonce\nRUN sleep 4\n", "nonce": nonce(t)})
	s := hashSpec(dir, nil)
	in, err := s.Inputs(ctx, options(t, root).Engine, "")
	if err != nil {
		t.Fatal(err)
	}
	tag := Tag(s.TaskID, in.Hash())
	removeImages(t, tag)
	done := make(chan struct{})
	go func() {
		defer close(done)
		time.Sleep(1500 * time.Millisecond) // the engine has read the context, RUN sleeps
		_ = os.WriteFile(filepath.Join(dir, "nonce"), []byte("changed "+nonce(t)), 0o644)
	}()
	_, err = Build(ctx, s, options(t, root))
	<-done
	if err == nil || !strings.Contains(err.Error(), "the build context changed while") {
		t.Fatalf("err = %v, want the context-changed error", err)
	}
	if _, ierr := options(t, root).Engine.InspectImage(ctx, tag); !errors.Is(ierr, container.ErrNoImage) {
		t.Errorf("the image of the old hash is still tagged: %v", ierr)
	}
}

// nonceEnv builds an environment image of its own (FROM scratch, a nonce)
// in state root root, removed at the end of the test.
func nonceEnv(t *testing.T, root string) *Built {
	t.Helper()
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"Dockerfile": "FROM scratch\nCOPY nonce /nonce\n", "nonce": nonce(t)})
	env, err := Build(context.Background(), hashSpec(dir, nil), options(t, root))
	if err != nil {
		t.Fatal(err)
	}
	removeImages(t, env.Image.Tag)
	return env
}
