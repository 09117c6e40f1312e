package memstore

import "github.com/relayhook/webhook"

// atConcurrencyCap reports whether the subscription has as many leased
// deliveries as its MaxConcurrency allows: it then stays out of the due
// heap, so Claim and NextDue pass it by at no cost, until a lease ends
// (Finish, or expiry). Called with s.mu held, on an Active subscription.
func (ss *subState) atConcurrencyCap() bool {
	m := ss.cur.MaxConcurrency
	if ss.cur.Ordered {
		m = 1
	}
	return m > 0 && ss.leased.len() >= m
}

// controlsChanged requeues the subscription after an update changed its
// MaxConcurrency or RateLimit, and wakes the dispatchers when that let deliveries
// through.
func (s *Store) controlsChanged(ss *subState, old *webhook.Subscription) {
	orderChanged := old.Ordered != ss.cur.Ordered
	if orderChanged {
		ss.buildOrder()
	}
	rateChanged := old.RateLimit.Interval() != ss.cur.RateLimit.Interval()
	if (rateChanged || orderChanged) && ss.rate.idx > 0 {
		// Held back by the old settings: the new ones decide from now on.
		s.throttled.remove(ss.rate.idx - 1)
	}
	if rateChanged {
		ss.rate.tat = 0
	}
	rateChanged = rateChanged || orderChanged
	if (old.MaxConcurrency == ss.cur.MaxConcurrency && !rateChanged) || !ss.active() {
		return
	}
	s.requeue(ss)
	if ss.dueIdx >= 0 {
		s.wake()
	}
}

// rateState is a subscription's RateLimit state: the earliest time (tat,
// Unix nanoseconds) its next request may be claimed, and, once a Claim
// found it due before that time, its place in the throttled heap (idx+1,
// 0 when absent) and until when (until = tat then). A throttled
// subscription stays out of the due heap; it leaves the throttled heap
// when the time comes (unthrottle) or nothing waits any more.
type rateState struct {
	tat   int64
	until int64
	idx   int
}

type throttleOps struct{}

func (throttleOps) less(a, b *subState) bool     { return a.rate.until < b.rate.until }
func (throttleOps) setIndex(ss *subState, i int) { ss.rate.idx = i + 1 }

// spendRate counts a claimed delivery against the subscription's
// RateLimit: requests are spaced one Interval apart, so the next may be
// claimed at max(tat, now) + Interval; until then the subscription is
// throttled. Called with s.mu held, before requeue.
func (s *Store) spendRate(ss *subState, now int64) {
	iv := int64(ss.cur.RateLimit.Interval())
	if iv <= 0 {
		return
	}
	ss.rate.tat = max(ss.rate.tat, now) + iv
}

// throttle moves the subscription at the top of the due heap, held back
// until then (see heldUntil), to the throttled heap. Called with s.mu
// held, from Claim.
func (s *Store) throttle(ss *subState, until int64) {
	s.due.pop()
	ss.rate.until = until
	s.throttled.push(ss)
}

// heldUntil returns when the subscription, due now by its claim order,
// may have a delivery claimed: its RateLimit's next request time, and for
// an Ordered one its head's due time; at most now when nothing holds it.
func (ss *subState) heldUntil(now int64) int64 {
	until := ss.rate.tat
	if ss.order != nil {
		if h := ss.orderHead(); h != nil && h.where != inLeased {
			until = max(until, h.next)
		}
	}
	return until
}

// idOps orders an Ordered subscription's pending deliveries by ID.
type idOps struct{}

func (idOps) less(a, b *dlv) bool { return a.id < b.id }
func (idOps) setIndex(*dlv, int)  {}

// orderedWait adds d, turning pending, to its Ordered subscription's
// order. Entries of deliveries that are no longer pending are dropped
// lazily by orderHead (a delivery pending again may have two entries,
// which name the same head). Called with s.mu held.
func (ss *subState) orderedWait(d *dlv) {
	if ss != nil && ss.order != nil {
		ss.order.push(d)
	}
}

// orderHead returns the Ordered subscription's pending delivery with the
// least ID, leased or not; nil if none.
func (ss *subState) orderHead() *dlv {
	for ss.order.len() > 0 {
		h := ss.order.top()
		if h.state == statePending && h.where != inNone && h.sub == ss {
			return h
		}
		ss.order.pop()
	}
	return nil
}

// popNext takes the delivery a Claim leases from the subscription: the
// earliest due, or for an Ordered one its head (which heldUntil found
// due and unleased).
func (ss *subState) popNext() *dlv {
	if ss.order != nil {
		if h := ss.orderHead(); h != nil && h.where != inLeased {
			ss.pending.remove(h)
			return h
		}
	}
	return ss.pending.pop()
}

// buildOrder makes (or drops) the subscription's order after its Ordered
// was set (or cleared): every pending delivery, leased or not, is in the
// waiting order.
func (ss *subState) buildOrder() {
	if ss.cur == nil || !ss.cur.Ordered {
		ss.order = nil
		return
	}
	o := &pqueue[*dlv, idOps]{}
	q := &ss.pending
	for i, d := range q.fifo {
		if d != nil && inWait(d, i) {
			o.push(d)
		}
	}
	for _, d := range q.wheap.items {
		o.push(d)
	}
	ss.order = o
}

// dropThrottle takes a subscription with nothing waiting (or not Active)
// out of the throttled heap, so that NextDue does not report it; it keeps
// its next request time, which Claim checks again when deliveries come.
// Called with s.mu held, from requeue.
func (s *Store) dropThrottle(ss *subState, active bool) {
	if ss.rate.idx > 0 && (!active || ss.pending.len() == 0) {
		s.throttled.remove(ss.rate.idx - 1)
	}
}

// unthrottle lets the subscriptions whose RateLimit allows a request at
// now back into the due heap. Called with s.mu held.
func (s *Store) unthrottle(now int64) {
	for s.throttled.len() > 0 && s.throttled.top().rate.until <= now {
		ss := s.throttled.pop()
		s.requeue(ss)
	}
}
