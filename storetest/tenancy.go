package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

var tenancyTests = []test{
	{"CreateWithIDTakenInAnotherOrganizationFailsWithErrAlreadyExists", testTenancyCreate},
	{"GetSubscriptionOfAnotherOrganizationIsNotFound", testTenancyGetSubscription},
	{"UpdateSubscriptionOfAnotherOrganizationIsNotFound", testTenancyUpdateSubscription},
	{"DeleteSubscriptionOfAnotherOrganizationIsNotFound", testTenancyDeleteSubscription},
	{"SetSubscriptionStateOfAnotherOrganizationIsNotFound", testTenancySetSubscriptionState},
	{"GetEventOfAnotherOrganizationIsNotFound", testTenancyGetEvent},
	{"GetDeliveryOfAnotherOrganizationIsNotFound", testTenancyGetDelivery},
	{"ListAttemptsOfAnotherOrganizationIsNotFound", testTenancyListAttempts},
	{"RedeliverOfAnotherOrganizationIsNotFound", testTenancyRedeliver},
	{"StatsOfAnotherOrganizationsSubscriptionIsNotFound", testTenancyStats},
	{"ListSubscriptionsShowNothingOfAnotherOrganization", testTenancyListSubscriptions},
	{"ListEventsShowNothingOfAnotherOrganization", testTenancyListEvents},
	{"ListDeliveriesShowNothingOfAnotherOrganization", testTenancyListDeliveries},
}

// tenants is what the Tenancy subtests work with: the records of one
// organization (e.org, "A"), and another organization (b) that has records
// of its own.
type tenants struct {
	b *env
	// sub is A's subscription, ev A's event, with a dead delivery (one
	// attempt) and a delivered one (two attempts) to sub and a pending
	// one to other, A's second subscription.
	sub, other               *webhook.Subscription
	ev                       *webhook.Event
	dead, delivered, pending *webhook.Delivery
	// bSub, bEv and bDelivery are b's own.
	bSub      *webhook.Subscription
	bEv       *webhook.Event
	bDelivery *webhook.Delivery
	// before is A's records as stored before the subtest's calls.
	before snapshot
}

// snapshot is everything A's methods show of A's records.
type snapshot struct {
	subs       []*webhook.Subscription
	events     []*webhook.Event
	deliveries []*webhook.Delivery
	attempts   map[string][]*webhook.Attempt
	stats      map[string]*webhook.Stats
	match      []string
}

func (e *env) setupTenants(t *testing.T) *tenants {
	t.Helper()
	tn := &tenants{b: e.otherOrg()}
	tn.sub = e.fullSubscription()
	require.NoError(t, e.store.CreateSubscription(t.Context(), tn.sub))
	tn.other = e.createSubscription(t)
	var ds []*webhook.Delivery
	tn.ev, ds = e.enqueue(t, e.now, tn.sub, tn.other)
	tn.dead, tn.pending = ds[0], ds[1]
	tn.delivered = e.enqueueOne(t, tn.sub, e.now)
	e.finishAs(t, e.now, tn.dead, webhook.DeliveryDead)
	e.finishAttempt(t, e.now, tn.delivered, webhook.DeliveryPending, e.now, e.now)
	e.finishAs(t, e.at(time.Second), tn.delivered, webhook.DeliveryDelivered)
	// Leave A's pending delivery unleased.
	c := e.claimOne(t, e.at(time.Second), tn.pending)
	e.finish(t, e.at(time.Second), webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryPending, NextAttemptAt: e.at(time.Hour)})

	tn.bSub = tn.b.createSubscription(t)
	var bds []*webhook.Delivery
	tn.bEv, bds = tn.b.enqueue(t, e.at(2*time.Hour), tn.bSub)
	tn.bDelivery = bds[0]
	tn.before = e.snapshot(t, tn)
	return tn
}

// snapshot reads A's records through A's methods.
func (e *env) snapshot(t *testing.T, tn *tenants) snapshot {
	t.Helper()
	ctx := t.Context()
	var s snapshot
	var err error
	s.subs, _, err = e.store.ListSubscriptions(ctx, e.org, webhook.Page{})
	require.NoError(t, err)
	require.Len(t, s.subs, 2)
	s.events, _, err = e.store.ListEvents(ctx, webhook.EventFilter{OrganizationID: e.org})
	require.NoError(t, err)
	require.Len(t, s.events, 2)
	s.deliveries, _, err = e.store.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: e.org})
	require.NoError(t, err)
	require.Len(t, s.deliveries, 3)
	s.attempts = map[string][]*webhook.Attempt{}
	for _, d := range s.deliveries {
		s.attempts[d.ID] = e.attempts(t, d.ID)
	}
	s.stats = map[string]*webhook.Stats{
		"":          e.stats(t, "", e.now),
		tn.sub.ID:   e.stats(t, tn.sub.ID, e.now),
		tn.other.ID: e.stats(t, tn.other.ID, e.now),
	}
	s.match = e.match(t, "contact.created")
	return s
}

