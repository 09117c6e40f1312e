package pgstore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// The proofs of the issue that introduced this store: what the queue
// promises, shown end to end against a real server, with real HTTP to a
// loopback receiver. Each names its figures in the test log (go test -v).
//
// The receiver counts the requests of each (subscription, webhook-id): a
// subscription is told apart by its URL's path, and webhook-id is the
// event's ID, the same on every attempt of a delivery.

// proofEventsEnv overrides the number of events of
// TestProofTwoDispatchersDeliverEverythingOnce: 10,000 by default (100,000
// deliveries), 1,000 under the race detector, which makes the run about
// four times slower.
const proofEventsEnv = "RELAYHOOK_PROOF_EVENTS"

// proofReceiver is a loopback endpoint that answers 200 to everything and
// counts the requests of each (path, webhook-id).
type proofReceiver struct {
	srv   *httptest.Server
	delay time.Duration // how long each request is held before its answer

	mu       sync.Mutex
	counts   map[string]int // "path webhook-id" -> requests
	total    int
	distinct atomic.Int64
	changed  chan struct{} // closed and replaced on every new key
}

func newProofReceiver(tb testing.TB, delay time.Duration) *proofReceiver {
	tb.Helper()
	r := &proofReceiver{delay: delay, counts: map[string]int{}, changed: make(chan struct{})}
	r.srv = httptest.NewServer(r)
	tb.Cleanup(r.srv.Close)
	return r
}

func (r *proofReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	io.Copy(io.Discard, req.Body) //nolint:errcheck // a test receiver
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	key := proofKey(req.URL.Path, req.Header.Get(webhook.HeaderID))
	r.mu.Lock()
	r.counts[key]++
	r.total++
	if r.counts[key] == 1 {
		r.distinct.Add(1)
		close(r.changed)
		r.changed = make(chan struct{})
	}
	r.mu.Unlock()
}

func proofKey(path, webhookID string) string { return path + " " + webhookID }

// subURL is the URL of subscription i.
func (r *proofReceiver) subURL(i int) string { return fmt.Sprintf("%s/s/%d", r.srv.URL, i) }

// waitDistinct waits until n distinct (path, webhook-id) pairs arrived.
func (r *proofReceiver) waitDistinct(tb testing.TB, n int, timeout time.Duration) {
	tb.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		r.mu.Lock()
		got, total, changed := len(r.counts), r.total, r.changed
		r.mu.Unlock()
		if got >= n {
			return
		}
		select {
		case <-changed:
		case <-deadline.C:
			tb.Fatalf("after %v: %d of %d deliveries arrived (%d requests)", timeout, got, n, total)
		}
	}
}

// tally compares what arrived with the keys wanted: lost is how many never
// arrived, duplicated which arrived more than once (and how often);
// unexpected lists requests nobody asked for (say a webhook-id other than
// the event's).
func (r *proofReceiver) tally(want map[string]bool) (lost int, duplicated map[string]int, unexpected []string, total int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	duplicated = map[string]int{}
	for key := range want {
		switch n := r.counts[key]; {
		case n == 0:
			lost++
		case n > 1:
			duplicated[key] = n
		}
	}
	for key := range r.counts {
		if !want[key] {
			unexpected = append(unexpected, key)
		}
	}
	return lost, duplicated, unexpected, r.total
}

// proofURL returns the test server's URL; without one it skips the test,
// or fails it under CI.
func proofURL(tb testing.TB) string {
	tb.Helper()
	testPool(tb) // skips or fails without a server
	return os.Getenv(urlEnv)
}

// proofPool returns a pool of its own on url, closed when the test ends.
func proofPool(tb testing.TB, url string, maxConns int32) *pgxpool.Pool {
	tb.Helper()
	p, err := newPool(url, maxConns)
	require.NoError(tb, err)
	tb.Cleanup(p.Close)
	return p
}

// proofDispatcher returns a started dispatcher on s, closed when the test
// ends.
func proofDispatcher(tb testing.TB, s *Store, cfg webhook.Config) *webhook.Dispatcher {
	tb.Helper()
	cfg.AllowPrivateNetworks = true
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	d, err := webhook.NewDispatcher(s, &cfg)
	require.NoError(tb, err)
	require.NoError(tb, d.Start(context.Background()))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(tb, d.Close(ctx))
	})
	return d
}

