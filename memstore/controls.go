package memstore

import "github.com/relayhook/webhook"

// atConcurrencyCap reports whether the subscription has as many leased
// deliveries as its MaxConcurrency allows: it then stays out of the due
// heap, so Claim and NextDue pass it by at no cost, until a lease ends
// (Finish, or expiry). Called with s.mu held, on an Active subscription.
func (ss *subState) atConcurrencyCap() bool {
	m := ss.cur.MaxConcurrency
	return m > 0 && ss.leased.len() >= m
}

// controlsChanged requeues the subscription after an update changed its
// MaxConcurrency or RateLimit, and wakes the dispatchers when that let deliveries
// through.
func (s *Store) controlsChanged(ss *subState, old *webhook.Subscription) {
	rateChanged := old.RateLimit.Interval() != ss.cur.RateLimit.Interval()
	if rateChanged && ss.rate.idx > 0 {
		// Held back by the old limit: the new one decides from now on.
		s.throttled.remove(ss.rate.idx - 1)
		ss.rate.tat = 0
	}
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

// throttle moves the subscription at the top of the due heap, whose next
// request time is still to come, to the throttled heap until then.
// Called with s.mu held, from Claim.
func (s *Store) throttle(ss *subState) {
	s.due.pop()
	ss.rate.until = ss.rate.tat
	s.throttled.push(ss)
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
