package webhook

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/relayhook/webhook/internal/ids"
	"github.com/relayhook/webhook/internal/jsonvalid"
)

// EventType describes one event type the host dispatches, for its
// customers: the catalog a management API and a portal show, and what a
// subscription's Events are checked against (see Config.EventTypes).
type EventType struct {
	// Name is the event type, as in Event.Type ("contact.created").
	Name string `json:"name"`
	// Description says when the event is sent, for people.
	Description string `json:"description,omitempty"`
	// Example is an example of the event's Data, valid JSON: what
	// SendTest sends. Empty means JSON null.
	Example json.RawMessage `json:"example,omitempty"`
	// Deprecated marks a type that is still sent but should no longer be
	// subscribed to; it is still accepted in a subscription's Events.
	Deprecated bool `json:"deprecated,omitempty"`
}

// TestEventIDPrefix starts the ID of every event SendTest makes. Replay
// never sends such an event, and hosts should not start their own event IDs
// with it.
const TestEventIDPrefix = "tst_"

// newCatalog checks the catalog of Config.EventTypes and returns a copy of
// it sorted by name.
func newCatalog(types []EventType, lim Limits) ([]EventType, error) {
	if len(types) == 0 {
		return nil, nil
	}
	cat := make([]EventType, len(types))
	copy(cat, types)
	for i := range cat {
		t := &cat[i]
		field := fmt.Sprintf("EventTypes[%d]", i)
		if !validEventType(t.Name, lim.MaxEventTypeLength) {
			return nil, invalid(ErrInvalidConfig, field+".Name", "%q is not a valid event type", truncate(t.Name, 64))
		}
		if len(t.Example) > 0 && jsonvalid.Check(t.Example, lim.MaxDataDepth) != jsonvalid.OK {
			return nil, invalid(ErrInvalidConfig, field+".Example", "is not valid JSON")
		}
		t.Example = slices.Clone(t.Example)
	}
	slices.SortFunc(cat, func(a, b EventType) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(cat); i++ {
		if cat[i].Name == cat[i-1].Name {
			return nil, invalid(ErrInvalidConfig, "EventTypes", "lists %q twice", cat[i].Name)
		}
	}
	return cat, nil
}

// EventTypes returns the catalog of Config.EventTypes, sorted by name; nil
// when none is set. The caller owns the slice.
func (d *Dispatcher) EventTypes() []EventType {
	if d.catalog == nil {
		return nil
	}
	out := slices.Clone(d.catalog)
	for i := range out {
		out[i].Example = slices.Clone(out[i].Example)
	}
	return out
}

// EventType returns the catalogued event type with the name, and whether
// there is one.
func (d *Dispatcher) EventType(name string) (EventType, bool) {
	i, ok := slices.BinarySearchFunc(d.catalog, name, func(t EventType, n string) int { return strings.Compare(t.Name, n) })
	if !ok {
		return EventType{}, false
	}
	t := d.catalog[i]
	t.Example = slices.Clone(t.Example)
	return t, true
}

// checkEvents refuses, when a catalog is set, a pattern of s.Events that
// matches no catalogued type (a typo such as "contakt.created").
func (d *Dispatcher) checkEvents(s *Subscription) error {
	if d.catalog == nil {
		return nil
	}
	for i, p := range s.Events {
		if !slices.ContainsFunc(d.catalog, func(t EventType) bool { return matchPattern(p, t.Name) }) {
			return &ValidationError{Kind: ErrInvalidSubscription, Field: fmt.Sprintf("events[%d]", i), Err: ErrUnknownEventType,
				Reason: fmt.Sprintf("%q matches no event type", truncate(p, 64)),
				Hint:   "event types are catalogued in Config.EventTypes"}
		}
	}
	return nil
}

// SendTest sends an event of the catalogued type, with its Example as Data,
// to the organization's subscription only (whatever its Events), and
// returns the delivery made, which is retried and logged like any other.
// The event is stored with an ID starting with TestEventIDPrefix, and
// Replay never sends it. A type not in the catalog gives a
// *ValidationError for "eventType"; a subscription that is not Active gives
// ErrInvalidState (its delivery would wait).
func (d *Dispatcher) SendTest(ctx context.Context, orgID, subscriptionID, eventType string) (*Delivery, error) {
	t, ok := d.EventType(eventType)
	if !ok {
		return nil, &ValidationError{Kind: ErrInvalidEvent, Field: "eventType", Err: ErrUnknownEventType,
			Reason: fmt.Sprintf("%q is not a catalogued event type", truncate(eventType, 64)),
			Hint:   "event types are catalogued in Config.EventTypes"}
	}
	if d.isClosed() {
		return nil, ErrDispatcherClosed
	}
	sub, err := d.store.GetSubscription(ctx, orgID, subscriptionID)
	if err != nil {
		return nil, err
	}
	if sub.State != StateActive {
		return nil, fmt.Errorf("webhook: subscription %s is %s: %w", sub.ID, sub.State, ErrInvalidState)
	}
	now := d.clock.Now()
	ev := Event{ID: ids.New(TestEventIDPrefix, now), Type: t.Name, OrganizationID: sub.OrganizationID, Data: t.Example}
	if err := d.prepareEvent(&ev, now); err != nil {
		return nil, err
	}
	dl := &Delivery{
		ID: ids.New("dlv_", now), EventID: ev.ID, EventType: ev.Type, OrganizationID: ev.OrganizationID,
		SubscriptionID: sub.ID, State: DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	}
	if _, err := d.store.Enqueue(ctx, &ev, []*Delivery{dl}); err != nil {
		return nil, fmt.Errorf("webhook: enqueueing test event: %w", err)
	}
	return dl, nil
}
