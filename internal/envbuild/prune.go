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
	// Pinned counts the perfbench images of the state root that a run
	// pins, which stay.
	Pinned int
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
// id in any run.json under <state_root>/runs. It holds the runs lock
// meanwhile, so a prepare cannot pin an image between the read and the
// removal. A run.json it cannot read may pin anything: then it removes
// nothing and says which.
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
	p := &Pruned{}
	pinned := map[string]bool{}
	for _, img := range imgs {
		// The engine's filter is trusted only as far as the labels say.
		if img.Labels[LabelStateRoot] != root || !slices.Contains(prunedKinds, img.Labels[LabelKind]) {
			continue
		}
		if pins[img.ID] {
			if !pinned[img.ID] {
				pinned[img.ID] = true
				p.Pinned++
			}
			continue
		}
		ref := img.Ref
		if ref == "" {
			ref = img.ID
		}
		err := eng.RemoveImage(ctx, ref)
		var ee *container.Error
		switch {
		case err == nil:
			p.Removed = append(p.Removed, ref)
		case container.ImageNotFound(err):
			// gone meanwhile (another prune, or with its last tag)
		case ctx.Err() != nil:
			return p, fmt.Errorf("prune: %w", err)
		case errors.As(err, &ee) && ee.ExitCode > 0:
			p.Skipped = append(p.Skipped, PruneSkip{Ref: ref, Reason: textx.Truncate(textx.OneLine(ee.Stderr), 300)})
		default:
			return p, fmt.Errorf("prune: %w", err)
		}
	}
	return p, nil
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
