package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/webhooktest"
)

// gauge is an endpoint that holds each request a little and records the
// most it held at once, by path.
type gauge struct {
	*httptest.Server
	mu       sync.Mutex
	cur, max map[string]int
	total    atomic.Int64
}

func newGauge(t *testing.T, hold time.Duration) *gauge {
	g := &gauge{cur: map[string]int{}, max: map[string]int{}}
	g.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.cur[r.URL.Path]++
		g.max[r.URL.Path] = max(g.max[r.URL.Path], g.cur[r.URL.Path])
		g.mu.Unlock()
		time.Sleep(hold)
		g.mu.Lock()
		g.cur[r.URL.Path]--
		g.mu.Unlock()
		g.total.Add(1)
	}))
	t.Cleanup(g.Close)
	return g
}

func (g *gauge) most(path string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.max[path]
}

// TestMaxConcurrencyAcrossDispatchers: two dispatchers on one store never
// have more attempts to a subscription in flight than its MaxConcurrency,
// while an uncapped subscription beside it gets more.
func TestMaxConcurrencyAcrossDispatchers(t *testing.T) {
	t.Parallel()
	store := memstore.New()
	clock := webhooktest.NewClock(t0)
	g := newGauge(t, 20*time.Millisecond)
	var ds []*webhook.Dispatcher
	for range 2 {
		d, err := webhook.NewDispatcher(store, &webhook.Config{Clock: clock, Workers: 8, MaxPerSubscription: 8,
			AllowPrivateNetworks: true, Retention: -1})
		require.NoError(t, err)
		ds = append(ds, d)
	}
	ctx := context.Background()
	capped := &webhook.Subscription{OrganizationID: "o", URL: g.URL + "/capped", Events: []string{"*"}, MaxConcurrency: 2}
	require.NoError(t, ds[0].CreateSubscription(ctx, capped))
	require.NoError(t, ds[0].CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "o", URL: g.URL + "/free", Events: []string{"*"}}))
	for range 24 {
		_, err := ds[0].Dispatch(ctx, webhook.Event{Type: "a.b", OrganizationID: "o"})
		require.NoError(t, err)
	}
	for _, d := range ds {
		require.NoError(t, d.Start(ctx))
	}
	require.Eventually(t, func() bool { return g.total.Load() == 48 }, 10*time.Second, time.Millisecond)
	for _, d := range ds {
		require.NoError(t, d.Close(ctx))
	}
	require.Equal(t, 2, g.most("/capped"), "the capped subscription, across both dispatchers")
	require.Greater(t, g.most("/free"), 2, "the uncapped one beside it")
}

// TestMaxConcurrencyReplacesTheDefault: a subscription's MaxConcurrency
// above Config.MaxPerSubscription lets that many run at once.
func TestMaxConcurrencyReplacesTheDefault(t *testing.T) {
	t.Parallel()
	g := newGauge(t, 30*time.Millisecond)
	b := setup(t, func(c *webhook.Config) { c.MaxPerSubscription = 1 })
	ctx := context.Background()
	require.NoError(t, b.d.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "o", URL: g.URL + "/wide", Events: []string{"*"}, MaxConcurrency: 4}))
	require.NoError(t, b.d.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "o", URL: g.URL + "/default", Events: []string{"*"}}))
	for range 12 {
		b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
	}
	require.Eventually(t, func() bool { return g.total.Load() == 24 }, 10*time.Second, time.Millisecond)
	require.Equal(t, 4, g.most("/wide"))
	require.Equal(t, 1, g.most("/default"))
}

func TestMaxConcurrencyRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, n := range []int{-1, webhook.MaxConcurrencyLimit + 1} {
		s := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"}, MaxConcurrency: n}
		err := b.d.CreateSubscription(context.Background(), s)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve)
		require.Equal(t, "maxConcurrency", ve.Field)
		require.ErrorIs(t, err, webhook.ErrInvalidSubscription)
	}
	s := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"}, MaxConcurrency: 3}
	require.NoError(t, b.d.CreateSubscription(context.Background(), s))
	j, err := s.MarshalJSON()
	require.NoError(t, err)
	require.Contains(t, string(j), `"maxConcurrency":3`)
}

func TestOrderedWithConcurrencyRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	s := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"}, Ordered: true, MaxConcurrency: 2}
	var ve *webhook.ValidationError
	require.ErrorAs(t, b.d.CreateSubscription(context.Background(), s), &ve)
	require.Equal(t, "maxConcurrency", ve.Field)
	s.MaxConcurrency = 1
	require.NoError(t, b.d.CreateSubscription(context.Background(), s))
	j, err := s.MarshalJSON()
	require.NoError(t, err)
	require.Contains(t, string(j), `"ordered":true`)
}

func TestRateLimitRefused(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for _, tc := range []struct {
		limit webhook.RateLimit
		field string
	}{
		{webhook.RateLimit{Requests: 0, Per: webhook.PerSecond}, "rateLimit.requests"},
		{webhook.RateLimit{Requests: webhook.MaxRateLimitRequests + 1, Per: webhook.PerSecond}, "rateLimit.requests"},
		{webhook.RateLimit{Requests: 5, Per: "hour"}, "rateLimit.per"},
		{webhook.RateLimit{Requests: 5}, "rateLimit.per"},
	} {
		s := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"}, RateLimit: &tc.limit}
		err := b.d.CreateSubscription(context.Background(), s)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve, "%+v", tc.limit)
		require.Equal(t, tc.field, ve.Field)
		require.ErrorIs(t, err, webhook.ErrInvalidSubscription)
	}
	s := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"},
		RateLimit: &webhook.RateLimit{Requests: 30, Per: webhook.PerMinute}}
	require.NoError(t, b.d.CreateSubscription(context.Background(), s))
	require.Equal(t, 2*time.Second, s.RateLimit.Interval())
	j, err := s.MarshalJSON()
	require.NoError(t, err)
	require.Contains(t, string(j), `"rateLimit":{"requests":30,"per":"minute"}`)
}
