package webhook

import (
	"context"
	"net/http"
	"time"
)

// TraceContext is a W3C Trace Context (https://www.w3.org/TR/trace-context/)
// in its header form: what was current in the host when an event was
// dispatched, kept with the event so that every attempt at it, however
// late and in whichever process, can be linked to the host's trace. The
// library only stores and hands it back; Instrumentation.CaptureTrace
// makes it, and an adapter such as webhookotel reads it.
type TraceContext struct {
	// Traceparent is the traceparent header's value, such as
	// "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"; empty
	// when there was none.
	Traceparent string `json:"traceparent,omitempty"`
	// Tracestate is the tracestate header's value; empty when there was
	// none.
	Tracestate string `json:"tracestate,omitempty"`
}

// Limits of a TraceContext: longer (or non-printable) values captured
// at Dispatch are dropped, not stored.
const (
	MaxTraceparentLength = 55  // "00-" + 32 + "-" + 16 + "-" + 2 hex digits
	MaxTracestateLength  = 512 // the W3C limit of 32 list members, in practice
)

// IsZero reports whether tc holds nothing.
func (tc TraceContext) IsZero() bool { return tc == TraceContext{} }

// valid reports whether tc fits the limits and is printable ASCII.
func (tc TraceContext) valid() bool {
	return len(tc.Traceparent) <= MaxTraceparentLength && len(tc.Tracestate) <= MaxTracestateLength &&
		printable(tc.Traceparent) && printable(tc.Tracestate)
}

// Instrumentation holds the hooks through which tracing and metrics
// adapters (webhookotel for OpenTelemetry) observe the dispatcher. The
// core knows no tracing library: it captures an opaque TraceContext at
// Dispatch, stores it with the event, and gives it back with every
// attempt. Every hook is optional, must be safe for concurrent use and
// quick; a panic in one is recovered and logged.
type Instrumentation struct {
	// CaptureTrace, when set, is called by Dispatch and DispatchWith with
	// their ctx, for an Event whose Trace is empty: what it returns is
	// stored with the event (a value past MaxTraceparentLength or
	// MaxTracestateLength, or not printable ASCII, is dropped).
	CaptureTrace func(ctx context.Context) TraceContext

	// StartAttempt, when set, is called just before each attempt is handed
	// to its Sender, from the worker that makes it. The context it
	// returns (derived from ctx) is the attempt's: the Sender gets it
	// (with the attempt's timeout), so a span started in it is the parent
	// of what the transport does. It may add headers to r.Header (such as
	// a traceparent); it must not change anything else of r. The function
	// it returns, if not nil, is called exactly once when the attempt is
	// over, with the AttemptInfo the Observer gets, before the Observer;
	// for an attempt cut short by Close before its request was sent,
	// AttemptInfo.Outcome is empty.
	StartAttempt func(ctx context.Context, r *Request) (context.Context, func(AttemptInfo))

	// Dispatched, when set, is called after each Dispatch or DispatchWith
	// that returned no error, with the event as stored (its ID and
	// Timestamp filled in) and the result. After DispatchWith inside a
	// host's transaction, the deliveries count even if that transaction
	// is later rolled back.
	Dispatched func(ctx context.Context, ev *Event, r DispatchResult)
}

// captureTrace fills in ev.Trace from Instrumentation.CaptureTrace.
func (d *Dispatcher) captureTrace(ctx context.Context, ev *Event) {
	capture := d.cfg.Instrumentation.CaptureTrace
	if capture == nil || !ev.Trace.IsZero() {
		if !ev.Trace.valid() {
			ev.Trace = TraceContext{}
		}
		return
	}
	var tc TraceContext
	recoverHook(d.log, "Instrumentation.CaptureTrace", func() { tc = capture(ctx) })
	if !tc.valid() {
		tc = TraceContext{}
	}
	ev.Trace = tc
}

// dispatched calls Instrumentation.Dispatched.
func (d *Dispatcher) dispatched(ctx context.Context, ev *Event, r DispatchResult) {
	if f := d.cfg.Instrumentation.Dispatched; f != nil {
		recoverHook(d.log, "Instrumentation.Dispatched", func() { f(ctx, ev, r) })
	}
}

// startAttempt calls Instrumentation.StartAttempt and keeps the function
// that ends the attempt in w. It returns the attempt's context.
func (at *attempter) startAttempt(w *workerState, ctx context.Context, r *Request) context.Context {
	w.end = nil
	start := at.cfg.Instrumentation.StartAttempt
	if start == nil {
		return ctx
	}
	out := ctx
	at.recoverHook("Instrumentation.StartAttempt", func() {
		c, end := start(ctx, r)
		if c != nil {
			out = c
		}
		w.end = end
	})
	return out
}

// endAttempt calls the function StartAttempt returned for the worker's
// current attempt, if any, once.
func (at *attempter) endAttempt(w *workerState, info AttemptInfo) {
	end := w.end
	w.end = nil
	if end != nil {
		at.recoverHook("the end of Instrumentation.StartAttempt", func() { end(info) })
	}
}

// attemptInfo is the AttemptInfo of an attempt.
func attemptInfo(w *workerState, dl *Delivery, number int, resp Response, latency time.Duration, err error, o Outcome) AttemptInfo {
	ev, sub := dl.Event, dl.Subscription
	return AttemptInfo{
		EventID: ev.ID, EventType: ev.Type, OrganizationID: ev.OrganizationID,
		SubscriptionID: sub.ID, DeliveryID: dl.ID, Attempt: number,
		StatusCode: resp.StatusCode, Latency: latency, Err: err,
		Outcome: o.State, NextAttemptAt: o.NextAttemptAt,
		SubscriptionType: orDefault(sub.Type, TypeWebhook),
		URL:              w.redactedURL(sub.URL),
		Trace:            ev.Trace,
	}
}

// wrapTransport applies Config.WrapTransport to the client the
// dispatcher built (with the address guard on its transport).
func wrapTransport(c *http.Client, wrap func(http.RoundTripper) http.RoundTripper) {
	if wrap == nil {
		return
	}
	if t := wrap(c.Transport); t != nil {
		c.Transport = t
	}
}
