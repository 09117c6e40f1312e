package apitest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/pgstore"
)

// benchDeliveries is how many deliveries the listing benchmark stores for
// its one subscription. RELAYHOOK_BENCH_DELIVERIES overrides it (for a
// quick try).
const benchDeliveries = 1_000_000

// BenchmarkListDeliveriesPagePgstore lists pages of 50 deliveries of one
// subscription that has 1,000,000 deliveries stored in PostgreSQL, through
// the management API over loopback HTTP: GET
// /subscriptions/{id}/deliveries?limit=50, newest first, each iteration
// following the previous page's nextCursor (so the pages walk deeper into
// the table). It reports the median and 99th percentile of a request.
//
// The deliveries are written by one INSERT ... SELECT generate_series
// (the listing reads only the deliveries table), then ANALYZEd.
func BenchmarkListDeliveriesPagePgstore(b *testing.B) {
	url := os.Getenv("RELAYHOOK_PG_URL")
	if url == "" {
		b.Skip("RELAYHOOK_PG_URL is not set: see scripts/postgres.sh")
	}
	n := benchDeliveries
	if s := os.Getenv("RELAYHOOK_BENCH_DELIVERIES"); s != "" {
		n, _ = strconv.Atoi(s)
	}
	ctx := context.Background()
	pool, err := pgxpool.New(ctx, url)
	require.NoError(b, err)
	defer pool.Close()
	schema := fmt.Sprintf("apibench_%d", time.Now().UnixNano())
	defer pool.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE")
	st, err := pgstore.New(pool, &pgstore.Options{Schema: schema})
	require.NoError(b, err)
	defer st.Close()
	require.NoError(b, st.Migrate(ctx))
	d, err := webhook.NewDispatcher(st, nil)
	require.NoError(b, err)
	defer d.Close(ctx)

	sub := &webhook.Subscription{OrganizationID: "org_a", URL: "https://example.com/hook", Events: []string{"contact.created"}}
	require.NoError(b, d.CreateSubscription(ctx, sub))
	other := &webhook.Subscription{OrganizationID: "org_a", URL: "https://example.com/other", Events: []string{"contact.created"}}
	require.NoError(b, d.CreateSubscription(ctx, other))
	start := time.Now()
	tbl := pgx.Identifier{schema, "deliveries"}.Sanitize()
	_, err = pool.Exec(ctx, `INSERT INTO `+tbl+` (id, org_id, event_id, event_type, subscription_id, state, attempts,
  next_attempt_at, last_status_code, created_at, updated_at)
SELECT 'dlv_' || lpad(i::text, 26, '0'), 'org_a', 'evt_' || lpad(i::text, 26, '0'), 'contact.created',
  CASE WHEN i % 10 = 0 THEN $2 ELSE $1 END, 'delivered', 1, now(), 200,
  now() - ($3 - i) * interval '1 second', now()
FROM generate_series(1, $3) AS i`, sub.ID, other.ID, n*10/9)
	require.NoError(b, err)
	_, err = pool.Exec(ctx, `ANALYZE `+tbl)
	require.NoError(b, err)
	b.Logf("stored %d deliveries (%d for the subscription) in %v", n*10/9, n, time.Since(start).Round(time.Millisecond))

	h := manage.NewHandler(d, &manage.Config{Authorize: func(*http.Request) (manage.Access, error) {
		return manage.Access{OrganizationID: "org_a", Capabilities: manage.CanRead}, nil
	}})
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := srv.Client()
	get := func(cursor string) (string, int) {
		res, err := client.Get(srv.URL + "/subscriptions/" + sub.ID + "/deliveries?limit=50&cursor=" + cursor)
		if err != nil {
			b.Fatal(err)
		}
		defer res.Body.Close()
		var page struct {
			Data       []json.RawMessage `json:"data"`
			NextCursor string            `json:"nextCursor"`
		}
		if err := json.NewDecoder(res.Body).Decode(&page); err != nil || res.StatusCode != 200 {
			body, _ := io.ReadAll(res.Body)
			b.Fatal(errors.Join(err, fmt.Errorf("status %d: %s", res.StatusCode, body)))
		}
		return page.NextCursor, len(page.Data)
	}
	get("") // warm the connection and the plan cache

	// A sub-benchmark, so that the setup above runs once whatever b.N.
	b.Run("limit=50", func(b *testing.B) {
		times := make([]time.Duration, 0, b.N)
		cursor := ""
		b.ReportAllocs()
		for range b.N {
			t0 := time.Now()
			next, got := get(cursor)
			times = append(times, time.Since(t0))
			if got != 50 {
				b.Fatalf("page of %d deliveries", got)
			}
			cursor = next
		}
		b.StopTimer()
		slices.Sort(times)
		b.ReportMetric(float64(times[len(times)/2].Microseconds())/1000, "p50-ms")
		b.ReportMetric(float64(times[len(times)*99/100].Microseconds())/1000, "p99-ms")
	})
}
