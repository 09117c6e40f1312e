package memstore_test

import (
	"bytes"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// usageStore returns a store configured by cfg holding fanOut Active
// subscriptions of org_u to "contact.created".
func usageStore(tb testing.TB, cfg *memstore.Config, fanOut int) (*memstore.Store, []*webhook.Subscription) {
	tb.Helper()
	s := memstore.NewWithConfig(cfg)
	subs := make([]*webhook.Subscription, fanOut)
	for i := range subs {
		subs[i] = &webhook.Subscription{
			ID: fmt.Sprintf("sub_%04d", i), OrganizationID: "org_u", URL: "https://example.com/hook",
			Events: []string{"contact.created"}, State: webhook.StateActive,
		}
		require.NoError(tb, s.CreateSubscription(tb.Context(), subs[i]))
	}
	return s, subs
}

// usageEvent returns the i-th event, with size bytes of data, and its
// deliveries to subs.
func usageEvent(i, size int, at time.Time, subs []*webhook.Subscription) (*webhook.Event, []*webhook.Delivery) {
	data := append([]byte(`"`), bytes.Repeat([]byte("x"), size-2)...)
	data = append(data, '"')
	ev := &webhook.Event{
		ID: fmt.Sprintf("evt_%010d", i), Type: "contact.created", OrganizationID: "org_u",
		Timestamp: at, Data: data,
	}
	ds := make([]*webhook.Delivery, len(subs))
	for j, sub := range subs {
		ds[j] = &webhook.Delivery{
			ID: fmt.Sprintf("dlv_%010d_%04d", i, j), EventID: ev.ID, OrganizationID: ev.OrganizationID,
			SubscriptionID: sub.ID, NextAttemptAt: at, CreatedAt: at,
		}
	}
	return ev, ds
}

func heapNow() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestUsageTracksTheHeap: what Usage counts is within 15% of what the
// heap holds, for pending deliveries and for finished ones with an
// attempt each, and goes back to nothing once everything is pruned. It
// logs the bytes held per delivery, beside its share of the event.
func TestUsageTracksTheHeap(t *testing.T) {
	const events, fanOut, size = 4000, 10, 1024
	s, subs := usageStore(t, &memstore.Config{MaxBytes: -1}, fanOut)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	base := heapNow()
	u0 := s.Usage().Bytes
	for i := range events {
		ev, ds := usageEvent(i, size, t0, subs)
		_, err := s.Enqueue(ctx, ev, ds)
		require.NoError(t, err)
	}
	pendingHeap := heapNow() - base
	u := s.Usage()
	require.EqualValues(t, events, u.Events)
	require.EqualValues(t, events*fanOut, u.Deliveries)
	require.EqualValues(t, events*fanOut, u.Pending)
	counted := u.Bytes - u0
	require.InEpsilon(t, float64(pendingHeap), float64(counted), 0.15, "heap %d, counted %d", pendingHeap, counted)
	eventShare := float64(size+300) / fanOut
	t.Logf("pending: heap %.0f B per delivery (%.0f counted), of which about %.0f its share of a %d-byte event",
		float64(pendingHeap)/float64(events*fanOut), float64(counted)/float64(events*fanOut), eventShare, size)

	now := t0.Add(time.Minute)
	for {
		ds, err := s.Claim(ctx, webhook.ClaimParams{Now: now, Limit: 500, Lease: time.Minute})
		require.NoError(t, err)
		if len(ds) == 0 {
			break
		}
		outs := make([]webhook.Outcome, len(ds))
		for i, d := range ds {
			outs[i] = webhook.Outcome{DeliveryID: d.ID, Lease: d.Lease, State: webhook.DeliveryDelivered,
				Attempt: &webhook.Attempt{DeliveryID: d.ID, Number: 1, At: now, StatusCode: 200, ResponseBody: "ok", Outcome: webhook.DeliveryDelivered}}
		}
		require.NoError(t, s.Finish(ctx, now, outs))
	}
	finishedHeap := heapNow() - base
	u = s.Usage()
	require.Zero(t, u.Pending)
	counted = u.Bytes - u0
	require.InEpsilon(t, float64(finishedHeap), float64(counted), 0.15, "heap %d, counted %d", finishedHeap, counted)
	t.Logf("finished with one attempt: heap %.0f B per delivery (%.0f counted)",
		float64(finishedHeap)/float64(events*fanOut), float64(counted)/float64(events*fanOut))

	n, err := s.Prune(ctx, now, events+1)
	require.NoError(t, err)
	require.Equal(t, events, n)
	u = s.Usage()
	require.Equal(t, memstore.Usage{MaxBytes: -1}, memstore.Usage{Bytes: u.Bytes, MaxBytes: u.MaxBytes, Events: u.Events, Deliveries: u.Deliveries, Pending: u.Pending})
	require.Zero(t, u.Bytes)
}

// TestUsageBalances: every way a record leaves the store (Prune, a
// subscription's deletion, a drop at the bound) takes out of Usage what
// its arrival and its attempts put in.
func TestUsageBalances(t *testing.T) {
	t.Parallel()
	s, subs := usageStore(t, &memstore.Config{MaxBytes: -1}, 3)
	ctx := t.Context()
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 20 {
		ev, ds := usageEvent(i, 100, t0.Add(time.Duration(i)*time.Second), subs)
		_, err := s.Enqueue(ctx, ev, ds)
		require.NoError(t, err)
	}
	// Two attempts each for sub_0000's (a retry, then delivered), one
	// failure for the others, left pending.
	now := t0.Add(time.Hour)
	for round := 1; round <= 2; round++ {
		ds, err := s.Claim(ctx, webhook.ClaimParams{Now: now, Limit: 100, Lease: time.Minute})
		require.NoError(t, err)
		var outs []webhook.Outcome
		for _, d := range ds {
			st := webhook.DeliveryPending
			if round == 2 && d.SubscriptionID == subs[0].ID {
				st = webhook.DeliveryDelivered
			} else if round == 2 {
				continue
			}
			outs = append(outs, webhook.Outcome{DeliveryID: d.ID, Lease: d.Lease, State: st, NextAttemptAt: now,
				Attempt: &webhook.Attempt{DeliveryID: d.ID, Number: round, At: now, StatusCode: 500, ResponseBody: "nope", Error: "HTTP 500", Outcome: st}})
		}
		require.NoError(t, s.Finish(ctx, now, outs))
		now = now.Add(2 * time.Minute)
	}
	// A redelivery, and its second history.
	ds, _, err := s.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: "org_u", SubscriptionID: subs[0].ID, State: webhook.DeliveryDelivered, Page: webhook.Page{Limit: 1}})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.NoError(t, s.Redeliver(ctx, "org_u", ds[0].ID, now))
	require.NotZero(t, s.Usage().Bytes)
	// Deleting the other subscriptions takes their pending deliveries;
	// sub_0000's redelivered one is left pending, the rest is finished.
	require.NoError(t, s.DeleteSubscription(ctx, "org_u", subs[1].ID))
	require.NoError(t, s.DeleteSubscription(ctx, "org_u", subs[2].ID))
	u := s.Usage()
	require.EqualValues(t, 20, u.Deliveries)
	require.EqualValues(t, 1, u.Pending)
	n, err := s.Prune(ctx, now.Add(time.Hour), 100)
	require.NoError(t, err)
	require.Equal(t, 19, n) // the redelivered one's event stays
	u = s.Usage()
	require.EqualValues(t, 1, u.Events)
	require.EqualValues(t, 1, u.Deliveries)
	require.NoError(t, s.DeleteSubscription(ctx, "org_u", subs[0].ID))
	n, err = s.Prune(ctx, now.Add(time.Hour), 100)
	require.NoError(t, err)
	require.Equal(t, 1, n)
	require.Equal(t, memstore.Usage{MaxBytes: -1}, s.Usage())
}
