package storetest

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

var deliveryTests = []test{
	{"GetMissingFailsWithErrNotFound", testGetMissingDelivery},
	{"ReturnedDeliveriesAreCopies", testDeliveryCopies},
	{"EventTypeIsSetOnGetListAndClaim", testDeliveryEventType},
	{"NextAttemptAtIsZeroOnceDeliveredOrDead", testDeliveryNextAttemptAtZero},
	{"ListPaginatesInIDOrder", testListDeliveriesPages},
	{"ListNewestFirstPagesInDescendingIDOrder", testListDeliveriesNewestFirst},
	{"ListOldestFirstIsTheDefaultOrder", testListDeliveriesOldestFirst},
	{"ListFiltersCombine", testListDeliveriesFilters},
	{"ListRejectsLimitOutOfRange", testListDeliveriesBadLimit},
	{"ListRejectsUnknownOrder", testListDeliveriesBadOrder},
	{"ListRequiresOrganizationID", testListDeliveriesNoOrg},
	{"ListAttemptsOfMissingDeliveryFailsWithErrNotFound", testListAttemptsMissing},
}

func testGetMissingDelivery(t *testing.T, e *env) {
	_, err := e.store.GetDelivery(t.Context(), e.org, newID("dlv_"))
	requireNotFound(t, err, "GetDelivery of a missing ID")
}

func testDeliveryCopies(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	d.State, d.Attempts, d.SubscriptionID = webhook.DeliveryDead, 7, "changed"
	got := e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryPending, got.State)
	require.Equal(t, s.ID, got.SubscriptionID)
	got.State, got.Attempts = webhook.DeliveryDead, 7
	got = e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryPending, got.State)
	require.Zero(t, got.Attempts)
}

func testDeliveryEventType(t *testing.T, e *env) {
	s := e.createSubscription(t, "*")
	created := e.enqueueOne(t, s, e.now)
	ev := e.newEvent()
	ev.Type = "sale.changed"
	sale := e.newDelivery(ev, s, e.at(time.Second))
	_, err := e.store.Enqueue(t.Context(), ev, []*webhook.Delivery{sale})
	require.NoError(t, err)
	want := map[string]string{created.ID: "contact.created", sale.ID: "sale.changed"}

	requireTypes := func(ds []*webhook.Delivery, how string) {
		t.Helper()
		require.Len(t, ds, len(want), how)
		for _, d := range ds {
			require.Equal(t, want[d.ID], d.EventType, "EventType of %s from %s", d.ID, how)
		}
	}
	requireTypes([]*webhook.Delivery{e.getDelivery(t, created.ID), e.getDelivery(t, sale.ID)}, "GetDelivery")
	for _, order := range []webhook.Order{webhook.OldestFirst, webhook.NewestFirst} {
		list, _, err := e.store.ListDeliveries(t.Context(), webhook.DeliveryFilter{OrganizationID: e.org, Order: order})
		require.NoError(t, err)
		requireTypes(list, "ListDeliveries "+string(order))
	}
	requireTypes(e.claimAt(t, e.at(time.Second)), "Claim")

	// Kept once finished.
	e.finishAs(t, e.at(2*time.Minute), created, webhook.DeliveryDelivered)
	e.finishAs(t, e.at(2*time.Minute), sale, webhook.DeliveryDead)
	requireTypes([]*webhook.Delivery{e.getDelivery(t, created.ID), e.getDelivery(t, sale.ID)}, "GetDelivery once finished")
	list, _, err := e.store.ListDeliveries(t.Context(), webhook.DeliveryFilter{OrganizationID: e.org})
	require.NoError(t, err)
	requireTypes(list, "ListDeliveries once finished")
}

