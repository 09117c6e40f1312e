package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// TestFilterLanguage evaluates filters through Dispatch: each case is a
// subscription with the filter and one event with the data; the event
// makes a delivery exactly when it passes.
func TestFilterLanguage(t *testing.T) {
	t.Parallel()
	data := `{"amount": 150, "country": "NO", "vip": true, "note": null, "tags": ["a"],
		"customer": {"id": "c1", "tier": 2}, "created": "2026-01-24"}`
	cases := []struct {
		filter string
		want   bool
	}{
		{`{}`, true},
		{`{"type": "contact.created"}`, true},
		{`{"type": "contact.changed"}`, false},
		{`{"data.amount": 150}`, true},
		{`{"data.amount": 150.0}`, true},
		{`{"data.amount": "150"}`, false},
		{`{"data.country": "NO"}`, true},
		{`{"data.vip": true}`, true},
		{`{"data.vip": false}`, false},
		{`{"data.note": null}`, true},
		{`{"data.missing": null}`, false},
		{`{"data.customer.id": "c1"}`, true},
		{`{"data.customer.tier": {"$gt": 1}}`, true},
		{`{"data.customer.tier": {"$gt": 2}}`, false},
		{`{"data.amount": {"$gte": 100}, "data.country": {"$in": ["NO", "SE"]}}`, true},
		{`{"data.amount": {"$gte": 200}, "data.country": {"$in": ["NO", "SE"]}}`, false},
		{`{"data.amount": {"$gte": 100, "$lt": 150}}`, false},
		{`{"data.amount": {"$gt": 100, "$lte": 150}}`, true},
		{`{"data.amount": {"$lt": "z"}}`, false},
		{`{"data.created": {"$gte": "2026-01-01", "$lt": "2026-02-01"}}`, true},
		{`{"data.country": {"$ne": "SE"}}`, true},
		{`{"data.country": {"$ne": "NO"}}`, false},
		{`{"data.missing": {"$ne": "x"}}`, true},
		{`{"data.country": {"$nin": ["SE", "DK"]}}`, true},
		{`{"data.country": {"$nin": ["NO"]}}`, false},
		{`{"data.missing": {"$nin": ["NO"]}}`, true},
		{`{"data.missing": {"$in": ["NO"]}}`, false},
		{`{"data.note": {"$exists": true}}`, true},
		{`{"data.missing": {"$exists": false}}`, true},
		{`{"data.amount": {"$exists": false}}`, false},
		{`{"data.tags": "a"}`, false},
		{`{"data.customer": {"$exists": true}}`, true},
		{`{"data.amount.deeper": {"$exists": true}}`, false},
		{`{"$or": [{"data.country": "SE"}, {"data.amount": {"$gt": 100}}]}`, true},
		{`{"$or": [{"data.country": "SE"}, {"data.amount": {"$gt": 1000}}]}`, false},
		{`{"$and": [{"data.country": "NO"}, {"$or": [{"data.vip": true}, {"data.amount": 1}]}]}`, true},
		{`{"$and": [{"data.country": "NO"}, {"data.vip": false}]}`, false},
		{`null`, true},
	}
	b := setup(t, nil)
	for i, tc := range cases {
		org := fmt.Sprintf("o%d", i)
		sub := &webhook.Subscription{OrganizationID: org, URL: "https://hooks.example.com/in", Events: []string{"contact.*"},
			Filter: json.RawMessage(tc.filter)}
		require.NoError(t, b.d.CreateSubscription(context.Background(), sub), tc.filter)
		res := b.dispatch(webhook.Event{Type: "contact.created", OrganizationID: org, Data: json.RawMessage(data)})
		want := 0
		if tc.want {
			want = 1
		}
		require.Equal(t, want, res.Matched, "Matched with %s", tc.filter)
		require.Equal(t, want, res.Enqueued, "Enqueued with %s", tc.filter)
	}
}

