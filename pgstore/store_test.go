package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

func TestNewValidatesOptions(t *testing.T) {
	_, err := New(nil, nil)
	require.ErrorIs(t, err, webhook.ErrInvalidConfig)
	p := &pgxpool.Pool{} // never used
	_, err = New(p, &Options{Schema: string(make([]byte, 64))})
	require.ErrorIs(t, err, webhook.ErrInvalidConfig)
	s, err := New(p, nil)
	require.NoError(t, err)
	require.Equal(t, DefaultSchema, s.Schema())
	s.Close()
	s.Close() // idempotent
	require.NotNil(t, s.Wake(), "Wake after Close")
}

func TestMigrateIsIdempotentAndSafeConcurrently(t *testing.T) {
	p := testPool(t)
	schema := newSchemaName()
	dropSchemaOnCleanup(t, p, schema)
	s, err := New(p, &Options{Schema: schema})
	require.NoError(t, err)
	defer s.Close()

	// Replicas starting together: every call succeeds.
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- s.Migrate(t.Context())
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	// And again later: a no-op.
	require.NoError(t, s.Migrate(t.Context()))

	var versions []int
	rows, err := p.Query(t.Context(), "SELECT version FROM "+pgx.Identifier{schema}.Sanitize()+".schema_migrations ORDER BY version")
	require.NoError(t, err)
	versions, err = pgx.CollectRows(rows, pgx.RowTo[int])
	require.NoError(t, err)
	require.Len(t, versions, len(mustMigrations(t)))
	require.Equal(t, SchemaVersion(), versions[len(versions)-1])
}

func mustMigrations(t *testing.T) []migration {
	ms, err := migrations()
	require.NoError(t, err)
	return ms
}

// fixture is a schema with subscriptions, shared by two stores on two
// pools, as two replicas of a host share a database.
type fixture struct {
	a, b *Store
	subs []*webhook.Subscription
	now  time.Time
}

func newFixture(t *testing.T, nsubs int) *fixture {
	t.Helper()
	shared := testPool(t)
	schema := newSchemaName()
	dropSchemaOnCleanup(t, shared, schema)
	other, err := newPool(os.Getenv(urlEnv), 8)
	require.NoError(t, err)
	t.Cleanup(other.Close)
	f := &fixture{
		a:   newStoreOn(t, shared, schema),
		b:   newStoreOn(t, other, schema),
		now: time.Now().UTC().Truncate(time.Microsecond),
	}
	for i := range nsubs {
		sub := &webhook.Subscription{
			ID: webhook.NewEventID(f.now) + fmt.Sprint(i), OrganizationID: "org_1",
			URL: "https://example.com/hook", Events: []string{"*"}, State: webhook.StateActive,
			CreatedAt: f.now, UpdatedAt: f.now,
		}
		require.NoError(t, f.a.CreateSubscription(t.Context(), sub))
		f.subs = append(f.subs, sub)
	}
	return f
}

// enqueue stores n events, each with one delivery to every subscription,
// due now.
func (f *fixture) enqueue(t testing.TB, s *Store, n int) []string {
	t.Helper()
	var ids []string
	for range n {
		ev := &webhook.Event{ID: webhook.NewEventID(f.now), Type: "contact.created",
			OrganizationID: "org_1", Timestamp: f.now, Data: json.RawMessage(`{"id":1}`)}
		var ds []*webhook.Delivery
		for _, sub := range f.subs {
			d := &webhook.Delivery{ID: webhook.NewEventID(f.now), EventID: ev.ID, OrganizationID: "org_1",
				SubscriptionID: sub.ID, NextAttemptAt: f.now, CreatedAt: f.now, UpdatedAt: f.now}
			ds = append(ds, d)
			ids = append(ids, d.ID)
		}
		created, err := s.Enqueue(context.Background(), ev, ds)
		require.NoError(t, err)
		require.Equal(t, len(ds), created)
	}
	return ids
}

