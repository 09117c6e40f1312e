package pgstore

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// requireQueueMatchesPending requires the queue to hold one row per pending
// delivery and no other, each with the delivery's subscription, due time,
// creation and redelivery times.
func requireQueueMatchesPending(t *testing.T, s *Store) {
	t.Helper()
	q := pgx.Identifier{s.schema}.Sanitize()
	var orphans, missing, differ int
	require.NoError(t, s.pool.QueryRow(t.Context(), `SELECT
  (SELECT count(*) FROM `+q+`.queue x
   WHERE NOT EXISTS (SELECT 1 FROM `+q+`.deliveries d WHERE d.id = x.delivery_id AND d.state = 'pending')),
  (SELECT count(*) FROM `+q+`.deliveries d
   WHERE d.state = 'pending' AND NOT EXISTS (SELECT 1 FROM `+q+`.queue x WHERE x.delivery_id = d.id)),
  (SELECT count(*) FROM `+q+`.deliveries d JOIN `+q+`.queue x ON x.delivery_id = d.id
   WHERE x.subscription_id <> d.subscription_id OR x.next_attempt_at <> d.next_attempt_at
      OR x.created_at <> d.created_at OR x.redelivered_at IS DISTINCT FROM d.redelivered_at)`).
		Scan(&orphans, &missing, &differ))
	require.Equal(t, [3]int{0, 0, 0}, [3]int{orphans, missing, differ},
		"queue rows without a pending delivery, pending deliveries without a queue row, rows that differ")
}

