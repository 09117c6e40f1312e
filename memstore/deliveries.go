package memstore

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/relayhook/webhook"
)

// smallExclude is the size up to which Claim looks subscriptions up in
// ClaimParams.Exclude by a linear scan rather than with a map.
const smallExclude = 16

// Claim leases up to p.Limit due deliveries in order of NextAttemptAt.
// It merges the subscriptions' own queues through the heap of
// subscriptions, so a subscription that is excluded or has reached
// p.MaxPerSubscription is set aside at the cost of one heap operation,
// whatever its backlog.
func (s *Store) Claim(ctx context.Context, p webhook.ClaimParams) ([]*webhook.Delivery, error) {
	switch {
	case p.Limit <= 0:
		return nil, invalidArg("ClaimParams.Limit", "must be positive")
	case p.Lease <= 0:
		return nil, invalidArg("ClaimParams.Lease", "must be positive")
	case p.MaxPerSubscription < 0:
		return nil, invalidArg("ClaimParams.MaxPerSubscription", "must not be negative")
	}
	var excludeSet map[string]struct{}
	if len(p.Exclude) > smallExclude {
		excludeSet = make(map[string]struct{}, len(p.Exclude))
		for _, id := range p.Exclude {
			excludeSet[id] = struct{}{}
		}
	}
	excluded := func(id string) bool {
		if excludeSet != nil {
			_, ok := excludeSet[id]
			return ok
		}
		return slices.Contains(p.Exclude, id)
	}
	now := nanos(p.Now)
	until := nanos(p.Now.Add(p.Lease))

	s.mu.Lock()
	s.expireLeases(now)
	s.claimSeq++
	picked := s.picked[:0]
	aside := s.aside[:0]
	for len(picked) < p.Limit && s.due.len() > 0 {
		ss := s.due.top()
		if ss.pending.top().next > now {
			break
		}
		if ss.claimSeq != s.claimSeq {
			ss.claimSeq, ss.claimed = s.claimSeq, 0
		}
		if excluded(ss.id) || (p.MaxPerSubscription > 0 && ss.claimed >= p.MaxPerSubscription) {
			aside = append(aside, s.due.pop())
			continue
		}
		d := ss.pending.pop()
		s.lastLease++
		s.setLease(d, s.lastLease)
		d.leasedUntil = until
		d.where = inLeased
		ss.leased.push(d)
		ss.claimed++
		s.requeue(ss)
		picked = append(picked, d)
	}
	for _, ss := range aside {
		s.due.push(ss)
	}
	out := exportClaimed(picked)
	clear(picked)
	clear(aside)
	s.picked, s.aside = picked[:0], aside[:0]
	s.mu.Unlock()
	return out, nil
}

// exportClaimed returns the claimed deliveries as webhook.Deliveries with
// their Lease, Event and Subscription, made in one block and their leases'
// text in another.
func exportClaimed(picked []*dlv) []*webhook.Delivery {
	if len(picked) == 0 {
		return nil
	}
	out := make([]*webhook.Delivery, len(picked))
	block := make([]webhook.Delivery, len(picked))
	size := 0
	for _, d := range picked {
		size += len(leasePrefix) + decimalLen(d.lease)
	}
	var b strings.Builder
	b.Grow(size)
	var digits [20]byte
	for _, d := range picked {
		b.WriteString(leasePrefix)
		b.Write(strconv.AppendUint(digits[:0], d.lease, 10))
	}
	leases := b.String()
	for i, d := range picked {
		c := &block[i]
		d.exportTo(c)
		n := len(leasePrefix) + decimalLen(d.lease)
		c.Lease, leases = leases[:n], leases[n:]
		c.Event = &d.ev.ev
		c.Subscription = d.sub.cur
		out[i] = c
	}
	return out
}

// decimalLen is the number of decimal digits of n.
func decimalLen(n uint64) int {
	l := 1
	for n >= 10 {
		n /= 10
		l++
	}
	return l
}

