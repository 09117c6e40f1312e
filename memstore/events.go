package memstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/relayhook/webhook"
)

// smallDedup is the size up to which Enqueue finds duplicate subscriptions
// by a linear scan rather than with a map.
const smallDedup = 16

// Enqueue stores a copy of ev, unless the organization already has an
// event with its ID, and the deliveries whose (EventID, SubscriptionID) is
// new, as Pending. A delivery to a subscription that no longer exists is
// skipped, as if the subscription had been deleted just after. Every
// delivery must carry ev's ID and OrganizationID; a delivery ID already in
// use gives an error wrapping webhook.ErrAlreadyExists. On error nothing
// is stored.
func (s *Store) Enqueue(ctx context.Context, ev *webhook.Event, deliveries []*webhook.Delivery) (int, error) {
	for i, d := range deliveries {
		if d.EventID != ev.ID || d.OrganizationID != ev.OrganizationID {
			return 0, invalidArg(fmt.Sprintf("deliveries[%d]", i), "is not for event %q of organization %q", ev.ID, ev.OrganizationID)
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()

	o := s.org(ev.OrganizationID)
	e := o.events[ev.ID]

	// Decide which deliveries to create before changing anything.
	var seen map[string]struct{} // subscription IDs, for large batches
	taken := func(subID string, before []*webhook.Delivery) bool {
		if seen != nil {
			_, ok := seen[subID]
			return ok
		}
		if e != nil {
			for _, d := range e.dlvs {
				if d.sub.id == subID {
					return true
				}
			}
		}
		for _, d := range before {
			if d.SubscriptionID == subID {
				return true
			}
		}
		return false
	}
	if e != nil && len(e.dlvs)+len(deliveries) > smallDedup {
		seen = make(map[string]struct{}, len(e.dlvs)+len(deliveries))
		for _, d := range e.dlvs {
			seen[d.sub.id] = struct{}{}
		}
	} else if len(deliveries) > smallDedup {
		seen = make(map[string]struct{}, len(deliveries))
	}
	// create holds the deliveries to create, compacted in place in a copy
	// of the caller's slice only when some are skipped.
	create := deliveries
	copied := false
	n := 0
	for i, d := range deliveries {
		keep := s.subs[d.SubscriptionID] != nil && !taken(d.SubscriptionID, create[:n])
		if keep {
			if _, dup := s.dlvs[d.ID]; dup || idTaken(create[:n], d.ID) {
				return 0, fmt.Errorf("memstore: delivery %q: %w", d.ID, webhook.ErrAlreadyExists)
			}
			if seen != nil {
				seen[d.SubscriptionID] = struct{}{}
			}
		}
		if !keep && !copied {
			create = slices.Clone(deliveries[:i])
			copied = true
		}
		if keep {
			if copied {
				create = append(create, d)
			}
			n++
		}
	}
	create = create[:n]

	if e == nil {
		e = &eventEntry{ev: *ev, ts: nanos(ev.Timestamp), idx: -1}
		e.ev.Data = bytes.Clone(ev.Data)
		o.events[ev.ID] = e
		o.eventList = insertSorted(o.eventList, e, eventID)
		if n == 0 {
			s.prunable.push(e)
		}
	}
	if n == 0 {
		return 0, nil
	}
	e.dlvs = slices.Grow(e.dlvs, n)
	for _, in := range create {
		ss := s.subs[in.SubscriptionID]
		created := nanos(in.CreatedAt)
		updated := nanos(in.UpdatedAt)
		if in.UpdatedAt.IsZero() {
			updated = created
		}
		d := &dlv{
			id:      in.ID,
			ev:      e,
			sub:     ss,
			next:    nanos(in.NextAttemptAt),
			created: created,
			updated: updated,
			state:   statePending,
			where:   inPending,
		}
		s.dlvs[d.id] = d
		s.dlvOrder = insertSorted(s.dlvOrder, d, dlvID)
		e.dlvs = append(e.dlvs, d)
		ss.pending.push(d)
		s.requeue(ss)
	}
	s.addPending(e, n)
	s.wake()
	return n, nil
}

func idTaken(ds []*webhook.Delivery, id string) bool {
	for _, d := range ds {
		if d.ID == id {
			return true
		}
	}
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

// ListEvents returns copies of a page of the organization's events in ID
// order, keeping those whose Timestamp is in [f.From, f.To) when those are
// set.
func (s *Store) ListEvents(ctx context.Context, f webhook.EventFilter) ([]*webhook.Event, string, error) {
	limit, err := pageLimit(f.Page)
	if err != nil {
		return nil, "", err
	}
	from, to := nanos(f.From), nanos(f.To)
	keep := func(e *eventEntry) bool {
		return (f.From.IsZero() || e.ts >= from) && (f.To.IsZero() || e.ts < to)
	}
	s.mu.Lock()
	var got []*eventEntry
	next := ""
	if o := s.orgs[f.OrganizationID]; o != nil {
		got, next = page(o.eventList, eventID, f.Page.Cursor, limit, keep)
	}
	s.mu.Unlock()
	out := make([]*webhook.Event, len(got))
	for i, e := range got {
		out[i] = cloneEvent(&e.ev)
	}
	return out, next, nil
}

// Prune deletes up to limit events whose Timestamp is before the cutoff
// and that have no pending delivery, with their deliveries and attempts.
// It finds them in a queue of such events by Timestamp, without a scan.
func (s *Store) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, invalidArg("limit", "must be positive")
	}
	cutoff := nanos(before)
	s.mu.Lock()
	defer s.mu.Unlock()
	n, dlvs := 0, 0
	orgs := make(map[*org]struct{})
	for n < limit && s.prunable.len() > 0 && s.prunable.top().ts < cutoff {
		e := s.prunable.pop()
		e.removed = true
		o := s.orgs[e.ev.OrganizationID]
		delete(o.events, e.ev.ID)
		orgs[o] = struct{}{}
		for _, d := range e.dlvs {
			delete(s.dlvs, d.id)
			d.state, d.hist = stateRemoved, nil
			dlvs++
		}
		e.dlvs = nil
		n++
	}
	for o := range orgs {
		o.eventList = slices.DeleteFunc(o.eventList, func(e *eventEntry) bool { return e.removed })
	}
	if dlvs > 0 {
		s.dlvOrder = slices.DeleteFunc(s.dlvOrder, func(d *dlv) bool { return d.state == stateRemoved })
	}
	return n, nil
}

func cloneEvent(ev *webhook.Event) *webhook.Event {
	c := *ev
	c.Data = bytes.Clone(ev.Data)
	return &c
}