func TestConcurrentClaimsOfTwoStoresNeverShareADelivery(t *testing.T) {
	f := newFixture(t, 5)
	want := f.enqueue(t, f.a, 300) // 1500 deliveries

	var (
		mu      sync.Mutex
		claimed = map[string]int{}
		wg      sync.WaitGroup
		errs    = make(chan error, 8)
	)
	worker := func(s *Store, maxPer int) {
		defer wg.Done()
		for {
			ds, err := s.Claim(context.Background(), webhook.ClaimParams{
				Now: f.now.Add(time.Second), Limit: 16, Lease: time.Minute, MaxPerSubscription: maxPer})
			if err != nil {
				errs <- err
				return
			}
			if len(ds) == 0 {
				return
			}
			outcomes := make([]webhook.Outcome, len(ds))
			mu.Lock()
			for i, d := range ds {
				claimed[d.ID]++
				outcomes[i] = webhook.Outcome{DeliveryID: d.ID, Lease: d.Lease, State: webhook.DeliveryDelivered,
					Attempt: &webhook.Attempt{DeliveryID: d.ID, Number: 1, At: f.now, StatusCode: 200,
						Outcome: webhook.DeliveryDelivered}}
			}
			mu.Unlock()
			if err := s.Finish(context.Background(), f.now.Add(time.Second), outcomes); err != nil {
				errs <- err
				return
			}
		}
	}
	for i := range 8 {
		wg.Add(1)
		s := f.a
		if i%2 == 1 {
			s = f.b
		}
		go worker(s, []int{0, 0, 3, 5}[i%4])
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Len(t, claimed, len(want), "deliveries claimed")
	for _, id := range want {
		require.Equal(t, 1, claimed[id], "times %s was claimed", id)
	}
	// Nothing is left to claim, and nothing is due.
	_, ok, err := f.b.NextDue(t.Context())
	require.NoError(t, err)
	require.False(t, ok)
}

// requireWoken requires ch to be closed within a few seconds.
func requireWoken(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(5 * time.Second):
		t.Fatalf("not woken by %s", what)
	}
}

// requireQuiet requires ch to stay open for a moment.
func requireQuiet(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
		t.Fatalf("woken by %s", what)
	case <-time.After(300 * time.Millisecond):
	}
}

// listening starts s's listener and waits until it has LISTENed.
func listening(t *testing.T, s *Store) {
	t.Helper()
	s.Wake()
	select {
	case <-s.listening:
	case <-time.After(10 * time.Second):
		t.Fatal("the listener did not start")
	}
}