func testDeliveryNextAttemptAtZero(t *testing.T, e *env) {
	ctx := t.Context()
	s := e.createSubscription(t)
	delivered := e.enqueueOne(t, s, e.now)
	dead := e.enqueueOne(t, s, e.now)
	retried := e.enqueueOne(t, s, e.now)
	e.finishAs(t, e.now, delivered, webhook.DeliveryDelivered)
	e.finishAs(t, e.now, dead, webhook.DeliveryDead)
	next := e.at(10 * time.Minute)
	e.finishAttempt(t, e.now, retried, webhook.DeliveryPending, e.now, next)

	requireNext := func(how string, ds ...*webhook.Delivery) {
		t.Helper()
		for _, d := range ds {
			switch d.ID {
			case retried.ID:
				requireEqualTime(t, next, d.NextAttemptAt, "NextAttemptAt of a pending delivery from "+how)
			default:
				require.True(t, d.NextAttemptAt.IsZero(), "NextAttemptAt of a %s delivery from %s: %v", d.State, how, d.NextAttemptAt)
			}
		}
	}
	requireNext("GetDelivery", e.getDelivery(t, delivered.ID), e.getDelivery(t, dead.ID), e.getDelivery(t, retried.ID))
	for _, f := range []webhook.DeliveryFilter{
		{OrganizationID: e.org},
		{OrganizationID: e.org, Order: webhook.NewestFirst},
		{OrganizationID: e.org, State: webhook.DeliveryDelivered},
		{OrganizationID: e.org, State: webhook.DeliveryDead},
	} {
		list, _, err := e.store.ListDeliveries(ctx, f)
		require.NoError(t, err)
		require.NotEmpty(t, list)
		requireNext(fmt.Sprintf("ListDeliveries(%+v)", f), list...)
	}

	// A redelivery makes it due again; the next end makes it zero again.
	at := e.at(time.Hour)
	require.NoError(t, e.store.Redeliver(ctx, e.org, dead.ID, at))
	requireEqualTime(t, at, e.getDelivery(t, dead.ID).NextAttemptAt, "NextAttemptAt of a redelivered delivery")
	e.finishAs(t, at, dead, webhook.DeliveryDelivered)
	got := e.getDelivery(t, dead.ID)
	require.Equal(t, webhook.DeliveryDelivered, got.State)
	require.True(t, got.NextAttemptAt.IsZero(), "NextAttemptAt once delivered after a redelivery: %v", got.NextAttemptAt)
}

// listDeliveryPages pages through the deliveries f selects with the limit
// and returns the IDs of each page.
func (e *env) listDeliveryPages(t *testing.T, f webhook.DeliveryFilter, limit int) [][]string {
	t.Helper()
	var pages [][]string
	f.Page = webhook.Page{Limit: limit}
	for {
		ds, next, err := e.store.ListDeliveries(t.Context(), f)
		require.NoError(t, err)
		require.LessOrEqual(t, len(ds), limit)
		pages = append(pages, deliveryIDs(ds))
		if next == "" {
			return pages
		}
		require.Len(t, ds, limit, "a page before the last one is full")
		require.Less(t, len(pages), 100, "pagination does not end")
		f.Page.Cursor = next
	}
}

// enqueueFive stores five deliveries, alternately to two subscriptions and
// due in an order that is not the ID order, and returns them in ID order.
func (e *env) enqueueFive(t *testing.T) []*webhook.Delivery {
	t.Helper()
	a, b := e.createSubscription(t), e.createSubscription(t)
	var ds []*webhook.Delivery
	for i := range 5 {
		_, got := e.enqueue(t, e.at(time.Duration(-i)*time.Minute), []*webhook.Subscription{a, b}[i%2])
		ds = append(ds, got...)
	}
	return ds
}

func testListDeliveriesPages(t *testing.T, e *env) {
	ids := deliveryIDs(e.enqueueFive(t))
	f := webhook.DeliveryFilter{OrganizationID: e.org}
	require.Equal(t, [][]string{ids[0:2], ids[2:4], ids[4:5]}, e.listDeliveryPages(t, f, 2))
	require.Equal(t, [][]string{ids}, e.listDeliveryPages(t, f, 5))
	require.Equal(t, [][]string{ids}, e.listDeliveryPages(t, f, webhook.MaxPageLimit))

	// The default limit.
	got, next, err := e.store.ListDeliveries(t.Context(), f)
	require.NoError(t, err)
	require.Equal(t, ids, deliveryIDs(got))
	require.Empty(t, next)
}

