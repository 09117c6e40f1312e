package pgstore

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/webhooktest"
)

// TestPrunePolicy: the dispatcher prunes a pgstore under its policy, as it
// does memstore: a round, once past Retention, deletes every old event in
// Store.Prune calls of at most Config.PruneBatch (each one statement),
// and keeps the newer ones.
func TestPrunePolicy(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := webhooktest.NewClock(t0)
	store := &prunes{Store: newTestStore(t)}
	d, err := webhook.NewDispatcher(store, &webhook.Config{
		Clock: clock, Retention: time.Hour, PruneInterval: time.Minute, PruneBatch: 7,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	ctx := t.Context()
	const old, recent = 30, 3
	for i := range old + recent {
		ts := t0
		if i >= old {
			ts = t0.Add(10 * time.Hour)
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
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, d.Close(cctx))
	}()
	clock.Advance(61 * time.Minute)
	require.Eventually(t, func() bool {
		clock.Advance(time.Minute)
		return count() == recent
	}, 10*time.Second, 20*time.Millisecond)
	store.mu.Lock()
	defer store.mu.Unlock()
	// A round that met an error (a connection dropped by another test of
	// the package, say) stops early and the next one goes on: only rounds
	// without one must have deleted everything past the retention.
	byCutoff, failed, total := map[time.Time]int{}, map[time.Time]bool{}, 0
	for _, c := range store.calls {
		require.Equal(t, 7, c.limit)
		require.LessOrEqual(t, c.n, 7)
		byCutoff[c.before] += c.n
		failed[c.before] = failed[c.before] || c.err != nil
		total += c.n
	}
	require.Equal(t, old, total, "calls: %+v", store.calls)
	for cutoff, n := range byCutoff {
		if n > 0 && !failed[cutoff] {
			require.Equal(t, old, n, "one round deleted them all; calls: %+v", store.calls)
		}
	}
}

// prunes records the Prune calls made to its Store.
type prunes struct {
	*Store
	mu    sync.Mutex
	calls []pruneCall
}

type pruneCall struct {
	before   time.Time
	limit, n int
	err      error
}

func (p *prunes) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	n, err := p.Store.Prune(ctx, before, limit)
	p.mu.Lock()
	p.calls = append(p.calls, pruneCall{before, limit, n, err})
	p.mu.Unlock()
	return n, err
}
