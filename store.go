package webhook

import (
	"context"
	"time"
)

// DeliveryState is where a Delivery stands.
type DeliveryState string

// The states of a Delivery. A delivery is created Pending; a claim leases it
// without changing its state; it ends Delivered or Dead, and a Dead (or
// Delivered) one can be put back to Pending by a redelivery.
const (
	DeliveryPending   DeliveryState = "pending"
	DeliveryDelivered DeliveryState = "delivered"
	DeliveryDead      DeliveryState = "dead"
)

// Delivery is one event on its way to one subscription: the unit the queue
// schedules, leases and retries. At most one Delivery exists per
// (EventID, SubscriptionID).
type Delivery struct {
	// ID identifies the delivery ("dlv_" and 26 characters).
	ID string
	// EventID and OrganizationID identify the Event delivered.
	EventID        string
	OrganizationID string
	// SubscriptionID is the subscription it goes to.
	SubscriptionID string
	// State is pending, delivered or dead.
	State DeliveryState
	// Attempts counts the attempts made so far (since the last
	// redelivery).
	Attempts int
	// NextAttemptAt is when a pending delivery becomes due.
	NextAttemptAt time.Time
	// LastStatusCode and LastError describe the latest attempt.
	LastStatusCode int
	LastError      string
	// CreatedAt is when the delivery was enqueued; UpdatedAt when it last
	// changed.
	CreatedAt time.Time
	UpdatedAt time.Time

	// Lease identifies the claim that holds the delivery, and LeasedUntil
	// when that claim expires. Set by Store.Claim; zero otherwise.
	Lease       string
	LeasedUntil time.Time

	// Event and Subscription are set by Store.Claim to the event delivered
	// and the subscription as it stood at the claim; nil otherwise. They
	// may be shared with the store and must not be modified.
	Event        *Event
	Subscription *Subscription
}

// Attempt is one try at a delivery, as kept in the attempt log.
type Attempt struct {
	// DeliveryID, EventID and SubscriptionID identify what was attempted.
	DeliveryID     string
	EventID        string
	SubscriptionID string
	// Number is 1 for the first attempt of a delivery (after a
	// redelivery, numbering starts again at 1).
	Number int
	// At is when the attempt started, Duration how long it took.
	At       time.Time
	Duration time.Duration
	// StatusCode is the HTTP status received, 0 when none was.
	StatusCode int
	// ResponseBody is the start of the response body, truncated to the
	// dispatcher's MaxResponseBodyKept.
	ResponseBody string
	// Error describes why the attempt failed, empty on success. It never
	// contains a secret.
	Error string
	// Outcome is what the attempt led to: delivered, pending (to be
	// retried) or dead.
	Outcome DeliveryState
}

// Outcome is the result of one claimed delivery, written by Store.Finish.
type Outcome struct {
	// DeliveryID and Lease name the claimed delivery. An outcome whose
	// lease is no longer held (it expired and the delivery was claimed
	// again, or was finished) changes nothing but its Attempt, which is
	// still logged.
	DeliveryID string
	Lease      string
	// State is the delivery's new state: DeliveryDelivered,
	// DeliveryDead, or DeliveryPending to try again at NextAttemptAt.
	State         DeliveryState
	NextAttemptAt time.Time
	// Attempt is appended to the attempt log, and the delivery's Attempts
	// (= Attempt.Number), LastStatusCode and LastError are taken from it.
	// Nil releases the delivery: no attempt is counted (used when a
	// dispatcher shuts down before sending it); a zero NextAttemptAt then
	// keeps the delivery's due time.
	Attempt *Attempt
}

// ClaimParams says what Store.Claim may take.
type ClaimParams struct {
	// Now is the current time: deliveries due at or before it are
	// claimable, and leases expired by it are void.
	Now time.Time
	// Limit is the most deliveries to return. Must be positive.
	Limit int
	// Lease is how long the claim holds each delivery. Must be positive.
	Lease time.Duration
	// MaxPerSubscription caps how many deliveries of one subscription a
	// single call returns; 0 means no cap.
	MaxPerSubscription int
	// Exclude lists subscriptions whose deliveries must not be claimed
	// (their endpoints are at the dispatcher's concurrency cap).
	Exclude []string
}

// DeliveryFilter selects deliveries for Store.ListDeliveries.
type DeliveryFilter struct {
	// SubscriptionID, when set, keeps the deliveries to that subscription.
	SubscriptionID string
	// State, when set, keeps the deliveries in that state.
	State DeliveryState
	// CreatedFrom and CreatedTo, when non-zero, keep deliveries created
	// in [CreatedFrom, CreatedTo).
	CreatedFrom time.Time
	CreatedTo   time.Time
	// Page is the page to return.
	Page Page
}

// EventFilter selects events for Store.ListEvents.
type EventFilter struct {
	// OrganizationID is required.
	OrganizationID string
	// From and To, when non-zero, keep events whose Timestamp is in
	// [From, To).
	From time.Time
	To   time.Time
	// Page is the page to return.
	Page Page
}

// Page asks for one page of a listing.
type Page struct {
	// Limit is the most items to return: 1 to MaxPageLimit; 0 means
	// DefaultPageLimit.
	Limit int
	// Cursor is the NextCursor of the previous page; empty for the first.
	Cursor string
}

// Page limits.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 1000
)

