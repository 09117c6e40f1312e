package pgstore

import (
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// storeAtVersion returns a store on a fresh schema (dropped when the test
// ends) migrated up to version only, its pool, and its schema's quoted
// name, for a test to write what an older version stored.
func storeAtVersion(t *testing.T, version int) (*Store, *pgxpool.Pool, string) {
	t.Helper()
	p := testPool(t)
	schema := newSchemaName()
	dropSchemaOnCleanup(t, p, schema)
	s, err := New(p, &Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	require.NoError(t, s.migrateTo(t.Context(), version))
	return s, p, pgx.Identifier{schema}.Sanitize()
}

// A store migrated from the first schema version keeps what it held: the
// deliveries get their event's type, and Stats counts what was stored.
func TestMigrationFromTheFirstVersionCountsWhatIsStored(t *testing.T) {
	s, p, q := storeAtVersion(t, 1)
	ctx := t.Context()

	now := time.Date(2026, 3, 1, 15, 20, 0, 0, time.UTC)
	for _, sql := range []string{
		`INSERT INTO ` + q + `.subscriptions (id, org_id, state, events, match_keys, created_at, updated_at, doc)
VALUES ('sub_a', 'org_1', 'Active', '{*}', '{org_1|*}', $1, $1, '{}'),
       ('sub_gone', 'org_1', 'Active', '{*}', '{org_1|*}', $1, $1, '{}')`,
		`INSERT INTO ` + q + `.events (org_id, id, type, ts, ts_offset)
VALUES ('org_1', 'evt_1', 'contact.created', $1, 0), ('org_1', 'evt_2', 'sale.won', $1, 0)`,
		`INSERT INTO ` + q + `.deliveries (id, org_id, event_id, subscription_id, state, attempts,
  next_attempt_at, last_status_code, last_error, created_at, updated_at)
VALUES ('dlv_1', 'org_1', 'evt_1', 'sub_a', 'delivered', 1, $1, 200, '', $1, $1),
       ('dlv_2', 'org_1', 'evt_1', 'sub_gone', 'dead', 1, $1, 500, 'boom', $1, $1),
       ('dlv_3', 'org_1', 'evt_2', 'sub_a', 'dead', 2, $1, 410, 'gone', $1, $1),
       ('dlv_4', 'org_1', 'evt_2', 'sub_gone', 'pending', 0, $1, 0, '', $1 - interval '1 hour', $1)`,
		`INSERT INTO ` + q + `.attempts (delivery_id, event_id, subscription_id, number, at, duration_ns,
  status_code, error, outcome)
VALUES ('dlv_1', 'evt_1', 'sub_a', 1, $1, 1000, 200, '', 'delivered'),
       ('dlv_3', 'evt_2', 'sub_a', 1, $1 - interval '2 hours', 1000, 503, 'busy', 'pending'),
       ('dlv_3', 'evt_2', 'sub_a', 2, $1 + interval '1 minute', 1000, 410, 'gone', 'dead'),
       ('dlv_2', 'evt_1', 'sub_gone', 1, $1 + interval '1 hour', 1000, 500, 'boom', 'dead')`,
		// A subscription deleted before the migration: its kept
		// deliveries and attempts count for nobody.
		`DELETE FROM ` + q + `.subscriptions WHERE id = 'sub_gone' AND $1::timestamptz IS NOT NULL`,
	} {
		_, err := p.Exec(ctx, sql, now)
		require.NoError(t, err, sql)
	}
	require.NoError(t, s.Migrate(ctx))

	d, err := s.GetDelivery(ctx, "org_1", "dlv_3")
	require.NoError(t, err)
	require.Equal(t, "sale.won", d.EventType)
	require.True(t, d.NextAttemptAt.IsZero(), "NextAttemptAt of a dead delivery")
	ds, _, err := s.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: "org_1", EventType: "contact.created"})
	require.NoError(t, err)
	require.Len(t, ds, 2)
	require.Equal(t, []string{"dlv_1", "dlv_2"}, []string{ds[0].ID, ds[1].ID})

	st, err := s.Stats(ctx, webhook.StatsFilter{OrganizationID: "org_1", SubscriptionID: "sub_a", Since: now})
	require.NoError(t, err)
	require.Equal(t, webhook.Stats{Delivered: 1, Dead: 1, Since: now.Truncate(time.Hour), Attempts: 2, Failures: 1,
		LastAttemptAt: now.Add(time.Minute), LastStatusCode: 410, LastError: "gone"}, *st)
	st, err = s.Stats(ctx, webhook.StatsFilter{OrganizationID: "org_1"})
	require.NoError(t, err)
	require.Equal(t, int64(3), st.Attempts, "the organization's attempts, its deleted subscription's left out")
	require.Equal(t, [3]int64{0, 1, 1}, [3]int64{st.Pending, st.Delivered, st.Dead})

	// And the counters go on from there.
	require.NoError(t, s.Redeliver(ctx, "org_1", "dlv_3", now.Add(time.Hour)))
	st, err = s.Stats(ctx, webhook.StatsFilter{OrganizationID: "org_1", SubscriptionID: "sub_a"})
	require.NoError(t, err)
	require.Equal(t, [3]int64{1, 1, 0}, [3]int64{st.Pending, st.Delivered, st.Dead})
	require.Equal(t, now.Add(time.Hour), st.OldestPendingAt)
}

