package memstore_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// TestRecreatedSubscription covers a subscription deleted and created
// again with its ID: the listing by subscription shows the old one's kept
// deliveries with the new one's, its Stats count the new one's only, and
// the old delivery cannot be redelivered to the new subscription.
func TestRecreatedSubscription(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	s := memstore.New()
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	sub := &webhook.Subscription{ID: "sub_1", OrganizationID: "org", URL: "https://example.com/", Events: []string{"*"}, State: webhook.StateActive}
	enqueue := func(evID, dlvID string) {
		t.Helper()
		ev := &webhook.Event{ID: evID, Type: "a.b", OrganizationID: "org", Timestamp: now}
		n, err := s.Enqueue(ctx, ev, []*webhook.Delivery{{
			ID: dlvID, EventID: evID, OrganizationID: "org", SubscriptionID: sub.ID, NextAttemptAt: now, CreatedAt: now,
		}})
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	list := func() []string {
		t.Helper()
		ds, _, err := s.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: "org", SubscriptionID: sub.ID})
		require.NoError(t, err)
		ids := make([]string, len(ds))
		for i, d := range ds {
			ids[i] = d.ID
		}
		return ids
	}

	require.NoError(t, s.CreateSubscription(ctx, sub))
	enqueue("evt_1", "dlv_1")
	cs, err := s.Claim(ctx, webhook.ClaimParams{Now: now, Limit: 10, Lease: time.Minute})
	require.NoError(t, err)
	require.Len(t, cs, 1)
	require.NoError(t, s.Finish(ctx, now, []webhook.Outcome{{
		DeliveryID: cs[0].ID, Lease: cs[0].Lease, State: webhook.DeliveryDelivered,
		Attempt: &webhook.Attempt{Number: 1, At: now, StatusCode: 200, Outcome: webhook.DeliveryDelivered},
	}}))
	require.NoError(t, s.DeleteSubscription(ctx, "org", sub.ID))
	require.NoError(t, s.CreateSubscription(ctx, sub))
	enqueue("evt_2", "dlv_2")

	require.Equal(t, []string{"dlv_1", "dlv_2"}, list())
	st, err := s.Stats(ctx, webhook.StatsFilter{OrganizationID: "org", SubscriptionID: sub.ID})
	require.NoError(t, err)
	require.Equal(t, [4]int64{1, 0, 0, 0}, [4]int64{st.Pending, st.Delivered, st.Dead, st.Attempts})
	require.ErrorIs(t, s.Redeliver(ctx, "org", "dlv_1", now), webhook.ErrNotFound)

	// A stale Finish of the old delivery's lease still logs its attempt.
	require.NoError(t, s.Finish(ctx, now, []webhook.Outcome{{
		DeliveryID: cs[0].ID, Lease: cs[0].Lease, State: webhook.DeliveryDead,
		Attempt: &webhook.Attempt{Number: 2, At: now, StatusCode: 500, Outcome: webhook.DeliveryDead},
	}}))
	as, err := s.ListAttempts(ctx, "org", "dlv_1")
	require.NoError(t, err)
	require.Len(t, as, 2)

	n, err := s.Prune(ctx, now.Add(time.Second), 10)
	require.NoError(t, err)
	require.Equal(t, 1, n, "the old delivery's event")
	require.Equal(t, []string{"dlv_2"}, list())
}
