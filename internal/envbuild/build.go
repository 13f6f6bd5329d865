package envbuild

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/fsx"
	"github.com/perfbench/perfbench/internal/proc"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// Kinds of image (LabelKind).
const (
	KindEnv   = "env"
	KindAgent = "agent"
)

// BuildError is a failed engine build: the step that failed (the legacy
// builder's "Step N/M : ..." line, "" when unknown) and the last lines of
// the output.
type BuildError struct {
	Tag      string
	ExitCode int
	Step     string
	// Failure is the condensed report of the failing step when the
	// output went through a Condenser, else "".
	Failure string
	Tail    string
	// Last is the engine's last line of output, which says why (the
	// exit status alone does not): in the error's message, so every
	// caller's report has it, not only bench build's.
	Last string
	Err  error
}

func (e *BuildError) Error() string {
	msg := "build of " + e.Tag + " failed"
	if e.Step != "" {
		msg += " at " + textx.Brief(e.Step, 200)
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.Last != "" {
		msg += ": " + e.Last
	}
	return msg
}

// lastLine is the last line of an engine's output that says something:
// not blank, not the legacy builder's " ---> ID" or "Removing
// intermediate container" lines, on one line, without terminal control.
func lastLine(out string) string {
	lines := strings.Split(out, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		// A progress line rewritten with \r: its last state.
		l := lines[i]
		if j := strings.LastIndexByte(strings.TrimRight(l, "\r"), '\r'); j >= 0 {
			l = l[j+1:]
		}
		l = textx.OneLine(textx.StripControl(l))
		if l == "" || l == "--->" || strings.HasPrefix(l, "---> ") || strings.HasPrefix(l, "Removing intermediate container") {
			continue
		}
		return textx.Truncate(l, 300)
	}
	return ""
}

func (e *BuildError) Unwrap() error { return e.Err }

// Report is what a user needs to see of the failure: the condensed
// failure when there is one, else the failing step and the last lines.
func (e *BuildError) Report() string {
	if e.Failure != "" {
		return e.Failure
	}
	var b strings.Builder
	if e.Step != "" {
		b.WriteString(e.Step)
		b.WriteString("\n")
	}
	b.WriteString(e.Tail)
	return strings.TrimRight(b.String(), "\n")
}

// buildRequest is one engine build.
type buildRequest struct {
	// Dockerfile is the -f path: the Dockerfile's path inside the tar
	// when the context comes on stdin.
	Dockerfile string
	// Context is the context directory, or "-" for the tar in Stdin.
	Context  string
	Stdin    *os.File
	Tag      string
	Labels   map[string]string
	Args     map[string]string
	Platform string
	NoCache  bool
	// Prepare, when set, runs under the hash's lock once a build is
	// needed (the tar is written only then); done undoes it.
	Prepare func(context.Context, *buildRequest) (done func(), err error)
	// Rehash, when set, computes the hash again after the build: the
	// engine read the context directory after the hash was taken, and a
	// context changed in between would be tagged under the old hash.
	Rehash func(context.Context) (string, error)
}

// argv is the engine command of the build. Never --pull: the bases were
// checked to be present, and the legacy builder pulls only missing ones;
// podman is told never to (its default pulls a missing one).
func (r *buildRequest) argv(bin string) []string {
	a := []string{bin, "build", "--force-rm", "-f", r.Dockerfile, "-t", r.Tag}
	if strings.Contains(filepath.Base(bin), "podman") {
		a = append(a, "--pull=never")
	}
	keys := make([]string, 0, len(r.Labels))
	for k := range r.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a = append(a, "--label", k+"="+r.Labels[k])
	}
	if r.NoCache {
		a = append(a, "--no-cache")
	}
	if r.Platform != "" {
		a = append(a, "--platform", r.Platform)
	}
	keys = keys[:0]
	for k := range r.Args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		a = append(a, "--build-arg", k+"="+r.Args[k])
	}
	return append(a, r.Context)
}

// runBuild runs the engine's build; a variable so tests count the calls.
var runBuild = func(ctx context.Context, eng *container.Engine, r *buildRequest, out io.Writer) (int, error) {
	env := eng.Env
	if env == nil {
		env = os.Environ()
	}
	spec := proc.Spec{Argv: r.argv(eng.Bin), Env: env, Stdout: out, Stderr: out, Grace: 10 * time.Second}
	if r.Stdin != nil {
		spec.Stdin = r.Stdin
	}
	res, err := proc.Run(ctx, spec)
	if err != nil {
		return -1, err
	}
	if res.Stopped {
		return res.ExitCode, fmt.Errorf("stopped: %w", res.Cause)
	}
	if res.ExitCode != 0 {
		return res.ExitCode, fmt.Errorf("%s build exited with status %d", eng.Bin, res.ExitCode)
	}
	return 0, nil
}

