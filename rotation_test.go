package webhook_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	webhook "github.com/relayhook/webhook"
)

// verifies reports whether the secret verifies a recorded request at the
// time it was signed.
func verifies(t *testing.T, r recorded, at time.Time, secret string) bool {
	t.Helper()
	v, err := webhook.NewVerifier(secret)
	require.NoError(t, err)
	v.Now = func() time.Time { return at }
	return v.Verify(r.header, r.body) == nil
}

func TestRotateSecretGracePeriod(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newReceiver(t)
	b := setup(t, nil)
	s := b.subscribe("o", rcv.URL, "*")
	old := s.Secret

	rotated, err := b.d.RotateSecret(ctx, s.OrganizationID, s.ID, "")
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(rotated.Secret, webhook.SecretPrefix))
	require.NotEqual(t, old, rotated.Secret)
	require.Equal(t, []webhook.PreviousSecret{{Secret: old, ExpiresAt: t0.Add(defaultSecretGracePeriod)}}, rotated.PreviousSecrets)
	require.Equal(t, t0, rotated.UpdatedAt)
	stored, err := b.d.GetSubscription(ctx, s.OrganizationID, s.ID)
	require.NoError(t, err)
	require.Equal(t, rotated, stored)

	// send dispatches an event at the time and returns its request once
	// the outcome is stored (so the next clock move cannot expire a
	// lease in flight).
	send := func(at time.Time) recorded {
		b.clock.Set(at)
		res := b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
		var got recorded
		require.Eventually(t, func() bool {
			ds, _, err := b.store.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: s.OrganizationID, SubscriptionID: s.ID, State: webhook.DeliveryDelivered})
			if err != nil {
				return false
			}
			for _, d := range ds {
				if d.EventID != res.EventID {
					continue
				}
				for i := range rcv.count() {
					if r := rcv.get(i); r.header.Get(webhook.HeaderID) == res.EventID {
						got = r
						return true
					}
				}
			}
			return false
		}, timeoutShort, tick)
		return got
	}
	// During the grace period both secrets sign: a receiver on either
	// verifies, up to the last second before the old one expires.
	for _, at := range []time.Time{t0, t0.Add(defaultSecretGracePeriod - time.Second)} {
		r := send(at)
		require.Len(t, strings.Fields(r.header.Get(webhook.HeaderSignature)), 2)
		require.True(t, verifies(t, r, at, old), "old secret at %v", at)
		require.True(t, verifies(t, r, at, rotated.Secret), "new secret at %v", at)
	}
	// From its expiry, only the new one.
	at := t0.Add(defaultSecretGracePeriod)
	r := send(at)
	require.Len(t, strings.Fields(r.header.Get(webhook.HeaderSignature)), 1)
	require.False(t, verifies(t, r, at, old))
	require.True(t, verifies(t, r, at, rotated.Secret))

	// The next write drops the expired secret.
	upd := *stored
	upd.Name = "renamed"
	require.NoError(t, b.d.UpdateSubscription(ctx, &upd))
	require.Empty(t, upd.PreviousSecrets)
	stored, err = b.d.GetSubscription(ctx, s.OrganizationID, s.ID)
	require.NoError(t, err)
	require.Empty(t, stored.PreviousSecrets)
}

func TestRotateSecretKeepsABoundedNumber(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	for _, tc := range []struct {
		limit int
		grace time.Duration
		cfg   func(c *webhook.Config)
	}{
		{defLimits.MaxPreviousSecrets, defaultSecretGracePeriod, nil},
		{2, time.Hour, func(c *webhook.Config) { c.Limits.MaxPreviousSecrets = 2; c.SecretGracePeriod = time.Hour }},
	} {
		d := newIdleDispatcher(t, tc.cfg)
		s := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/", Events: []string{"*"}}
		require.NoError(t, d.CreateSubscription(ctx, s))
		secrets := []string{s.Secret}
		var cur *webhook.Subscription
		for range tc.limit + 2 {
			var err error
			cur, err = d.RotateSecret(ctx, s.OrganizationID, s.ID, "")
			require.NoError(t, err)
			secrets = append(secrets, cur.Secret)
		}
		require.Len(t, cur.PreviousSecrets, tc.limit)
		// The most recent old secrets are the ones kept.
		for i, p := range cur.PreviousSecrets {
			require.Equal(t, secrets[len(secrets)-2-i], p.Secret)
			require.Equal(t, t0.Add(tc.grace), p.ExpiresAt)
		}
		require.NoError(t, cur.Validate(), "what RotateSecret stores passes validation")
	}
}

func TestRotateSecretToAGivenSecret(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newIdleDispatcher(t, nil)
	s := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/", Events: []string{"*"}}
	require.NoError(t, d.CreateSubscription(ctx, s))
	given := webhook.NewSecret()
	cur, err := d.RotateSecret(ctx, s.OrganizationID, s.ID, given)
	require.NoError(t, err)
	require.Equal(t, given, cur.Secret)
	require.Equal(t, s.Secret, cur.PreviousSecrets[0].Secret)

	for name, bad := range map[string]string{
		"current":       given,
		"previous":      s.Secret,
		"no prefix":     strings.TrimPrefix(webhook.NewSecret(), webhook.SecretPrefix),
		"too short":     secretOfLen(webhook.MinSecretBytes-1, 7),
		"too long":      secretOfLen(webhook.MaxSecretBytes+1, 7),
		"not base64":    webhook.SecretPrefix + "not base64, but secret!",
		"prefix only":   webhook.SecretPrefix,
		"url alphabet?": webhook.SecretPrefix + strings.Repeat("-_", 20),
	} {
		_, err := d.RotateSecret(ctx, s.OrganizationID, s.ID, bad)
		require.ErrorIs(t, err, webhook.ErrInvalidArgument, name)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve, name)
		require.Equal(t, "newSecret", ve.Field, name)
		if len(bad) > len(webhook.SecretPrefix) {
			require.NotContains(t, err.Error(), strings.TrimPrefix(bad, webhook.SecretPrefix), name)
		}
	}
	after, err := d.GetSubscription(ctx, s.OrganizationID, s.ID)
	require.NoError(t, err)
	require.Equal(t, cur, after, "refused rotations changed nothing")
}

// TestRotateSecretConcurrently: rotations through one dispatcher are
// serialised, so none is lost.
func TestRotateSecretConcurrently(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d := newIdleDispatcher(t, nil)
	s := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/", Events: []string{"*"}}
	require.NoError(t, d.CreateSubscription(ctx, s))
	n := defLimits.MaxPreviousSecrets - 1
	var wg sync.WaitGroup
	results := make(chan string, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cur, err := d.RotateSecret(ctx, s.OrganizationID, s.ID, "")
			if err == nil {
				results <- cur.Secret
			}
		}()
	}
	wg.Wait()
	close(results)
	final, err := d.GetSubscription(ctx, s.OrganizationID, s.ID)
	require.NoError(t, err)
	require.Len(t, final.PreviousSecrets, n, "every rotation kept its predecessor")
	all := map[string]bool{final.Secret: true}
	for _, p := range final.PreviousSecrets {
		all[p.Secret] = true
	}
	require.True(t, all[s.Secret], "the first secret is among the previous ones")
	for r := range results {
		require.True(t, all[r], "a rotation was lost")
	}
	require.Len(t, all, n+1)
}
