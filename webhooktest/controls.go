package webhooktest

import (
	"context"
	"encoding/json"

	"github.com/relayhook/webhook"
)

var _ webhook.FilterMatcher = (*trackingStore)(nil)

// MatchSubscriptionFilters passes the match with filters through to the
// wrapped Store, so that a test dispatcher matches as the host's does;
// with a Store that has none, it reads each matched subscription.
func (s *trackingStore) MatchSubscriptionFilters(ctx context.Context, orgID, eventType string) ([]string, []json.RawMessage, error) {
	if fm, ok := s.Store.(webhook.FilterMatcher); ok {
		return fm.MatchSubscriptionFilters(ctx, orgID, eventType)
	}
	ids, err := s.Store.MatchSubscriptions(ctx, orgID, eventType)
	if err != nil {
		return nil, nil, err
	}
	kept := ids[:0]
	var filters []json.RawMessage
	for _, id := range ids {
		sub, err := s.Store.GetSubscription(ctx, orgID, id)
		if err != nil {
			continue
		}
		kept = append(kept, id)
		filters = append(filters, sub.Filter)
	}
	return kept, filters, nil
}