func TestNotifyWakesOtherStores(t *testing.T) {
	f := newFixture(t, 2)
	listening(t, f.a)
	listening(t, f.b)

	ch := f.a.Wake()
	f.enqueue(t, f.b, 1)
	requireWoken(t, ch, "an Enqueue of another store")

	// Released deliveries wake the others too.
	ch = f.a.Wake()
	ds, err := f.b.Claim(t.Context(), webhook.ClaimParams{Now: f.now, Limit: 10, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, ds, 2)
	requireQuiet(t, ch, "a Claim")
	var release []webhook.Outcome
	for _, d := range ds {
		release = append(release, webhook.Outcome{DeliveryID: d.ID, Lease: d.Lease, State: webhook.DeliveryPending})
	}
	require.NoError(t, f.b.Finish(t.Context(), f.now, release))
	requireWoken(t, ch, "a release by another store")

	// And a re-activated subscription.
	require.NoError(t, f.b.SetSubscriptionState(t.Context(), "org_1", f.subs[0].ID, webhook.StateStopped, f.now))
	ch = f.a.Wake()
	require.NoError(t, f.b.SetSubscriptionState(t.Context(), "org_1", f.subs[0].ID, webhook.StateActive, f.now))
	requireWoken(t, ch, "a re-activation by another store")

	// A store is woken by its own Enqueue at once.
	ch = f.b.Wake()
	f.enqueue(t, f.b, 1)
	requireWoken(t, ch, "its own Enqueue")
}

func TestEnqueueTxCommitsAndRollsBackWithTheHostTransaction(t *testing.T) {
	f := newFixture(t, 2)
	listening(t, f.a)
	ctx := t.Context()
	pool := f.b.pool

	newEvent := func() (*webhook.Event, []*webhook.Delivery) {
		ev := &webhook.Event{ID: webhook.NewEventID(f.now), Type: "contact.created",
			OrganizationID: "org_1", Timestamp: f.now, Data: json.RawMessage(`{"id":7}`)}
		var ds []*webhook.Delivery
		for _, sub := range f.subs {
			ds = append(ds, &webhook.Delivery{ID: webhook.NewEventID(f.now), EventID: ev.ID,
				OrganizationID: "org_1", SubscriptionID: sub.ID, NextAttemptAt: f.now,
				CreatedAt: f.now, UpdatedAt: f.now})
		}
		return ev, ds
	}

	// Rolled back: nothing stored, nobody woken.
	ch := f.a.Wake()
	ev, ds := newEvent()
	tx, err := pool.Begin(ctx)
	require.NoError(t, err)
	n, err := f.b.EnqueueTx(ctx, tx, ev, ds)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.NoError(t, tx.Rollback(ctx))
	requireQuiet(t, ch, "a rolled-back EnqueueTx")
	_, err = f.a.GetEvent(ctx, "org_1", ev.ID)
	require.ErrorIs(t, err, webhook.ErrNotFound)
	_, err = f.a.GetDelivery(ctx, "org_1", ds[0].ID)
	require.ErrorIs(t, err, webhook.ErrNotFound)

	// Committed: stored, and every store woken, the enqueuing one too.
	chB := f.b.Wake()
	ev, ds = newEvent()
	tx, err = pool.Begin(ctx)
	require.NoError(t, err)
	n, err = f.b.EnqueueTx(ctx, tx, ev, ds)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	requireQuiet(t, ch, "an EnqueueTx not yet committed")
	require.NoError(t, tx.Commit(ctx))
	requireWoken(t, ch, "a committed EnqueueTx")
	requireWoken(t, chB, "a committed EnqueueTx of the same store")
	got, err := f.a.Claim(ctx, webhook.ClaimParams{Now: f.now, Limit: 10, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, got, 2)
	require.Equal(t, ev.ID, got[0].EventID)
}

func TestListenerReconnects(t *testing.T) {
	f := newFixture(t, 1)
	listening(t, f.a)
	ctx := t.Context()

	// Kill the listener's connection, as a server restart would.
	ch := f.a.Wake()
	tag, err := f.b.pool.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
WHERE datname = current_database() AND query = $1`, "LISTEN "+pgx.Identifier{f.a.channel}.Sanitize())
	require.NoError(t, err)
	require.Equal(t, int64(1), tag.RowsAffected(), "listener connections")
	requireWoken(t, ch, "the loss of the listener's connection")

	// Once it is back (a new connection LISTENs), notifications from
	// other stores arrive again.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		require.NoError(t, f.b.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
WHERE datname = current_database() AND query = $1`, "LISTEN "+pgx.Identifier{f.a.channel}.Sanitize()).Scan(&n))
		if n == 1 {
			break
		}
		require.True(t, time.Now().Before(deadline), "the listener did not reconnect")
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond)
	ch = f.a.Wake()
	f.enqueue(t, f.b, 1)
	requireWoken(t, ch, "an Enqueue of another store after reconnecting")
}

func TestWakeUpsOfABurstAreCoalesced(t *testing.T) {
	f := newFixture(t, 2)
	f.a.notifyInterval = 300 * time.Millisecond
	listening(t, f.b)

	ch := f.b.Wake()
	f.enqueue(t, f.a, 20)
	requireWoken(t, ch, "a burst of Enqueues of another store")
	// The first is sent at once, the other 19 merged into one more at
	// most (two if the burst spans an interval's end).
	require.LessOrEqual(t, f.a.notifies.Load(), int64(3), "NOTIFYs for 20 Enqueues")

	// What is pending when the store closes is sent before Close returns.
	time.Sleep(400 * time.Millisecond) // the interval of the last one ends
	f.enqueue(t, f.a, 1)               // sent at once
	ch = f.b.Wake()
	f.enqueue(t, f.a, 1) // pending until the interval ends
	sent := f.a.notifies.Load()
	f.a.Close()
	require.Equal(t, sent+1, f.a.notifies.Load(), "NOTIFYs after Close")
	requireWoken(t, ch, "the NOTIFY sent at Close")
}

