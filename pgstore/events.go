package pgstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	webhook "github.com/relayhook/webhook"
)

// querier is what Enqueue needs of a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// Enqueue stores the event (unless already stored) and its deliveries in
// one statement, hence atomically, and wakes the dispatchers when any
// delivery was created: this store's at once, other stores' through a
// NOTIFY sent after the commit (see Wake).
func (s *Store) Enqueue(ctx context.Context, ev *webhook.Event, deliveries []*webhook.Delivery) (int, error) {
	n, err := s.enqueue(ctx, s.pool, ev, deliveries, false)
	if err == nil && n > 0 {
		s.broadcast()
		s.wakeOthers()
	}
	return n, err
}

// EnqueueTx does what Enqueue does inside the caller's transaction: the
// event and deliveries commit or roll back with it (the outbox pattern),
// and the wake-up, a NOTIFY, is sent by PostgreSQL on commit only. It
// returns how many deliveries were created.
func (s *Store) EnqueueTx(ctx context.Context, tx pgx.Tx, ev *webhook.Event, deliveries []*webhook.Delivery) (int, error) {
	if tx == nil {
		return 0, invalidArgument("tx", "is nil")
	}
	return s.enqueue(ctx, tx, ev, deliveries, true)
}

// enqueue runs the enqueue statement; inTx makes it send the NOTIFY itself,
// which PostgreSQL delivers on commit, with an empty payload so that this
// store hears it too.
func (s *Store) enqueue(ctx context.Context, q querier, ev *webhook.Event, deliveries []*webhook.Delivery, inTx bool) (int, error) {
	if ev == nil {
		return 0, invalidArgument("ev", "is nil")
	}
	n := len(deliveries)
	var (
		ids      = make([]string, n)
		subs     = make([]string, n)
		attempts = make([]int32, n)
		due      = make([]time.Time, n)
		codes    = make([]int32, n)
		errs     = make([]string, n)
		created  = make([]time.Time, n)
		updated  = make([]time.Time, n)
	)
	for i, d := range deliveries {
		if d == nil {
			return 0, invalidArgument("deliveries", "contains nil")
		}
		if (d.EventID != "" && d.EventID != ev.ID) || (d.OrganizationID != "" && d.OrganizationID != ev.OrganizationID) {
			// Its event type would be another event's.
			return 0, invalidArgument(fmt.Sprintf("deliveries[%d]", i), "is not for event %q of organization %q",
				ev.ID, ev.OrganizationID)
		}
		ids[i], subs[i] = d.ID, d.SubscriptionID
		attempts[i], codes[i], errs[i] = int32(d.Attempts), int32(d.LastStatusCode), pgText(d.LastError)
		due[i], created[i], updated[i] = d.NextAttemptAt, d.CreatedAt, d.UpdatedAt
	}
	// distinct: the deliveries, all of this event, are each to another
	// subscription, so that if the event is new none of them can exist.
	distinct := true
	var seen map[string]struct{} // subscriptions and IDs, for large fan-outs
	if n > 16 {
		seen = make(map[string]struct{}, 2*n)
	}
	for i := 0; i < n && distinct; i++ {
		if seen != nil {
			_, dupSub := seen["s"+subs[i]]
			_, dupID := seen["d"+ids[i]]
			seen["s"+subs[i]], seen["d"+ids[i]] = struct{}{}, struct{}{}
			distinct = !dupSub && !dupID
		} else {
			for j := range i {
				if subs[j] == subs[i] || ids[j] == ids[i] {
					distinct = false
				}
			}
		}
	}
	_, offset := ev.Timestamp.Zone()
	var (
		count int
		woke  *int
	)
	err := q.QueryRow(ctx, s.q.enqueue,
		ev.OrganizationID, ev.ID, ev.Type, ev.Timestamp, offset, []byte(ev.Data),
		ids, subs, attempts, due, codes, errs, created, updated,
		s.channel, "", inTx, distinct, ev.Trace.Traceparent, ev.Trace.Tracestate,
	).Scan(&count, &woke)
	if err != nil {
		return 0, dbError("enqueue", err)
	}
	return count, nil
}

