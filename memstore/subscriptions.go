package memstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/relayhook/webhook"
)

// CreateSubscription stores a copy of sub and sets sub.Number to the next
// of the store's counter. It returns an error wrapping
// webhook.ErrAlreadyExists if the ID is taken.
func (s *Store) CreateSubscription(ctx context.Context, sub *webhook.Subscription) error {
	c := sub.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.subs[c.ID]; ok {
		return fmt.Errorf("memstore: subscription %q: %w", c.ID, webhook.ErrAlreadyExists)
	}
	s.lastNumber++
	c.Number, sub.Number = s.lastNumber, s.lastNumber
	if s.numbers == nil {
		s.numbers = make(map[int64]string)
	}
	s.numbers[c.Number] = c.ID
	o := s.org(c.OrganizationID)
	ss := &subState{id: c.ID, org: o, ix: o.subIndex(c.ID), cur: c, dueIdx: -1, leaseIdx: -1}
	ss.buildOrder() // (controls.go)
	ss.stats.lastAt = zeroNanos
	s.subs[c.ID] = ss
	s.index(ss)
	return nil
}

// sub returns the organization's current subscription with the ID, nil if
// there is none. Called with s.mu held.
func (s *Store) sub(orgID, id string) *subState {
	ss := s.subs[id]
	if ss == nil || ss.cur.OrganizationID != orgID {
		return nil
	}
	return ss
}

// GetSubscription returns a copy of the organization's subscription with
// the ID.
func (s *Store) GetSubscription(ctx context.Context, orgID, id string) (*webhook.Subscription, error) {
	s.mu.Lock()
	var cur *webhook.Subscription
	if ss := s.sub(orgID, id); ss != nil {
		cur = ss.cur
	}
	s.mu.Unlock()
	if cur == nil {
		return nil, notFound("subscription", id)
	}
	// cur is never modified, so it can be copied outside the lock.
	return cur.Clone(), nil
}

// GetSubscriptionByNumber returns a copy of the organization's
// subscription with the Number.
func (s *Store) GetSubscriptionByNumber(ctx context.Context, orgID string, number int64) (*webhook.Subscription, error) {
	s.mu.Lock()
	var cur *webhook.Subscription
	if ss := s.sub(orgID, s.numbers[number]); ss != nil {
		cur = ss.cur
	}
	s.mu.Unlock()
	if cur == nil {
		return nil, notFound("subscription", fmt.Sprintf("number %d", number))
	}
	return cur.Clone(), nil
}

// UpdateSubscription replaces the stored subscription with the ID and
// OrganizationID of sub with a copy of sub, keeping the stored
// ConsecutiveFailures.
func (s *Store) UpdateSubscription(ctx context.Context, sub *webhook.Subscription) error {
	c := sub.Clone()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sub(c.OrganizationID, c.ID)
	if ss == nil {
		return notFound("subscription", c.ID)
	}
	old := ss.cur
	c.ConsecutiveFailures, c.Number = old.ConsecutiveFailures, old.Number
	reindex := !slices.Equal(old.Events, c.Events)
	if reindex {
		s.unindex(ss)
	}
	ss.cur = c
	if reindex {
		s.index(ss)
	}
	s.controlsChanged(ss, old)
	s.stateChanged(ss, old)
	return nil
}

// DeleteSubscription removes the organization's subscription and its
// pending deliveries (leased or not) with their attempts, and its Stats.
// Its delivered and dead deliveries stay until pruned.
func (s *Store) DeleteSubscription(ctx context.Context, orgID, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sub(orgID, id)
	if ss == nil {
		return notFound("subscription", id)
	}
	o := s.orgs[orgID]
	s.unindex(ss)
	delete(s.subs, id)
	delete(s.numbers, ss.cur.Number)
	ss.cur = nil
	s.requeue(ss) // leaves the due and leases heaps
	for _, q := range [][]*dlv{ss.pending.all(), ss.leased.items} {
		for _, d := range q {
			s.setLease(d, 0)
			o.dlvs.remove(d, same)
			s.indexRemove(d)
			s.release(d)
			e := d.ev
			if i := slices.Index(e.dlvs, d); i >= 0 {
				last := len(e.dlvs) - 1
				e.dlvs[i] = e.dlvs[last]
				e.dlvs[last] = nil
				e.dlvs = e.dlvs[:last]
			}
			s.addPending(e, -1)
			d.state, d.where, d.hist = stateRemoved, inNone, nil
		}
	}
	ss.pending.reset()
	ss.leased.items = nil
	ss.stats = subStats{}
	return nil
}

