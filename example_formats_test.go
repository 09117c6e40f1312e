package webhook_test

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/relayhook/webhook"
)

// A subscription selects a body format by name. FormatAgileCRM sends what
// an Agile CRM subscriber expects.
func ExampleAgileCRM() {
	ev := &webhook.Event{
		ID:             "evt_1",
		Type:           "deal.updated",
		OrganizationID: "org_1",
		Timestamp:      time.Date(2026, 1, 24, 9, 42, 59, 0, time.UTC),
		Data:           json.RawMessage(`{"id":7,"name":"Renewal","expected_value":1200}`),
	}
	sub := &webhook.Subscription{Format: webhook.FormatAgileCRM, Events: []string{"deal.*"}}
	body, contentType, err := webhook.AppendBody(nil, webhook.AgileCRM, ev, sub)
	if err != nil {
		panic(err)
	}
	fmt.Println(contentType)
	fmt.Println(string(body))
	// Output:
	// application/json
	// {"eventName":"Deal is Updated","eventData":{"id":7,"name":"Renewal","expected_value":1200}}
}

func ExampleAgileCRMEventName() {
	for _, t := range []string{"contact.created", "contact.updated", "deal.created", "contact.tag_added", "contact.address.changed", "ping"} {
		fmt.Printf("%-24s %s\n", t, webhook.AgileCRMEventName(t))
	}
	// Output:
	// contact.created          Contact is Created
	// contact.updated          Contact is Updated
	// deal.created             Deal is Created
	// contact.tag_added        Contact is Tag Added
	// contact.address.changed  Contact Address is Changed
	// ping                     Ping
}

// FormatGeneric puts the organization and the subscription's custom
// parameters in current_context; the API key the receiver checks travels
// as a custom header.
func ExampleGeneric() {
	ev := &webhook.Event{
		ID:             "evt_2",
		Type:           "contact.created",
		OrganizationID: "org_1",
		Timestamp:      time.Date(2017, 1, 24, 3, 42, 59, 0, time.FixedZone("", -6*3600)),
		Data:           json.RawMessage(`{"id":42,"email":"ada@example.com"}`),
	}
	sub := &webhook.Subscription{
		Format:           webhook.FormatGeneric,
		Headers:          map[string]string{"X-Api-Key": "k_live_123"},
		CustomParameters: map[string]string{"user_id": "u_9", "organization_id": "ignored"},
	}
	body, err := webhook.Generic.AppendJSON(nil, ev, sub)
	if err != nil {
		panic(err)
	}
	fmt.Println(string(body))

	// Without custom parameters, with no data and in UTC:
	ev.Timestamp, ev.Data = ev.Timestamp.UTC(), nil
	body, _ = webhook.Generic.AppendJSON(nil, ev, &webhook.Subscription{})
	fmt.Println(string(body))
	// Output:
	// {"event_time":"2017-01-24T03:42:59.000-06:00","event_type":"contact.created","current_context":{"organization_id":"org_1","user_id":"u_9"},"data":{"id":42,"email":"ada@example.com"}}
	// {"event_time":"2017-01-24T09:42:59.000Z","event_type":"contact.created","current_context":{"organization_id":"org_1"},"data":null}
}
