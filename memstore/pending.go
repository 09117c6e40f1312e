package memstore

// Where a delivery is in its subscription's pendingQueue for the waiting
// order (dlv.owhere).
const (
	waitNone uint8 = iota
	waitFIFO
	waitHeap
)

// pendingQueue holds a subscription's pending deliveries in two orders:
//
//   - the unleased ones by NextAttemptAt (then ID), for Claim: push, top,
//     pop, remove;
//   - all of them, leased or not, by the time since which each has waited
//     (dlv.waitingSince), for Stats.OldestPendingAt: wait, unwait, oldest.
//
// Deliveries mostly arrive in both orders at once (new ones are due at
// once and created later than those before them), so each order keeps
// those that arrive in it in a FIFO, taken in O(1), and the others
// (retries, expired leases, deliveries created out of order) in a heap of
// its own. The two orders share one FIFO array: a new delivery takes one
// entry for both, so the waiting order costs Enqueue no more memory and
// no more cache misses. An entry holds a delivery for the claim order
// when d.where is inPendingFIFO and d.idx is its index, for the waiting
// order when d.owhere is waitFIFO and d.oidx is its index; an entry that
// holds it for neither is nil.
type pendingQueue struct {
	fifo []*dlv
	phys int // non-nil entries of fifo

	// The claim order: its FIFO members are at head or after, in order;
	// tailNext and tailID are the key of the last one appended: one that
	// does not sort before it may be appended.
	head     int
	live     int
	tailNext int64
	tailID   string
	heap     pqueue[*dlv, pendingOps]

	// The waiting order, likewise; wtail is the waitingSince of the last
	// FIFO member appended.
	whead int
	wlive int
	wtail int64
	wheap pqueue[*dlv, waitOps]
}

type waitOps struct{}

func (waitOps) less(a, b *dlv) bool    { return a.waitingSince() < b.waitingSince() }
func (waitOps) setIndex(d *dlv, i int) { d.oidx = int32(i) }

// inClaim and inWait report whether the FIFO entry at i holds d for the
// claim order and for the waiting order.
func inClaim(d *dlv, i int) bool { return d.where == inPendingFIFO && int(d.idx) == i }
func inWait(d *dlv, i int) bool  { return d.owhere == waitFIFO && int(d.oidx) == i }

// len returns the number of deliveries in the claim order.
func (q *pendingQueue) len() int { return q.live + q.heap.len() }

// fifoTop returns the first delivery of the claim order's FIFO, nil if it
// is empty.
func (q *pendingQueue) fifoTop() *dlv {
	if q.live == 0 {
		return nil
	}
	for ; ; q.head++ {
		if d := q.fifo[q.head]; d != nil && inClaim(d, q.head) {
			return d
		}
	}
}

// top returns the earliest delivery of the claim order; there must be one.
func (q *pendingQueue) top() *dlv {
	f := q.fifoTop()
	if q.heap.len() == 0 {
		return f
	}
	if h := q.heap.top(); f == nil || pendingOps.less(pendingOps{}, h, f) {
		return h
	}
	return f
}

// push adds d to the claim order, marking where it went.
func (q *pendingQueue) push(d *dlv) {
	if q.live == 0 || d.next > q.tailNext || (d.next == q.tailNext && d.id > q.tailID) {
		i := q.entry(d)
		d.where, d.idx = inPendingFIFO, int32(i)
		if q.live == 0 {
			q.head = i
		}
		q.live++
		q.tailNext, q.tailID = d.next, d.id
		return
	}
	d.where = inPending
	q.heap.push(d)
}

// pop removes and returns the earliest delivery of the claim order; there
// must be one.
func (q *pendingQueue) pop() *dlv {
	d := q.top()
	q.remove(d)
	return d
}

// remove takes d, which is in the claim order, out of it. The caller sets
// d.where.
func (q *pendingQueue) remove(d *dlv) {
	if d.where == inPendingFIFO {
		i := int(d.idx)
		d.where, d.idx = inNone, -1
		q.live--
		q.release(i)
		return
	}
	q.heap.remove(int(d.idx))
	d.idx = -1
}

