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
// MaxConcurrency, and wakes the dispatchers when that let deliveries
// through.
func (s *Store) controlsChanged(ss *subState, old *webhook.Subscription) {
	if old.MaxConcurrency == ss.cur.MaxConcurrency || !ss.active() {
		return
	}
	s.requeue(ss)
	if ss.dueIdx >= 0 {
		s.wake()
	}
}