// requireUnchanged requires A's records to read as they did before the
// subtest's calls, by GetX as well as by the listings.
func (e *env) requireUnchanged(t *testing.T, tn *tenants) {
	t.Helper()
	want := tn.before
	got := e.snapshot(t, tn)
	for i := range want.subs {
		requireSameSubscription(t, want.subs[i], got.subs[i])
		requireSameSubscription(t, want.subs[i], e.getSubscription(t, want.subs[i].ID))
	}
	for i := range want.events {
		requireSameEvent(t, want.events[i], got.events[i])
		ev, err := e.store.GetEvent(t.Context(), e.org, want.events[i].ID)
		require.NoError(t, err)
		requireSameEvent(t, want.events[i], ev)
	}
	for i, d := range want.deliveries {
		requireSameDelivery(t, d, got.deliveries[i])
		requireSameDelivery(t, d, e.getDelivery(t, d.ID))
		require.Len(t, got.attempts[d.ID], len(want.attempts[d.ID]), "attempts of %s", d.ID)
		for j := range want.attempts[d.ID] {
			requireSameAttempt(t, want.attempts[d.ID][j], got.attempts[d.ID][j])
		}
	}
	for id, st := range want.stats {
		requireSameStats(t, st, got.stats[id], "Stats of "+id)
	}
	require.Equal(t, want.match, got.match, "MatchSubscriptions")
}

// requireSameDelivery requires got to be want, times as instants.
func requireSameDelivery(t *testing.T, want, got *webhook.Delivery) {
	t.Helper()
	require.NotNil(t, got)
	w, g := *want, *got
	for _, p := range []*[2]*time.Time{
		{&w.NextAttemptAt, &g.NextAttemptAt}, {&w.RedeliveredAt, &g.RedeliveredAt},
		{&w.CreatedAt, &g.CreatedAt}, {&w.UpdatedAt, &g.UpdatedAt}, {&w.LeasedUntil, &g.LeasedUntil},
	} {
		requireEqualTime(t, *p[0], *p[1], "delivery "+want.ID+" time")
		*p[0], *p[1] = time.Time{}, time.Time{}
	}
	require.Equal(t, w, g)
}

// requireSameStats requires got to be want, times as instants.
func requireSameStats(t *testing.T, want, got *webhook.Stats, what string) {
	t.Helper()
	require.NotNil(t, got)
	w, g := *want, *got
	for _, p := range []*[2]*time.Time{
		{&w.Since, &g.Since}, {&w.LastAttemptAt, &g.LastAttemptAt}, {&w.OldestPendingAt, &g.OldestPendingAt},
	} {
		requireEqualTime(t, *p[0], *p[1], what)
		*p[0], *p[1] = time.Time{}, time.Time{}
	}
	require.Equal(t, w, g, what)
}

// requireReadsAsMissing requires err, from a call of B's naming A's id, to
// wrap ErrNotFound and to read as missingErr, from the same call naming
// the missing ID missingID, once each ID is replaced: nothing tells
// another organization's record from a missing one.
func requireReadsAsMissing(t *testing.T, what string, err error, id string, missingErr error, missingID string) {
	t.Helper()
	requireNotFound(t, err, what+" of another organization's record")
	requireNotFound(t, missingErr, what+" of a missing record")
	require.Equal(t,
		strings.ReplaceAll(missingErr.Error(), missingID, "<ID>"),
		strings.ReplaceAll(err.Error(), id, "<ID>"),
		"%s: the error for another organization's record reads differently from the error for a missing one", what)
}

func testTenancyCreate(t *testing.T, e *env) {
	tn := e.setupTenants(t)
	dup := tn.b.newSubscription("*")
	dup.ID = tn.sub.ID
	err := e.store.CreateSubscription(t.Context(), dup)
	require.ErrorIs(t, err, webhook.ErrAlreadyExists, "CreateSubscription in B with an ID of A's")
	_, err = e.store.GetSubscription(t.Context(), tn.b.org, tn.sub.ID)
	requireNotFound(t, err, "GetSubscription in B after a refused CreateSubscription")
	e.requireUnchanged(t, tn)
}

func testTenancyGetSubscription(t *testing.T, e *env) {
	tn := e.setupTenants(t)
	missing := newID("sub_")
	got, err := e.store.GetSubscription(t.Context(), tn.b.org, tn.sub.ID)
	require.Nil(t, got)
	_, missingErr := e.store.GetSubscription(t.Context(), tn.b.org, missing)
	requireReadsAsMissing(t, "GetSubscription", err, tn.sub.ID, missingErr, missing)
	e.requireUnchanged(t, tn)
}