// ListSubscriptions returns copies of a page of the organization's
// subscriptions in ID order.
func (s *Store) ListSubscriptions(ctx context.Context, orgID string, p webhook.Page) ([]*webhook.Subscription, string, error) {
	limit, err := pageLimit(p)
	if err != nil {
		return nil, "", err
	}
	after, err := decodeCursor(p, subscriptionsCursor, false)
	if err != nil {
		return nil, "", err
	}
	s.mu.Lock()
	var got []*subState
	next := ""
	if o := s.orgs[orgID]; o != nil {
		got, next = page(o.subs, subID, after, limit, false, keepAll)
	}
	curs := make([]*webhook.Subscription, len(got))
	for i, ss := range got {
		curs[i] = ss.cur
	}
	s.mu.Unlock()
	for i, c := range curs {
		curs[i] = c.Clone()
	}
	return curs, encodeCursor(next, subscriptionsCursor, false), nil
}

// MatchSubscriptions returns the IDs of the organization's Active
// subscriptions that want eventType, in ID order, with their Filters (made
// only when one of them has a filter; the store's own memory, as a stored
// subscription is replaced, never modified). It looks them up in an index
// by event type: the exact type, each of its prefixes up to a dot (for
// "prefix.*" patterns), and "*". Each list of the index is sorted by ID, so
// the usual match, from one list, needs no sort.
func (s *Store) MatchSubscriptions(ctx context.Context, orgID, eventType string) ([]string, []json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	matched := s.match(orgID, eventType)
	ids := make([]string, 0, len(matched))
	var filters []json.RawMessage
	for _, ss := range matched {
		if !ss.active() {
			continue
		}
		if f := ss.cur.Filter; len(f) > 0 && filters == nil {
			filters = make([]json.RawMessage, len(ids), len(matched))
		}
		if filters != nil {
			filters = append(filters, ss.cur.Filter)
		}
		ids = append(ids, ss.id)
	}
	return ids, filters, nil
}

// match returns the subscriptions of the organization whose Events match
// eventType, Active or not, in ID order. The slice may be the index's own:
// the caller must not modify it, nor keep it past the lock.
func (s *Store) match(orgID, eventType string) []*subState {
	o := s.orgs[orgID]
	if o == nil {
		return nil
	}
	var buf [4][]*subState
	lists := buf[:0]
	add := func(l []*subState) {
		if len(l) > 0 {
			lists = append(lists, l)
		}
	}
	add(o.exact[eventType])
	for i := 0; i < len(eventType); i++ {
		if eventType[i] == '.' {
			add(o.prefix[eventType[:i+1]])
		}
	}
	add(o.wildcard)
	switch len(lists) {
	case 0:
		return nil
	case 1:
		return lists[0]
	}
	// A subscription may be in several lists ("contact.*" and
	// "contact.created"): merge them, once each.
	matched := lists[0]
	for _, l := range lists[1:] {
		matched = mergeByID(matched, l)
	}
	return matched
}

// mergeByID merges two lists sorted by ID into a new one, keeping a
// subscription in both once.
func mergeByID(a, b []*subState) []*subState {
	out := make([]*subState, 0, len(a)+len(b))
	for len(a) > 0 && len(b) > 0 {
		switch c := strings.Compare(a[0].id, b[0].id); {
		case c < 0:
			out, a = append(out, a[0]), a[1:]
		case c > 0:
			out, b = append(out, b[0]), b[1:]
		default:
			out, a, b = append(out, a[0]), a[1:], b[1:]
		}
	}
	return append(append(out, a...), b...)
}

