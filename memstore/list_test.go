package memstore

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestSortedListMatchesASortedSlice drives a sortedList and a plain sorted
// slice with the same random inserts (mostly appends, as IDs come),
// removals, lookups and pages, and compares them after each step.
func TestSortedListMatchesASortedSlice(t *testing.T) {
	for seed := range uint64(3) {
		rng := rand.New(rand.NewPCG(seed, 7))
		// Each record's time is a function of its key, mostly growing
		// with it, as IDs and times do, with some out of order.
		span := func(s *string) int64 {
			k, _ := strconv.ParseInt((*s)[1:], 10, 64)
			if k%7 == 0 {
				return (k * 7919) % 5000
			}
			return k
		}
		l := newSpanList(func(s *string) string { return *s }, span)
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
			default: // a page from a random cursor, either way, maybe filtered
				cursor := ""
				switch rng.IntN(3) {
				case 0:
					if len(want) > 0 {
						cursor = *want[rng.IntN(len(want))]
					}
				case 1:
					cursor = fmt.Sprintf("k%08d", rng.IntN(next+2)) // maybe not in the list
				}
				limit := 1 + rng.IntN(50)
				desc := rng.IntN(2) == 0
				keep := func(*string) bool { return true }
				if rng.IntN(2) == 0 {
					keep = func(s *string) bool { return (*s)[len(*s)-1]%3 != 0 }
				}
				got, gotNext := l.page(cursor, limit, desc, keep)
				exp, expNext := refPage(want, cursor, limit, desc, keep)
				if !slices.Equal(got, exp) || gotNext != expNext {
					t.Fatalf("seed %d step %d: page(%q, %d, %v) differs", seed, step, cursor, limit, desc)
				}
				// Walking in steps of a small budget, each from where the
				// last stopped, pages alike.
				var p pager[*string]
				p.limit, p.keep, p.key = limit, keep, func(s *string) string { return *s }
				budget := 1 + rng.IntN(40)
				for from := cursor; ; {
					last, more := l.walk(from, desc, budget, nil, p.visit)
					if !more {
						break
					}
					from = last
				}
				if !slices.Equal(p.out, exp) || p.next != expNext {
					t.Fatalf("seed %d step %d: walk in steps of %d (%q, %d, %v) differs", seed, step, budget, cursor, limit, desc)
				}
				// And within a range of times, skipping the chunks that
				// hold none.
				r := &timeRange{from: int64(rng.IntN(next + 1)), to: math.MaxInt64}
				if rng.IntN(2) == 0 {
					r.to = r.from + int64(rng.IntN(next/4+2))
				}
				inRange := func(s *string) bool { t := span(s); return keep(s) && t >= r.from && t < r.to }
				expIn, expInNext := refPage(want, cursor, limit, desc, inRange)
				p = pager[*string]{limit: limit, keep: inRange, key: func(s *string) string { return *s }}
				for from := cursor; ; {
					last, more := l.walk(from, desc, budget, r, p.visit)
					if !more {
						break
					}
					from = last
				}
				if !slices.Equal(p.out, expIn) || p.next != expInNext {
					t.Fatalf("seed %d step %d: walk in [%d, %d) in steps of %d (%q, %d, %v) differs", seed, step, r.from, r.to, budget, cursor, limit, desc)
				}
				// A plain slice pages alike.
				got, gotNext = page(want, func(s *string) string { return *s }, cursor, limit, desc, keep)
				if !slices.Equal(got, exp) || gotNext != expNext {
					t.Fatalf("seed %d step %d: page of a slice (%q, %d, %v) differs", seed, step, cursor, limit, desc)
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
		if len(l.lo) != len(l.chunks) || len(l.hi) != len(l.chunks) {
			t.Fatalf("seed %d: bounds of %d and %d chunks, %d chunks", seed, len(l.lo), len(l.hi), len(l.chunks))
		}
		for ci, c := range l.chunks {
			if len(c) == 0 || len(c) > chunkSize {
				t.Fatalf("chunk of %d", len(c))
			}
			for _, x := range c {
				if t0 := span(x); t0 < l.lo[ci] || t0 > l.hi[ci] {
					t.Fatalf("seed %d: chunk %d bounds [%d, %d] miss %d", seed, ci, l.lo[ci], l.hi[ci], t0)
				}
			}
			all = append(all, c...)
		}
		if !slices.Equal(all, want) {
			t.Fatalf("seed %d: contents differ", seed)
		}
	}
}

// refPage is sortedList.page done the plain way: filter, in order, from
// the cursor, up to limit, looking one ahead for the next cursor.
func refPage(sorted []*string, cursor string, limit int, desc bool, keep func(*string) bool) ([]*string, string) {
	var all []*string
	for _, s := range sorted {
		if keep(s) && (cursor == "" || (!desc && *s > cursor) || (desc && *s < cursor)) {
			all = append(all, s)
		}
	}
	if desc {
		slices.Reverse(all)
	}
	if len(all) > limit {
		return all[:limit], *all[limit-1]
	}
	return all, ""
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
