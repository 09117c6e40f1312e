// Package storetest is the conformance suite for implementations of
// [webhook.Store]. Every Store calls it from its own tests:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) webhook.Store { return memstore.New() })
//	}
//
// The suite checks the contract documented on webhook.Store and its records,
// through the Store interface only. It gives every subtest a new store and
// an organization of its own, runs the subtests one after the other,
// compares times as instants, and uses times truncated to the microsecond,
// so a store backed by a database that keeps microseconds passes. Event
// timestamps must keep their zone offset, as the Envelope shows it.
//
// Where the contract is terse, the suite reads it so:
//
//   - A page that ends exactly at the last item has no next cursor: a store
//     looks one item ahead.
//   - A cursor is refused with ErrInvalidArgument, and no items, whenever
//     the store did not return it for that listing and order: garbage, bytes
//     that are not UTF-8, a bare ID, a real cursor cut short (by one
//     character or more), another listing's cursor, the other order's. The
//     orders OldestFirst and "" are one order: their cursors are
//     interchangeable. ListSubscriptions has one order only.
//   - Finish with an outcome for a delivery that was deleted with its
//     subscription while leased is not an error.
//   - ListAttempts of a missing delivery gives ErrNotFound, like every
//     lookup: a delivery of another organization must read exactly as a
//     missing one, so neither can be an empty list. "Reads exactly as"
//     means the error messages are equal once the ID asked for is replaced.
//   - Claim sets RedeliveredAt and AttemptsAtRedelivery as stored (the
//     worker schedules retries and marks the Manual attempt from them), and
//     RedeliveredAt stays set after the redelivered delivery is finished.
//   - Stats of an organization without subscriptions are zero, not an
//     error. An attempt counts in the hour of its At (not of the Finish
//     that logged it); a zero Since counts every attempt. Attempts of
//     pruned deliveries in hours after Prune's cutoff keep counting.
//   - Whether a lease is void at exactly its LeasedUntil is left open: the
//     suite claims strictly after it.
package storetest

import (
	"encoding/json"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/internal/ids"
)

// Run runs the conformance suite against the stores made by newStore,
// which must return a new, empty store each time it is called (once per
// subtest) and may register cleanups on the t it is given.
func Run(t *testing.T, newStore func(t *testing.T) webhook.Store) {
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			for _, tc := range g.tests {
				t.Run(tc.name, func(t *testing.T) {
					tc.fn(t, setup(t, newStore))
				})
			}
		})
	}
}

// group is a set of subtests about one part of the contract.
type group struct {
	name  string
	tests []test
}

type test struct {
	name string
	fn   func(t *testing.T, e *env)
}

var groups = []group{
	{"Subscriptions", subscriptionTests},
	{"Numbers", numberTests},
	{"MatchSubscriptions", matchTests},
	{"Health", healthTests},
	{"Enqueue", enqueueTests},
	{"Events", eventTests},
	{"Claim", claimTests},
	{"Finish", finishTests},
	{"NextDue", nextDueTests},
	{"Wake", wakeTests},
	{"Deliveries", deliveryTests},
	{"Listings", listingTests},
	{"Redeliver", redeliverTests},
	{"DeleteSubscription", deleteTests},
	{"Prune", pruneTests},
	{"Stats", statsTests},
	{"Cursors", cursorTests},
	{"Tenancy", tenancyTests},
	{"Concurrency", concurrencyTests},
	{"Controls", controlTests},
}

// env is what a subtest works with: a new store, an organization of its
// own, and a fixed current time.
type env struct {
	store webhook.Store
	org   string
	// now is the subtest's current time, in UTC and truncated to the
	// microsecond.
	now time.Time
}

func setup(t *testing.T, newStore func(t *testing.T) webhook.Store) *env {
	t.Helper()
	s := newStore(t)
	require.NotNil(t, s, "newStore returned nil")
	return &env{
		store: s,
		org:   newID("org_"),
		now:   time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC),
	}
}

// idClock makes every ID of the suite carry a later millisecond than the
// previous one, so IDs made one after the other sort in that order.
var idClock atomic.Int64

func init() { idClock.Store(time.Now().UnixMilli()) }

// newID returns a new unique ID with the prefix, sorting after all IDs
// made before it.
func newID(prefix string) string {
	return ids.New(prefix, time.UnixMilli(idClock.Add(1)))
}

// zone is the offset of the events' timestamps: not UTC, so a store that
// drops the offset fails.
var zone = time.FixedZone("CST", -6*60*60)

// otherOrg returns an env on the same store and clock for another, new
// organization.
func (e *env) otherOrg() *env {
	o := *e
	o.org = newID("org_")
	return &o
}