// wait adds d, pending, to the waiting order.
func (q *pendingQueue) wait(d *dlv) {
	d.sub.orderedWait(d) // (controls.go)
	since := d.waitingSince()
	if q.wlive > 0 && since < q.wtail {
		d.owhere = waitHeap
		q.wheap.push(d)
		return
	}
	i := q.entry(d)
	d.owhere, d.oidx = waitFIFO, int32(i)
	if q.wlive == 0 {
		q.whead = i
	}
	q.wlive++
	q.wtail = since
}

// unwait takes d, which is no longer pending, out of the waiting order.
func (q *pendingQueue) unwait(d *dlv) {
	switch d.owhere {
	case waitFIFO:
		i := int(d.oidx)
		d.owhere, d.oidx = waitNone, -1
		q.wlive--
		q.release(i)
	case waitHeap:
		q.wheap.remove(int(d.oidx))
		d.owhere, d.oidx = waitNone, -1
	}
}

// oldest returns the least waitingSince in the waiting order, and false
// if it is empty.
func (q *pendingQueue) oldest() (int64, bool) {
	since, ok := int64(0), false
	if q.wlive > 0 {
		for ; ; q.whead++ {
			if d := q.fifo[q.whead]; d != nil && inWait(d, q.whead) {
				since, ok = d.waitingSince(), true
				break
			}
		}
	}
	if q.wheap.len() > 0 {
		if h := q.wheap.top().waitingSince(); !ok || h < since {
			since, ok = h, true
		}
	}
	return since, ok
}

// waitLen returns the number of deliveries in the waiting order.
func (q *pendingQueue) waitLen() int { return q.wlive + q.wheap.len() }

// entry returns the index of a FIFO entry for d, which is being added to
// one order and is not in the other's FIFO but maybe as the last entry:
// that entry then serves both.
func (q *pendingQueue) entry(d *dlv) int {
	n := len(q.fifo)
	if n > 0 && q.fifo[n-1] == d {
		return n - 1
	}
	if dead := n - q.phys; dead > 32 && dead > q.phys {
		q.compact()
	}
	q.fifo = append(q.fifo, d)
	q.phys++
	return len(q.fifo) - 1
}

// release nils the FIFO entry at i if it holds its delivery for neither
// order any more, and empties the FIFO once no entry holds one.
func (q *pendingQueue) release(i int) {
	d := q.fifo[i]
	if inClaim(d, i) || inWait(d, i) {
		return
	}
	q.fifo[i] = nil
	q.phys--
	if q.phys == 0 {
		clear(q.fifo)
		q.fifo = q.fifo[:0]
		q.head, q.whead = 0, 0
	}
}

// compact moves the FIFO's non-nil entries to the front of its array, in
// order.
func (q *pendingQueue) compact() {
	n := 0
	head, whead := -1, -1
	for i, d := range q.fifo {
		if d == nil {
			continue
		}
		c, w := inClaim(d, i), inWait(d, i)
		if c {
			d.idx = int32(n)
			if head < 0 {
				head = n
			}
		}
		if w {
			d.oidx = int32(n)
			if whead < 0 {
				whead = n
			}
		}
		q.fifo[n] = d
		n++
	}
	clear(q.fifo[n:])
	q.fifo = q.fifo[:n]
	q.head, q.whead = max(head, 0), max(whead, 0)
}

// all returns the deliveries of the claim order, in no particular order.
func (q *pendingQueue) all() []*dlv {
	out := make([]*dlv, 0, q.len())
	for i, d := range q.fifo {
		if d != nil && inClaim(d, i) {
			out = append(out, d)
		}
	}
	return append(out, q.heap.items...)
}

// reset empties the queue, in both orders.
func (q *pendingQueue) reset() { *q = pendingQueue{} }
