package webhook

import (
	"context"
	"encoding/json"
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
	ID string `json:"id"`
	// EventID and OrganizationID identify the Event delivered, EventType
	// is its type (set by the Store when it returns a delivery).
	EventID        string `json:"eventId"`
	EventType      string `json:"eventType,omitempty"`
	OrganizationID string `json:"organizationId"`
	// SubscriptionID is the subscription it goes to.
	SubscriptionID string `json:"subscriptionId"`
	// State is pending, delivered or dead.
	State DeliveryState `json:"state"`
	// Attempts counts every attempt made, redeliveries included: the next
	// attempt is number Attempts+1, so the attempt log never numbers two
	// attempts alike.
	Attempts int `json:"attempts"`
	// NextAttemptAt is when a pending delivery becomes due; zero once it
	// is delivered or dead.
	NextAttemptAt time.Time `json:"nextAttemptAt,omitzero"`
	// LastStatusCode and LastError describe the latest attempt.
	LastStatusCode int    `json:"lastStatusCode,omitempty"`
	LastError      string `json:"lastError,omitempty"`
	// RedeliveredAt is when the delivery was last put back in the queue
	// by hand (Redeliver), zero if never; its retry schedule starts again
	// then. AttemptsAtRedelivery is Attempts as it stood at that moment:
	// the retry schedule counts the attempts after it, and the first of
	// them is logged as Manual.
	RedeliveredAt        time.Time `json:"redeliveredAt,omitzero"`
	AttemptsAtRedelivery int       `json:"-"`
	// CreatedAt is when the delivery was enqueued; UpdatedAt when it last
	// changed.
	CreatedAt time.Time `json:"createdAt"`
	UpdatedAt time.Time `json:"updatedAt"`

	// Lease identifies the claim that holds the delivery, and LeasedUntil
	// when that claim expires. Set by Store.Claim; zero otherwise.
	Lease       string    `json:"-"`
	LeasedUntil time.Time `json:"-"`

	// Event and Subscription are set by Store.Claim to the event delivered
	// and the subscription as it stood at the claim; nil otherwise. They
	// may be shared with the store and must not be modified.
	Event        *Event        `json:"-"`
	Subscription *Subscription `json:"-"`
}

// Attempt is one try at a delivery, as kept in the attempt log.
type Attempt struct {
	// DeliveryID, EventID and SubscriptionID identify what was attempted.
	DeliveryID     string `json:"deliveryId"`
	EventID        string `json:"eventId"`
	SubscriptionID string `json:"subscriptionId"`
	// Number is 1 for the first attempt of a delivery and counts on
	// across redeliveries.
	Number int `json:"number"`
	// Manual is true for the first attempt after a redelivery by hand.
	Manual bool `json:"manual,omitempty"`
	// At is when the attempt started, Duration how long it took.
	At       time.Time     `json:"at"`
	Duration time.Duration `json:"durationNs"`
	// StatusCode is the HTTP status received, 0 when none was.
	StatusCode int `json:"statusCode,omitempty"`
	// ResponseBody is the start of the response body, truncated to the
	// dispatcher's MaxResponseBodyKept.
	ResponseBody string `json:"responseBody,omitempty"`
	// Error describes why the attempt failed, empty on success. It never
	// contains a secret.
	Error string `json:"error,omitempty"`
	// Outcome is what the attempt led to: delivered, pending (to be
	// retried) or dead.
	Outcome DeliveryState `json:"outcome"`
}

