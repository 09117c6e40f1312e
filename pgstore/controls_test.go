package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
	"github.com/relayhook/webhook/webhooktest"
)

// TestMaxConcurrencyTwoDispatchers: two dispatchers, each on its own store
// over one schema (two replicas), never have more attempts to a
// subscription in flight than its MaxConcurrency between them, and
// deliver everything; an uncapped subscription beside it gets more.
func TestMaxConcurrencyTwoDispatchers(t *testing.T) {
	p := testPool(t)
	schema := newSchemaName()
	dropSchemaOnCleanup(t, p, schema)
	var (
		mu       sync.Mutex
		cur, top = map[string]int{}, map[string]int{}
		total    atomic.Int64
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cur[r.URL.Path]++
		top[r.URL.Path] = max(top[r.URL.Path], cur[r.URL.Path])
		mu.Unlock()
		time.Sleep(15 * time.Millisecond)
		mu.Lock()
		cur[r.URL.Path]--
		mu.Unlock()
		total.Add(1)
	}))
	defer srv.Close()

	a, b := newStoreOn(t, p, schema), newStoreOn(t, p, schema)
	da := proofDispatcher(t, a, webhook.Config{Workers: 8, PollInterval: 100 * time.Millisecond})
	ctx := context.Background()
	require.NoError(t, da.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "org_1", URL: srv.URL + "/capped",
		Events: []string{"*"}, MaxConcurrency: 2}))
	require.NoError(t, da.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "org_1", URL: srv.URL + "/free",
		Events: []string{"*"}}))
	db := proofDispatcher(t, b, webhook.Config{Workers: 8, PollInterval: 100 * time.Millisecond})
	const n = 40
	for i := range n {
		d := []*webhook.Dispatcher{da, db}[i%2]
		_, err := d.Dispatch(ctx, webhook.Event{Type: "a.b", OrganizationID: "org_1"})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return total.Load() == 2*n }, 60*time.Second, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, 2, top["/capped"], "the capped subscription, across both replicas")
	require.Greater(t, top["/free"], 2, "the uncapped one beside it")
	require.Eventually(t, func() bool {
		var left int
		require.NoError(t, p.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema}.Sanitize()+".inflight").Scan(&left))
		return left == 0
	}, 10*time.Second, time.Millisecond, "Finish removed every lease it recorded")
}

// TestRateLimitTwoDispatchers: two replicas on one schema, sharing a fake
// clock, send to a subscription limited to 5 requests a second one every
// 200 ms between them: 300 a minute (301 from 0 s to 60 s inclusive),
// none early, while an unlimited
// subscription beside it gets every event at once.
func TestRateLimitTwoDispatchers(t *testing.T) {
	p := testPool(t)
	schema := newSchemaName()
	dropSchemaOnCleanup(t, p, schema)
	var limited, free atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/limited" {
			limited.Add(1)
		} else {
			free.Add(1)
		}
	}))
	defer srv.Close()
	clock := webhooktest.NewClock(time.Date(2026, 1, 24, 9, 0, 0, 0, time.UTC))
	cfg := webhook.Config{Workers: 4, Clock: clock, Retention: -1}
	sa, sb := newStoreOn(t, p, schema), newStoreOn(t, p, schema)
	da := proofDispatcher(t, sa, cfg)
	db := proofDispatcher(t, sb, cfg)
	ctx := context.Background()
	require.NoError(t, da.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "org_1", URL: srv.URL + "/limited",
		Events: []string{"*"}, RateLimit: &webhook.RateLimit{Requests: 5, Per: webhook.PerSecond}}))
	require.NoError(t, db.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "org_1", URL: srv.URL + "/free",
		Events: []string{"*"}}))
	const n = 320
	for i := range n {
		_, err := []*webhook.Dispatcher{da, db}[i%2].Dispatch(ctx, webhook.Event{Type: "a.b", OrganizationID: "org_1"})
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool { return free.Load() == n }, 30*time.Second, time.Millisecond, "the unlimited subscription")
	// The clock moves in steps of 50 ms; each step wakes both claimers (as
	// a new delivery would), so that one that planned its sleep on the
	// time before looks again; at each 200 ms the request then due is
	// waited for before the clock moves on.
	start := clock.Now()
	for clock.Now().Sub(start) < time.Minute {
		elapsed := clock.Now().Sub(start)
		allowed := int64(elapsed/(200*time.Millisecond)) + 1
		if elapsed%(200*time.Millisecond) == 0 {
			require.Eventually(t, func() bool { return limited.Load() >= allowed }, 10*time.Second, time.Millisecond,
				"request %d at %v", allowed, elapsed)
		} else {
			time.Sleep(time.Millisecond)
		}
		require.LessOrEqual(t, limited.Load(), allowed, "at %v: no request before its time", elapsed)
		clock.Advance(50 * time.Millisecond)
		sa.broadcast()
		sb.broadcast()
	}
	time.Sleep(50 * time.Millisecond)
	got := limited.Load()
	require.Eventually(t, func() bool { return limited.Load() == 301 }, 10*time.Second, time.Millisecond,
		"one request at each 200 ms from 0 s to 60 s inclusive: %d", limited.Load())
	got = limited.Load()
	t.Logf("%d requests in the minute at 5/s", got)
}