// A delivery has a queue row exactly while it is pending, through every
// write of the store: enqueue, claim, retry, release, an outcome whose
// lease is no longer held, delivered, dead, redeliver, prune and the
// deletion of a subscription. Its lease is the queue row's.
func TestQueueRowExactlyWhilePending(t *testing.T) {
	f := newFixture(t, 3)
	ctx := t.Context()
	s := f.a
	ids := f.enqueue(t, s, 4) // 12 deliveries, 4 per subscription
	requireQueueMatchesPending(t, s)

	claim := func(now time.Time, limit int) []*webhook.Delivery {
		t.Helper()
		ds, err := s.Claim(ctx, webhook.ClaimParams{Now: now, Limit: limit, Lease: time.Minute})
		require.NoError(t, err)
		requireQueueMatchesPending(t, s)
		return ds
	}
	outcome := func(d *webhook.Delivery, state webhook.DeliveryState, next time.Time) webhook.Outcome {
		o := webhook.Outcome{DeliveryID: d.ID, Lease: d.Lease, State: state, NextAttemptAt: next}
		if state != "" {
			o.Attempt = &webhook.Attempt{DeliveryID: d.ID, EventID: d.EventID, SubscriptionID: d.SubscriptionID,
				Number: d.Attempts + 1, At: f.now, StatusCode: 500, Error: "boom", Outcome: state}
		}
		return o
	}
	finish := func(os ...webhook.Outcome) {
		t.Helper()
		require.NoError(t, s.Finish(ctx, f.now, os))
		requireQueueMatchesPending(t, s)
	}

	ds := claim(f.now, 5)
	require.Len(t, ds, 5)
	for _, d := range ds {
		got, err := s.GetDelivery(ctx, "org_1", d.ID)
		require.NoError(t, err)
		require.NotEmpty(t, d.Lease)
		require.Equal(t, d.Lease, got.Lease, "GetDelivery's lease is the claim's")
		require.Equal(t, f.now.Add(time.Minute), got.LeasedUntil)
	}
	// Delivered, dead, retried in an hour, released, and one left leased.
	retryAt := f.now.Add(time.Hour)
	finish(outcome(ds[0], webhook.DeliveryDelivered, time.Time{}), outcome(ds[1], webhook.DeliveryDead, time.Time{}),
		outcome(ds[2], webhook.DeliveryPending, retryAt), outcome(ds[3], "", time.Time{}))
	for i, want := range []struct {
		state webhook.DeliveryState
		next  time.Time
		lease bool
	}{
		{webhook.DeliveryDelivered, time.Time{}, false}, {webhook.DeliveryDead, time.Time{}, false},
		{webhook.DeliveryPending, retryAt, false}, {webhook.DeliveryPending, f.now, false},
		{webhook.DeliveryPending, f.now, true},
	} {
		got, err := s.GetDelivery(ctx, "org_1", ds[i].ID)
		require.NoError(t, err)
		require.Equal(t, want.state, got.State, "delivery %d", i)
		require.Equal(t, want.next, got.NextAttemptAt, "delivery %d", i)
		require.Equal(t, want.lease, got.Lease != "", "delivery %d leased", i)
		require.Equal(t, want.lease, !got.LeasedUntil.IsZero(), "delivery %d leased until", i)
	}
	listed, _, err := s.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: "org_1", State: webhook.DeliveryPending})
	require.NoError(t, err)
	leased := 0
	for _, d := range listed {
		if d.Lease != "" {
			leased++
			require.Equal(t, ds[4].ID, d.ID)
			require.Equal(t, ds[4].Lease, d.Lease)
		}
	}
	require.Equal(t, 1, leased, "leased deliveries listed")

	// An outcome whose lease is no longer held changes nothing but logs its
	// attempt: the lease of the released delivery, and of the delivered one.
	before, err := s.GetDelivery(ctx, "org_1", ds[3].ID)
	require.NoError(t, err)
	finish(outcome(ds[3], webhook.DeliveryDead, time.Time{}), outcome(ds[0], webhook.DeliveryDead, time.Time{}))
	after, err := s.GetDelivery(ctx, "org_1", ds[3].ID)
	require.NoError(t, err)
	require.Equal(t, before, after)
	first, err := s.GetDelivery(ctx, "org_1", ds[0].ID)
	require.NoError(t, err)
	require.Equal(t, webhook.DeliveryDelivered, first.State)
	as, err := s.ListAttempts(ctx, "org_1", ds[3].ID)
	require.NoError(t, err)
	require.Len(t, as, 1, "the stale outcome's attempt is logged")

	// The lease expires: the delivery is claimed again, and the first
	// lease no longer applies.
	again := claim(f.now.Add(2*time.Minute), 20)
	var re *webhook.Delivery
	for _, d := range again {
		if d.ID == ds[4].ID {
			re = d
		}
	}
	require.NotNil(t, re, "the expired lease's delivery is claimed again")
	require.NotEqual(t, ds[4].Lease, re.Lease)
	finish(outcome(ds[4], webhook.DeliveryDelivered, time.Time{}))
	got, err := s.GetDelivery(ctx, "org_1", ds[4].ID)
	require.NoError(t, err)
	require.Equal(t, webhook.DeliveryPending, got.State)
	require.Equal(t, re.Lease, got.Lease)
	var outs []webhook.Outcome
	for _, d := range again {
		outs = append(outs, outcome(d, webhook.DeliveryDelivered, time.Time{}))
	}
	finish(outs...)

	// Redeliver gives the delivery a queue row again, due at its time.
	at := f.now.Add(3 * time.Minute)
	require.NoError(t, s.Redeliver(ctx, "org_1", ds[1].ID, at))
	requireQueueMatchesPending(t, s)
	got, err = s.GetDelivery(ctx, "org_1", ds[1].ID)
	require.NoError(t, err)
	require.Equal(t, [2]any{webhook.DeliveryPending, at}, [2]any{got.State, got.NextAttemptAt})
	require.Equal(t, at, got.RedeliveredAt)
	st, err := s.Stats(ctx, webhook.StatsFilter{OrganizationID: "org_1", SubscriptionID: ds[1].SubscriptionID})
	require.NoError(t, err)
	require.NotZero(t, st.Pending)
	ds = claim(at, 20)
	require.NotEmpty(t, ds)
	outs = outs[:0]
	for _, d := range ds {
		outs = append(outs, outcome(d, webhook.DeliveryDelivered, time.Time{}))
	}
	finish(outs...)

	// What is left pending is the retry, due in an hour; deleting its
	// subscription takes its queue rows with its pending deliveries.
	var pending []string
	for _, id := range ids {
		d, err := s.GetDelivery(ctx, "org_1", id)
		require.NoError(t, err)
		if d.State == webhook.DeliveryPending {
			pending = append(pending, id)
		}
	}
	require.NotEmpty(t, pending)
	retried, err := s.GetDelivery(ctx, "org_1", pending[0])
	require.NoError(t, err)
	require.NoError(t, s.DeleteSubscription(ctx, "org_1", retried.SubscriptionID))
	requireQueueMatchesPending(t, s)
	_, err = s.GetDelivery(ctx, "org_1", pending[0])
	require.ErrorIs(t, err, webhook.ErrNotFound)

	// Prune deletes what is finished; a queue row never outlives its
	// delivery.
	for {
		ds := claim(f.now.Add(2*time.Hour), 50)
		if len(ds) == 0 {
			break
		}
		outs = outs[:0]
		for _, d := range ds {
			outs = append(outs, outcome(d, webhook.DeliveryDead, time.Time{}))
		}
		finish(outs...)
	}
	n, err := s.Prune(ctx, f.now.Add(time.Second), 100)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	requireQueueMatchesPending(t, s)
	st, err = s.Stats(ctx, webhook.StatsFilter{OrganizationID: "org_1"})
	require.NoError(t, err)
	require.Equal(t, [3]int64{0, 0, 0}, [3]int64{st.Pending, st.Delivered, st.Dead})
}

