package webhook_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/webhooktest"
)

// exampleSecret is a fixed secret, so the examples' signatures are fixed:
// "whsec_" and the base64 of 32 bytes.
var exampleSecret = "whsec_" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef0123456789abcdef"))

// A dispatcher fans an event out to the matching subscriptions and POSTs
// each a signed body. The fake clock makes the timestamp, and so the
// signature, the same on every run.
func ExampleDispatcher_Dispatch() {
	ctx := context.Background()
	got := make(chan *http.Request, 1)
	bodies := make(chan []byte, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- r
		bodies <- body
	}))
	defer srv.Close()

	d, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{
		Clock:                webhooktest.NewClock(time.Date(2026, 1, 24, 9, 42, 59, 0, time.UTC)),
		AllowPrivateNetworks: true, // the receiver is on loopback
		Logger:               slog.New(slog.DiscardHandler),
	})
	if err != nil {
		panic(err)
	}
	if err := d.Start(ctx); err != nil {
		panic(err)
	}
	defer d.Close(ctx)

	sub := &webhook.Subscription{
		OrganizationID:   "org_1",
		Name:             "CRM sync",
		URL:              srv.URL + "/hooks",
		Events:           []string{"contact.*"},
		Secret:           exampleSecret, // generated when left empty
		CustomParameters: map[string]string{"source": "crm"},
	}
	if err := d.CreateSubscription(ctx, sub); err != nil {
		panic(err)
	}
	res, err := d.Dispatch(ctx, webhook.Event{
		ID:             "evt_1",
		Type:           "contact.created",
		OrganizationID: "org_1",
		Timestamp:      time.Date(2017, 1, 24, 3, 42, 59, 0, time.FixedZone("", -6*3600)),
		Data:           json.RawMessage(`{"id":42,"name":"Ada Lovelace"}`),
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("matched %d, enqueued %d\n", res.Matched, res.Enqueued)

	r, body := <-got, <-bodies
	fmt.Println(r.Method, r.URL.Path, r.Header.Get("Content-Type"))
	for _, h := range []string{webhook.HeaderID, webhook.HeaderTimestamp, webhook.HeaderSignature} {
		fmt.Printf("%s: %s\n", h, r.Header.Get(h))
	}
	fmt.Println(string(body))
	// Output:
	// matched 1, enqueued 1
	// POST /hooks application/json
	// webhook-id: evt_1
	// webhook-timestamp: 1769247779
	// webhook-signature: v1,ZepVqHMqklXigjypi4j5V3h0/M8Pd1eAmtwzHKl+s3s=
	// {"eventTrigger":"contact.created","eventTimestamp":"2017-01-24T03:42:59.000-06:00","organizationId":"org_1","data":{"id":42,"name":"Ada Lovelace"},"customParameters":{"source":"crm"}}
}

// Dispatching the same event ID twice creates no second delivery.
func ExampleDispatcher_Dispatch_idempotent() {
	ctx := context.Background()
	d, err := webhook.NewDispatcher(memstore.New(), nil) // not started: deliveries wait in the store
	if err != nil {
		panic(err)
	}
	defer d.Close(ctx)
	sub := &webhook.Subscription{OrganizationID: "org_1", URL: "https://crm-customer.example/hooks", Events: []string{"*"}}
	if err := d.CreateSubscription(ctx, sub); err != nil {
		panic(err)
	}
	for range 2 {
		res, err := d.Dispatch(ctx, webhook.Event{ID: "evt_7", Type: "sale.changed", OrganizationID: "org_1"})
		if err != nil {
			panic(err)
		}
		fmt.Printf("%s: matched %d, enqueued %d\n", res.EventID, res.Matched, res.Enqueued)
	}
	// Output:
	// evt_7: matched 1, enqueued 1
	// evt_7: matched 1, enqueued 0
}

// CreateSubscription fills in the defaults, and refuses a bad field with a
// *ValidationError naming it; nothing is stored then.
func ExampleDispatcher_CreateSubscription() {
	ctx := context.Background()
	d, err := webhook.NewDispatcher(memstore.New(), nil)
	if err != nil {
		panic(err)
	}
	defer d.Close(ctx)

	sub := &webhook.Subscription{
		OrganizationID: "org_1",
		URL:            "https://crm-customer.example/hooks",
		Events:         []string{"contact.created", "sale.changed"},
		ErrorsEmail:    "ops@crm-customer.example",
		CreatedBy:      "ada",
	}
	if err := d.CreateSubscription(ctx, sub); err != nil {
		panic(err)
	}
	fmt.Println("state:", sub.State, "type:", sub.Type, "format:", sub.Format, "content type:", sub.ContentType)
	fmt.Println("secret generated:", len(sub.Secret) > len(webhook.SecretPrefix), "updated by:", sub.UpdatedBy)

	bad := &webhook.Subscription{OrganizationID: "org_1", URL: "ftp://crm-customer.example", Events: []string{"contact.created"}}
	err = d.CreateSubscription(ctx, bad)
	var ve *webhook.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(errors.Is(err, webhook.ErrInvalidSubscription), ve.Field+":", ve.Reason)
	}
	// Output:
	// state: Active type: webhook format: envelope content type: application/json
	// secret generated: true updated by: ada
	// true url: scheme must be http or https
}