// expireLeases moves the leased deliveries of Active subscriptions whose
// lease expired by now back to their pending heaps. They keep their Lease
// until claimed again, so a late Finish with it still applies.
func (s *Store) expireLeases(now int64) {
	for s.leases.len() > 0 && s.leases.top().leased.top().leasedUntil <= now {
		ss := s.leases.top()
		for ss.leased.len() > 0 && ss.leased.top().leasedUntil <= now {
			d := ss.leased.pop()
			d.where = inPending
			ss.pending.push(d)
		}
		s.requeue(ss)
	}
}

// Finish applies the outcomes of claimed deliveries. An outcome for a
// delivery that no longer exists (its subscription was deleted) is
// ignored.
func (s *Store) Finish(ctx context.Context, now time.Time, outcomes []webhook.Outcome) error {
	for i, o := range outcomes {
		switch o.State {
		case webhook.DeliveryPending, webhook.DeliveryDelivered, webhook.DeliveryDead:
		default:
			return invalidArg(fmt.Sprintf("outcomes[%d].State", i), "must be %q, %q or %q",
				webhook.DeliveryPending, webhook.DeliveryDelivered, webhook.DeliveryDead)
		}
	}
	at := nanos(now)
	s.mu.Lock()
	defer s.mu.Unlock()
	wake := false
	for _, o := range outcomes {
		d := s.byLease[parseLease(o.Lease)]
		if d == nil || d.id != o.DeliveryID || d.state != statePending {
			// Stale: the lease is no longer held. The attempt is still
			// logged, if the delivery exists.
			if d = s.find(o.DeliveryID); d != nil && o.Attempt != nil {
				d.addAttempt(o.Attempt)
			}
			continue
		}
		added := int32(-1)
		if a := o.Attempt; a != nil {
			added = d.addAttempt(a)
		}
		unqueue(d)
		s.setLease(d, 0)
		d.leasedUntil = zeroNanos
		d.updated = at
		if added >= 0 {
			d.attempts = int32(o.Attempt.Number)
			d.hist.last = added
		}
		switch o.State {
		case webhook.DeliveryPending:
			if !o.NextAttemptAt.IsZero() {
				d.next = nanos(o.NextAttemptAt)
			}
			d.where = inPending
			d.sub.pending.push(d)
			wake = true
		case webhook.DeliveryDelivered:
			d.state = stateDelivered
			s.addPending(d.ev, -1)
		case webhook.DeliveryDead:
			d.state = stateDead
			s.addPending(d.ev, -1)
		}
		s.requeue(d.sub)
	}
	if wake {
		s.wake()
	}
	return nil
}

// NextDue returns the earliest NextAttemptAt of an unleased pending
// delivery, or LeasedUntil of a leased one, among Active subscriptions.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	due, ok := int64(0), false
	if s.due.len() > 0 {
		due, ok = s.due.top().pending.top().next, true
	}
	if s.leases.len() > 0 {
		if t := s.leases.top().leased.top().leasedUntil; !ok || t < due {
			due, ok = t, true
		}
	}
	if !ok {
		return time.Time{}, false, nil
	}
	return fromNanos(due), true, nil
}

// GetDelivery returns a copy of the delivery with the ID.
func (s *Store) GetDelivery(ctx context.Context, id string) (*webhook.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.find(id)
	if d == nil {
		return nil, notFound("delivery", id)
	}
	return d.export(), nil
}

