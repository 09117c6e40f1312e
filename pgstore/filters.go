package pgstore

import (
	"context"
	"encoding/json"

	webhook "github.com/relayhook/webhook"
)

var _ webhook.FilterMatcher = (*Store)(nil)

// matchFiltersQuery is the match of MatchSubscriptions with the filter
// column generated from each subscription's document.
const matchFiltersQuery = `SELECT id, filter::text FROM {{schema}}.subscriptions
WHERE match_keys && $2::text[] AND org_id = $1 AND state = 'Active' ORDER BY id`

// MatchSubscriptionFilters is MatchSubscriptions with the subscriptions'
// Filters, in the same index probe.
func (s *Store) MatchSubscriptionFilters(ctx context.Context, orgID, eventType string) ([]string, []json.RawMessage, error) {
	if !storable(orgID) || !storable(eventType) {
		return []string{}, nil, nil
	}
	rows, err := s.pool.Query(ctx, s.q.matchFilters, orgID, candidateKeys(orgID, eventType))
	if err != nil {
		return nil, nil, dbError("match subscriptions", err)
	}
	defer rows.Close()
	ids := []string{}
	var filters []json.RawMessage
	for rows.Next() {
		var (
			id     string
			filter *string
		)
		if err := rows.Scan(&id, &filter); err != nil {
			return nil, nil, dbError("match subscriptions", err)
		}
		if filter != nil && *filter != "null" {
			if filters == nil {
				filters = make([]json.RawMessage, len(ids))
			}
			filters = append(filters, json.RawMessage(*filter))
		} else if filters != nil {
			filters = append(filters, nil)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, dbError("match subscriptions", err)
	}
	return ids, filters, nil
}
