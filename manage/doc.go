// Package manage is the management API of relayhook's webhooks: an
// http.Handler a host mounts in its own server, on its own authentication,
// so that its customers manage their webhook subscriptions and read their
// deliveries, natively in JSON or through SuperOffice's Webhook routes.
//
// Authorization is the host's: Config.Authorize turns each request into
// an Access (the organization, the actor and the capabilities). The
// handler never takes an organization from the path, query or body, and
// another organization's record is answered exactly as a missing one.
package manage
