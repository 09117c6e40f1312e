package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

var claimTests = []test{
	{"EmptyStoreGivesNothing", testClaimEmpty},
	{"TakesDueDeliveriesInDueOrder", testClaimOrder},
	{"SkipsDeliveriesNotYetDue", testClaimNotYetDue},
	{"HonoursLimit", testClaimLimit},
	{"CapsDeliveriesPerSubscription", testClaimMaxPerSubscription},
	{"SkipsExcludedSubscriptions", testClaimExclude},
	{"SetsLeaseEventAndSubscription", testClaimFields},
	{"AttachesSubscriptionAsItStandsAtTheClaim", testClaimCurrentSubscription},
	{"LeasedDeliveryIsNotClaimedAgain", testClaimLeased},
	{"ExpiredLeaseIsReclaimedWithNewLease", testClaimExpiredLease},
	{"InactiveSubscriptionWaitsForReactivation", testClaimInactive},
	{"RejectsInvalidParams", testClaimInvalid},
}

func testClaimEmpty(t *testing.T, e *env) {
	require.Empty(t, e.claimAt(t, e.now))
	e.createSubscription(t)
	require.Empty(t, e.claimAt(t, e.now))
}

func testClaimOrder(t *testing.T, e *env) {
	a, b := e.createSubscription(t), e.createSubscription(t)
	// Enqueued in an order that is neither the due order nor the ID order.
	d3 := e.enqueueOne(t, a, e.at(-1*time.Minute))
	d1 := e.enqueueOne(t, b, e.at(-3*time.Minute))
	d4 := e.enqueueOne(t, b, e.at(-30*time.Second))
	d2 := e.enqueueOne(t, a, e.at(-2*time.Minute))

	got := e.claimAt(t, e.now)
	require.Equal(t, deliveryIDs([]*webhook.Delivery{d1, d2, d3, d4}), deliveryIDs(got))
}

func testClaimNotYetDue(t *testing.T, e *env) {
	s := e.createSubscription(t)
	atNow := e.enqueueOne(t, s, e.now)
	later := e.enqueueOne(t, s, e.at(time.Microsecond))

	e.claimOne(t, e.now, atNow)
	require.Empty(t, e.claimAt(t, e.now), "a delivery due after Now")
	e.claimOne(t, e.at(time.Microsecond), later)
}

func testClaimLimit(t *testing.T, e *env) {
	s := e.createSubscription(t)
	var ds []*webhook.Delivery
	for i := range 5 {
		ds = append(ds, e.enqueueOne(t, s, e.at(time.Duration(i-10)*time.Second)))
	}
	p := webhook.ClaimParams{Now: e.now, Limit: 2, Lease: time.Minute}
	require.Equal(t, deliveryIDs(ds[0:2]), deliveryIDs(e.claim(t, p)))
	require.Equal(t, deliveryIDs(ds[2:4]), deliveryIDs(e.claim(t, p)))
	require.Equal(t, deliveryIDs(ds[4:5]), deliveryIDs(e.claim(t, p)))
	require.Empty(t, e.claim(t, p))
}

func testClaimMaxPerSubscription(t *testing.T, e *env) {
	busy, quiet := e.createSubscription(t), e.createSubscription(t)
	// busy has a backlog due before anything of quiet.
	var backlog []*webhook.Delivery
	for i := range 6 {
		backlog = append(backlog, e.enqueueOne(t, busy, e.at(time.Duration(i-60)*time.Second)))
	}
	q1 := e.enqueueOne(t, quiet, e.at(-10*time.Second))
	q2 := e.enqueueOne(t, quiet, e.at(-5*time.Second))

	p := webhook.ClaimParams{Now: e.now, Limit: 10, Lease: time.Minute, MaxPerSubscription: 2}
	require.Equal(t, deliveryIDs([]*webhook.Delivery{backlog[0], backlog[1], q1, q2}), deliveryIDs(e.claim(t, p)))
	p.MaxPerSubscription = 1
	require.Equal(t, deliveryIDs(backlog[2:3]), deliveryIDs(e.claim(t, p)))
	p.MaxPerSubscription = 0
	require.Equal(t, deliveryIDs(backlog[3:6]), deliveryIDs(e.claim(t, p)))
}

