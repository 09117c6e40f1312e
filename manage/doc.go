// Package manage is the management API of relayhook's webhooks: an
// http.Handler a host mounts in its own server, on its own authentication,
// so that its customers manage their webhook subscriptions and read their
// deliveries, natively in JSON or through SuperOffice's Webhook routes.
//
// # Mounting
//
//	api := manage.NewHandler(d, &manage.Config{Authorize: authorize})
//	mux.Handle("/webhooks/api/", http.StripPrefix("/webhooks/api", api))
//
// # Authorization
//
// Authorization is the host's: Config.Authorize turns each request into
// an Access (the organization, the actor and the capabilities), before
// anything is read or changed. An error, or an Access without an
// organization, is answered 401; a capability missing for the route
// (CanRead for reads, CanManage for changes, CanRevealSecrets for the
// secret) 403. The handler never takes an organization from the path,
// query or body, and another organization's record is answered exactly as
// a missing one: 404.
//
// # Routes
//
// Subscriptions: GET and POST /subscriptions; GET, PUT, PATCH (a JSON
// merge patch) and DELETE /subscriptions/{id}; POST
// /subscriptions/{id}/pause, /resume, /rotate-secret, /test (an event of
// the catalog to this endpoint only), /redeliver (bulk retry, with a dry
// run) and /replay; GET /subscriptions/{id}/secret, /stats and
// /deliveries. Deliveries: GET /deliveries, GET /deliveries/{id} (with its
// attempts), POST /deliveries/{id}/redeliver. Events: GET /events and
// /events/{id} (with its deliveries); GET /event-types; GET /stats. GET
// /openapi.json serves the OpenAPI 3.1 document of them all (OpenAPI).
// Listings are newest first where they have an order parameter, and
// paginated by limit and cursor, with nextCursor in the answer.
//
// A subscription's JSON carries its delivery controls (filter,
// maxConcurrency, rateLimit, ordered) in create, PUT, PATCH and every
// answer; a PATCH merges into filter and rateLimit key by key, and null
// clears them.
//
// With Config.SuperOffice, GET and POST /api/v1/Webhook and GET, PUT and
// DELETE /api/v1/Webhook/{id} serve subscriptions as SuperOffice's Webhook
// entity: PascalCase fields, WebhookId the subscription's Number, $select
// and _Links.
//
// # Errors
//
// Every error is application/problem+json (RFC 9457, a Problem) naming
// the bad fields as the JSON does: malformed JSON 400, a bad query
// parameter 400, a body over Config.MaxBodyBytes 413, a body that is not
// JSON 415, an unknown route 404, a wrong method 405, a state conflict
// 409, a bad field 422 (unknown fields included; a filter's bad part as
// filter["data.amount"]["$gte"]), a full store (webhook.ErrStoreFull, on
// test, replay and redeliver) 503 with Retry-After: StoreFullRetryAfter
// seconds. Bad input changes
// nothing. No answer holds a secret, but those of create, rotate-secret
// and secret.
//
// # Audit
//
// Config.Audit is told of every change (a Change: who, which
// organization, what, the subscription before and after with its secrets
// removed).
package manage
