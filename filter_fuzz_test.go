package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// FuzzFilter saves a subscription with an arbitrary filter and dispatches
// an event with arbitrary data to it: nothing panics, a refused filter is
// a *ValidationError about the subscription and stores nothing, an
// accepted one is stored compacted, validates again, and Dispatch of valid
// data succeeds with at most the one delivery.
func FuzzFilter(f *testing.F) {
	for _, seed := range []struct{ filter, data string }{
		{`{"data.amount": {"$gte": 100}, "data.country": {"$in": ["NO", "SE"]}}`, `{"amount": 150, "country": "NO"}`},
		{`{"$or": [{"data.a": 1}, {"$and": [{"data.b": {"$exists": true}}, {"type": "x.y"}]}]}`, `{"b": null}`},
		{`{"data.x": {"$ne": "a", "$nin": [1, true, null]}}`, `[1]`},
		{`{"data.x.y.z": {"$lt": "m", "$gt": "a"}}`, `{"x": {"y": {"z": "k"}}}`},
		{`{"$and": []}`, `{}`},
		{`null`, ``},
	} {
		f.Add([]byte(seed.filter), []byte(seed.data))
	}
	ctx := context.Background()
	f.Fuzz(func(t *testing.T, filter, data []byte) {
		store := memstore.New()
		d, err := webhook.NewDispatcher(store, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close(ctx)
		s := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"}, Filter: filter}
		verr := s.Validate()
		err = d.CreateSubscription(ctx, s)
		if (verr == nil) != (err == nil) {
			t.Fatalf("Validate said %v, CreateSubscription %v", verr, err)
		}
		if err != nil {
			var ve *webhook.ValidationError
			if !errors.As(err, &ve) || !errors.Is(err, webhook.ErrInvalidSubscription) {
				t.Fatalf("refusal is not a *ValidationError about the subscription: %v", err)
			}
			if subs, _, _ := d.ListSubscriptions(ctx, "o", webhook.Page{}); len(subs) != 0 {
				t.Fatal("a refused subscription was stored")
			}
			return
		}
		got, err := d.GetSubscription(ctx, "o", s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Filter) > 0 {
			if !json.Valid(got.Filter) || len(got.Filter) > len(filter) {
				t.Fatalf("stored filter %q is not the compacted %q", got.Filter, filter)
			}
			if err := got.Validate(); err != nil {
				t.Fatalf("stored filter %q no longer validates: %v", got.Filter, err)
			}
		}
		if !json.Valid(data) {
			return
		}
		res, err := d.Dispatch(ctx, webhook.Event{Type: "a.b", OrganizationID: "o", Data: data})
		var ve *webhook.ValidationError
		if errors.As(err, &ve) && errors.Is(err, webhook.ErrInvalidEvent) {
			return // too deep, or not UTF-8
		}
		if err != nil || res.Enqueued > 1 || res.Matched != res.Enqueued {
			t.Fatalf("Dispatch: %+v, %v", res, err)
		}
	})
}
