package storetest

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

var enqueueTests = []test{
	{"StoresEventAndPendingDeliveries", testEnqueueStores},
	{"SameEventAgainCreatesNothingAndKeepsFirstPayload", testEnqueueIdempotent},
	{"DuplicatesWithinOneCallAreSkipped", testEnqueueDuplicatesInCall},
	{"KnownEventGetsOnlyNewSubscriptions", testEnqueueKnownEvent},
	{"LargeFanOutIsIdempotent", testEnqueueLargeFanOut},
	{"EventWithoutDeliveriesIsStored", testEnqueueNoDeliveries},
	{"SameEventIDInAnotherOrganizationIsAnotherEvent", testEnqueueOtherOrg},
}

// requireSameEvent requires got to be want: the same IDs and type, the same
// instant and zone offset (as the Envelope shows them), and the same JSON.
func requireSameEvent(t *testing.T, want, got *webhook.Event) {
	t.Helper()
	require.NotNil(t, got)
	require.Equal(t, want.ID, got.ID, "ID")
	require.Equal(t, want.Type, got.Type, "Type")
	require.Equal(t, want.OrganizationID, got.OrganizationID, "OrganizationID")
	requireEqualTime(t, want.Timestamp, got.Timestamp, "Timestamp")
	require.Equal(t, want.Timestamp.Format(webhook.TimestampLayout), got.Timestamp.Format(webhook.TimestampLayout),
		"Timestamp as the Envelope shows it (zone offset kept)")
	require.JSONEq(t, string(want.Data), string(got.Data), "Data")
	require.Equal(t, want.Trace, got.Trace, "Trace")
}

func testEnqueueStores(t *testing.T, e *env) {
	ctx := t.Context()
	a, b := e.createSubscription(t), e.createSubscription(t)
	ev := e.newEvent()
	want := *ev
	want.Data = append(json.RawMessage(nil), ev.Data...)
	due := e.at(time.Second)
	ds := []*webhook.Delivery{e.newDelivery(ev, a, due), e.newDelivery(ev, b, e.now)}
	n, err := e.store.Enqueue(ctx, ev, ds)
	require.NoError(t, err)
	require.Equal(t, 2, n)

	// The store kept copies.
	ev.Data[2] = 'X'
	ev.Type = "changed"
	ds[0].SubscriptionID = "changed"

	got, err := e.store.GetEvent(ctx, e.org, want.ID)
	require.NoError(t, err)
	requireSameEvent(t, &want, got)

	for i, sub := range []*webhook.Subscription{a, b} {
		d := e.getDelivery(t, ds[i].ID)
		require.Equal(t, ds[i].ID, d.ID)
		require.Equal(t, want.ID, d.EventID)
		require.Equal(t, want.Type, d.EventType, "EventType")
		require.Equal(t, e.org, d.OrganizationID)
		require.Equal(t, sub.ID, d.SubscriptionID)
		require.Equal(t, webhook.DeliveryPending, d.State)
		require.Zero(t, d.Attempts)
		require.True(t, d.RedeliveredAt.IsZero(), "RedeliveredAt of a delivery never redelivered")
		require.Zero(t, d.AttemptsAtRedelivery)
		require.Zero(t, d.LastStatusCode)
		require.Empty(t, d.LastError)
		requireEqualTime(t, []time.Time{due, e.now}[i], d.NextAttemptAt, "NextAttemptAt")
		requireEqualTime(t, e.now, d.CreatedAt, "CreatedAt")
		require.Empty(t, d.Lease)
		require.True(t, d.LeasedUntil.IsZero(), "LeasedUntil of an unclaimed delivery")
		require.Nil(t, d.Event)
		require.Nil(t, d.Subscription)
	}
}

func testEnqueueIdempotent(t *testing.T, e *env) {
	ctx := t.Context()
	a, b := e.createSubscription(t), e.createSubscription(t)
	ev, first := e.enqueue(t, e.now, a, b)

	// The same event again, as a second Dispatch makes it: new delivery
	// IDs, another payload.
	again := *ev
	again.Data = json.RawMessage(`{"contactId":-1,"name":"changed"}`)
	again.Type = "contact.updated"
	n, err := e.store.Enqueue(ctx, &again, []*webhook.Delivery{e.newDelivery(&again, b, e.now), e.newDelivery(&again, a, e.now)})
	require.NoError(t, err)
	require.Zero(t, n, "deliveries created by the second Enqueue")

	got, err := e.store.GetEvent(ctx, e.org, ev.ID)
	require.NoError(t, err)
	requireSameEvent(t, ev, got)

	list, _, err := e.store.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: e.org})
	require.NoError(t, err)
	require.Equal(t, deliveryIDs(first), deliveryIDs(list))
}

