package pgstore

import (
	"context"

	webhook "github.com/relayhook/webhook"
)

var _ webhook.FilterMatcher = (*Store)(nil)

// matchFiltersQuery is the match of MatchSubscriptions with the filter
// column generated from each subscription's document.
const matchFiltersQuery = `SELECT id, filter::text FROM {{schema}}.subscriptions
WHERE match_keys && $2::text[] AND org_id = $1 AND state = 'Active' ORDER BY id`

// MatchSubscriptionFilters is MatchSubscriptions with each subscription's
// Filter, in the same index probe.
func (s *Store) MatchSubscriptionFilters(ctx context.Context, orgID, eventType string) ([]webhook.SubscriptionMatch, error) {
	if !storable(orgID) || !storable(eventType) {
		return []webhook.SubscriptionMatch{}, nil
	}
	rows, err := s.pool.Query(ctx, s.q.matchFilters, orgID, candidateKeys(orgID, eventType))
	if err != nil {
		return nil, dbError("match subscriptions", err)
	}
	defer rows.Close()
	out := []webhook.SubscriptionMatch{}
	for rows.Next() {
		var (
			m      webhook.SubscriptionMatch
			filter *string
		)
		if err := rows.Scan(&m.ID, &filter); err != nil {
			return nil, dbError("match subscriptions", err)
		}
		if filter != nil && *filter != "null" {
			m.Filter = []byte(*filter)
		}
		out = append(out, m)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("match subscriptions", err)
	}
	return out, nil
}
