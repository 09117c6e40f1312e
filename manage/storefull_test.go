package manage_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/manage"
	"github.com/relayhook/webhook/memstore"
)

// fullAPI serves the API for org_a over the dispatcher.
func fullAPI(t *testing.T, d *webhook.Dispatcher) func(method, path, body string) (*http.Response, manage.Problem) {
	h := manage.NewHandler(d, &manage.Config{Logger: slog.New(slog.DiscardHandler), Authorize: func(*http.Request) (manage.Access, error) {
		return manage.Access{OrganizationID: "org_a", Actor: "ada", Capabilities: manage.CanRead | manage.CanManage}, nil
	}})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return func(method, path, body string) (*http.Response, manage.Problem) {
		t.Helper()
		req, err := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		req.Header.Set("Content-Type", "application/json")
		res, err := srv.Client().Do(req)
		require.NoError(t, err)
		defer res.Body.Close()
		b, err := io.ReadAll(res.Body)
		require.NoError(t, err)
		var p manage.Problem
		if res.Header.Get("Content-Type") == "application/problem+json" {
			require.NoError(t, json.Unmarshal(b, &p), "%s", b)
		}
		return res, p
	}
}

func requireStoreFull(t *testing.T, res *http.Response, p manage.Problem) {
	t.Helper()
	require.Equal(t, http.StatusServiceUnavailable, res.StatusCode, "%+v", p)
	require.Equal(t, "application/problem+json", res.Header.Get("Content-Type"))
	require.Equal(t, fmt.Sprint(manage.StoreFullRetryAfter), res.Header.Get("Retry-After"))
	require.Equal(t, http.StatusServiceUnavailable, p.Status)
	require.Contains(t, p.Detail, "The queue is full")
	require.NotContains(t, p.Detail, "memstore")
}

// TestStoreFullIs503: a memstore at its MaxBytes, its deliveries pending
// (the dispatcher is not started), refuses a test event and a replay with
// 503, Retry-After and a problem body, and stores nothing for the test.
func TestStoreFullIs503(t *testing.T) {
	st := memstore.NewWithConfig(&memstore.Config{MaxBytes: 8 << 10})
	d, err := webhook.NewDispatcher(st, &webhook.Config{
		EventTypes: []webhook.EventType{{Name: "contact.created", Example: json.RawMessage(`{"contactId":1}`)}},
	})
	require.NoError(t, err)
	t.Cleanup(func() { d.Close(context.Background()) })
	do := fullAPI(t, d)
	ctx := t.Context()
	sub := &webhook.Subscription{OrganizationID: "org_a", URL: "https://example.com/in", Events: []string{"contact.*"}}
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

	res, p := do("POST", "/subscriptions/"+sub.ID+"/test", `{"eventType":"contact.created"}`)
	requireStoreFull(t, res, p)
	require.Equal(t, before, st.Usage(), "nothing stored")

	late := &webhook.Subscription{OrganizationID: "org_a", URL: "https://example.com/late", Events: []string{"contact.*"}}
	require.NoError(t, d.CreateSubscription(ctx, late))
	res, p = do("POST", "/subscriptions/"+late.ID+"/replay", `{}`)
	requireStoreFull(t, res, p)
	queued := st.Usage().Pending - before.Pending
	if queued > 0 {
		require.Contains(t, p.Detail, fmt.Sprintf(" %d ", queued), "the detail says how many were queued")
	}

	// Other routes still answer.
	res, _ = do("GET", "/subscriptions/"+sub.ID, "")
	require.Equal(t, http.StatusOK, res.StatusCode)
}

// fullOnRedeliver is a memstore whose Redeliver says the store is full,
// as a bounded store that counts a redelivery may.
type fullOnRedeliver struct{ *memstore.Store }

func (fullOnRedeliver) Redeliver(context.Context, string, string, time.Time) error {
	return fmt.Errorf("test store: %w", webhook.ErrStoreFull)
}

func TestStoreFullOnRedeliverIs503(t *testing.T) {
	rcv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
	}))
	t.Cleanup(rcv.Close)
	d, err := webhook.NewDispatcher(fullOnRedeliver{memstore.New()}, &webhook.Config{
		AllowedNetworks: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")},
		Retry:           retryNever{}, PollInterval: 10 * time.Millisecond,
	})
	require.NoError(t, err)
	require.NoError(t, d.Start(t.Context()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, d.Close(ctx))
	})
	do := fullAPI(t, d)
	ctx := t.Context()
	sub := &webhook.Subscription{OrganizationID: "org_a", URL: rcv.URL, Events: []string{"contact.*"}}
	require.NoError(t, d.CreateSubscription(ctx, sub))
	_, err = d.Dispatch(ctx, webhook.Event{Type: "contact.created", OrganizationID: "org_a", Data: json.RawMessage(`{}`)})
	require.NoError(t, err)
	var dead *webhook.Delivery
	require.Eventually(t, func() bool {
		dls, _, err := d.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: "org_a", State: webhook.DeliveryDead})
		require.NoError(t, err)
		if len(dls) == 1 {
			dead = dls[0]
		}
		return dead != nil
	}, 5*time.Second, 10*time.Millisecond)

	res, p := do("POST", "/deliveries/"+dead.ID+"/redeliver", "")
	requireStoreFull(t, res, p)
	res, p = do("POST", "/subscriptions/"+sub.ID+"/redeliver", `{}`)
	requireStoreFull(t, res, p)
}

type retryNever struct{}

func (retryNever) NextRetry(webhook.Failure) (time.Duration, bool) { return 0, false }
