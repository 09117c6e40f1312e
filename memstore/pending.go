package memstore

// pendingQueue holds a subscription's unleased pending deliveries in order
// of NextAttemptAt (then ID). Deliveries mostly arrive in that order (new
// ones are due at once, later than those before them), so those that do
// go to a FIFO, taken in O(1); the others (retries, expired leases) go to
// a heap. The earliest delivery is the earlier of the two heads.
type pendingQueue struct {
	// fifo[head:] are in order; a nil is a delivery removed from the
	// middle. Each one's idx is its index in fifo.
	fifo []*dlv
	head int
	live int // non-nil entries of fifo[head:]
	// tailNext and tailID are the key of the last delivery appended to
	// fifo: one that does not sort before it may be appended.
	tailNext int64
	tailID   string
	heap     pqueue[*dlv, pendingOps]
}

func (q *pendingQueue) len() int { return q.live + q.heap.len() }

// fifoTop returns the head of the FIFO, nil if it is empty.
func (q *pendingQueue) fifoTop() *dlv {
	for q.head < len(q.fifo) && q.fifo[q.head] == nil {
		q.head++
	}
	if q.head == len(q.fifo) {
		return nil
	}
	return q.fifo[q.head]
}

// top returns the earliest delivery; the queue must not be empty.
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

// push adds d, marking where it went.
func (q *pendingQueue) push(d *dlv) {
	if q.live == 0 || d.next > q.tailNext || (d.next == q.tailNext && d.id > q.tailID) {
		if q.live == 0 {
			// Empty: start over at the front of the array.
			clear(q.fifo[:len(q.fifo)])
			q.fifo, q.head = q.fifo[:0], 0
		} else if q.head > len(q.fifo)/2 && q.head > 32 {
			q.compact()
		}
		d.where, d.idx = inPendingFIFO, int32(len(q.fifo))
		q.fifo = append(q.fifo, d)
		q.live++
		q.tailNext, q.tailID = d.next, d.id
		return
	}
	d.where = inPending
	q.heap.push(d)
}

// compact moves the FIFO's entries to the front of its array.
func (q *pendingQueue) compact() {
	n := 0
	for _, d := range q.fifo[q.head:] {
		if d != nil {
			d.idx = int32(n)
			q.fifo[n] = d
			n++
		}
	}
	clear(q.fifo[n:])
	q.fifo, q.head = q.fifo[:n], 0
}

// pop removes and returns the earliest delivery; the queue must not be
// empty.
func (q *pendingQueue) pop() *dlv {
	d := q.top()
	q.remove(d)
	return d
}

// remove takes d, which is in the queue, out of it.
func (q *pendingQueue) remove(d *dlv) {
	if d.where == inPendingFIFO {
		q.fifo[d.idx] = nil
		q.live--
		if q.live == 0 {
			clear(q.fifo)
			q.fifo, q.head = q.fifo[:0], 0
		}
	} else {
		q.heap.remove(int(d.idx))
	}
	d.idx = -1
}

// all returns the deliveries in the queue, in no particular order.
func (q *pendingQueue) all() []*dlv {
	out := make([]*dlv, 0, q.len())
	for _, d := range q.fifo[q.head:] {
		if d != nil {
			out = append(out, d)
		}
	}
	return append(out, q.heap.items...)
}

// reset empties the queue.
func (q *pendingQueue) reset() { *q = pendingQueue{} }
