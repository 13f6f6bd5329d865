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

	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"

	"github.com/perfbench/perfbench/internal/container"
)

// hashVersion starts every hash: a change of what the hash covers or how
// it is written changes it, so no image of an older scheme is reused.
// Still v1: the Dockerfile's path, added since, is hashed only where it
// makes the image differ (Inputs.dockerfileDirsMade), a case v1 got
// wrong, so every other context keeps its v1 hash and a run pinned before
// the upgrade resumes. The context tar sends what v1's hash covered.
const hashVersion = "perfbench-envbuild-hash-v1"

// Inputs is what the hash of a build covers, in the order it is hashed:
// what `bench build --print` summarises.
type Inputs struct {
	Dockerfile []byte
	// DockerfilePath is where the Dockerfile is in the context the engine
	// gets (slash-separated): its path relative to the context when it is
	// inside, else a name of perfbench's at the top (tarDockerfileName). The
	// engine creates the missing parents of an excluded Dockerfile (empty,
	// 0755) in the context COPY . copies, so the path is hashed when it
	// makes such a directory (dockerfileDirsMade).
	DockerfilePath string
	Dockerignore   []byte
	// HasDockerignore tells an empty .dockerignore from none.
	HasDockerignore bool
	Files           []ContextFile
	Args            map[string]string
	Platform        string
	// Bases are the FROM (and COPY --from) images with their ids on the
	// engine.
	Bases []Base
}

// ContextFile is one entry of the build context that .dockerignore keeps:
// what COPY . puts in an image.
type ContextFile struct {
	// Path is slash-separated, relative to the context.
	Path string
	Mode fs.FileMode
	// Target is a symlink's target.
	Target string
	// Size and SHA256 are a regular file's.
	Size   int64
	SHA256 string
}

// Base is a base image of the build and its id.
type Base struct {
	Ref string
	ID  string
}

// Hash is the content hash of the build: the Dockerfile and .dockerignore,
// every file of the context .dockerignore keeps (path, mode, symlink
// target, content), the args, the platform, and the ids of local FROM
// bases. A missing base is an error naming it (wrapping
// container.ErrNoImage).
func (s *Spec) Hash(ctx context.Context, eng Inspector, platform string) (string, error) {
	in, err := s.Inputs(ctx, eng, platform)
	if err != nil {
		return "", err
	}
	return in.Hash(), nil
}

// Inputs reads everything the hash covers.
func (s *Spec) Inputs(ctx context.Context, eng Inspector, platform string) (*Inputs, error) {
	df, err := s.DockerfileBytes()
	if err != nil {
		return nil, err
	}
	in := &Inputs{Dockerfile: df, Args: s.Args, Platform: platform}
	if in.Dockerignore, in.HasDockerignore, err = readDockerignore(s.Context); err != nil {
		return nil, err
	}
	in.Files, err = ContextFiles(s.Context, in.Dockerignore)
	if err != nil {
		return nil, err
	}
	dfRel, err := s.dockerfileRel()
	if err != nil {
		return nil, err
	}
	in.DockerfilePath = dfRel
	if dfRel == "" {
		in.DockerfilePath = tarDockerfileName(in.Files)
	}
	in.Bases, err = resolveBases(ctx, eng, df, s.Args, s.dockerfileName())
	if err != nil {
		return nil, err
	}
	return in, nil
}

// readDockerignore reads the context's .dockerignore; none is no error.
func readDockerignore(dir string) ([]byte, bool, error) {
	b, err := os.ReadFile(filepath.Join(dir, ".dockerignore"))
	switch {
	case err == nil:
		return b, true, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	}
	return nil, false, fmt.Errorf("build context: %w", err)
}

// dockerfileRel is the task's Dockerfile's path relative to the context
// (both with their symlinks resolved, as the docker client resolves
// them), slash-separated; "" when it is generated or outside the context.
func (s *Spec) dockerfileRel() (string, error) {
	if s.Strategy == StrategyRequirements || s.Dockerfile == "" {
		return "", nil
	}
	dir, err := filepath.EvalSymlinks(s.Context)
	if err != nil {
		return "", fmt.Errorf("build context: %w", err)
	}
	df, err := filepath.EvalSymlinks(s.Dockerfile)
	if err != nil {
		return "", fmt.Errorf("env_build dockerfile: %w", err)
	}
	rel, err := filepath.Rel(dir, df)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", nil
	}
	return filepath.ToSlash(rel), nil
}