// scanEvent reads the columns of eventColumns into ev.
func scanEventInto(ev *webhook.Event, ts *time.Time, offset *int32, data *[]byte) []any {
	return []any{&ev.OrganizationID, &ev.ID, &ev.Type, ts, offset, data, &ev.Trace.Traceparent, &ev.Trace.Tracestate}
}

// eventTime returns a stored timestamp in the zone it was given in.
func eventTime(ts time.Time, offset int32) time.Time {
	if offset == 0 {
		return ts.UTC()
	}
	return ts.In(time.FixedZone("", int(offset)))
}

func finishEvent(ev *webhook.Event, ts time.Time, offset int32, data []byte) {
	ev.Timestamp = eventTime(ts, offset)
	if data != nil {
		ev.Data = json.RawMessage(data)
	}
}

// GetEvent returns the organization's stored event.
func (s *Store) GetEvent(ctx context.Context, orgID, eventID string) (*webhook.Event, error) {
	if !storable(orgID) || !storable(eventID) {
		return nil, notFound("event", eventID)
	}
	var (
		ev     webhook.Event
		ts     time.Time
		offset int32
		data   []byte
	)
	err := s.pool.QueryRow(ctx, s.q.getEvent, orgID, eventID).Scan(scanEventInto(&ev, &ts, &offset, &data)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("event", eventID)
	}
	if err != nil {
		return nil, dbError("get event", err)
	}
	finishEvent(&ev, ts, offset, data)
	return &ev, nil
}

// ListEvents returns a page of an organization's events in the filter's
// order, walking the primary key or, with a type, the index by type.
func (s *Store) ListEvents(ctx context.Context, f webhook.EventFilter) ([]*webhook.Event, string, error) {
	if f.OrganizationID == "" {
		return nil, "", invalidArgument("OrganizationID", "is required")
	}
	desc, err := listOrder(f.Order)
	if err != nil {
		return nil, "", err
	}
	limit, after, err := checkPage(f.Page, cursorEvents, desc)
	if err != nil {
		return nil, "", err
	}
	if !storable(f.OrganizationID) || !storable(f.Type) {
		return []*webhook.Event{}, "", nil
	}
	lead := leadOrganization
	if f.Type != "" {
		lead = leadEventType
	}
	sql := s.q.listEvents[listShape{lead: lead, desc: desc, after: after != ""}]
	evs := []*webhook.Event{}
	args := []any{f.OrganizationID, after, nullTime(f.From), nullTime(f.To), limit + 1, f.Type}
	err = s.withSettings(ctx, listSettings, sql, args, func(rows pgx.Rows) error {
		for rows.Next() {
			var (
				ev     webhook.Event
				ts     time.Time
				offset int32
				data   []byte
			)
			if err := rows.Scan(scanEventInto(&ev, &ts, &offset, &data)...); err != nil {
				return err
			}
			finishEvent(&ev, ts, offset, data)
			evs = append(evs, &ev)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", dbError("list events", err)
	}
	next := ""
	if len(evs) > limit {
		evs = evs[:limit]
		next = nextCursor(cursorEvents, desc, evs[limit-1].ID)
	}
	return evs, next, nil
}

// Prune deletes up to limit events older than before that have no pending
// delivery, with their deliveries and attempts, in one statement. Call it
// repeatedly, until it returns less than limit, to prune more: each batch
// is a short transaction, so pruning never holds locks for long. It takes
// what it deletes out of the counts by state of Stats, and drops the
// counters of the hours before the hour of before.
func (s *Store) Prune(ctx context.Context, before time.Time, limit int) (int, error) {
	if limit <= 0 {
		return 0, invalidArgument("limit", "must be positive")
	}
	var (
		n       int
		pending []string
	)
	cutHour := before.UTC().Truncate(time.Hour)
	if err := s.withSettingsRow(ctx, planSettings, s.q.prune, []any{before, limit, cutHour}, &n, &pending); err != nil {
		return 0, dbError("prune", err)
	}
	if len(pending) > 0 {
		// Deliveries made pending by a Redeliver that committed while the
		// prune ran: their queue rows go too, or claims would find them
		// and no delivery.
		if _, err := s.pool.Exec(ctx, s.q.pruneQueue, pending); err != nil {
			return n, dbError("prune", err)
		}
	}
	if err := s.pruneControls(ctx, before); err != nil {
		return n, err
	}
	return n, nil
}
