package memstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// BenchmarkListFirstPage lists the first page (DefaultPageLimit) of an
// organization's pending deliveries, oldest first, and of one
// subscription's deliveries, newest first, with 100,000 and 2,500,000
// deliveries held: 50 subscriptions, events fanned out to 10 of them,
// the oldest 98% delivered and the newest 2% pending, so that a scan in
// ID order would walk nearly everything before the first pending one;
// and the newest page of those created in the first tenth of the time.
// The time per page should not grow with what is held.
//
//	go test -run '^$' -bench ListFirstPage -benchtime 2000x ./memstore
func BenchmarkListFirstPage(b *testing.B) {
	for _, held := range []int{100_000, 2_500_000} {
		b.Run(fmt.Sprintf("held=%d", held), func(b *testing.B) {
			s := listingStore(b, held)
			ctx := b.Context()
			for _, tc := range []struct {
				name string
				f    webhook.DeliveryFilter
			}{
				{"pending", webhook.DeliveryFilter{OrganizationID: "org_l", State: webhook.DeliveryPending}},
				{"subscription-newest", webhook.DeliveryFilter{OrganizationID: "org_l", SubscriptionID: "sub_0007", Order: webhook.NewestFirst}},
				{"subscription-pending", webhook.DeliveryFilter{OrganizationID: "org_l", SubscriptionID: "sub_0007", State: webhook.DeliveryPending}},
				// The newest of those created in the first tenth of the
				// time: the chunks after it are skipped by their bounds.
				{"created-before-newest", webhook.DeliveryFilter{OrganizationID: "org_l", CreatedTo: listingT0.Add(time.Duration(held/fanOut/10) * time.Millisecond), Order: webhook.NewestFirst}},
			} {
				b.Run(tc.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						ds, _, err := s.ListDeliveries(ctx, tc.f)
						if err != nil || len(ds) == 0 {
							b.Fatal(len(ds), err)
						}
					}
				})
			}
		})
	}
}

// The shape of listingStore's deliveries: the time of the first event,
// and how many subscriptions there are and each event goes to.
var listingT0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const subs, fanOut = 50, 10

// listingStore returns a store holding held deliveries as
// BenchmarkListFirstPage describes.
func listingStore(b *testing.B, held int) *memstore.Store {
	b.Helper()
	ctx := b.Context()
	s := memstore.NewWithConfig(&memstore.Config{MaxBytes: -1})
	for i := range subs {
		err := s.CreateSubscription(ctx, &webhook.Subscription{
			ID: fmt.Sprintf("sub_%04d", i), OrganizationID: "org_l", URL: "https://example.com/hook",
			Events: []string{"contact.created"}, State: webhook.StateActive,
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	t0 := listingT0
	data := []byte(`{"contactId":1}`)
	events := held / fanOut
	ds := make([]*webhook.Delivery, fanOut)
	block := make([]webhook.Delivery, fanOut)
	for i := range events {
		at := t0.Add(time.Duration(i) * time.Millisecond)
		ev := &webhook.Event{ID: fmt.Sprintf("evt_%010d", i), Type: "contact.created", OrganizationID: "org_l", Timestamp: at, Data: data}
		for j := range fanOut {
			sub := (i + j*5) % subs // each event to 10 of the 50
			block[j] = webhook.Delivery{
				ID: fmt.Sprintf("dlv_%010d_%02d", i, j), EventID: ev.ID, OrganizationID: "org_l",
				SubscriptionID: fmt.Sprintf("sub_%04d", sub), NextAttemptAt: at, CreatedAt: at,
			}
			ds[j] = &block[j]
		}
		if _, err := s.Enqueue(ctx, ev, ds); err != nil {
			b.Fatal(err)
		}
	}
	// Deliver the oldest 98%, in due order, which is ID order.
	now := t0.Add(time.Duration(events) * time.Millisecond)
	for left := held - held/50; left > 0; {
		got, err := s.Claim(ctx, webhook.ClaimParams{Now: now, Limit: min(left, 1000), Lease: time.Hour})
		if err != nil || len(got) == 0 {
			b.Fatal(len(got), err)
		}
		outs := make([]webhook.Outcome, len(got))
		for i, d := range got {
			outs[i] = webhook.Outcome{DeliveryID: d.ID, Lease: d.Lease, State: webhook.DeliveryDelivered}
		}
		if err := s.Finish(ctx, now, outs); err != nil {
			b.Fatal(err)
		}
		left -= len(got)
	}
	if u := s.Usage(); u.Deliveries != int64(held) || u.Pending != int64(held/50) {
		b.Fatalf("holding %+v", u)
	}
	return s
}
