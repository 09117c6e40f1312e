package memstore

import (
	"math"
	"slices"
	"strings"
)

// chunkSize is the most entries of one chunk of a sortedList, and
// firstChunk the capacity its first chunk starts with: a list of an
// organization's deliveries or events may hold a handful.
const (
	chunkSize  = 512
	firstChunk = 4
)

// sortedList holds records sorted by a string key in chunks of at most
// chunkSize, so that it never copies more than a chunk to insert or delete,
// and never a large array to grow: the store's lists of every delivery and
// of an organization's events may hold millions, and are changed under the
// store's lock. Appending a key greater than every other, the usual case
// (IDs grow with time), fills the last chunk in place.
//
// A list may also bound, per chunk, a time its records carry (span: a
// delivery's creation, an event's Timestamp), so that a walk for records
// in a time range skips the chunks that hold none: IDs grow with time, so
// a range of times is mostly a run of chunks.
type sortedList[T any] struct {
	key    func(T) string
	chunks [][]T // each non-empty and sorted; all of chunks[i] before chunks[i+1]
	n      int

	// span, when set, is the time of a record; lo[i] and hi[i] bound it
	// over chunks[i]. Removals leave the bounds as they were: looser, never
	// wrong.
	span   func(T) int64
	lo, hi []int64
}

func newSortedList[T any](key func(T) string) sortedList[T] {
	return sortedList[T]{key: key}
}

// newSpanList returns a sortedList whose chunks bound span.
func newSpanList[T any](key func(T) string, span func(T) int64) sortedList[T] {
	return sortedList[T]{key: key, span: span}
}

// widen makes the bounds of chunk ci take in x.
func (l *sortedList[T]) widen(ci int, x T) {
	if l.span == nil {
		return
	}
	t := l.span(x)
	l.lo[ci] = min(l.lo[ci], t)
	l.hi[ci] = max(l.hi[ci], t)
}

// bound sets the bounds of chunk ci from its records.
func (l *sortedList[T]) bound(ci int) {
	if l.span == nil {
		return
	}
	lo, hi := int64(math.MaxInt64), int64(math.MinInt64)
	for _, x := range l.chunks[ci] {
		t := l.span(x)
		lo, hi = min(lo, t), max(hi, t)
	}
	l.lo[ci], l.hi[ci] = lo, hi
}

// spanRange is a range of times [from, to) that a walk keeps to, with the
// bounds of the chunks walked.
type spanRange struct {
	lo, hi   []int64
	from, to int64
}

// misses reports whether chunk ci holds no record in the range.
func (r *spanRange) misses(ci int) bool {
	return r != nil && (r.hi[ci] < r.from || r.lo[ci] >= r.to)
}

// timeRange is a range of times [from, to) in Unix nanoseconds.
type timeRange struct{ from, to int64 }

// within returns the range r over the list's chunks as they are now; nil
// when r is nil or the list bounds no time.
func (l *sortedList[T]) within(r *timeRange) *spanRange {
	if l.span == nil || r == nil {
		return nil
	}
	return &spanRange{lo: l.lo, hi: l.hi, from: r.from, to: r.to}
}

func (l *sortedList[T]) len() int { return l.n }

// chunkFor returns the index of the first chunk whose last key is k or
// more: the one that holds k or would. It is len(l.chunks) if none. Keys
// at either end, the usual ones (new IDs, and the oldest, which Prune
// removes), are found without a binary search over the chunks.
func (l *sortedList[T]) chunkFor(k string) int {
	n := len(l.chunks)
	switch {
	case n == 0:
		return 0
	case k <= l.key(l.chunks[0][len(l.chunks[0])-1]):
		return 0
	case n > 1 && k > l.key(l.chunks[n-2][len(l.chunks[n-2])-1]):
		if k <= l.key(l.chunks[n-1][len(l.chunks[n-1])-1]) {
			return n - 1
		}
		return n
	}
	i, _ := slices.BinarySearchFunc(l.chunks, k, func(c []T, k string) int {
		return strings.Compare(l.key(c[len(c)-1]), k)
	})
	return i
}

