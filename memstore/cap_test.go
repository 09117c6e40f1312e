package memstore_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// TestCapDropsHistoryFirstThenRefusesDispatch fills a store bounded by
// Config.MaxBytes as a host would, through Dispatch: first with history
// (events delivered to a receiver), then with pending work (events
// dispatched while nothing delivers). The history goes first, oldest
// first; the pending deliveries are all kept; once only they are left,
// Dispatch fails with a *memstore.FullError wrapping webhook.ErrStoreFull
// and stores nothing; once delivering resumes, every accepted event
// arrives, once, and Dispatch is accepted again.
func TestCapDropsHistoryFirstThenRefusesDispatch(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	var mu sync.Mutex
	received := map[string]int{} // by webhook-id: the event's ID
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		mu.Lock()
		received[r.Header.Get(webhook.HeaderID)]++
		mu.Unlock()
	}))
	defer srv.Close()

	const maxBytes = 256 << 10
	store := memstore.NewWithConfig(&memstore.Config{MaxBytes: maxBytes})
	cfg := &webhook.Config{AllowPrivateNetworks: true, Retention: -1, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	newDispatcher := func() *webhook.Dispatcher {
		d, err := webhook.NewDispatcher(store, cfg)
		require.NoError(t, err)
		return d
	}
	closeDispatcher := func(d *webhook.Dispatcher) {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, d.Close(cctx))
	}
	d := newDispatcher()
	require.NoError(t, d.CreateSubscription(ctx, &webhook.Subscription{ID: "sub_history", OrganizationID: "org_a", URL: srv.URL, Events: []string{"history.made"}}))
	require.NoError(t, d.CreateSubscription(ctx, &webhook.Subscription{ID: "sub_pending", OrganizationID: "org_a", URL: srv.URL, Events: []string{"work.queued"}}))
	data := []byte(`{"pad":"` + strings.Repeat("x", 1000) + `"}`)
	t0 := time.Now().Add(-time.Hour)
	dispatch := func(d *webhook.Dispatcher, typ string, i int) (string, error) {
		id := fmt.Sprintf("evt_%s_%04d", typ[:4], i)
		_, err := d.Dispatch(ctx, webhook.Event{ID: id, OrganizationID: "org_a", Type: typ, Timestamp: t0.Add(time.Duration(i) * time.Second), Data: data})
		return id, err
	}

	// History: 80 events delivered, well under the bound.
	require.NoError(t, d.Start(ctx))
	const history = 80
	for i := range history {
		_, err := dispatch(d, "history.made", i)
		require.NoError(t, err)
	}
	require.Eventually(t, func() bool {
		st, err := d.Stats(ctx, "org_a", "sub_history", 0)
		require.NoError(t, err)
		return st.Delivered == history
	}, 10*time.Second, 10*time.Millisecond)
	closeDispatcher(d)
	u := store.Usage()
	require.Less(t, u.Bytes, int64(maxBytes))
	require.Zero(t, u.Pending)

	// Pending work, with nothing delivering, until Dispatch refuses.
	d = newDispatcher()
	var accepted []string
	var full error
	remaining := func() []string { // the history events left, oldest first
		evs, _, err := d.ListEvents(ctx, webhook.EventFilter{OrganizationID: "org_a", Type: "history.made", Page: webhook.Page{Limit: webhook.MaxPageLimit}})
		require.NoError(t, err)
		ids := make([]string, len(evs))
		for i, e := range evs {
			ids[i] = e.ID
		}
		return ids
	}
	for i := 0; full == nil; i++ {
		require.Less(t, i, 1000, "the bound was never reached")
		id, err := dispatch(d, "work.queued", i)
		if err != nil {
			full = err
			break
		}
		accepted = append(accepted, id)
		// Whatever history is left is the newest: dropped oldest first.
		left := remaining()
		for j, id := range left {
			require.Equal(t, fmt.Sprintf("evt_hist_%04d", history-len(left)+j), id)
		}
		// No pending delivery is ever dropped.
		st, err := d.Stats(ctx, "org_a", "sub_pending", 0)
		require.NoError(t, err)
		require.EqualValues(t, len(accepted), st.Pending)
	}
	require.ErrorIs(t, full, webhook.ErrStoreFull)
	var fe *memstore.FullError
	require.ErrorAs(t, full, &fe)
	require.EqualValues(t, maxBytes, fe.Max)
	require.EqualValues(t, len(accepted), fe.Pending)
	require.Greater(t, fe.Held+fe.Need, fe.Max)
	require.Empty(t, remaining(), "history is dropped before Dispatch is refused")
	u = store.Usage()
	require.EqualValues(t, history, u.Dropped)
	require.EqualValues(t, len(accepted), u.Pending)
	require.LessOrEqual(t, u.Bytes, int64(maxBytes))
	// The refused event was not stored, and a retry is refused alike.
	refused := fmt.Sprintf("evt_work_%04d", len(accepted))
	_, _, err := d.GetEvent(ctx, "org_a", refused)
	require.ErrorIs(t, err, webhook.ErrNotFound)
	_, err = dispatch(d, "work.queued", len(accepted))
	require.ErrorIs(t, err, webhook.ErrStoreFull)

	// Delivering again: every accepted event arrives once, and there is
	// room again.
	require.NoError(t, d.Start(ctx))
	defer closeDispatcher(d)
	require.Eventually(t, func() bool {
		st, err := d.Stats(ctx, "org_a", "sub_pending", 0)
		require.NoError(t, err)
		return st.Delivered == int64(len(accepted))
	}, 10*time.Second, 10*time.Millisecond)
	mu.Lock()
	for _, id := range accepted {
		require.Equal(t, 1, received[id], id)
	}
	mu.Unlock()
	_, err = dispatch(d, "work.queued", len(accepted))
	require.NoError(t, err)
	require.Greater(t, store.Usage().Dropped, int64(history), "room made by dropping delivered work")
}

// TestFullErrorNamesTheBound: the error says what is held and wraps
// webhook.ErrStoreFull, for errors.Is.
func TestFullErrorNamesTheBound(t *testing.T) {
	t.Parallel()
	err := error(&memstore.FullError{Held: 10, Max: 12, Need: 5, Pending: 1})
	require.True(t, errors.Is(err, webhook.ErrStoreFull))
	require.Contains(t, err.Error(), "1 pending deliveries hold 10 bytes of 12")
}