// Stats sums up the deliveries of one subscription, or of every current
// subscription of an organization: what a dashboard shows per page view.
// Stores keep them in counters, so reading them costs the same however
// many deliveries are stored.
type Stats struct {
	// Pending, Delivered and Dead count the deliveries kept in each state
	// (pending ones include those in flight).
	Pending   int64 `json:"pending"`
	Delivered int64 `json:"delivered"`
	Dead      int64 `json:"dead"`
	// Since is the start of the window Attempts and Failures count:
	// StatsFilter.Since truncated to the hour (UTC).
	Since time.Time `json:"since"`
	// Attempts counts the attempts logged at or after Since, Failures
	// those of them whose outcome was not delivered.
	Attempts int64 `json:"attempts"`
	Failures int64 `json:"failures"`
	// LastAttemptAt, LastStatusCode and LastError describe the latest
	// attempt (by At) ever logged; zero if none.
	LastAttemptAt  time.Time `json:"lastAttemptAt,omitzero"`
	LastStatusCode int       `json:"lastStatusCode,omitempty"`
	LastError      string    `json:"lastError,omitempty"`
	// OldestPendingAt is the earliest time since which a pending delivery
	// has waited: its CreatedAt, or its RedeliveredAt; zero if none is
	// pending.
	OldestPendingAt time.Time `json:"oldestPendingAt,omitzero"`
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

// Order is the order of a listing.
type Order string

// The orders of a listing. IDs sort by creation time, so ID order is
// creation order.
const (
	// OldestFirst lists in ascending ID order: the default.
	OldestFirst Order = "oldest"
	// NewestFirst lists in descending ID order.
	NewestFirst Order = "newest"
)

// DeliveryFilter selects deliveries for Store.ListDeliveries. Every field
// set must hold for a delivery to be listed.
type DeliveryFilter struct {
	// OrganizationID is required: only its deliveries are listed.
	OrganizationID string
	// SubscriptionID, when set, keeps the deliveries to that subscription.
	SubscriptionID string
	// EventID, when set, keeps the deliveries of that event.
	EventID string
	// EventType, when set, keeps the deliveries of events of that type.
	EventType string
	// State, when set, keeps the deliveries in that state.
	State DeliveryState
	// CreatedFrom and CreatedTo, when non-zero, keep deliveries created
	// in [CreatedFrom, CreatedTo).
	CreatedFrom time.Time
	CreatedTo   time.Time
	// Order is OldestFirst (the default, also for "") or NewestFirst.
	Order Order
	// Page is the page to return.
	Page Page
}

// EventFilter selects events for Store.ListEvents.
type EventFilter struct {
	// OrganizationID is required.
	OrganizationID string
	// Type, when set, keeps the events of that type.
	Type string
	// From and To, when non-zero, keep events whose Timestamp is in
	// [From, To).
	From time.Time
	To   time.Time
	// Order is OldestFirst (the default, also for "") or NewestFirst, by
	// ID.
	Order Order
	// Page is the page to return.
	Page Page
}

// StatsFilter selects what Store.Stats sums up.
type StatsFilter struct {
	// OrganizationID is required.
	OrganizationID string
	// SubscriptionID, when set, is the one subscription summed up;
	// otherwise every current subscription of the organization is.
	SubscriptionID string
	// Since starts the window of Stats.Attempts and Stats.Failures; it
	// is truncated to the hour (UTC).
	Since time.Time
}

// Page asks for one page of a listing.
type Page struct {
	// Limit is the most items to return: 1 to MaxPageLimit; 0 means
	// DefaultPageLimit.
	Limit int
	// Cursor is the NextCursor of the previous page; empty for the first.
	// A cursor is opaque and belongs to the listing, filter aside, and
	// the order that returned it: any other gives ErrInvalidArgument.
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
// returns an error wrapping ErrInvalidArgument for a Page, filter or
// ClaimParams out of range, and for a cursor it did not make for that
// listing and order. Listings are ordered by ID (which sorts by creation
// time) and paginated by an opaque cursor.
//
// Tenancy: every method that reads or changes a subscription, event,
// delivery or attempt on behalf of the host takes the organization, and a
// record of another organization is reported exactly as a missing one, by
// an error wrapping ErrNotFound. The engine's methods (Claim, Finish,
// RecordHealth, NextDue, Wake, Prune) work across organizations on what
// the store hands out itself.
type Store interface {
	// CreateSubscription stores a new subscription as given, including its
	// ID and timestamps. It returns ErrAlreadyExists if the ID is taken
	// (in any organization). It assigns s.Number: a positive number
	// unique in the store, never reused (a counter, an identity column),
	// that s.Number holds when it returns nil. s.Number as given is
	// ignored.
	CreateSubscription(ctx context.Context, s *Subscription) error
	// GetSubscription returns the organization's subscription with the ID.
	GetSubscription(ctx context.Context, orgID, id string) (*Subscription, error)
	// GetSubscriptionByNumber returns the organization's subscription
	// with the Number.
	GetSubscriptionByNumber(ctx context.Context, orgID string, number int64) (*Subscription, error)
	// UpdateSubscription replaces the stored subscription with the same ID
	// and OrganizationID (its ConsecutiveFailures and Number are kept from
	// the store, not taken from s).
	UpdateSubscription(ctx context.Context, s *Subscription) error
	// DeleteSubscription removes the organization's subscription and its
	// pending deliveries; its delivered and dead deliveries and their
	// attempts are kept until pruned.
	DeleteSubscription(ctx context.Context, orgID, id string) error
	// ListSubscriptions returns a page of an organization's subscriptions
	// in ID order, and the cursor of the next page ("" after the last).
	ListSubscriptions(ctx context.Context, orgID string, page Page) (subs []*Subscription, next string, err error)
	// MatchSubscriptions returns the IDs of the Active subscriptions of
	// the organization whose Events match eventType (see
	// Subscription.Matches), in ID order, with their Filters: filters is
	// nil when none of them has one, otherwise of the same length as ids,
	// filters[i] the Filter of ids[i] (nil for none). The filters may be
	// the store's own memory: read them only. Its cost must not grow with
	// the subscriptions that do not match (index by event type).
	MatchSubscriptions(ctx context.Context, orgID, eventType string) (ids []string, filters []json.RawMessage, err error)
	// SetSubscriptionState sets the state of the organization's
	// subscription and its UpdatedAt to now. Setting StateActive also
	// resets ConsecutiveFailures to 0.
	SetSubscriptionState(ctx context.Context, orgID, id string, state State, now time.Time) error
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
	// GetEvent returns the organization's stored event.
	GetEvent(ctx context.Context, orgID, eventID string) (*Event, error)
	// ListEvents returns a page of an organization's events in the
	// filter's order.
	ListEvents(ctx context.Context, f EventFilter) (events []*Event, next string, err error)

	// Claim leases up to p.Limit pending deliveries due at or before p.Now
	// whose lease is unset or expired, in order of NextAttemptAt (ties in
	// any order), skipping subscriptions in p.Exclude and taking at most
	// p.MaxPerSubscription per subscription. Each returned delivery has a
	// fresh Lease, LeasedUntil = p.Now + p.Lease, and Event and
	// Subscription set. While a lease is valid no other Claim returns the
	// delivery. A delivery whose subscription is not Active is not
	// claimable (it waits for re-activation). A subscription with a
	// MaxConcurrency never has more deliveries validly leased at once than
	// it says, counting the leases of every claim on the store (every
	// process's): Claim takes only what its room allows, and NextDue sees
	// its waiting deliveries due no earlier than the first of its leases
	// ends. A Finish that frees a slot of such a subscription with
	// deliveries waiting wakes the dispatchers (see Wake).
	Claim(ctx context.Context, p ClaimParams) ([]*Delivery, error)
	// Finish applies the outcomes of claimed deliveries, each as one
	// atomic change, and clears their leases; see Outcome for stale
	// leases. An outcome for a delivery that no longer exists (its
	// subscription was deleted) is ignored without error. now stamps
	// UpdatedAt. Every attempt logged counts in Stats.
	Finish(ctx context.Context, now time.Time, outcomes []Outcome) error
	// NextDue returns the earliest time at which a Claim may find work:
	// the least, over pending deliveries of Active subscriptions, of the
	// later of NextAttemptAt and LeasedUntil; ok is false when there is no
	// such delivery.
	NextDue(ctx context.Context) (due time.Time, ok bool, err error)
	// Wake returns a channel that is closed the next time deliveries may
	// have become claimable in this store (enqueued, released,
	// redelivered, subscription re-activated). Each call after that
	// returns a new channel. A store that cannot tell returns nil and the
	// dispatcher polls.
	Wake() <-chan struct{}

	// GetDelivery returns the organization's delivery with the ID.
	GetDelivery(ctx context.Context, orgID, id string) (*Delivery, error)
	// ListDeliveries returns a page of the deliveries the filter keeps,
	// in its order.
	ListDeliveries(ctx context.Context, f DeliveryFilter) (deliveries []*Delivery, next string, err error)
	// Redeliver puts the organization's delivered or dead delivery back
	// to Pending, due at now, with RedeliveredAt = now and
	// AttemptsAtRedelivery = Attempts (Attempts is kept). A pending one
	// gives ErrInvalidState; one whose subscription was deleted gives
	// ErrNotFound.
	Redeliver(ctx context.Context, orgID, id string, now time.Time) error
	// ListAttempts returns the attempts of the organization's delivery,
	// oldest first.
	ListAttempts(ctx context.Context, orgID, deliveryID string) ([]*Attempt, error)
	// Stats sums up a subscription's deliveries, or an organization's.
	// Its cost must not grow with the deliveries stored (counters, or an
	// index that bounds the work). A SubscriptionID of another
	// organization, or missing, gives ErrNotFound.
	Stats(ctx context.Context, f StatsFilter) (*Stats, error)

	// Prune deletes up to limit events whose Timestamp is before the
	// cutoff and that have no pending delivery, with their deliveries and
	// attempts, and returns how many events it deleted. Stats keep
	// counting what was pruned until the counters' hours are before the
	// cutoff too; counts by state drop what was pruned.
	Prune(ctx context.Context, before time.Time, limit int) (int, error)
}