// search returns the position of the first record whose key is k or more,
// and whether its key is k. A position past the end has ci =
// len(l.chunks).
func (l *sortedList[T]) search(k string) (ci, i int, found bool) {
	ci = l.chunkFor(k)
	if ci == len(l.chunks) {
		return ci, 0, false
	}
	c := l.chunks[ci]
	i, found = slices.BinarySearchFunc(c, k, func(x T, k string) int { return strings.Compare(l.key(x), k) })
	return ci, i, found
}

// afterLast reports whether k is greater than every key in the list (true
// for an empty list): the usual case of a new ID, told without a search.
func (l *sortedList[T]) afterLast(k string) bool {
	n := len(l.chunks)
	if n == 0 {
		return true
	}
	last := l.chunks[n-1]
	return l.key(last[len(last)-1]) < k
}

// find returns the record with key k.
func (l *sortedList[T]) find(k string) (T, bool) {
	if n := len(l.chunks); n > 0 {
		last := l.chunks[n-1]
		if l.key(last[len(last)-1]) < k {
			var zero T
			return zero, false // the usual miss: a new ID
		}
	}
	ci, i, found := l.search(k)
	if !found {
		var zero T
		return zero, false
	}
	return l.chunks[ci][i], true
}

// insert adds x, whose key must not be in the list.
func (l *sortedList[T]) insert(x T) {
	k := l.key(x)
	n := len(l.chunks)
	if n == 0 || l.key(l.chunks[n-1][len(l.chunks[n-1])-1]) < k {
		l.appendMax(x)
		return
	}
	l.n++
	ci, i, _ := l.search(k) // ci < n: the last chunk's last key is greater
	c := l.chunks[ci]
	if len(c) == chunkSize {
		// Split the full chunk in two, and insert into the right half.
		right := make([]T, len(c)-chunkSize/2, chunkSize)
		copy(right, c[chunkSize/2:])
		clear(c[chunkSize/2:])
		c = c[:chunkSize/2]
		l.chunks[ci] = c
		l.chunks = slices.Insert(l.chunks, ci+1, right)
		if l.span != nil {
			l.lo = slices.Insert(l.lo, ci+1, 0)
			l.hi = slices.Insert(l.hi, ci+1, 0)
			l.bound(ci)
			l.bound(ci + 1)
		}
		if i > len(c) {
			ci, i, c = ci+1, i-len(c), right
		}
	}
	l.chunks[ci] = slices.Insert(c, i, x)
	l.widen(ci, x)
}

// appendMax adds x, whose key must be greater than every other.
func (l *sortedList[T]) appendMax(x T) {
	l.n++
	n := len(l.chunks)
	if n > 0 && len(l.chunks[n-1]) < chunkSize {
		l.chunks[n-1] = append(l.chunks[n-1], x)
		l.widen(n-1, x)
		return
	}
	size := chunkSize
	if n == 0 {
		size = firstChunk // it grows by append up to chunkSize
	}
	c := make([]T, 1, size)
	c[0] = x
	l.chunks = append(l.chunks, c)
	if l.span != nil {
		t := l.span(x)
		l.lo, l.hi = append(l.lo, t), append(l.hi, t)
	}
}

// remove deletes x, if it is in the list.
func (l *sortedList[T]) remove(x T, same func(a, b T) bool) {
	ci, i, found := l.search(l.key(x))
	if !found || !same(l.chunks[ci][i], x) {
		return
	}
	l.n--
	c := l.chunks[ci]
	switch {
	case i == 0:
		// The usual removal (the oldest pending delivery finishing, the
		// oldest event pruned): no copy.
		var zero T
		c[0] = zero
		c = c[1:]
	case i < len(c)/2:
		// Near the front (a delivery finishing a little out of order):
		// move the records before it up by one rather than the many
		// after it down.
		copy(c[1:i+1], c[:i])
		var zero T
		c[0] = zero
		c = c[1:]
	default:
		c = slices.Delete(c, i, i+1)
	}
	if len(c) == 0 {
		l.chunks = slices.Delete(l.chunks, ci, ci+1)
		if l.span != nil {
			l.lo = slices.Delete(l.lo, ci, ci+1)
			l.hi = slices.Delete(l.hi, ci, ci+1)
		}
		return
	}
	l.chunks[ci] = c
}

