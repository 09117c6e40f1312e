package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/internal/proccpu"
)

// BenchmarkDispatchFiltered is BenchmarkDispatchSparse with a payload
// filter on each of the 10 matching subscriptions (all of which the event
// passes), and 10 more matching the type whose filter it fails: 100,020
// stored, 10 deliveries.
func BenchmarkDispatchFiltered(b *testing.B) {
	d := benchDispatcher(b, 1, nil)
	defer d.Close(context.Background())
	for i := range 100_000 {
		benchSubscribe(b, d, 1, fmt.Sprintf("other.type%d", i))
	}
	for i := range 20 {
		threshold := 100
		if i%2 == 1 {
			threshold = 1000 // fails
		}
		s := &webhook.Subscription{OrganizationID: "org_bench", URL: "https://example.com/hook", Events: []string{"contact.created"},
			Filter: json.RawMessage(fmt.Sprintf(`{"data.amount": {"$gte": %d}, "data.country": {"$in": ["NO", "SE"]}}`, threshold))}
		if err := d.CreateSubscription(context.Background(), s); err != nil {
			b.Fatal(err)
		}
	}
	data := json.RawMessage(`{"id":1,"amount":150,"country":"NO"}`)
	ctx := context.Background()
	b.ReportAllocs()
	cpu := proccpu.Used()
	for b.Loop() {
		res, err := d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org_bench", Data: data})
		if err != nil || res.Enqueued != 10 {
			b.Fatal(res, err)
		}
	}
	reportCPU(b, cpu)
}