func testListDeliveriesNewestFirst(t *testing.T, e *env) {
	ds := e.enqueueFive(t)
	ids := deliveryIDs(ds)
	rev := []string{ids[4], ids[3], ids[2], ids[1], ids[0]}
	f := webhook.DeliveryFilter{OrganizationID: e.org, Order: webhook.NewestFirst}
	require.Equal(t, [][]string{rev[0:2], rev[2:4], rev[4:5]}, e.listDeliveryPages(t, f, 2))
	require.Equal(t, [][]string{rev}, e.listDeliveryPages(t, f, 5))
	require.Equal(t, [][]string{rev[0:1], rev[1:2], rev[2:3], rev[3:4], rev[4:5]}, e.listDeliveryPages(t, f, 1))
	require.Equal(t, [][]string{rev}, e.listDeliveryPages(t, f, webhook.MaxPageLimit))

	// With a filter: the deliveries to the first subscription.
	f.SubscriptionID = ds[0].SubscriptionID
	require.Equal(t, [][]string{{ids[4], ids[2]}, {ids[0]}}, e.listDeliveryPages(t, f, 2))

	// The default limit.
	got, next, err := e.store.ListDeliveries(t.Context(), webhook.DeliveryFilter{OrganizationID: e.org, Order: webhook.NewestFirst})
	require.NoError(t, err)
	require.Equal(t, rev, deliveryIDs(got))
	require.Empty(t, next)
}

func testListDeliveriesOldestFirst(t *testing.T, e *env) {
	ids := deliveryIDs(e.enqueueFive(t))
	for _, order := range []webhook.Order{"", webhook.OldestFirst} {
		f := webhook.DeliveryFilter{OrganizationID: e.org, Order: order}
		require.Equal(t, [][]string{ids[0:2], ids[2:4], ids[4:5]}, e.listDeliveryPages(t, f, 2), "Order %q", order)
	}
	// One order: a cursor of either continues the other.
	for _, orders := range [][2]webhook.Order{{"", webhook.OldestFirst}, {webhook.OldestFirst, ""}} {
		first, next, err := e.store.ListDeliveries(t.Context(), webhook.DeliveryFilter{OrganizationID: e.org, Order: orders[0], Page: webhook.Page{Limit: 3}})
		require.NoError(t, err)
		require.Equal(t, ids[0:3], deliveryIDs(first))
		rest, _, err := e.store.ListDeliveries(t.Context(), webhook.DeliveryFilter{OrganizationID: e.org, Order: orders[1], Page: webhook.Page{Limit: 3, Cursor: next}})
		require.NoError(t, err, "a cursor of Order %q with Order %q", orders[0], orders[1])
		require.Equal(t, ids[3:5], deliveryIDs(rest))
	}
}

