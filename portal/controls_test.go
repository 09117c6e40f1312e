package portal_test

import (
	"context"
	"encoding/json"
	"errors"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/portal"
)

// TestFormDeliveryControls sets the delivery controls through the add
// form, sees them on the endpoint's page and in the edit form, and
// clears them through the edit form.
func TestFormDeliveryControls(t *testing.T) {
	b := setup(t)
	ctx := context.Background()
	r := b.do(t, "org_a", "POST", "/endpoints", url.Values{"url": {b.rcv.URL + "/c"}, "name": {"controlled"}, "events": {"contact.created"},
		"max_concurrency": {"3"}, "rate_requests": {"10"}, "rate_per": {"minute"},
		"filter": {`{"data.amount": {"$gte": 100}}`}})
	require.Equal(t, http.StatusCreated, r.status, r.body)
	subs, _, err := b.d.ListSubscriptions(ctx, "org_a", webhook.Page{})
	require.NoError(t, err)
	require.Len(t, subs, 1)
	s := subs[0]
	require.Equal(t, 3, s.MaxConcurrency)
	require.Equal(t, &webhook.RateLimit{Requests: 10, Per: webhook.PerMinute}, s.RateLimit)
	require.JSONEq(t, `{"data.amount":{"$gte":100}}`, string(s.Filter))
	require.False(t, s.Ordered)

	page := b.do(t, "org_a", "GET", "/endpoints/"+s.ID, nil).text
	require.Contains(t, page, "<dt>Most requests at once</dt><dd>3</dd>")
	require.Contains(t, page, "<dt>Rate limit</dt><dd>10 per minute</dd>")
	require.Contains(t, page, `<code class="filter">{"data.amount":{"$gte":100}}</code>`)

	edit := b.do(t, "org_a", "GET", "/endpoints/"+s.ID+"/edit", nil).text
	require.Contains(t, edit, `id="max_concurrency" name="max_concurrency" type="number" inputmode="numeric" min="0" max="1000" value="3"`)
	require.Contains(t, edit, `id="rate_requests" name="rate_requests" type="number" inputmode="numeric" min="1" max="10000" value="10"`)
	require.Contains(t, edit, `<option value="minute" selected>`)
	require.Contains(t, edit, "\"data.amount\": {\n    \"$gte\": 100\n  }")

	// Ordered, then everything cleared.
	r = b.do(t, "org_a", "POST", "/endpoints/"+s.ID, url.Values{"url": {b.rcv.URL + "/c"}, "events": {"contact.created"},
		"ordered": {"1"}, "rate_requests": {"10"}, "rate_per": {"minute"}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	got, err := b.d.GetSubscription(ctx, "org_a", s.ID)
	require.NoError(t, err)
	require.True(t, got.Ordered)
	require.Zero(t, got.MaxConcurrency)
	require.Nil(t, got.Filter)
	require.Contains(t, b.do(t, "org_a", "GET", "/endpoints/"+s.ID, nil).text, "<dt>Order</dt><dd>in order, one at a time</dd>")
	require.Contains(t, b.do(t, "org_a", "GET", "/endpoints/"+s.ID+"/edit", nil).body, `id="ordered" name="ordered" value="1" checked`)
	r = b.do(t, "org_a", "POST", "/endpoints/"+s.ID, url.Values{"url": {b.rcv.URL + "/c"}, "events": {"contact.created"}})
	require.Equal(t, http.StatusSeeOther, r.status, r.body)
	got, err = b.d.GetSubscription(ctx, "org_a", s.ID)
	require.NoError(t, err)
	require.False(t, got.Ordered)
	require.Nil(t, got.RateLimit)
	page = b.do(t, "org_a", "GET", "/endpoints/"+s.ID, nil).text
	for _, dt := range []string{"Order", "Rate limit", "Payload filter", "Most requests at once"} {
		require.NotContains(t, page, "<dt>"+dt+"</dt>")
	}
}

// TestFormControlErrorsAreShownByTheControl: a bad control is shown by
// its own control, what was typed is kept, and nothing is stored.
func TestFormControlErrorsAreShownByTheControl(t *testing.T) {
	b := setup(t)
	base := func(kv ...string) url.Values {
		v := url.Values{"url": {b.rcv.URL}, "events": {"contact.created"}}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	cases := []struct {
		name string
		form url.Values
		id   string // of the error's element
		text string
	}{
		{"filter not JSON", base("filter", `{"data.amount": `), "filter-err", "Is not valid JSON."},
		{"filter bad operand", base("filter", `{"data.amount": {"$gte": true}}`), "filter-err", `At ["data.amount"]["$gte"]: must be a number or a string.`},
		{"filter unknown operator", base("filter", `{"data.name": {"$regex": "^a"}}`), "filter-err", `At ["data.name"]["$regex"]: is not an operator`},
		{"filter an array", base("filter", `[1]`), "filter-err", "Must be an object of conditions."},
		{"rate not a number", base("rate_requests", "ten"), "rate_requests-err", "Enter a whole number"},
		{"rate zero", base("rate_requests", "0"), "rate_requests-err", "Must be 1 to 10000."},
		{"rate per hour", base("rate_requests", "5", "rate_per", "hour"), "rate_per-err", "Must be"},
		{"concurrency too big", base("max_concurrency", "5000"), "max_concurrency-err", "Must be 0"},
		{"concurrency not a number", base("max_concurrency", "3.5"), "max_concurrency-err", "Enter a whole number"},
		{"ordered with concurrency", base("ordered", "1", "max_concurrency", "4"), "max_concurrency-err", "ordered"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := b.do(t, "org_a", "POST", "/endpoints", tc.form)
			require.Equal(t, http.StatusUnprocessableEntity, r.status, r.body)
			i := strings.Index(r.body, `id="`+tc.id+`"`)
			require.Positive(t, i, r.body)
			require.Contains(t, html.UnescapeString(r.body[i:]), tc.text)
			require.Contains(t, r.body, `aria-describedby="`, "the control points at its error")
			require.Contains(t, r.body, `aria-invalid="true"`)
			if f := tc.form.Get("filter"); f != "" {
				require.Contains(t, r.text, ">"+strings.TrimSpace(f)+"</textarea>", "what was typed is kept")
			}
			subs, _, err := b.d.ListSubscriptions(context.Background(), "org_a", webhook.Page{})
			require.NoError(t, err)
			require.Empty(t, subs)
		})
	}
}

// TestStoreFullShowsAClearMessage: a test event to a full memstore (its
// deliveries pending: the dispatcher is not started) is a 503 page that
// says why, with Retry-After, and stores nothing.
func TestStoreFullShowsAClearMessage(t *testing.T) {
	st := memstore.NewWithConfig(&memstore.Config{MaxBytes: 8 << 10})
	d, err := webhook.NewDispatcher(st, &webhook.Config{EventTypes: catalog})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close(context.Background()) })
	h := portal.NewHandler(d, &portal.Config{
		Logger: slog.New(slog.DiscardHandler),
		Authorize: func(*http.Request) (manage.Access, error) {
			return manage.Access{OrganizationID: "org_a", Actor: "ada", Capabilities: manage.CanRead | manage.CanManage}, nil
		},
	})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	ctx := t.Context()
	sub := &webhook.Subscription{OrganizationID: "org_a", URL: "https://example.com/in", Events: []string{"*"}}
	require.NoError(t, d.CreateSubscription(ctx, sub))
	data := json.RawMessage(`{"note":"` + strings.Repeat("x", 200) + `"}`)
	for i := 0; ; i++ {
		require.Less(t, i, 1000, "the store never filled")
		_, err := d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org_a", Data: data})
		if errors.Is(err, webhook.ErrStoreFull) {
			break
		}
		require.NoError(t, err)
	}
	before := st.Usage()
	req, err := http.NewRequest("POST", srv.URL+"/endpoints/"+sub.ID+"/test", strings.NewReader("event_type=sale.changed"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Sec-Fetch-Site", "same-origin")
	res, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "%s", body)
	require.Equal(t, strconv.Itoa(manage.StoreFullRetryAfter), res.Header.Get("Retry-After"))
	require.Contains(t, string(body), "Too many deliveries are waiting to be sent")
	require.NotContains(t, string(body), "memstore")
	require.Equal(t, before, st.Usage(), "nothing stored")
}