func testClaimExclude(t *testing.T, e *env) {
	busy, quiet, other := e.createSubscription(t), e.createSubscription(t), e.createSubscription(t)
	var backlog []*webhook.Delivery
	for i := range 5 {
		backlog = append(backlog, e.enqueueOne(t, busy, e.at(time.Duration(i-60)*time.Second)))
	}
	q := e.enqueueOne(t, quiet, e.at(-time.Second))
	o := e.enqueueOne(t, other, e.at(-2*time.Second))

	p := webhook.ClaimParams{Now: e.now, Limit: 10, Lease: time.Minute, Exclude: []string{busy.ID, newID("sub_")}}
	require.Equal(t, deliveryIDs([]*webhook.Delivery{o, q}), deliveryIDs(e.claim(t, p)))
	p.Exclude = nil
	require.Equal(t, deliveryIDs(backlog), deliveryIDs(e.claim(t, p)))
}

func testClaimFields(t *testing.T, e *env) {
	s := e.fullSubscription()
	require.NoError(t, e.store.CreateSubscription(t.Context(), s))
	ev, ds := e.enqueue(t, e.at(-time.Second), s)
	want := ds[0]

	got := e.claim(t, webhook.ClaimParams{Now: e.now, Limit: 1, Lease: 90 * time.Second})
	require.Len(t, got, 1)
	c := got[0]
	require.Equal(t, want.ID, c.ID)
	require.Equal(t, ev.ID, c.EventID)
	require.Equal(t, ev.Type, c.EventType, "EventType")
	require.Equal(t, e.org, c.OrganizationID)
	require.Equal(t, s.ID, c.SubscriptionID)
	require.Equal(t, webhook.DeliveryPending, c.State, "a claim does not change the state")
	require.Zero(t, c.Attempts)
	require.True(t, c.RedeliveredAt.IsZero(), "RedeliveredAt of a delivery never redelivered")
	require.Zero(t, c.AttemptsAtRedelivery)
	requireEqualTime(t, want.NextAttemptAt, c.NextAttemptAt, "NextAttemptAt")
	require.NotEmpty(t, c.Lease)
	requireEqualTime(t, e.at(90*time.Second), c.LeasedUntil, "LeasedUntil")
	requireSameEvent(t, ev, c.Event)
	requireSameSubscription(t, s, c.Subscription)

	stored := e.getDelivery(t, c.ID)
	require.Equal(t, c.Lease, stored.Lease)
	requireEqualTime(t, c.LeasedUntil, stored.LeasedUntil, "stored LeasedUntil")
	require.Equal(t, webhook.DeliveryPending, stored.State)
	require.Equal(t, ev.Type, stored.EventType, "EventType")
	require.Nil(t, stored.Event, "GetDelivery sets no Event")
	require.Nil(t, stored.Subscription, "GetDelivery sets no Subscription")
}

func testClaimCurrentSubscription(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d1 := e.enqueueOne(t, s, e.now)
	d2 := e.enqueueOne(t, s, e.at(time.Second))
	require.Equal(t, s.URL, e.claimOne(t, e.now, d1).Subscription.URL)

	u := s.Clone()
	u.URL = "https://moved.example.com/hook"
	u.Headers = map[string]string{"X-New": "1"}
	require.NoError(t, e.store.UpdateSubscription(t.Context(), u))
	c := e.claimOne(t, e.at(time.Second), d2)
	requireSameSubscription(t, u, c.Subscription)
}

