package pgstore

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
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
	var left int
	require.NoError(t, p.QueryRow(ctx, "SELECT count(*) FROM "+pgx.Identifier{schema}.Sanitize()+".inflight").Scan(&left))
	require.Zero(t, left, "Finish removed every lease it recorded")
}
