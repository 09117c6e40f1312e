package memstore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// TestEnqueueRefusesADeliveryIDTwiceInOneCall covers the ways Enqueue finds
// a repeated ID: in increasing order, out of order in a small call, and out
// of order in a large one.
func TestEnqueueRefusesADeliveryIDTwiceInOneCall(t *testing.T) {
	t.Parallel()
	const subs = 40
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	setup := func(t *testing.T) *memstore.Store {
		s := memstore.New()
		for i := range subs {
			require.NoError(t, s.CreateSubscription(t.Context(), &webhook.Subscription{
				ID: fmt.Sprintf("sub_%03d", i), OrganizationID: "org", URL: "https://example.com/",
				Events: []string{"*"}, State: webhook.StateActive,
			}))
		}
		return s
	}
	batch := func(n int, id func(i int) string) (*webhook.Event, []*webhook.Delivery) {
		ev := &webhook.Event{ID: "evt_1", Type: "a.b", OrganizationID: "org", Timestamp: now}
		ds := make([]*webhook.Delivery, n)
		for i := range ds {
			ds[i] = &webhook.Delivery{
				ID: id(i), EventID: ev.ID, OrganizationID: "org", SubscriptionID: fmt.Sprintf("sub_%03d", i),
				NextAttemptAt: now, CreatedAt: now,
			}
		}
		return ev, ds
	}
	for _, tc := range []struct {
		name string
		n    int
		id   func(i int) string
		ok   bool
	}{
		{"increasing", subs, func(i int) string { return fmt.Sprintf("dlv_%03d", i) }, true},
		{"decreasing", subs, func(i int) string { return fmt.Sprintf("dlv_%03d", subs-i) }, true},
		{"small-repeat", 8, func(i int) string { return fmt.Sprintf("dlv_%03d", []int{5, 1, 2, 3, 4, 1, 6, 7}[i]) }, false},
		{"large-repeat-early", subs, func(i int) string { return fmt.Sprintf("dlv_%03d", max(i, 1)) }, false},
		{"large-repeat-late", subs, func(i int) string {
			if i == subs-1 {
				return "dlv_003"
			}
			return fmt.Sprintf("dlv_%03d", i)
		}, false},
		{"large-shuffled", subs, func(i int) string { return fmt.Sprintf("dlv_%03d", (i*7)%subs) }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := setup(t)
			ev, ds := batch(tc.n, tc.id)
			n, err := s.Enqueue(t.Context(), ev, ds)
			if tc.ok {
				require.NoError(t, err)
				require.Equal(t, tc.n, n)
				return
			}
			require.ErrorIs(t, err, webhook.ErrAlreadyExists)
			_, err = s.GetEvent(t.Context(), "org", ev.ID)
			require.ErrorIs(t, err, webhook.ErrNotFound, "nothing is stored after an error")
		})
	}

	// A repeated ID on a delivery skipped anyway (a second one to the
	// same subscription) is not an error.
	s := setup(t)
	ev, ds := batch(2, func(i int) string { return "dlv_same" })
	ds[1].SubscriptionID = ds[0].SubscriptionID
	n, err := s.Enqueue(t.Context(), ev, ds)
	require.NoError(t, err)
	require.Equal(t, 1, n)
}
