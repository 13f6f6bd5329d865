package envbuild

import (
	"context"
	"errors"
	"strings"

	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/records"
)

// Repositories of the images perfbench builds.
const (
	EnvRepo   = "perfbench-env"
	AgentRepo = "perfbench-agent"
)

// tagHashLen is how much of the hash a tag carries: 64 bits tell builds
// apart; the label keeps the whole hash.
const tagHashLen = 16

// maxComponent keeps a name well under the engine's 255-byte limit of
// a repository name.
const maxComponent = 128

// Tag is the environment image's name, perfbench-env/<task>:<hash>, the
// task id lower-cased and normalised to a valid repository name.
func Tag(taskID, hash string) string {
	return EnvRepo + "/" + Component(taskID) + ":" + shortHash(hash)
}

// agentTag is an agent image's name, perfbench-agent/<agent>:<hash>.
func agentTag(agent, hash string) string {
	return AgentRepo + "/" + Component(agent) + ":" + shortHash(hash)
}

func shortHash(hash string) string {
	if len(hash) > tagHashLen {
		return hash[:tagHashLen]
	}
	if hash == "" {
		return "latest"
	}
	return hash
}

// Component normalises s to a path component of a repository name as the
// engine accepts it: [a-z0-9]+ separated by one '.', one or two '_', or
// any number of '-'. Other characters and separator runs become one '-';
// an empty result is "task".
func Component(s string) string {
	var b strings.Builder
	var sep strings.Builder
	flush := func() {
		if b.Len() == 0 {
			sep.Reset()
			return // no leading separator
		}
		r := sep.String()
		switch {
		case r == "":
		case r == "." || r == "_" || r == "__" || strings.Trim(r, "-") == "":
			b.WriteString(r)
		default:
			b.WriteByte('-')
		}
		sep.Reset()
	}
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9':
			flush()
			b.WriteRune(c)
		case c == '.' || c == '_' || c == '-':
			sep.WriteRune(c)
		default:
			sep.WriteByte('~') // not a separator: turns the run into '-'
		}
	}
	out := b.String() // a trailing separator run is dropped
	if len(out) > maxComponent {
		out = strings.TrimRight(out[:maxComponent], "._-")
	}
	if out == "" {
		return "task"
	}
	return out
}

// Current is the environment image for the task's current hash: its tag,
// hash, and the id on the engine ("" when it is not built).
func Current(ctx context.Context, s *Spec, eng Inspector, platform string) (records.EnvImage, error) {
	hash, err := s.Hash(ctx, eng, platform)
	if err != nil {
		return records.EnvImage{}, err
	}
	im := records.EnvImage{Tag: Tag(s.TaskID, hash), Hash: hash}
	img, err := eng.InspectImage(ctx, im.Tag)
	switch {
	case err == nil:
		im.ID = img.ID
	case !errors.Is(err, container.ErrNoImage):
		return im, err
	}
	return im, nil
}