func testEnqueueDuplicatesInCall(t *testing.T, e *env) {
	ctx := t.Context()
	a, b := e.createSubscription(t), e.createSubscription(t)
	ev := e.newEvent()
	da, db, da2 := e.newDelivery(ev, a, e.now), e.newDelivery(ev, b, e.now), e.newDelivery(ev, a, e.now)
	n, err := e.store.Enqueue(ctx, ev, []*webhook.Delivery{da, db, da2})
	require.NoError(t, err)
	require.Equal(t, 2, n)

	e.getDelivery(t, da.ID)
	e.getDelivery(t, db.ID)
	_, err = e.store.GetDelivery(ctx, e.org, da2.ID)
	requireNotFound(t, err, "the later duplicate")
	list, _, err := e.store.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: e.org})
	require.NoError(t, err)
	require.Equal(t, []string{da.ID, db.ID}, deliveryIDs(list))
}

func testEnqueueKnownEvent(t *testing.T, e *env) {
	ctx := t.Context()
	a, b := e.createSubscription(t), e.createSubscription(t)
	ev, first := e.enqueue(t, e.now, a)

	db := e.newDelivery(ev, b, e.now)
	n, err := e.store.Enqueue(ctx, ev, []*webhook.Delivery{e.newDelivery(ev, a, e.now), db})
	require.NoError(t, err)
	require.Equal(t, 1, n)

	list, _, err := e.store.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: e.org})
	require.NoError(t, err)
	require.Equal(t, []string{first[0].ID, db.ID}, deliveryIDs(list))
}

func testEnqueueLargeFanOut(t *testing.T, e *env) {
	ctx := t.Context()
	const n = 40
	subs := make([]*webhook.Subscription, n)
	for i := range subs {
		subs[i] = e.createSubscription(t)
	}
	ev := e.newEvent()
	// The first half, each twice in the same call.
	var ds []*webhook.Delivery
	for _, s := range subs[:n/2] {
		ds = append(ds, e.newDelivery(ev, s, e.now))
	}
	for _, s := range subs[:n/2] {
		ds = append(ds, e.newDelivery(ev, s, e.now))
	}
	created, err := e.store.Enqueue(ctx, ev, ds)
	require.NoError(t, err)
	require.Equal(t, n/2, created)

	// All of them: only the second half is new.
	ds = ds[:0]
	for _, s := range subs {
		ds = append(ds, e.newDelivery(ev, s, e.now))
	}
	created, err = e.store.Enqueue(ctx, ev, ds)
	require.NoError(t, err)
	require.Equal(t, n/2, created)
	created, err = e.store.Enqueue(ctx, ev, ds)
	require.NoError(t, err)
	require.Zero(t, created)

	list := e.listDeliveryPages(t, webhook.DeliveryFilter{OrganizationID: e.org}, webhook.MaxPageLimit)[0]
	require.Len(t, list, n)
}

func testEnqueueNoDeliveries(t *testing.T, e *env) {
	ev := e.newEvent()
	n, err := e.store.Enqueue(t.Context(), ev, nil)
	require.NoError(t, err)
	require.Zero(t, n)
	got, err := e.store.GetEvent(t.Context(), e.org, ev.ID)
	require.NoError(t, err)
	requireSameEvent(t, ev, got)
}

func testEnqueueOtherOrg(t *testing.T, e *env) {
	ctx := t.Context()
	other := e.otherOrg()
	mine, theirs := e.createSubscription(t), other.createSubscription(t)
	ev, _ := e.enqueue(t, e.now, mine)

	dup := other.newEvent()
	dup.ID = ev.ID
	d := other.newDelivery(dup, theirs, e.now)
	n, err := e.store.Enqueue(ctx, dup, []*webhook.Delivery{d})
	require.NoError(t, err)
	require.Equal(t, 1, n, "deliveries of the same event ID in another organization")

	got, err := e.store.GetEvent(ctx, e.org, ev.ID)
	require.NoError(t, err)
	requireSameEvent(t, ev, got)
	got, err = e.store.GetEvent(ctx, other.org, ev.ID)
	require.NoError(t, err)
	requireSameEvent(t, dup, got)
}

