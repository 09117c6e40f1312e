package webhook_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/webhooktest"
)

// failingClaims is a memstore whose Claim fails while failing is set.
type failingClaims struct {
	*memstore.Store
	failing atomic.Bool
	claims  atomic.Int64
}

func (s *failingClaims) Claim(ctx context.Context, p webhook.ClaimParams) ([]*webhook.Delivery, error) {
	s.claims.Add(1)
	if s.failing.Load() {
		return nil, errors.New("store unreachable")
	}
	return s.Store.Claim(ctx, p)
}

// TestClaimErrorsBackOff: after a failed Claim the claim loop waits 0.1 s,
// then twice as long after each failure up to 30 s, on the dispatcher's
// clock; a Claim that succeeds starts the schedule over.
func TestClaimErrorsBackOff(t *testing.T) {
	t.Parallel()
	clock := webhooktest.NewClock(t0)
	store := &failingClaims{Store: memstore.New()}
	store.failing.Store(true)
	d, err := webhook.NewDispatcher(store, &webhook.Config{
		Clock: clock, Workers: 2, Retention: -1,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)

	// nextSleep runs step, then waits until the claim loop sleeps again,
	// and returns for how long.
	nextSleep := func(step func()) time.Duration {
		t.Helper()
		made := clock.TimerMade()
		step()
		select {
		case <-made:
		case <-time.After(5 * time.Second):
			t.Fatal("the claim loop did not go to sleep")
		}
		at, ok := clock.NextTimer()
		require.True(t, ok)
		return at.Sub(clock.Now())
	}
	start := func() { require.NoError(t, d.Start(context.Background())) }
	var waits []time.Duration
	w := nextSleep(start)
	for range 11 {
		waits = append(waits, w)
		w = nextSleep(func() { clock.Advance(w) })
	}
	waits = append(waits, w)
	ms := time.Millisecond
	require.Equal(t, []time.Duration{
		100 * ms, 200 * ms, 400 * ms, 800 * ms, 1600 * ms, 3200 * ms, 6400 * ms,
		12800 * ms, 25600 * ms, 30 * time.Second, 30 * time.Second, 30 * time.Second,
	}, waits)

	// The store recovers: the loop idles at the poll interval; then a new
	// failure waits 0.1 s again.
	store.failing.Store(false)
	w = nextSleep(func() { clock.Advance(w) })
	require.Equal(t, defaultPollInterval, w)
	store.failing.Store(true)
	w = nextSleep(func() { clock.Advance(w) })
	require.Equal(t, 100*ms, w)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, d.Close(ctx))
}
