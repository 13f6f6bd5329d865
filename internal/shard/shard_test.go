package shard

import (
	"errors"
	"fmt"
	"math/rand"
	"testing"
	"testing/quick"
)

func TestParse(t *testing.T) {
	for in, want := range map[string]Spec{"0/1": {0, 1}, "0/4": {0, 4}, "3/4": {3, 4}, " 2 / 3 ": {2, 3}} {
		got, err := Parse(in)
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "x", "3/3", "1/0", "-1/2", "1", "1/2/3", "a/b", "4/3"} {
		_, err := Parse(bad)
		var e *Error
		if !errors.As(err, &e) || !e.BadInput() {
			t.Errorf("Parse(%q): %v, want a bad-input *Error", bad, err)
		}
	}
	if (Spec{}).String() != "" || (Spec{2, 5}).String() != "2/5" {
		t.Error("String")
	}
}

func TestZeroAndOneHaveAll(t *testing.T) {
	for _, s := range []Spec{{}, {0, 1}} {
		for i := range 100 {
			if !s.Has(fmt.Sprintf("t-%04d", i)) {
				t.Fatalf("%v lacks an item", s)
			}
		}
	}
}

// The hash is an on-disk contract: a run's shards must stay the same
// across bench versions, or a resumed shard would redo or skip another's
// items. These values pin FNV-1a 64.
func TestOfPinned(t *testing.T) {
	for id, want := range map[string]int{"demo-0000": pinned("demo-0000", 4), "sqlite-0042": pinned("sqlite-0042", 4)} {
		if got := Of(id, 4); got != want {
			t.Errorf("Of(%q, 4) = %d, want %d", id, got, want)
		}
	}
	// FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c.
	if got, want := Of("a", 1000003), int(uint64(0xaf63dc4c8601ec8c)%1000003); got != want {
		t.Errorf("Of(a) = %d, want %d", got, want)
	}
	if got, want := Of("", 7), int(uint64(0xcbf29ce484222325)%7); got != want {
		t.Errorf("Of(\"\") = %d, want %d", got, want)
	}
}

// pinned computes FNV-1a 64 by its definition, independently of hash/fnv.
func pinned(s string, n int) int {
	h := uint64(0xcbf29ce484222325)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 0x100000001b3
	}
	return int(h % uint64(n))
}

// The property: for any set of ids and any N, the N shards are disjoint,
// cover the set, and each id's shard does not depend on the order the ids
// are given in, on which of them are already finished (a resume), or on
// the order the shard processes run in.
func TestPartitionProperty(t *testing.T) {
	f := func(seed int64, nItems uint16, nShards uint8) bool {
		r := rand.New(rand.NewSource(seed))
		n := int(nShards%16) + 1
		ids := make([]string, int(nItems%300))
		for i := range ids {
			ids[i] = fmt.Sprintf("task%d-%04d", r.Intn(5), i)
		}
		// Each shard process, started in a random order, takes its items
		// from the ids in its own random order, some finished already.
		owner := map[string]int{}
		finished := map[string]bool{}
		for _, id := range ids {
			finished[id] = r.Intn(3) == 0
		}
		for _, i := range r.Perm(n) {
			s, err := Parse(fmt.Sprintf("%d/%d", i, n))
			if err != nil {
				t.Log(err)
				return false
			}
			order := append([]string(nil), ids...)
			r.Shuffle(len(order), func(a, b int) { order[a], order[b] = order[b], order[a] })
			for _, id := range order {
				if !s.Has(id) {
					continue
				}
				if o, ok := owner[id]; ok && o != i {
					t.Logf("%s in shards %d and %d of %d", id, o, i, n)
					return false
				}
				owner[id] = i
			}
			// A resume: the unfinished ids only, in yet another order.
			for _, id := range order {
				o, ok := owner[id]
				if !finished[id] && s.Has(id) != (ok && o == i) {
					t.Logf("%s changed shard on resume", id)
					return false
				}
			}
		}
		for _, id := range ids {
			if _, ok := owner[id]; !ok {
				t.Logf("%s in no shard of %d", id, n)
				return false
			}
		}
		return true
	}
	if err := quick.Check(f, &quick.Config{MaxCount: 300}); err != nil {
		t.Fatal(err)
	}
}

// Plan item ids (<task>-NNNN) spread over the shards: no shard of a
// 1000-item plan is empty or holds more than twice its share.
func TestSpread(t *testing.T) {
	for _, n := range []int{2, 3, 4, 8, 16} {
		count := make([]int, n)
		for i := range 1000 {
			count[Of(fmt.Sprintf("sqlite-%04d", i), n)]++
		}
		for i, c := range count {
			if c == 0 || c > 2*1000/n {
				t.Errorf("N=%d: shard %d has %d of 1000 items", n, i, c)
			}
		}
	}
}

func TestLargest(t *testing.T) {
	ids := []string{"a-0000", "a-0001", "a-0002", "a-0003", "a-0004", "a-0005", "a-0006"}
	for _, n := range []int{0, 1, 2, 3, 7} {
		counts := map[int]int{}
		most := 0
		for _, id := range ids {
			counts[Of(id, n)]++
			most = max(most, counts[Of(id, n)])
		}
		if got := Largest(ids, n); got != most {
			t.Errorf("Largest(%d) = %d, want %d", n, got, most)
		}
	}
	if Largest(nil, 3) != 0 {
		t.Error("Largest of no items is not 0")
	}
}
