package storetest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

// controlTests cover what observability and the per-subscription
// delivery controls keep in the store.
var controlTests = []test{
	{"EventKeepsTraceContext", testEventTraceContext},
	{"SubscriptionKeepsFilter", testSubscriptionFilter},
	{"MatchReturnsFilters", testMatchFilters},
	{"SubscriptionKeepsMaxConcurrency", testKeepsMaxConcurrency},
	{"ClaimHonoursMaxConcurrency", testClaimMaxConcurrency},
	{"NextDueOfASubscriptionAtItsCap", testNextDueAtCap},
	{"ConcurrentClaimsHonourMaxConcurrency", testConcurrentClaimsMaxConcurrency},
	{"SubscriptionKeepsRateLimit", testKeepsRateLimit},
	{"ClaimHonoursRateLimit", testClaimRateLimit},
	{"ConcurrentClaimsHonourRateLimit", testConcurrentClaimsRateLimit},
	{"NextDueOfARateLimitedSubscriptionWithoutWork", testNextDueRateLimitedIdle},
	{"SubscriptionKeepsOrdered", testKeepsOrdered},
	{"OrderedClaimsTheOldestPendingOnly", testClaimOrdered},
	{"ConcurrentClaimsOfAnOrderedSubscription", testConcurrentClaimsOrdered},
}

// testTrace is a trace context as a tracing adapter captures it.
var testTrace = webhook.TraceContext{
	Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	Tracestate:  "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
}

func testEventTraceContext(t *testing.T, e *env) {
	ctx := t.Context()
	sub := e.createSubscription(t)
	ev := e.newEvent()
	ev.Trace = testTrace
	d := e.newDelivery(ev, sub, e.now)
	n, err := e.store.Enqueue(ctx, ev, []*webhook.Delivery{d})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	ev.Trace.Traceparent = "changed" // the store kept a copy

	got, err := e.store.GetEvent(ctx, e.org, ev.ID)
	require.NoError(t, err)
	require.Equal(t, testTrace, got.Trace, "GetEvent's Trace")

	list, _, err := e.store.ListEvents(ctx, webhook.EventFilter{OrganizationID: e.org})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, testTrace, list[0].Trace, "ListEvents' Trace")

	claimed := e.claimOne(t, e.now, d)
	require.Equal(t, testTrace, claimed.Event.Trace, "the claimed delivery's Event.Trace")

	// An event without one stays without.
	plain := e.enqueueOne(t, sub, e.at(time.Second))
	c := e.claimOne(t, e.at(2*time.Second), plain)
	require.True(t, c.Event.Trace.IsZero(), "Trace of an event dispatched without one: %+v", c.Event.Trace)
}

const testFilter = `{"data.amount":{"$gte":100},"data.country":{"$in":["NO","SE"]}}`

