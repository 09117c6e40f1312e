package storetest

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

// controlTests cover what observability and the per-subscription
// delivery controls keep in the store.
var controlTests = []test{
	{"EventKeepsTraceContext", testEventTraceContext},
	{"SubscriptionKeepsFilter", testSubscriptionFilter},
	{"MatchReturnsFilters", testMatchFilters},
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

const testFilter = `{"data.amount":{"$gte":100},"data.country":{"$in":["NO","SE"]}}`

func testSubscriptionFilter(t *testing.T, e *env) {
	ctx := t.Context()
	sub := e.newSubscription()
	sub.Filter = json.RawMessage(testFilter)
	require.NoError(t, e.store.CreateSubscription(ctx, sub))
	sub.Filter[2] = 'X' // the store kept a copy

	got, err := e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.JSONEq(t, testFilter, string(got.Filter))
	got.Filter[2] = 'Y' // and returned one
	again, err := e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.JSONEq(t, testFilter, string(again.Filter))

	list, _, err := e.store.ListSubscriptions(ctx, e.org, webhook.Page{})
	require.NoError(t, err)
	require.Len(t, list, 1)
	require.JSONEq(t, testFilter, string(list[0].Filter))

	again.Filter = json.RawMessage(`{"type":"contact.created"}`)
	require.NoError(t, e.store.UpdateSubscription(ctx, again))
	got, err = e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.JSONEq(t, `{"type":"contact.created"}`, string(got.Filter))

	got.Filter = nil
	require.NoError(t, e.store.UpdateSubscription(ctx, got))
	got, err = e.store.GetSubscription(ctx, e.org, sub.ID)
	require.NoError(t, err)
	require.Empty(t, got.Filter, "a filter removed by an update")
}

func testMatchFilters(t *testing.T, e *env) {
	fm, ok := e.store.(webhook.FilterMatcher)
	if !ok {
		t.Skip("the store does not implement webhook.FilterMatcher")
	}
	ctx := t.Context()
	filtered := e.newSubscription("contact.*")
	filtered.Filter = json.RawMessage(testFilter)
	require.NoError(t, e.store.CreateSubscription(ctx, filtered))
	plain := e.createSubscription(t, "contact.created")
	stopped := e.newSubscription("*")
	stopped.State = webhook.StateStopped
	require.NoError(t, e.store.CreateSubscription(ctx, stopped))
	e.createSubscription(t, "sale.changed")
	other := e.otherOrg()
	other.createSubscription(t, "contact.created")

	want, err := e.store.MatchSubscriptions(ctx, e.org, "contact.created")
	require.NoError(t, err)
	got, err := fm.MatchSubscriptionFilters(ctx, e.org, "contact.created")
	require.NoError(t, err)
	ids := make([]string, len(got))
	for i, m := range got {
		ids[i] = m.ID
	}
	require.Equal(t, want, ids, "the same subscriptions as MatchSubscriptions, in ID order")
	require.ElementsMatch(t, []string{filtered.ID, plain.ID}, ids)
	for _, m := range got {
		if m.ID == filtered.ID {
			require.JSONEq(t, testFilter, string(m.Filter))
		} else {
			require.Empty(t, m.Filter, "a subscription without a filter")
		}
	}
	none, err := fm.MatchSubscriptionFilters(ctx, e.org, "unknown.type")
	require.NoError(t, err)
	require.Empty(t, none)
}
