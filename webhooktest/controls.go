package webhooktest

import (
	"context"

	"github.com/relayhook/webhook"
)

var _ webhook.FilterMatcher = (*trackingStore)(nil)

// MatchSubscriptionFilters passes the match with filters through to the
// wrapped Store, so that a test dispatcher matches as the host's does;
// with a Store that has none, it reads each matched subscription.
func (s *trackingStore) MatchSubscriptionFilters(ctx context.Context, orgID, eventType string) ([]webhook.SubscriptionMatch, error) {
	if fm, ok := s.Store.(webhook.FilterMatcher); ok {
		return fm.MatchSubscriptionFilters(ctx, orgID, eventType)
	}
	ids, err := s.Store.MatchSubscriptions(ctx, orgID, eventType)
	if err != nil {
		return nil, err
	}
	out := make([]webhook.SubscriptionMatch, 0, len(ids))
	for _, id := range ids {
		sub, err := s.Store.GetSubscription(ctx, orgID, id)
		if err != nil {
			continue
		}
		out = append(out, webhook.SubscriptionMatch{ID: id, Filter: sub.Filter})
	}
	return out, nil
}
