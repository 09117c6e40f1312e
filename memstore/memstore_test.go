package memstore_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) webhook.Store { return memstore.New() })
}

// benchStore returns a store holding n Active subscriptions of org_bench
// to "contact.created".
func benchStore(b *testing.B, n int) (*memstore.Store, []*webhook.Subscription) {
	b.Helper()
	s := memstore.NewWithConfig(&memstore.Config{MaxBytes: -1}) // benchmarks may hold millions
	subs := make([]*webhook.Subscription, n)
	for i := range subs {
		subs[i] = &webhook.Subscription{
			ID:             fmt.Sprintf("sub_%08d", i),
			OrganizationID: "org_bench",
			URL:            "https://example.com/hook",
			Events:         []string{"contact.created"},
			State:          webhook.StateActive,
		}
		if err := s.CreateSubscription(b.Context(), subs[i]); err != nil {
			b.Fatal(err)
		}
	}
	return s, subs
}

var benchData = json.RawMessage(`{"contactId":12345,"name":"Ada Lovelace","email":"ada@example.com"}`)

// benchEvent returns the i-th event of a benchmark and its deliveries to
// subs, due at now.
func benchEvent(i int, now time.Time, subs []*webhook.Subscription) (*webhook.Event, []*webhook.Delivery) {
	ev := &webhook.Event{
		ID:             fmt.Sprintf("evt_%010d", i),
		Type:           "contact.created",
		OrganizationID: "org_bench",
		Timestamp:      now,
		Data:           benchData,
	}
	ds := make([]*webhook.Delivery, len(subs))
	for j, sub := range subs {
		ds[j] = &webhook.Delivery{
			ID:             fmt.Sprintf("dlv_%010d_%04d", i, j),
			EventID:        ev.ID,
			OrganizationID: ev.OrganizationID,
			SubscriptionID: sub.ID,
			NextAttemptAt:  now,
			CreatedAt:      now,
		}
	}
	return ev, ds
}