// at returns e.now moved by d.
func (e *env) at(d time.Duration) time.Time { return e.now.Add(d) }

// newSubscription returns an Active subscription of e.org to
// "contact.created", with IDs and times set, not yet stored.
func (e *env) newSubscription(events ...string) *webhook.Subscription {
	if len(events) == 0 {
		events = []string{"contact.created"}
	}
	return &webhook.Subscription{
		ID:             newID("sub_"),
		OrganizationID: e.org,
		Name:           "endpoint",
		URL:            "https://hooks.example.com/in",
		Events:         events,
		ContentType:    webhook.ContentTypeJSON,
		Format:         webhook.FormatEnvelope,
		Secret:         webhook.NewSecret(),
		State:          webhook.StateActive,
		Type:           webhook.TypeWebhook,
		CreatedAt:      e.now,
		UpdatedAt:      e.now,
	}
}

// createSubscription stores and returns a new subscription (see
// newSubscription).
func (e *env) createSubscription(t *testing.T, events ...string) *webhook.Subscription {
	t.Helper()
	s := e.newSubscription(events...)
	require.NoError(t, e.store.CreateSubscription(t.Context(), s))
	return s
}

var eventSeq atomic.Int64

// newEvent returns a new "contact.created" event of e.org happening at
// e.now, in a zone that is not UTC.
func (e *env) newEvent() *webhook.Event {
	n := eventSeq.Add(1)
	return &webhook.Event{
		ID:             newID("evt_"),
		Type:           "contact.created",
		OrganizationID: e.org,
		Timestamp:      e.now.In(zone),
		Data:           json.RawMessage(fmt.Sprintf(`{"contactId":%d,"name":"Ada"}`, n)),
	}
}

// newDelivery returns a new delivery of ev to sub, due at due and created
// at e.now.
func (e *env) newDelivery(ev *webhook.Event, sub *webhook.Subscription, due time.Time) *webhook.Delivery {
	return &webhook.Delivery{
		ID:             newID("dlv_"),
		EventID:        ev.ID,
		OrganizationID: ev.OrganizationID,
		SubscriptionID: sub.ID,
		State:          webhook.DeliveryPending,
		NextAttemptAt:  due,
		CreatedAt:      e.now,
		UpdatedAt:      e.now,
	}
}

// enqueue stores a new event with one delivery to each subscription, all
// due at due, and returns the deliveries.
func (e *env) enqueue(t *testing.T, due time.Time, subs ...*webhook.Subscription) (*webhook.Event, []*webhook.Delivery) {
	t.Helper()
	ev := e.newEvent()
	ds := make([]*webhook.Delivery, len(subs))
	for i, s := range subs {
		ds[i] = e.newDelivery(ev, s, due)
	}
	n, err := e.store.Enqueue(t.Context(), ev, ds)
	require.NoError(t, err)
	require.Equal(t, len(ds), n, "Enqueue created")
	return ev, ds
}

// enqueueOne stores a new event with one delivery to sub, due at due.
func (e *env) enqueueOne(t *testing.T, sub *webhook.Subscription, due time.Time) *webhook.Delivery {
	t.Helper()
	_, ds := e.enqueue(t, due, sub)
	return ds[0]
}

// claim claims with the parameters and fails the test on error.
func (e *env) claim(t *testing.T, p webhook.ClaimParams) []*webhook.Delivery {
	t.Helper()
	ds, err := e.store.Claim(t.Context(), p)
	require.NoError(t, err)
	for _, d := range ds {
		require.NotEmpty(t, d.Lease, "claimed delivery %s has no Lease", d.ID)
		require.NotNil(t, d.Event, "claimed delivery %s has no Event", d.ID)
		require.NotNil(t, d.Subscription, "claimed delivery %s has no Subscription", d.ID)
	}
	return ds
}

// claimAt claims up to 100 deliveries at now with a one-minute lease.
func (e *env) claimAt(t *testing.T, now time.Time) []*webhook.Delivery {
	t.Helper()
	return e.claim(t, webhook.ClaimParams{Now: now, Limit: 100, Lease: time.Minute})
}

// claimOne claims at now and requires exactly the delivery want.
func (e *env) claimOne(t *testing.T, now time.Time, want *webhook.Delivery) *webhook.Delivery {
	t.Helper()
	got := e.claimAt(t, now)
	require.Equal(t, []string{want.ID}, deliveryIDs(got), "claimed at %v", now)
	return got[0]
}