func testTenancyUpdateSubscription(t *testing.T, e *env) {
	tn := e.setupTenants(t)
	// B's update of A's subscription: A's ID, B's organization.
	u := tn.b.fullSubscription()
	u.ID = tn.sub.ID
	u.URL = "https://attacker.example.com/hook"
	u.Events = []string{"*"}
	err := e.store.UpdateSubscription(t.Context(), u)
	missing := tn.b.fullSubscription()
	missingErr := e.store.UpdateSubscription(t.Context(), missing)
	requireReadsAsMissing(t, "UpdateSubscription", err, tn.sub.ID, missingErr, missing.ID)
	e.requireUnchanged(t, tn)
	require.Empty(t, tn.b.match(t, "sale.changed"), "B's matches after a refused UpdateSubscription")
}

func testTenancyDeleteSubscription(t *testing.T, e *env) {
	tn := e.setupTenants(t)
	missing := newID("sub_")
	err := e.store.DeleteSubscription(t.Context(), tn.b.org, tn.sub.ID)
	missingErr := e.store.DeleteSubscription(t.Context(), tn.b.org, missing)
	requireReadsAsMissing(t, "DeleteSubscription", err, tn.sub.ID, missingErr, missing)
	err = e.store.DeleteSubscription(t.Context(), tn.b.org, tn.other.ID)
	requireNotFound(t, err, "DeleteSubscription in B of A's subscription with a pending delivery")
	e.requireUnchanged(t, tn)
	e.claimOne(t, e.at(time.Hour), tn.pending)
}

func testTenancySetSubscriptionState(t *testing.T, e *env) {
	tn := e.setupTenants(t)
	missing := newID("sub_")
	later := e.at(time.Minute)
	err := e.store.SetSubscriptionState(t.Context(), tn.b.org, tn.sub.ID, webhook.StateStopped, later)
	missingErr := e.store.SetSubscriptionState(t.Context(), tn.b.org, missing, webhook.StateStopped, later)
	requireReadsAsMissing(t, "SetSubscriptionState", err, tn.sub.ID, missingErr, missing)
	err = e.store.SetSubscriptionState(t.Context(), tn.b.org, tn.other.ID, webhook.StateStopped, later)
	requireNotFound(t, err, "SetSubscriptionState in B of A's other subscription")
	e.requireUnchanged(t, tn)
	e.claimOne(t, e.at(time.Hour), tn.pending)
}

func testTenancyGetEvent(t *testing.T, e *env) {
	tn := e.setupTenants(t)
	missing := newID("evt_")
	got, err := e.store.GetEvent(t.Context(), tn.b.org, tn.ev.ID)
	require.Nil(t, got)
	_, missingErr := e.store.GetEvent(t.Context(), tn.b.org, missing)
	requireReadsAsMissing(t, "GetEvent", err, tn.ev.ID, missingErr, missing)
	e.requireUnchanged(t, tn)
}

func testTenancyGetDelivery(t *testing.T, e *env) {
	tn := e.setupTenants(t)
	missing := newID("dlv_")
	_, missingErr := e.store.GetDelivery(t.Context(), tn.b.org, missing)
	for _, d := range []*webhook.Delivery{tn.dead, tn.delivered, tn.pending} {
		got, err := e.store.GetDelivery(t.Context(), tn.b.org, d.ID)
		require.Nil(t, got)
		requireReadsAsMissing(t, "GetDelivery", err, d.ID, missingErr, missing)
	}
	e.requireUnchanged(t, tn)
}

func testTenancyListAttempts(t *testing.T, e *env) {
	tn := e.setupTenants(t)
	missing := newID("dlv_")
	_, missingErr := e.store.ListAttempts(t.Context(), tn.b.org, missing)
	for _, d := range []*webhook.Delivery{tn.dead, tn.delivered, tn.pending} {
		got, err := e.store.ListAttempts(t.Context(), tn.b.org, d.ID)
		require.Empty(t, got)
		requireReadsAsMissing(t, "ListAttempts", err, d.ID, missingErr, missing)
	}
	e.requireUnchanged(t, tn)
}