var eventTests = []test{
	{"TimestampKeepsItsZoneOffset", testEventTimestampZone},
	{"GetMissingFailsWithErrNotFound", testGetMissingEvent},
	{"ReturnedEventsAreCopies", testEventCopies},
	{"ListPaginatesInIDOrder", testListEventsPages},
	{"ListFiltersByTimeRange", testListEventsRange},
	{"ListFiltersByType", testListEventsType},
	{"ListNewestFirstPagesInDescendingIDOrder", testListEventsNewestFirst},
	{"ListOldestFirstIsTheDefaultOrder", testListEventsOldestFirst},
	{"ListIsScopedToOrganization", testListEventsOrg},
	{"ListRejectsLimitOutOfRange", testListEventsBadLimit},
	{"ListRejectsUnknownOrder", testListEventsBadOrder},
	{"ListRequiresOrganizationID", testListEventsNoOrg},
}

func testEventTimestampZone(t *testing.T, e *env) {
	zones := []*time.Location{
		time.FixedZone("CST", -6*60*60),
		time.FixedZone("IST", 5*60*60+30*60),
		time.FixedZone("", -(3*60*60 + 30*60)),
		time.UTC,
	}
	for _, z := range zones {
		ev := e.newEvent()
		ev.Timestamp = time.Date(2017, 1, 24, 3, 42, 59, 123456000, z)
		_, err := e.store.Enqueue(t.Context(), ev, nil)
		require.NoError(t, err)
		got, err := e.store.GetEvent(t.Context(), e.org, ev.ID)
		require.NoError(t, err)
		requireSameEvent(t, ev, got)
	}
}

func testGetMissingEvent(t *testing.T, e *env) {
	ev := e.newEvent()
	_, err := e.store.Enqueue(t.Context(), ev, nil)
	require.NoError(t, err)
	_, err = e.store.GetEvent(t.Context(), e.org, newID("evt_"))
	requireNotFound(t, err, "GetEvent of a missing ID")
	_, err = e.store.GetEvent(t.Context(), newID("org_"), ev.ID)
	requireNotFound(t, err, "GetEvent in another organization")
}

func testEventCopies(t *testing.T, e *env) {
	ev := e.newEvent()
	want := *ev
	want.Data = append(json.RawMessage(nil), ev.Data...)
	_, err := e.store.Enqueue(t.Context(), ev, nil)
	require.NoError(t, err)
	ev.Data[2] = 'X'

	got, err := e.store.GetEvent(t.Context(), e.org, ev.ID)
	require.NoError(t, err)
	requireSameEvent(t, &want, got)
	got.Data[2] = 'X'
	got, err = e.store.GetEvent(t.Context(), e.org, ev.ID)
	require.NoError(t, err)
	requireSameEvent(t, &want, got)
}

// storeEvents stores n events of e.org, the i-th happening at e.now + i
// hours, and returns them in ID order.
func (e *env) storeEvents(t *testing.T, n int) []*webhook.Event {
	t.Helper()
	evs := make([]*webhook.Event, n)
	for i := range evs {
		evs[i] = e.newEvent()
		evs[i].Timestamp = e.at(time.Duration(i) * time.Hour).In(zone)
	}
	// Stored in an order that is not the ID order.
	for i := range evs {
		j := (i * 2) % n
		if n%2 == 0 {
			j = n - 1 - i
		}
		_, err := e.store.Enqueue(t.Context(), evs[j], nil)
		require.NoError(t, err)
	}
	return evs
}

// listEventPages pages through the events f selects with the limit and
// returns the IDs of each page.
func (e *env) listEventPages(t *testing.T, f webhook.EventFilter, limit int) [][]string {
	t.Helper()
	var pages [][]string
	f.Page = webhook.Page{Limit: limit}
	for {
		evs, next, err := e.store.ListEvents(t.Context(), f)
		require.NoError(t, err)
		require.LessOrEqual(t, len(evs), limit)
		pages = append(pages, eventIDs(evs))
		if next == "" {
			return pages
		}
		require.Len(t, evs, limit, "a page before the last one is full")
		require.Less(t, len(pages), 100, "pagination does not end")
		f.Page.Cursor = next
	}
}

