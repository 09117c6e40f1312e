// Package webhookotel reports a relayhook Dispatcher's work to
// OpenTelemetry: a span per attempt, linked to the span that was current
// when the event was dispatched, and metrics of attempts, latency,
// enqueued deliveries, the queue and subscriptions turned off. It lives in
// a module of its own so that the core keeps its two dependencies.
//
// # Setup
//
//	tel, err := webhookotel.New(&webhookotel.Config{
//		TracerProvider: tp, // defaults to otel.GetTracerProvider()
//		MeterProvider:  mp, // defaults to otel.GetMeterProvider()
//		Organizations:  listOrgs, // for the queue gauges; optional
//	})
//	cfg := &webhook.Config{}
//	tel.Instrument(cfg) // sets cfg.Instrumentation and wraps cfg.Notifier
//	d, err := webhook.NewDispatcher(store, cfg)
//	reg, err := tel.ObserveQueue(d) // the queue gauges; reg.Unregister() when done
//
// # Traces
//
// Dispatch stores the W3C trace context of its ctx with the event (in
// pgstore, a column of the event's row), so an attempt made hours later,
// after retries or a restart, in any process, links to it. Each attempt is
// a span of kind client named "webhook.attempt", a root of its own trace
// with a link to the dispatch span, carrying the HTTP client attributes of
// OpenTelemetry's semantic conventions (http.request.method, url.full
// redacted of credentials and query, server.address, server.port,
// http.response.status_code, error.type) and the webhook's
// (webhook.event.id, webhook.event.type, webhook.subscription.id,
// webhook.delivery.id, webhook.attempt, webhook.outcome). A failed attempt
// has status Error.
//
// Outgoing requests carry no traceparent unless Config.PropagateTraceparent
// is set: the header tells the receiver about the host's traces. A host
// that also wraps the transport with otelhttp (through
// webhook.Config.WrapTransport, which keeps the address guard) gets an HTTP
// span under each attempt span; otelhttp injects the global propagator's
// headers itself unless given otelhttp.WithPropagators of an empty
// composite propagator.
//
// # Metrics
//
//   - webhook.attempts (counter, {attempt}): by webhook.outcome
//     (delivered, pending, dead), webhook.status_class (2xx, 3xx, 4xx,
//     5xx, or none when no status came), webhook.subscription.type and,
//     on failure, error.type.
//   - webhook.attempt.duration (histogram, s): the same attributes as
//     webhook.attempts, and for HTTP attempts http.request.method,
//     server.address, server.port and http.response.status_code, with the
//     bucket boundaries of http.client.request.duration.
//   - webhook.deliveries.enqueued (counter, {delivery}): by
//     webhook.event.type.
//   - webhook.queue.depth (gauge, {delivery}) and
//     webhook.queue.oldest_pending.age (gauge, s): by
//     webhook.organization.id, for the organizations Config.Organizations
//     lists, read from Dispatcher.Stats at each collection.
//   - webhook.subscriptions.turned_off (counter, {subscription}): by
//     webhook.subscription.state (TooManyErrors, or Stopped after a 410).
//
// Attempts cut short by Close before their request was sent are not
// counted (the store does not count them either); their span ends with
// webhook.outcome "abandoned".
package webhookotel

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strconv"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.40.0"
	"go.opentelemetry.io/otel/trace"

	webhook "github.com/relayhook/webhook"
)

// ScopeName is the instrumentation scope of the tracer and meter.
const ScopeName = "github.com/relayhook/webhook/webhookotel"

// SpanName is the name of every attempt span.
const SpanName = "webhook.attempt"

// Attribute keys of the webhook's own attributes.
const (
	EventIDKey          = attribute.Key("webhook.event.id")
	EventTypeKey        = attribute.Key("webhook.event.type")
	OrganizationIDKey   = attribute.Key("webhook.organization.id")
	SubscriptionIDKey   = attribute.Key("webhook.subscription.id")
	SubscriptionTypeKey = attribute.Key("webhook.subscription.type")
	SubscriptionState   = attribute.Key("webhook.subscription.state")
	DeliveryIDKey       = attribute.Key("webhook.delivery.id")
	AttemptKey          = attribute.Key("webhook.attempt")
	OutcomeKey          = attribute.Key("webhook.outcome")
	StatusClassKey      = attribute.Key("webhook.status_class")
)

