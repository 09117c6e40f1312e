package memstore

import (
	"math/rand/v2"
	"slices"
	"testing"
)

type item struct{ key, idx int }

type itemOps struct{}

func (itemOps) less(a, b *item) bool    { return a.key < b.key }
func (itemOps) setIndex(x *item, i int) { x.idx = i }

// TestPQueue checks the heap against a sorted slice under random pushes,
// pops, removals and key changes.
func TestPQueue(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var q pqueue[*item, itemOps]
	var live []*item
	for step := range 20000 {
		switch op := rng.IntN(4); {
		case op == 0 || len(live) == 0:
			x := &item{key: rng.IntN(1000)}
			q.push(x)
			live = append(live, x)
		case op == 1:
			x := q.pop()
			for _, y := range live {
				if y.key < x.key {
					t.Fatalf("step %d: popped %d, but %d is queued", step, x.key, y.key)
				}
			}
			live = slices.DeleteFunc(live, func(y *item) bool { return y == x })
		case op == 2:
			x := live[rng.IntN(len(live))]
			if got := q.remove(x.idx); got != x {
				t.Fatalf("step %d: remove(%d) took the wrong item", step, x.idx)
			}
			live = slices.DeleteFunc(live, func(y *item) bool { return y == x })
		default:
			x := live[rng.IntN(len(live))]
			x.key = rng.IntN(1000)
			q.fix(x.idx)
		}
		if q.len() != len(live) {
			t.Fatalf("step %d: len %d, want %d", step, q.len(), len(live))
		}
		for i, x := range q.items {
			if x.idx != i {
				t.Fatalf("step %d: item at %d records index %d", step, i, x.idx)
			}
			if i > 0 && (itemOps{}).less(x, q.items[(i-1)/2]) {
				t.Fatalf("step %d: heap order broken at %d", step, i)
			}
		}
	}
}