// TestFilterOnEventsWithoutObjectData: paths under data find nothing in
// data that is not an object, or absent.
func TestFilterOnEventsWithoutObjectData(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	for i, data := range []string{``, `null`, `[1,2]`, `"text"`, `7`} {
		org := fmt.Sprintf("o%d", i)
		b.subscribe(org, "https://hooks.example.com/a", "*")
		f := &webhook.Subscription{OrganizationID: org, URL: "https://hooks.example.com/b", Events: []string{"*"},
			Filter: json.RawMessage(`{"data.x": {"$exists": true}}`)}
		require.NoError(t, b.d.CreateSubscription(context.Background(), f))
		res := b.dispatch(webhook.Event{Type: "a.b", OrganizationID: org, Data: json.RawMessage(data)})
		require.Equal(t, 1, res.Enqueued, "data %q: only the unfiltered subscription", data)
	}
}

// TestFilterRefusedWhenSaved: each bad filter gets a *ValidationError
// naming the part at fault and changes nothing.
func TestFilterRefusedWhenSaved(t *testing.T) {
	t.Parallel()
	deep := `{"data.x": 1}`
	for range webhook.MaxFilterDepth + 1 {
		deep = `{"$or": [` + deep + `]}`
	}
	manyConds := map[string]int{}
	for i := range webhook.MaxFilterConditions + 1 {
		manyConds[fmt.Sprintf("data.k%d", i)] = i
	}
	many, _ := json.Marshal(manyConds)
	values := make([]int, webhook.MaxFilterValues+1)
	manyValues := fmt.Sprintf(`{"data.x": {"$in": %s}}`, strings.ReplaceAll(fmt.Sprint(values), " ", ","))
	cases := []struct {
		filter, field, reason string
	}{
		{`{"data.x": 1`, "filter", "not valid JSON"},
		{`[1]`, "filter", "object of conditions"},
		{`"x"`, "filter", "object of conditions"},
		{`{"data.x": "` + strings.Repeat("a", webhook.MaxFilterBytes) + `"}`, "filter", "more than 4096"},
		{deep, `filter["$or"][0]["$or"][0]["$or"][0]["$or"][0]["$or"]`, "levels of $and and $or"},
		{strings.Repeat(`{"$or":[`, 20) + strings.Repeat(`]}`, 20), "filter", "levels of $and and $or"},
		{string(many), `filter["data.k9"]`, "past the filter's 64 conditions"},
		{manyValues, `filter["data.x"]["$in"]`, "more than 100"},
		{`{"amount": 1}`, `filter["amount"]`, "is not a path"},
		{`{"data..x": 1}`, `filter["data..x"]`, "empty path segment"},
		{`{"data.` + strings.Repeat("a.", webhook.MaxFilterPathSegments) + `b": 1}`, `filter["data.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.b"]`, "path segments"},
		{`{"$not": [{"data.x": 1}]}`, `filter["$not"]`, "not an operator here"},
		{`{"$or": []}`, `filter["$or"]`, "non-empty array"},
		{`{"$or": {"data.x": 1}}`, `filter["$or"]`, "non-empty array"},
		{`{"$and": [{"data.x": {"$regex": "a"}}]}`, `filter["$and"][0]["data.x"]["$regex"]`, "is not an operator"},
		{`{"data.x": {"$gt": true}}`, `filter["data.x"]["$gt"]`, "number or a string"},
		{`{"data.x": {"$gt": [1]}}`, `filter["data.x"]["$gt"]`, "string, number, boolean or null"},
		{`{"data.x": {"$in": "NO"}}`, `filter["data.x"]["$in"]`, "non-empty array"},
		{`{"data.x": {"$in": [{"a": 1}]}}`, `filter["data.x"]["$in"][0]`, "string, number, boolean or null"},
		{`{"data.x": {"$exists": 1}}`, `filter["data.x"]["$exists"]`, "true or false"},
		{`{"data.x": {}}`, `filter["data.x"]`, "non-empty object of operators"},
		{`{"data.x": [1, 2]}`, `filter["data.x"]`, "string, number, boolean or null"},
		{"{\"data.x\": \"\xff\"}", "filter", "UTF-8"},
	}
	b := setup(t, nil)
	ctx := context.Background()
	existing := b.subscribe("o", "https://hooks.example.com/in", "*")
	for _, tc := range cases {
		s := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"}, Filter: json.RawMessage(tc.filter)}
		err := b.d.CreateSubscription(ctx, s)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve, tc.filter)
		require.ErrorIs(t, err, webhook.ErrInvalidSubscription)
		require.Equal(t, tc.field, ve.Field, tc.filter)
		require.Contains(t, ve.Reason, tc.reason, tc.filter)
		require.Empty(t, s.ID, "nothing filled in")

		u := *existing
		u.Filter = json.RawMessage(tc.filter)
		require.ErrorAs(t, b.d.UpdateSubscription(ctx, &u), &ve, tc.filter)
		require.Equal(t, tc.field, ve.Field)

		require.ErrorAs(t, s.Validate(), &ve, "Validate: %s", tc.filter)
	}
	subs, _, err := b.d.ListSubscriptions(ctx, "o", webhook.Page{})
	require.NoError(t, err)
	require.Len(t, subs, 1)
	require.Empty(t, subs[0].Filter, "the update changed nothing")
}

