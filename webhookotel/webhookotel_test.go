package webhookotel_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	"go.uber.org/goleak"

	webhook "github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/webhookotel"
	"github.com/relayhook/webhook/webhooktest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 1, 24, 9, 42, 59, 0, time.UTC)

// bundle is what a test needs: a dispatcher instrumented with in-memory
// exporters, over a store, on a fake clock.
type bundle struct {
	t      *testing.T
	spans  *tracetest.SpanRecorder
	tp     *sdktrace.TracerProvider
	reader *sdkmetric.ManualReader
	clock  *webhooktest.Clock
	tel    *webhookotel.Telemetry
	d      *webhook.Dispatcher
}

func setup(t *testing.T, store webhook.Store, adjust func(*webhookotel.Config)) *bundle {
	t.Helper()
	b := &bundle{t: t, spans: tracetest.NewSpanRecorder(), reader: sdkmetric.NewManualReader(), clock: webhooktest.NewClock(t0)}
	b.tp = sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(b.spans))
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(b.reader))
	tcfg := &webhookotel.Config{
		TracerProvider: b.tp, MeterProvider: mp, Clock: b.clock,
		Organizations: func(context.Context) ([]string, error) { return []string{"o"}, nil },
	}
	if adjust != nil {
		adjust(tcfg)
	}
	tel, err := webhookotel.New(tcfg)
	require.NoError(t, err)
	b.tel = tel
	cfg := &webhook.Config{
		Clock: b.clock, Workers: 4, Timeout: 2 * time.Second, Retention: -1,
		AllowPrivateNetworks: true,
		Retry:                &webhook.ExponentialRetry{RandomizationFactor: -1, InitialInterval: time.Minute},
	}
	tel.Instrument(cfg)
	d, err := webhook.NewDispatcher(store, cfg)
	require.NoError(t, err)
	b.d = d
	reg, err := tel.ObserveQueue(d)
	require.NoError(t, err)
	t.Cleanup(func() {
		require.NoError(t, reg.Unregister())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, d.Close(ctx))
		require.NoError(t, b.tp.Shutdown(ctx))
		require.NoError(t, mp.Shutdown(ctx))
	})
	return b
}

// receiver answers from a script of statuses (the last repeats) and
// records the traceparent of each request.
type receiver struct {
	*httptest.Server
	mu      sync.Mutex
	script  []int
	parents []string
}

func newReceiver(t *testing.T, script ...int) *receiver {
	r := &receiver{script: script}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		r.mu.Lock()
		r.parents = append(r.parents, req.Header.Get("Traceparent"))
		status := r.script[min(len(r.parents), len(r.script))-1]
		r.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) traceparents() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.parents...)
}

func (b *bundle) subscribe(url string) *webhook.Subscription {
	b.t.Helper()
	s := &webhook.Subscription{OrganizationID: "o", URL: url, Events: []string{"contact.*"}}
	require.NoError(b.t, b.d.CreateSubscription(context.Background(), s))
	return s
}

// dispatchInSpan dispatches a contact.created event of "o" inside a span
// of the test's tracer and returns that span's context.
func (b *bundle) dispatchInSpan() trace.SpanContext {
	b.t.Helper()
	ctx, span := b.tp.Tracer("host").Start(context.Background(), "create contact")
	defer span.End()
	_, err := b.d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "o", Data: []byte(`{"id":1}`)})
	require.NoError(b.t, err)
	return span.SpanContext()
}

// attemptSpans waits until n attempt spans have ended and returns them,
// ordered by subscription then attempt.
func (b *bundle) attemptSpans(n int) []sdktrace.ReadOnlySpan {
	b.t.Helper()
	var out []sdktrace.ReadOnlySpan
	require.Eventually(b.t, func() bool {
		out = out[:0]
		for _, s := range b.spans.Ended() {
			if s.Name() == webhookotel.SpanName {
				out = append(out, s)
			}
		}
		return len(out) >= n
	}, 5*time.Second, time.Millisecond, "waiting for %d attempt spans", n)
	if len(out) != n {
		for _, s := range out {
			b.t.Logf("span %v", spanAttrs(s))
		}
	}
	require.Len(b.t, out, n)
	return out
}

// advance moves the fake clock by d once some goroutine sleeps on it.
func (b *bundle) advance(d time.Duration) {
	b.t.Helper()
	require.Eventually(b.t, func() bool { return b.clock.Timers() > 0 }, 5*time.Second, time.Millisecond)
	b.clock.Advance(d)
}

func attrMap(kvs []attribute.KeyValue) map[string]any {
	m := map[string]any{}
	for _, kv := range kvs {
		m[string(kv.Key)] = kv.Value.AsInterface()
	}
	return m
}

func spanAttrs(s sdktrace.ReadOnlySpan) map[string]any { return attrMap(s.Attributes()) }

