package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

var deliveryTests = []test{
	{"GetMissingFailsWithErrNotFound", testGetMissingDelivery},
	{"ReturnedDeliveriesAreCopies", testDeliveryCopies},
	{"ListPaginatesInIDOrder", testListDeliveriesPages},
	{"ListFiltersBySubscriptionStateAndCreationTime", testListDeliveriesFilters},
	{"ListRejectsLimitOutOfRange", testListDeliveriesBadLimit},
	{"ListAttemptsOfMissingDeliveryIsEmptyOrErrNotFound", testListAttemptsMissing},
}

func testGetMissingDelivery(t *testing.T, e *env) {
	_, err := e.store.GetDelivery(t.Context(), newID("dlv_"))
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

func testListDeliveriesPages(t *testing.T, e *env) {
	a, b := e.createSubscription(t), e.createSubscription(t)
	// Due order differs from ID order; listings follow the ID order.
	var ds []*webhook.Delivery
	for i := range 5 {
		_, got := e.enqueue(t, e.at(time.Duration(-i)*time.Minute), []*webhook.Subscription{a, b}[i%2])
		ds = append(ds, got...)
	}
	ids := deliveryIDs(ds)
	require.Equal(t, [][]string{ids[0:2], ids[2:4], ids[4:5]}, e.listDeliveryPages(t, webhook.DeliveryFilter{}, 2))
	require.Equal(t, [][]string{ids}, e.listDeliveryPages(t, webhook.DeliveryFilter{}, 5))
	require.Equal(t, [][]string{ids}, e.listDeliveryPages(t, webhook.DeliveryFilter{}, 0+webhook.MaxPageLimit))

	// The default limit.
	got, next, err := e.store.ListDeliveries(t.Context(), webhook.DeliveryFilter{})
	require.NoError(t, err)
	require.Equal(t, ids, deliveryIDs(got))
	require.Empty(t, next)
}

func testListDeliveriesFilters(t *testing.T, e *env) {
	ctx := t.Context()
	a, b := e.createSubscription(t), e.createSubscription(t)
	// Deliveries created at now, now+1h and now+2h, to a and b.
	var all []*webhook.Delivery
	for i := range 3 {
		ev := e.newEvent()
		created := e.at(time.Duration(i) * time.Hour)
		da, db := e.newDelivery(ev, a, e.now), e.newDelivery(ev, b, e.now)
		da.CreatedAt, da.UpdatedAt, db.CreatedAt, db.UpdatedAt = created, created, created, created
		n, err := e.store.Enqueue(ctx, ev, []*webhook.Delivery{da, db})
		require.NoError(t, err)
		require.Equal(t, 2, n)
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
	for _, tc := range []struct {
		name string
		f    webhook.DeliveryFilter
		want [][]string
	}{
		{"none", webhook.DeliveryFilter{}, ids(0, 1, 2, 3, 4, 5)},
		{"subscription", webhook.DeliveryFilter{SubscriptionID: a.ID}, ids(0, 2, 4)},
		{"pending", webhook.DeliveryFilter{State: webhook.DeliveryPending}, ids(2, 3, 4, 5)},
		{"delivered", webhook.DeliveryFilter{State: webhook.DeliveryDelivered}, ids(0)},
		{"dead", webhook.DeliveryFilter{State: webhook.DeliveryDead}, ids(1)},
		{"subscription and state", webhook.DeliveryFilter{SubscriptionID: b.ID, State: webhook.DeliveryPending}, ids(3, 5)},
		{"created from", webhook.DeliveryFilter{CreatedFrom: e.at(time.Hour)}, ids(2, 3, 4, 5)},
		{"created before", webhook.DeliveryFilter{CreatedTo: e.at(time.Hour)}, ids(0, 1)},
		{"created in [1h, 2h)", webhook.DeliveryFilter{CreatedFrom: e.at(time.Hour), CreatedTo: e.at(2 * time.Hour).In(zone)}, ids(2, 3)},
		{"everything", webhook.DeliveryFilter{SubscriptionID: b.ID, State: webhook.DeliveryPending, CreatedFrom: e.at(time.Hour), CreatedTo: e.at(3 * time.Hour)}, ids(3, 5)},
		{"nothing", webhook.DeliveryFilter{SubscriptionID: newID("sub_")}, ids()},
	} {
		require.Equal(t, tc.want, e.listDeliveryPages(t, tc.f, 10), "filter %s", tc.name)
	}
	// Filters and pagination together.
	require.Equal(t, [][]string{{all[2].ID, all[3].ID}, {all[4].ID, all[5].ID}},
		e.listDeliveryPages(t, webhook.DeliveryFilter{State: webhook.DeliveryPending}, 2))
	require.Equal(t, [][]string{{all[0].ID, all[2].ID}, {all[4].ID}},
		e.listDeliveryPages(t, webhook.DeliveryFilter{SubscriptionID: a.ID}, 2))
}

func testListDeliveriesBadLimit(t *testing.T, e *env) {
	for _, limit := range []int{-1, webhook.MaxPageLimit + 1} {
		_, _, err := e.store.ListDeliveries(t.Context(), webhook.DeliveryFilter{Page: webhook.Page{Limit: limit}})
		requireInvalidArgument(t, err, fmt.Sprintf("ListDeliveries with Limit %d", limit))
	}
}

func testListAttemptsMissing(t *testing.T, e *env) {
	// The contract leaves open whether this is a lookup (ErrNotFound) or
	// an empty listing; both are accepted.
	attempts, err := e.store.ListAttempts(t.Context(), newID("dlv_"))
	if err != nil {
		requireNotFound(t, err, "ListAttempts of a missing delivery")
	}
	require.Empty(t, attempts)
}

var redeliverTests = []test{
	{"DeadBecomesPendingDueNow", testRedeliverDead},
	{"DeliveredBecomesPendingDueNow", testRedeliverDelivered},
	{"PendingFailsWithErrInvalidState", testRedeliverPending},
	{"MissingFailsWithErrNotFound", testRedeliverMissing},
}

func testRedeliverDead(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	e.finishAs(t, e.now, d, webhook.DeliveryDead)

	at := e.at(time.Hour)
	require.NoError(t, e.store.Redeliver(t.Context(), d.ID, at))
	got := e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryPending, got.State)
	require.Zero(t, got.Attempts)
	requireEqualTime(t, at, got.NextAttemptAt, "NextAttemptAt")
	require.Empty(t, got.Lease)

	e.requireNextDue(t, at)
	require.Empty(t, e.claimAt(t, at.Add(-time.Second)), "claimed before the redelivery time")
	c := e.claimOne(t, at, d)
	require.Zero(t, c.Attempts)

	// The log keeps the attempts from before the redelivery.
	a := attempt(c, 1, at, 200, webhook.DeliveryDelivered)
	e.finish(t, at, webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryDelivered, Attempt: a})
	as := e.attempts(t, d.ID)
	require.Len(t, as, 2)
	require.Equal(t, 500, as[0].StatusCode)
	requireSameAttempt(t, a, as[1])
	require.Equal(t, 1, e.getDelivery(t, d.ID).Attempts)
}

