// Package webhook sends outbound webhooks from inside a Go application.
//
// A host application (a CRM backend, a Go monolith) stores its customers'
// subscriptions through a [Dispatcher] and calls [Dispatcher.Dispatch]
// whenever something happens. The dispatcher fans the [Event] out to every
// matching [Subscription] of the event's organization, signs each HTTP POST
// per the Standard Webhooks specification, retries failures on a durable
// schedule, turns off endpoints that keep failing, and logs every attempt.
// It runs in the host's process: on the in-memory store (package memstore)
// by default, on PostgreSQL (module pgstore) when the host runs many
// replicas.
//
// # Getting started
//
//	store := memstore.New()
//	d, err := webhook.NewDispatcher(store, nil) // nil: the defaults
//	if err != nil { ... }
//	_ = d.Start(ctx)
//	defer d.Close(ctx)
//
//	sub := &webhook.Subscription{
//		OrganizationID: "org_1",
//		URL:            "https://crm-customer.example/hooks",
//		Events:         []string{"contact.*"},
//	}
//	_ = d.CreateSubscription(ctx, sub) // fills ID, Secret ("whsec_..."), State
//
//	res, err := d.Dispatch(ctx, webhook.Event{
//		Type:           "contact.created",
//		OrganizationID: "org_1",
//		Data:           json.RawMessage(`{"id":42}`),
//	})
//
// Once Dispatch returns nil, one delivery per matching Active subscription
// is in the Store; with a durable Store it survives a crash.
//
// # What a subscriber receives
//
// A POST whose body is, by default, the Envelope (see [FormatEnvelope]):
//
//	{"eventTrigger":"contact.created","eventTimestamp":"2017-01-24T03:42:59.000-06:00",
//	 "organizationId":"org_1","data":{"id":42},"customParameters":{}}
//
// as application/json, or in the form field "payload" of an
// application/x-www-form-urlencoded body. Other body shapes are formats
// registered by name in [Config.Formats] and selected by
// [Subscription.Format]. The headers webhook-id (the event's ID, the same
// on every retry), webhook-timestamp and webhook-signature
// ("v1,<base64 HMAC-SHA256>") let any Standard Webhooks receiver verify
// the request; this package's own receiving side is [Verify],
// [Verifier.Verify] and [Verifier.Middleware].
//
// # Delivery semantics
//
// Delivery is at least once: a delivery is finished only after its outcome
// is written to the Store, and a delivery claimed by a process that dies is
// claimed again when its lease expires. Receivers de-duplicate on
// webhook-id. Dispatching the same (OrganizationID, ID) twice creates no
// second delivery.
//
// Any answer other than 2xx, a network error or a timeout is retried on the
// [RetryPolicy]'s schedule (by default exponential with jitter, for 24
// hours); Retry-After on 429 and 503 is honoured; 410 Gone stops the
// subscription. A delivery that runs out of retries is dead: kept, and
// redelivered by [Dispatcher.Redeliver] or [Dispatcher.RedeliverAll].
// After [Config.FailureThreshold] consecutive failures a subscription turns
// to [StateTooManyErrors], receives nothing more until re-activated with
// [Dispatcher.SetSubscriptionState], and the [Notifier] is told.
// [Dispatcher.Replay] then sends the events it missed.
//
// # Isolation
//
// A bounded pool of workers ([Config.Workers]) makes attempts; at most
// [Config.MaxPerSubscription] of them go to one subscription at once, and
// the Store skips a subscription at that cap when claiming, so a slow or
// hanging endpoint never holds up the others. Every attempt has a timeout,
// redirects are not followed, and at most a few KiB of each response is
// read. Subscription URLs that resolve to loopback, private, link-local or
// metadata addresses are refused when saved and again at dial time, unless
// [Config.AllowPrivateNetworks] or [Config.AllowedNetworks] say otherwise.
//
// # Per-subscription controls
//
// A subscription can narrow what it receives with a payload [Subscription.Filter]
// (checked at Dispatch, so a non-matching event creates no delivery), cap
// its attempts in flight with [Subscription.MaxConcurrency], space them
// with a [Subscription.RateLimit], and ask for [Subscription.Ordered]
// delivery: one at a time, in dispatch order. Every dispatcher on a store
// honours them.
//
// # The host's customers
//
// [Config.EventTypes] is the catalog of event types a host sends; once
// set, subscription patterns must match one of them, and
// [Dispatcher.SendTest] sends a type's example to one subscription. Every
// read and write that names a record takes the organization, and another
// organization's record is [ErrNotFound]. Package manage is a management
// API (JSON, problem+json, an OpenAPI document, SuperOffice's Webhook
// routes) and package portal a settings page, both http.Handlers mounted
// on the host's own authentication; module webhookotel adapts
// [Config.Instrumentation] to OpenTelemetry traces and metrics.
//
// # Testing
//
// Time comes from a [Clock]; package webhooktest has a fake one that a test
// advances to drive retry schedules without sleeping, a recording receiver
// and a dispatcher wired for tests.
//
// # Stores
//
// [Store] is the contract between the dispatcher and its storage; package
// storetest is the conformance suite every implementation passes.
package webhook
