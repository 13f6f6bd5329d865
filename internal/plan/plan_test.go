package plan

import (
	"context"
	"fmt"
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