func testClaimLeased(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	c := e.claimOne(t, e.now, d)
	requireEqualTime(t, e.at(time.Minute), c.LeasedUntil, "LeasedUntil")
	require.Empty(t, e.claimAt(t, e.now), "claimed again at once")
	require.Empty(t, e.claimAt(t, e.at(59*time.Second)), "claimed again before the lease expired")
}

func testClaimExpiredLease(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	first := e.claimOne(t, e.now, d)

	later := first.LeasedUntil.Add(time.Second)
	second := e.claimOne(t, later, d)
	require.NotEqual(t, first.Lease, second.Lease, "a reclaimed delivery gets a new Lease")
	requireEqualTime(t, later.Add(time.Minute), second.LeasedUntil, "LeasedUntil")
	require.Zero(t, second.Attempts)
	stored := e.getDelivery(t, d.ID)
	require.Equal(t, second.Lease, stored.Lease)
	require.Empty(t, e.claimAt(t, later), "claimed a third time under a valid lease")
}

func testClaimInactive(t *testing.T, e *env) {
	ctx := t.Context()
	stopped, tripped, active := e.createSubscription(t), e.createSubscription(t), e.createSubscription(t)
	ds := e.enqueueOne(t, stopped, e.at(-3*time.Second))
	dt := e.enqueueOne(t, tripped, e.at(-2*time.Second))
	da := e.enqueueOne(t, active, e.at(-time.Second))
	require.NoError(t, e.store.SetSubscriptionState(ctx, e.org, stopped.ID, webhook.StateStopped, e.now))
	tr, err := e.store.RecordHealth(ctx, tripped.ID, false, 1, e.now)
	require.NoError(t, err)
	require.True(t, tr)

	e.finishAs(t, e.now, da, webhook.DeliveryDelivered)
	require.Empty(t, e.claimAt(t, e.at(time.Hour)), "deliveries of non-Active subscriptions")

	require.NoError(t, e.store.SetSubscriptionState(ctx, e.org, tripped.ID, webhook.StateActive, e.now))
	e.finishAs(t, e.at(time.Hour), dt, webhook.DeliveryDelivered)
	require.NoError(t, e.store.SetSubscriptionState(ctx, e.org, stopped.ID, webhook.StateActive, e.now))
	e.claimOne(t, e.at(time.Hour), ds)

	// A subscription stopped while its delivery is leased: the delivery
	// is not reclaimed after the lease expires until re-activation.
	require.NoError(t, e.store.SetSubscriptionState(ctx, e.org, stopped.ID, webhook.StateStopped, e.now))
	require.Empty(t, e.claimAt(t, e.at(2*time.Hour)), "an expired lease of a Stopped subscription")
	require.NoError(t, e.store.SetSubscriptionState(ctx, e.org, stopped.ID, webhook.StateActive, e.now))
	e.claimOne(t, e.at(2*time.Hour), ds)
}

func testClaimInvalid(t *testing.T, e *env) {
	s := e.createSubscription(t)
	e.enqueueOne(t, s, e.now)
	for _, p := range []webhook.ClaimParams{
		{Now: e.now, Limit: 0, Lease: time.Minute},
		{Now: e.now, Limit: -1, Lease: time.Minute},
		{Now: e.now, Limit: 1, Lease: 0},
		{Now: e.now, Limit: 1, Lease: -time.Second},
	} {
		got, err := e.store.Claim(t.Context(), p)
		requireInvalidArgument(t, err, fmt.Sprintf("Claim with Limit %d and Lease %v", p.Limit, p.Lease))
		require.Empty(t, got)
	}
	require.Len(t, e.claimAt(t, e.now), 1, "the invalid claims leased nothing")
}

var finishTests = []test{
	{"DeliveredEndsTheDelivery", testFinishDelivered},
	{"DeadEndsTheDelivery", testFinishDead},
	{"PendingReschedulesAtNextAttemptAt", testFinishReschedule},
	{"NilAttemptReleasesWithoutCountingAnAttempt", testFinishRelease},
	{"AttemptsAreLoggedInOrder", testFinishAttemptLog},
	{"StaleLeaseOnlyLogsTheAttempt", testFinishStaleLease},
	{"SecondFinishOfOneLeaseIsStale", testFinishTwice},
	{"AppliesEveryOutcomeOfACall", testFinishMany},
}

