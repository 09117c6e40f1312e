package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

var statsTests = []test{
	{"EmptyIsZero", testStatsEmpty},
	{"CountsByStateFollowTheQueue", testStatsCounts},
	{"DeletedSubscriptionLeavesTheOrganization", testStatsDelete},
	{"PruneDropsTheCountsOfWhatItDeletes", testStatsPrune},
	{"AttemptsAndFailuresCountWholeHoursFromSince", testStatsSince},
	{"StaleLeaseAttemptsCountAndReleasesDoNot", testStatsStaleLease},
	{"LastAttemptIsTheLatestByAt", testStatsLastAttempt},
	{"OldestPendingAtIsCreatedAtOrRedeliveredAt", testStatsOldestPending},
	{"MissingSubscriptionFailsWithErrNotFound", testStatsMissing},
	{"RequiresOrganizationID", testStatsNoOrg},
}

// stats returns the Stats of e.org's subscription subID, or of e.org when
// subID is empty, counting attempts since since.
func (e *env) stats(t *testing.T, subID string, since time.Time) *webhook.Stats {
	t.Helper()
	st, err := e.store.Stats(t.Context(), webhook.StatsFilter{OrganizationID: e.org, SubscriptionID: subID, Since: since})
	require.NoError(t, err, "Stats of %q since %v", subID, since)
	require.NotNil(t, st)
	return st
}

// requireCounts requires the Stats of subID (e.org when empty) to count
// pending, delivered and dead deliveries.
func (e *env) requireCounts(t *testing.T, subID string, pending, delivered, dead int64, when string) {
	t.Helper()
	st := e.stats(t, subID, time.Time{})
	what := "the organization"
	if subID != "" {
		what = "subscription " + subID
	}
	require.Equal(t, [3]int64{pending, delivered, dead}, [3]int64{st.Pending, st.Delivered, st.Dead},
		"Pending, Delivered, Dead of %s %s", what, when)
}

// requireAttempts requires the Stats of subID (e.org when empty) since
// since to count attempts and failures, from the hour wantSince.
func (e *env) requireAttempts(t *testing.T, subID string, since time.Time, attempts, failures int64, wantSince time.Time) {
	t.Helper()
	st := e.stats(t, subID, since)
	require.Equal(t, [2]int64{attempts, failures}, [2]int64{st.Attempts, st.Failures},
		"Attempts, Failures of %q since %v", subID, since)
	requireEqualTime(t, wantSince, st.Since, fmt.Sprintf("Since of the Stats since %v", since))
}

// requireLast requires the Stats of subID (e.org when empty) to describe
// the latest attempt as made at at with the status and error.
func (e *env) requireLast(t *testing.T, subID string, since, at time.Time, status int, errText string) {
	t.Helper()
	st := e.stats(t, subID, since)
	requireEqualTime(t, at, st.LastAttemptAt, fmt.Sprintf("LastAttemptAt of %q", subID))
	require.Equal(t, status, st.LastStatusCode, "LastStatusCode of %q", subID)
	require.Equal(t, errText, st.LastError, "LastError of %q", subID)
}

// requireOldestPending requires the Stats of subID (e.org when empty) to
// have OldestPendingAt want (zero for none).
func (e *env) requireOldestPending(t *testing.T, subID string, want time.Time, when string) {
	t.Helper()
	got := e.stats(t, subID, time.Time{}).OldestPendingAt
	if want.IsZero() {
		require.True(t, got.IsZero(), "OldestPendingAt of %q %s: want zero, got %v", subID, when, got)
		return
	}
	requireEqualTime(t, want, got, fmt.Sprintf("OldestPendingAt of %q %s", subID, when))
}

// enqueueCreated stores a new event of e.org with one delivery to sub,
// created and due at created, and returns the delivery.
func (e *env) enqueueCreated(t *testing.T, sub *webhook.Subscription, created time.Time) *webhook.Delivery {
	t.Helper()
	ev := e.newEvent()
	d := e.newDelivery(ev, sub, created)
	d.CreatedAt, d.UpdatedAt = created, created
	n, err := e.store.Enqueue(t.Context(), ev, []*webhook.Delivery{d})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	return d
}

// enqueueHappened stores a new event of e.org that happened at ts with one
// delivery to sub due at e.now, and returns the delivery.
func (e *env) enqueueHappened(t *testing.T, sub *webhook.Subscription, ts time.Time) *webhook.Delivery {
	t.Helper()
	ev := e.newEvent()
	ev.Timestamp = ts.In(zone)
	d := e.newDelivery(ev, sub, e.now)
	n, err := e.store.Enqueue(t.Context(), ev, []*webhook.Delivery{d})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	return d
}