// Subscriptions stored before migration 0003 get numbers, and those created
// after it go on from them.
func TestMigrationNumbersExistingSubscriptions(t *testing.T) {
	s, p, q := storeAtVersion(t, 2)
	ctx := t.Context()
	now := time.Date(2026, 3, 1, 15, 20, 0, 0, time.UTC)
	_, err := p.Exec(ctx, `INSERT INTO `+q+`.subscriptions (id, org_id, state, events, match_keys, created_at, updated_at, doc)
VALUES ('sub_a', 'org_1', 'Active', '{*}', '{org_1|*}', $1, $1, '{}'),
       ('sub_b', 'org_1', 'Active', '{*}', '{org_1|*}', $1, $1, '{}')`, now)
	require.NoError(t, err)
	require.NoError(t, s.Migrate(ctx))

	a, err := s.GetSubscription(ctx, "org_1", "sub_a")
	require.NoError(t, err)
	b, err := s.GetSubscription(ctx, "org_1", "sub_b")
	require.NoError(t, err)
	require.Positive(t, a.Number)
	require.Positive(t, b.Number)
	require.NotEqual(t, a.Number, b.Number)
	got, err := s.GetSubscriptionByNumber(ctx, "org_1", b.Number)
	require.NoError(t, err)
	require.Equal(t, "sub_b", got.ID)

	c := &webhook.Subscription{ID: "sub_c", OrganizationID: "org_1", State: webhook.StateActive, Events: []string{"*"},
		URL: "https://example.com", CreatedAt: now, UpdatedAt: now}
	require.NoError(t, s.CreateSubscription(ctx, c))
	require.Greater(t, c.Number, max(a.Number, b.Number))
}