// A finish updates the delivery's row in place (a HOT update), writing no
// index entry: no index of deliveries holds a column it changes. Counted
// by the server's statistics of the table, which a backend reports within
// about a second of its transactions.
func TestFinishIsAHotUpdate(t *testing.T) {
	f := newFixture(t, 4)
	ctx := t.Context()
	s := f.a
	f.enqueue(t, s, 25) // 100 deliveries
	for done := 0; done < 100; {
		ds, err := s.Claim(ctx, webhook.ClaimParams{Now: f.now, Limit: 30, Lease: time.Minute})
		require.NoError(t, err)
		require.NotEmpty(t, ds)
		outs := make([]webhook.Outcome, len(ds))
		for i, d := range ds {
			outs[i] = webhook.Outcome{DeliveryID: d.ID, Lease: d.Lease, State: webhook.DeliveryDelivered,
				Attempt: &webhook.Attempt{DeliveryID: d.ID, EventID: d.EventID, SubscriptionID: d.SubscriptionID,
					Number: 1, At: f.now, StatusCode: 200, Outcome: webhook.DeliveryDelivered}}
		}
		require.NoError(t, s.Finish(ctx, f.now, outs))
		done += len(ds)
	}
	var upd, hot int64
	require.Eventually(t, func() bool {
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables
WHERE schemaname = $1 AND relname = 'deliveries'`, s.schema).Scan(&upd, &hot))
		return upd >= 100
	}, 15*time.Second, 50*time.Millisecond, "updates of deliveries reported")
	require.Equal(t, int64(100), upd, "one update per delivery: the claims wrote none")
	require.Equal(t, upd, hot, "HOT updates")
}

// A Redeliver that commits while a Prune waits for its delivery's row lock
// makes the delivery pending after the prune's snapshot: the prune deletes
// it with its event, and its queue row too, which the prune's statement
// could not see.
func TestPruneRacingRedeliverLeavesNoQueueRow(t *testing.T) {
	f := newFixture(t, 1)
	ctx := t.Context()
	s := f.a
	ids := f.enqueue(t, s, 1)
	ds, err := s.Claim(ctx, webhook.ClaimParams{Now: f.now, Limit: 1, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.NoError(t, s.Finish(ctx, f.now, []webhook.Outcome{{DeliveryID: ids[0], Lease: ds[0].Lease,
		State: webhook.DeliveryDelivered}}))

	// The Redeliver's statement, held uncommitted in a transaction.
	tx, err := s.pool.Begin(ctx)
	require.NoError(t, err)
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	var (
		state string
		ok    bool
		woke  *int
	)
	require.NoError(t, tx.QueryRow(ctx, s.q.redeliver, ids[0], "org_1", f.now, s.channel, s.origin).Scan(&state, &ok, &woke))
	require.Equal(t, [2]any{"delivered", true}, [2]any{state, ok})

	pruned := make(chan error, 1)
	go func() {
		_, err := f.b.Prune(ctx, f.now.Add(time.Second), 10)
		pruned <- err
	}()
	require.Eventually(t, func() bool {
		var waiting bool
		require.NoError(t, s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity
WHERE wait_event_type = 'Lock' AND query LIKE '%DELETE FROM%deliveries%')`).Scan(&waiting))
		return waiting
	}, 10*time.Second, 5*time.Millisecond, "the prune waits for the delivery")
	require.NoError(t, tx.Commit(ctx))
	require.NoError(t, <-pruned)

	_, err = s.GetDelivery(ctx, "org_1", ids[0])
	require.ErrorIs(t, err, webhook.ErrNotFound, "pruned with its event")
	requireQueueMatchesPending(t, s)
	var queued int
	require.NoError(t, s.pool.QueryRow(ctx, `SELECT count(*) FROM `+pgx.Identifier{s.schema}.Sanitize()+`.queue`).Scan(&queued))
	require.Zero(t, queued)
}