// proofSubscribe creates n subscriptions of org_1 to contact.* events at
// the receiver's paths /s/0 ... /s/n-1.
func proofSubscribe(tb testing.TB, d *webhook.Dispatcher, r *proofReceiver, n int) {
	tb.Helper()
	for i := range n {
		require.NoError(tb, d.CreateSubscription(context.Background(), &webhook.Subscription{
			OrganizationID: "org_1", URL: r.subURL(i), Events: []string{"contact.*"}}))
	}
}

// proofEvent is the i-th event of a run, with an ID of the test's making so
// that a dispatch that failed can be repeated as the same event.
func proofEvent(run string, i int) webhook.Event {
	return webhook.Event{ID: fmt.Sprintf("evt_%s_%06d", run, i), Type: "contact.created", OrganizationID: "org_1",
		Data: []byte(`{"contactId":` + strconv.Itoa(i) + `}`)}
}

// proofWant adds the keys that event id must produce on n subscriptions.
func proofWant(want map[string]bool, id string, n int) {
	for i := range n {
		want[proofKey("/s/"+strconv.Itoa(i), id)] = true
	}
}

// deliveryStates counts the schema's deliveries by state.
func deliveryStates(tb testing.TB, p *pgxpool.Pool, schema string) map[string]int {
	tb.Helper()
	rows, err := p.Query(context.Background(), "SELECT state, count(*) FROM "+
		pgx.Identifier{schema, "deliveries"}.Sanitize()+" GROUP BY state")
	require.NoError(tb, err)
	states := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		require.NoError(tb, rows.Scan(&state, &n))
		states[state] = n
	}
	require.NoError(tb, rows.Err())
	return states
}