// requireSameAttempt requires got to be want, times as instants.
func requireSameAttempt(t *testing.T, want, got *webhook.Attempt) {
	t.Helper()
	require.NotNil(t, got)
	requireEqualTime(t, want.At, got.At, "Attempt.At")
	w, g := *want, *got
	w.At, g.At = time.Time{}, time.Time{}
	require.Equal(t, w, g)
}

// attempts returns the attempt log of a delivery of e.org.
func (e *env) attempts(t *testing.T, id string) []*webhook.Attempt {
	t.Helper()
	as, err := e.store.ListAttempts(t.Context(), e.org, id)
	require.NoError(t, err)
	return as
}

func testFinishDelivered(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	c := e.claimOne(t, e.now, d)
	done := e.at(2 * time.Second)
	a := attempt(c, 1, e.at(time.Second), 200, webhook.DeliveryDelivered)
	e.finish(t, done, webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryDelivered, Attempt: a})

	got := e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryDelivered, got.State)
	require.Equal(t, 1, got.Attempts)
	require.Equal(t, 200, got.LastStatusCode)
	require.Empty(t, got.LastError)
	require.True(t, got.NextAttemptAt.IsZero(), "NextAttemptAt of a delivered delivery: %v", got.NextAttemptAt)
	require.Empty(t, got.Lease, "Finish clears the lease")
	require.True(t, got.LeasedUntil.IsZero(), "Finish clears LeasedUntil")
	requireEqualTime(t, done, got.UpdatedAt, "UpdatedAt")
	requireEqualTime(t, e.now, got.CreatedAt, "CreatedAt")

	as := e.attempts(t, d.ID)
	require.Len(t, as, 1)
	requireSameAttempt(t, a, as[0])
	require.Empty(t, e.claimAt(t, e.at(time.Hour)), "a delivered delivery is claimed")
}

func testFinishDead(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	c := e.claimOne(t, e.now, d)
	a := attempt(c, 1, e.now, 400, webhook.DeliveryDead)
	e.finish(t, e.at(time.Second), webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryDead, Attempt: a})

	got := e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryDead, got.State)
	require.Equal(t, 1, got.Attempts)
	require.Equal(t, 400, got.LastStatusCode)
	require.Equal(t, a.Error, got.LastError)
	require.True(t, got.NextAttemptAt.IsZero(), "NextAttemptAt of a dead delivery: %v", got.NextAttemptAt)
	require.Empty(t, got.Lease)
	requireEqualTime(t, e.at(time.Second), got.UpdatedAt, "UpdatedAt")
	as := e.attempts(t, d.ID)
	require.Len(t, as, 1)
	requireSameAttempt(t, a, as[0])
	require.Empty(t, e.claimAt(t, e.at(time.Hour)), "a dead delivery is claimed")
}

func testFinishReschedule(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	c := e.claimOne(t, e.now, d)
	retry := e.at(5 * time.Minute)
	a := attempt(c, 1, e.now, 503, webhook.DeliveryPending)
	a.StatusCode, a.Error = 0, "dial tcp: connection refused"
	e.finish(t, e.at(time.Second), webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryPending, NextAttemptAt: retry, Attempt: a})

	got := e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryPending, got.State)
	require.Equal(t, 1, got.Attempts)
	require.Zero(t, got.LastStatusCode)
	require.Equal(t, "dial tcp: connection refused", got.LastError)
	requireEqualTime(t, retry, got.NextAttemptAt, "NextAttemptAt")
	require.Empty(t, got.Lease)
	require.True(t, got.LeasedUntil.IsZero())

	require.Empty(t, e.claimAt(t, retry.Add(-time.Microsecond)), "claimed before its NextAttemptAt")
	again := e.claimOne(t, retry, d)
	require.Equal(t, 1, again.Attempts)
	require.NotEqual(t, c.Lease, again.Lease)
}