// dockerfileName names the Dockerfile in messages.
func (s *Spec) dockerfileName() string {
	if s.Strategy == StrategyRequirements {
		return "the generated Dockerfile (env_build.base_image)"
	}
	return s.Dockerfile
}

// resolveBases finds the id of every base image on the engine.
func resolveBases(ctx context.Context, eng Inspector, df []byte, args map[string]string, what string) ([]Base, error) {
	var out []Base
	for _, ref := range Bases(df, args) {
		img, err := eng.InspectImage(ctx, ref)
		if err != nil {
			if errors.Is(err, container.ErrNoImage) {
				return nil, fmt.Errorf("base image %s of %s is not on the engine (perfbench never pulls: pull or build it first): %w", ref, what, container.ErrNoImage)
			}
			return nil, fmt.Errorf("base image %s: %w", ref, err)
		}
		out = append(out, Base{Ref: ref, ID: img.ID})
	}
	return out, nil
}

// Hash writes the inputs unambiguously (every text quoted) into SHA-256.
func (in *Inputs) Hash() string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\n", hashVersion)
	fmt.Fprintf(h, "dockerfile %d\n", len(in.Dockerfile))
	h.Write(in.Dockerfile)
	if in.dockerfileDirsMade() {
		// Absent otherwise, so the hash is v1's (the Dockerfile's length
		// before its bytes keeps the line unambiguous).
		fmt.Fprintf(h, "\ndockerfile_path %q", in.DockerfilePath)
	}
	fmt.Fprintf(h, "\ndockerignore %t %d\n", in.HasDockerignore, len(in.Dockerignore))
	h.Write(in.Dockerignore)
	fmt.Fprintf(h, "\nfiles %d\n", len(in.Files))
	for _, f := range in.Files {
		fmt.Fprintf(h, "%q %o %q %d %s\n", f.Path, uint32(f.Mode), f.Target, f.Size, f.SHA256)
	}
	names := make([]string, 0, len(in.Args))
	for k := range in.Args {
		names = append(names, k)
	}
	sort.Strings(names)
	fmt.Fprintf(h, "args %d\n", len(names))
	for _, k := range names {
		fmt.Fprintf(h, "%q=%q\n", k, in.Args[k])
	}
	fmt.Fprintf(h, "platform %q\n", in.Platform)
	fmt.Fprintf(h, "bases %d\n", len(in.Bases))
	for _, b := range in.Bases {
		fmt.Fprintf(h, "%q %q\n", b.Ref, b.ID)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// dockerfileDirsMade reports whether the Dockerfile's path puts a
// directory in the image that nothing else does: the engine always gets
// the Dockerfile, creates its missing parent directories when it extracts
// the context, and then removes an excluded Dockerfile but not them. That
// is a Dockerfile inside the context, in a subdirectory, not kept by
// .dockerignore, one of whose directories the context neither sends nor
// needs for an entry it sends. (A kept Dockerfile is in Files; one at the
// top or outside the context, perfbench's name at the top, makes none.)
func (in *Inputs) dockerfileDirsMade() bool {
	p := in.DockerfilePath
	for d := path.Dir(p); d != "." && d != "/"; d = path.Dir(d) {
		made := true
		for _, f := range in.Files {
			if f.Path == d || strings.HasPrefix(f.Path, d+"/") {
				made = false
				break
			}
		}
		if made {
			return true
		}
	}
	return false
}

// Summary is the inputs in a few lines, for `bench build --print`.
func (in *Inputs) Summary() string {
	var b strings.Builder
	ignore := "none"
	if in.HasDockerignore {
		ignore = fmt.Sprintf("%d bytes", len(in.Dockerignore))
	}
	var size int64
	for _, f := range in.Files {
		size += f.Size
	}
	fmt.Fprintf(&b, "dockerfile: %d bytes\n", len(in.Dockerfile))
	if in.dockerfileDirsMade() {
		fmt.Fprintf(&b, "dockerfile path: %s (hashed: the engine makes its directories)\n", in.DockerfilePath)
	}
	fmt.Fprintf(&b, ".dockerignore: %s\n", ignore)
	fmt.Fprintf(&b, "context: %d entries, %d bytes\n", len(in.Files), size)
	names := make([]string, 0, len(in.Args))
	for k := range in.Args {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		fmt.Fprintf(&b, "arg: %s=%s\n", k, in.Args[k])
	}
	platform := in.Platform
	if platform == "" {
		platform = "(the engine's)"
	}
	fmt.Fprintf(&b, "platform: %s\n", platform)
	if len(in.Bases) == 0 {
		b.WriteString("base: none (FROM scratch)\n")
	}
	for _, base := range in.Bases {
		fmt.Fprintf(&b, "base: %s %s\n", base.Ref, base.ID)
	}
	return b.String()
}

// ContextFiles lists the entries of the context directory dir that a
// .dockerignore with this content keeps, as the docker client decides
// what it sends (its archive walk: an excluded directory is skipped
// unless an exception pattern starts inside it, and is then not itself
// sent), in walk order. The Dockerfile and .dockerignore are listed only
// when kept: the engine removes them otherwise.
func ContextFiles(dir string, dockerignore []byte) ([]ContextFile, error) {
	var out []ContextFile
	err := walkContext(dir, dockerignore, func(abs string, f ContextFile, fi fs.FileInfo) error {
		if fi.Mode().IsRegular() {
			var err error
			if f.SHA256, f.Size, err = fileSHA256(abs); err != nil {
				return fmt.Errorf("build context: %w", err)
			}
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// resolveContext is the context directory with its symlinks resolved: the
// client resolves a context given through a symlink, and so does the
// walk, which would not descend into a link.
func resolveContext(dir string) string {
	if resolved, err := filepath.EvalSymlinks(dir); err == nil {
		return resolved
	}
	return dir
}

// walkContext calls visit for every entry of dir that the .dockerignore
// keeps (ContextFiles' walk), in walk order, with the entry's path, mode
// and symlink target filled in (not its content's hash). Sockets are
// left out, as the client's archive leaves them; a device file is an
// error, since its numbers are not hashed and the tar would carry them.
func walkContext(dir string, dockerignore []byte, visit func(abs string, f ContextFile, fi fs.FileInfo) error) error {
	patterns, err := ignorefile.ReadAll(bytes.NewReader(dockerignore))
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, ".dockerignore"), err)
	}
	pm, err := patternmatcher.New(patterns)
	if err != nil {
		return fmt.Errorf("%s: %w", filepath.Join(dir, ".dockerignore"), err)
	}
	dir = resolveContext(dir)
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		skip, err := pm.MatchesOrParentMatches(rel)
		if err != nil {
			return fmt.Errorf("%s: %w", filepath.Join(dir, ".dockerignore"), err)
		}
		if skip {
			if !d.IsDir() {
				return nil
			}
			if !pm.Exclusions() {
				return filepath.SkipDir
			}
			dirSlash := rel + string(filepath.Separator)
			for _, pat := range pm.Patterns() {
				if pat.Exclusion() && strings.HasPrefix(pat.String()+string(filepath.Separator), dirSlash) {
					return nil // descend, without sending the directory itself
				}
			}
			return filepath.SkipDir
		}
		fi, err := d.Info()
		if err != nil {
			return fmt.Errorf("build context: %w", err)
		}
		f := ContextFile{Path: filepath.ToSlash(rel), Mode: fi.Mode()}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if f.Target, err = os.Readlink(p); err != nil {
				return fmt.Errorf("build context: %w", err)
			}
		case fi.Mode()&fs.ModeSocket != 0:
			return nil // the docker client's archive leaves sockets out
		case fi.Mode()&fs.ModeDevice != 0:
			return fmt.Errorf("build context: %s is a device file, which perfbench does not send: list it in .dockerignore", p)
		}
		if f.Path == ".dockerignore" && !fi.Mode().IsRegular() {
			// The engine reads the .dockerignore the tar carries; perfbench
			// sends the bytes it read, so that must be a file.
			return fmt.Errorf("build context: %s is not a regular file (%s)", p, fi.Mode().Type())
		}
		return visit(p, f, fi)
	})
}

func fileSHA256(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
