package webhook_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

type ctxKey struct{}

// TestInstrumentationHooks follows one event through every hook: the trace
// context captured at Dispatch is stored with the event and handed back
// with each attempt; StartAttempt's context reaches the Sender's request
// and its header reaches the endpoint; the function it returns is called
// once per attempt, before the Observer, with the outcome.
func TestInstrumentationHooks(t *testing.T) {
	t.Parallel()
	rcv := newReceiver(t, 500, 200)
	tc := webhook.TraceContext{Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Tracestate: "k=v"}
	var (
		mu       sync.Mutex
		order    []string
		ended    []webhook.AttemptInfo
		sawCtx   atomic.Int32
		captured atomic.Int32
		disp     []webhook.DispatchResult
		traces   []webhook.TraceContext // seen by Dispatched and StartAttempt
	)
	b := setup(t, func(c *webhook.Config) {
		c.Instrumentation = webhook.Instrumentation{
			CaptureTrace: func(ctx context.Context) webhook.TraceContext {
				captured.Add(1)
				if ctx.Value(ctxKey{}) == "dispatch" {
					return tc
				}
				return webhook.TraceContext{}
			},
			StartAttempt: func(ctx context.Context, r *webhook.Request) (context.Context, func(webhook.AttemptInfo)) {
				r.Header.Set("Traceparent", r.Event.Trace.Traceparent)
				mu.Lock()
				order = append(order, "start")
				traces = append(traces, r.Event.Trace)
				mu.Unlock()
				return context.WithValue(ctx, ctxKey{}, "attempt"), func(info webhook.AttemptInfo) {
					mu.Lock()
					defer mu.Unlock()
					order = append(order, "end")
					ended = append(ended, info)
				}
			},
			Dispatched: func(_ context.Context, ev *webhook.Event, r webhook.DispatchResult) {
				mu.Lock()
				disp = append(disp, r)
				traces = append(traces, ev.Trace)
				mu.Unlock()
			},
		}
		c.WrapTransport = func(next http.RoundTripper) http.RoundTripper {
			return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
				if r.Context().Value(ctxKey{}) == "attempt" {
					sawCtx.Add(1)
				}
				return next.RoundTrip(r)
			})
		}
		obs := c.Observer
		c.Observer = func(i webhook.AttemptInfo) {
			mu.Lock()
			order = append(order, "observer")
			mu.Unlock()
			obs(i)
		}
	})
	sub := b.subscribe("o", rcv.URL+"/in?token=secret", "contact.created")
	ctx := context.WithValue(context.Background(), ctxKey{}, "dispatch")
	res, err := b.d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "o"})
	require.NoError(t, err)
	require.EqualValues(t, 1, captured.Load())

	ev, _, err := b.d.GetEvent(context.Background(), "o", res.EventID)
	require.NoError(t, err)
	require.Equal(t, tc, ev.Trace, "stored with the event")

	// The worker calls the first attempt's end hooks just after handing its
	// outcome to the finisher: they are awaited before the retry is let
	// due, so that the order below is the hooks' own.
	hooksCalled := func(n int) {
		t.Helper()
		if !assert.Eventually(t, func() bool {
			mu.Lock()
			defer mu.Unlock()
			return len(order) >= n
		}, 3*timeoutShort, tick) {
			mu.Lock()
			t.Fatalf("hooks called: %v", order)
		}
	}
	b.waitAttempts(sub, 1)
	hooksCalled(3)
	b.advanceTo(b.clock.Now().Add(time.Minute))
	b.waitAttempts(sub, 2)
	hooksCalled(6)

	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []string{"start", "end", "observer", "start", "end", "observer"}, order)
	require.Len(t, ended, 2)
	require.Equal(t, webhook.DeliveryPending, ended[0].Outcome)
	require.Equal(t, 500, ended[0].StatusCode)
	require.Equal(t, webhook.DeliveryDelivered, ended[1].Outcome)
	for i, info := range ended {
		require.Equal(t, i+1, info.Attempt)
		require.Equal(t, tc, info.Trace)
		require.Equal(t, webhook.TypeWebhook, info.SubscriptionType)
		require.NotContains(t, info.URL, "secret", "URL redacted")
		require.True(t, strings.HasPrefix(info.URL, rcv.URL+"/in"), info.URL)
	}
	require.EqualValues(t, 2, sawCtx.Load(), "the attempt's context reached the transport")
	require.Equal(t, tc.Traceparent, rcv.get(0).header.Get("Traceparent"), "header added by StartAttempt sent")
	require.Equal(t, []webhook.DispatchResult{{EventID: res.EventID, Matched: 1, Enqueued: 1}}, disp)
	require.Equal(t, []webhook.TraceContext{tc, tc, tc}, traces, "the trace context at Dispatched and at each attempt")
}

// TestInstrumentationTraceContextChecked: a captured trace context past
// the limits is dropped, not stored, and a panicking hook does not stop
// the dispatch.
func TestInstrumentationTraceContextChecked(t *testing.T) {
	t.Parallel()
	for name, capture := range map[string]func(context.Context) webhook.TraceContext{
		"too long": func(context.Context) webhook.TraceContext {
			return webhook.TraceContext{Traceparent: strings.Repeat("0", 56)}
		},
		"control":   func(context.Context) webhook.TraceContext { return webhook.TraceContext{Tracestate: "a=b\n"} },
		"panicking": func(context.Context) webhook.TraceContext { panic("boom") },
	} {
		t.Run(name, func(t *testing.T) {
			b := setup(t, func(c *webhook.Config) {
				c.Logger = slog.New(slog.DiscardHandler)
				c.Instrumentation.CaptureTrace = capture
			})
			res := b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
			ev, _, err := b.d.GetEvent(context.Background(), "o", res.EventID)
			require.NoError(t, err)
			require.True(t, ev.Trace.IsZero(), "%+v", ev.Trace)
		})
	}
}

// TestWrapTransportKeepsTheGuard: a transport wrapped through
// Config.WrapTransport (as a tracing middleware does) still refuses a
// host name that resolves to loopback at dial time, while the same
// wrapper set as a host HTTPClient loses the check, and the dispatcher
// says so in its log, once.
func TestWrapTransportKeepsTheGuard(t *testing.T) {
	t.Parallel()
	dns := newFakeDNS(t, map[string][]string{"inside.test": {"127.0.0.1"}})
	raw := newRawListener(t, "127.0.0.1:0", (*rawListener).countBytes)
	port := itoa(raw.Addr().(*net.TCPAddr).Port)
	var wrapped atomic.Int32
	b := setup(t, func(c *webhook.Config) {
		c.AllowPrivateNetworks = false
		c.Resolver = dns.resolver()
		c.WrapTransport = func(next http.RoundTripper) http.RoundTripper {
			return roundTripperFunc(func(r *http.Request) (*http.Response, error) {
				wrapped.Add(1)
				return next.RoundTrip(r)
			})
		}
	})
	s := b.subscribe("o", "http://inside.test:"+port+"/", "*")
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
	b.refusedAttempt(s, "loopback")
	require.EqualValues(t, 1, wrapped.Load(), "the request went through the wrapper")
	require.Zero(t, raw.read(), "no request byte reached the listener")

	var logs syncBuffer
	_, err := webhook.NewDispatcher(b.store, &webhook.Config{
		Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
		HTTPClient: &http.Client{Transport: roundTripperFunc(http.DefaultTransport.RoundTrip)},
	})
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(logs.String(), "address guard cannot check host names"), logs.String())
	require.Contains(t, logs.String(), "WrapTransport")
}
