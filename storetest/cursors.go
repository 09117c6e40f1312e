package storetest

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

var cursorTests = []test{
	{"SubscriptionsRefuseCursorsTheyDidNotMake", testCursorsSubscriptions},
	{"EventsRefuseCursorsTheyDidNotMake", testCursorsEvents},
	{"DeliveriesRefuseCursorsTheyDidNotMake", testCursorsDeliveries},
}

// cursors are real cursors of every listing and order, each the next
// cursor of a first page of one item.
type cursors struct {
	subscriptions                 string
	eventsAsc, eventsDesc         string
	deliveriesAsc, deliveriesDesc string
	// sub, event and delivery are the IDs of items of each listing.
	sub, event, delivery string
}

// realCursors stores two subscriptions, two events and three deliveries
// and returns the cursors that their listings give after one item.
func (e *env) realCursors(t *testing.T) cursors {
	t.Helper()
	ctx := t.Context()
	a, b := e.createSubscription(t), e.createSubscription(t)
	_, ds := e.enqueue(t, e.now, a, b)
	e.enqueueOne(t, a, e.now)
	c := cursors{sub: a.ID, event: ds[0].EventID, delivery: ds[0].ID}
	var err error
	one := webhook.Page{Limit: 1}
	_, c.subscriptions, err = e.store.ListSubscriptions(ctx, e.org, one)
	require.NoError(t, err)
	_, c.eventsAsc, err = e.store.ListEvents(ctx, webhook.EventFilter{OrganizationID: e.org, Page: one})
	require.NoError(t, err)
	_, c.eventsDesc, err = e.store.ListEvents(ctx, webhook.EventFilter{OrganizationID: e.org, Order: webhook.NewestFirst, Page: one})
	require.NoError(t, err)
	_, c.deliveriesAsc, err = e.store.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: e.org, Page: one})
	require.NoError(t, err)
	_, c.deliveriesDesc, err = e.store.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: e.org, Order: webhook.NewestFirst, Page: one})
	require.NoError(t, err)
	for name, cur := range map[string]string{
		"subscriptions": c.subscriptions, "events": c.eventsAsc, "events newest first": c.eventsDesc,
		"deliveries": c.deliveriesAsc, "deliveries newest first": c.deliveriesDesc,
	} {
		require.NotEmpty(t, cur, "the next cursor of the first page of %s", name)
	}
	return c
}

type badCursor struct {
	name, cursor string
}

// badCursors returns cursors that a listing whose real cursor is own
// must refuse: garbage, bare IDs, own cut short or changed, and the real
// cursors of other listings and orders (foreign).
func badCursors(own string, ids []string, foreign map[string]string) []badCursor {
	bad := []badCursor{
		{"percent signs", "%%%"},
		{"a word", "not-a-cursor"},
		{"invalid UTF-8", "\xff\xfe"},
		{"base64 of invalid UTF-8", base64.RawURLEncoding.EncodeToString([]byte("\xff\xfe\xfd"))},
		{"a NUL byte", "AAAA\x00AAAA"},
		{"a quote", "x'; --"},
		{"very long", strings.Repeat("QUJD", 4096)},
		{"cut short by one character", own[:len(own)-1]},
		{"cut short by two characters", own[:len(own)-2]},
		{"cut short by three characters", own[:len(own)-3]},
		{"cut to half", own[:len(own)/2]},
		{"with a space after it", own + " "},
		{"with a character changed", changeChar(own, len(own)-5)},
	}
	for _, id := range ids {
		bad = append(bad, badCursor{"the bare ID " + id, id})
	}
	for name, c := range foreign {
		bad = append(bad, badCursor{"a real cursor of " + name, c})
	}
	return bad
}

// changeChar returns s with the character at i replaced by another
// character of the base64url alphabet.
func changeChar(s string, i int) string {
	r := byte('A')
	if s[i] == 'A' {
		r = 'B'
	}
	return s[:i] + string(r) + s[i+1:]
}

