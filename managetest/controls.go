package managetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

// testDeliveryControls round-trips the delivery controls (filter,
// maxConcurrency, rateLimit, ordered) through create, GET, PATCH and PUT,
// and shows that a filtered subscription gets only the events that pass.
func testDeliveryControls(t *testing.T, ts *suite) {
	e := ts.setup(t)
	filter := `{"data.amount":{"$gte":100},"data.country":{"$in":["NO","SE"]}}`
	created := e.create("manager-a", fmt.Sprintf(`{"url":%q,"events":["contact.*"],"filter":%s,
		"maxConcurrency":3,"rateLimit":{"requests":10,"per":"second"}}`, e.rcvURL, filter))
	id := created["id"].(string)
	requireJSONEqual(t, filter, created["filter"])
	require.EqualValues(t, 3, created["maxConcurrency"])
	require.Equal(t, map[string]any{"requests": 10.0, "per": "second"}, created["rateLimit"])
	require.Nil(t, created["ordered"], "false is left out")

	got := e.do("reader-a", "GET", "/subscriptions/"+id, "").json(t)
	requireJSONEqual(t, filter, got["filter"])
	require.EqualValues(t, 3, got["maxConcurrency"])
	require.Equal(t, map[string]any{"requests": 10.0, "per": "second"}, got["rateLimit"])
	s, err := e.d.GetSubscription(t.Context(), "org_a", id)
	require.NoError(t, err)
	require.Equal(t, &webhook.RateLimit{Requests: 10, Per: webhook.PerSecond}, s.RateLimit)
	require.Equal(t, 3, s.MaxConcurrency)

	// PATCH merges into the objects and sets the rest.
	r := e.doType("manager-a", "PATCH", "/subscriptions/"+id,
		`{"ordered":true,"maxConcurrency":1,"rateLimit":{"per":"minute"},"filter":{"data.country":null}}`, "application/merge-patch+json")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	p := r.json(t)
	require.Equal(t, true, p["ordered"])
	require.EqualValues(t, 1, p["maxConcurrency"])
	require.Equal(t, map[string]any{"requests": 10.0, "per": "minute"}, p["rateLimit"])
	requireJSONEqual(t, `{"data.amount":{"$gte":100}}`, p["filter"])
	require.Equal(t, p, e.do("reader-a", "GET", "/subscriptions/"+id, "").json(t))

	// null clears each of them.
	r = e.do("manager-a", "PATCH", "/subscriptions/"+id, `{"ordered":null,"maxConcurrency":null,"rateLimit":null,"filter":null}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	p = r.json(t)
	for _, k := range []string{"ordered", "maxConcurrency", "rateLimit", "filter"} {
		require.NotContains(t, p, k)
	}
	s, err = e.d.GetSubscription(t.Context(), "org_a", id)
	require.NoError(t, err)
	require.Nil(t, s.RateLimit)
	require.Nil(t, s.Filter)
	require.False(t, s.Ordered)

	// PUT sets them; a PUT that leaves them out removes them.
	r = e.do("manager-a", "PUT", "/subscriptions/"+id, fmt.Sprintf(`{"url":%q,"events":["contact.*"],
		"filter":{"type":"contact.created"},"ordered":true,"rateLimit":{"requests":2,"per":"second"}}`, e.rcvURL))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	p = r.json(t)
	requireJSONEqual(t, `{"type":"contact.created"}`, p["filter"])
	require.Equal(t, true, p["ordered"])
	require.Equal(t, map[string]any{"requests": 2.0, "per": "second"}, p["rateLimit"])
	r = e.do("manager-a", "PUT", "/subscriptions/"+id, fmt.Sprintf(`{"url":%q,"events":["contact.*"]}`, e.rcvURL))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	p = r.json(t)
	for _, k := range []string{"ordered", "maxConcurrency", "rateLimit", "filter"} {
		require.NotContains(t, p, k)
	}

	// A filtered subscription gets only the events that pass its filter;
	// one without a filter gets all of them.
	bigSub := e.create("manager-a", fmt.Sprintf(`{"url":%q,"events":["contact.created"],"filter":{"data.amount":{"$gte":100}},"rateLimit":{"requests":50,"per":"second"}}`, e.rcvURL))
	big := bigSub["id"].(string)
	var want []string
	for _, amount := range []int{50, 150, 99, 100} {
		ev := e.dispatchData("org_a", "contact.created", fmt.Sprintf(`{"amount":%d}`, amount))
		if amount >= 100 {
			want = append(want, ev)
		}
	}
	e.waitDeliveries("org_a", 6)
	r = e.do("reader-a", "GET", "/subscriptions/"+big+"/deliveries?order=oldest", "")
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	var gotEvents []string
	for _, dl := range r.json(t)["data"].([]any) {
		gotEvents = append(gotEvents, dl.(map[string]any)["eventId"].(string))
	}
	require.Equal(t, want, gotEvents)
	r = e.do("reader-a", "GET", "/subscriptions/"+id+"/deliveries", "")
	require.Len(t, r.json(t)["data"], 4)

	// A SuperOffice client's PUT, which knows nothing of the controls,
	// keeps them.
	r = e.do("manager-a", "PUT", fmt.Sprintf("/api/v1/Webhook/%v", bigSub["number"]),
		fmt.Sprintf(`{"Name":"renamed","Events":["contact.created"],"TargetUrl":%q}`, e.rcvURL))
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	p = e.do("reader-a", "GET", "/subscriptions/"+big, "").json(t)
	require.Equal(t, "renamed", p["name"])
	requireJSONEqual(t, `{"data.amount":{"$gte":100}}`, p["filter"])
	require.Equal(t, map[string]any{"requests": 50.0, "per": "second"}, p["rateLimit"])

	// Replay honours the filter too.
	late := e.create("manager-a", fmt.Sprintf(`{"url":%q,"events":["contact.*"],"filter":{"data.amount":{"$lt":100}}}`, e.rcvURL))["id"].(string)
	r = e.do("manager-a", "POST", "/subscriptions/"+late+"/replay", `{}`)
	require.Equal(t, http.StatusOK, r.status, "%s", r.body)
	require.EqualValues(t, 2, r.json(t)["count"])
}

// requireJSONEqual compares a decoded JSON value with a JSON text.
func requireJSONEqual(t *testing.T, want string, got any) {
	t.Helper()
	b, err := json.Marshal(got)
	require.NoError(t, err)
	require.JSONEq(t, want, string(b))
}

// dispatchData dispatches an event with the data and returns its ID.
func (e *env) dispatchData(org, typ, data string) string {
	e.t.Helper()
	res, err := e.d.Dispatch(e.t.Context(), webhook.Event{Type: typ, OrganizationID: org, Data: json.RawMessage(data)})
	require.NoError(e.t, err)
	return res.EventID
}
