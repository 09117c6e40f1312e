package pgstore

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// The counters of Stats stay exact while two stores finish, retry and
// redeliver concurrently, with outcomes in any order over subscriptions
// (the counters are locked in one order, so no transaction deadlocks),
// and after Prune: every count matches a recount of the tables.
func TestStatsCountersStayExactUnderConcurrency(t *testing.T) {
	f := newFixture(t, 6)
	ids := f.enqueue(t, f.a, 100) // 600 deliveries
	ctx := context.Background()

	var (
		wg   sync.WaitGroup
		errs = make(chan error, 16)
		mu   sync.Mutex
		done = map[string]bool{} // finished deliveries, for the redeliverers
	)
	stop := make(chan struct{})
	worker := func(s *Store, seed uint64) {
		defer wg.Done()
		r := rand.New(rand.NewPCG(seed, 1))
		for idle := 0; idle < 20; {
			ds, err := s.Claim(ctx, webhook.ClaimParams{Now: f.now.Add(time.Hour), Limit: 12, Lease: time.Minute})
			if err != nil {
				errs <- err
				return
			}
			if len(ds) == 0 {
				idle++
				time.Sleep(5 * time.Millisecond)
				continue
			}
			idle = 0
			r.Shuffle(len(ds), func(i, j int) { ds[i], ds[j] = ds[j], ds[i] })
			outcomes := make([]webhook.Outcome, len(ds))
			for i, d := range ds {
				state := []webhook.DeliveryState{webhook.DeliveryDelivered, webhook.DeliveryDead, webhook.DeliveryPending}[r.IntN(3)]
				at := f.now.Add(time.Duration(r.IntN(3)) * time.Hour)
				outcomes[i] = webhook.Outcome{DeliveryID: d.ID, Lease: d.Lease, State: state, NextAttemptAt: f.now,
					Attempt: &webhook.Attempt{DeliveryID: d.ID, EventID: d.EventID, SubscriptionID: d.SubscriptionID,
						Number: d.Attempts + 1, At: at, StatusCode: 500, Outcome: state}}
			}
			if err := s.Finish(ctx, f.now, outcomes); err != nil {
				errs <- err
				return
			}
			mu.Lock()
			for _, o := range outcomes {
				if o.State != webhook.DeliveryPending {
					done[o.DeliveryID] = true
				}
			}
			mu.Unlock()
		}
	}
	redeliverer := func(s *Store, seed uint64) {
		defer wg.Done()
		r := rand.New(rand.NewPCG(seed, 2))
		for n := 0; n < 60; {
			select {
			case <-stop:
				return
			default:
			}
			id := ids[r.IntN(len(ids))]
			mu.Lock()
			ok := done[id]
			delete(done, id)
			mu.Unlock()
			if !ok {
				time.Sleep(time.Millisecond)
				continue
			}
			n++
			if err := s.Redeliver(ctx, "org_1", id, f.now); err != nil && !errors.Is(err, webhook.ErrInvalidState) {
				errs <- err
				return
			}
		}
	}
	for i := range 4 {
		s := f.a
		if i%2 == 1 {
			s = f.b
		}
		wg.Add(2)
		go worker(s, uint64(i))
		go redeliverer(s, uint64(i))
	}
	wg.Wait()
	close(stop)
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	requireStatsMatchTables(t, f, true)

	// Prune takes what it deletes out of the counts by state.
	n, err := f.a.Prune(ctx, f.now.Add(time.Second), 40)
	require.NoError(t, err)
	require.NotZero(t, n)
	requireStatsMatchTables(t, f, false)
}

// requireStatsMatchTables requires the Stats of every subscription of the
// fixture, and of the organization, to be what the tables hold: the
// attempts exactly if none was pruned, else at least those left.
func requireStatsMatchTables(t *testing.T, f *fixture, unpruned bool) {
	t.Helper()
	ctx := t.Context()
	requireQueueMatchesPending(t, f.a)
	q := pgx.Identifier{f.a.schema}.Sanitize()
	var org webhook.Stats
	for _, sub := range f.subs {
		var want webhook.Stats
		require.NoError(t, f.a.pool.QueryRow(ctx, `SELECT
  count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'delivered'),
  count(*) FILTER (WHERE state = 'dead')
FROM `+q+`.deliveries WHERE subscription_id = $1`, sub.ID).Scan(&want.Pending, &want.Delivered, &want.Dead))
		st, err := f.a.Stats(ctx, webhook.StatsFilter{OrganizationID: "org_1", SubscriptionID: sub.ID, Since: f.now.Add(time.Hour)})
		require.NoError(t, err)
		require.Equal(t, [3]int64{want.Pending, want.Delivered, want.Dead}, [3]int64{st.Pending, st.Delivered, st.Dead},
			"counts by state of %s", sub.ID)
		var logged, failed int64
		require.NoError(t, f.a.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE outcome <> 'delivered')
FROM `+q+`.attempts WHERE subscription_id = $1 AND at >= $2`, sub.ID, f.now.Add(time.Hour)).Scan(&logged, &failed))
		if unpruned {
			require.Equal(t, [2]int64{logged, failed}, [2]int64{st.Attempts, st.Failures}, "attempts of %s", sub.ID)
		} else {
			require.GreaterOrEqual(t, st.Attempts, logged, "attempts of %s", sub.ID)
			require.GreaterOrEqual(t, st.Failures, failed, "failures of %s", sub.ID)
		}
		org.Pending += st.Pending
		org.Delivered += st.Delivered
		org.Dead += st.Dead
		org.Attempts += st.Attempts
	}
	st, err := f.a.Stats(ctx, webhook.StatsFilter{OrganizationID: "org_1", Since: f.now.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, [4]int64{org.Pending, org.Delivered, org.Dead, org.Attempts},
		[4]int64{st.Pending, st.Delivered, st.Dead, st.Attempts}, "the organization's Stats: the sum of its subscriptions'")
}