func testRedeliverDelivered(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	e.finishAs(t, e.now, d, webhook.DeliveryDelivered)
	require.NoError(t, e.store.Redeliver(t.Context(), d.ID, e.at(time.Minute)))
	got := e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryPending, got.State)
	require.Zero(t, got.Attempts)
	requireEqualTime(t, e.at(time.Minute), got.NextAttemptAt, "NextAttemptAt")
	e.claimOne(t, e.at(time.Minute), d)
}

func testRedeliverPending(t *testing.T, e *env) {
	s := e.createSubscription(t)
	waiting := e.enqueueOne(t, s, e.at(time.Hour))
	leased := e.enqueueOne(t, s, e.now)
	c := e.claimOne(t, e.now, leased)
	for _, d := range []*webhook.Delivery{waiting, leased} {
		err := e.store.Redeliver(t.Context(), d.ID, e.now)
		require.ErrorIs(t, err, webhook.ErrInvalidState)
	}
	got := e.getDelivery(t, leased.ID)
	require.Equal(t, c.Lease, got.Lease, "a refused Redeliver keeps the lease")
	requireEqualTime(t, e.at(time.Hour), e.getDelivery(t, waiting.ID).NextAttemptAt, "NextAttemptAt")
}

func testRedeliverMissing(t *testing.T, e *env) {
	requireNotFound(t, e.store.Redeliver(t.Context(), newID("dlv_"), e.now), "Redeliver of a missing delivery")
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

	require.NoError(t, e.store.DeleteSubscription(ctx, gone.ID))

	for _, d := range []*webhook.Delivery{waiting, leased} {
		_, err := e.store.GetDelivery(ctx, d.ID)
		requireNotFound(t, err, "GetDelivery of a pending delivery of a deleted subscription")
	}
	require.Equal(t, webhook.DeliveryDelivered, e.getDelivery(t, delivered.ID).State)
	require.Equal(t, webhook.DeliveryDead, e.getDelivery(t, dead.ID).State)
	require.Len(t, e.attempts(t, delivered.ID), 1, "attempts of a kept delivery")
	require.Len(t, e.attempts(t, dead.ID), 1, "attempts of a kept delivery")
	require.Equal(t, [][]string{{delivered.ID, dead.ID}},
		e.listDeliveryPages(t, webhook.DeliveryFilter{SubscriptionID: gone.ID}, 10))

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
	delivered := e.listDeliveryPages(t, webhook.DeliveryFilter{State: webhook.DeliveryDelivered}, webhook.MaxPageLimit)
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

	list := e.listDeliveryPages(t, webhook.DeliveryFilter{}, webhook.MaxPageLimit)[0]
	require.Len(t, list, subs)
	seen := map[string]bool{}
	for _, id := range list {
		d := e.getDelivery(t, id)
		require.Equal(t, ev.ID, d.EventID)
		require.False(t, seen[d.SubscriptionID], "two deliveries to subscription %s", d.SubscriptionID)
		seen[d.SubscriptionID] = true
	}
}