func testStatsEmpty(t *testing.T, e *env) {
	s := e.createSubscription(t)
	hour := e.now.Truncate(time.Hour)
	for name, st := range map[string]*webhook.Stats{
		"subscription":                       e.stats(t, s.ID, e.now),
		"organization":                       e.stats(t, "", e.now),
		"organization without subscriptions": e.otherOrg().stats(t, "", e.now),
	} {
		requireEqualTime(t, hour, st.Since, name+": Since")
		st.Since = time.Time{}
		require.Equal(t, webhook.Stats{}, *st, name)
	}
}

func testStatsCounts(t *testing.T, e *env) {
	ctx := t.Context()
	a, b := e.createSubscription(t), e.createSubscription(t)
	d1, d2, d3 := e.enqueueOne(t, a, e.now), e.enqueueOne(t, a, e.now), e.enqueueOne(t, a, e.now)
	d4 := e.enqueueOne(t, b, e.now)
	e.requireCounts(t, a.ID, 3, 0, 0, "after Enqueue")
	e.requireCounts(t, b.ID, 1, 0, 0, "after Enqueue")
	e.requireCounts(t, "", 4, 0, 0, "after Enqueue")

	// Leased deliveries are still pending.
	byID := map[string]*webhook.Delivery{}
	for _, c := range e.claimAt(t, e.now) {
		byID[c.ID] = c
	}
	require.Len(t, byID, 4)
	e.requireCounts(t, a.ID, 3, 0, 0, "after Claim")
	e.requireCounts(t, "", 4, 0, 0, "after Claim")

	c1, c2, c3, c4 := byID[d1.ID], byID[d2.ID], byID[d3.ID], byID[d4.ID]
	require.NoError(t, e.store.Finish(ctx, e.now, []webhook.Outcome{
		{DeliveryID: c1.ID, Lease: c1.Lease, State: webhook.DeliveryDelivered, Attempt: attempt(c1, 1, e.now, 200, webhook.DeliveryDelivered)},
		{DeliveryID: c2.ID, Lease: c2.Lease, State: webhook.DeliveryDead, Attempt: attempt(c2, 1, e.now, 410, webhook.DeliveryDead)},
		{DeliveryID: c3.ID, Lease: c3.Lease, State: webhook.DeliveryPending, NextAttemptAt: e.at(time.Minute), Attempt: attempt(c3, 1, e.now, 503, webhook.DeliveryPending)},
		{DeliveryID: c4.ID, Lease: c4.Lease, State: webhook.DeliveryPending, NextAttemptAt: e.now},
	}))
	e.requireCounts(t, a.ID, 1, 1, 1, "after Finish")
	e.requireCounts(t, b.ID, 1, 0, 0, "after a release")
	e.requireCounts(t, "", 2, 1, 1, "after Finish")

	require.NoError(t, e.store.Redeliver(ctx, e.org, d2.ID, e.at(time.Minute)))
	e.requireCounts(t, a.ID, 2, 1, 0, "after redelivering the dead one")
	require.NoError(t, e.store.Redeliver(ctx, e.org, d1.ID, e.at(time.Minute)))
	e.requireCounts(t, a.ID, 3, 0, 0, "after redelivering the delivered one")
	e.requireCounts(t, "", 4, 0, 0, "after the redeliveries")

	later := e.at(2 * time.Minute)
	e.finishAs(t, later, d1, webhook.DeliveryDelivered)
	e.finishAs(t, later, d2, webhook.DeliveryDead)
	e.finishAs(t, later, d3, webhook.DeliveryDelivered)
	e.requireCounts(t, a.ID, 0, 2, 1, "once all are finished")
	e.requireCounts(t, b.ID, 1, 0, 0, "with its delivery released again")
	e.requireCounts(t, "", 1, 2, 1, "once a's are finished")
}