func testListDeliveriesFilters(t *testing.T, e *env) {
	ctx := t.Context()
	org := e.org
	a, b := e.createSubscription(t, "*"), e.createSubscription(t, "*")
	// Events of types contact.created, sale.changed, contact.created, to
	// a and b, their deliveries created at now, now+1h and now+2h.
	types := []string{"contact.created", "sale.changed", "contact.created"}
	var evs []*webhook.Event
	var all []*webhook.Delivery
	for i, typ := range types {
		ev := e.newEvent()
		ev.Type = typ
		created := e.at(time.Duration(i) * time.Hour)
		da, db := e.newDelivery(ev, a, e.now), e.newDelivery(ev, b, e.now)
		da.CreatedAt, da.UpdatedAt, db.CreatedAt, db.UpdatedAt = created, created, created, created
		n, err := e.store.Enqueue(ctx, ev, []*webhook.Delivery{da, db})
		require.NoError(t, err)
		require.Equal(t, 2, n)
		evs = append(evs, ev)
		all = append(all, da, db)
	}
	// a's first is delivered, b's first dead; the rest pending.
	e.finishAs(t, e.now, all[0], webhook.DeliveryDelivered)
	e.finishAs(t, e.now, all[1], webhook.DeliveryDead)

	ids := func(is ...int) [][]string {
		page := []string{}
		for _, i := range is {
			page = append(page, all[i].ID)
		}
		return [][]string{page}
	}
	pending, delivered, dead := webhook.DeliveryPending, webhook.DeliveryDelivered, webhook.DeliveryDead
	for _, tc := range []struct {
		name string
		f    webhook.DeliveryFilter
		want [][]string
	}{
		{"none", webhook.DeliveryFilter{OrganizationID: org}, ids(0, 1, 2, 3, 4, 5)},
		{"subscription", webhook.DeliveryFilter{OrganizationID: org, SubscriptionID: a.ID}, ids(0, 2, 4)},
		{"event", webhook.DeliveryFilter{OrganizationID: org, EventID: evs[1].ID}, ids(2, 3)},
		{"event type", webhook.DeliveryFilter{OrganizationID: org, EventType: "contact.created"}, ids(0, 1, 4, 5)},
		{"other event type", webhook.DeliveryFilter{OrganizationID: org, EventType: "sale.changed"}, ids(2, 3)},
		{"event type is not a pattern", webhook.DeliveryFilter{OrganizationID: org, EventType: "contact.*"}, ids()},
		{"event type is not a prefix", webhook.DeliveryFilter{OrganizationID: org, EventType: "contact"}, ids()},
		{"pending", webhook.DeliveryFilter{OrganizationID: org, State: pending}, ids(2, 3, 4, 5)},
		{"delivered", webhook.DeliveryFilter{OrganizationID: org, State: delivered}, ids(0)},
		{"dead", webhook.DeliveryFilter{OrganizationID: org, State: dead}, ids(1)},
		{"subscription and state", webhook.DeliveryFilter{OrganizationID: org, SubscriptionID: b.ID, State: pending}, ids(3, 5)},
		{"event and subscription", webhook.DeliveryFilter{OrganizationID: org, EventID: evs[2].ID, SubscriptionID: b.ID}, ids(5)},
		{"event and state", webhook.DeliveryFilter{OrganizationID: org, EventID: evs[0].ID, State: dead}, ids(1)},
		{"event type and state", webhook.DeliveryFilter{OrganizationID: org, EventType: "contact.created", State: pending}, ids(4, 5)},
		{"event type, subscription and state", webhook.DeliveryFilter{OrganizationID: org, EventType: "contact.created", SubscriptionID: a.ID, State: delivered}, ids(0)},
		{"event and another event type", webhook.DeliveryFilter{OrganizationID: org, EventID: evs[1].ID, EventType: "contact.created"}, ids()},
		{"created from", webhook.DeliveryFilter{OrganizationID: org, CreatedFrom: e.at(time.Hour)}, ids(2, 3, 4, 5)},
		{"created before", webhook.DeliveryFilter{OrganizationID: org, CreatedTo: e.at(time.Hour)}, ids(0, 1)},
		{"created in [1h, 2h)", webhook.DeliveryFilter{OrganizationID: org, CreatedFrom: e.at(time.Hour), CreatedTo: e.at(2 * time.Hour).In(zone)}, ids(2, 3)},
		{"event type and creation time", webhook.DeliveryFilter{OrganizationID: org, EventType: "contact.created", CreatedFrom: e.at(time.Hour)}, ids(4, 5)},
		{"everything", webhook.DeliveryFilter{
			OrganizationID: org, SubscriptionID: b.ID, EventID: evs[2].ID, EventType: "contact.created", State: pending,
			CreatedFrom: e.at(time.Hour), CreatedTo: e.at(3 * time.Hour),
		}, ids(5)},
		{"everything, newest first", webhook.DeliveryFilter{
			OrganizationID: org, SubscriptionID: b.ID, EventType: "contact.created",
			CreatedTo: e.at(3 * time.Hour), Order: webhook.NewestFirst,
		}, ids(5, 1)},
		{"everything but one", webhook.DeliveryFilter{
			OrganizationID: org, SubscriptionID: b.ID, EventID: evs[2].ID, EventType: "contact.created", State: delivered,
		}, ids()},
		{"missing subscription", webhook.DeliveryFilter{OrganizationID: org, SubscriptionID: newID("sub_")}, ids()},
		{"missing event", webhook.DeliveryFilter{OrganizationID: org, EventID: newID("evt_")}, ids()},
		{"missing event type", webhook.DeliveryFilter{OrganizationID: org, EventType: "deal.won"}, ids()},
	} {
		require.Equal(t, tc.want, e.listDeliveryPages(t, tc.f, 10), "filter %s", tc.name)
	}
	// Filters and pagination together, in both orders.
	require.Equal(t, [][]string{{all[2].ID, all[3].ID}, {all[4].ID, all[5].ID}},
		e.listDeliveryPages(t, webhook.DeliveryFilter{OrganizationID: org, State: pending}, 2))
	require.Equal(t, [][]string{{all[5].ID, all[4].ID}, {all[3].ID, all[2].ID}},
		e.listDeliveryPages(t, webhook.DeliveryFilter{OrganizationID: org, State: pending, Order: webhook.NewestFirst}, 2))
	require.Equal(t, [][]string{{all[0].ID, all[2].ID}, {all[4].ID}},
		e.listDeliveryPages(t, webhook.DeliveryFilter{OrganizationID: org, SubscriptionID: a.ID}, 2))
	require.Equal(t, [][]string{{all[0].ID, all[1].ID}, {all[4].ID, all[5].ID}},
		e.listDeliveryPages(t, webhook.DeliveryFilter{OrganizationID: org, EventType: "contact.created"}, 2))
	require.Equal(t, [][]string{{all[5].ID}, {all[4].ID}, {all[1].ID}, {all[0].ID}},
		e.listDeliveryPages(t, webhook.DeliveryFilter{OrganizationID: org, EventType: "contact.created", Order: webhook.NewestFirst}, 1))
}