func testTenancyRedeliver(t *testing.T, e *env) {
	tn := e.setupTenants(t)
	missing := newID("dlv_")
	later := e.at(time.Minute)
	missingErr := e.store.Redeliver(t.Context(), tn.b.org, missing, later)
	for _, d := range []*webhook.Delivery{tn.dead, tn.delivered} {
		err := e.store.Redeliver(t.Context(), tn.b.org, d.ID, later)
		requireReadsAsMissing(t, "Redeliver", err, d.ID, missingErr, missing)
	}
	// Not ErrInvalidState either: that would tell that it exists.
	err := e.store.Redeliver(t.Context(), tn.b.org, tn.pending.ID, later)
	requireReadsAsMissing(t, "Redeliver of a pending delivery", err, tn.pending.ID, missingErr, missing)
	e.requireUnchanged(t, tn)
	require.Equal(t, []string{tn.pending.ID, tn.bDelivery.ID}, deliveryIDs(e.claimAt(t, e.at(3*time.Hour))),
		"claimable: A's pending delivery and B's, none redelivered")
}

func testTenancyStats(t *testing.T, e *env) {
	tn := e.setupTenants(t)
	missing := newID("sub_")
	_, missingErr := e.store.Stats(t.Context(), webhook.StatsFilter{OrganizationID: tn.b.org, SubscriptionID: missing, Since: e.now})
	for _, s := range []*webhook.Subscription{tn.sub, tn.other} {
		got, err := e.store.Stats(t.Context(), webhook.StatsFilter{OrganizationID: tn.b.org, SubscriptionID: s.ID, Since: e.now})
		require.Nil(t, got)
		requireReadsAsMissing(t, "Stats", err, s.ID, missingErr, missing)
	}
	// B's own Stats count B's delivery only.
	st := tn.b.stats(t, "", time.Time{})
	require.Equal(t, [3]int64{1, 0, 0}, [3]int64{st.Pending, st.Delivered, st.Dead}, "B's counts")
	require.Zero(t, st.Attempts, "B's attempts")
	require.True(t, st.LastAttemptAt.IsZero(), "B's LastAttemptAt")
	requireEqualTime(t, tn.bDelivery.CreatedAt, st.OldestPendingAt, "B's OldestPendingAt")
	e.requireUnchanged(t, tn)
}

func testTenancyListSubscriptions(t *testing.T, e *env) {
	tn := e.setupTenants(t)
	require.Equal(t, [][]string{{tn.bSub.ID}}, tn.b.listSubscriptionPages(t, tn.b.org, 10))
	require.Equal(t, [][]string{{tn.bSub.ID}}, tn.b.listSubscriptionPages(t, tn.b.org, 1))
	require.Empty(t, tn.b.match(t, "sale.changed"), "B's matches of a type only A's subscription wants")
	require.Equal(t, []string{tn.bSub.ID}, tn.b.match(t, "contact.created"))
	e.requireUnchanged(t, tn)
}

func testTenancyListEvents(t *testing.T, e *env) {
	tn := e.setupTenants(t)
	b := tn.b
	for _, f := range []webhook.EventFilter{
		{OrganizationID: b.org},
		{OrganizationID: b.org, Order: webhook.NewestFirst},
		{OrganizationID: b.org, Type: tn.ev.Type},
		{OrganizationID: b.org, From: e.at(-time.Hour), To: e.at(time.Hour)},
	} {
		require.Equal(t, [][]string{{tn.bEv.ID}}, b.listEventPages(t, f, 10), "B's events with %+v", f)
	}
	e.requireUnchanged(t, tn)
}

func testTenancyListDeliveries(t *testing.T, e *env) {
	tn := e.setupTenants(t)
	b := tn.b
	for _, f := range []webhook.DeliveryFilter{
		{OrganizationID: b.org, SubscriptionID: tn.sub.ID},
		{OrganizationID: b.org, SubscriptionID: tn.other.ID, State: webhook.DeliveryPending},
		{OrganizationID: b.org, EventID: tn.ev.ID},
		{OrganizationID: b.org, EventID: tn.ev.ID, Order: webhook.NewestFirst},
		{OrganizationID: b.org, EventID: tn.ev.ID, SubscriptionID: tn.sub.ID},
		{OrganizationID: b.org, State: webhook.DeliveryDead},
		{OrganizationID: b.org, State: webhook.DeliveryDelivered},
	} {
		require.Equal(t, [][]string{{}}, b.listDeliveryPages(t, f, 10), "B's deliveries with %+v", f)
	}
	for _, f := range []webhook.DeliveryFilter{
		{OrganizationID: b.org},
		{OrganizationID: b.org, Order: webhook.NewestFirst},
		{OrganizationID: b.org, EventType: tn.ev.Type},
		{OrganizationID: b.org, CreatedFrom: e.at(-time.Hour), CreatedTo: e.at(time.Hour)},
	} {
		require.Equal(t, [][]string{{tn.bDelivery.ID}}, b.listDeliveryPages(t, f, 10), "B's deliveries with %+v", f)
	}
	e.requireUnchanged(t, tn)
}
