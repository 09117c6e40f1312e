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

// TestPendingQueueBothOrders drives a pendingQueue as the store does, in
// both its orders: deliveries enqueued (mostly due and created in order,
// sharing a FIFO entry), claimed, retried, finished and redelivered. After
// each step it checks top against the least unleased delivery, and oldest
// against the least waitingSince of the pending ones.
func TestPendingQueueBothOrders(t *testing.T) {
	for seed := range uint64(6) {
		rng := rand.New(rand.NewPCG(seed, 13))
		var q pendingQueue
		var unleased, leased, finished []*dlv
		clock, seq := int64(0), 0
		take := func(from *[]*dlv, i int) *dlv {
			d := (*from)[i]
			*from = slices.Delete(*from, i, i+1)
			return d
		}
		for step := range 4000 {
			switch op := rng.IntN(12); {
			case op < 4: // enqueue
				clock += int64(rng.IntN(3))
				seq++
				d := &dlv{id: fmt.Sprintf("d%06d", seq), next: clock, created: clock}
				if rng.IntN(6) == 0 {
					d.next -= int64(rng.IntN(20)) // due earlier
				}
				if rng.IntN(6) == 0 {
					d.created -= int64(rng.IntN(20)) // created earlier
				}
				q.push(d)
				q.wait(d)
				unleased = append(unleased, d)
			case op < 6 && len(unleased) > 0: // claim the earliest
				d := q.pop()
				i := slices.Index(unleased, d)
				if i < 0 {
					t.Fatalf("seed %d step %d: popped a delivery not unleased", seed, step)
				}
				take(&unleased, i)
				d.where = inLeased
				leased = append(leased, d)
			case op < 7 && len(leased) > 0: // retried, or its lease expired
				d := take(&leased, rng.IntN(len(leased)))
				d.next = clock + int64(rng.IntN(20)-5)
				q.push(d)
				unleased = append(unleased, d)
			case op < 9 && len(leased) > 0: // finished
				d := take(&leased, rng.IntN(len(leased)))
				d.where = inNone
				q.unwait(d)
				finished = append(finished, d)
			case op < 10 && len(unleased) > 0: // its subscription's other changes: taken out unleased
				d := take(&unleased, rng.IntN(len(unleased)))
				q.remove(d)
				q.unwait(d)
			case op < 11 && len(finished) > 0: // redelivered
				d := take(&finished, rng.IntN(len(finished)))
				clock++
				d.hist = &history{redelivered: clock}
				d.next = clock
				q.push(d)
				q.wait(d)
				unleased = append(unleased, d)
			default:
				clock += int64(rng.IntN(5))
			}
			if q.len() != len(unleased) || q.waitLen() != len(unleased)+len(leased) {
				t.Fatalf("seed %d step %d: len %d, %d; want %d, %d", seed, step, q.len(), q.waitLen(), len(unleased), len(unleased)+len(leased))
			}
			if len(unleased) > 0 {
				least := slices.MinFunc(unleased, func(a, b *dlv) int {
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
			want, wantOK := int64(0), false
			for _, d := range slices.Concat(unleased, leased) {
				if w := d.waitingSince(); !wantOK || w < want {
					want, wantOK = w, true
				}
			}
			if got, ok := q.oldest(); ok != wantOK || got != want {
				t.Fatalf("seed %d step %d: oldest = %d, %v; want %d, %v", seed, step, got, ok, want, wantOK)
			}
			if q.phys > 2*(len(unleased)+len(leased))+64 || q.phys > len(q.fifo) {
				t.Fatalf("seed %d step %d: %d entries held, %d in the array, for %d deliveries",
					seed, step, q.phys, len(q.fifo), len(unleased)+len(leased))
			}
		}
	}
}
