package webhook_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

// TestDefaultRetryPolicy: DefaultRetryPolicy holds the defaults
// ExponentialRetry's docs give, and schedules as a zero ExponentialRetry
// does (jitter aside), ending 24 hours after the delivery was created.
func TestDefaultRetryPolicy(t *testing.T) {
	t.Parallel()
	require.Equal(t, &webhook.ExponentialRetry{
		InitialInterval: 5 * time.Second, Multiplier: 3, MaxInterval: 4 * time.Hour,
		RandomizationFactor: 0.25, MaxElapsedTime: 24 * time.Hour,
	}, webhook.DefaultRetryPolicy())

	def := webhook.DefaultRetryPolicy()
	def.RandomizationFactor = -1
	zero := &webhook.ExponentialRetry{RandomizationFactor: -1}
	now := t0
	var last time.Time
	for attempt := 1; ; attempt++ {
		f := webhook.Failure{Attempt: attempt, CreatedAt: t0, Now: now, StatusCode: 500}
		d1, ok1 := def.NextRetry(f)
		d2, ok2 := zero.NextRetry(f)
		require.Equal(t, ok2, ok1, "attempt %d", attempt)
		require.Equal(t, d2, d1, "attempt %d", attempt)
		if !ok1 {
			break
		}
		now = now.Add(d1)
		last = now
		require.Less(t, attempt, 100)
	}
	require.Equal(t, t0.Add(24*time.Hour), last)
}
