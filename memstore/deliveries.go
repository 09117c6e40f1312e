package memstore

import (
	"context"
	"fmt"
	"math"
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
	s.unthrottle(now)
	s.claimSeq++
	picked := s.picked[:0]
	aside := s.aside[:0]
	for len(picked) < p.Limit && s.due.len() > 0 {
		ss := s.due.top()
		if ss.pending.top().next > now {
			break
		}
		if until := ss.heldUntil(now); until > now {
			s.throttle(ss, until) // its RateLimit, or its order, holds it back
			continue
		}
		if ss.claimSeq != s.claimSeq {
			ss.claimSeq, ss.claimed = s.claimSeq, 0
		}
		if excluded(ss.id) || (p.MaxPerSubscription > 0 && ss.claimed >= p.MaxPerSubscription) {
			aside = append(aside, s.due.pop())
			continue
		}
		d := ss.popNext()
		s.lastLease++
		s.setLease(d, s.lastLease)
		d.leasedUntil = until
		d.where = inLeased
		ss.leased.push(d)
		ss.claimed++
		s.spendRate(ss, now)
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
	leaseLen := func(d *dlv) int {
		return len(leasePrefix) + decimalLen(d.lease) + len(leaseSep) + decimalLen(uint64(d.sub.org.seq))
	}
	size := 0
	for _, d := range picked {
		size += leaseLen(d)
	}
	var b strings.Builder
	b.Grow(size)
	var digits [20]byte
	for _, d := range picked {
		b.WriteString(leasePrefix)
		b.Write(strconv.AppendUint(digits[:0], d.lease, 10))
		b.WriteString(leaseSep)
		b.Write(strconv.AppendUint(digits[:0], uint64(d.sub.org.seq), 10))
	}
	leases := b.String()
	for i, d := range picked {
		c := &block[i]
		d.exportTo(c)
		n := leaseLen(d)
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
		l, seq := parseLease(o.Lease)
		d := s.byLease[l]
		if d == nil || d.id != o.DeliveryID || d.state != statePending {
			// Stale: the lease is no longer held. The attempt is still
			// logged, if the delivery exists.
			if o.Attempt != nil && l != 0 && int(seq) < len(s.orgList) {
				if d = s.orgList[seq].find(o.DeliveryID); d != nil {
					s.addAttempt(d, o.Attempt)
				}
			}
			continue
		}
		added := int32(-1)
		if a := o.Attempt; a != nil {
			added = s.addAttempt(d, a)
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
			s.finished(d, stateDelivered)
		case webhook.DeliveryDead:
			s.finished(d, stateDead)
		}
		s.requeue(d.sub)
		// A slot of a subscription with a concurrency cap freed: its
		// waiting deliveries may be claimable now.
		wake = wake || (d.sub.cur != nil && (d.sub.cur.MaxConcurrency > 0 || d.sub.cur.Ordered) && d.sub.dueIdx >= 0)
	}
	if wake {
		s.wake()
	}
	return nil
}

// finished moves d, pending, to state, delivered or dead.
func (s *Store) finished(d *dlv, state uint8) {
	d.state = state
	s.indexMove(d, statePending)
	st := &d.sub.stats
	st.pending--
	st.countState(state, 1)
	d.sub.pending.unwait(d)
	s.addPending(d.ev, -1)
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
	if s.throttled.len() > 0 {
		if t := s.throttled.top().rate.until; !ok || t < due {
			due, ok = t, true
		}
	}
	if !ok {
		return time.Time{}, false, nil
	}
	return fromNanos(due), true, nil
}

// delivery returns the organization's delivery with the ID, nil if there
// is none. Called with s.mu held.
func (s *Store) delivery(orgID, id string) *dlv {
	o := s.orgs[orgID]
	if o == nil {
		return nil
	}
	return o.find(id)
}

// GetDelivery returns a copy of the organization's delivery with the ID.
func (s *Store) GetDelivery(ctx context.Context, orgID, id string) (*webhook.Delivery, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.delivery(orgID, id)
	if d == nil {
		return nil, notFound("delivery", id)
	}
	return d.export(), nil
}

// ListDeliveries returns copies of a page of the deliveries that f keeps,
// in its order. It walks the narrowest list the filter allows: the
// event's deliveries, the subscription's, or the organization's.
func (s *Store) ListDeliveries(ctx context.Context, f webhook.DeliveryFilter) ([]*webhook.Delivery, string, error) {
	if f.OrganizationID == "" {
		return nil, "", invalidArg("DeliveryFilter.OrganizationID", "is required")
	}
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
	desc, err := parseOrder("DeliveryFilter.Order", f.Order)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(f.Page, deliveriesCursor, desc)
	if err != nil {
		return nil, "", err
	}
	created0, created1 := nanos(f.CreatedFrom), nanos(f.CreatedTo)
	var created *timeRange // what the lists' chunks bound
	if !f.CreatedFrom.IsZero() || !f.CreatedTo.IsZero() {
		created = &timeRange{from: math.MinInt64, to: math.MaxInt64}
		if !f.CreatedFrom.IsZero() {
			created.from = created0
		}
		if !f.CreatedTo.IsZero() {
			created.to = created1
		}
	}
	keep := func(d *dlv) bool {
		return (f.SubscriptionID == "" || d.sub.id == f.SubscriptionID) &&
			(f.EventID == "" || d.ev.ev.ID == f.EventID) &&
			(f.EventType == "" || d.ev.ev.Type == f.EventType) &&
			(f.State == "" || d.state == state) &&
			(f.CreatedFrom.IsZero() || d.created >= created0) &&
			(f.CreatedTo.IsZero() || d.created < created1)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orgs[f.OrganizationID]
	var list *sortedList[*dlv]
	switch {
	case o == nil:
		return []*webhook.Delivery{}, "", nil
	case f.EventID != "":
		e := o.events[f.EventID]
		if e == nil {
			return []*webhook.Delivery{}, "", nil
		}
		// An event has a few deliveries, in no particular order.
		byID := slices.Clone(e.dlvs)
		slices.SortFunc(byID, func(a, b *dlv) int { return strings.Compare(a.id, b.id) })
		got, next := page(byID, dlvID, after, limit, desc, keep)
		out := make([]*webhook.Delivery, len(got))
		for i, d := range got {
			out[i] = d.export()
		}
		return out, encodeCursor(next, deliveriesCursor, desc), nil
	case f.SubscriptionID != "":
		ix := o.bySub[f.SubscriptionID]
		if ix == nil {
			return []*webhook.Delivery{}, "", nil
		}
		list = &ix.all
		if f.State != "" {
			list = &ix.byState[state]
		}
	case f.State != "":
		list = &o.byState[state]
	default:
		list = &o.dlvs
	}
	// The narrowest index is walked; what the filter asks beside it
	// (event type, time) is checked record by record, scanStep records
	// at a time with the lock held, so that a sparse match never holds
	// the lock for long.
	p := pager[*dlv]{limit: limit, keep: keep, key: dlvID}
	out := make([]*webhook.Delivery, 0, min(limit, 64))
	for from := after; ; {
		last, more := list.walk(from, desc, scanStep, created, p.visit)
		for _, d := range p.out[len(out):] {
			out = append(out, d.export())
		}
		if !more {
			break
		}
		from = last
		s.mu.Unlock()
		if err := ctx.Err(); err != nil {
			s.mu.Lock() // for the deferred Unlock
			return nil, "", err
		}
		s.mu.Lock()
	}
	return out, encodeCursor(p.next, deliveriesCursor, desc), nil
}

// Redeliver puts the organization's delivered or dead delivery back to
// Pending, due at now, with RedeliveredAt = now and AttemptsAtRedelivery =
// Attempts. It gives an error wrapping webhook.ErrInvalidState for a
// pending delivery, and one wrapping webhook.ErrNotFound when the
// delivery's subscription has been deleted.
func (s *Store) Redeliver(ctx context.Context, orgID, id string, now time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.delivery(orgID, id)
	if d == nil {
		return notFound("delivery", id)
	}
	if d.state == statePending {
		return fmt.Errorf("memstore: delivery %q is pending: %w", id, webhook.ErrInvalidState)
	}
	if d.sub.cur == nil {
		// The subscription was deleted (and maybe re-created since: the
		// delivery was not to the new one).
		return notFound("subscription", d.sub.id)
	}
	at := nanos(now)
	st := &d.sub.stats
	st.countState(d.state, -1)
	st.pending++
	from := d.state
	d.state = statePending
	s.indexMove(d, from)
	h := s.history(d)
	h.redelivered, h.atRedelivery = at, d.attempts
	d.next = at
	d.updated = at
	s.setLease(d, 0)
	d.leasedUntil = zeroNanos
	d.sub.pending.push(d)
	d.sub.pending.wait(d)
	s.requeue(d.sub)
	s.addPending(d.ev, 1)
	s.wake()
	return nil
}

// ListAttempts returns copies of the attempts of the organization's
// delivery, oldest first. It gives an error wrapping webhook.ErrNotFound
// when there is no such delivery.
func (s *Store) ListAttempts(ctx context.Context, orgID, deliveryID string) ([]*webhook.Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.delivery(orgID, deliveryID)
	if d == nil {
		return nil, notFound("delivery", deliveryID)
	}
	if d.hist == nil || d.hist.len() == 0 {
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
		out.Lease = formatLease(d.lease, d.sub.org.seq)
	}
	return out
}

// exportTo sets *out, which must be zero, to the delivery, without Event,
// Subscription and Lease. It sets the fields one by one: a composite
// literal would be built aside and copied, with a write barrier for each
// pointer.
func (d *dlv) exportTo(out *webhook.Delivery) {
	ev := &d.ev.ev
	out.ID = d.id
	out.EventID = ev.ID
	out.EventType = ev.Type
	out.OrganizationID = ev.OrganizationID
	out.SubscriptionID = d.sub.id
	out.Attempts = int(d.attempts)
	out.CreatedAt = fromNanos(d.created)
	out.UpdatedAt = fromNanos(d.updated)
	switch d.state {
	case statePending:
		out.State = webhook.DeliveryPending
		out.NextAttemptAt = fromNanos(d.next)
	case stateDelivered:
		out.State = webhook.DeliveryDelivered
	case stateDead:
		out.State = webhook.DeliveryDead
	}
	if h := d.hist; h != nil {
		if h.last >= 0 {
			last := h.at(int(h.last))
			out.LastStatusCode = int(last.status)
			out.LastError = last.err
		}
		if h.redelivered != zeroNanos {
			out.RedeliveredAt = fromNanos(h.redelivered)
			out.AttemptsAtRedelivery = int(h.atRedelivery)
		}
	}
	if d.lease != 0 {
		out.LeasedUntil = fromNanos(d.leasedUntil)
	}
}