func testListDeliveriesBadLimit(t *testing.T, e *env) {
	for _, limit := range []int{-1, webhook.MaxPageLimit + 1} {
		_, _, err := e.store.ListDeliveries(t.Context(), webhook.DeliveryFilter{OrganizationID: e.org, Page: webhook.Page{Limit: limit}})
		requireInvalidArgument(t, err, fmt.Sprintf("ListDeliveries with Limit %d", limit))
	}
}

func testListDeliveriesBadOrder(t *testing.T, e *env) {
	s := e.createSubscription(t)
	e.enqueueOne(t, s, e.now)
	for _, order := range []webhook.Order{"desc", "asc", "Newest", "oldest ", "random"} {
		ds, _, err := e.store.ListDeliveries(t.Context(), webhook.DeliveryFilter{OrganizationID: e.org, Order: order})
		requireInvalidArgument(t, err, "ListDeliveries with Order "+strconv.Quote(string(order)))
		require.Empty(t, ds)
	}
}

func testListDeliveriesNoOrg(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	for _, f := range []webhook.DeliveryFilter{
		{},
		{SubscriptionID: s.ID},
		{EventID: d.EventID},
		{State: webhook.DeliveryPending, Order: webhook.NewestFirst},
	} {
		ds, _, err := e.store.ListDeliveries(t.Context(), f)
		requireInvalidArgument(t, err, fmt.Sprintf("ListDeliveries(%+v) without OrganizationID", f))
		require.Empty(t, ds)
	}
}

func testListAttemptsMissing(t *testing.T, e *env) {
	attempts, err := e.store.ListAttempts(t.Context(), e.org, newID("dlv_"))
	requireNotFound(t, err, "ListAttempts of a missing delivery")
	require.Empty(t, attempts)

	// A delivery without attempts has an empty log, not an error.
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	require.Empty(t, e.attempts(t, d.ID))
}

var redeliverTests = []test{
	{"DeadBecomesPendingDueNow", testRedeliverDead},
	{"DeliveredBecomesPendingDueNow", testRedeliverDelivered},
	{"KeepsAttemptsAndTheNextIsManual", testRedeliverAttemptLog},
	{"PendingFailsWithErrInvalidState", testRedeliverPending},
	{"MissingFailsWithErrNotFound", testRedeliverMissing},
	{"DeletedSubscriptionFailsWithErrNotFound", testRedeliverDeletedSubscription},
}

// requireRedelivered requires d to be pending, due at at, redelivered at at
// with Attempts kept at attempts.
func requireRedelivered(t *testing.T, d *webhook.Delivery, at time.Time, attempts int, how string) {
	t.Helper()
	require.Equal(t, webhook.DeliveryPending, d.State, "State from %s", how)
	require.Equal(t, attempts, d.Attempts, "Attempts from %s: kept by Redeliver", how)
	require.Equal(t, attempts, d.AttemptsAtRedelivery, "AttemptsAtRedelivery from %s", how)
	requireEqualTime(t, at, d.RedeliveredAt, "RedeliveredAt from "+how)
	requireEqualTime(t, at, d.NextAttemptAt, "NextAttemptAt from "+how)
}

