package envbuild

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Docker's legacy builder gets its build context as a tar perfbench
// writes (docker build -f PATH -, in gzip: contextTar; BuildKit and
// podman build from the directory: directoryBuild): exactly the entries
// the hash covers, each regular file's bytes read once and hashed as they
// go into the tar, so the hash an image is tagged with is the hash of
// what the engine got. A directory build would make the client read the
// context again after the hash was taken. The tar follows the docker client's own (its archive of
// the context directory): paths relative to the context, a directory's
// with a trailing slash, the context directory itself left out, uid and
// gid 0 with no names, modes with the setuid, setgid and sticky bits,
// modification times truncated to the second, PAX format; the Dockerfile
// and .dockerignore always sent, which the engine then removes from the
// context when .dockerignore excludes them. Unlike the client's, it sends
// no security.capability attribute and writes a hard link as a regular
// file: the hash covers neither link nor attribute.

// dockerfileTarName is where a Dockerfile that is not in the context (the
// requirements strategy's, an agent image's, a task's Dockerfile outside
// env_build.context) goes in the tar, listed in the tar's .dockerignore so
// the engine removes it from the context, as the docker client does with
// a random name; this one is fixed, so the hash can cover it.
const dockerfileTarName = ".perfbench-dockerfile"

// tarDockerfileName is dockerfileTarName, numbered when the context has
// an entry of that name.
func tarDockerfileName(files []ContextFile) string {
	taken := func(name string) bool {
		if name == ".dockerignore" {
			return true
		}
		for _, f := range files {
			if f.Path == name || strings.HasPrefix(f.Path, name+"/") {
				return true
			}
		}
		return false
	}
	name := dockerfileTarName
	for i := 1; taken(name); i++ {
		name = fmt.Sprintf("%s-%d", dockerfileTarName, i)
	}
	return name
}

// Test hooks: tarFileWritten is called with a regular file's path after
// its bytes went into the tar; beforeContextTar before the build's tar is
// written.
var (
	tarFileWritten   = func(rel string) {}
	beforeContextTar = func() {}
)

