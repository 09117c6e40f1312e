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

// TestPrunerRestsBetweenBatches: a round with a backlog rests between two
// Store.Prune calls as long as the last call took, so that it keeps the
// store busy at most half of the time.
func TestPrunerRestsBetweenBatches(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := webhooktest.NewClock(t0)
	const took = 3 * time.Second // each Prune call, on the clock
	store := &pruneRecorder{Store: memstore.New(), clock: clock, took: took}
	d, err := webhook.NewDispatcher(store, &webhook.Config{
		Clock: clock, Retention: time.Hour, PruneInterval: 24 * time.Hour, PruneBatch: 5,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	ctx := t.Context()
	for i := range 20 {
		_, err := d.Dispatch(ctx, webhook.Event{ID: fmt.Sprintf("evt_%03d", i), OrganizationID: "org_a", Type: "contact.created",
			Timestamp: t0.Add(-2 * time.Hour), Data: []byte(`{}`)})
		require.NoError(t, err)
	}
	require.NoError(t, d.Start(ctx))
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, d.Close(cctx))
	}()
	// 20 events in batches of 5: four full calls and a last one that
	// deletes none, each after a rest of 3s.
	require.Eventually(t, func() bool {
		clock.Advance(time.Second)
		store.mu.Lock()
		defer store.mu.Unlock()
		return len(store.calls) == 5
	}, 5*time.Second, time.Millisecond)
	store.mu.Lock()
	defer store.mu.Unlock()
	for i, c := range store.calls[1:] {
		gap := c.at.Sub(store.calls[i].at)
		require.GreaterOrEqual(t, gap, 2*took, "call %d came %v after the one before it, which took %v", i+1, gap, took)
	}
	require.Equal(t, 0, store.calls[4].n)
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

// pruneRecorder records the Prune calls made to its Store. With a clock,
// it records when each call started and makes each take took on it.
type pruneRecorder struct {
	webhook.Store
	clock *webhooktest.Clock
	took  time.Duration

	mu    sync.Mutex
	calls []pruneCall
}

type pruneCall struct {
	before, at time.Time
	limit, n   int
}

func (r *pruneRecorder) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	var at time.Time
	if r.clock != nil {
		at = r.clock.Now()
		r.clock.Advance(r.took)
	}
	n, err := r.Store.Prune(ctx, before, limit)
	r.mu.Lock()
	r.calls = append(r.calls, pruneCall{before, at, limit, n})
	r.mu.Unlock()
	return n, err
}
