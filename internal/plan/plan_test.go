package plan

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/perfbench/perfbench/internal/badinput"
	"github.com/perfbench/perfbench/internal/config"
)

// fakeRepo resolves commits from a parent map.
type fakeRepo map[string][]string

func (f fakeRepo) Resolve(_ context.Context, rev string) (string, error) {
	for sha := range f {
		if strings.HasPrefix(sha, rev) {
			return sha, nil
		}
	}
	return "", badinput.Errorf("commit %s not found", rev)
}

func (f fakeRepo) Parent(_ context.Context, sha string, n int) (string, error) {
	ps := f[sha]
	if n > len(ps) {
		return "", fmt.Errorf("commit %s has %d parent(s), not %d", sha, len(ps), n)
	}
	return ps[n-1], nil
}

func TestBuild(t *testing.T) {
	repo := fakeRepo{shaA: {shaB}, shaB: nil}
	task := &config.Task{ID: "t", Path: "t.yaml", Workload: "make bench", Repo: config.Repo{URL: "/r"}}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	p, err := Build(context.Background(), task, "c.txt", []Entry{{Human: shaA[:8]}, {Human: shaA, Pre: shaB}}, repo, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Items) != 2 || p.Items[0].ID != "t-0000" || p.Items[1].ID != "t-0001" {
		t.Fatalf("items %+v", p.Items)
	}
	if p.Items[0].Human != shaA || p.Items[0].Pre != shaB || p.Items[0].PreParentIndex != 1 || p.Items[0].Workload != "make bench" {
		t.Errorf("item 0 = %+v", p.Items[0])
	}
	if p.Items[1].PreParentIndex != 0 {
		t.Errorf("explicit pre should carry no parent index: %+v", p.Items[1])
	}
	// The hash depends on the items, not the time.
	q, _ := Build(context.Background(), task, "c.txt", []Entry{{Human: shaA[:8]}, {Human: shaA, Pre: shaB}}, repo, now.Add(time.Hour))
	if p.Hash != q.Hash {
		t.Errorf("hash changed with time")
	}

	_, err = Build(context.Background(), task, "c.txt", []Entry{{Human: "deadbeef", Where: "c.txt:4"}}, repo, now)
	if err == nil || !strings.Contains(err.Error(), "c.txt:4") || !strings.Contains(err.Error(), "deadbeef") {
		t.Errorf("unknown commit error = %v", err)
	}
	_, err = Build(context.Background(), task, "c.txt", []Entry{{Human: shaB, Where: "c.txt:1"}}, repo, now)
	if err == nil || !strings.Contains(err.Error(), "parent") {
		t.Errorf("root commit error = %v", err)
	}
}

func TestWriteReadRoundTrip(t *testing.T) {
	repo := fakeRepo{shaA: {shaB}, shaB: nil}
	task := &config.Task{ID: "t", Repo: config.Repo{URL: "/r"}}
	p, err := Build(context.Background(), task, "x", []Entry{{Human: shaA}}, repo, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := Write(path, p); err != nil {
		t.Fatal(err)
	}
	q, err := Read(path)
	if err != nil {
		t.Fatal(err)
	}
	if q.Hash != p.Hash || q.Items[0].Hash() != p.Items[0].Hash() {
		t.Errorf("round trip changed hashes")
	}
}

// planJSON is a resolved plan.json with one item.
func planJSON(human, pre, url string) string {
	return fmt.Sprintf(`{"schema_version": 1, "task_id": "t", "repo_url": %q, "resolved": true,
  "items": [{"id": "t-0000", "human": %q, "pre": %q}]}`, url, human, pre)
}

// Commits that are not full shas never reach git: prepare and evaluate
// refuse the plan, naming the item and the field.
func TestReadRejectsBadCommits(t *testing.T) {
	for _, tc := range []struct {
		name, human, pre, url, want string
	}{
		{"option as pre", shaA, "--output=x", "/r", `items[0] (t-0000): pre: expected a commit sha (40 or 64 lowercase hex digits), got "--output=x"`},
		{"option as human", "-h", shaB, "/r", `items[0] (t-0000): human: expected a commit sha`},
		{"path expression", shaA + ":etc/passwd", shaB, "/r", `human: expected a commit sha`},
		{"command substitution", shaA, "$(touch x)", "/r", `pre: expected a commit sha`},
		{"short sha", shaA[:12], shaB, "/r", `human: expected a commit sha`},
		{"upper case", strings.ToUpper("abcdef") + shaA[6:], shaB, "/r", `human: expected a commit sha`},
		{"empty pre", shaA, "", "/r", `pre: expected a commit sha (40 or 64 lowercase hex digits), got ""`},
		{"url option", shaA, shaB, "-uhttps://x", `repo_url: must not start with '-'`},
		{"ext url", shaA, shaB, "ext::sh -c x", `repo_url: the ext:: transport runs a command`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "plan.json")
			if err := os.WriteFile(path, []byte(planJSON(tc.human, tc.pre, tc.url)), 0o644); err != nil {
				t.Fatal(err)
			}
			for name, read := range map[string]func(string) (*Plan, error){"Read": Read, "ReadResolved": ReadResolved} {
				_, err := read(path)
				if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "plan "+path+": ") {
					t.Errorf("%s: err = %v, want %q", name, err, tc.want)
				} else if !badinput.Is(err) || strings.Contains(err.Error(), "\n") {
					t.Errorf("%s: err = %v: not one line of bad input", name, err)
				}
			}
		})
	}
	// A sha-256 repository's plan is fine.
	path := filepath.Join(t.TempDir(), "plan.json")
	sha256 := strings.Repeat("ab", 32)
	if err := os.WriteFile(path, []byte(planJSON(sha256, sha256, "/r")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadResolved(path); err != nil {
		t.Errorf("sha-256 plan: %v", err)
	}
}

// An unresolved plan (commits as written, as prepare --dry-run builds it)
// can be printed but not prepared.
func TestReadResolvedRefusesDryRunPlans(t *testing.T) {
	task := &config.Task{ID: "t", Repo: config.Repo{URL: "/r"}}
	path := filepath.Join(t.TempDir(), "plan.json")
	if err := Write(path, Unresolved(task, "x", []Entry{{Human: "main~1"}}, time.Now())); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(path); err != nil {
		t.Fatalf("Read: %v", err)
	}
	_, err := ReadResolved(path)
	if err == nil || !badinput.Is(err) || !strings.Contains(err.Error(), "the plan is not resolved") {
		t.Errorf("ReadResolved = %v", err)
	}
}

// FuzzReadResolved feeds arbitrary plan.json files: errors are one line of
// bad input, and an accepted plan names every commit by full sha and has a
// repository URL git reads as a URL or a path.
func FuzzReadResolved(f *testing.F) {
	f.Add([]byte(planJSON(shaA, shaB, "/r")))
	f.Add([]byte(planJSON(shaA, "--output=x", "/r")))
	f.Add([]byte(planJSON("$(id)", shaB, "fd::0")))
	f.Add([]byte(`{"schema_version": 1, "items": [{"id": "a", "human": "x"}]}`))
	f.Add([]byte("{"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "plan.json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		p, err := ReadResolved(path)
		if err != nil {
			if !badinput.Is(err) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %q: not one line of bad input", err)
			}
			return
		}
		if config.CheckRepoURL(p.RepoURL) != nil {
			t.Fatalf("repo_url %q accepted", p.RepoURL)
		}
		for _, it := range p.Items {
			if !IsSHA(it.Human) || !IsSHA(it.Pre) {
				t.Fatalf("item %+v accepted", it)
			}
		}
	})
}