// Migration 0005 moves the pending deliveries, with their leases, into the
// queue: a lease held before it is held after (its outcome applies, no
// claim takes it until it expires), an expired one is claimed again, and
// delivered and dead deliveries get no queue row.
func TestMigrationMovesPendingDeliveriesToTheQueue(t *testing.T) {
	s, p, q := storeAtVersion(t, 4)
	ctx := t.Context()

	now := time.Date(2026, 3, 1, 15, 20, 0, 0, time.UTC)
	const held, expired = "6f1c1a52-8f6e-4a0e-9d1e-0d7c4b6d8a01", "0b8e3c7d-2a4f-4f61-b1f3-5c9e7a2d4e02"
	for _, sql := range []string{
		`INSERT INTO ` + q + `.subscriptions (id, org_id, state, events, match_keys, created_at, updated_at, doc)
VALUES ('sub_a', 'org_1', 'Active', '{*}', '{org_1|*}', $1::timestamptz, $1::timestamptz, '{"url":"https://example.com/hook"}')`,
		`INSERT INTO ` + q + `.events (org_id, id, type, ts, ts_offset)
SELECT 'org_1', 'evt_' || x, 'contact.created', $1::timestamptz, 0
FROM unnest('{due,held,expired,later,done,dead}'::text[]) x`,
		`INSERT INTO ` + q + `.deliveries (id, org_id, event_id, event_type, subscription_id, state, attempts,
  next_attempt_at, lease, leased_until, last_status_code, last_error, created_at, updated_at, redelivered_at)
VALUES ('dlv_due', 'org_1', 'evt_due', 'contact.created', 'sub_a', 'pending', 0, $1::timestamptz, NULL, NULL, 0, '',
        $1::timestamptz - interval '30 minutes', $1::timestamptz, NULL),
       ('dlv_held', 'org_1', 'evt_held', 'contact.created', 'sub_a', 'pending', 1, $1::timestamptz, '` + held + `',
        $1::timestamptz + interval '1 hour', 500, 'boom', $1::timestamptz - interval '80 minutes', $1::timestamptz, NULL),
       ('dlv_expired', 'org_1', 'evt_expired', 'contact.created', 'sub_a', 'pending', 0, $1::timestamptz, '` + expired + `',
        $1::timestamptz - interval '1 minute', 0, '', $1::timestamptz - interval '4 hours', $1::timestamptz, $1::timestamptz - interval '90 minutes'),
       ('dlv_later', 'org_1', 'evt_later', 'contact.created', 'sub_a', 'pending', 2, $1::timestamptz + interval '1 hour', NULL, NULL,
        503, 'busy', $1::timestamptz - interval '1 hour', $1::timestamptz, NULL),
       ('dlv_done', 'org_1', 'evt_done', 'contact.created', 'sub_a', 'delivered', 1, $1::timestamptz, NULL, NULL, 200, '',
        $1::timestamptz - interval '5 hours', $1::timestamptz, NULL),
       ('dlv_dead', 'org_1', 'evt_dead', 'contact.created', 'sub_a', 'dead', 3, $1::timestamptz, NULL, NULL, 410, 'gone',
        $1::timestamptz - interval '6 hours', $1::timestamptz, NULL)`,
	} {
		_, err := p.Exec(ctx, sql, now)
		require.NoError(t, err, sql)
	}
	require.NoError(t, s.Migrate(ctx))
	requireQueueMatchesPending(t, s)
	var queued int
	require.NoError(t, p.QueryRow(ctx, `SELECT count(*) FROM `+q+`.queue`).Scan(&queued))
	require.Equal(t, 4, queued)

	d, err := s.GetDelivery(ctx, "org_1", "dlv_held")
	require.NoError(t, err)
	require.Equal(t, [2]any{held, now.Add(time.Hour)}, [2]any{d.Lease, d.LeasedUntil})
	d, err = s.GetDelivery(ctx, "org_1", "dlv_done")
	require.NoError(t, err)
	require.Equal(t, [2]any{"", time.Time{}}, [2]any{d.Lease, d.LeasedUntil})
	st, err := s.Stats(ctx, webhook.StatsFilter{OrganizationID: "org_1", SubscriptionID: "sub_a"})
	require.NoError(t, err)
	require.Equal(t, int64(4), st.Pending)
	require.Equal(t, now.Add(-90*time.Minute), st.OldestPendingAt, "the redelivered one waits since its redelivery")

	// The held lease keeps its delivery from claims; the expired one's is
	// claimed again, with a new lease; the one due later waits.
	ds, err := s.Claim(ctx, webhook.ClaimParams{Now: now, Limit: 10, Lease: time.Minute})
	require.NoError(t, err)
	got := map[string]string{}
	for _, d := range ds {
		got[d.ID] = d.Lease
	}
	require.Len(t, got, 2)
	require.Contains(t, got, "dlv_due")
	require.Contains(t, got, "dlv_expired")
	require.NotEqual(t, expired, got["dlv_expired"])
	next, ok, err := s.NextDue(ctx)
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, now.Add(time.Minute), next, "the end of the new leases")

	// The old expired lease no longer applies; the held one does.
	attempt := func(id string, number int, state webhook.DeliveryState) *webhook.Attempt {
		return &webhook.Attempt{DeliveryID: id, EventID: "evt_" + strings.TrimPrefix(id, "dlv_"), SubscriptionID: "sub_a", Number: number, At: now,
			StatusCode: 200, Outcome: state}
	}
	require.NoError(t, s.Finish(ctx, now, []webhook.Outcome{
		{DeliveryID: "dlv_expired", Lease: expired, State: webhook.DeliveryDead, Attempt: attempt("dlv_expired", 1, webhook.DeliveryDead)},
		{DeliveryID: "dlv_held", Lease: held, State: webhook.DeliveryDelivered, Attempt: attempt("dlv_held", 2, webhook.DeliveryDelivered)},
		{DeliveryID: "dlv_due", Lease: got["dlv_due"], State: webhook.DeliveryDelivered, Attempt: attempt("dlv_due", 1, webhook.DeliveryDelivered)},
	}))
	requireQueueMatchesPending(t, s)
	for id, want := range map[string]webhook.DeliveryState{
		"dlv_expired": webhook.DeliveryPending, "dlv_held": webhook.DeliveryDelivered, "dlv_due": webhook.DeliveryDelivered,
	} {
		d, err := s.GetDelivery(ctx, "org_1", id)
		require.NoError(t, err)
		require.Equal(t, want, d.State, id)
	}

	// The rest drains: the expired one with its new lease, the later one
	// when it is due.
	require.NoError(t, s.Finish(ctx, now, []webhook.Outcome{{DeliveryID: "dlv_expired", Lease: got["dlv_expired"],
		State: webhook.DeliveryDelivered, Attempt: attempt("dlv_expired", 2, webhook.DeliveryDelivered)}}))
	ds, err = s.Claim(ctx, webhook.ClaimParams{Now: now.Add(time.Hour), Limit: 10, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, "dlv_later", ds[0].ID)
	require.Equal(t, 2, ds[0].Attempts)
	require.NoError(t, s.Finish(ctx, now, []webhook.Outcome{{DeliveryID: "dlv_later", Lease: ds[0].Lease,
		State: webhook.DeliveryDelivered, Attempt: attempt("dlv_later", 3, webhook.DeliveryDelivered)}}))
	requireQueueMatchesPending(t, s)
	_, ok, err = s.NextDue(ctx)
	require.NoError(t, err)
	require.False(t, ok, "nothing left to claim")
	st, err = s.Stats(ctx, webhook.StatsFilter{OrganizationID: "org_1", SubscriptionID: "sub_a"})
	require.NoError(t, err)
	require.Equal(t, [3]int64{0, 4, 0}, [3]int64{st.Pending, st.Delivered, st.Dead},
		"the four finished here (the two finished before the migration have no counter row to count them)")
}