// OutcomeAbandoned is the webhook.outcome of an attempt span cut short by
// Close before its request was sent.
const OutcomeAbandoned = "abandoned"

// Config configures a Telemetry. The zero value (or nil) gives the
// defaults.
type Config struct {
	// TracerProvider makes the attempt spans. Defaults to
	// otel.GetTracerProvider().
	TracerProvider trace.TracerProvider
	// MeterProvider makes the metrics. Defaults to
	// otel.GetMeterProvider().
	MeterProvider metric.MeterProvider
	// PropagateTraceparent sets the W3C traceparent (and tracestate) of
	// the attempt span on every outgoing request. Defaults to false: the
	// header would tell receivers about the host's traces.
	PropagateTraceparent bool
	// Organizations lists the organizations whose queue depth and oldest
	// pending delivery the gauges report; it is called at each
	// collection. Defaults to none: ObserveQueue then reports nothing.
	Organizations func(ctx context.Context) ([]string, error)
	// Clock tells the time for the oldest pending delivery's age; use the
	// dispatcher's. Defaults to webhook.SystemClock.
	Clock webhook.Clock
}

// Telemetry holds the tracer and instruments; its methods are safe for
// concurrent use. One Telemetry may instrument several dispatchers.
type Telemetry struct {
	cfg    Config
	tracer trace.Tracer
	meter  metric.Meter

	attempts  metric.Int64Counter
	duration  metric.Float64Histogram
	enqueued  metric.Int64Counter
	turnedOff metric.Int64Counter
	depth     metric.Int64ObservableGauge
	oldest    metric.Float64ObservableGauge
}

// durationBuckets are the advised bucket boundaries of
// http.client.request.duration, in seconds.
var durationBuckets = []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}