func testFinishRelease(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	c := e.claimOne(t, e.now, d)
	e.finish(t, e.at(time.Second), webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryPending, NextAttemptAt: e.now})

	got := e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryPending, got.State)
	require.Zero(t, got.Attempts, "a release counts no attempt")
	require.Empty(t, got.Lease)
	require.Empty(t, e.attempts(t, d.ID), "a release logs no attempt")
	again := e.claimOne(t, e.at(time.Second), d)
	require.NotEqual(t, c.Lease, again.Lease)
	require.Zero(t, again.Attempts)
}

func testFinishAttemptLog(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	var want []*webhook.Attempt
	now := e.now
	for i, status := range []int{500, 429, 200} {
		c := e.claimOne(t, now, d)
		require.Equal(t, i, c.Attempts)
		state := webhook.DeliveryPending
		if status == 200 {
			state = webhook.DeliveryDelivered
		}
		a := attempt(c, i+1, now, status, state)
		want = append(want, a)
		e.finish(t, now, webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: state, NextAttemptAt: now.Add(time.Minute), Attempt: a})
		now = now.Add(time.Minute)
	}
	got := e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryDelivered, got.State)
	require.Equal(t, 3, got.Attempts)
	require.Equal(t, 200, got.LastStatusCode)
	require.Empty(t, got.LastError)
	as := e.attempts(t, d.ID)
	require.Len(t, as, 3)
	for i := range want {
		requireSameAttempt(t, want[i], as[i])
	}
}

func testFinishStaleLease(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	first := e.claimOne(t, e.now, d)
	later := e.at(2 * time.Minute)
	second := e.claimOne(t, later, d)

	// The first worker finishes late: its attempt is logged, nothing else
	// changes.
	late := attempt(first, 1, e.now, 200, webhook.DeliveryDelivered)
	e.finish(t, later, webhook.Outcome{DeliveryID: d.ID, Lease: first.Lease, State: webhook.DeliveryDelivered, Attempt: late})
	got := e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryPending, got.State)
	require.Zero(t, got.Attempts)
	require.Equal(t, second.Lease, got.Lease, "the valid lease is kept")
	requireEqualTime(t, second.LeasedUntil, got.LeasedUntil, "LeasedUntil")
	require.Empty(t, e.claimAt(t, later), "the stale Finish released the delivery")
	as := e.attempts(t, d.ID)
	require.Len(t, as, 1)
	requireSameAttempt(t, late, as[0])

	// The holder of the valid lease finishes.
	a := attempt(second, 1, later, 500, webhook.DeliveryDead)
	e.finish(t, later, webhook.Outcome{DeliveryID: d.ID, Lease: second.Lease, State: webhook.DeliveryDead, Attempt: a})
	got = e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryDead, got.State)
	require.Equal(t, 1, got.Attempts)
	require.Equal(t, 500, got.LastStatusCode)
	as = e.attempts(t, d.ID)
	require.Len(t, as, 2)
	requireSameAttempt(t, a, as[1])
}

func testFinishTwice(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	c := e.claimOne(t, e.now, d)
	a := attempt(c, 1, e.now, 200, webhook.DeliveryDelivered)
	e.finish(t, e.now, webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryDelivered, Attempt: a})

	b := attempt(c, 2, e.now, 500, webhook.DeliveryDead)
	e.finish(t, e.at(time.Second), webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryDead, Attempt: b})
	got := e.getDelivery(t, d.ID)
	require.Equal(t, webhook.DeliveryDelivered, got.State)
	require.Equal(t, 1, got.Attempts)
	require.Equal(t, 200, got.LastStatusCode)
	requireEqualTime(t, e.now, got.UpdatedAt, "UpdatedAt")
	require.Len(t, e.attempts(t, d.ID), 2, "the stale attempt is logged")

	// A release with a spent lease changes nothing either.
	e.finish(t, e.at(time.Second), webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryPending, NextAttemptAt: e.now})
	require.Equal(t, webhook.DeliveryDelivered, e.getDelivery(t, d.ID).State)
	require.Empty(t, e.claimAt(t, e.at(time.Hour)))
}

