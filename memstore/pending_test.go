package memstore

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestPendingQueueOrder drives a pendingQueue with random pushes (mostly in
// order, as new deliveries come, some earlier, as retries and expired
// leases do), pops and removals, and checks every top against the least of
// what it holds.
func TestPendingQueueOrder(t *testing.T) {
	for seed := range uint64(20) {
		rng := rand.New(rand.NewPCG(seed, 11))
		var q pendingQueue
		var held []*dlv
		clock, seq := int64(0), 0
		for step := range 5000 {
			switch op := rng.IntN(10); {
			case op < 5:
				clock += int64(rng.IntN(3))
				next := clock
				if rng.IntN(4) == 0 {
					next -= int64(rng.IntN(20))
				}
				seq++
				d := &dlv{id: fmt.Sprintf("d%06d", seq), next: next}
				q.push(d)
				held = append(held, d)
			case op < 8 && len(held) > 0:
				d := q.pop()
				i := slices.Index(held, d)
				if i < 0 {
					t.Fatalf("seed %d step %d: popped a delivery not held", seed, step)
				}
				held = slices.Delete(held, i, i+1)
			case len(held) > 0:
				i := rng.IntN(len(held))
				q.remove(held[i])
				held = slices.Delete(held, i, i+1)
			}
			if q.len() != len(held) {
				t.Fatalf("seed %d step %d: len %d, want %d", seed, step, q.len(), len(held))
			}
			if len(held) == 0 {
				continue
			}
			least := slices.MinFunc(held, func(a, b *dlv) int {
				switch {
				case pendingOps.less(pendingOps{}, a, b):
					return -1
				case pendingOps.less(pendingOps{}, b, a):
					return 1
				}
				return 0
			})
			if q.top() != least {
				t.Fatalf("seed %d step %d: top %s, want %s", seed, step, q.top().id, least.id)
			}
		}
	}
}