// TestFilterStoredCompactedAndInJSON: the filter is stored compacted and
// is part of the subscription's JSON form as an object.
func TestFilterStoredCompactedAndInJSON(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	s := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"},
		Filter: json.RawMessage("{ \"data.amount\" : { \"$gte\" : 100 } }\n")}
	require.NoError(t, b.d.CreateSubscription(ctx, s))
	got, err := b.d.GetSubscription(ctx, "o", s.ID)
	require.NoError(t, err)
	require.Equal(t, `{"data.amount":{"$gte":100}}`, string(got.Filter))
	j, err := json.Marshal(got)
	require.NoError(t, err)
	require.Contains(t, string(j), `"filter":{"data.amount":{"$gte":100}}`)

	var back webhook.Subscription
	require.NoError(t, json.Unmarshal(j, &back))
	require.Equal(t, got.Filter, back.Filter)

	// A null filter is none.
	got.Filter = json.RawMessage(`null`)
	require.NoError(t, b.d.UpdateSubscription(ctx, got))
	require.Nil(t, got.Filter)
}

// TestReplayHonoursTheFilter: Replay sends only the stored events that
// pass the subscription's filter.
func TestReplayHonoursTheFilter(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	for i := range 4 {
		b.dispatch(webhook.Event{Type: "sale.changed", OrganizationID: "o", Data: json.RawMessage(fmt.Sprintf(`{"amount": %d}`, i*100))})
	}
	s := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"sale.*"},
		Filter: json.RawMessage(`{"data.amount": {"$gte": 200}}`)}
	require.NoError(t, b.d.CreateSubscription(ctx, s))
	n, err := b.d.Replay(ctx, "o", s.ID, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Equal(t, 2, n)
}

// wrappedStore is a host's wrapper around a Store (for metrics, say): the
// filters come with the match in the Store contract, so a wrapper that
// forwards only the interface's methods loses nothing.
type wrappedStore struct{ webhook.Store }

func TestFilterThroughAWrappingStore(t *testing.T) {
	t.Parallel()
	store := wrappedStore{memstore.New()}
	d, err := webhook.NewDispatcher(store, nil)
	require.NoError(t, err)
	defer d.Close(context.Background())
	ctx := context.Background()
	for _, f := range []string{`{"data.n": {"$gt": 1}}`, `{"data.n": {"$gt": 5}}`, ``} {
		require.NoError(t, d.CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in",
			Events: []string{"*"}, Filter: json.RawMessage(f)}))
	}
	res, err := d.Dispatch(ctx, webhook.Event{Type: "a.b", OrganizationID: "o", Data: json.RawMessage(`{"n": 3}`)})
	require.NoError(t, err)
	require.Equal(t, 2, res.Enqueued)
}

// TestStoredInvalidFilterReceivesNothing: a filter stored around the
// Dispatcher's checks passes no event, and Dispatch still succeeds.
func TestStoredInvalidFilterReceivesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	s := b.storeDirectly("sub_bad", "https://hooks.example.com/in")
	s.Filter = json.RawMessage(`{"$nope": 1}`)
	require.NoError(t, b.store.UpdateSubscription(context.Background(), s))
	res := b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
	require.Zero(t, res.Enqueued)
}