// requireRefused requires list, called with each bad cursor, to fail with
// an error wrapping ErrInvalidArgument and to list nothing. It names every
// cursor that was not refused so.
func requireRefused(t *testing.T, listing string, bad []badCursor, list func(cursor string) (int, error)) {
	t.Helper()
	var accepted []string
	for _, b := range bad {
		n, err := list(b.cursor)
		switch {
		case err == nil:
			accepted = append(accepted, fmt.Sprintf("%s: no error, %d items", b.name, n))
		case !errors.Is(err, webhook.ErrInvalidArgument):
			accepted = append(accepted, fmt.Sprintf("%s: %v, not wrapping ErrInvalidArgument", b.name, err))
		case n != 0:
			accepted = append(accepted, fmt.Sprintf("%s: an error and %d items", b.name, n))
		}
	}
	require.Empty(t, accepted, "%s with these cursors, each of which must give ErrInvalidArgument", listing)
}

func testCursorsSubscriptions(t *testing.T, e *env) {
	c := e.realCursors(t)
	list := func(cursor string) (int, error) {
		subs, _, err := e.store.ListSubscriptions(t.Context(), e.org, webhook.Page{Limit: 10, Cursor: cursor})
		return len(subs), err
	}
	n, err := list(c.subscriptions)
	require.NoError(t, err, "the listing's own cursor")
	require.Equal(t, 1, n, "subscriptions after the first")

	requireRefused(t, "ListSubscriptions", badCursors(c.subscriptions, []string{c.sub, c.event}, map[string]string{
		"events": c.eventsAsc, "events newest first": c.eventsDesc,
		"deliveries": c.deliveriesAsc, "deliveries newest first": c.deliveriesDesc,
	}), list)
}

func testCursorsEvents(t *testing.T, e *env) {
	c := e.realCursors(t)
	for _, order := range []webhook.Order{"", webhook.OldestFirst, webhook.NewestFirst} {
		own, other := c.eventsAsc, c.eventsDesc
		if order == webhook.NewestFirst {
			own, other = c.eventsDesc, c.eventsAsc
		}
		list := func(cursor string) (int, error) {
			evs, _, err := e.store.ListEvents(t.Context(), webhook.EventFilter{OrganizationID: e.org, Order: order, Page: webhook.Page{Limit: 10, Cursor: cursor}})
			return len(evs), err
		}
		n, err := list(own)
		require.NoError(t, err, "the listing's own cursor, Order %q", order)
		require.Equal(t, 1, n, "events after the first, Order %q", order)

		requireRefused(t, fmt.Sprintf("ListEvents with Order %q", order), badCursors(own, []string{c.event, c.delivery}, map[string]string{
			"the other order": other, "subscriptions": c.subscriptions,
			"deliveries": c.deliveriesAsc, "deliveries newest first": c.deliveriesDesc,
		}), list)
	}
}

func testCursorsDeliveries(t *testing.T, e *env) {
	c := e.realCursors(t)
	for _, order := range []webhook.Order{"", webhook.OldestFirst, webhook.NewestFirst} {
		own, other := c.deliveriesAsc, c.deliveriesDesc
		if order == webhook.NewestFirst {
			own, other = c.deliveriesDesc, c.deliveriesAsc
		}
		list := func(cursor string) (int, error) {
			ds, _, err := e.store.ListDeliveries(t.Context(), webhook.DeliveryFilter{OrganizationID: e.org, Order: order, Page: webhook.Page{Limit: 10, Cursor: cursor}})
			return len(ds), err
		}
		n, err := list(own)
		require.NoError(t, err, "the listing's own cursor, Order %q", order)
		require.Equal(t, 2, n, "deliveries after the first, Order %q", order)

		requireRefused(t, fmt.Sprintf("ListDeliveries with Order %q", order), badCursors(own, []string{c.delivery, c.sub}, map[string]string{
			"the other order": other, "subscriptions": c.subscriptions,
			"events": c.eventsAsc, "events newest first": c.eventsDesc,
		}), list)
	}
}