func testStatsDelete(t *testing.T, e *env) {
	ctx := t.Context()
	a, b := e.createSubscription(t), e.createSubscription(t)
	e.finishAs(t, e.now, e.enqueueOne(t, a, e.now), webhook.DeliveryDelivered)
	e.finishAs(t, e.now, e.enqueueOne(t, a, e.now), webhook.DeliveryDead)
	e.enqueueCreated(t, a, e.at(-time.Hour))
	e.finishAs(t, e.now, e.enqueueOne(t, b, e.now), webhook.DeliveryDelivered)
	bPending := e.enqueueCreated(t, b, e.at(time.Minute))
	e.requireCounts(t, "", 2, 2, 1, "before the deletion")
	e.requireAttempts(t, "", e.now, 3, 1, e.now.Truncate(time.Hour))
	e.requireOldestPending(t, "", e.at(-time.Hour), "before the deletion")

	require.NoError(t, e.store.DeleteSubscription(ctx, e.org, a.ID))
	_, err := e.store.Stats(ctx, webhook.StatsFilter{OrganizationID: e.org, SubscriptionID: a.ID})
	requireNotFound(t, err, "Stats of a deleted subscription")
	// Its kept deliveries and its attempts count no more for the
	// organization.
	e.requireCounts(t, "", 1, 1, 0, "after the deletion")
	e.requireAttempts(t, "", e.now, 1, 0, e.now.Truncate(time.Hour))
	e.requireOldestPending(t, "", bPending.CreatedAt, "after the deletion")
	e.requireCounts(t, b.ID, 1, 1, 0, "after the deletion of another")

	require.NoError(t, e.store.DeleteSubscription(ctx, e.org, b.ID))
	st := e.stats(t, "", e.now)
	st.Since = time.Time{}
	require.Equal(t, webhook.Stats{}, *st, "an organization whose subscriptions are all deleted")
}

func testStatsPrune(t *testing.T, e *env) {
	ctx := t.Context()
	s := e.createSubscription(t)
	old := e.at(-2 * time.Hour)
	e.finishAs(t, e.now, e.enqueueHappened(t, s, old), webhook.DeliveryDelivered)
	e.finishAs(t, e.at(time.Second), e.enqueueHappened(t, s, old), webhook.DeliveryDelivered)
	e.finishAs(t, e.at(2*time.Second), e.enqueueHappened(t, s, old), webhook.DeliveryDead)
	pending := e.enqueueHappened(t, s, old)
	hour := e.now.Truncate(time.Hour)
	e.requireCounts(t, s.ID, 1, 2, 1, "before Prune")
	e.requireAttempts(t, s.ID, e.now, 3, 1, hour)

	// The attempts were made after the cutoff's hour: they keep counting.
	cutoff := e.at(-time.Hour)
	n, err := e.store.Prune(ctx, cutoff, 1)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	st := e.stats(t, s.ID, time.Time{})
	require.Equal(t, int64(1), st.Pending, "Pending after pruning an event without pending deliveries")
	require.Equal(t, int64(2), st.Delivered+st.Dead, "Delivered+Dead after pruning one delivery")
	e.requireCounts(t, "", st.Pending, st.Delivered, st.Dead, "after Prune, as its subscription's")

	n, err = e.store.Prune(ctx, cutoff, 100)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	for _, id := range []string{s.ID, ""} {
		e.requireCounts(t, id, 1, 0, 0, "after pruning all but the pending delivery's event")
		e.requireAttempts(t, id, e.now, 3, 1, hour)
		e.requireLast(t, id, e.now, e.at(2*time.Second), 500, "endpoint answered 500")
		e.requireOldestPending(t, id, pending.CreatedAt, "after Prune")
	}
}

