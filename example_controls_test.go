package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// A subscription that wants only large Nordic sales, at most two requests
// at once, ten a second, in order. Events that fail its filter create no
// delivery to it; a bad filter is refused naming its part.
func ExampleSubscription_controls() {
	ctx := context.Background()
	d, err := webhook.NewDispatcher(memstore.New(), nil)
	if err != nil {
		panic(err)
	}
	defer d.Close(ctx)

	sub := &webhook.Subscription{
		OrganizationID: "org_1",
		URL:            "https://crm.example.com/hooks/sales",
		Events:         []string{"sale.*"},
		Filter:         json.RawMessage(`{"data.amount": {"$gte": 100}, "data.country": {"$in": ["NO", "SE"]}}`),
		RateLimit:      &webhook.RateLimit{Requests: 10, Per: webhook.PerSecond},
		Ordered:        true,
	}
	if err := d.CreateSubscription(ctx, sub); err != nil {
		panic(err)
	}
	for _, data := range []string{`{"amount": 250, "country": "NO"}`, `{"amount": 250, "country": "DK"}`, `{"amount": 50, "country": "SE"}`} {
		res, err := d.Dispatch(ctx, webhook.Event{Type: "sale.changed", OrganizationID: "org_1", Data: json.RawMessage(data)})
		if err != nil {
			panic(err)
		}
		fmt.Println(data, "deliveries:", res.Enqueued)
	}

	bad := &webhook.Subscription{OrganizationID: "org_1", URL: "https://crm.example.com/hooks", Events: []string{"*"},
		Filter: json.RawMessage(`{"data.amount": {"$regex": "^1"}}`)}
	var ve *webhook.ValidationError
	if errors.As(d.CreateSubscription(ctx, bad), &ve) {
		fmt.Println(ve.Field, "-", ve.Reason)
	}
	// Output:
	// {"amount": 250, "country": "NO"} deliveries: 1
	// {"amount": 250, "country": "DK"} deliveries: 0
	// {"amount": 50, "country": "SE"} deliveries: 0
	// filter["data.amount"]["$regex"] - is not an operator: use $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin or $exists
}
