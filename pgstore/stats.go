package pgstore

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	webhook "github.com/relayhook/webhook"
)

// Stats sums up a subscription's deliveries and attempts, or those of
// every current subscription of an organization, in one statement. Its
// cost does not grow with the deliveries kept: delivered and dead counts,
// and the latest attempt, are one counter row per subscription; attempts
// and failures one row per subscription and hour counted (those before
// Prune's cutoff are dropped); pending deliveries are counted, with the
// one that has waited longest, by an index-only scan of each
// subscription's part of the queue's index by subscription, which holds
// its backlog and nothing else.
func (s *Store) Stats(ctx context.Context, f webhook.StatsFilter) (*webhook.Stats, error) {
	if f.OrganizationID == "" {
		return nil, invalidArgument("OrganizationID", "is required")
	}
	since := f.Since.Truncate(time.Hour)
	if !since.IsZero() {
		since = since.UTC()
	}
	out := &webhook.Stats{Since: since}
	one := f.SubscriptionID != ""
	if !storable(f.OrganizationID) || !storable(f.SubscriptionID) {
		if one {
			return nil, notFound("subscription", f.SubscriptionID)
		}
		return out, nil
	}
	var (
		subs           int
		oldest, lastAt pgtype.Timestamptz
		lastStatus     int32
	)
	err := s.withSettingsRow(ctx, statsSettings, s.q.stats[one], []any{f.OrganizationID, f.SubscriptionID, since},
		&subs, &out.Pending, &oldest, &out.Delivered, &out.Dead, &lastAt, &lastStatus, &out.LastError,
		&out.Attempts, &out.Failures)
	if err != nil {
		return nil, dbError("stats", err)
	}
	if one && subs == 0 {
		return nil, notFound("subscription", f.SubscriptionID)
	}
	out.OldestPendingAt, out.LastAttemptAt = fromTimestamptz(oldest), fromTimestamptz(lastAt)
	out.LastStatusCode = int(lastStatus)
	return out, nil
}
