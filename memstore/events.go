package memstore

import (
	"bytes"
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/relayhook/webhook"
)

// smallDedup is the size up to which Enqueue finds a repeated subscription
// or delivery ID by a linear scan rather than with a map.
const smallDedup = 16

// Enqueue stores a copy of ev, unless the organization already has an
// event with its ID, and the deliveries whose (EventID, SubscriptionID) is
// new, as Pending. A delivery to a subscription that no longer exists, or
// is another organization's, is skipped, as if the subscription had been
// deleted just after. Every delivery must carry ev's ID and
// OrganizationID; a delivery ID already in use in the organization gives
// an error wrapping webhook.ErrAlreadyExists. On error nothing is stored.
func (s *Store) Enqueue(ctx context.Context, ev *webhook.Event, deliveries []*webhook.Delivery) (int, error) {
	for i, d := range deliveries {
		if d.EventID != ev.ID || d.OrganizationID != ev.OrganizationID {
			return 0, invalidArg(fmt.Sprintf("deliveries[%d]", i), "is not for event %q of organization %q", ev.ID, ev.OrganizationID)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	o := s.org(ev.OrganizationID)
	// An ID after every stored one (the usual case: IDs grow with time)
	// is a new event, told without a lookup in a map of them all; the list
	// and the map hold the same events.
	var e *eventEntry
	if !o.eventList.afterLast(ev.ID) {
		e = o.events[ev.ID]
	}

	// Decide which deliveries to create before changing anything: those
	// to an existing subscription that the event has no delivery to yet,
	// each once. kept holds their subscriptions, in the order of create.
	var subs, ids dupFinder
	if e != nil {
		subs.set = make(map[string]struct{}, len(e.dlvs)+len(deliveries))
		for _, d := range e.dlvs {
			subs.set[d.sub.id] = struct{}{}
		}
	}
	// create holds the deliveries to create, compacted in place in a copy
	// of the caller's slice only when some are skipped.
	create := deliveries
	copied := false
	kept := s.kept[:0]
	subAt := func(i int) string { return create[i].SubscriptionID }
	idAt := func(i int) string { return create[i].ID }
	for i, d := range deliveries {
		ss := s.subs[d.SubscriptionID]
		keep := ss != nil && ss.org == o &&
			!subs.seen(d.SubscriptionID, subAt, len(deliveries))
		if keep && (ids.seen(d.ID, idAt, len(deliveries)) || o.find(d.ID) != nil) {
			clear(kept)
			s.kept = kept[:0]
			return 0, fmt.Errorf("memstore: delivery %q: %w", d.ID, webhook.ErrAlreadyExists)
		}
		if !keep && !copied {
			create = slices.Clone(deliveries[:i])
			copied = true
		}
		if keep {
			if copied {
				create = append(create, d)
			}
			kept = append(kept, ss)
		}
	}
	n := len(kept)
	create = create[:n]
	defer func() {
		clear(kept)
		s.kept = kept[:0]
	}()
	need := int64(n) * dlvCost
	for _, d := range create {
		need += int64(len(d.ID))
	}
	if e == nil {
		need += eventBytes(ev)
	}
	if n > 0 || e == nil {
		if err := s.makeRoom(e, need); err != nil {
			return 0, err
		}
	}
	s.held += need
	s.nDlvs += int64(n)

	if e == nil {
		e = &eventEntry{ev: *ev, ts: nanos(ev.Timestamp), idx: -1}
		e.ev.Data = bytes.Clone(ev.Data)
		o.events[ev.ID] = e
		o.eventList.insert(e)
		s.nEvents++
		if n == 0 {
			s.prunable.push(e)
		}
	}
	if n == 0 {
		return 0, nil
	}
	e.dlvs = slices.Grow(e.dlvs, n)
	// The deliveries of one call are made in one block: they go with
	// their event, which is pruned with all of them.
	block := make([]dlv, n)
	for i, in := range create {
		ss := kept[i]
		created := nanos(in.CreatedAt)
		updated := nanos(in.UpdatedAt)
		if in.UpdatedAt.IsZero() {
			updated = created
		}
		d := &block[i]
		*d = dlv{
			id:      in.ID,
			ev:      e,
			sub:     ss,
			next:    nanos(in.NextAttemptAt),
			created: created,
			updated: updated,
			state:   statePending,
			where:   inPending,
		}
		o.dlvs.insert(d)
		s.indexAdd(d)
		e.dlvs = append(e.dlvs, d)
		ss.stats.pending++
		ss.pending.push(d)
		ss.pending.wait(d) // shares the entry push made, when it made one
		if ss.dueIdx < 0 || ss.pending.top() == d {
			s.requeue(ss) // otherwise its place in the due heap is unchanged
		}
	}
	s.addPending(e, n)
	s.wake()
	return n, nil
}

// dupFinder finds a string shown to it twice, at the cost of one
// comparison each while they come in increasing order (as the
// dispatcher's IDs and matches do); past the first out of order, it
// scans the earlier ones when they are few and builds a set otherwise.
type dupFinder struct {
	max string
	n   int // strings shown
	set map[string]struct{}
}

// seen reports whether x was shown before, and shows it. earlier(i)
// returns the i-th string shown; size is how many may be shown in all.
func (f *dupFinder) seen(x string, earlier func(i int) string, size int) bool {
	switch {
	case f.set != nil:
	case f.n == 0 || x > f.max:
		f.max = x
		f.n++
		return false
	case f.n < smallDedup:
		for i := range f.n {
			if earlier(i) == x {
				return true
			}
		}
		f.n++
		return false
	default:
		f.set = make(map[string]struct{}, size)
		for i := range f.n {
			f.set[earlier(i)] = struct{}{}
		}
	}
	if _, ok := f.set[x]; ok {
		return true
	}
	f.set[x] = struct{}{}
	f.n++
	return false
}

// GetEvent returns a copy of the stored event.
func (s *Store) GetEvent(ctx context.Context, orgID, eventID string) (*webhook.Event, error) {
	s.mu.Lock()
	var e *eventEntry
	if o := s.orgs[orgID]; o != nil {
		e = o.events[eventID]
	}
	s.mu.Unlock()
	if e == nil {
		return nil, notFound("event", eventID)
	}
	// e.ev is never modified, so it can be copied outside the lock.
	return cloneEvent(&e.ev), nil
}

// ListEvents returns copies of a page of the organization's events in the
// filter's order of IDs, keeping those of f.Type and those whose Timestamp
// is in [f.From, f.To) when those are set.
func (s *Store) ListEvents(ctx context.Context, f webhook.EventFilter) ([]*webhook.Event, string, error) {
	if f.OrganizationID == "" {
		return nil, "", invalidArg("EventFilter.OrganizationID", "is required")
	}
	limit, err := pageLimit(f.Page)
	if err != nil {
		return nil, "", err
	}
	desc, err := parseOrder("EventFilter.Order", f.Order)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(f.Page, eventsCursor, desc)
	if err != nil {
		return nil, "", err
	}
	from, to := nanos(f.From), nanos(f.To)
	var times *timeRange // what the list's chunks bound
	if !f.From.IsZero() || !f.To.IsZero() {
		times = &timeRange{from: math.MinInt64, to: math.MaxInt64}
		if !f.From.IsZero() {
			times.from = from
		}
		if !f.To.IsZero() {
			times.to = to
		}
	}
	keep := func(e *eventEntry) bool {
		return (f.Type == "" || e.ev.Type == f.Type) &&
			(f.From.IsZero() || e.ts >= from) && (f.To.IsZero() || e.ts < to)
	}
	// The events are walked in ID order, scanStep at a time with the
	// lock held, so that a sparse match never holds the lock for long.
	p := pager[*eventEntry]{limit: limit, keep: keep, key: eventID}
	s.mu.Lock()
	if o := s.orgs[f.OrganizationID]; o != nil {
		for cur := after; ; {
			last, more := o.eventList.walk(cur, desc, scanStep, times, p.visit)
			if !more {
				break
			}
			cur = last
			s.mu.Unlock()
			if err := ctx.Err(); err != nil {
				return nil, "", err
			}
			s.mu.Lock()
		}
	}
	s.mu.Unlock()
	// An event is never modified, so it can be copied outside the lock.
	out := make([]*webhook.Event, len(p.out))
	for i, e := range p.out {
		out[i] = cloneEvent(&e.ev)
	}
	return out, encodeCursor(p.next, eventsCursor, desc), nil
}

// Prune deletes up to limit events whose Timestamp is before the cutoff
// and that have no pending delivery, with their deliveries and attempts,
// and takes them out of their subscriptions' counts by state. It finds
// them in a queue of such events by Timestamp, without a scan, and lets
// go of the lock every 64 events (about 0.4 ms of work with ten
// deliveries each). When ctx ends between two of those steps it returns
// how many it deleted, with ctx's error. The
// subscriptions' attempts of the hours before the cutoff's are dropped
// from their Stats as they are met (here, or by the next attempt).
func (s *Store) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, invalidArg("limit", "must be positive")
	}
	cutoff := nanos(before)
	cutHour := hourOf(before)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cutHour = max(s.cutHour, cutHour)
	n := 0
	for n < limit && s.prunable.len() > 0 && s.prunable.top().ts < cutoff {
		s.dropEvent(s.prunable.pop())
		n++
		if n%pruneStep == 0 && n < limit {
			// Let the workers in: a batch of a thousand events of ten
			// deliveries takes about 6 ms.
			s.mu.Unlock()
			err := ctx.Err()
			s.mu.Lock()
			if err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// pruneStep is how many events Prune deletes before it lets go of the
// lock for a moment.
const pruneStep = 64

// dropEvent deletes e, which has no pending delivery and has been taken
// out of the prune queue, with its deliveries and their attempts, and
// takes them out of their subscriptions' counts by state.
func (s *Store) dropEvent(e *eventEntry) {
	o := s.orgs[e.ev.OrganizationID]
	delete(o.events, e.ev.ID)
	o.eventList.remove(e, same)
	s.held -= eventBytes(&e.ev)
	s.nEvents--
	for _, d := range e.dlvs {
		ss := d.sub
		s.setLease(d, 0)
		o.dlvs.remove(d, same)
		s.indexRemove(d)
		s.release(d)
		if ss.cur != nil { // a deleted subscription's Stats are gone
			ss.stats.countState(d.state, -1)
			ss.stats.trimHours(s.cutHour)
		}
		d.state, d.hist = stateRemoved, nil
	}
	e.dlvs = nil
}

func same[T comparable](a, b T) bool { return a == b }

func cloneEvent(ev *webhook.Event) *webhook.Event {
	c := *ev
	c.Data = bytes.Clone(ev.Data)
	return &c
}
