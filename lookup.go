package webhook

import (
	"context"
	"maps"
	"slices"
	"time"
)

// GetSubscriptionByNumber returns the organization's subscription with the
// Number, or ErrNotFound (also for another organization's, and for a
// number that is not positive).
func (d *Dispatcher) GetSubscriptionByNumber(ctx context.Context, orgID string, number int64) (*Subscription, error) {
	if number <= 0 {
		return nil, ErrNotFound
	}
	return d.store.GetSubscriptionByNumber(ctx, orgID, number)
}

// Now returns the time on the dispatcher's clock (Config.Clock), for the
// host's records of what it does through the dispatcher, such as an audit
// log.
func (d *Dispatcher) Now() time.Time { return d.clock.Now() }

// Types returns the subscription types the dispatcher delivers, sorted:
// TypeWebhook and those of Config.Senders. A subscription whose Type is
// not among them is refused.
func (d *Dispatcher) Types() []string {
	return slices.Sorted(maps.Keys(d.senders))
}
