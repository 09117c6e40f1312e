package storetest

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

// controlTests cover what observability and the per-subscription
// delivery controls keep in the store.
var controlTests = []test{
	{"EventKeepsTraceContext", testEventTraceContext},
}

// testTrace is a trace context as a tracing adapter captures it.
var testTrace = webhook.TraceContext{
	Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	Tracestate:  "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
}

func testEventTraceContext(t *testing.T, e *env) {
	ctx := t.Context()
	sub := e.createSubscription(t)
	ev := e.newEvent()
	ev.Trace = testTrace
	d := e.newDelivery(ev, sub, e.now)
	n, err := e.store.Enqueue(ctx, ev, []*webhook.Delivery{d})
	require.NoError(t, err)
	require.Equal(t, 1, n)
	ev.Trace.Traceparent = "changed" // the store kept a copy

	got, err := e.store.GetEvent(ctx, e.org, ev.ID)
	require.NoError(t, err)
	require.Equal(t, testTrace, got.Trace, "GetEvent's Trace")

	list, _, err := e.store.ListEvents(ctx, webhook.EventFilter{OrganizationID: e.org})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.Equal(t, testTrace, list[0].Trace, "ListEvents' Trace")

	claimed := e.claimOne(t, e.now, d)
	require.Equal(t, testTrace, claimed.Event.Trace, "the claimed delivery's Event.Trace")

	// An event without one stays without.
	plain := e.enqueueOne(t, sub, e.at(time.Second))
	c := e.claimOne(t, e.at(2*time.Second), plain)
	require.True(t, c.Event.Trace.IsZero(), "Trace of an event dispatched without one: %+v", c.Event.Trace)
}
