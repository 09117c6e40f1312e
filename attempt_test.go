package webhook_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

// TestSignerFollowsSecretChanges checks that a worker, which keeps the
// signer of each subscription between attempts, signs with the secrets in
// force at each attempt: after the secret is replaced, while a previous
// secret signs beside it, and once that one has expired.
func TestSignerFollowsSecretChanges(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	rcv := newReceiver(t)
	b := setup(t, func(c *webhook.Config) { c.Workers = 1 }) // every attempt by the same worker
	s := b.subscribe("o", rcv.URL, "*")
	secrets := []string{s.Secret, webhook.NewSecret(), webhook.NewSecret()}

	send := func(at time.Time) (signatures int, verifiesWith func(secret string) bool) {
		t.Helper()
		b.clock.Set(at)
		n := rcv.count()
		b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
		require.Eventually(t, func() bool { return rcv.count() == n+1 }, 5*time.Second, time.Millisecond)
		r := rcv.get(n)
		return len(strings.Fields(r.header.Get(webhook.HeaderSignature))), func(secret string) bool {
			v, err := webhook.NewVerifier(secret)
			require.NoError(t, err)
			v.Now = func() time.Time { return at }
			return v.Verify(r.header, r.body) == nil
		}
	}

	n, ok := send(t0)
	require.Equal(t, 1, n)
	require.True(t, ok(secrets[0]))

	// A new secret replaces the old one at once.
	s.Secret = secrets[1]
	require.NoError(t, b.d.UpdateSubscription(ctx, s))
	n, ok = send(t0.Add(time.Second))
	require.Equal(t, 1, n)
	require.True(t, ok(secrets[1]))
	require.False(t, ok(secrets[0]))

	// A previous secret signs beside the current one until it expires.
	expiry := t0.Add(time.Hour)
	s.Secret = secrets[2]
	s.PreviousSecrets = []webhook.PreviousSecret{{Secret: secrets[1], ExpiresAt: expiry}}
	require.NoError(t, b.d.UpdateSubscription(ctx, s))
	for _, at := range []time.Time{t0.Add(2 * time.Second), expiry.Add(-time.Second)} {
		n, ok = send(at)
		require.Equal(t, 2, n, "at %v", at)
		require.True(t, ok(secrets[2]))
		require.True(t, ok(secrets[1]))
	}
	n, ok = send(expiry)
	require.Equal(t, 1, n)
	require.True(t, ok(secrets[2]))
	require.False(t, ok(secrets[1]))
}
