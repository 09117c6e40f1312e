package pgstore

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// benchFixture is a store with subscriptions to enqueue to.
type benchFixture struct {
	s    *Store
	subs []*webhook.Subscription
	now  time.Time
}

func newBenchFixture(b testing.TB, nsubs int) *benchFixture {
	b.Helper()
	f := &benchFixture{s: newTestStore(b), now: time.Now().UTC().Truncate(time.Microsecond)}
	for i := range nsubs {
		sub := &webhook.Subscription{
			ID: fmt.Sprintf("sub_%04d", i), OrganizationID: "org_1", URL: "https://example.com/hook",
			Events: []string{"contact.*"}, State: webhook.StateActive, CreatedAt: f.now, UpdatedAt: f.now,
		}
		require.NoError(b, f.s.CreateSubscription(context.Background(), sub))
		f.subs = append(f.subs, sub)
	}
	return f
}

// event returns an event with one delivery to every subscription, due now.
func (f *benchFixture) event() (*webhook.Event, []*webhook.Delivery) {
	ev := &webhook.Event{ID: webhook.NewEventID(f.now), Type: "contact.created", OrganizationID: "org_1",
		Timestamp: f.now, Data: json.RawMessage(`{"contactId":12345,"name":"Ada Lovelace","email":"ada@example.com"}`)}
	ds := make([]*webhook.Delivery, len(f.subs))
	for i, sub := range f.subs {
		ds[i] = &webhook.Delivery{ID: webhook.NewEventID(f.now), EventID: ev.ID, OrganizationID: "org_1",
			SubscriptionID: sub.ID, NextAttemptAt: f.now, CreatedAt: f.now, UpdatedAt: f.now}
	}
	return ev, ds
}

func (f *benchFixture) fill(b testing.TB, deliveries int) {
	b.Helper()
	for n := 0; n < deliveries; n += len(f.subs) {
		ev, ds := f.event()
		_, err := f.s.Enqueue(context.Background(), ev, ds)
		require.NoError(b, err)
	}
	_, err := f.s.pool.Exec(context.Background(), "ANALYZE "+pgx.Identifier{f.s.schema}.Sanitize()+".deliveries, "+pgx.Identifier{f.s.schema}.Sanitize()+".queue")
	require.NoError(b, err)
}

// BenchmarkClaimFinish measures the queue's round trip as a dispatcher
// drives it: claim a batch of due deliveries (64, as many as the default
// number of workers, or fewer or more to show what a statement costs
// beside its rows), then finish the batch (delivered, with an attempt
// logged each) in one call.
func BenchmarkClaimFinish(b *testing.B) {
	for _, c := range []struct{ batch, maxPer int }{{64, 0}, {64, 16}, {16, 0}, {256, 0}} {
		name := fmt.Sprintf("MaxPerSubscription=%d", c.maxPer)
		if c.batch != 64 {
			name = fmt.Sprintf("batch=%d/%s", c.batch, name)
		}
		batch, maxPer := c.batch, c.maxPer
		b.Run(name, func(b *testing.B) {
			f := newBenchFixture(b, 16)
			f.fill(b, 2*b.N*batch) // twice what is claimed, so the cap never starves a claim
			ctx := context.Background()
			outcomes := make([]webhook.Outcome, 0, batch)
			attempts := make([]webhook.Attempt, batch)
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				ds, err := f.s.Claim(ctx, webhook.ClaimParams{Now: f.now.Add(time.Second), Limit: batch,
					Lease: time.Minute, MaxPerSubscription: maxPer})
				if err != nil {
					b.Fatal(err)
				}
				if len(ds) != batch {
					b.Fatalf("claimed %d, want %d", len(ds), batch)
				}
				outcomes = outcomes[:0]
				for i, d := range ds {
					attempts[i] = webhook.Attempt{DeliveryID: d.ID, EventID: d.EventID, SubscriptionID: d.SubscriptionID,
						Number: 1, At: f.now, Duration: time.Millisecond, StatusCode: 200, ResponseBody: "ok",
						Outcome: webhook.DeliveryDelivered}
					outcomes = append(outcomes, webhook.Outcome{DeliveryID: d.ID, Lease: d.Lease,
						State: webhook.DeliveryDelivered, Attempt: &attempts[i]})
				}
				if err := f.s.Finish(ctx, f.now.Add(time.Second), outcomes); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "deliveries/s")
		})
	}
}

// BenchmarkEnqueue measures storing one event with 10 deliveries.
func BenchmarkEnqueue(b *testing.B) {
	f := newBenchFixture(b, 10)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		ev, ds := f.event()
		b.StartTimer()
		if _, err := f.s.Enqueue(ctx, ev, ds); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDispatchTx measures what dispatching inside a host's
// transaction adds to it: matching 10 subscriptions and enqueueing the
// event with its 10 deliveries in the transaction. It reports the median
// and 99th percentile of that time, the transaction's own BEGIN and COMMIT
// excluded.
func BenchmarkDispatchTx(b *testing.B) {
	s := newTestStore(b)
	ctx := context.Background()
	d, err := webhook.NewDispatcher(s, nil)
	require.NoError(b, err)
	for i := range 10 {
		require.NoError(b, d.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "org_1",
			URL: fmt.Sprintf("https://hooks.example.com/%d", i), Events: []string{"contact.*"}}))
	}
	took := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		res, err := DispatchTx(ctx, d, tx, webhook.Event{Type: "contact.created", OrganizationID: "org_1",
			Data: []byte(`{"contactId":12345,"name":"Ada Lovelace"}`)})
		took = append(took, time.Since(start))
		if err != nil || res.Enqueued != 10 {
			b.Fatal(err, res)
		}
		if err := tx.Commit(ctx); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	slices.Sort(took)
	b.ReportMetric(float64(took[len(took)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(took[len(took)*99/100].Microseconds()), "p99-µs")
}