func testListEventsPages(t *testing.T, e *env) {
	evs := e.storeEvents(t, 5)
	ids := eventIDs(evs)
	f := webhook.EventFilter{OrganizationID: e.org}
	require.Equal(t, [][]string{ids[0:2], ids[2:4], ids[4:5]}, e.listEventPages(t, f, 2))
	require.Equal(t, [][]string{ids}, e.listEventPages(t, f, 5))

	got, _, err := e.store.ListEvents(t.Context(), webhook.EventFilter{OrganizationID: e.org, Page: webhook.Page{Limit: 1}})
	require.NoError(t, err)
	requireSameEvent(t, evs[0], got[0])
}

func testListEventsRange(t *testing.T, e *env) {
	evs := e.storeEvents(t, 6)
	ids := eventIDs(evs)
	org := e.org
	// [now+1h, now+4h) holds events 1, 2 and 3; the bounds are instants,
	// whatever their zone.
	f := webhook.EventFilter{OrganizationID: org, From: e.at(time.Hour), To: e.at(4 * time.Hour).In(zone)}
	require.Equal(t, [][]string{ids[1:3], ids[3:4]}, e.listEventPages(t, f, 2))
	require.Equal(t, [][]string{ids[1:4]}, e.listEventPages(t, f, 3))
	require.Equal(t, [][]string{ids[4:6]}, e.listEventPages(t, webhook.EventFilter{OrganizationID: org, From: e.at(4 * time.Hour)}, 10))
	require.Equal(t, [][]string{ids[0:2]}, e.listEventPages(t, webhook.EventFilter{OrganizationID: org, To: e.at(2 * time.Hour)}, 10))
	require.Equal(t, [][]string{{}}, e.listEventPages(t, webhook.EventFilter{OrganizationID: org, From: e.at(10 * time.Hour)}, 10))
}

func testListEventsType(t *testing.T, e *env) {
	types := []string{"contact.created", "sale.changed", "contact.created", "contact.created.extra", "contact.created"}
	evs := make([]*webhook.Event, len(types))
	for i, typ := range types {
		evs[i] = e.newEvent()
		evs[i].Type = typ
		evs[i].Timestamp = e.at(time.Duration(i) * time.Hour).In(zone)
	}
	for _, i := range []int{4, 1, 0, 3, 2} {
		_, err := e.store.Enqueue(t.Context(), evs[i], nil)
		require.NoError(t, err)
	}
	ids := eventIDs(evs)
	org := e.org
	// The type is matched exactly, not as a pattern or a prefix.
	created := webhook.EventFilter{OrganizationID: org, Type: "contact.created"}
	require.Equal(t, [][]string{{ids[0], ids[2]}, {ids[4]}}, e.listEventPages(t, created, 2))
	require.Equal(t, [][]string{{ids[1]}}, e.listEventPages(t, webhook.EventFilter{OrganizationID: org, Type: "sale.changed"}, 10))
	require.Equal(t, [][]string{{}}, e.listEventPages(t, webhook.EventFilter{OrganizationID: org, Type: "contact.*"}, 10))
	require.Equal(t, [][]string{{}}, e.listEventPages(t, webhook.EventFilter{OrganizationID: org, Type: "contact"}, 10))
	// With a time range and the newest first.
	f := webhook.EventFilter{OrganizationID: org, Type: "contact.created", From: e.at(time.Hour), To: e.at(5 * time.Hour), Order: webhook.NewestFirst}
	require.Equal(t, [][]string{{ids[4]}, {ids[2]}}, e.listEventPages(t, f, 1))
}

func testListEventsNewestFirst(t *testing.T, e *env) {
	evs := e.storeEvents(t, 5)
	ids := eventIDs(evs)
	rev := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	f := webhook.EventFilter{OrganizationID: e.org, Order: webhook.NewestFirst}
	require.Equal(t, [][]string{rev[0:2], rev[2:4], rev[4:5]}, e.listEventPages(t, f, 2))
	require.Equal(t, [][]string{rev}, e.listEventPages(t, f, 5))
	require.Equal(t, [][]string{rev[0:1], rev[1:2], rev[2:3], rev[3:4], rev[4:5]}, e.listEventPages(t, f, 1))
	// With a time range: [now+1h, now+4h) holds events 1, 2 and 3.
	f.From, f.To = e.at(time.Hour), e.at(4*time.Hour)
	require.Equal(t, [][]string{{ids[3], ids[2]}, {ids[1]}}, e.listEventPages(t, f, 2))

	got, _, err := e.store.ListEvents(t.Context(), webhook.EventFilter{OrganizationID: e.org, Order: webhook.NewestFirst, Page: webhook.Page{Limit: 1}})
	require.NoError(t, err)
	requireSameEvent(t, evs[4], got[0])
}

