package storetest

import (
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

var numberTests = []test{
	{"CreateAssignsDistinctPositiveNumbers", testNumbersAssigned},
	{"GetByNumberFindsTheSubscription", testGetByNumber},
	{"GetByNumberIsScopedToOrganization", testGetByNumberOtherOrg},
	{"UpdateKeepsTheNumber", testUpdateKeepsNumber},
	{"DeletedNumberIsNotFoundAndNotReused", testDeletedNumber},
	{"ConcurrentCreatesGetDistinctNumbers", testConcurrentNumbers},
}

func testNumbersAssigned(t *testing.T, e *env) {
	seen := map[int64]bool{}
	for range 5 {
		s := e.newSubscription()
		s.Number = 12345 // ignored
		require.NoError(t, e.store.CreateSubscription(t.Context(), s))
		require.Positive(t, s.Number)
		require.NotEqual(t, int64(12345), s.Number, "a given Number is ignored")
		require.False(t, seen[s.Number], "number %d assigned twice", s.Number)
		seen[s.Number] = true
		got, err := e.store.GetSubscription(t.Context(), e.org, s.ID)
		require.NoError(t, err)
		require.Equal(t, s.Number, got.Number)
	}
	// Numbers of another organization are distinct too: unique in the store.
	o := e.otherOrg()
	s := o.createSubscription(t)
	require.False(t, seen[s.Number])
}

func testGetByNumber(t *testing.T, e *env) {
	a := e.createSubscription(t)
	b := e.createSubscription(t, "sale.changed")
	got, err := e.store.GetSubscriptionByNumber(t.Context(), e.org, b.Number)
	require.NoError(t, err)
	requireSameSubscription(t, b, got)
	got, err = e.store.GetSubscriptionByNumber(t.Context(), e.org, a.Number)
	require.NoError(t, err)
	require.Equal(t, a.ID, got.ID)
	_, err = e.store.GetSubscriptionByNumber(t.Context(), e.org, b.Number+1000)
	require.ErrorIs(t, err, webhook.ErrNotFound)
	_, err = e.store.GetSubscriptionByNumber(t.Context(), e.org, 0)
	require.ErrorIs(t, err, webhook.ErrNotFound)
}

func testGetByNumberOtherOrg(t *testing.T, e *env) {
	s := e.createSubscription(t)
	o := e.otherOrg()
	_, err := o.store.GetSubscriptionByNumber(t.Context(), o.org, s.Number)
	require.ErrorIs(t, err, webhook.ErrNotFound)
	_, err = o.store.GetSubscriptionByNumber(t.Context(), o.org, s.Number+1_000_000)
	require.ErrorIs(t, err, webhook.ErrNotFound)
}

func testUpdateKeepsNumber(t *testing.T, e *env) {
	s := e.createSubscription(t)
	n := s.Number
	u := s.Clone()
	u.Name = "renamed"
	u.Number = n + 7
	require.NoError(t, e.store.UpdateSubscription(t.Context(), u))
	got, err := e.store.GetSubscription(t.Context(), e.org, s.ID)
	require.NoError(t, err)
	require.Equal(t, n, got.Number)
	require.Equal(t, "renamed", got.Name)
	got, err = e.store.GetSubscriptionByNumber(t.Context(), e.org, n)
	require.NoError(t, err)
	require.Equal(t, s.ID, got.ID)
}

func testDeletedNumber(t *testing.T, e *env) {
	s := e.createSubscription(t)
	require.NoError(t, e.store.DeleteSubscription(t.Context(), e.org, s.ID))
	_, err := e.store.GetSubscriptionByNumber(t.Context(), e.org, s.Number)
	require.ErrorIs(t, err, webhook.ErrNotFound)
	again := e.createSubscription(t)
	require.Greater(t, again.Number, s.Number, "numbers are never reused")
}

func testConcurrentNumbers(t *testing.T, e *env) {
	const n = 20
	subs := make([]*webhook.Subscription, n)
	var wg sync.WaitGroup
	for i := range subs {
		subs[i] = e.newSubscription()
		wg.Add(1)
		go func() {
			defer wg.Done()
			require.NoError(t, e.store.CreateSubscription(t.Context(), subs[i]))
		}()
	}
	wg.Wait()
	seen := map[int64]bool{}
	for _, s := range subs {
		require.Positive(t, s.Number)
		require.False(t, seen[s.Number], "number %d assigned twice", s.Number)
		seen[s.Number] = true
	}
}
