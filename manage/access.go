package manage

import (
	"net/http"
	"time"

	"github.com/relayhook/webhook"
)

// Capability is a set of things a caller may do, as a bit set:
// CanRead|CanManage. The portal package uses the same capabilities.
type Capability uint8

// The capabilities.
const (
	// CanRead reads subscriptions (never their secrets), deliveries with
	// their attempts, events, statistics and the event-type catalog.
	CanRead Capability = 1 << iota
	// CanManage creates, changes, pauses, resumes and deletes
	// subscriptions, rotates their secrets, sends test events, and
	// redelivers and replays deliveries. It implies nothing else: give
	// CanRead beside it.
	CanManage
	// CanRevealSecrets shows a subscription's current signing secret.
	CanRevealSecrets
)

// Has reports whether every capability of c is in a.
func (a Capability) Has(c Capability) bool { return a&c == c }

// Access is what the host's Authorize callback says of a request: whose
// webhooks it reaches and what it may do with them.
type Access struct {
	// OrganizationID is the tenant: every record read or written belongs
	// to it, and another organization's is reported as missing. Required:
	// an empty one is treated as unauthorized.
	OrganizationID string
	// Actor names who acts (a user or API key ID), recorded as the
	// subscription's CreatedBy and UpdatedBy and in the audit Change.
	Actor string
	// Capabilities is what the caller may do.
	Capabilities Capability
}

// AuthorizeFunc is the host's own check of a request (its session cookie,
// its API token): it returns the caller's Access, or an error when the
// request is not authenticated, which is answered 401 without its text.
// It is called once per request and must be safe for concurrent use.
type AuthorizeFunc func(r *http.Request) (Access, error)

// Change is one change of webhook configuration or delivery, for an audit
// log: told to the AuditFunc after it is made.
type Change struct {
	// At is when the change was made (the dispatcher's clock).
	At time.Time
	// OrganizationID and Actor come from the request's Access.
	OrganizationID string
	Actor          string
	// Action names the change: one of the Action constants.
	Action Action
	// SubscriptionID is the subscription changed or whose deliveries were.
	SubscriptionID string
	// DeliveryID is the delivery redelivered, for ActionRedeliver.
	DeliveryID string
	// Count is how many deliveries ActionRedeliverAll or ActionReplay
	// queued.
	Count int
	// Before and After are the subscription before and after the change
	// (nil when it did not exist), their secrets and passwords removed.
	Before, After *webhook.Subscription
}

// Action names a Change.
type Action string

// The actions of a Change.
const (
	ActionCreate       Action = "subscription.created"
	ActionUpdate       Action = "subscription.updated"
	ActionDelete       Action = "subscription.deleted"
	ActionPause        Action = "subscription.paused"
	ActionResume       Action = "subscription.resumed"
	ActionRotateSecret Action = "subscription.secret_rotated"
	ActionRevealSecret Action = "subscription.secret_revealed"
	ActionSendTest     Action = "subscription.test_sent"
	ActionRedeliver    Action = "delivery.redelivered"
	ActionRedeliverAll Action = "deliveries.redelivered"
	ActionReplay       Action = "deliveries.replayed"
)

// AuditFunc is told of every Change, after it is made, from the request's
// goroutine. It must be safe for concurrent use.
type AuditFunc func(Change)

// Redacted returns a copy of s without its secret, previous secrets' values
// and basic-auth password, for an audit log; nil for nil.
func Redacted(s *webhook.Subscription) *webhook.Subscription {
	if s == nil {
		return nil
	}
	c := s.Clone()
	c.Secret = ""
	for i := range c.PreviousSecrets {
		c.PreviousSecrets[i].Secret = ""
	}
	if c.BasicAuth != nil {
		c.BasicAuth.Password = ""
	}
	return c
}
