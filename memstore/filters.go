package memstore

import (
	"context"
	"encoding/json"

	"github.com/relayhook/webhook"
)

var _ webhook.FilterMatcher = (*Store)(nil)

// MatchSubscriptionFilters is MatchSubscriptions with the subscriptions'
// Filters, from the same index; filters is made only when one of them has
// a filter. The filters are the store's own memory (a stored subscription
// is replaced, never modified): read them only.
func (s *Store) MatchSubscriptionFilters(ctx context.Context, orgID, eventType string) ([]string, []json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	matched := s.match(orgID, eventType)
	ids := make([]string, 0, len(matched))
	var filters []json.RawMessage
	for _, ss := range matched {
		if !ss.active() {
			continue
		}
		if f := ss.cur.Filter; len(f) > 0 && filters == nil {
			filters = make([]json.RawMessage, len(ids), len(matched))
		}
		if filters != nil {
			filters = append(filters, ss.cur.Filter)
		}
		ids = append(ids, ss.id)
	}
	return ids, filters, nil
}