// collect reads every metric, by name.
func (b *bundle) collect() map[string]metricdata.Aggregation {
	b.t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(b.t, b.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Aggregation{}
	for _, sm := range rm.ScopeMetrics {
		if sm.Scope.Name != webhookotel.ScopeName {
			continue
		}
		for _, m := range sm.Metrics {
			out[m.Name] = m.Data
		}
	}
	return out
}

// points returns the data points of an int64 sum or gauge, keyed by
// their attributes ("k=v,k=v" in key order).
func points[N int64 | float64](t *testing.T, a metricdata.Aggregation) map[string]N {
	t.Helper()
	out := map[string]N{}
	var dps []metricdata.DataPoint[N]
	switch a := a.(type) {
	case metricdata.Sum[N]:
		dps = a.DataPoints
	case metricdata.Gauge[N]:
		dps = a.DataPoints
	default:
		t.Fatalf("unexpected aggregation %T", a)
	}
	for _, dp := range dps {
		out[attrKey(dp.Attributes)] = dp.Value
	}
	return out
}

func attrKey(set attribute.Set) string {
	s := ""
	for i, kv := range set.ToSlice() {
		if i > 0 {
			s += ","
		}
		s += string(kv.Key) + "=" + kv.Value.Emit()
	}
	return s
}

// TestAttemptSpansAndMetrics sends one event to two endpoints, one
// answering 500 then 200, one 410 Gone, and asserts every span and data
// point.
func TestAttemptSpansAndMetrics(t *testing.T) {
	b := setup(t, memstore.New(), nil)
	flaky, gone := newReceiver(t, 500, 200), newReceiver(t, 410)
	subFlaky := b.subscribe(flaky.URL + "/hook?token=secret")
	subGone := b.subscribe(gone.URL + "/gone")
	require.NoError(t, b.d.Start(context.Background()))

	dispatch := b.dispatchInSpan()
	first := b.attemptSpans(2)

	// Between the attempts: the flaky one's delivery is pending, waiting
	// since t0 while the clock says t0+30s.
	b.clock.Set(t0.Add(30 * time.Second))
	var m map[string]metricdata.Aggregation
	require.Eventually(t, func() bool { // once both outcomes are stored
		m = b.collect()
		return points[int64](t, m["webhook.queue.depth"])["webhook.organization.id=o"] == 1
	}, 5*time.Second, time.Millisecond)
	require.Equal(t, map[string]int64{"webhook.organization.id=o": 1}, points[int64](t, m["webhook.queue.depth"]))
	require.Equal(t, map[string]float64{"webhook.organization.id=o": 30}, points[float64](t, m["webhook.queue.oldest_pending.age"]))

	b.advance(time.Hour) // past the retry
	spans := b.attemptSpans(3)
	_ = first

	byKey := map[string]sdktrace.ReadOnlySpan{}
	for _, s := range spans {
		a := spanAttrs(s)
		byKey[a["webhook.subscription.id"].(string)+"#"+strconv.FormatInt(a["webhook.attempt"].(int64), 10)] = s
	}
	port := func(r *receiver) int64 {
		u, _ := url.Parse(r.URL)
		p, _ := strconv.Atoi(u.Port())
		return int64(p)
	}
	want := []struct {
		key, outcome string
		status       int64
		rcv          *receiver
		url          string
		errType      string
		code         codes.Code
	}{
		{subFlaky.ID + "#1", "pending", 500, flaky, flaky.URL + "/hook", "500", codes.Error},
		{subFlaky.ID + "#2", "delivered", 200, flaky, flaky.URL + "/hook", "", codes.Unset},
		{subGone.ID + "#1", "dead", 410, gone, gone.URL + "/gone", "410", codes.Error},
	}
	for _, w := range want {
		s := byKey[w.key]
		require.NotNil(t, s, w.key)
		require.Equal(t, trace.SpanKindClient, s.SpanKind(), w.key)
		require.False(t, s.Parent().IsValid(), "%s: a root of its own", w.key)
		require.Len(t, s.Links(), 1, w.key)
		require.Equal(t, dispatch.TraceID(), s.Links()[0].SpanContext.TraceID(), "%s: linked to the dispatch trace", w.key)
		require.Equal(t, dispatch.SpanID(), s.Links()[0].SpanContext.SpanID(), "%s: linked to the dispatch span", w.key)
		a := spanAttrs(s)
		require.Equal(t, "POST", a["http.request.method"], w.key)
		require.Equal(t, w.url, a["url.full"], "%s: redacted of its query", w.key)
		require.Equal(t, "127.0.0.1", a["server.address"], w.key)
		require.Equal(t, port(w.rcv), a["server.port"], w.key)
		require.Equal(t, w.status, a["http.response.status_code"], w.key)
		require.Equal(t, w.outcome, a["webhook.outcome"], w.key)
		require.Equal(t, "contact.created", a["webhook.event.type"], w.key)
		require.Equal(t, "o", a["webhook.organization.id"], w.key)
		require.NotEmpty(t, a["webhook.event.id"], w.key)
		require.NotEmpty(t, a["webhook.delivery.id"], w.key)
		if w.errType == "" {
			require.NotContains(t, a, "error.type", w.key)
		} else {
			require.Equal(t, w.errType, a["error.type"], w.key)
		}
		require.Equal(t, w.code, s.Status().Code, w.key)
	}

	require.Eventually(t, func() bool {
		return points[int64](t, b.collect()["webhook.queue.depth"])["webhook.organization.id=o"] == 0
	}, 5*time.Second, time.Millisecond)
	m = b.collect()
	require.Equal(t, map[string]int64{
		"error.type=500,webhook.outcome=pending,webhook.status_class=5xx,webhook.subscription.type=webhook": 1,
		"webhook.outcome=delivered,webhook.status_class=2xx,webhook.subscription.type=webhook":              1,
		"error.type=410,webhook.outcome=dead,webhook.status_class=4xx,webhook.subscription.type=webhook":    1,
	}, points[int64](t, m["webhook.attempts"]))
	require.Equal(t, map[string]int64{"webhook.event.type=contact.created": 2}, points[int64](t, m["webhook.deliveries.enqueued"]))
	require.Equal(t, map[string]int64{"webhook.subscription.state=Stopped": 1}, points[int64](t, m["webhook.subscriptions.turned_off"]))
	require.Equal(t, map[string]float64{"webhook.organization.id=o": 0}, points[float64](t, m["webhook.queue.oldest_pending.age"]))

	hist, ok := m["webhook.attempt.duration"].(metricdata.Histogram[float64])
	require.True(t, ok, "%T", m["webhook.attempt.duration"])
	counts := map[string]uint64{}
	for _, dp := range hist.DataPoints {
		counts[attrKey(dp.Attributes)] = dp.Count
		require.Equal(t, []float64{0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10}, dp.Bounds)
		require.Positive(t, dp.Sum)
	}
	hp := func(r *receiver) string { return strconv.FormatInt(port(r), 10) }
	require.Equal(t, map[string]uint64{
		"error.type=500,http.request.method=POST,http.response.status_code=500,server.address=127.0.0.1,server.port=" + hp(flaky) +
			",webhook.outcome=pending,webhook.status_class=5xx,webhook.subscription.type=webhook": 1,
		"http.request.method=POST,http.response.status_code=200,server.address=127.0.0.1,server.port=" + hp(flaky) +
			",webhook.outcome=delivered,webhook.status_class=2xx,webhook.subscription.type=webhook": 1,
		"error.type=410,http.request.method=POST,http.response.status_code=410,server.address=127.0.0.1,server.port=" + hp(gone) +
			",webhook.outcome=dead,webhook.status_class=4xx,webhook.subscription.type=webhook": 1,
	}, counts)

	require.Equal(t, []string{"", ""}, flaky.traceparents(), "no traceparent sent by default")
}

// TestPropagateTraceparent: opted in, each request carries the
// traceparent of its attempt span.
func TestPropagateTraceparent(t *testing.T) {
	b := setup(t, memstore.New(), func(c *webhookotel.Config) { c.PropagateTraceparent = true })
	rcv := newReceiver(t, 200)
	b.subscribe(rcv.URL)
	require.NoError(t, b.d.Start(context.Background()))
	b.dispatchInSpan()
	s := b.attemptSpans(1)[0]
	sc := s.SpanContext()
	require.Equal(t, []string{"00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"}, rcv.traceparents())
}

// TestEventWithoutTrace: an event dispatched outside any span gives
// attempt spans without links.
func TestEventWithoutTrace(t *testing.T) {
	b := setup(t, memstore.New(), nil)
	rcv := newReceiver(t, 200)
	b.subscribe(rcv.URL)
	require.NoError(t, b.d.Start(context.Background()))
	_, err := b.d.Dispatch(context.Background(), webhook.Event{Type: "contact.created", OrganizationID: "o"})
	require.NoError(t, err)
	require.Empty(t, b.attemptSpans(1)[0].Links())
}

func TestCaptureTraceRoundTrip(t *testing.T) {
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("t").Start(context.Background(), "s")
	defer span.End()
	tc := webhookotel.CaptureTrace(ctx)
	require.Len(t, tc.Traceparent, webhook.MaxTraceparentLength)
	sc := webhookotel.SpanContext(tc)
	require.True(t, sc.IsRemote())
	require.Equal(t, span.SpanContext().TraceID(), sc.TraceID())
	require.Equal(t, span.SpanContext().SpanID(), sc.SpanID())
	require.True(t, webhookotel.CaptureTrace(context.Background()).IsZero())
	require.False(t, webhookotel.SpanContext(webhook.TraceContext{}).IsValid())
}