// TestOrderedTwoDispatchers: events to an Ordered subscription, every 7th
// failing its first attempt, arrive in dispatch order, each once, one at
// a time, with two dispatchers on one schema (1,000 of them; 200 under
// the race detector, which slows every claim down).
func TestOrderedTwoDispatchers(t *testing.T) {
	p := testPool(t)
	schema := newSchemaName()
	dropSchemaOnCleanup(t, p, schema)
	n := 1000
	if proofRace {
		n = 200
	}
	var (
		mu        sync.Mutex
		tried     = map[int]bool{}
		accepted  []int
		cur, most int
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Data struct {
				Seq int `json:"seq"`
			} `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		cur++
		most = max(most, cur)
		seq := body.Data.Seq
		fail := seq%7 == 0 && !tried[seq]
		tried[seq] = true
		if !fail {
			accepted = append(accepted, seq)
		}
		mu.Unlock()
		time.Sleep(100 * time.Microsecond)
		mu.Lock()
		cur--
		mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	cfg := webhook.Config{Workers: 4, PollInterval: 100 * time.Millisecond,
		Retry: &webhook.ExponentialRetry{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, RandomizationFactor: -1}}
	sa, sb := newStoreOn(t, p, schema), newStoreOn(t, p, schema)
	ctx := context.Background()
	setupD, err := webhook.NewDispatcher(sa, &webhook.Config{AllowPrivateNetworks: true})
	require.NoError(t, err)
	require.NoError(t, setupD.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "org_1", URL: srv.URL,
		Events: []string{"*"}, Ordered: true}))
	for i := range n {
		_, err := setupD.Dispatch(ctx, webhook.Event{Type: "a.b", OrganizationID: "org_1", Data: []byte(fmt.Sprintf(`{"seq":%d}`, i))})
		require.NoError(t, err)
	}
	require.NoError(t, setupD.Close(ctx))
	proofDispatcher(t, sa, cfg)
	proofDispatcher(t, sb, cfg)
	require.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(accepted) >= n
	}, 120*time.Second, 5*time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	require.Equal(t, want, accepted, "accepted in dispatch order, each once")
	require.Equal(t, 1, most, "one request at a time across both replicas")
}

// TestPruneDropsStaleControlRows: leases recorded for capped
// subscriptions that ended before the cutoff, and next request times of
// deleted subscriptions, go with Prune.
func TestPruneDropsStaleControlRows(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	q := pgx.Identifier{s.schema}.Sanitize()
	now := time.Date(2026, 1, 24, 9, 0, 0, 0, time.UTC)
	_, err := s.pool.Exec(ctx, "INSERT INTO "+q+".inflight VALUES ('dlv_old', 'sub_gone', $1), ('dlv_new', 'sub_gone', $2)",
		now.Add(-time.Hour), now.Add(time.Hour))
	require.NoError(t, err)
	_, err = s.pool.Exec(ctx, "INSERT INTO "+q+".ratelimits VALUES ('sub_gone', $1)", now.Add(time.Hour))
	require.NoError(t, err)
	_, err = s.Prune(ctx, now, 100)
	require.NoError(t, err)
	var leases, limits int
	require.NoError(t, s.pool.QueryRow(ctx, "SELECT (SELECT count(*) FROM "+q+".inflight), (SELECT count(*) FROM "+q+".ratelimits)").Scan(&leases, &limits))
	require.Equal(t, 1, leases, "the lease that has not ended stays")
	require.Zero(t, limits, "the deleted subscription's next request time goes")
}