// stepWriter remembers the last "Step N/M : ..." line of the legacy
// builder's output (and BuildKit's "#N [..]" lines).
type stepWriter struct {
	partial []byte
	step    string
}

func (w *stepWriter) Write(p []byte) (int, error) {
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		line := strings.TrimSpace(string(w.partial[:i]))
		w.partial = w.partial[i+1:]
		if strings.HasPrefix(line, "Step ") || strings.HasPrefix(line, "STEP ") {
			w.step = line
		}
	}
	if len(w.partial) > 1<<16 {
		w.partial = w.partial[:0]
	}
	return len(p), nil
}

// Build builds the environment image of s unless its tag is on the
// engine, under a lock per hash, and logs it in images.json.
func Build(ctx context.Context, s *Spec, o BuildOptions) (*Built, error) {
	if o.Engine == nil || o.StateRoot == "" {
		return nil, errors.New("envbuild: BuildOptions needs Engine and StateRoot")
	}
	in, err := s.Inputs(ctx, o.Engine, o.Platform)
	if err != nil {
		return nil, err
	}
	hash := in.Hash()
	tag := Tag(s.TaskID, hash)
	req := &buildRequest{
		Tag: tag, Args: s.Args, Platform: o.Platform, NoCache: o.NoCache,
		Labels: map[string]string{LabelKind: KindEnv, LabelTask: s.TaskID, LabelHash: hash, LabelStateRoot: o.StateRoot},
	}
	if directoryBuild(ctx, o.Engine) {
		return s.buildDirectory(ctx, req, in, o)
	}
	req.Prepare = func(ctx context.Context, req *buildRequest) (func(), error) {
		beforeContextTar()
		df, err := s.DockerfileBytes()
		if err != nil {
			return nil, err
		}
		dfRel, err := s.dockerfileRel()
		if err != nil {
			return nil, err
		}
		f, sent, err := contextTar(ctx, s.Context, df, dfRel, o.now())
		if err != nil {
			return nil, err
		}
		sent.Args, sent.Platform, sent.Bases = in.Args, in.Platform, in.Bases
		// The tar is hashed as written. Another hash means the context
		// changed since the reuse decision: fail, build nothing. Building
		// it under the new hash instead would do so outside that hash's
		// lock and give the caller an image of content it never saw
		// (bench build prints, prepare pins, the hash it computed); a
		// context still being written to is better built again.
		if now := sent.Hash(); now != hash {
			removeTemp(f)
			return nil, fmt.Errorf("the build context changed while %s was prepared (hash %s, then %s): run bench build again", tag, shortHash(hash), shortHash(now))
		}
		req.Dockerfile, req.Context, req.Stdin = sent.DockerfilePath, "-", f
		return func() { removeTemp(f) }, nil
	}
	return build(ctx, req, KindEnv, s.TaskID, o)
}