func testStatsSince(t *testing.T, e *env) {
	s, u := e.createSubscription(t), e.createSubscription(t)
	d1, d2, d3 := e.enqueueOne(t, s, e.now), e.enqueueOne(t, s, e.now), e.enqueueOne(t, s, e.now)
	d4 := e.enqueueOne(t, u, e.now)
	h := e.now.Truncate(time.Hour) // 15:00
	// Attempts of s: a failure at 15:09, a failure at 15:49, a success at
	// 16:19, and a failure made at 16:59:59.9 that is finished at
	// 17:00:00.1 (it counts in the hour of its At). Of u: a success at
	// 16:40.
	e.finishAttempt(t, e.now, d1, webhook.DeliveryPending, e.now, h.Add(time.Hour+19*time.Minute))
	e.finishAttempt(t, h.Add(49*time.Minute), d2, webhook.DeliveryDead, h.Add(49*time.Minute), time.Time{})
	e.finishAttempt(t, h.Add(time.Hour+19*time.Minute), d1, webhook.DeliveryDelivered, h.Add(time.Hour+19*time.Minute), time.Time{})
	e.finishAttempt(t, h.Add(time.Hour+40*time.Minute), d4, webhook.DeliveryDelivered, h.Add(time.Hour+40*time.Minute), time.Time{})
	e.finishAttempt(t, h.Add(2*time.Hour+100*time.Millisecond), d3, webhook.DeliveryDead, h.Add(2*time.Hour-100*time.Millisecond), time.Time{})

	ist := time.FixedZone("IST", 5*60*60+30*60)
	for _, tc := range []struct {
		name                 string
		since, want          time.Time
		sAttempts, sFailures int64
		oAttempts, oFailures int64
	}{
		{"zero", time.Time{}, time.Time{}, 4, 3, 5, 3},
		{"before every attempt", h.Add(-time.Hour), h.Add(-time.Hour), 4, 3, 5, 3},
		{"inside the first hour, after its first attempt", h.Add(30 * time.Minute), h, 4, 3, 5, 3},
		{"at the start of the second hour", h.Add(time.Hour), h.Add(time.Hour), 2, 1, 3, 1},
		{"inside the second hour, after its first attempts", h.Add(time.Hour + 50*time.Minute), h.Add(time.Hour), 2, 1, 3, 1},
		{"in a zone half an hour off UTC", h.Add(time.Hour + 30*time.Minute).In(ist), h.Add(time.Hour), 2, 1, 3, 1},
		{"at the start of the hour the last attempt was finished in", h.Add(2 * time.Hour), h.Add(2 * time.Hour), 0, 0, 0, 0},
		{"later", h.Add(5 * time.Hour), h.Add(5 * time.Hour), 0, 0, 0, 0},
	} {
		t.Logf("Since %s: %v", tc.name, tc.since)
		e.requireAttempts(t, s.ID, tc.since, tc.sAttempts, tc.sFailures, tc.want)
		e.requireAttempts(t, "", tc.since, tc.oAttempts, tc.oFailures, tc.want)
	}
	e.requireAttempts(t, u.ID, h.Add(time.Hour+50*time.Minute), 1, 0, h.Add(time.Hour))
}

func testStatsStaleLease(t *testing.T, e *env) {
	s := e.createSubscription(t)
	d := e.enqueueOne(t, s, e.now)
	since := e.now

	// A release logs no attempt.
	c0 := e.claimOne(t, e.now, d)
	e.finish(t, e.now, webhook.Outcome{DeliveryID: c0.ID, Lease: c0.Lease, State: webhook.DeliveryPending, NextAttemptAt: e.now})
	e.requireAttempts(t, s.ID, since, 0, 0, e.now.Truncate(time.Hour))

	first := e.claimOne(t, e.now, d)
	later := e.at(2 * time.Minute)
	second := e.claimOne(t, later, d)
	// The first worker finishes late: its attempt counts, the delivery's
	// state does not move.
	e.finish(t, later, webhook.Outcome{DeliveryID: d.ID, Lease: first.Lease, State: webhook.DeliveryDelivered, Attempt: attempt(first, 1, e.now, 502, webhook.DeliveryPending)})
	e.requireAttempts(t, s.ID, since, 1, 1, e.now.Truncate(time.Hour))
	e.requireCounts(t, s.ID, 1, 0, 0, "after a stale Finish")

	e.finish(t, later, webhook.Outcome{DeliveryID: d.ID, Lease: second.Lease, State: webhook.DeliveryDelivered, Attempt: attempt(second, 1, later, 200, webhook.DeliveryDelivered)})
	e.requireAttempts(t, s.ID, since, 2, 1, e.now.Truncate(time.Hour))
	e.requireCounts(t, s.ID, 0, 1, 0, "after the valid Finish")

	// A second Finish of the spent lease is stale too.
	e.finish(t, later, webhook.Outcome{DeliveryID: d.ID, Lease: second.Lease, State: webhook.DeliveryDead, Attempt: attempt(second, 2, later, 500, webhook.DeliveryDead)})
	e.requireAttempts(t, s.ID, since, 3, 2, e.now.Truncate(time.Hour))
	e.requireAttempts(t, "", since, 3, 2, e.now.Truncate(time.Hour))
	e.requireCounts(t, s.ID, 0, 1, 0, "after a second Finish of one lease")
}

