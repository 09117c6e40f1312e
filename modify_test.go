package webhook_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

func TestModifySubscription(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newIdleDispatcher(t, nil)
	sub := &webhook.Subscription{OrganizationID: "orgA", Name: "one", URL: "https://example.com/h", Events: []string{"contact.created"}}
	require.NoError(t, d.CreateSubscription(ctx, sub))

	before, after, err := d.ModifySubscription(ctx, "orgA", sub.ID, func(s *webhook.Subscription) error {
		s.Name = "two"
		s.Headers = map[string]string{"X-A": "1"}
		return nil
	})
	require.NoError(t, err)
	require.Equal(t, "one", before.Name)
	require.Equal(t, "two", after.Name)
	require.Equal(t, sub.Number, after.Number)
	require.Equal(t, sub.Secret, after.Secret)
	got, err := d.GetSubscription(ctx, "orgA", sub.ID)
	require.NoError(t, err)
	require.Equal(t, "two", got.Name)
	require.Equal(t, map[string]string{"X-A": "1"}, got.Headers)

	// An error of change, an invalid result, a changed identity: nothing
	// is written.
	boom := errors.New("boom")
	for _, tc := range []struct {
		name   string
		change func(*webhook.Subscription) error
		is     error
	}{
		{"error", func(s *webhook.Subscription) error { s.Name = "x"; return boom }, boom},
		{"invalid", func(s *webhook.Subscription) error { s.URL = "ftp://x"; return nil }, webhook.ErrInvalidSubscription},
		{"id", func(s *webhook.Subscription) error { s.ID = "sub_other"; return nil }, webhook.ErrInvalidSubscription},
		{"number", func(s *webhook.Subscription) error { s.Number++; return nil }, webhook.ErrInvalidSubscription},
		{"organization", func(s *webhook.Subscription) error { s.OrganizationID = "orgB"; return nil }, webhook.ErrInvalidSubscription},
	} {
		_, _, err := d.ModifySubscription(ctx, "orgA", sub.ID, tc.change)
		require.ErrorIs(t, err, tc.is, tc.name)
		now, err := d.GetSubscription(ctx, "orgA", sub.ID)
		require.NoError(t, err)
		require.Equal(t, got, now, tc.name)
	}
	_, _, err = d.ModifySubscription(ctx, "orgB", sub.ID, func(*webhook.Subscription) error { return nil })
	require.ErrorIs(t, err, webhook.ErrNotFound)
	_, _, err = d.ModifySubscription(ctx, "orgA", sub.ID, nil)
	require.ErrorIs(t, err, webhook.ErrInvalidArgument)
}

// TestModifySubscriptionLosesNoConcurrentChange: writers that each add a
// header of their own all see it kept, where a read and a separate
// UpdateSubscription could lose some.
func TestModifySubscriptionLosesNoConcurrentChange(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newIdleDispatcher(t, nil)
	sub := &webhook.Subscription{OrganizationID: "orgA", URL: "https://example.com/h", Events: []string{"contact.created"}}
	require.NoError(t, d.CreateSubscription(ctx, sub))
	const writers = 16
	var wg sync.WaitGroup
	for i := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := d.ModifySubscription(ctx, "orgA", sub.ID, func(s *webhook.Subscription) error {
				if s.Headers == nil {
					s.Headers = map[string]string{}
				}
				s.Headers[fmt.Sprintf("X-W%d", i)] = "1"
				return nil
			})
			require.NoError(t, err)
		}()
	}
	wg.Wait()
	got, err := d.GetSubscription(ctx, "orgA", sub.ID)
	require.NoError(t, err)
	require.Len(t, got.Headers, writers)
}

// UpdateSubscription keeps the stored Number, and says so in s.
func TestUpdateSubscriptionKeepsNumber(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newIdleDispatcher(t, nil)
	sub := &webhook.Subscription{OrganizationID: "orgA", URL: "https://example.com/h", Events: []string{"contact.created"}}
	require.NoError(t, d.CreateSubscription(ctx, sub))
	require.Positive(t, sub.Number)
	u := &webhook.Subscription{ID: sub.ID, OrganizationID: "orgA", URL: "https://example.com/other", Events: []string{"contact.created"}}
	require.NoError(t, d.UpdateSubscription(ctx, u))
	require.Equal(t, sub.Number, u.Number)
	got, err := d.GetSubscriptionByNumber(ctx, "orgA", sub.Number)
	require.NoError(t, err)
	require.Equal(t, "https://example.com/other", got.URL)
	_, err = d.GetSubscriptionByNumber(ctx, "orgB", sub.Number)
	require.ErrorIs(t, err, webhook.ErrNotFound)
	_, err = d.GetSubscriptionByNumber(ctx, "orgA", 0)
	require.ErrorIs(t, err, webhook.ErrNotFound)
}
