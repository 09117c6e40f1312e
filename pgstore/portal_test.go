package pgstore

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/portal"
	"github.com/relayhook/webhook/webhooktest"
)

// TestPortalOnPostgres goes through the portal's pages on this store: the
// portal reads and writes through the Dispatcher's API only, so what it
// does on memstore it does here.
func TestPortalOnPostgres(t *testing.T) {
	ctx := context.Background()
	store := newTestStore(t)
	d, err := webhook.NewDispatcher(store, &webhook.Config{
		AllowPrivateNetworks: true,
		EventTypes:           []webhook.EventType{{Name: "contact.created", Example: json.RawMessage(`{"id":1}`)}},
		Retry:                &webhook.ExponentialRetry{InitialInterval: 10 * time.Millisecond, MaxAttempts: 2},
	})
	require.NoError(t, err)
	require.NoError(t, d.Start(ctx))
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		require.NoError(t, d.Close(cctx))
	})
	rcv := webhooktest.NewReceiver(t, nil)
	srv := httptest.NewServer(portal.NewHandler(d, &portal.Config{Authorize: func(r *http.Request) (manage.Access, error) {
		return manage.Access{OrganizationID: r.Header.Get("X-Org"), Capabilities: manage.CanRead | manage.CanManage}, nil
	}}))
	t.Cleanup(srv.Close)
	send := func(org, method, path string, form url.Values) (int, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, err := http.NewRequest(method, srv.URL+path, body)
		require.NoError(t, err)
		req.Header.Set("X-Org", org)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
		}
		res, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		return res.StatusCode, string(b)
	}

	status, _ := send("org_a", "POST", "/endpoints", url.Values{"url": {rcv.URL}, "name": {"pg hook"}, "events": {"contact.created"}})
	require.Equal(t, http.StatusCreated, status)
	subs, _, err := d.ListSubscriptions(ctx, "org_a", webhook.Page{})
	require.NoError(t, err)
	require.Len(t, subs, 1)
	sub := subs[0]

	rcv.Script(webhooktest.Statuses(500)...)
	_, err = d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org_a"})
	require.NoError(t, err)
	var dl *webhook.Delivery
	require.Eventually(t, func() bool {
		dls, _, err := d.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: "org_a", SubscriptionID: sub.ID})
		require.NoError(t, err)
		if len(dls) == 1 && dls[0].State == webhook.DeliveryDead {
			dl = dls[0]
			return true
		}
		return false
	}, 10*time.Second, 20*time.Millisecond)

	_, page := send("org_a", "GET", "/endpoints/"+sub.ID+"?state=dead", nil)
	require.Contains(t, page, "/deliveries/"+dl.ID)
	_, page = send("org_a", "GET", "/deliveries/"+dl.ID, nil)
	require.Contains(t, page, "Attempt 2")
	require.Contains(t, page, "HTTP 500")
	_, page = send("org_a", "GET", "/endpoints/"+sub.ID+"/retry", nil)
	require.Contains(t, page, `<strong id="retry-count">1</strong>`)
	for _, p := range []string{"/endpoints/" + sub.ID, "/deliveries/" + dl.ID} {
		status, _ := send("org_b", "GET", p, nil)
		require.Equal(t, http.StatusNotFound, status, p)
	}
	status, _ = send("org_b", "POST", "/endpoints/"+sub.ID+"/pause", url.Values{})
	require.Equal(t, http.StatusNotFound, status)

	rcv.Script()
	status, _ = send("org_a", "POST", "/endpoints/"+sub.ID+"/retry", url.Values{})
	require.Equal(t, http.StatusSeeOther, status)
	require.Eventually(t, func() bool {
		got, _, err := d.GetDelivery(ctx, "org_a", dl.ID)
		require.NoError(t, err)
		return got.State == webhook.DeliveryDelivered
	}, 10*time.Second, 20*time.Millisecond)
	status, _ = send("org_a", "POST", "/endpoints/"+sub.ID+"/pause", url.Values{})
	require.Equal(t, http.StatusSeeOther, status)
	got, err := d.GetSubscription(ctx, "org_a", sub.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.StateStopped, got.State)
}
