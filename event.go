package webhook

import (
	"encoding/json"
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