func testRedeliverDead(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	e.finishAs(t, e.now, d, webhook.DeliveryDead)

	at := e.at(time.Hour)
	require.NoError(t, e.store.Redeliver(t.Context(), e.org, d.ID, at))
	got := e.getDelivery(t, d.ID)
	requireRedelivered(t, got, at, 1, "GetDelivery")
	require.Empty(t, got.Lease)
	require.Equal(t, 500, got.LastStatusCode, "LastStatusCode still describes the latest attempt")
	require.NotEmpty(t, got.LastError, "LastError still describes the latest attempt")

	e.requireNextDue(t, at)
	require.Empty(t, e.claimAt(t, at.Add(-time.Second)), "claimed before the redelivery time")
	c := e.claimOne(t, at, d)
	requireRedelivered(t, c, at, 1, "Claim")

	// The log keeps the attempts from before the redelivery, and the next
	// one is number 2.
	a := attempt(c, 2, at, 200, webhook.DeliveryDelivered)
	a.Manual = true
	e.finish(t, at, webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryDelivered, Attempt: a})
	as := e.attempts(t, d.ID)
	require.Len(t, as, 2)
	require.Equal(t, 500, as[0].StatusCode)
	require.False(t, as[0].Manual)
	requireSameAttempt(t, a, as[1])
	got = e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryDelivered, got.State)
	require.Equal(t, 2, got.Attempts)
	requireEqualTime(t, at, got.RedeliveredAt, "RedeliveredAt once finished")
	require.Equal(t, 1, got.AttemptsAtRedelivery, "AttemptsAtRedelivery once finished")
}

func testRedeliverDelivered(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	e.finishAs(t, e.now, d, webhook.DeliveryDelivered)
	require.NoError(t, e.store.Redeliver(t.Context(), e.org, d.ID, e.at(time.Minute)))
	got := e.getDelivery(t, d.ID)
	requireRedelivered(t, got, e.at(time.Minute), 1, "GetDelivery")
	require.Equal(t, 200, got.LastStatusCode)
	c := e.claimOne(t, e.at(time.Minute), d)
	requireRedelivered(t, c, e.at(time.Minute), 1, "Claim")
}

func testRedeliverAttemptLog(t *testing.T, e *env) {
	ctx := t.Context()
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	var want []*webhook.Attempt
	now := e.now
	step := func(state webhook.DeliveryState) {
		t.Helper()
		var next time.Time
		if state == webhook.DeliveryPending {
			next = now.Add(time.Minute)
		}
		want = append(want, e.finishAttempt(t, now, d, state, now, next))
		now = now.Add(time.Minute)
	}
	step(webhook.DeliveryPending)
	step(webhook.DeliveryPending)
	step(webhook.DeliveryDead)

	first := now
	require.NoError(t, e.store.Redeliver(ctx, e.org, d.ID, first))
	requireRedelivered(t, e.getDelivery(t, d.ID), first, 3, "GetDelivery after the first redelivery")
	list, _, err := e.store.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: e.org, State: webhook.DeliveryPending})
	require.NoError(t, err)
	require.Len(t, list, 1)
	requireRedelivered(t, list[0], first, 3, "ListDeliveries after the first redelivery")
	step(webhook.DeliveryPending) // 4, Manual
	step(webhook.DeliveryDead)    // 5

	second := now
	require.NoError(t, e.store.Redeliver(ctx, e.org, d.ID, second))
	requireRedelivered(t, e.getDelivery(t, d.ID), second, 5, "GetDelivery after the second redelivery")
	step(webhook.DeliveryDelivered) // 6, Manual

	as := e.attempts(t, d.ID)
	require.Len(t, as, len(want))
	for i, a := range as {
		require.Equal(t, i+1, a.Number, "attempt numbers count on across redeliveries")
		require.Equal(t, i+1 == 4 || i+1 == 6, a.Manual, "Manual of attempt %d", i+1)
		requireSameAttempt(t, want[i], a)
	}
	got := e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryDelivered, got.State)
	require.Equal(t, 6, got.Attempts)
	require.Equal(t, 5, got.AttemptsAtRedelivery)
	requireEqualTime(t, second, got.RedeliveredAt, "RedeliveredAt is the latest redelivery")
}