// ListDeliveries returns copies of a page of the deliveries that f keeps,
// in ID order.
func (s *Store) ListDeliveries(ctx context.Context, f webhook.DeliveryFilter) ([]*webhook.Delivery, string, error) {
	limit, err := pageLimit(f.Page)
	if err != nil {
		return nil, "", err
	}
	var state uint8
	switch f.State {
	case "":
	case webhook.DeliveryPending:
		state = statePending
	case webhook.DeliveryDelivered:
		state = stateDelivered
	case webhook.DeliveryDead:
		state = stateDead
	default:
		return nil, "", invalidArg("DeliveryFilter.State", "must be empty, %q, %q or %q",
			webhook.DeliveryPending, webhook.DeliveryDelivered, webhook.DeliveryDead)
	}
	from, to := nanos(f.CreatedFrom), nanos(f.CreatedTo)
	keep := func(d *dlv) bool {
		return (f.SubscriptionID == "" || d.sub.id == f.SubscriptionID) &&
			(f.State == "" || d.state == state) &&
			(f.CreatedFrom.IsZero() || d.created >= from) &&
			(f.CreatedTo.IsZero() || d.created < to)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	got, next := s.dlvs.page(f.Page.Cursor, limit, keep)
	out := make([]*webhook.Delivery, len(got))
	for i, d := range got {
		out[i] = d.export()
	}
	return out, next, nil
}

// Redeliver puts a delivered or dead delivery back to Pending, due at now,
// with Attempts reset to 0. It gives an error wrapping
// webhook.ErrInvalidState for a pending delivery, and one wrapping
// webhook.ErrNotFound when the delivery's subscription has been deleted.
func (s *Store) Redeliver(ctx context.Context, id string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.find(id)
	if d == nil {
		return notFound("delivery", id)
	}
	if d.state == statePending {
		return fmt.Errorf("memstore: delivery %q is pending: %w", id, webhook.ErrInvalidState)
	}
	if d.sub.cur == nil {
		// The subscription was deleted, possibly re-created since.
		ss := s.subs[d.sub.id]
		if ss == nil {
			return notFound("subscription", d.sub.id)
		}
		d.sub = ss
	}
	d.state = statePending
	d.attempts = 0
	d.next = nanos(now)
	d.updated = d.next
	s.setLease(d, 0)
	d.leasedUntil = zeroNanos
	d.where = inPending
	d.sub.pending.push(d)
	s.requeue(d.sub)
	s.addPending(d.ev, 1)
	s.wake()
	return nil
}

// ListAttempts returns copies of the attempts of a delivery, oldest first.
// It gives an error wrapping webhook.ErrNotFound when the delivery does
// not exist.
func (s *Store) ListAttempts(ctx context.Context, deliveryID string) ([]*webhook.Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.find(deliveryID)
	if d == nil {
		return nil, notFound("delivery", deliveryID)
	}
	if d.hist == nil {
		return []*webhook.Attempt{}, nil
	}
	n := d.hist.len()
	out := make([]*webhook.Attempt, n)
	block := make([]webhook.Attempt, n)
	for i := range n {
		block[i] = d.attempt(i)
		out[i] = &block[i]
	}
	return out, nil
}

// export returns the delivery as a webhook.Delivery, without Event and
// Subscription.
func (d *dlv) export() *webhook.Delivery {
	out := new(webhook.Delivery)
	d.exportTo(out)
	if d.lease != 0 {
		out.Lease = formatLease(d.lease)
	}
	return out
}

// exportTo sets *out to the delivery, without Event, Subscription and
// Lease.
func (d *dlv) exportTo(out *webhook.Delivery) {
	state := webhook.DeliveryPending
	switch d.state {
	case stateDelivered:
		state = webhook.DeliveryDelivered
	case stateDead:
		state = webhook.DeliveryDead
	}
	*out = webhook.Delivery{
		ID:             d.id,
		EventID:        d.ev.ev.ID,
		OrganizationID: d.ev.ev.OrganizationID,
		SubscriptionID: d.sub.id,
		State:          state,
		Attempts:       int(d.attempts),
		NextAttemptAt:  fromNanos(d.next),
		CreatedAt:      fromNanos(d.created),
		UpdatedAt:      fromNanos(d.updated),
	}
	if d.hist != nil && d.hist.last >= 0 {
		last := d.hist.at(int(d.hist.last))
		out.LastStatusCode = int(last.status)
		out.LastError = last.err
	}
	if d.lease != 0 {
		out.LeasedUntil = fromNanos(d.leasedUntil)
	}
}
