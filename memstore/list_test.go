package memstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSortedListMatchesASortedSlice drives a sortedList and a plain sorted
// slice with the same random inserts (mostly appends, as IDs come),
// removals, lookups and pages, and compares them after each step.
func TestSortedListMatchesASortedSlice(t *testing.T) {
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(seed, 7))
		l := newSortedList(func(s *string) string { return *s })
		var want []*string
		next := 0
		for step := range 20_000 {
			switch op := rng.IntN(10); {
			case op < 6: // insert: usually a new greatest key, sometimes in between
				k := next
				if rng.IntN(4) == 0 && next > 0 {
					k = rng.IntN(next)
				} else {
					next += 1 + rng.IntN(3)
				}
				s := fmt.Sprintf("k%08d", k)
				if _, ok := l.find(s); ok {
					continue
				}
				x := &s
				l.insert(x)
				i, _ := slices.BinarySearchFunc(want, s, func(a *string, k string) int { return cmpString(*a, k) })
				want = slices.Insert(want, i, x)
			case op < 9 && len(want) > 0: // remove
				i := rng.IntN(len(want))
				l.remove(want[i], same)
				want = slices.Delete(want, i, i+1)
			default: // a page from a random cursor
				cursor := ""
				if len(want) > 0 && rng.IntN(2) == 0 {
					cursor = *want[rng.IntN(len(want))]
				}
				limit := 1 + rng.IntN(50)
				got, gotNext := l.page(cursor, limit, func(*string) bool { return true })
				exp, expNext := page(want, func(s *string) string { return *s }, cursor, limit, keepAll)
				if !slices.Equal(got, exp) || gotNext != expNext {
					t.Fatalf("seed %d step %d: page(%q, %d) differs", seed, step, cursor, limit)
				}
			}
			if l.len() != len(want) {
				t.Fatalf("seed %d step %d: len %d, want %d", seed, step, l.len(), len(want))
			}
			if len(want) > 0 {
				x := want[rng.IntN(len(want))]
				if got, ok := l.find(*x); !ok || got != x {
					t.Fatalf("seed %d step %d: find(%q) failed", seed, step, *x)
				}
			}
		}
		var all []*string
		for _, c := range l.chunks {
			if len(c) == 0 || len(c) > chunkSize {
				t.Fatalf("chunk of %d", len(c))
			}
			all = append(all, c...)
		}
		if !slices.Equal(all, want) {
			t.Fatalf("seed %d: contents differ", seed)
		}
	}
}

func cmpString(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