func testSubscriptionFilter(t *testing.T, e *env) {
	ctx := t.Context()
	sub := e.newSubscription()
	sub.Filter = json.RawMessage(testFilter)
	require.NoError(t, e.store.CreateSubscription(ctx, sub))
	sub.Filter[2] = 'X' // the store kept a copy

	got, err := e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.JSONEq(t, testFilter, string(got.Filter))
	got.Filter[2] = 'Y' // and returned one
	again, err := e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.JSONEq(t, testFilter, string(again.Filter))

	list, _, err := e.store.ListSubscriptions(ctx, e.org, webhook.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.JSONEq(t, testFilter, string(list[0].Filter))

	again.Filter = json.RawMessage(`{"type":"contact.created"}`)
	require.NoError(t, e.store.UpdateSubscription(ctx, again))
	got, err = e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"contact.created"}`, string(got.Filter))

	got.Filter = nil
	require.NoError(t, e.store.UpdateSubscription(ctx, got))
	got, err = e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.Empty(t, got.Filter, "a filter removed by an update")
}

func testMatchFilters(t *testing.T, e *env) {
	ctx := t.Context()
	filtered := e.newSubscription("contact.*")
	filtered.Filter = json.RawMessage(testFilter)
	require.NoError(t, e.store.CreateSubscription(ctx, filtered))
	plain := e.createSubscription(t, "contact.created")
	stopped := e.newSubscription("*")
	stopped.State = webhook.StateStopped
	require.NoError(t, e.store.CreateSubscription(ctx, stopped))
	e.createSubscription(t, "sale.changed")
	other := e.otherOrg()
	other.createSubscription(t, "contact.created")

	ids, filters, err := e.store.MatchSubscriptions(ctx, e.org, "contact.created")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{filtered.ID, plain.ID}, ids)
	require.IsIncreasing(t, ids, "in ID order")
	require.Len(t, filters, len(ids), "filters, one per subscription, when one has a filter")
	for i, id := range ids {
		if id == filtered.ID {
			require.JSONEq(t, testFilter, string(filters[i]))
		} else {
			require.Empty(t, filters[i], "a subscription without a filter")
		}
	}
	none, noneFilters, err := e.store.MatchSubscriptions(ctx, e.org, "unknown.type")
	require.NoError(t, err)
	require.Empty(t, none)
	require.Nil(t, noneFilters)

	// Without any filter among the matched: no filters at all.
	ids, filters, err = e.store.MatchSubscriptions(ctx, e.org, "sale.changed")
	require.NoError(t, err)
	require.Len(t, ids, 1)
	require.Nil(t, filters, "filters when none of the matched has one")
}

func (e *env) createCapped(t *testing.T, limit int) *webhook.Subscription {
	t.Helper()
	sub := e.newSubscription()
	sub.MaxConcurrency = limit
	require.NoError(t, e.store.CreateSubscription(t.Context(), sub))
	return sub
}

func testKeepsMaxConcurrency(t *testing.T, e *env) {
	ctx := t.Context()
	sub := e.createCapped(t, 3)
	got, err := e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.Equal(t, 3, got.MaxConcurrency)
	got.MaxConcurrency = 0
	require.NoError(t, e.store.UpdateSubscription(ctx, got))
	got, err = e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.Zero(t, got.MaxConcurrency)
}

// testClaimMaxConcurrency: a subscription with MaxConcurrency 2 has at most
// 2 deliveries validly leased, whatever the claims ask; a Finish or a
// lease's expiry frees a slot; other subscriptions are not held back.
func testClaimMaxConcurrency(t *testing.T, e *env) {
	ctx := t.Context()
	capped := e.createCapped(t, 2)
	free := e.createSubscription(t)
	for range 5 {
		e.enqueue(t, e.now, capped, free)
	}
	count := func(ds []*webhook.Delivery, sub *webhook.Subscription) int {
		n := 0
		for _, d := range ds {
			if d.SubscriptionID == sub.ID {
				n++
			}
		}
		return n
	}
	first := e.claim(t, webhook.ClaimParams{Now: e.now, Limit: 100, Lease: time.Minute})
	require.Equal(t, 2, count(first, capped), "the capped subscription's first claim")
	require.Equal(t, 5, count(first, free), "the other subscription is not held back")

	again := e.claim(t, webhook.ClaimParams{Now: e.at(time.Second), Limit: 100, Lease: time.Minute})
	require.Empty(t, again, "at its cap: nothing more while the leases hold")

	// A finish frees one slot.
	var done *webhook.Delivery
	for _, d := range first {
		if d.SubscriptionID == capped.ID {
			done = d
			break
		}
	}
	e.finish(t, e.at(2*time.Second), webhook.Outcome{DeliveryID: done.ID, Lease: done.Lease, State: webhook.DeliveryDelivered,
		Attempt: attempt(done, 1, e.at(time.Second), 200, webhook.DeliveryDelivered)})
	third := e.claim(t, webhook.ClaimParams{Now: e.at(3 * time.Second), Limit: 100, Lease: time.Minute})
	require.Equal(t, 1, count(third, capped), "one slot freed by Finish")
	require.Len(t, third, 1)

	// A release (no attempt) frees one too.
	e.finish(t, e.at(4*time.Second), webhook.Outcome{DeliveryID: third[0].ID, Lease: third[0].Lease, State: webhook.DeliveryPending})
	fourth := e.claim(t, webhook.ClaimParams{Now: e.at(5 * time.Second), Limit: 100, Lease: time.Minute})
	require.Len(t, fourth, 1, "one slot freed by a release")

	// Expired leases do not count.
	late := e.claim(t, webhook.ClaimParams{Now: e.at(2 * time.Minute), Limit: 100, Lease: time.Minute})
	require.Equal(t, 2, count(late, capped), "after the leases expired")
	require.Equal(t, 5, count(late, free), "the other's expired leases too")

	// Raising the cap lets more through at once.
	sub, err := e.store.GetSubscription(ctx, e.org, capped.ID)
	require.NoError(t, err)
	sub.MaxConcurrency = 4
	require.NoError(t, e.store.UpdateSubscription(ctx, sub))
	more := e.claim(t, webhook.ClaimParams{Now: e.at(2*time.Minute + time.Second), Limit: 100, Lease: time.Minute})
	require.Equal(t, 2, count(more, capped), "two more under the raised cap")
}

// testNextDueAtCap: while a capped subscription is at its cap, its due
// deliveries are not due for NextDue before one of its leases ends.
func testNextDueAtCap(t *testing.T, e *env) {
	capped := e.createCapped(t, 1)
	e.enqueue(t, e.now, capped)
	e.enqueue(t, e.now, capped)
	e.requireNextDue(t, e.now)
	got := e.claim(t, webhook.ClaimParams{Now: e.now, Limit: 10, Lease: time.Minute})
	require.Len(t, got, 1)
	e.requireNextDue(t, got[0].LeasedUntil)
}

// testConcurrentClaimsMaxConcurrency: claims made at once (by many
// dispatchers) never lease more than the cap between them.
func testConcurrentClaimsMaxConcurrency(t *testing.T, e *env) {
	capped := e.createCapped(t, 3)
	for range 40 {
		e.enqueue(t, e.now, capped)
	}
	total := len(e.concurrentClaims(t))
	require.LessOrEqual(t, total, 3, "leased between the concurrent claims")
	require.Positive(t, total)
}

func (e *env) createLimited(t *testing.T, requests int, per webhook.RatePeriod) *webhook.Subscription {
	t.Helper()
	sub := e.newSubscription()
	sub.RateLimit = &webhook.RateLimit{Requests: requests, Per: per}
	require.NoError(t, e.store.CreateSubscription(t.Context(), sub))
	return sub
}

func testKeepsRateLimit(t *testing.T, e *env) {
	ctx := t.Context()
	sub := e.createLimited(t, 10, webhook.PerMinute)
	sub.RateLimit.Requests = 99 // the store kept a copy
	got, err := e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.Equal(t, &webhook.RateLimit{Requests: 10, Per: webhook.PerMinute}, got.RateLimit)
	got.RateLimit = nil
	require.NoError(t, e.store.UpdateSubscription(ctx, got))
	got, err = e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.Nil(t, got.RateLimit)
}

// testClaimRateLimit: a subscription limited to 4 per second has one
// delivery claimed per 250 ms however many are due and however often
// claims come, NextDue says when the next may be, and another
// subscription is not held back.
func testClaimRateLimit(t *testing.T, e *env) {
	limited := e.createLimited(t, 4, webhook.PerSecond)
	free := e.createSubscription(t)
	for range 6 {
		e.enqueue(t, e.now, limited, free)
	}
	count := func(ds []*webhook.Delivery, sub *webhook.Subscription) int {
		n := 0
		for _, d := range ds {
			if d.SubscriptionID == sub.ID {
				n++
			}
		}
		return n
	}
	lease := time.Hour
	got := e.claim(t, webhook.ClaimParams{Now: e.now, Limit: 100, Lease: lease})
	require.Equal(t, 1, count(got, limited), "one at first")
	require.Equal(t, 6, count(got, free), "the other subscription is not held back")
	e.requireNextDue(t, e.at(250*time.Millisecond))

	require.Empty(t, e.claim(t, webhook.ClaimParams{Now: e.at(249 * time.Millisecond), Limit: 100, Lease: lease}), "before the interval")
	got = e.claim(t, webhook.ClaimParams{Now: e.at(250 * time.Millisecond), Limit: 100, Lease: lease})
	require.Equal(t, 1, count(got, limited), "one more after the interval")
	e.requireNextDue(t, e.at(500*time.Millisecond))

	// Late claims do not catch up: a second without claims still gives
	// one at a time, an interval apart.
	got = e.claim(t, webhook.ClaimParams{Now: e.at(2 * time.Second), Limit: 100, Lease: lease})
	require.Equal(t, 1, count(got, limited))
	require.Empty(t, e.claim(t, webhook.ClaimParams{Now: e.at(2*time.Second + 100*time.Millisecond), Limit: 100, Lease: lease}))
	e.requireNextDue(t, e.at(2250*time.Millisecond))
}

// testConcurrentClaimsRateLimit: claims made at once take one delivery of
// a rate-limited subscription between them.
func testConcurrentClaimsRateLimit(t *testing.T, e *env) {
	limited := e.createLimited(t, 1, webhook.PerSecond)
	for range 20 {
		e.enqueue(t, e.now, limited)
	}
	total := len(e.concurrentClaims(t))
	require.Equal(t, 1, total, "claimed between the concurrent claims")
}

// testNextDueRateLimitedIdle: a rate-limited subscription with nothing
// waiting is due for nothing; when a delivery comes before its next
// request time, it is due then.
func testNextDueRateLimitedIdle(t *testing.T, e *env) {
	limited := e.createLimited(t, 1, webhook.PerSecond)
	d := e.enqueueOne(t, limited, e.now)
	c := e.claimOne(t, e.now, d)
	e.finish(t, e.at(10*time.Millisecond), webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryDelivered,
		Attempt: attempt(c, 1, e.now, 200, webhook.DeliveryDelivered)})
	e.requireNothingDue(t)
	next := e.enqueueOne(t, limited, e.at(20*time.Millisecond))
	require.Empty(t, e.claim(t, webhook.ClaimParams{Now: e.at(500 * time.Millisecond), Limit: 10, Lease: time.Minute}))
	e.requireNextDue(t, e.at(time.Second))
	e.claimOne(t, e.at(time.Second), next)
}

func (e *env) createOrdered(t *testing.T) *webhook.Subscription {
	t.Helper()
	sub := e.newSubscription()
	sub.Ordered = true
	require.NoError(t, e.store.CreateSubscription(t.Context(), sub))
	return sub
}

func testKeepsOrdered(t *testing.T, e *env) {
	ctx := t.Context()
	sub := e.createOrdered(t)
	got, err := e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.True(t, got.Ordered)
	got.Ordered = false
	require.NoError(t, e.store.UpdateSubscription(ctx, got))
	got, err = e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.False(t, got.Ordered)
}

// testClaimOrdered: an Ordered subscription has only its oldest pending
// delivery (by ID) claimed, one at a time; a retry of it holds back the
// later ones until it is due again; once it is dead or delivered, the
// next is claimed. Another subscription is not held back.
func testClaimOrdered(t *testing.T, e *env) {
	ordered := e.createOrdered(t)
	free := e.createSubscription(t)
	// The first is due later than the others: order by ID wins.
	d1 := e.enqueueOne(t, ordered, e.at(10*time.Second))
	d2 := e.enqueueOne(t, ordered, e.now)
	d3 := e.enqueueOne(t, ordered, e.now)
	other := e.enqueueOne(t, free, e.now)
	lease := time.Hour

	got := e.claim(t, webhook.ClaimParams{Now: e.now, Limit: 10, Lease: lease})
	require.Equal(t, []string{other.ID}, deliveryIDs(got), "the head is not due: nothing of the ordered subscription")
	e.requireNextDue(t, e.at(10*time.Second))

	c1 := e.claimOne(t, e.at(10*time.Second), d1)
	require.Empty(t, e.claim(t, webhook.ClaimParams{Now: e.at(11 * time.Second), Limit: 10, Lease: lease}), "one at a time")

	// A retry a minute later holds back the others.
	e.finish(t, e.at(12*time.Second), webhook.Outcome{DeliveryID: c1.ID, Lease: c1.Lease, State: webhook.DeliveryPending,
		NextAttemptAt: e.at(70 * time.Second), Attempt: attempt(c1, 1, e.at(10*time.Second), 500, webhook.DeliveryPending)})
	require.Empty(t, e.claim(t, webhook.ClaimParams{Now: e.at(13 * time.Second), Limit: 10, Lease: lease}), "behind the failing head")
	e.requireNextDue(t, e.at(70*time.Second))
	c1 = e.claimOne(t, e.at(70*time.Second), d1)

	// Dead: the next is released.
	e.finish(t, e.at(71*time.Second), webhook.Outcome{DeliveryID: c1.ID, Lease: c1.Lease, State: webhook.DeliveryDead,
		Attempt: attempt(c1, 2, e.at(70*time.Second), 500, webhook.DeliveryDead)})
	c2 := e.claimOne(t, e.at(72*time.Second), d2)
	e.finish(t, e.at(73*time.Second), webhook.Outcome{DeliveryID: c2.ID, Lease: c2.Lease, State: webhook.DeliveryDelivered,
		Attempt: attempt(c2, 1, e.at(72*time.Second), 200, webhook.DeliveryDelivered)})
	e.claimOne(t, e.at(74*time.Second), d3)
}

// testConcurrentClaimsOrdered: claims made at once take one delivery of
// an Ordered subscription between them, its oldest.
func testConcurrentClaimsOrdered(t *testing.T, e *env) {
	ordered := e.createOrdered(t)
	var first *webhook.Delivery
	for i := range 20 {
		d := e.enqueueOne(t, ordered, e.now)
		if i == 0 {
			first = d
		}
	}
	require.Equal(t, []string{first.ID}, deliveryIDs(e.concurrentClaims(t)))
}

// concurrentClaims makes 8 claims at once (as many dispatchers would), of
// up to 10 deliveries due at e.now each, and returns what they claimed
// between them.
func (e *env) concurrentClaims(t *testing.T) []*webhook.Delivery {
	var (
		wg  sync.WaitGroup
		mu  sync.Mutex
		all []*webhook.Delivery
	)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ds, err := e.store.Claim(t.Context(), webhook.ClaimParams{Now: e.now, Limit: 10, Lease: time.Minute})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			all = append(all, ds...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all
}
