package pgstore

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestListenBackoffSchedule: the listener's n-th reconnection waits
// between half and all of 0.1 s doubled n-1 times, capped at 10 s, and the
// draws cover that whole range.
func TestListenBackoffSchedule(t *testing.T) {
	t.Parallel()
	const draws = 2000
	bound := listenBackoffMin
	for step := range 10 {
		lo, hi := time.Duration(1<<62), time.Duration(0)
		for range draws {
			b := newListenBackoff()
			for range step {
				b.NextBackOff()
			}
			w := b.NextBackOff()
			lo, hi = min(lo, w), max(hi, w)
		}
		require.GreaterOrEqual(t, lo, bound/2, "step %d", step)
		require.LessOrEqual(t, hi, bound, "step %d", step)
		require.Less(t, lo, bound/2+bound/20, "step %d: the draws do not reach the lower end", step)
		require.Greater(t, hi, bound-bound/20, "step %d: the draws do not reach the upper end", step)
		bound = min(2*bound, listenBackoffMax)
	}
	require.Equal(t, listenBackoffMax, bound)
}
