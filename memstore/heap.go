package memstore

// heapOps orders the items of a pqueue and records where each one sits, so
// that an item can be fixed or removed in O(log n) from its index.
type heapOps[T any] interface {
	less(a, b T) bool
	setIndex(x T, i int)
}

// pqueue is a binary min-heap whose order and index bookkeeping come from
// the zero-size type O.
type pqueue[T any, O heapOps[T]] struct {
	items []T
}

func (q *pqueue[T, O]) len() int { return len(q.items) }

// top returns the least item; the queue must not be empty.
func (q *pqueue[T, O]) top() T { return q.items[0] }

func (q *pqueue[T, O]) push(x T) {
	var o O
	q.items = append(q.items, x)
	o.setIndex(x, len(q.items)-1)
	q.up(len(q.items) - 1)
}

func (q *pqueue[T, O]) pop() T { return q.remove(0) }

// remove takes out the item at index i and returns it.
func (q *pqueue[T, O]) remove(i int) T {
	var o O
	n := len(q.items) - 1
	x := q.items[i]
	if n != i {
		q.swap(i, n)
		if !q.down(i, n) {
			q.up(i)
		}
	}
	var zero T
	q.items[n] = zero
	q.items = q.items[:n]
	o.setIndex(x, -1)
	return x
}

// fix restores the order after the key of the item at index i changed.
func (q *pqueue[T, O]) fix(i int) {
	if !q.down(i, len(q.items)) {
		q.up(i)
	}
}

func (q *pqueue[T, O]) swap(i, j int) {
	var o O
	q.items[i], q.items[j] = q.items[j], q.items[i]
	o.setIndex(q.items[i], i)
	o.setIndex(q.items[j], j)
}

func (q *pqueue[T, O]) up(j int) {
	var o O
	for {
		i := (j - 1) / 2 // parent
		if i == j || !o.less(q.items[j], q.items[i]) {
			break
		}
		q.swap(i, j)
		j = i
	}
}

func (q *pqueue[T, O]) down(i0, n int) bool {
	var o O
	i := i0
	for {
		j1 := 2*i + 1
		if j1 >= n || j1 < 0 {
			break
		}
		j := j1
		if j2 := j1 + 1; j2 < n && o.less(q.items[j2], q.items[j1]) {
			j = j2
		}
		if !o.less(q.items[j], q.items[i]) {
			break
		}
		q.swap(i, j)
		i = j
	}
	return i > i0
}
