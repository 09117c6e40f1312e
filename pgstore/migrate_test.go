package pgstore

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// A store migrated from the first schema version keeps what it held: the
// deliveries get their event's type, and Stats counts what was stored.
func TestMigrationFromTheFirstVersionCountsWhatIsStored(t *testing.T) {
	p := testPool(t)
	schema := newSchemaName()
	dropSchemaOnCleanup(t, p, schema)
	s, err := New(p, &Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	ctx := t.Context()
	require.NoError(t, s.migrateTo(ctx, 1))

	now := time.Date(2026, 3, 1, 15, 20, 0, 0, time.UTC)
	q := pgx.Identifier{schema}.Sanitize()
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
	p := testPool(t)
	schema := newSchemaName()
	dropSchemaOnCleanup(t, p, schema)
	s, err := New(p, &Options{Schema: schema})
	require.NoError(t, err)
	t.Cleanup(s.Close)
	ctx := t.Context()
	require.NoError(t, s.migrateTo(ctx, 2))
	now := time.Date(2026, 3, 1, 15, 20, 0, 0, time.UTC)
	q := pgx.Identifier{schema}.Sanitize()
	_, err = p.Exec(ctx, `INSERT INTO `+q+`.subscriptions (id, org_id, state, events, match_keys, created_at, updated_at, doc)
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