func testListEventsOldestFirst(t *testing.T, e *env) {
	ids := eventIDs(e.storeEvents(t, 3))
	for _, order := range []webhook.Order{"", webhook.OldestFirst} {
		f := webhook.EventFilter{OrganizationID: e.org, Order: order}
		require.Equal(t, [][]string{ids[0:2], ids[2:3]}, e.listEventPages(t, f, 2), "Order %q", order)
	}
	// One order: a cursor of either continues the other.
	for _, orders := range [][2]webhook.Order{{"", webhook.OldestFirst}, {webhook.OldestFirst, ""}} {
		first, next, err := e.store.ListEvents(t.Context(), webhook.EventFilter{OrganizationID: e.org, Order: orders[0], Page: webhook.Page{Limit: 2}})
		require.NoError(t, err)
		require.Equal(t, ids[0:2], eventIDs(first))
		rest, _, err := e.store.ListEvents(t.Context(), webhook.EventFilter{OrganizationID: e.org, Order: orders[1], Page: webhook.Page{Limit: 2, Cursor: next}})
		require.NoError(t, err, "a cursor of Order %q with Order %q", orders[0], orders[1])
		require.Equal(t, ids[2:3], eventIDs(rest))
	}
}

func testListEventsBadOrder(t *testing.T, e *env) {
	e.storeEvents(t, 1)
	for _, order := range []webhook.Order{"desc", "asc", "Newest", "oldest ", "random"} {
		evs, _, err := e.store.ListEvents(t.Context(), webhook.EventFilter{OrganizationID: e.org, Order: order})
		requireInvalidArgument(t, err, "ListEvents with Order "+strconv.Quote(string(order)))
		require.Empty(t, evs)
	}
}

func testListEventsNoOrg(t *testing.T, e *env) {
	e.storeEvents(t, 1)
	evs, _, err := e.store.ListEvents(t.Context(), webhook.EventFilter{})
	requireInvalidArgument(t, err, "ListEvents without OrganizationID")
	require.Empty(t, evs)
}

func testListEventsOrg(t *testing.T, e *env) {
	mine := e.storeEvents(t, 2)
	other := e.otherOrg()
	theirs := other.storeEvents(t, 1)
	require.Equal(t, [][]string{eventIDs(mine)}, e.listEventPages(t, webhook.EventFilter{OrganizationID: e.org}, 10))
	require.Equal(t, [][]string{eventIDs(theirs)}, e.listEventPages(t, webhook.EventFilter{OrganizationID: other.org}, 10))
}

func testListEventsBadLimit(t *testing.T, e *env) {
	e.storeEvents(t, 1)
	for _, limit := range []int{-1, webhook.MaxPageLimit + 1} {
		_, _, err := e.store.ListEvents(t.Context(), webhook.EventFilter{OrganizationID: e.org, Page: webhook.Page{Limit: limit}})
		requireInvalidArgument(t, err, "ListEvents with a Limit out of range")
	}
}

var pruneTests = []test{
	{"DeletesOldEventsWithoutPendingDeliveries", testPrune},
	{"DeletesDeliveriesAndAttemptsWithTheEvent", testPruneDeliveries},
	{"KeepsEventWhileAnyDeliveryIsPending", testPrunePending},
	{"RespectsLimit", testPruneLimit},
}

func testPrune(t *testing.T, e *env) {
	ctx := t.Context()
	s := e.createSubscription(t)
	cutoff := e.now
	mk := func(ts time.Time) (*webhook.Event, *webhook.Delivery) {
		ev := e.newEvent()
		ev.Timestamp = ts.In(zone)
		d := e.newDelivery(ev, s, e.at(-3*time.Hour))
		n, err := e.store.Enqueue(ctx, ev, []*webhook.Delivery{d})
		require.NoError(t, err)
		require.Equal(t, 1, n)
		return ev, d
	}
	oldDelivered, d1 := mk(e.at(-2 * time.Hour))
	oldPending, _ := mk(e.at(-2 * time.Hour))
	oldDead, d3 := mk(e.at(-time.Hour))
	atCutoff, d4 := mk(cutoff)
	recent, d5 := mk(e.at(time.Hour))
	bare := e.newEvent()
	bare.Timestamp = e.at(-3 * time.Hour)
	_, err := e.store.Enqueue(ctx, bare, nil)
	require.NoError(t, err)

	e.finishAs(t, e.now, d1, webhook.DeliveryDelivered)
	e.finishAs(t, e.now, d3, webhook.DeliveryDead)
	e.finishAs(t, e.now, d4, webhook.DeliveryDelivered)
	e.finishAs(t, e.now, d5, webhook.DeliveryDelivered)

	n, err := e.store.Prune(ctx, cutoff, 100)
	require.NoError(t, err)
	require.Equal(t, 3, n, "events pruned")

	for _, ev := range []*webhook.Event{oldDelivered, oldDead, bare} {
		_, err := e.store.GetEvent(ctx, e.org, ev.ID)
		requireNotFound(t, err, "GetEvent of a pruned event")
	}
	for _, ev := range []*webhook.Event{oldPending, atCutoff, recent} {
		got, err := e.store.GetEvent(ctx, e.org, ev.ID)
		require.NoError(t, err, "an event that must be kept")
		requireSameEvent(t, ev, got)
	}
	n, err = e.store.Prune(ctx, cutoff, 100)
	require.NoError(t, err)
	require.Zero(t, n, "a second Prune")
}