// A subscription excluded with a large due backlog at the head of the queue
// does not keep claims from the deliveries behind it; after a slow claim,
// claims go by subscription.
func TestClaimPastAnExcludedBacklog(t *testing.T) {
	f := newFixture(t, 2)
	slow, fast := f.subs[0].ID, f.subs[1].ID
	ctx := t.Context()
	schema := pgx.Identifier{f.a.schema}.Sanitize()
	fill := func(sub string, n int, due time.Time) {
		_, err := f.a.pool.Exec(ctx, `INSERT INTO `+schema+`.events (org_id, id, type, ts, ts_offset)
SELECT 'org_1', $1 || i, 'contact.created', $2, 0 FROM generate_series(1, $3) i`, "evt_"+sub+"_", f.now, n)
		require.NoError(t, err)
		_, err = f.a.pool.Exec(ctx, `INSERT INTO `+schema+`.deliveries
  (id, org_id, event_id, event_type, subscription_id, state, next_attempt_at, created_at, updated_at)
SELECT $1 || i, 'org_1', $2 || i, 'contact.created', $3, 'pending', $4, $5, $5 FROM generate_series(1, $6) i`,
			"dlv_"+sub+"_", "evt_"+sub+"_", sub, due, f.now, n)
		require.NoError(t, err)
		_, err = f.a.pool.Exec(ctx, `INSERT INTO `+schema+`.queue (delivery_id, subscription_id, next_attempt_at, created_at)
SELECT $1 || i, $2, $3, $4 FROM generate_series(1, $5) i`, "dlv_"+sub+"_", sub, due, f.now, n)
		require.NoError(t, err)
	}
	fill(slow, 50000, f.now.Add(-time.Hour))
	fill(fast, 100, f.now.Add(-time.Minute))

	taken := 0
	for i := range 5 {
		start := time.Now()
		ds, err := f.a.Claim(ctx, webhook.ClaimParams{Now: f.now, Limit: 16, Lease: time.Minute,
			MaxPerSubscription: 8, Exclude: []string{slow}})
		require.NoError(t, err)
		t.Logf("claim %d: %d deliveries in %v (by subscription: %v)", i, len(ds), time.Since(start),
			time.Now().UnixNano() < f.a.congestedUntil.Load())
		require.NotEmpty(t, ds)
		require.LessOrEqual(t, len(ds), 8)
		for _, d := range ds {
			require.Equal(t, fast, d.SubscriptionID)
		}
		taken += len(ds)
	}
	require.Equal(t, 40, taken)
}

// A host that creates the schema itself can migrate and run the store as a
// role that owns the schema and may not create schemas.
func TestMigrateAsARoleThatOwnsOnlyTheSchema(t *testing.T) {
	p := testPool(t)
	ctx := t.Context()
	schema := newSchemaName()
	role := "r_" + schema
	ident := func(name string) string { return pgx.Identifier{name}.Sanitize() }
	_, err := p.Exec(ctx, "CREATE ROLE "+ident(role)+" LOGIN")
	require.NoError(t, err)
	t.Cleanup(func() {
		p.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+ident(schema)+" CASCADE") //nolint:errcheck
		p.Exec(context.Background(), "DROP ROLE IF EXISTS "+ident(role))                //nolint:errcheck
	})
	_, err = p.Exec(ctx, "CREATE SCHEMA "+ident(schema)+" AUTHORIZATION "+ident(role))
	require.NoError(t, err)

	cfg, err := pgxpool.ParseConfig(os.Getenv(urlEnv))
	require.NoError(t, err)
	cfg.ConnConfig.User = role
	cfg.MaxConns = 4
	limited, err := pgxpool.NewWithConfig(ctx, cfg)
	require.NoError(t, err)
	defer limited.Close()
	var canCreate bool
	require.NoError(t, limited.QueryRow(ctx, "SELECT has_database_privilege(current_database(), 'CREATE')").Scan(&canCreate))
	require.False(t, canCreate, "the role may create schemas")

	s := newStoreOn(t, limited, schema)
	require.NoError(t, s.Migrate(ctx), "a second Migrate")
	sub := &webhook.Subscription{ID: "sub_1", OrganizationID: "org_1", URL: "https://example.com/",
		Events: []string{"*"}, State: webhook.StateActive}
	require.NoError(t, s.CreateSubscription(ctx, sub))
}