func testRedeliverPending(t *testing.T, e *env) {
	s := e.createSubscription(t)
	waiting := e.enqueueOne(t, s, e.at(time.Hour))
	leased := e.enqueueOne(t, s, e.now)
	c := e.claimOne(t, e.now, leased)
	for _, d := range []*webhook.Delivery{waiting, leased} {
		err := e.store.Redeliver(t.Context(), e.org, d.ID, e.now)
		require.ErrorIs(t, err, webhook.ErrInvalidState)
	}
	got := e.getDelivery(t, leased.ID)
	require.Equal(t, c.Lease, got.Lease, "a refused Redeliver keeps the lease")
	require.True(t, got.RedeliveredAt.IsZero(), "RedeliveredAt after a refused Redeliver")
	got = e.getDelivery(t, waiting.ID)
	requireEqualTime(t, e.at(time.Hour), got.NextAttemptAt, "NextAttemptAt")
	require.True(t, got.RedeliveredAt.IsZero(), "RedeliveredAt after a refused Redeliver")
}

func testRedeliverMissing(t *testing.T, e *env) {
	requireNotFound(t, e.store.Redeliver(t.Context(), e.org, newID("dlv_"), e.now), "Redeliver of a missing delivery")
}

func testRedeliverDeletedSubscription(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	e.finishAs(t, e.now, d, webhook.DeliveryDead)
	require.NoError(t, e.store.DeleteSubscription(t.Context(), e.org, s.ID))

	err := e.store.Redeliver(t.Context(), e.org, d.ID, e.at(time.Minute))
	requireNotFound(t, err, "Redeliver of a delivery whose subscription was deleted")
	got := e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryDead, got.State, "the refused delivery stays dead")
	require.True(t, got.RedeliveredAt.IsZero(), "RedeliveredAt after a refused Redeliver")
	e.requireNothingDue(t)
}

var deleteTests = []test{
	{"RemovesPendingDeliveriesAndKeepsFinishedOnes", testDeleteSubscriptionDeliveries},
}

func testDeleteSubscriptionDeliveries(t *testing.T, e *env) {
	ctx := t.Context()
	gone, other := e.createSubscription(t), e.createSubscription(t)
	ev := e.newEvent()
	delivered, kept := e.newDelivery(ev, gone, e.now), e.newDelivery(ev, other, e.at(30*time.Minute))
	n, err := e.store.Enqueue(ctx, ev, []*webhook.Delivery{delivered, kept})
	require.NoError(t, err)
	require.Equal(t, 2, n)
	dead := e.enqueueOne(t, gone, e.now)
	waiting := e.enqueueOne(t, gone, e.at(time.Hour))
	leased := e.enqueueOne(t, gone, e.now)
	e.finishAs(t, e.now, delivered, webhook.DeliveryDelivered)
	e.finishAs(t, e.now, dead, webhook.DeliveryDead)
	c := e.claimOne(t, e.now, leased)

	require.NoError(t, e.store.DeleteSubscription(ctx, e.org, gone.ID))

	for _, d := range []*webhook.Delivery{waiting, leased} {
		_, err := e.store.GetDelivery(ctx, e.org, d.ID)
		requireNotFound(t, err, "GetDelivery of a pending delivery of a deleted subscription")
	}
	require.Equal(t, webhook.DeliveryDelivered, e.getDelivery(t, delivered.ID).State)
	require.Equal(t, webhook.DeliveryDead, e.getDelivery(t, dead.ID).State)
	require.Len(t, e.attempts(t, delivered.ID), 1, "attempts of a kept delivery")
	require.Len(t, e.attempts(t, dead.ID), 1, "attempts of a kept delivery")
	require.Equal(t, [][]string{{delivered.ID, dead.ID}},
		e.listDeliveryPages(t, webhook.DeliveryFilter{OrganizationID: e.org, SubscriptionID: gone.ID}, 10))

	// The worker holding the lease finishes after the deletion: no error.
	require.NoError(t, e.store.Finish(ctx, e.now, []webhook.Outcome{{
		DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryDelivered,
		Attempt: attempt(c, 1, e.now, 200, webhook.DeliveryDelivered),
	}}))

	// Only the other subscription's delivery is left to claim.
	e.requireNextDue(t, e.at(30*time.Minute))
	e.claimOne(t, e.at(2*time.Hour), kept)
	e.requireNextDue(t, e.at(2*time.Hour+time.Minute)) // kept's lease
}