func testPruneDeliveries(t *testing.T, e *env) {
	ctx := t.Context()
	a, b := e.createSubscription(t), e.createSubscription(t)
	ev1, ds1 := e.enqueue(t, e.now, a, b)
	ev2, ds2 := e.enqueue(t, e.now, a)
	e.finishAs(t, e.now, ds1[0], webhook.DeliveryDelivered)
	e.finishAs(t, e.now, ds1[1], webhook.DeliveryDead)
	e.finishAs(t, e.now, ds2[0], webhook.DeliveryDelivered)

	// Both events happened at e.now, just before the cutoff.
	n, err := e.store.Prune(ctx, e.at(time.Microsecond), 2)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, ev := range []*webhook.Event{ev1, ev2} {
		_, err = e.store.GetEvent(ctx, e.org, ev.ID)
		requireNotFound(t, err, "GetEvent of a pruned event")
	}
	for _, d := range append(ds1, ds2...) {
		_, err := e.store.GetDelivery(ctx, e.org, d.ID)
		requireNotFound(t, err, "GetDelivery of a delivery of a pruned event")
		_, err = e.store.ListAttempts(ctx, e.org, d.ID)
		requireNotFound(t, err, "ListAttempts of a pruned delivery")
	}
	list, next, err := e.store.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: e.org})
	require.NoError(t, err)
	require.Empty(t, list)
	require.Empty(t, next)
	// The subscriptions stay.
	e.getSubscription(t, a.ID)
	e.getSubscription(t, b.ID)
}

func testPrunePending(t *testing.T, e *env) {
	ctx := t.Context()
	a, b := e.createSubscription(t), e.createSubscription(t)
	ev, ds := e.enqueue(t, e.now, a, b)
	e.finishAs(t, e.now, ds[0], webhook.DeliveryDelivered)

	n, err := e.store.Prune(ctx, e.at(time.Hour), 10)
	require.NoError(t, err)
	require.Zero(t, n, "pruned with a delivery pending")
	e.getDelivery(t, ds[0].ID)

	e.finishAs(t, e.now, ds[1], webhook.DeliveryDead)
	// A redelivered delivery is pending again.
	require.NoError(t, e.store.Redeliver(ctx, e.org, ds[1].ID, e.now))
	n, err = e.store.Prune(ctx, e.at(time.Hour), 10)
	require.NoError(t, err)
	require.Zero(t, n, "pruned with a redelivered delivery pending")

	e.finishAs(t, e.now, ds[1], webhook.DeliveryDelivered)
	n, err = e.store.Prune(ctx, e.at(time.Hour), 10)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	_, err = e.store.GetEvent(ctx, e.org, ev.ID)
	requireNotFound(t, err, "GetEvent after Prune")
}

func testPruneLimit(t *testing.T, e *env) {
	ctx := t.Context()
	s := e.createSubscription(t)
	for range 5 {
		d := e.enqueueOne(t, s, e.now)
		e.finishAs(t, e.now, d, webhook.DeliveryDelivered)
	}
	for _, want := range []int{2, 2, 1, 0} {
		n, err := e.store.Prune(ctx, e.at(time.Hour), 2)
		require.NoError(t, err)
		require.Equal(t, want, n)
	}
	evs, _, err := e.store.ListEvents(ctx, webhook.EventFilter{OrganizationID: e.org})
	require.NoError(t, err)
	require.Empty(t, evs)
}