// writeContextTar writes (until ctx ends) the build context dir (whose .dockerignore is
// dockerignore, hasDockerignore telling an empty one from none) to w as
// a tar, with the Dockerfile df at dfRel (its path in the context) or,
// when dfRel is "", at tarDockerfileName. It returns the hash inputs of
// what it wrote (Dockerfile, DockerfilePath, Dockerignore, Files); the
// caller adds args, platform and bases. now stamps the entries of
// perfbench's own making.
func writeContextTar(ctx context.Context, w io.Writer, dir string, df []byte, dfRel string, dockerignore []byte, hasDockerignore bool, now time.Time) (*Inputs, error) {
	dir = resolveContext(dir)
	tw := tar.NewWriter(w)
	buf := make([]byte, 64<<10)
	in := &Inputs{Dockerfile: df, Dockerignore: dockerignore, HasDockerignore: hasDockerignore}
	// The Dockerfile and .dockerignore are written last, from the bytes
	// read once for the hash; the walk records their metadata when it
	// keeps them.
	var dfInfo, ignoreInfo fs.FileInfo
	err := walkContext(dir, dockerignore, func(abs string, f ContextFile, fi fs.FileInfo) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		switch {
		case f.Path == ".dockerignore" && hasDockerignore:
			ignoreInfo = fi
			f.Size, f.SHA256 = int64(len(dockerignore)), sha256Hex(dockerignore)
		case f.Path == dfRel && dfRel != "":
			if !fi.Mode().IsRegular() {
				return fmt.Errorf("build context: %s changed while it was read (not a regular file now)", abs)
			}
			dfInfo = fi
			f.Size, f.SHA256 = int64(len(df)), sha256Hex(df)
		case fi.Mode().IsRegular():
			var err error
			if f, err = tarFile(tw, buf, abs, f); err != nil {
				return err
			}
			tarFileWritten(f.Path)
		default:
			if err := tw.WriteHeader(tarHeader(f.Path, fi, f.Target)); err != nil {
				return fmt.Errorf("build context tar: %w", err)
			}
		}
		in.Files = append(in.Files, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	in.DockerfilePath = dfRel
	ignore := dockerignore
	if dfRel == "" {
		// As the docker client does: the .dockerignore sent lists the
		// Dockerfile (and, when there was none, itself).
		in.DockerfilePath = tarDockerfileName(in.Files)
		if !hasDockerignore {
			ignore = []byte(".dockerignore")
		}
		ignore = append(append(append([]byte(nil), ignore...), '\n'), in.DockerfilePath+"\n"...)
	}
	made := func(name string, size int) *tar.Header {
		return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Size: int64(size), ModTime: now.Truncate(time.Second), Format: tar.FormatPAX}
	}
	// An excluded Dockerfile or .dockerignore of the context is sent with
	// its own metadata, as the client sends it.
	lstat := func(rel string) (fs.FileInfo, error) {
		fi, err := os.Lstat(filepath.Join(dir, filepath.FromSlash(rel)))
		if err == nil && !fi.Mode().IsRegular() {
			err = fmt.Errorf("%s is not a regular file", filepath.Join(dir, filepath.FromSlash(rel)))
		}
		if err != nil {
			return nil, fmt.Errorf("build context: %w", err)
		}
		return fi, nil
	}
	var hdr *tar.Header
	switch {
	case dfInfo != nil:
		hdr = tarHeader(dfRel, dfInfo, "")
	case dfRel != "":
		fi, err := lstat(dfRel)
		if err != nil {
			return nil, err
		}
		hdr = tarHeader(dfRel, fi, "")
	default:
		hdr = made(in.DockerfilePath, 0)
	}
	hdr.Size = int64(len(df))
	if err := writeEntry(tw, hdr, df); err != nil {
		return nil, err
	}
	if ignore != nil {
		switch {
		case ignoreInfo != nil:
			hdr = tarHeader(".dockerignore", ignoreInfo, "")
		case hasDockerignore:
			fi, err := lstat(".dockerignore")
			if err != nil {
				return nil, err
			}
			hdr = tarHeader(".dockerignore", fi, "")
		default:
			hdr = made(".dockerignore", 0)
		}
		hdr.Size = int64(len(ignore))
		if err := writeEntry(tw, hdr, ignore); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("build context tar: %w", err)
	}
	return in, nil
}

// tarFile writes the regular file abs into the tar, hashing its bytes as
// they go: f gets the mode, size and hash of what was written. The file
// is opened without following a link or blocking on a FIFO (it may have
// been replaced since the walk saw it) and its metadata taken from the
// open file; a file shorter than it said is an error, a longer one is
// sent (and hashed) up to the size its header gives.
func tarFile(tw *tar.Writer, buf []byte, abs string, f ContextFile) (ContextFile, error) {
	changed := func(why string) error {
		return fmt.Errorf("build context: %s changed while it was read (%s)", abs, why)
	}
	file, err := os.OpenFile(abs, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return f, fmt.Errorf("build context: %w", err)
	}
	defer file.Close()
	fi, err := file.Stat()
	if err != nil {
		return f, fmt.Errorf("build context: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return f, changed("not a regular file now")
	}
	if err := tw.WriteHeader(tarHeader(f.Path, fi, "")); err != nil {
		return f, fmt.Errorf("build context tar: %w", err)
	}
	h := sha256.New()
	n, err := io.CopyBuffer(io.MultiWriter(tw, h), io.LimitReader(file, fi.Size()), buf)
	if err != nil {
		return f, fmt.Errorf("build context: %s: %w", abs, err)
	}
	if n != fi.Size() {
		return f, changed(fmt.Sprintf("%d of %d bytes", n, fi.Size()))
	}
	f.Mode, f.Size, f.SHA256 = fi.Mode(), n, hex.EncodeToString(h.Sum(nil))
	return f, nil
}

func writeEntry(tw *tar.Writer, hdr *tar.Header, data []byte) error {
	if err := tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("build context tar: %w", err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("build context tar: %w", err)
	}
	return nil
}

// tarHeader is the header the docker client writes for an entry: owned by
// root, no user or group names, the seconds of its modification time.
func tarHeader(name string, fi fs.FileInfo, target string) *tar.Header {
	m := fi.Mode()
	h := &tar.Header{Name: name, Mode: int64(m.Perm()), ModTime: fi.ModTime().Truncate(time.Second), Format: tar.FormatPAX}
	if m&fs.ModeSetuid != 0 {
		h.Mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		h.Mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		h.Mode |= 0o1000
	}
	switch {
	case m.IsDir():
		h.Typeflag = tar.TypeDir
		h.Name += "/"
	case m&fs.ModeSymlink != 0:
		h.Typeflag, h.Linkname = tar.TypeSymlink, target
	case m&fs.ModeNamedPipe != 0:
		h.Typeflag = tar.TypeFifo
	default:
		h.Typeflag, h.Size = tar.TypeReg, fi.Size()
	}
	return h
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// contextTar writes the build context of dir into a temporary file, the
// engine's stdin (bounded memory; TMPDIR chooses the disk), rewound.
// The caller closes and removes it.
//
// The tar goes in a gzip stream of stored (uncompressed) blocks: the
// docker client tells a context on stdin from a Dockerfile by its first
// bytes, a compression magic or a tar header that archive/tar accepts
// from the first 512 bytes alone. A first entry that needs a PAX header
// (a non-ASCII name, a name over 100 bytes, a long link target) fails
// that test, and the client takes the tar for a Dockerfile ("ambiguous
// Dockerfile source"). The gzip magic is always recognised, by the
// client and the daemon; level NoCompression costs no CPU.
func contextTar(ctx context.Context, dir string, df []byte, dfRel string, now time.Time) (*os.File, *Inputs, error) {
	ignore, hasIgnore, err := readDockerignore(dir)
	if err != nil {
		return nil, nil, err
	}
	f, err := os.CreateTemp("", "perfbench-context-*.tar.gz")
	if err != nil {
		return nil, nil, fmt.Errorf("build context tar: %w", err)
	}
	fail := func(err error) (*os.File, *Inputs, error) {
		f.Close()
		os.Remove(f.Name())
		return nil, nil, err
	}
	gz, err := gzip.NewWriterLevel(f, gzip.NoCompression)
	if err != nil {
		return fail(fmt.Errorf("build context tar: %w", err))
	}
	in, err := writeContextTar(ctx, gz, dir, df, dfRel, ignore, hasIgnore, now)
	if err != nil {
		return fail(err)
	}
	if err := gz.Close(); err != nil {
		return fail(fmt.Errorf("build context tar: %w", err))
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return fail(fmt.Errorf("build context tar: %w", err))
	}
	return f, in, nil
}

// removeTemp closes and removes a temporary file of contextTar.
func removeTemp(f *os.File) {
	f.Close()
	os.Remove(f.Name())
}

// now stamps the tar's entries of perfbench's own making.
func (o BuildOptions) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}