func benchmarkEnqueue(b *testing.B, fanOut int) {
	s, subs := benchStore(b, fanOut)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	evs := make([]*webhook.Event, b.N)
	dss := make([][]*webhook.Delivery, b.N)
	for i := range evs {
		evs[i], dss[i] = benchEvent(i, now, subs)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.Enqueue(b.Context(), evs[i], dss[i]); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEnqueue stores one event with 1 or 10 deliveries per operation.
func BenchmarkEnqueue(b *testing.B) {
	b.Run("1", func(b *testing.B) { benchmarkEnqueue(b, 1) })
	b.Run("10", func(b *testing.B) { benchmarkEnqueue(b, 10) })
}

// BenchmarkClaimFinish claims one delivery and finishes it as delivered
// with one attempt, from a queue of 10,000 pending deliveries over 100
// subscriptions, and from a backlog of 100,000 to one subscription.
func BenchmarkClaimFinish(b *testing.B) {
	b.Run("100-subscriptions", func(b *testing.B) { benchmarkClaimFinish(b, 100, 100) })
	b.Run("1-subscription-100000-deep", func(b *testing.B) { benchmarkClaimFinish(b, 1, 100_000) })
}

func benchmarkClaimFinish(b *testing.B, fanOut, events int) {
	s, subs := benchStore(b, fanOut)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	n := 0
	refill := func() {
		for range events {
			ev, ds := benchEvent(n, now.Add(time.Duration(n)), subs)
			n++
			if _, err := s.Enqueue(b.Context(), ev, ds); err != nil {
				b.Fatal(err)
			}
		}
	}
	refill()
	p := webhook.ClaimParams{Now: now.Add(time.Hour), Limit: 1, Lease: time.Minute, MaxPerSubscription: 1}
	outcome := []webhook.Outcome{{State: webhook.DeliveryDelivered, Attempt: &webhook.Attempt{Number: 1, StatusCode: 200}}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if i%(fanOut*events) == fanOut*events-1 {
			b.StopTimer()
			refill()
			b.StartTimer()
		}
		ds, err := s.Claim(b.Context(), p)
		if err != nil || len(ds) != 1 {
			b.Fatal(len(ds), err)
		}
		outcome[0].DeliveryID, outcome[0].Lease = ds[0].ID, ds[0].Lease
		if err := s.Finish(b.Context(), now, outcome); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMatchSubscriptions matches an event type against 100,000
// subscriptions of one organization, 10 of which want it.
func BenchmarkMatchSubscriptions(b *testing.B) {
	s := memstore.New()
	for i := range 100_000 {
		events := []string{fmt.Sprintf("type%d.changed", i)}
		switch {
		case i%10_000 == 0:
			events = []string{"contact.created"}
		case i%10_000 == 1:
			events = []string{"contact.*"}
		}
		if i%10_000 <= 1 && i/10_000 >= 5 {
			events = []string{"sale.changed"} // half of the 20 candidates want another type
		}
		err := s.CreateSubscription(b.Context(), &webhook.Subscription{
			ID: fmt.Sprintf("sub_%08d", i), OrganizationID: "org_bench", URL: "https://example.com/hook",
			Events: events, State: webhook.StateActive,
			Headers: map[string]string{"X-Api-Key": "k"},
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		ids, _, err := s.MatchSubscriptions(b.Context(), "org_bench", "contact.created")
		if err != nil || len(ids) != 10 {
			b.Fatal(len(ids), err)
		}
	}
}

// BenchmarkStats reads the Stats of one subscription and of its
// organization, 100 subscriptions, since a day ago, from a store holding
// 100,000 deliveries to them, attempted over two days: the cost follows
// the subscriptions and the hours, not the deliveries.
func BenchmarkStats(b *testing.B) {
	s, subs := benchStore(b, 100)
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 1000 {
		at := now.Add(time.Duration(i) * 48 * time.Hour / 1000)
		ev, ds := benchEvent(i, at, subs)
		if _, err := s.Enqueue(b.Context(), ev, ds); err != nil {
			b.Fatal(err)
		}
		cs, err := s.Claim(b.Context(), webhook.ClaimParams{Now: at, Limit: len(subs), Lease: time.Minute})
		if err != nil {
			b.Fatal(err)
		}
		outcomes := make([]webhook.Outcome, 0, len(cs))
		for j, c := range cs {
			o := webhook.Outcome{DeliveryID: c.ID, Lease: c.Lease, State: webhook.DeliveryDelivered,
				Attempt: &webhook.Attempt{Number: 1, At: at, StatusCode: 200, Outcome: webhook.DeliveryDelivered}}
			if j%3 == 0 { // a third stays pending, to be retried
				o.State, o.NextAttemptAt = webhook.DeliveryPending, at.Add(time.Hour)
				o.Attempt.StatusCode, o.Attempt.Outcome = 503, webhook.DeliveryPending
			}
			outcomes = append(outcomes, o)
		}
		if err := s.Finish(b.Context(), at, outcomes); err != nil {
			b.Fatal(err)
		}
	}
	since := now.Add(24 * time.Hour)
	for _, tc := range []struct{ name, sub string }{{"subscription", subs[0].ID}, {"organization-100-subscriptions", ""}} {
		b.Run(tc.name, func(b *testing.B) {
			f := webhook.StatsFilter{OrganizationID: "org_bench", SubscriptionID: tc.sub, Since: since}
			b.ReportAllocs()
			for b.Loop() {
				st, err := s.Stats(b.Context(), f)
				if err != nil || st.Pending == 0 || st.Attempts == 0 {
					b.Fatal(st, err)
				}
			}
		})
	}
}

// BenchmarkPendingFootprint reports the heap bytes each pending delivery
// costs, beyond its event's payload: run it with -benchtime=1000000x to
// hold a million. "own-event" gives every delivery an event of its own
// (whose record then counts); "fan-out-10" shares each event among 10.
func BenchmarkPendingFootprint(b *testing.B) {
	for _, fanOut := range []int{1, 10} {
		name := "own-event"
		if fanOut > 1 {
			name = fmt.Sprintf("fan-out-%d", fanOut)
		}
		b.Run(name, func(b *testing.B) {
			s, subs := benchStore(b, fanOut)
			now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
			events := (b.N + fanOut - 1) / fanOut
			runtime.GC()
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			b.ResetTimer()
			for i := range events {
				ev, ds := benchEvent(i, now, subs)
				ev.Data = slices.Clone(benchData) // the caller's copy, freed after Enqueue
				if _, err := s.Enqueue(b.Context(), ev, ds); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			payload := float64(events * len(benchData))
			perDelivery := (float64(after.HeapAlloc) - float64(before.HeapAlloc) - payload) / float64(events*fanOut)
			b.ReportMetric(perDelivery, "B/delivery")
			runtime.KeepAlive(s)
		})
	}
}