var concurrencyTests = []test{
	{"ConcurrentClaimsNeverShareADelivery", testConcurrentClaims},
	{"ConcurrentEnqueuesOfOneEventCreateEachDeliveryOnce", testConcurrentEnqueue},
}

func testConcurrentClaims(t *testing.T, e *env) {
	const subs, perSub, workers = 8, 25, 8
	var all []*webhook.Delivery
	for range subs {
		s := e.createSubscription(t)
		for i := range perSub {
			all = append(all, e.enqueueOne(t, s, e.at(time.Duration(i)*time.Millisecond)))
		}
	}
	now := e.at(time.Second)

	var mu sync.Mutex
	claimed := make(map[string]int)
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				ds, err := e.store.Claim(t.Context(), webhook.ClaimParams{
					Now: now, Limit: 1 + w%4, Lease: time.Hour, MaxPerSubscription: 3,
				})
				if err != nil {
					errs <- err
					return
				}
				if len(ds) == 0 {
					errs <- nil
					return
				}
				mu.Lock()
				for _, d := range ds {
					claimed[d.ID]++
				}
				mu.Unlock()
				outcomes := make([]webhook.Outcome, len(ds))
				for i, d := range ds {
					outcomes[i] = webhook.Outcome{
						DeliveryID: d.ID, Lease: d.Lease, State: webhook.DeliveryDelivered,
						Attempt: attempt(d, 1, now, 200, webhook.DeliveryDelivered),
					}
				}
				if err := e.store.Finish(t.Context(), now, outcomes); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, claimed, len(all), "deliveries claimed")
	for id, n := range claimed {
		require.Equal(t, 1, n, "times delivery %s was claimed under valid leases", id)
	}
	delivered := e.listDeliveryPages(t, webhook.DeliveryFilter{OrganizationID: e.org, State: webhook.DeliveryDelivered}, webhook.MaxPageLimit)
	require.Len(t, delivered, 1)
	require.ElementsMatch(t, deliveryIDs(all), delivered[0])
	for _, d := range all {
		require.Len(t, e.attempts(t, d.ID), 1, "attempts of %s", d.ID)
	}
	e.requireNothingDue(t)
}

func testConcurrentEnqueue(t *testing.T, e *env) {
	const subs, callers = 5, 8
	var targets []*webhook.Subscription
	for range subs {
		targets = append(targets, e.createSubscription(t))
	}
	ev := e.newEvent()

	created := make(chan int, callers)
	errs := make(chan error, callers)
	var wg sync.WaitGroup
	for range callers {
		// Each caller is a Dispatch of the same event: its own delivery IDs.
		evCopy := *ev
		ds := make([]*webhook.Delivery, subs)
		for i, s := range targets {
			ds[i] = e.newDelivery(&evCopy, s, e.now)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := e.store.Enqueue(t.Context(), &evCopy, ds)
			created <- n
			errs <- err
		}()
	}
	wg.Wait()
	close(created)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	total := 0
	for n := range created {
		total += n
	}
	require.Equal(t, subs, total, "deliveries created over all calls")

	list := e.listDeliveryPages(t, webhook.DeliveryFilter{OrganizationID: e.org}, webhook.MaxPageLimit)[0]
	require.Len(t, list, subs)
	seen := map[string]bool{}
	for _, id := range list {
		d := e.getDelivery(t, id)
		require.Equal(t, ev.ID, d.EventID)
		require.False(t, seen[d.SubscriptionID], "two deliveries to subscription %s", d.SubscriptionID)
		seen[d.SubscriptionID] = true
	}
}