// waitDelivered waits until the schema's n deliveries are all delivered.
func waitDelivered(tb testing.TB, p *pgxpool.Pool, schema string, n int, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		states := deliveryStates(tb, p, schema)
		if states["delivered"] == n {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: deliveries by state: %v, want %d delivered", timeout, states, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Two dispatchers, each with a pool and a Store of its own as two replicas
// of a host have, share one schema: every delivery arrives exactly once,
// and both did part of the work.
func TestProofTwoDispatchersDeliverEverythingOnce(t *testing.T) {
	const subs = 10
	events := 10_000
	if proofRace {
		events = 1_000
	}
	if v := os.Getenv(proofEventsEnv); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, proofEventsEnv)
		events = n
	}
	url := proofURL(t)
	schema := newSchemaName()
	dropSchemaOnCleanup(t, testPool(t), schema)
	recv := newProofReceiver(t, 0)

	var ds [2]*webhook.Dispatcher
	var delivered [2]atomic.Int64
	for i := range ds {
		s := newStoreOn(t, proofPool(t, url, 16), schema)
		ds[i] = proofDispatcher(t, s, webhook.Config{Observer: func(a webhook.AttemptInfo) {
			if a.Err == nil {
				delivered[i].Add(1)
			}
		}})
	}
	proofSubscribe(t, ds[0], recv, subs)

	// Dispatch from both replicas, 4 goroutines each.
	start := time.Now()
	want := make(map[string]bool, events*subs)
	var wantMu sync.Mutex
	var next atomic.Int64
	var wg sync.WaitGroup
	for g := range 8 {
		d := ds[g%2]
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= events {
					return
				}
				ev := proofEvent("two", i)
				res, err := d.Dispatch(context.Background(), ev)
				if err != nil || res.Enqueued != subs {
					t.Errorf("dispatching %s: %v (%d enqueued)", ev.ID, err, res.Enqueued)
					return
				}
				wantMu.Lock()
				proofWant(want, ev.ID, subs)
				wantMu.Unlock()
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	dispatched := time.Since(start)
	recv.waitDistinct(t, events*subs, 5*time.Minute)
	elapsed := time.Since(start)

	// Close both, so that any second copy would have arrived by now.
	for _, d := range ds {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		require.NoError(t, d.Close(ctx))
		cancel()
	}
	lost, duplicated, unexpected, total := recv.tally(want)
	t.Logf("%d events to %d subscriptions: %d deliveries, %d requests, lost = %d, duplicates = %d; "+
		"dispatched in %v, all received after %v (%.0f deliveries/s); dispatcher A delivered %d, B %d",
		events, subs, len(want), total, lost, len(duplicated), dispatched.Round(time.Millisecond),
		elapsed.Round(time.Millisecond), float64(len(want))/elapsed.Seconds(), delivered[0].Load(), delivered[1].Load())
	require.Zero(t, lost, "lost")
	require.Empty(t, duplicated, "duplicated")
	require.Empty(t, unexpected, "unexpected requests")
	require.Equal(t, len(want), total)
	require.Positive(t, delivered[0].Load(), "dispatcher A did no work")
	require.Positive(t, delivered[1].Load(), "dispatcher B did no work")
	require.Equal(t, int64(len(want)), delivered[0].Load()+delivered[1].Load())
	require.Equal(t, map[string]int{"delivered": len(want)}, deliveryStates(t, testPool(t), schema))
}

// The outbox, at a larger scale than TestDispatchTxSendsIfAndOnlyIfTheTransactionCommits:
// host transactions that each create several contacts and dispatch
// contact.created for each with DispatchTx, to 10 subscriptions. The
// committed one sends everything; the rolled-back one, and the one whose
// own write fails after its dispatches, send nothing and leave no event.
func TestProofOutboxSendsIfAndOnlyIfCommitted(t *testing.T) {
	const subs, perTx = 10, 5
	s := newTestStore(t)
	ctx := t.Context()
	recv := newProofReceiver(t, 0)
	d := proofDispatcher(t, s, webhook.Config{})
	proofSubscribe(t, d, recv, subs)
	contacts := pgx.Identifier{s.Schema(), "contacts"}.Sanitize()
	_, err := s.pool.Exec(ctx, "CREATE TABLE "+contacts+" (id text PRIMARY KEY)")
	require.NoError(t, err)

	// createContacts creates perTx contacts in one transaction, dispatching
	// contact.created for each, then ends it with end; it returns the
	// events' IDs.
	createContacts := func(run string, end func(pgx.Tx) error) []string {
		tx, err := s.pool.Begin(ctx)
		require.NoError(t, err)
		defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
		var ids []string
		for i := range perTx {
			ev := proofEvent(run, i)
			_, err := tx.Exec(ctx, "INSERT INTO "+contacts+" (id) VALUES ($1)", ev.ID)
			require.NoError(t, err)
			res, err := DispatchTx(ctx, d, tx, ev)
			require.NoError(t, err)
			require.Equal(t, subs, res.Enqueued)
			ids = append(ids, ev.ID)
		}
		require.NoError(t, end(tx))
		return ids
	}
	rolledBack := createContacts("rolledback", func(tx pgx.Tx) error { return tx.Rollback(ctx) })
	failedWrite := createContacts("failedwrite", func(tx pgx.Tx) error {
		// The host's last write fails (a contact that exists): the
		// transaction is aborted, and the host rolls it back.
		_, err := tx.Exec(ctx, "INSERT INTO "+contacts+" (id) VALUES ($1)", proofEvent("failedwrite", 0).ID)
		require.Error(t, err)
		require.Error(t, tx.Commit(ctx), "committing an aborted transaction")
		return nil
	})
	var committedAt time.Time
	committed := createContacts("committed", func(tx pgx.Tx) error {
		committedAt = time.Now()
		return tx.Commit(ctx)
	})

	want := map[string]bool{}
	for _, id := range committed {
		proofWant(want, id, subs)
	}
	recv.waitDistinct(t, len(want), 30*time.Second)
	latency := time.Since(committedAt)
	time.Sleep(300 * time.Millisecond) // anything else would arrive by now
	lost, duplicated, unexpected, total := recv.tally(want)
	t.Logf("committed: %d events, %d deliveries, all received %v after the commit; rolled back: %d events; "+
		"aborted by a failed write: %d events; %d requests: lost = %d, duplicates = %d, unexpected = %d",
		len(committed), len(want), latency.Round(time.Millisecond), len(rolledBack), len(failedWrite),
		total, lost, len(duplicated), len(unexpected))
	require.Zero(t, lost)
	require.Empty(t, duplicated)
	require.Empty(t, unexpected, "requests of transactions that did not commit")
	for _, id := range append(rolledBack, failedWrite...) {
		_, err := s.GetEvent(ctx, "org_1", id)
		require.ErrorIs(t, err, webhook.ErrNotFound, "event %s of a transaction that did not commit", id)
	}
	var rows int
	require.NoError(t, s.pool.QueryRow(ctx, "SELECT count(*) FROM "+contacts).Scan(&rows))
	require.Equal(t, perTx, rows, "contacts")
	require.Equal(t, map[string]int{"delivered": len(want)}, deliveryStates(t, s.pool, s.Schema()))
}
