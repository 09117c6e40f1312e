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
//
// Its JSON form uses the names of the management API: id, type,
// organizationId, timestamp (RFC 3339, left out when zero) and data (the
// payload as raw JSON, null when empty).
type Event struct {
	// ID identifies the event within its organization. When empty, Dispatch
	// generates one ("evt_" and 26 characters) that sorts by creation time
	// and is unique across organizations. A host that sets its own IDs
	// should keep them unique across organizations too: receivers
	// de-duplicate on webhook-id alone.
	ID string `json:"id,omitempty"`

	// Type is the event's name, such as "contact.created". Required; see
	// [ValidEventType] for its syntax.
	Type string `json:"type"`

	// OrganizationID is the tenant the event belongs to; only subscriptions
	// of the same organization receive it. Required.
	OrganizationID string `json:"organizationId"`

	// Timestamp is when the event happened. Its zone offset is kept and
	// appears in the Envelope's eventTimestamp. Defaults to the
	// dispatcher's clock at Dispatch.
	Timestamp time.Time `json:"timestamp,omitzero"`

	// Data is the event's JSON payload, stored once per event however many
	// subscriptions receive it. Empty means JSON null. Dispatch refuses
	// Data that is not valid JSON, that has a string which is not valid
	// UTF-8, or that nests arrays and objects deeper than
	// Limits.MaxDataDepth.
	Data json.RawMessage `json:"data"`

	// Trace is the host's trace context when the event was dispatched,
	// stored with it and handed back with every attempt (see
	// Instrumentation). Dispatch sets it from
	// Instrumentation.CaptureTrace when empty. Not part of the JSON form:
	// it describes the host's traces, not the event.
	Trace TraceContext `json:"-"`
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
	// is not registered on the dispatcher: by CreateSubscription and
	// UpdateSubscription as the cause (Err) of a *ValidationError about
	// "format", and in the error of an attempt whose subscription names a
	// format no longer registered.
	ErrUnknownFormat = errors.New("webhook: unknown format")

	// ErrUnknownType is returned when a subscription names a type that has
	// no registered Sender: by CreateSubscription and UpdateSubscription
	// as the cause (Err) of a *ValidationError about "type", and in the
	// error of an attempt whose subscription names a type no longer
	// registered.
	ErrUnknownType = errors.New("webhook: unknown subscription type")

	// ErrUnknownEventType is the cause (Err) of a *ValidationError when a
	// catalog is set (Config.EventTypes) and a subscription's pattern
	// matches no catalogued type, or SendTest names a type not in it.
	ErrUnknownEventType = errors.New("webhook: unknown event type")

	// ErrInvalidState is returned when an operation does not apply to the
	// current state of a record, such as redelivering a pending delivery.
	ErrInvalidState = errors.New("webhook: invalid state")
)

// ValidationError reports one bad field of an input. It wraps one of
// ErrInvalidSubscription, ErrInvalidEvent, ErrInvalidConfig or
// ErrInvalidArgument (its Kind), and its cause when there is one (Err), so
// errors.Is works on both, and errors.As gives the field's name. Its
// message never contains a secret.
//
// Field and Reason are meant for the host's customers: a management API
// can put them in its answer as they are. Hint is for the host's own logs,
// and Err for the host's code to branch on.
type ValidationError struct {
	// Kind is the sentinel the error wraps, such as ErrInvalidSubscription.
	Kind error
	// Field names the offending field.
	//
	// For a Subscription or an Event it is the field's path in the JSON
	// form of the record, the names its JSON tags give: object keys joined
	// by ".", an array index in brackets, and a map key in brackets as a
	// JSON string (so a key holding dots, quotes or brackets stays
	// unambiguous), cut to 64 bytes with "…". For example "url",
	// "events[2]", "basicAuth.password", "previousSecrets[0].expiresAt",
	// `headers["X-Custom"]`, "customParameters", `properties["data"]`; for
	// an event "type", "organizationId", "id", "data". A map's own name
	// alone ("headers") means the map as a whole, or a key that cannot be
	// shown.
	//
	// A Config has no JSON form: its fields are named as in the Go struct
	// ("Workers", "Limits.MaxNameLength", "AllowedNetworks[1]"). Another
	// argument is named as the Go parameter ("newSecret", "state").
	Field string
	// Reason says what is wrong, in words a host's customer can read: it
	// names no Go identifier of the host's configuration.
	Reason string
	// Hint, when set, tells the host's developers or operators which part
	// of the Go configuration decides the matter, such as
	// "Config.HTTPSOnly". It is for the host's logs, not for customers: a
	// management API should leave it out of its answers. Error includes
	// it after the reason.
	Hint string
	// Err, when set, is the cause, a sentinel or error of its own that
	// callers branch on: ErrUnknownFormat, ErrUnknownType,
	// ErrUnknownEventType, or an
	// *AddressError (wrapping ErrAddressNotAllowed) for a URL the address
	// policy refuses. Reason already describes it.
	Err error
}

// Error names the kind of input, the field and the reason, then the hint
// in parentheses when there is one.
func (e *ValidationError) Error() string {
	msg := fmt.Sprintf("%v: %s: %s", e.Kind, e.Field, e.Reason)
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return msg
}

// Unwrap returns Kind and, when set, Err, so errors.Is and errors.As see
// both.
func (e *ValidationError) Unwrap() []error {
	if e.Err == nil {
		return []error{e.Kind}
	}
	return []error{e.Kind, e.Err}
}

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
