package webhookotel_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	webhook "github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/webhookotel"
)

// TestOtelhttpThroughWrapTransport: otelhttp wrapped around the
// dispatcher's guarded transport makes its HTTP span a child of the
// attempt span and sends no traceparent when given no propagator. (That
// WrapTransport keeps the address guard is the core's
// TestWrapTransportKeepsTheGuard.)
func TestOtelhttpThroughWrapTransport(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	tel, err := webhookotel.New(&webhookotel.Config{TracerProvider: tp})
	require.NoError(t, err)
	rcv := newReceiver(t, 200)
	cfg := &webhook.Config{
		AllowPrivateNetworks: true,
		WrapTransport: func(next http.RoundTripper) http.RoundTripper {
			return otelhttp.NewTransport(next, otelhttp.WithTracerProvider(tp),
				otelhttp.WithPropagators(propagation.NewCompositeTextMapPropagator()))
		},
	}
	tel.Instrument(cfg)
	d, err := webhook.NewDispatcher(memstore.New(), cfg)
	require.NoError(t, err)
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, d.Close(ctx))
		require.NoError(t, tp.Shutdown(ctx))
	}()
	ctx := context.Background()
	require.NoError(t, d.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "o", URL: rcv.URL, Events: []string{"*"}}))
	require.NoError(t, d.Start(ctx))
	_, err = d.Dispatch(ctx, webhook.Event{Type: "a.b", OrganizationID: "o"})
	require.NoError(t, err)

	var attempt, httpSpan sdktrace.ReadOnlySpan
	require.Eventually(t, func() bool {
		for _, s := range spans.Ended() {
			if s.Name() == webhookotel.SpanName {
				attempt = s
			} else {
				httpSpan = s
			}
		}
		return attempt != nil && httpSpan != nil
	}, 5*time.Second, time.Millisecond)
	require.Equal(t, attempt.SpanContext().SpanID(), httpSpan.Parent().SpanID(), "the HTTP span is a child of the attempt span")
	require.Equal(t, []string{""}, rcv.traceparents())
}