// page returns up to limit of the records that keep says to keep, after
// the key cursor in ascending key order (before it in descending order
// when desc), from the first (last) when cursor is empty, and the cursor
// of the next page: the key of the last one returned when another one
// would be kept after it, "" otherwise.
func (l *sortedList[T]) page(cursor string, limit int, desc bool, keep func(T) bool) ([]T, string) {
	return pageChunks(l.chunks, l.key, cursor, limit, desc, keep)
}

// walk is walkChunks of the list, skipping the chunks that hold no
// record in the time range r (nil: none skipped).
func (l *sortedList[T]) walk(from string, desc bool, budget int, r *timeRange, visit func(T) bool) (string, bool) {
	return walkChunks(l.chunks, l.key, from, desc, budget, l.within(r), visit)
}

// pageChunks is sortedList.page of the records in chunks, each sorted by
// key, all of chunks[i] before chunks[i+1]; a chunk may be empty.
func pageChunks[T any](chunks [][]T, key func(T) string, cursor string, limit int, desc bool, keep func(T) bool) ([]T, string) {
	var p pager[T]
	p.limit, p.keep, p.key = limit, keep, key
	walkChunks(chunks, key, cursor, desc, math.MaxInt, nil, p.visit)
	return p.out, p.next
}

// pager gathers a page of records as walkChunks visits them: up to limit
// of those that keep keeps, and in next the key of the last of them once
// one more is met.
type pager[T any] struct {
	limit int
	keep  func(T) bool
	key   func(T) string
	out   []T
	next  string
}

func (p *pager[T]) visit(x T) bool {
	if !p.keep(x) {
		return true
	}
	if len(p.out) == p.limit {
		p.next = p.key(p.out[len(p.out)-1])
		return false
	}
	p.out = append(p.out, x)
	return true
}

// walkChunks calls visit with the records in chunks (each sorted by key,
// all of chunks[i] before chunks[i+1]; a chunk may be empty) after the key
// from in ascending order (before it in descending order when desc), from
// the first (last) when from is empty, until visit returns false or it
// has visited budget records. It skips the chunks that within (nil for
// none) says hold no record in its range, each counted as one record
// visited. It returns the key of the last record visited (or the last
// of a chunk skipped), and more = true when it stopped for the budget: a
// walk from that key goes on where it stopped.
func walkChunks[T any](chunks [][]T, key func(T) string, from string, desc bool, budget int, within *spanRange, visit func(T) bool) (last string, more bool) {
	cmp := func(x T, k string) int { return strings.Compare(key(x), k) }
	// ci, i is where the walk starts: the first record after from
	// (ascending), or the one after the last record before it
	// (descending).
	ci, i := 0, 0
	switch {
	case from != "":
		ci, _ = slices.BinarySearchFunc(chunks, from, func(c []T, k string) int {
			if len(c) == 0 {
				return -1
			}
			return cmp(c[len(c)-1], k)
		})
		if ci < len(chunks) {
			var found bool
			i, found = slices.BinarySearchFunc(chunks[ci], from, cmp)
			if found && !desc {
				i++
			}
		}
	case desc:
		ci = len(chunks)
	}
	n := 0
	if !desc {
		for ; ci < len(chunks); ci, i = ci+1, 0 {
			if within.misses(ci) && i < len(chunks[ci]) {
				if n == budget {
					return last, true
				}
				n++
				if n == budget || ci == len(chunks)-1 {
					last = key(chunks[ci][len(chunks[ci])-1]) // only when it may be returned
				}
				continue
			}
			for _, x := range chunks[ci][i:] {
				if n == budget {
					return last, true
				}
				n++
				last = key(x)
				if !visit(x) {
					return last, false
				}
			}
		}
		return last, false
	}
	// Descending: chunks[ci][:i] and the chunks before ci.
	for {
		if ci < len(chunks) && within.misses(ci) && i > 0 {
			if n == budget {
				return last, true
			}
			n++
			if n == budget || ci == 0 {
				last = key(chunks[ci][0]) // only when it may be returned
			}
		} else if ci < len(chunks) {
			c := chunks[ci]
			for j := i - 1; j >= 0; j-- {
				if n == budget {
					return last, true
				}
				n++
				last = key(c[j])
				if !visit(c[j]) {
					return last, false
				}
			}
		}
		if ci == 0 {
			return last, false
		}
		ci--
		i = len(chunks[ci])
	}
}
