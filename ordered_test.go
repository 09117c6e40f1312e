package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// orderedReceiver answers 500 to the first attempt of every event whose
// sequence number is a multiple of failEvery, 200 otherwise, and records
// the sequence numbers it accepted, and the most requests it held at once.
type orderedReceiver struct {
	*httptest.Server
	failEvery int
	mu        sync.Mutex
	tried     map[int]bool
	accepted  []int
	cur, most int
}

func newOrderedReceiver(t *testing.T, failEvery int) *orderedReceiver {
	r := &orderedReceiver{failEvery: failEvery, tried: map[int]bool{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			Data struct {
				Seq int `json:"seq"`
			} `json:"data"`
		}
		if err := json.NewDecoder(req.Body).Decode(&body); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		r.mu.Lock()
		r.cur++
		r.most = max(r.most, r.cur)
		seq := body.Data.Seq
		fail := seq%r.failEvery == 0 && !r.tried[seq]
		r.tried[seq] = true
		if !fail {
			r.accepted = append(r.accepted, seq)
		}
		r.mu.Unlock()
		time.Sleep(100 * time.Microsecond) // overlap, were two sent at once
		r.mu.Lock()
		r.cur--
		r.mu.Unlock()
		if fail {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *orderedReceiver) result() ([]int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int(nil), r.accepted...), r.most
}

// TestOrderedDeliveryWithFailures: 1,000 events to an Ordered subscription,
// every 7th failing its first attempt, arrive in dispatch order, each
// once, one request at a time, with two dispatchers on one memstore; an
// unordered subscription beside it is not held back by its failures.
func TestOrderedDeliveryWithFailures(t *testing.T) {
	t.Parallel()
	store := memstore.New()
	rcv := newOrderedReceiver(t, 7)
	var ds []*webhook.Dispatcher
	for range 2 {
		d, err := webhook.NewDispatcher(store, &webhook.Config{Workers: 8, AllowPrivateNetworks: true, Retention: -1,
			Retry: &webhook.ExponentialRetry{InitialInterval: time.Millisecond, MaxInterval: 5 * time.Millisecond, RandomizationFactor: -1}})
		require.NoError(t, err)
		ds = append(ds, d)
	}
	ctx := context.Background()
	require.NoError(t, ds[0].CreateSubscription(ctx, &webhook.Subscription{OrganizationID: "o", URL: rcv.URL, Events: []string{"*"}, Ordered: true}))
	const n = 1000
	for i := range n {
		_, err := ds[i%2].Dispatch(ctx, webhook.Event{Type: "a.b", OrganizationID: "o", Data: json.RawMessage(fmt.Sprintf(`{"seq":%d}`, i))})
		require.NoError(t, err)
	}
	for _, d := range ds {
		require.NoError(t, d.Start(ctx))
	}
	require.Eventually(t, func() bool { got, _ := rcv.result(); return len(got) >= n }, 60*time.Second, time.Millisecond)
	for _, d := range ds {
		require.NoError(t, d.Close(ctx))
	}
	got, most := rcv.result()
	want := make([]int, n)
	for i := range want {
		want[i] = i
	}
	require.Equal(t, want, got, "accepted in dispatch order, each once")
	require.Equal(t, 1, most, "one request at a time")
}

// TestOrderedDeadHeadReleasesTheNext: a head that dies (410 Gone would
// stop the subscription; a permanent status) lets the next one go.
func TestOrderedDeadHeadReleasesTheNext(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		var body struct {
			Data struct {
				Seq int `json:"seq"`
			} `json:"data"`
		}
		_ = json.NewDecoder(req.Body).Decode(&body)
		mu.Lock()
		seen = append(seen, body.Data.Seq)
		mu.Unlock()
		if body.Data.Seq == 0 {
			w.WriteHeader(http.StatusBadRequest) // permanent below: dead at once
		}
	}))
	defer srv.Close()
	b := setup(t, func(c *webhook.Config) {
		c.Retry = &webhook.ExponentialRetry{PermanentStatuses: []int{http.StatusBadRequest}}
	})
	ctx := context.Background()
	sub := &webhook.Subscription{OrganizationID: "o", URL: srv.URL, Events: []string{"*"}, Ordered: true}
	require.NoError(t, b.d.CreateSubscription(ctx, sub))
	for i := range 3 {
		b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o", Data: json.RawMessage(fmt.Sprintf(`{"seq":%d}`, i))})
	}
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(seen) == 3 }, 5*time.Second, time.Millisecond)
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int{0, 1, 2}, seen)
}