// attempt returns the attempt numbered n of the claimed delivery, made at
// at, with the status code (failed unless 2xx) and the outcome.
func attempt(d *webhook.Delivery, n int, at time.Time, status int, outcome webhook.DeliveryState) *webhook.Attempt {
	a := &webhook.Attempt{
		DeliveryID:     d.ID,
		EventID:        d.EventID,
		SubscriptionID: d.SubscriptionID,
		Number:         n,
		At:             at,
		Duration:       150 * time.Millisecond,
		StatusCode:     status,
		ResponseBody:   fmt.Sprintf("answer %d", n),
		Outcome:        outcome,
	}
	if status < 200 || status > 299 {
		a.Error = fmt.Sprintf("endpoint answered %d", status)
	}
	return a
}

// finish applies one outcome and fails the test on error.
func (e *env) finish(t *testing.T, now time.Time, o webhook.Outcome) {
	t.Helper()
	require.NoError(t, e.store.Finish(t.Context(), now, []webhook.Outcome{o}))
}

// finishAs claims d at now and finishes it with one attempt made at now
// leading to state (a 200 for Delivered, a 500 otherwise). Other deliveries
// that the claim takes are released unchanged.
func (e *env) finishAs(t *testing.T, now time.Time, d *webhook.Delivery, state webhook.DeliveryState) *webhook.Attempt {
	t.Helper()
	return e.finishAttempt(t, now, d, state, now, time.Time{})
}

// finishAttempt claims d at now and finishes it at now with one attempt
// made at at, leading to state (a 200 for Delivered, a 500 otherwise); a
// Pending one is due again at next. The attempt is numbered Attempts+1 and
// is Manual when it is the first after a redelivery, as the worker makes
// it. Other deliveries that the claim takes are released unchanged. It
// returns the attempt logged.
func (e *env) finishAttempt(t *testing.T, now time.Time, d *webhook.Delivery, state webhook.DeliveryState, at, next time.Time) *webhook.Attempt {
	t.Helper()
	var c *webhook.Delivery
	var release []webhook.Outcome
	for _, got := range e.claim(t, webhook.ClaimParams{Now: now, Limit: webhook.MaxPageLimit, Lease: time.Minute}) {
		if got.ID == d.ID {
			c = got
			continue
		}
		release = append(release, webhook.Outcome{DeliveryID: got.ID, Lease: got.Lease, State: webhook.DeliveryPending, NextAttemptAt: got.NextAttemptAt})
	}
	require.NotNil(t, c, "delivery %s is not claimable at %v", d.ID, now)
	status := 200
	if state != webhook.DeliveryDelivered {
		status = 500
	}
	a := attempt(c, c.Attempts+1, at, status, state)
	a.Manual = !c.RedeliveredAt.IsZero() && c.Attempts == c.AttemptsAtRedelivery
	outcomes := append(release, webhook.Outcome{
		DeliveryID: c.ID, Lease: c.Lease, State: state, NextAttemptAt: next, Attempt: a,
	})
	require.NoError(t, e.store.Finish(t.Context(), now, outcomes))
	return a
}

// getDelivery returns e.org's stored delivery and fails the test on error.
func (e *env) getDelivery(t *testing.T, id string) *webhook.Delivery {
	t.Helper()
	d, err := e.store.GetDelivery(t.Context(), e.org, id)
	require.NoError(t, err)
	return d
}

// getSubscription returns e.org's stored subscription and fails the test
// on error.
func (e *env) getSubscription(t *testing.T, id string) *webhook.Subscription {
	t.Helper()
	s, err := e.store.GetSubscription(t.Context(), e.org, id)
	require.NoError(t, err)
	return s
}

// requireEqualTime requires two times to be the same instant.
func requireEqualTime(t *testing.T, want, got time.Time, field string) {
	t.Helper()
	require.Truef(t, want.Equal(got), "%s: want %v, got %v", field, want, got)
}

// requireNotFound requires err to wrap webhook.ErrNotFound.
func requireNotFound(t *testing.T, err error, what string) {
	t.Helper()
	require.Errorf(t, err, "%s: want an error wrapping ErrNotFound", what)
	require.ErrorIsf(t, err, webhook.ErrNotFound, "%s", what)
}

// requireInvalidArgument requires err to wrap webhook.ErrInvalidArgument.
func requireInvalidArgument(t *testing.T, err error, what string) {
	t.Helper()
	require.Errorf(t, err, "%s: want an error wrapping ErrInvalidArgument", what)
	require.ErrorIsf(t, err, webhook.ErrInvalidArgument, "%s", what)
}

func deliveryIDs(ds []*webhook.Delivery) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

func subscriptionIDs(ss []*webhook.Subscription) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

func eventIDs(es []*webhook.Event) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

// requireClosed requires ch to be closed within a few seconds (a shared
// store may learn of a change asynchronously).
func requireClosed(t *testing.T, ch <-chan struct{}, after string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("the Wake channel was not closed after %s", after)
	}
}