func testFinishMany(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d1 := e.enqueueOne(t, s, e.now)
	d2 := e.enqueueOne(t, s, e.now)
	d3 := e.enqueueOne(t, s, e.now)
	cs := e.claimAt(t, e.now)
	require.Len(t, cs, 3)
	byID := map[string]*webhook.Delivery{}
	for _, c := range cs {
		byID[c.ID] = c
	}
	c1, c2, c3 := byID[d1.ID], byID[d2.ID], byID[d3.ID]
	require.NoError(t, e.store.Finish(t.Context(), e.now, []webhook.Outcome{
		{DeliveryID: c1.ID, Lease: c1.Lease, State: webhook.DeliveryDelivered, Attempt: attempt(c1, 1, e.now, 204, webhook.DeliveryDelivered)},
		{DeliveryID: c2.ID, Lease: c2.Lease, State: webhook.DeliveryDead, Attempt: attempt(c2, 1, e.now, 410, webhook.DeliveryDead)},
		{DeliveryID: c3.ID, Lease: c3.Lease, State: webhook.DeliveryPending, NextAttemptAt: e.at(time.Minute), Attempt: attempt(c3, 1, e.now, 502, webhook.DeliveryPending)},
	}))
	require.Equal(t, webhook.DeliveryDelivered, e.getDelivery(t, d1.ID).State)
	require.Equal(t, webhook.DeliveryDead, e.getDelivery(t, d2.ID).State)
	got := e.getDelivery(t, d3.ID)
	require.Equal(t, webhook.DeliveryPending, got.State)
	require.Equal(t, 502, got.LastStatusCode)
	e.claimOne(t, e.at(time.Minute), d3)
}

var nextDueTests = []test{
	{"EmptyStoreHasNothingDue", testNextDueEmpty},
	{"EarliestPendingDelivery", testNextDueEarliest},
	{"LeasedDeliveryIsDueWhenItsLeaseExpires", testNextDueLease},
	{"InactiveSubscriptionsAreIgnored", testNextDueInactive},
	{"FinishedDeliveriesAreIgnored", testNextDueFinished},
}

// nextDue returns NextDue's answer, failing the test on error.
func (e *env) nextDue(t *testing.T) (time.Time, bool) {
	t.Helper()
	due, ok, err := e.store.NextDue(t.Context())
	require.NoError(t, err)
	return due, ok
}

func (e *env) requireNextDue(t *testing.T, want time.Time) {
	t.Helper()
	due, ok := e.nextDue(t)
	require.True(t, ok, "NextDue found nothing, want %v", want)
	requireEqualTime(t, want, due, "NextDue")
}

func (e *env) requireNothingDue(t *testing.T) {
	t.Helper()
	due, ok := e.nextDue(t)
	require.False(t, ok, "NextDue found %v, want nothing", due)
}

func testNextDueEmpty(t *testing.T, e *env) {
	e.requireNothingDue(t)
	e.createSubscription(t)
	e.requireNothingDue(t)
}

func testNextDueEarliest(t *testing.T, e *env) {
	a, b := e.createSubscription(t), e.createSubscription(t)
	e.enqueueOne(t, a, e.at(3*time.Minute))
	e.requireNextDue(t, e.at(3*time.Minute))
	e.enqueueOne(t, b, e.at(time.Minute))
	e.enqueueOne(t, a, e.at(2*time.Minute))
	e.requireNextDue(t, e.at(time.Minute))
}

