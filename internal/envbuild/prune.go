package envbuild

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/perfbench/perfbench/internal/container"
	"github.com/perfbench/perfbench/internal/journal"
	"github.com/perfbench/perfbench/internal/records"
	"github.com/perfbench/perfbench/internal/textx"
)

// prunedKinds are the LabelKind values of the images Prune may remove.
var prunedKinds = []string{"env", "agent"}

// Pruned is what PruneImages did.
type Pruned struct {
	// Removed are the refs removed (an untagged image by its id).
	Removed []string
	// Skipped are the images the engine would not remove without force
	// (a container uses them, or images are built on them), with its
	// reason: left as they are, not an error of the prune.
	Skipped []PruneSkip
	// Kept are unpinned images that stay because they carry tags that
	// are not perfbench's (a user's `docker tag`): only perfbench's own
	// refs of them were removed (those are in Removed).
	Kept []PruneKept
	// Pinned counts the perfbench images of the state root that a run
	// pins, which stay.
	Pinned int
}

// PruneKept is an unpinned image Prune left: for its other tags, or
// because the engine keeps it while images are built on it.
type PruneKept struct {
	ID string
	// Tags are its tags that are not perfbench's.
	Tags []string
	// Untagged, when Tags is empty, are the perfbench refs removed from
	// an image that is still there: the engine's rmi of an image's last
	// tag only untags it (exit 0) while other images are built on it
	// (the legacy builder's parent chain, an agent image FROM it).
	Untagged []string
}

// Reason says why the image stays, for a line of output.
func (k PruneKept) Reason() string {
	if len(k.Tags) > 0 {
		return "also tagged " + strings.Join(k.Tags, ", ")
	}
	return "untagged " + strings.Join(k.Untagged, ", ") + "; kept while images are built on it"
}

// PruneSkip is an image Prune left because the engine refused.
type PruneSkip struct {
	Ref    string
	Reason string
}

// Prune removes the images labelled with stateRoot that no run.json under
// it pins (records.Run.EnvImage, AgentImage), never with force; it
// returns the refs removed. Images the engine refuses to remove are
// skipped: PruneImages reports them.
func Prune(ctx context.Context, eng *container.Engine, stateRoot string) ([]string, error) {
	p, err := PruneImages(ctx, eng, stateRoot)
	if p == nil {
		return nil, err
	}
	return p.Removed, err
}

// PruneImages is Prune with its report. Only images whose labels say
// perfbench built them (LabelKind env or agent) for this state root
// (LabelStateRoot, the absolute path) are candidates; a pin is an image
// id in any run.json under <state_root>/runs. Of a candidate only the
// refs in perfbench's repositories (EnvRepo, AgentRepo) are removed: one
// the user also tagged otherwise keeps that tag, and so stays (Kept); an
// untagged one (its tag moved to a rebuild) is removed by id; one still
// there once its last tag went (images are built on it) is Kept, not
// Removed. It holds the runs lock meanwhile, so a prepare cannot pin an
// image between the read and the removal (one that found its image
// before checks, under the lock, that it is still there). A run.json it
// cannot read may pin anything: then it removes nothing and says which.
func PruneImages(ctx context.Context, eng *container.Engine, stateRoot string) (*Pruned, error) {
	root, err := filepath.Abs(stateRoot)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	lock, err := journal.LockRuns(ctx, root)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	defer lock.Unlock()
	pins, err := pinnedIDs(root)
	if err != nil {
		return nil, err
	}
	imgs, err := eng.Images(ctx, "label="+LabelStateRoot+"="+root, "label="+LabelKind)
	if err != nil {
		return nil, fmt.Errorf("prune: list images: %w", err)
	}
	slices.SortFunc(imgs, func(a, b container.LocalImage) int {
		return strings.Compare(a.Ref+" "+a.ID, b.Ref+" "+b.ID)
	})
	// The listing has an entry per tag: gather each image's refs, the
	// images in the listing's order.
	var order []string
	refs := map[string][]string{}
	for _, img := range imgs {
		// The engine's filter is trusted only as far as the labels say.
		if img.Labels[LabelStateRoot] != root || !slices.Contains(prunedKinds, img.Labels[LabelKind]) {
			continue
		}
		if _, seen := refs[img.ID]; !seen {
			order = append(order, img.ID)
			refs[img.ID] = nil
		}
		if img.Ref != "" {
			refs[img.ID] = append(refs[img.ID], img.Ref)
		}
	}
	p := &Pruned{}
	for _, id := range order {
		if pins[id] {
			p.Pinned++
			continue
		}
		var own, others []string
		for _, ref := range refs[id] {
			if ownRef(ref) {
				own = append(own, ref)
			} else {
				others = append(others, ref)
			}
		}
		if len(own) == 0 && len(others) == 0 {
			own = []string{id} // untagged: by id
		}
		before, skips := len(p.Removed), len(p.Skipped)
		for _, ref := range own {
			if err := p.remove(ctx, eng, ref); err != nil {
				return p, err
			}
		}
		if len(others) > 0 {
			p.Kept = append(p.Kept, PruneKept{ID: id, Tags: others})
			continue
		}
		if own[0] == id || len(p.Removed) == before || len(p.Skipped) > skips {
			continue // by id (a refusal says why), or a ref refused: reported
		}
		// Every tag went without an error; the image itself may not have.
		switch _, err := eng.InspectImage(ctx, id); {
		case err == nil:
			untagged := slices.Clone(p.Removed[before:])
			p.Removed = p.Removed[:before]
			p.Kept = append(p.Kept, PruneKept{ID: id, Untagged: untagged})
		case !errors.Is(err, container.ErrNoImage):
			return p, fmt.Errorf("prune: %w", err)
		}
	}
	return p, nil
}

// remove removes one ref, never with force: a refusal of the engine is a
// skip, an image gone meanwhile (another prune, or with its last tag) is
// nothing.
func (p *Pruned) remove(ctx context.Context, eng *container.Engine, ref string) error {
	err := eng.RemoveImage(ctx, ref)
	var ee *container.Error
	switch {
	case err == nil:
		p.Removed = append(p.Removed, ref)
	case container.ImageNotFound(err):
	case ctx.Err() != nil:
		return fmt.Errorf("prune: %w", err)
	case errors.As(err, &ee) && ee.ExitCode > 0:
		p.Skipped = append(p.Skipped, PruneSkip{Ref: ref, Reason: textx.Truncate(textx.OneLine(ee.Stderr), 300)})
	default:
		return fmt.Errorf("prune: %w", err)
	}
	return nil
}

// ownRef reports whether ref is in a repository perfbench tags: only
// those refs are prune's to remove. podman names a local image
// localhost/<name>.
func ownRef(ref string) bool {
	r := strings.TrimPrefix(ref, "localhost/")
	return strings.HasPrefix(r, EnvRepo+"/") || strings.HasPrefix(r, AgentRepo+"/")
}

// pinnedIDs are the image ids the runs under root pin.
func pinnedIDs(root string) (map[string]bool, error) {
	runs, bad, err := journal.ListRuns(root)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	if len(bad) > 0 {
		return nil, fmt.Errorf("prune: nothing removed: a run.json that cannot be read may pin an image: %w", errors.Join(bad...))
	}
	pins := map[string]bool{}
	for _, r := range runs {
		for _, img := range []*records.EnvImage{r.EnvImage, r.AgentImage} {
			if img == nil || img.ID == "" {
				continue
			}
			id := img.ID
			if !strings.Contains(id, ":") {
				id = "sha256:" + id
			}
			pins[id] = true
		}
	}
	return pins, nil
}
