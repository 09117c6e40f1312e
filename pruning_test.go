package webhook_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/webhooktest"
)

// TestPrunerKeepsUpWithRetention: every PruneInterval, the pruner deletes
// all events past Retention, in batches of PruneBatch, and keeps the
// newer ones.
func TestPrunerKeepsUpWithRetention(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := webhooktest.NewClock(t0)
	store := &pruneRecorder{Store: memstore.New()}
	d, err := webhook.NewDispatcher(store, &webhook.Config{
		Clock: clock, Retention: time.Hour, PruneInterval: time.Minute, PruneBatch: 7,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	ctx := t.Context()
	const old, recent = 50, 5
	for i := range old + recent {
		ts := t0
		if i >= old {
			ts = t0.Add(10 * time.Hour) // kept: within Retention all along
		}
		_, err := d.Dispatch(ctx, webhook.Event{ID: fmt.Sprintf("evt_%03d", i), OrganizationID: "org_a", Type: "contact.created", Timestamp: ts, Data: []byte(`{}`)})
		require.NoError(t, err)
	}
	count := func() int {
		evs, _, err := d.ListEvents(ctx, webhook.EventFilter{OrganizationID: "org_a", Page: webhook.Page{Limit: webhook.MaxPageLimit}})
		require.NoError(t, err)
		return len(evs)
	}
	require.NoError(t, d.Start(ctx))
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, d.Close(cctx))
	}()
	// Not yet past Retention: the round at Start keeps everything.
	clock.Advance(59 * time.Minute)
	time.Sleep(20 * time.Millisecond)
	require.Equal(t, old+recent, count())
	// Past it: the next round, a PruneInterval later at most, deletes
	// all the old events in batches of 7.
	clock.Advance(2 * time.Minute)
	require.Eventually(t, func() bool {
		clock.Advance(time.Minute) // fires the pruner's timer, wherever it is
		return count() == recent
	}, 5*time.Second, 10*time.Millisecond)
	// One round did it, in calls of at most PruneBatch.
	store.mu.Lock()
	byCutoff := map[time.Time]int{}
	for _, c := range store.calls {
		require.Equal(t, 7, c.limit)
		byCutoff[c.before] += c.n
	}
	store.mu.Unlock()
	require.Contains(t, slices.Collect(maps.Values(byCutoff)), old)
	evs, _, err := d.ListEvents(ctx, webhook.EventFilter{OrganizationID: "org_a"})
	require.NoError(t, err)
	for _, e := range evs {
		require.True(t, e.Timestamp.Equal(t0.Add(10*time.Hour)), "kept %s", e.ID)
	}
}

func TestPrunePolicyRejectsNegative(t *testing.T) {
	t.Parallel()
	var ve *webhook.ValidationError
	_, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{PruneInterval: -time.Second})
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "PruneInterval", ve.Field)
	require.ErrorIs(t, err, webhook.ErrInvalidConfig)
	_, err = webhook.NewDispatcher(memstore.New(), &webhook.Config{PruneBatch: -1})
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "PruneBatch", ve.Field)
}

// pruneRecorder records the Prune calls made to its Store.
type pruneRecorder struct {
	webhook.Store
	mu    sync.Mutex
	calls []pruneCall
}

type pruneCall struct {
	before   time.Time
	limit, n int
}

func (r *pruneRecorder) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := r.Store.Prune(ctx, before, limit)
	r.mu.Lock()
	r.calls = append(r.calls, pruneCall{before, limit, n})
	r.mu.Unlock()
	return n, err
}