func testNextDueLease(t *testing.T, e *env) {
	s := e.createSubscription(t)
	e.enqueueOne(t, s, e.now)
	require.Len(t, e.claim(t, webhook.ClaimParams{Now: e.now, Limit: 1, Lease: 30 * time.Second}), 1)
	e.requireNextDue(t, e.at(30*time.Second))

	e.enqueueOne(t, s, e.at(5*time.Minute))
	e.requireNextDue(t, e.at(30*time.Second))
	e.enqueueOne(t, s, e.at(10*time.Second))
	e.requireNextDue(t, e.at(10*time.Second))
}

func testNextDueInactive(t *testing.T, e *env) {
	ctx := t.Context()
	stopped, active := e.createSubscription(t), e.createSubscription(t)
	e.enqueueOne(t, stopped, e.at(2*time.Minute))
	leased := e.enqueueOne(t, stopped, e.now)
	e.claimOne(t, e.now, leased) // leased until now + 1m
	require.NoError(t, e.store.SetSubscriptionState(ctx, e.org, stopped.ID, webhook.StateStopped, e.now))
	e.requireNothingDue(t)

	e.enqueueOne(t, active, e.at(time.Hour))
	e.requireNextDue(t, e.at(time.Hour))

	require.NoError(t, e.store.SetSubscriptionState(ctx, e.org, stopped.ID, webhook.StateActive, e.now))
	e.requireNextDue(t, e.at(time.Minute))
}

func testNextDueFinished(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d1 := e.enqueueOne(t, s, e.now)
	d2 := e.enqueueOne(t, s, e.now)
	e.finishAs(t, e.now, d1, webhook.DeliveryDelivered)
	e.finishAs(t, e.now, d2, webhook.DeliveryDead)
	e.requireNothingDue(t)
}

var wakeTests = []test{
	{"ClosedAfterEnqueue", testWakeEnqueue},
	{"ClosedAfterRelease", testWakeRelease},
	{"ClosedAfterRedeliver", testWakeRedeliver},
	{"ClosedAfterReactivation", testWakeReactivation},
}

// wake returns a Wake channel, skipping the test when the store cannot
// tell (a nil channel).
func (e *env) wake(t *testing.T) <-chan struct{} {
	t.Helper()
	ch := e.store.Wake()
	if ch == nil {
		t.Skip("the store returns a nil Wake channel: the dispatcher polls it")
	}
	return ch
}

func testWakeEnqueue(t *testing.T, e *env) {
	s := e.createSubscription(t)
	ch := e.wake(t)
	e.enqueueOne(t, s, e.now)
	requireClosed(t, ch, "Enqueue")

	// The next call returns a channel for the next change.
	ch = e.wake(t)
	e.enqueueOne(t, s, e.now)
	requireClosed(t, ch, "a second Enqueue")
}

func testWakeRelease(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	c := e.claimOne(t, e.now, d)
	ch := e.wake(t)
	e.finish(t, e.now, webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryPending, NextAttemptAt: e.now})
	requireClosed(t, ch, "a release by Finish")
}

func testWakeRedeliver(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	e.finishAs(t, e.now, d, webhook.DeliveryDead)
	ch := e.wake(t)
	require.NoError(t, e.store.Redeliver(t.Context(), e.org, d.ID, e.now))
	requireClosed(t, ch, "Redeliver")
}

func testWakeReactivation(t *testing.T, e *env) {
	s := e.createSubscription(t)
	e.enqueueOne(t, s, e.now)
	require.NoError(t, e.store.SetSubscriptionState(t.Context(), e.org, s.ID, webhook.StateStopped, e.now))
	ch := e.wake(t)
	require.NoError(t, e.store.SetSubscriptionState(t.Context(), e.org, s.ID, webhook.StateActive, e.now))
	requireClosed(t, ch, "re-activating a subscription with a pending delivery")
}