func testStatsLastAttempt(t *testing.T, e *env) {
	a, b := e.createSubscription(t), e.createSubscription(t)
	d1 := e.enqueueOne(t, a, e.now)
	d2 := e.enqueueOne(t, b, e.at(30*time.Minute))
	c1 := e.claimOne(t, e.now, d1)
	e.finishAttempt(t, e.at(30*time.Minute), d2, webhook.DeliveryDelivered, e.at(30*time.Minute), time.Time{})
	c2 := e.claimOne(t, e.at(time.Hour), d1)
	e.finish(t, e.at(time.Hour), webhook.Outcome{
		DeliveryID: c2.ID, Lease: c2.Lease, State: webhook.DeliveryPending, NextAttemptAt: e.at(2 * time.Hour),
		Attempt: attempt(c2, 1, e.at(time.Hour), 500, webhook.DeliveryPending),
	})
	// Logged last, but made first: the latest attempt is still the one
	// made at now+1h.
	stale := attempt(c1, 1, e.now, 503, webhook.DeliveryPending)
	stale.Error = "stale attempt"
	e.finish(t, e.at(time.Hour), webhook.Outcome{DeliveryID: c1.ID, Lease: c1.Lease, State: webhook.DeliveryDead, Attempt: stale})

	e.requireLast(t, a.ID, e.now, e.at(time.Hour), 500, "endpoint answered 500")
	e.requireLast(t, b.ID, e.now, e.at(30*time.Minute), 200, "")
	e.requireLast(t, "", e.now, e.at(time.Hour), 500, "endpoint answered 500")
	// Whatever the window of Attempts.
	e.requireLast(t, a.ID, e.at(5*time.Hour), e.at(time.Hour), 500, "endpoint answered 500")
	e.requireLast(t, "", e.at(5*time.Hour), e.at(time.Hour), 500, "endpoint answered 500")

	// The organization's latest attempt is over its current subscriptions.
	require.NoError(t, e.store.DeleteSubscription(t.Context(), e.org, a.ID))
	e.requireLast(t, "", e.now, e.at(30*time.Minute), 200, "")
}

func testStatsOldestPending(t *testing.T, e *env) {
	ctx := t.Context()
	a, b := e.createSubscription(t), e.createSubscription(t)
	d1 := e.enqueueCreated(t, a, e.now)
	d2 := e.enqueueCreated(t, a, e.at(time.Hour))
	d3 := e.enqueueCreated(t, b, e.at(30*time.Minute))
	e.requireOldestPending(t, a.ID, e.now, "after Enqueue")
	e.requireOldestPending(t, b.ID, e.at(30*time.Minute), "after Enqueue")
	e.requireOldestPending(t, "", e.now, "after Enqueue")

	e.finishAs(t, e.at(2*time.Hour), d1, webhook.DeliveryDelivered)
	e.requireOldestPending(t, a.ID, e.at(time.Hour), "once the oldest is delivered")
	e.requireOldestPending(t, "", e.at(30*time.Minute), "once the oldest is delivered")
	// A retried delivery waits since its creation.
	e.finishAttempt(t, e.at(2*time.Hour), d3, webhook.DeliveryPending, e.at(2*time.Hour), e.at(4*time.Hour))
	e.requireOldestPending(t, b.ID, e.at(30*time.Minute), "once rescheduled")

	// A redelivered one waits since its redelivery.
	require.NoError(t, e.store.Redeliver(ctx, e.org, d1.ID, e.at(3*time.Hour)))
	e.requireOldestPending(t, a.ID, e.at(time.Hour), "with an older one pending")
	e.finishAs(t, e.at(3*time.Hour), d2, webhook.DeliveryDead)
	e.requireOldestPending(t, a.ID, e.at(3*time.Hour), "with only the redelivered one pending")
	e.requireOldestPending(t, "", e.at(30*time.Minute), "with b's still pending")

	e.finishAs(t, e.at(3*time.Hour), d1, webhook.DeliveryDelivered)
	e.requireOldestPending(t, a.ID, time.Time{}, "with none pending")
	e.requireOldestPending(t, "", e.at(30*time.Minute), "with b's still pending")
	require.NoError(t, e.store.DeleteSubscription(ctx, e.org, b.ID))
	e.requireOldestPending(t, "", time.Time{}, "with none pending")
}

func testStatsMissing(t *testing.T, e *env) {
	e.createSubscription(t)
	_, err := e.store.Stats(t.Context(), webhook.StatsFilter{OrganizationID: e.org, SubscriptionID: newID("sub_"), Since: e.now})
	requireNotFound(t, err, "Stats of a missing subscription")
}

func testStatsNoOrg(t *testing.T, e *env) {
	s := e.createSubscription(t)
	for _, f := range []webhook.StatsFilter{{}, {Since: e.now}, {SubscriptionID: s.ID}} {
		st, err := e.store.Stats(t.Context(), f)
		requireInvalidArgument(t, err, fmt.Sprintf("Stats(%+v) without OrganizationID", f))
		require.Nil(t, st)
	}
}
