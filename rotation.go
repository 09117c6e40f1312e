package webhook

import (
	"context"
	"slices"
	"time"
)

// defaultSecretGracePeriod is how long an old secret keeps signing after
// RotateSecret, by default (Config.SecretGracePeriod).
const defaultSecretGracePeriod = 24 * time.Hour

// RotateSecret replaces a subscription's secret and returns the
// subscription as stored. The old secret moves to PreviousSecrets and
// keeps signing beside the new one (each request carries both
// signatures) for Config.SecretGracePeriod, so the receiver can switch
// over; then it stops signing and the next write of the subscription
// drops it. Expired previous secrets are dropped now, and at most
// Limits.MaxPreviousSecrets are kept, the ones expiring last.
//
// An empty newSecret generates one (NewSecret). Otherwise it must be
// "whsec_" and the base64 of 24 to 64 bytes, and not a secret the
// subscription signs with already: a bad one gets a *ValidationError
// wrapping ErrInvalidArgument (which never quotes it) and nothing
// changes. An unknown id, or another organization's, gets ErrNotFound.
//
// Rotations and updates through one Dispatcher are serialised; a write
// of the same subscription by another process at the same instant may
// be lost, as with UpdateSubscription.
func (d *Dispatcher) RotateSecret(ctx context.Context, orgID, id, newSecret string) (*Subscription, error) {
	if newSecret != "" {
		if _, err := decodeSecret(newSecret); err != nil {
			return nil, invalid(ErrInvalidArgument, "newSecret", "%s", err)
		}
	}
	if d.isClosed() {
		return nil, ErrDispatcherClosed
	}
	d.writeMu.Lock()
	defer d.writeMu.Unlock()
	old, err := d.store.GetSubscription(ctx, orgID, id)
	if err != nil {
		return nil, err
	}
	now := d.clock.Now().Round(0).Truncate(time.Microsecond)
	if newSecret == "" {
		newSecret = NewSecret()
	}
	if newSecret == old.Secret {
		return nil, invalid(ErrInvalidArgument, "newSecret", "is the current secret")
	}
	prev := unexpiredSecrets(old.PreviousSecrets, now)
	for _, p := range prev {
		if p.Secret == newSecret {
			return nil, invalid(ErrInvalidArgument, "newSecret", "is a previous secret still signing")
		}
	}
	if old.Secret != "" {
		prev = append([]PreviousSecret{{Secret: old.Secret, ExpiresAt: now.Add(d.cfg.SecretGracePeriod)}}, prev...)
	}
	// Latest expiry first (the most recent first among equals); the ones
	// expiring soonest give way.
	slices.SortStableFunc(prev, func(a, b PreviousSecret) int { return b.ExpiresAt.Compare(a.ExpiresAt) })
	if len(prev) > d.cfg.Limits.MaxPreviousSecrets {
		prev = prev[:d.cfg.Limits.MaxPreviousSecrets]
	}
	u := *old
	u.Secret = newSecret
	u.PreviousSecrets = prev
	u.UpdatedAt = now
	if err := d.store.UpdateSubscription(ctx, &u); err != nil {
		return nil, err
	}
	return &u, nil
}

// unexpiredSecrets returns the secrets still signing at now, in a new
// slice (nil if none).
func unexpiredSecrets(ps []PreviousSecret, now time.Time) []PreviousSecret {
	var out []PreviousSecret
	for _, p := range ps {
		if now.Before(p.ExpiresAt) {
			out = append(out, p)
		}
	}
	return out
}