// New returns a Telemetry with its instruments made.
func New(cfg *Config) (*Telemetry, error) {
	var c Config
	if cfg != nil {
		c = *cfg
	}
	if c.TracerProvider == nil {
		c.TracerProvider = otel.GetTracerProvider()
	}
	if c.MeterProvider == nil {
		c.MeterProvider = otel.GetMeterProvider()
	}
	if c.Clock == nil {
		c.Clock = webhook.SystemClock{}
	}
	t := &Telemetry{
		cfg:    c,
		tracer: c.TracerProvider.Tracer(ScopeName),
		meter:  c.MeterProvider.Meter(ScopeName),
	}
	var errs [6]error
	t.attempts, errs[0] = t.meter.Int64Counter("webhook.attempts",
		metric.WithUnit("{attempt}"), metric.WithDescription("Attempts at deliveries, by outcome and status class."))
	t.duration, errs[1] = t.meter.Float64Histogram("webhook.attempt.duration",
		metric.WithUnit("s"), metric.WithDescription("How long attempts took, from encoding to the end of the response."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	t.enqueued, errs[2] = t.meter.Int64Counter("webhook.deliveries.enqueued",
		metric.WithUnit("{delivery}"), metric.WithDescription("Deliveries created by Dispatch."))
	t.turnedOff, errs[3] = t.meter.Int64Counter("webhook.subscriptions.turned_off",
		metric.WithUnit("{subscription}"), metric.WithDescription("Subscriptions the dispatcher turned off (too many errors, or 410 Gone)."))
	t.depth, errs[4] = t.meter.Int64ObservableGauge("webhook.queue.depth",
		metric.WithUnit("{delivery}"), metric.WithDescription("Pending deliveries, in flight included."))
	t.oldest, errs[5] = t.meter.Float64ObservableGauge("webhook.queue.oldest_pending.age",
		metric.WithUnit("s"), metric.WithDescription("How long the oldest pending delivery has waited."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return t, nil
}

// Instrument sets c.Instrumentation to this Telemetry's hooks and wraps
// c.Notifier (keeping the host's, if any) to count the subscriptions
// turned off. Call it before webhook.NewDispatcher(store, c).
func (t *Telemetry) Instrument(c *webhook.Config) {
	c.Instrumentation = webhook.Instrumentation{
		CaptureTrace: CaptureTrace,
		StartAttempt: t.startAttempt,
		Dispatched:   t.dispatched,
	}
	next := c.Notifier
	c.Notifier = webhook.NotifierFunc(func(ctx context.Context, n webhook.Notification) {
		t.turnedOff.Add(ctx, 1, metric.WithAttributes(SubscriptionState.String(string(n.State))))
		if next != nil {
			next.Notify(ctx, n)
		}
	})
}

// CaptureTrace returns the W3C trace context of the span in ctx (none if
// it has no valid span): webhook.Instrumentation.CaptureTrace.
func CaptureTrace(ctx context.Context) webhook.TraceContext {
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return webhook.TraceContext{}
	}
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(ctx, carrier)
	return webhook.TraceContext{Traceparent: carrier.Get("traceparent"), Tracestate: carrier.Get("tracestate")}
}

// SpanContext returns the span context a stored trace context describes,
// remote; invalid when it holds none.
func SpanContext(tc webhook.TraceContext) trace.SpanContext {
	if tc.IsZero() {
		return trace.SpanContext{}
	}
	carrier := propagation.MapCarrier{"traceparent": tc.Traceparent}
	if tc.Tracestate != "" {
		carrier["tracestate"] = tc.Tracestate
	}
	return trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier))
}

func (t *Telemetry) dispatched(ctx context.Context, ev *webhook.Event, r webhook.DispatchResult) {
	if r.Enqueued > 0 {
		t.enqueued.Add(ctx, int64(r.Enqueued), metric.WithAttributes(EventTypeKey.String(ev.Type)))
	}
}

func (t *Telemetry) startAttempt(ctx context.Context, r *webhook.Request) (context.Context, func(webhook.AttemptInfo)) {
	ev, sub := r.Event, r.Subscription
	subType := sub.Type
	if subType == "" {
		subType = webhook.TypeWebhook
	}
	attrs := []attribute.KeyValue{
		EventIDKey.String(ev.ID), EventTypeKey.String(ev.Type), OrganizationIDKey.String(ev.OrganizationID),
		SubscriptionIDKey.String(sub.ID), SubscriptionTypeKey.String(subType),
		DeliveryIDKey.String(r.DeliveryID), AttemptKey.Int(r.Attempt),
	}
	var httpAttrs []attribute.KeyValue
	if subType == webhook.TypeWebhook {
		httpAttrs = httpAttributes(sub.URL)
		attrs = append(attrs, httpAttrs...)
		if u := redactedURL(sub.URL); u != "" {
			attrs = append(attrs, semconv.URLFull(u))
		}
	}
	opts := []trace.SpanStartOption{
		trace.WithSpanKind(trace.SpanKindClient),
		trace.WithNewRoot(),
		trace.WithAttributes(attrs...),
	}
	if sc := SpanContext(ev.Trace); sc.IsValid() {
		opts = append(opts, trace.WithLinks(trace.Link{SpanContext: sc}))
	}
	ctx, span := t.tracer.Start(ctx, SpanName, opts...)
	if t.cfg.PropagateTraceparent && subType == webhook.TypeWebhook {
		propagation.TraceContext{}.Inject(ctx, propagation.HeaderCarrier(r.Header))
	}
	return ctx, func(info webhook.AttemptInfo) { t.endAttempt(ctx, span, subType, httpAttrs, info) }
}

func (t *Telemetry) endAttempt(ctx context.Context, span trace.Span, subType string, httpAttrs []attribute.KeyValue, info webhook.AttemptInfo) {
	defer span.End()
	if info.Outcome == "" {
		span.SetAttributes(OutcomeKey.String(OutcomeAbandoned))
		span.SetStatus(codes.Error, "abandoned by shutdown before the request was sent")
		return
	}
	attrs := []attribute.KeyValue{
		OutcomeKey.String(string(info.Outcome)),
		StatusClassKey.String(statusClass(info.StatusCode)),
		SubscriptionTypeKey.String(subType),
	}
	if info.Err != nil {
		attrs = append(attrs, semconv.ErrorTypeKey.String(errorType(info)))
	}
	span.SetAttributes(attrs[0])
	if info.StatusCode > 0 {
		span.SetAttributes(semconv.HTTPResponseStatusCode(info.StatusCode))
	}
	if info.Err != nil {
		span.SetAttributes(attrs[len(attrs)-1])
		span.SetStatus(codes.Error, info.Err.Error())
	}
	t.attempts.Add(ctx, 1, metric.WithAttributes(attrs...))
	if len(httpAttrs) > 0 {
		attrs = append(attrs, httpAttrs...)
		if info.StatusCode > 0 {
			attrs = append(attrs, semconv.HTTPResponseStatusCode(info.StatusCode))
		}
	}
	t.duration.Record(ctx, info.Latency.Seconds(), metric.WithAttributes(attrs...))
}

// ObserveQueue registers the callback of the queue gauges for d: at each
// collection, Dispatcher.Stats of every organization Config.Organizations
// lists. Unregister the result when d is closed.
func (t *Telemetry) ObserveQueue(d *webhook.Dispatcher) (metric.Registration, error) {
	return t.meter.RegisterCallback(func(ctx context.Context, o metric.Observer) error {
		if t.cfg.Organizations == nil {
			return nil
		}
		orgs, err := t.cfg.Organizations(ctx)
		if err != nil {
			return err
		}
		now := t.cfg.Clock.Now()
		var errs []error
		for _, org := range orgs {
			st, err := d.Stats(ctx, org, "", 0)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			attrs := metric.WithAttributes(OrganizationIDKey.String(org))
			o.ObserveInt64(t.depth, st.Pending, attrs)
			age := 0.0
			if !st.OldestPendingAt.IsZero() {
				age = max(now.Sub(st.OldestPendingAt).Seconds(), 0)
			}
			o.ObserveFloat64(t.oldest, age, attrs)
		}
		return errors.Join(errs...)
	}, t.depth, t.oldest)
}

// httpAttributes are the semantic conventions' attributes of a POST to
// the URL.
func httpAttributes(raw string) []attribute.KeyValue {
	attrs := []attribute.KeyValue{semconv.HTTPRequestMethodPost}
	u, err := url.Parse(raw)
	if err != nil {
		return attrs
	}
	attrs = append(attrs, semconv.ServerAddress(u.Hostname()))
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	if p, err := strconv.Atoi(port); err == nil {
		attrs = append(attrs, semconv.ServerPort(p))
	}
	return attrs
}

// redactedURL is the URL without credentials, query or fragment.
func redactedURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.User, u.RawQuery, u.Fragment, u.RawFragment, u.ForceQuery = nil, "", "", "", false
	return u.String()
}

// statusClass is "2xx" to "5xx", or "none" when no status came.
func statusClass(code int) string {
	if code < 100 || code > 599 {
		return "none"
	}
	return strconv.Itoa(code/100) + "xx"
}

// errorType is the error.type of a failed attempt: the status code for
// an answer that failed, "timeout", "address_not_allowed", or "_OTHER".
func errorType(info webhook.AttemptInfo) string {
	var ne net.Error
	var se *webhook.SendError
	switch {
	case info.StatusCode >= 300:
		return strconv.Itoa(info.StatusCode)
	case errors.Is(info.Err, webhook.ErrAddressNotAllowed):
		return "address_not_allowed"
	case errors.As(info.Err, &se) && se.Timeout(), errors.Is(info.Err, context.DeadlineExceeded),
		errors.As(info.Err, &ne) && ne.Timeout():
		return "timeout"
	}
	return semconv.ErrorTypeOther.Value.AsString()
}