// SetSubscriptionState sets the State of the organization's subscription
// and its UpdatedAt to now; StateActive also resets ConsecutiveFailures to
// 0.
func (s *Store) SetSubscriptionState(ctx context.Context, orgID, id string, state webhook.State, now time.Time) error {
	switch state {
	case webhook.StateActive, webhook.StateStopped, webhook.StateTooManyErrors:
	default:
		return invalidArg("state", "must be %q, %q or %q", webhook.StateActive, webhook.StateStopped, webhook.StateTooManyErrors)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sub(orgID, id)
	if ss == nil {
		return notFound("subscription", id)
	}
	old := ss.cur
	c := *old // the maps and slices are never modified, so they can be shared
	c.State = state
	c.UpdatedAt = now
	if state == webhook.StateActive {
		c.ConsecutiveFailures = 0
	}
	ss.cur = &c
	s.stateChanged(ss, old)
	return nil
}

// RecordHealth counts a success or a failure of an attempt to the
// subscription, turning it to StateTooManyErrors (and its UpdatedAt to
// now) when its ConsecutiveFailures reach threshold while it is Active.
func (s *Store) RecordHealth(ctx context.Context, id string, ok bool, threshold int, now time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.subs[id]
	if ss == nil {
		return false, notFound("subscription", id)
	}
	old := ss.cur
	if ok && old.ConsecutiveFailures == 0 {
		return false, nil
	}
	c := *old
	tripped := false
	if ok {
		c.ConsecutiveFailures = 0
	} else {
		c.ConsecutiveFailures++
		if threshold > 0 && c.ConsecutiveFailures >= threshold && c.State == webhook.StateActive {
			c.State = webhook.StateTooManyErrors
			c.UpdatedAt = now
			tripped = true
		}
	}
	ss.cur = &c
	if tripped {
		s.stateChanged(ss, old)
	}
	return tripped, nil
}

// stateChanged requeues the subscription after ss.cur replaced old, and
// wakes the dispatchers when it turned Active.
func (s *Store) stateChanged(ss *subState, old *webhook.Subscription) {
	if (old.State == webhook.StateActive) == ss.active() {
		return
	}
	s.requeue(ss)
	if ss.active() && ss.pending.len()+ss.leased.len() > 0 {
		s.wake()
	}
}

// index adds the subscription to its organization's list and match index.
func (s *Store) index(ss *subState) {
	o := s.org(ss.cur.OrganizationID)
	o.subs = insertSorted(o.subs, ss, subID)
	for _, p := range ss.cur.Events {
		o.updateIndex(p, func(l []*subState) []*subState {
			i, found := slices.BinarySearchFunc(l, ss.id, cmpSubID)
			if found {
				return l // the pattern is listed twice in Events
			}
			return slices.Insert(l, i, ss)
		})
	}
}

// unindex undoes index.
func (s *Store) unindex(ss *subState) {
	o := s.orgs[ss.cur.OrganizationID]
	if i, ok := slices.BinarySearchFunc(o.subs, ss.id, cmpSubID); ok {
		o.subs = slices.Delete(o.subs, i, i+1)
	}
	for _, p := range ss.cur.Events {
		o.updateIndex(p, func(l []*subState) []*subState {
			if i, found := slices.BinarySearchFunc(l, ss.id, cmpSubID); found && l[i] == ss {
				return slices.Delete(l, i, i+1)
			}
			return l
		})
	}
}

func cmpSubID(ss *subState, id string) int { return strings.Compare(ss.id, id) }

// updateIndex replaces the index list of an event pattern by f of it,
// dropping the list when it becomes empty.
func (o *org) updateIndex(p string, f func([]*subState) []*subState) {
	if p == "*" {
		o.wildcard = f(o.wildcard)
		return
	}
	m := o.exact
	if strings.HasSuffix(p, ".*") {
		m = o.prefix
	}
	k := patternKey(p)
	if l := f(m[k]); len(l) > 0 {
		m[k] = l
	} else {
		delete(m, k)
	}
}

// patternKey is the key of an event pattern in its index map: the prefix
// with its dot for "prefix.*", the pattern itself otherwise.
func patternKey(p string) string {
	if strings.HasSuffix(p, ".*") {
		return p[:len(p)-1]
	}
	return p
}
