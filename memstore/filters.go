package memstore

import (
	"context"

	"github.com/relayhook/webhook"
)

var _ webhook.FilterMatcher = (*Store)(nil)

// MatchSubscriptionFilters is MatchSubscriptions with each subscription's
// Filter, from the same index. The filters are the store's own memory
// (a stored subscription is replaced, never modified): read them only.
func (s *Store) MatchSubscriptionFilters(ctx context.Context, orgID, eventType string) ([]webhook.SubscriptionMatch, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	matched := s.match(orgID, eventType)
	out := make([]webhook.SubscriptionMatch, 0, len(matched))
	for _, ss := range matched {
		if ss.active() {
			out = append(out, webhook.SubscriptionMatch{ID: ss.id, Filter: ss.cur.Filter})
		}
	}
	return out, nil
}
