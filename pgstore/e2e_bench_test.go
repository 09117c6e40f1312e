package pgstore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// BenchmarkDispatchEndToEnd measures deliveries per second through a
// dispatcher: events dispatched by 4 goroutines, each to 10 subscriptions,
// POSTed to a loopback receiver that answers 200 at once. An operation is
// one delivery received. It runs on this store (durable) and, for
// comparison in the same run, on the in-memory store.
func BenchmarkDispatchEndToEnd(b *testing.B) {
	b.Run("store=pgstore", func(b *testing.B) { benchmarkDispatch(b, newTestStore(b), false) })
	b.Run("store=memstore", func(b *testing.B) { benchmarkDispatch(b, memstore.New(), false) })
}

// BenchmarkDrain is BenchmarkDispatchEndToEnd with the events all
// dispatched before the dispatcher starts and the timer: it measures the
// delivering side alone (claim, attempt, finish), as when a backlog
// drains.
func BenchmarkDrain(b *testing.B) {
	b.Run("store=pgstore", func(b *testing.B) { benchmarkDispatch(b, newTestStore(b), true) })
	b.Run("store=memstore", func(b *testing.B) { benchmarkDispatch(b, memstore.New(), true) })
}

// benchmarkDispatch runs BenchmarkDispatchEndToEnd, or BenchmarkDrain if
// drain is set.
func benchmarkDispatch(b *testing.B, s webhook.Store, drain bool) {
	const subs = 10
	ctx := context.Background()

	var received atomic.Int64
	all := make(chan struct{})
	var want atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body) //nolint:errcheck
		if received.Add(1) == want.Load() {
			close(all)
		}
	}))
	defer srv.Close()

	d, err := webhook.NewDispatcher(s, &webhook.Config{AllowPrivateNetworks: true,
		Logger: slog.New(slog.DiscardHandler)})
	require.NoError(b, err)
	for i := range subs {
		require.NoError(b, d.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "org_1",
			URL: fmt.Sprintf("%s/hook/%d", srv.URL, i), Events: []string{"contact.created"}}))
	}
	events := (b.N + subs - 1) / subs
	want.Store(int64(events * subs))
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Close(cctx) //nolint:errcheck
	}()

	b.ReportAllocs()
	b.ResetTimer()
	if !drain {
		require.NoError(b, d.Start(ctx))
	}
	var wg sync.WaitGroup
	next := atomic.Int64{}
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(events) {
				_, err := d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org_1",
					Data: []byte(`{"contactId":12345,"name":"Ada Lovelace"}`)})
				if err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if drain {
		b.ResetTimer()
		require.NoError(b, d.Start(ctx))
	} else {
		b.ReportMetric(float64(want.Load())/b.Elapsed().Seconds(), "enqueued/s")
	}
	select {
	case <-all:
	case <-time.After(5 * time.Minute):
		b.Fatalf("received %d of %d", received.Load(), want.Load())
	}
	b.StopTimer()
	b.ReportMetric(float64(want.Load())/b.Elapsed().Seconds(), "deliveries/s")
}
