package webhook

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/relayhook/webhook/internal/ids"
)

// Event is something that happened in the host application, raised with
// [Dispatcher.Dispatch] and delivered to every matching [Subscription].
//
// An Event is identified by its OrganizationID and ID: dispatching the same
// pair twice creates no second set of deliveries. The ID travels as the
// `webhook-id` header, the same on every retry and every subscription, so a
// receiver can de-duplicate on it.
type Event struct {
	// ID identifies the event within its organization. When empty, Dispatch
	// generates one ("evt_" and 26 characters) that sorts by creation time
	// and is unique across organizations. A host that sets its own IDs
	// should keep them unique across organizations too: receivers
	// de-duplicate on webhook-id alone.
	ID string

	// Type is the event's name, such as "contact.created". Required; see
	// [ValidEventType] for its syntax.
	Type string

	// OrganizationID is the tenant the event belongs to; only subscriptions
	// of the same organization receive it. Required.
	OrganizationID string

	// Timestamp is when the event happened. Its zone offset is kept and
	// appears in the Envelope's eventTimestamp. Defaults to the
	// dispatcher's clock at Dispatch.
	Timestamp time.Time

	// Data is the event's JSON payload, stored once per event however many
	// subscriptions receive it. Empty means JSON null. Dispatch refuses
	// Data that is not valid JSON, that has a string which is not valid
	// UTF-8, or that nests arrays and objects deeper than
	// Limits.MaxDataDepth.
	Data json.RawMessage
}

// NewEventID returns a new event ID: "evt_" followed by 26 Crockford base32
// characters, the first 10 of which encode t in milliseconds, so IDs sort by
// time.
func NewEventID(t time.Time) string { return ids.New("evt_", t) }

// Errors callers branch on with [errors.Is].
var (
	// ErrNotFound is returned when a subscription, delivery or event does
	// not exist.
	ErrNotFound = errors.New("webhook: not found")

	// ErrAlreadyExists is returned when a subscription is created with an
	// ID that is already taken.
	ErrAlreadyExists = errors.New("webhook: already exists")

	// ErrInvalidSubscription is wrapped by every *ValidationError about a
	// Subscription.
	ErrInvalidSubscription = errors.New("webhook: invalid subscription")

	// ErrInvalidEvent is wrapped by every *ValidationError about an Event.
	ErrInvalidEvent = errors.New("webhook: invalid event")

	// ErrInvalidConfig is wrapped by every *ValidationError about a Config.
	ErrInvalidConfig = errors.New("webhook: invalid config")

	// ErrInvalidArgument is wrapped by every *ValidationError about another
	// argument, such as a page size or a time range.
	ErrInvalidArgument = errors.New("webhook: invalid argument")

	// ErrDispatcherClosed is returned by Dispatcher methods called after
	// Close.
	ErrDispatcherClosed = errors.New("webhook: dispatcher closed")

	// ErrAlreadyStarted is returned by a second call to Dispatcher.Start.
	ErrAlreadyStarted = errors.New("webhook: dispatcher already started")

	// ErrUnknownFormat is returned when a subscription names a format that
	// is not registered on the dispatcher.
	ErrUnknownFormat = errors.New("webhook: unknown format")

	// ErrUnknownType is returned when a subscription names a type that has
	// no registered Sender.
	ErrUnknownType = errors.New("webhook: unknown subscription type")

	// ErrInvalidState is returned when an operation does not apply to the
	// current state of a record, such as redelivering a pending delivery.
	ErrInvalidState = errors.New("webhook: invalid state")
)

// ValidationError reports one bad field of an input. It wraps one of
// ErrInvalidSubscription, ErrInvalidEvent, ErrInvalidConfig or
// ErrInvalidArgument, so errors.Is works on those, and errors.As gives the
// field's name. Its message never contains a secret.
type ValidationError struct {
	// Kind is the sentinel the error wraps, such as ErrInvalidSubscription.
	Kind error
	// Field is the name of the offending field as in the Go struct, with
	// a key or index where useful: "URL", "Headers[X-Foo]", "Events[2]".
	Field string
	// Reason says what is wrong, in words.
	Reason string
}

// Error names the kind of input, the field and the reason.
func (e *ValidationError) Error() string {
	return fmt.Sprintf("%v: %s: %s", e.Kind, e.Field, e.Reason)
}

// Unwrap returns Kind.
func (e *ValidationError) Unwrap() error { return e.Kind }

func invalid(kind error, field, format string, args ...any) error {
	return &ValidationError{Kind: kind, Field: field, Reason: fmt.Sprintf(format, args...)}
}

// Clock tells the time and makes timers. The dispatcher reads every time
// from its Clock (due times, retry schedules, timestamps), so a test can
// drive retries by advancing a fake clock instead of sleeping
// (webhooktest.Clock is one). Attempt timeouts use real time.
//
// A Clock must be safe for concurrent use.
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// NewTimer returns a timer that fires once d has elapsed on this clock.
	NewTimer(d time.Duration) Timer
}

// Timer is a one-shot timer made by a Clock.
type Timer interface {
	// C returns the channel on which the time is delivered.
	C() <-chan time.Time
	// Stop prevents the timer from firing; it reports whether it did.
	Stop() bool
}

// SystemClock is the Clock of the operating system, the default.
type SystemClock struct{}

// Now returns time.Now().
func (SystemClock) Now() time.Time { return time.Now() }

// NewTimer returns a time.Timer wrapped as a Timer.
func (SystemClock) NewTimer(d time.Duration) Timer { return sysTimer{time.NewTimer(d)} }

type sysTimer struct{ t *time.Timer }

func (t sysTimer) C() <-chan time.Time { return t.t.C }
func (t sysTimer) Stop() bool          { return t.t.Stop() }