// buildDirectory builds from the context directory (podman, BuildKit:
// directoryBuild): the engine reads it after the hash was taken, so the
// hash is taken again after the build and an image of a changed context
// removed.
func (s *Spec) buildDirectory(ctx context.Context, req *buildRequest, in *Inputs, o BuildOptions) (*Built, error) {
	req.Dockerfile, req.Context = s.Dockerfile, s.Context
	req.Rehash = func(ctx context.Context) (string, error) {
		in, err := s.Inputs(ctx, o.Engine, o.Platform)
		if err != nil {
			return "", err
		}
		return in.Hash(), nil
	}
	if s.Strategy == StrategyRequirements {
		// The generated Dockerfile lives outside the context, as a file
		// given with -f outside it may.
		dir, err := os.MkdirTemp("", "perfbench-envbuild-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(dir)
		req.Dockerfile = filepath.Join(dir, "Dockerfile")
		if err := os.WriteFile(req.Dockerfile, in.Dockerfile, 0o644); err != nil {
			return nil, err
		}
	}
	return build(ctx, req, KindEnv, s.TaskID, o)
}

// build reuses or builds req.Tag under the lock of its hash.
func build(ctx context.Context, req *buildRequest, kind, task string, o BuildOptions) (*Built, error) {
	hash := req.Labels[LabelHash]
	reuse := func() (*Built, error) {
		img, err := o.Engine.InspectImage(ctx, req.Tag)
		if err != nil {
			return nil, err
		}
		// The tag names content, not a state root: an image another state
		// root built (and labelled) is that root's to prune, so this one
		// builds its own (the layer cache makes that a label step) rather
		// than pin an image the other root's prune would remove.
		if got := img.Labels[LabelStateRoot]; got != o.StateRoot {
			return nil, fmt.Errorf("%s is labelled for the state root %q: %w", req.Tag, got, container.ErrNoImage)
		}
		b := &Built{Image: records.EnvImage{ID: img.ID, Tag: req.Tag, Hash: hash}, Reused: true}
		return b, logImage(ctx, o, kind, task, b)
	}
	if !o.NoCache {
		b, err := reuse()
		if !errors.Is(err, container.ErrNoImage) {
			return b, err
		}
	}
	lock, err := fsx.WaitLock(ctx, filepath.Join(o.StateRoot, "locks", "image-"+hash+".lock"))
	if err != nil {
		return nil, fmt.Errorf("build of %s: %w", req.Tag, err)
	}
	defer lock.Unlock()
	if !o.NoCache {
		// Another process may have built it while this one waited.
		b, err := reuse()
		if !errors.Is(err, container.ErrNoImage) {
			return b, err
		}
	}
	if req.Prepare != nil {
		done, err := req.Prepare(ctx, req)
		if err != nil {
			return nil, err
		}
		defer done()
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	var cond *Condenser
	if o.Terminal {
		cond = NewCondenser(progress)
		progress = cond
	}
	tail := textx.NewTail(4 << 10)
	steps := &stepWriter{}
	code, err := runBuild(ctx, o.Engine, req, io.MultiWriter(progress, tail, steps))
	if cond != nil {
		cond.Close()
	}
	if err != nil {
		be := &BuildError{Tag: req.Tag, ExitCode: code, Step: steps.step, Tail: lastLines(tail.String(), 20), Err: err}
		if code > 0 && ctx.Err() == nil {
			// The engine's own words; a build that was stopped says why
			// in Err.
			be.Last = lastLine(tail.String())
		}
		if cond != nil {
			be.Failure = cond.Failure()
		}
		return nil, be
	}
	if req.Rehash != nil {
		if now, err := req.Rehash(ctx); err != nil || now != hash {
			// What the engine read may be either side of the change: the
			// image is not the tag's content, so it goes.
			rmErr := o.Engine.RemoveImage(ctx, req.Tag)
			why := fmt.Sprintf("the build context changed while %s was built (hash %s before, %s after)", req.Tag, shortHash(hash), shortHash(now))
			if err != nil {
				why = fmt.Sprintf("the build context of %s could not be hashed again after the build: %v", req.Tag, err)
			}
			if rmErr != nil {
				why += fmt.Sprintf("; removing the image: %v", rmErr)
			}
			return nil, fmt.Errorf("%s: run bench build again", why)
		}
	}
	img, err := o.Engine.InspectImage(ctx, req.Tag)
	if err != nil {
		return nil, fmt.Errorf("build of %s: %w", req.Tag, err)
	}
	b := &Built{Image: records.EnvImage{ID: img.ID, Tag: req.Tag, Hash: hash}}
	return b, logImage(ctx, o, kind, task, b)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// BuildAgent builds the agent image FROM env (by id) with the recipe.
// Its tag is perfbench-agent/<agent>:<hash>, the hash covering the
// environment image's id, the recipe (agent, version, prefix, lines,
// files) and the platform; the build context is the recipe's files,
// materialised in a temporary directory.
func BuildAgent(ctx context.Context, env records.EnvImage, r Recipe, o BuildOptions) (*Built, error) {
	if o.Engine == nil || o.StateRoot == "" {
		return nil, errors.New("envbuild: BuildOptions needs Engine and StateRoot")
	}
	if env.ID == "" {
		return nil, fmt.Errorf("agent image for %s: the environment image %s is not built (run bench build)", r.Agent, env.Tag)
	}
	if _, err := o.Engine.InspectImage(ctx, env.ID); err != nil {
		if errors.Is(err, container.ErrNoImage) {
			return nil, fmt.Errorf("agent image for %s: environment image %s (%s) is not on the engine (run bench build): %w", r.Agent, env.Tag, env.ID, container.ErrNoImage)
		}
		return nil, err
	}
	df := AgentDockerfile(env.ID, r)
	if len(df) == 0 {
		return nil, fmt.Errorf("agent image for %s: the recipe gives no Dockerfile", r.Agent)
	}
	hash, err := agentHashOf(ctx, o.Engine, env, r, df, o.Platform)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "perfbench-agentbuild-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	ctxDir := filepath.Join(dir, "context")
	if err := materialise(ctxDir, r.Files); err != nil {
		return nil, fmt.Errorf("agent image for %s: %w", r.Agent, err)
	}
	req := &buildRequest{
		Tag: agentTag(r.Agent, hash), Platform: o.Platform, NoCache: o.NoCache,
		Labels: map[string]string{LabelKind: KindAgent, LabelHash: hash, LabelStateRoot: o.StateRoot, LabelAgent: r.Agent, LabelAgentVersion: r.Version},
	}
	if directoryBuild(ctx, o.Engine) {
		req.Dockerfile, req.Context = filepath.Join(dir, "Dockerfile"), ctxDir
		if err := os.WriteFile(req.Dockerfile, df, 0o644); err != nil {
			return nil, err
		}
		return build(ctx, req, KindAgent, "", o)
	}
	// The materialised recipe goes through the tar path too, its
	// Dockerfile at tarDockerfileName; the agent hash covers the recipe
	// itself, which this process wrote, so there is nothing to check.
	req.Prepare = func(ctx context.Context, req *buildRequest) (func(), error) {
		f, sent, err := contextTar(ctx, ctxDir, df, "", o.now())
		if err != nil {
			return nil, fmt.Errorf("agent image for %s: %w", r.Agent, err)
		}
		req.Dockerfile, req.Context, req.Stdin = sent.DockerfilePath, "-", f
		return func() { removeTemp(f) }, nil
	}
	return build(ctx, req, KindAgent, "", o)
}

// agentHash covers what an agent image is made of.
// agentHashOf is agentHash with the ids of the images the recipe's lines
// name besides the environment image (COPY --from=, a second FROM): each
// must be on the engine — a missing one is the never-pull error naming
// it, before any build — and a rebuilt one changes the hash.
func agentHashOf(ctx context.Context, eng Inspector, env records.EnvImage, r Recipe, df []byte, platform string) (string, error) {
	bases, err := resolveBases(ctx, eng, df, nil, "the "+r.Agent+" agent image")
	if err != nil {
		return "", err
	}
	return agentHash(env, r, df, platform, bases)
}

func agentHash(env records.EnvImage, r Recipe, df []byte, platform string, bases []Base) (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "%s agent\nenv %q\nagent %q %q %q\nplatform %q\n", hashVersion, env.ID, r.Agent, r.Version, r.Prefix, platform)
	for _, b := range bases {
		if b.Ref != env.ID {
			fmt.Fprintf(h, "base %q %q\n", b.Ref, b.ID)
		}
	}
	fmt.Fprintf(h, "dockerfile %d\n", len(df))
	h.Write(df)
	names := make([]string, 0, len(r.Files))
	for n := range r.Files {
		if _, err := cleanRel(n); err != nil {
			return "", fmt.Errorf("agent image for %s: %w", r.Agent, err)
		}
		names = append(names, n)
	}
	sort.Strings(names)
	fmt.Fprintf(h, "\nfiles %d\n", len(names))
	for _, n := range names {
		f := r.Files[n]
		fmt.Fprintf(h, "%q %o %d\n", n, f.Mode, len(f.Data))
		h.Write(f.Data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// cleanRel checks a recipe file name: relative, inside the context.
func cleanRel(name string) (string, error) {
	c := path.Clean(name)
	if name == "" || path.IsAbs(c) || c == "." || c == ".." || strings.HasPrefix(c, "../") || strings.ContainsRune(name, 0) {
		return "", fmt.Errorf("recipe file %q: expected a relative path inside the build context", name)
	}
	return c, nil
}

// materialise writes the recipe's files into dir.
func materialise(dir string, files map[string]File) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, f := range files {
		rel, err := cleanRel(name)
		if err != nil {
			return err
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		mode := fs.FileMode(f.Mode).Perm()
		if mode == 0 {
			mode = 0o644
		}
		if err := os.WriteFile(p, f.Data, mode); err != nil {
			return err
		}
		// WriteFile's mode passes through the umask; the recipe's is exact.
		if err := os.Chmod(p, mode); err != nil {
			return err
		}
	}
	return nil
}

// CurrentAgent is the agent image the recipe gives FROM env: its tag,
// hash, and id on the engine ("" when it is not built). It builds
// nothing.
func CurrentAgent(ctx context.Context, env records.EnvImage, r Recipe, eng Inspector, platform string) (records.EnvImage, error) {
	hash, err := agentHashOf(ctx, eng, env, r, AgentDockerfile(env.ID, r), platform)
	if err != nil {
		return records.EnvImage{}, err
	}
	img := records.EnvImage{Tag: agentTag(r.Agent, hash), Hash: hash}
	got, err := eng.InspectImage(ctx, img.Tag)
	switch {
	case errors.Is(err, container.ErrNoImage):
		return img, nil
	case err != nil:
		return img, err
	}
	img.ID = got.ID
	return img, nil
}
