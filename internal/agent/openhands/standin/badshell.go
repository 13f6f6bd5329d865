package standin

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/perfbench/perfbench/internal/scripttest"
)

// badShell is BuildBadShell's /bin/sh: an ELF header and nothing after
// it, which the kernel refuses as a busybox built for another
// architecture is refused ("exec format error").
var badShell = []byte("\x7fELF\x02\x01\x01perfbench: not a program for this machine\n")

// dockerfileBadShell is the stand-in image with an sh that cannot run.
const dockerfileBadShell = dockerfile + `COPY sh /bin/sh
ENV PATH=/usr/bin:/bin
`

// TagBadShell is the tag of the image whose sh cannot run.
func TagBadShell() string {
	return scripttest.ImageTag(Repo, source, []byte(dockerfileBadShell), []byte(gomod), badShell)
}

// BuildBadShell builds, as Build does, the stand-in image with a /bin/sh
// that is no program for this machine: a gated container of it ends with
// status 1 and "exec /bin/sh: exec format error", like an image of
// another architecture.
func BuildBadShell() (string, error) {
	tag := TagBadShell()
	return tag, scripttest.BuildImage(tag, dockerfileBadShell, func(ctx context.Context, dir string) error {
		if err := buildPython(ctx, dir); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, "sh"), badShell, 0o755)
	})
}

// RequireBadShell is Require for the image whose sh cannot run.
func RequireBadShell(t testing.TB) string {
	t.Helper()
	RequireEngine(t)
	tag, err := BuildBadShell()
	if err != nil {
		t.Fatalf("building the stand-in image: %v", err)
	}
	return tag
}