// Store keeps subscriptions, events, the delivery queue and the attempt log.
// The memstore package holds them in memory; pgstore in PostgreSQL. The
// storetest package is the conformance suite every implementation must pass.
//
// All methods may be called concurrently, from one process or (for a shared
// store such as PostgreSQL) from many. Methods that take records copy what
// they keep, and methods that return records return copies the caller owns,
// except Delivery.Event and Delivery.Subscription from Claim. Inputs are
// validated by the Dispatcher before they reach the Store; a Store still
// returns an error wrapping ErrInvalidArgument for a Page or ClaimParams out
// of range. Lookups of a missing record return an error wrapping
// ErrNotFound. Listings are ordered by ID (which sorts by creation time) and
// paginated by an opaque cursor.
type Store interface {
	// CreateSubscription stores a new subscription as given, including its
	// ID and timestamps. It returns ErrAlreadyExists if the ID is taken.
	CreateSubscription(ctx context.Context, s *Subscription) error
	// GetSubscription returns the subscription with the ID.
	GetSubscription(ctx context.Context, id string) (*Subscription, error)
	// UpdateSubscription replaces the stored subscription with the same ID
	// (its ConsecutiveFailures is kept from the store, not taken from s).
	UpdateSubscription(ctx context.Context, s *Subscription) error
	// DeleteSubscription removes the subscription and its pending
	// deliveries; its delivered and dead deliveries and their attempts are
	// kept until pruned.
	DeleteSubscription(ctx context.Context, id string) error
	// ListSubscriptions returns a page of an organization's subscriptions
	// in ID order, and the cursor of the next page ("" after the last).
	ListSubscriptions(ctx context.Context, orgID string, page Page) (subs []*Subscription, next string, err error)
	// MatchSubscriptions returns the Active subscriptions of the
	// organization whose Events match eventType (see Subscription.Matches),
	// in ID order. Its cost must not grow with the subscriptions that do
	// not match (index by event type).
	MatchSubscriptions(ctx context.Context, orgID, eventType string) ([]*Subscription, error)
	// SetSubscriptionState sets the state of a subscription and its
	// UpdatedAt to now. Setting StateActive also resets
	// ConsecutiveFailures to 0.
	SetSubscriptionState(ctx context.Context, id string, state State, now time.Time) error
	// RecordHealth updates a subscription after an attempt: a success
	// resets ConsecutiveFailures to 0; a failure increments it and, when it
	// reaches threshold (if threshold > 0) while the subscription is
	// Active, sets its state to StateTooManyErrors and returns tripped =
	// true. Exactly one of concurrent callers sees tripped for one trip.
	RecordHealth(ctx context.Context, id string, ok bool, threshold int, now time.Time) (tripped bool, err error)

	// Enqueue stores ev (if no event with its OrganizationID and ID is
	// stored yet) and the deliveries, atomically: after it returns nil
	// all are durable, after an error none is. A delivery whose
	// (EventID, SubscriptionID) already exists is skipped, as are its
	// later duplicates in the same call. It returns how many deliveries
	// were created. The deliveries are Pending, due at their
	// NextAttemptAt.
	Enqueue(ctx context.Context, ev *Event, deliveries []*Delivery) (created int, err error)
	// GetEvent returns the stored event.
	GetEvent(ctx context.Context, orgID, eventID string) (*Event, error)
	// ListEvents returns a page of an organization's events in ID order.
	ListEvents(ctx context.Context, f EventFilter) (events []*Event, next string, err error)

	// Claim leases up to p.Limit pending deliveries due at or before p.Now
	// whose lease is unset or expired, in order of NextAttemptAt (ties in
	// any order), skipping subscriptions in p.Exclude and taking at most
	// p.MaxPerSubscription per subscription. Each returned delivery has a
	// fresh Lease, LeasedUntil = p.Now + p.Lease, and Event and
	// Subscription set. While a lease is valid no other Claim returns the
	// delivery. A delivery whose subscription is not Active is not
	// claimable (it waits for re-activation).
	Claim(ctx context.Context, p ClaimParams) ([]*Delivery, error)
	// Finish applies the outcomes of claimed deliveries, each as one
	// atomic change, and clears their leases; see Outcome for stale
	// leases. An outcome for a delivery that no longer exists (its
	// subscription was deleted) is ignored without error. now stamps
	// UpdatedAt.
	Finish(ctx context.Context, now time.Time, outcomes []Outcome) error
	// NextDue returns the earliest time at which a Claim may find work:
	// the least, over pending deliveries of Active subscriptions, of the
	// later of NextAttemptAt and LeasedUntil; ok is false when there is no
	// such delivery.
	NextDue(ctx context.Context) (due time.Time, ok bool, err error)
	// Notify returns a channel that is closed the next time deliveries may
	// have become claimable in this store (enqueued, released,
	// redelivered, subscription re-activated). Each call after that
	// returns a new channel. A store that cannot tell returns nil and the
	// dispatcher polls.
	Notify() <-chan struct{}

	// GetDelivery returns the delivery with the ID.
	GetDelivery(ctx context.Context, id string) (*Delivery, error)
	// ListDeliveries returns a page of deliveries in ID order.
	ListDeliveries(ctx context.Context, f DeliveryFilter) (deliveries []*Delivery, next string, err error)
	// Redeliver puts a delivered or dead delivery back to Pending, due at
	// now, with Attempts reset to 0. A pending one gives ErrInvalidState.
	Redeliver(ctx context.Context, id string, now time.Time) error
	// ListAttempts returns the attempts of a delivery, oldest first.
	ListAttempts(ctx context.Context, deliveryID string) ([]*Attempt, error)

	// Prune deletes up to limit events whose Timestamp is before the
	// cutoff and that have no pending delivery, with their deliveries and attempts, and
	// returns how many events it deleted.
	Prune(ctx context.Context, before time.Time, limit int) (int, error)
}
