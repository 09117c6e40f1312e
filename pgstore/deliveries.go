package pgstore

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	webhook "github.com/relayhook/webhook"
)

// claimScanExtra and claimScanFactor size the candidate window of a claim
// with a per-subscription cap: Limit*claimScanFactor + claimScanExtra due
// deliveries are read, in due order, to find Limit that respect the cap.
const (
	claimScanFactor = 2
	claimScanExtra  = 32
)

// A claim that takes at least congestedClaim and returns less than its
// limit has walked past many deliveries it could not take (see the package
// doc); claims then go by subscription for congestionHold before trying the
// walk in due order again.
const (
	congestedClaim = 10 * time.Millisecond
	congestionHold = time.Second
)

// claimResult collects the rows of the claim statements.
type claimResult struct {
	out      []*webhook.Delivery
	events   map[[2]string]*webhook.Event // by organization and ID
	versions map[string]int64             // of the subscriptions, by ID
}

// scan reads the rows of a claim statement: deliveryColumns, eventColumns
// and the subscription's version.
func (c *claimResult) scan(rows pgx.Rows) error {
	var (
		r       deliveryRow
		ev      webhook.Event
		ts      time.Time
		offset  int32
		data    []byte
		version int64
	)
	targets := append(r.targets(), scanEventInto(&ev, &ts, &offset, &data)...)
	targets = append(targets, &version)
	for rows.Next() {
		data = nil
		r.reset()
		if err := rows.Scan(targets...); err != nil {
			return err
		}
		d := r.delivery()
		key := [2]string{ev.OrganizationID, ev.ID}
		e := c.events[key]
		if e == nil {
			e = &webhook.Event{ID: ev.ID, Type: ev.Type, OrganizationID: ev.OrganizationID, Trace: ev.Trace}
			finishEvent(e, ts, offset, data)
			c.events[key] = e
		}
		d.Event = e
		if v, ok := c.versions[d.SubscriptionID]; !ok || version > v {
			c.versions[d.SubscriptionID] = version
		}
		c.out = append(c.out, d)
	}
	return rows.Err()
}

// deliveryRow holds the scan targets of deliveryColumns.
type deliveryRow struct {
	d            webhook.Delivery
	state        string
	attempts     int32
	code         int32
	redelivered  pgtype.Timestamptz
	atRedelivery int32
	lease        pgtype.Text
	leasedUntil  pgtype.Timestamptz
}

func (r *deliveryRow) targets() []any {
	d := &r.d
	return []any{&d.ID, &d.OrganizationID, &d.EventID, &d.EventType, &d.SubscriptionID, &r.state, &r.attempts,
		&d.NextAttemptAt, &r.code, &d.LastError, &r.redelivered, &r.atRedelivery,
		&d.CreatedAt, &d.UpdatedAt, &r.lease, &r.leasedUntil}
}

// delivery returns the delivery scanned; a delivered or dead one has no
// NextAttemptAt (the column keeps the last due time).
func (r *deliveryRow) delivery() *webhook.Delivery {
	d := r.d
	d.State = webhook.DeliveryState(r.state)
	d.Attempts, d.LastStatusCode = int(r.attempts), int(r.code)
	d.NextAttemptAt, d.CreatedAt, d.UpdatedAt = utc(d.NextAttemptAt), utc(d.CreatedAt), utc(d.UpdatedAt)
	if d.State != webhook.DeliveryPending {
		d.NextAttemptAt = time.Time{}
	}
	d.RedeliveredAt = fromTimestamptz(r.redelivered)
	d.AttemptsAtRedelivery = int(r.atRedelivery)
	d.Lease = r.lease.String
	d.LeasedUntil = fromTimestamptz(r.leasedUntil)
	return &d
}

// reset clears the scan targets that a NULL leaves as they were.
func (r *deliveryRow) reset() {
	r.redelivered, r.lease, r.leasedUntil = pgtype.Timestamptz{}, pgtype.Text{}, pgtype.Timestamptz{}
}

// Claim leases up to p.Limit due deliveries in one statement; see
// webhook.Store. It walks the queue's due index in due order, skipping
// deliveries under a valid lease, of subscriptions that are not Active or
// are excluded, and (with FOR UPDATE SKIP LOCKED) those another claim is
// taking at that moment, from this process or another. With a
// per-subscription cap below p.Limit, it reads a window of
// p.Limit*2+32 due deliveries, keeps the first p.MaxPerSubscription of each
// subscription, and locks those; a subscription with a backlog larger than
// the window can make such a claim return fewer than p.Limit, never none
// while one is claimable and no other claim takes it first. While the head
// of the queue is congested with deliveries it cannot take, claims go by
// subscription instead (see the package doc).
func (s *Store) Claim(ctx context.Context, p webhook.ClaimParams) ([]*webhook.Delivery, error) {
	switch {
	case p.Limit <= 0:
		return nil, invalidArgument("Limit", "must be positive")
	case p.Lease <= 0:
		return nil, invalidArgument("Lease", "must be positive")
	case p.MaxPerSubscription < 0:
		return nil, invalidArgument("MaxPerSubscription", "must not be negative")
	}
	exclude := p.Exclude
	if exclude == nil {
		exclude = []string{}
	}
	until := p.Now.Add(p.Lease)
	c := claimResult{
		out:      make([]*webhook.Delivery, 0, p.Limit),
		events:   make(map[[2]string]*webhook.Event),
		versions: make(map[string]int64),
	}
	// Capped subscriptions first, then the others with what is left of
	// the limit (see controls.go).
	if err := s.claimCapped(ctx, p, exclude, until, &c); err != nil {
		return nil, err
	}
	p.Limit -= len(c.out)
	probe := s.alwaysBySubscription || time.Now().UnixNano() < s.congestedUntil.Load()
	if !probe {
		sql, args := s.q.claim, []any{p.Now, until, p.Limit, exclude}
		if p.MaxPerSubscription > 0 && p.MaxPerSubscription < p.Limit {
			scan := p.Limit*claimScanFactor + claimScanExtra
			sql, args = s.q.claimCapped, append(args, p.MaxPerSubscription, scan)
		}
		start := time.Now()
		if err := s.withSettings(ctx, queueSettings, sql, args, c.scan); err != nil {
			return nil, dbError("claim", err)
		}
		if len(c.out) < p.Limit && time.Since(start) >= congestedClaim {
			// Slow and short: the walk in due order read past many
			// deliveries it could not take. Go by subscription for a
			// while, from this claim on if it took nothing (a claim that
			// took some returns them: the next one goes by subscription,
			// and the cap per subscription holds per call).
			s.congestedUntil.Store(time.Now().Add(congestionHold).UnixNano())
			probe = len(c.out) == 0
		}
	}
	if probe {
		perSub := p.MaxPerSubscription
		if perSub == 0 || perSub > p.Limit {
			perSub = p.Limit
		}
		args := []any{p.Now, until, p.Limit, exclude, perSub}
		start := time.Now()
		if err := s.withSettings(ctx, queueSettings, s.q.claimBySubscription, args, c.scan); err != nil {
			return nil, dbError("claim", err)
		}
		if time.Since(start) >= congestedClaim {
			// Slow too (many subscriptions with pending work, or a busy
			// server): back to due order.
			s.congestedUntil.Store(0)
		}
	}
	out, versions := c.out, c.versions
	if len(out) == 0 {
		return out, nil
	}
	subs, err := s.subscriptions(ctx, versions)
	if err != nil {
		return nil, err
	}
	kept := out[:0]
	for _, d := range out {
		// A subscription deleted since the claim took its pending
		// deliveries with it.
		if d.Subscription = subs[d.SubscriptionID]; d.Subscription != nil {
			kept = append(kept, d)
		}
	}
	slices.SortStableFunc(kept, func(a, b *webhook.Delivery) int { return a.NextAttemptAt.Compare(b.NextAttemptAt) })
	return kept, nil
}

// planSettings is what the queue's statements (Claim, Finish, NextDue, Prune,
// DeleteSubscription) run under, local to their transaction, so that their
// plans do not depend on table statistics, which lag behind a queue that
// grows faster than autovacuum analyzes it, nor on a plan (generic or not)
// cached while the tables were still small: every row is reached through an index
// (no sequential scan, hash or merge join, materialization), and Claim and
// NextDue walk the queue's due index in due order and stop at their limit (no
// explicit sort where the index gives the order). Without it, on a fresh
// queue of 100,000 deliveries, a claim read and sorted all of them (150 ms)
// and a finish could hash the whole table. JIT is off because the penalty
// these settings put on the sorts that remain (the per-subscription window)
// would otherwise make a plan look expensive enough to compile.
const planSettings = `SELECT set_config('enable_sort', 'off', true), set_config('enable_seqscan', 'off', true),
  set_config('enable_hashjoin', 'off', true), set_config('enable_mergejoin', 'off', true),
  set_config('enable_material', 'off', true), set_config('jit', 'off', true)`

// queueSettings is planSettings for Claim and Finish, whose commits also need
// not wait for the write-ahead log to reach disk (synchronous_commit off
// for their transaction only). A crash can lose the last few of those
// commits, which only undoes them: a lost claim leaves its deliveries
// pending and its leases unknown, so the workers' outcomes for them no
// longer apply and they are delivered again; a lost finish leaves its
// deliveries leased until their lease expires, and they are delivered
// again. Delivery stays at least once. Enqueue keeps the server's
// setting: a nil from Dispatch means the event is durable.
//
// They also run their prepared statements with a generic plan
// (plan_cache_mode force_generic_plan): planned once per connection, not
// at every call. The server's own choice planned the claims anew at every
// call (about 0.4 ms each, a third of the claim's time on the server),
// since the generic plan, the same walk of the due index, is estimated
// dearer than a custom one (it cannot know that every row before now is
// due). Under planSettings there is no other plan to choose: an index walk
// in due order whatever the parameters.
const queueSettings = planSettings + `, set_config('synchronous_commit', 'off', true),
  set_config('plan_cache_mode', 'force_generic_plan', true)`

// listSettings is planSettings for the listings of deliveries and events, and
// Stats: walks of an index in the listing's order that stop at the limit
// (no sort where an index gives the order, no bitmap scan, which loses
// it, no parallel workers to start for a page), and for Stats nested
// loops into each subscription's part of an index, whatever the
// statistics say about one organization against another, and whatever
// generic plan was cached for the statement. (A generic plan that sorted
// a small organization's deliveries would sort a large one's whole.)
const listSettings = planSettings + `, set_config('enable_bitmapscan', 'off', true),
  set_config('max_parallel_workers_per_gather', '0', true)`

// statsSettings is listSettings for Stats, with the cost of a random page read
// lowered to that of a page in memory or on a solid-state disk: otherwise
// the planner prefers reading every pending delivery of the queue, in
// the order of the heap, to reading a subscription's at random through
// the index by subscription (150 ms against 5 ms for an organization of 16
// subscriptions of 9,000 pending deliveries each, in a queue not yet
// vacuumed).
const statsSettings = listSettings + `, set_config('random_page_cost', '1.1', true)`

// withSettings runs a query under planner settings (planSettings or one
// built on it) and hands its rows to fn, in one round trip: BEGIN, the
// settings, the query and COMMIT are sent together.
func (s *Store) withSettings(ctx context.Context, settings, sql string, args []any, fn func(pgx.Rows) error) error {
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(settings)
	b.Queue(sql, args...).Query(fn)
	b.Queue("COMMIT")
	return s.pool.SendBatch(ctx, b).Close()
}

// withSettingsRow is withSettings for a query that returns one row,
// scanned into dest.
func (s *Store) withSettingsRow(ctx context.Context, settings, sql string, args []any, dest ...any) error {
	return s.withSettings(ctx, settings, sql, args, func(rows pgx.Rows) error {
		if !rows.Next() {
			if err := rows.Err(); err != nil {
				return err
			}
			return pgx.ErrNoRows
		}
		return rows.Scan(dest...)
	})
}

// Finish applies a batch of outcomes in one statement, hence one round trip
// and one transaction; see webhook.Store and webhook.Outcome. The same
// statement counts, for Stats, the attempts it logs (by the subscription
// they name and their hour) and the deliveries it finishes. Its commit,
// like a claim's, does not wait for the disk (see queueSettings): a crash may
// undo the last finishes, whose deliveries are then delivered again when
// their leases expire.
func (s *Store) Finish(ctx context.Context, now time.Time, outcomes []webhook.Outcome) error {
	if len(outcomes) == 0 {
		return nil
	}
	args, err := finishArgs(now, outcomes)
	if err != nil {
		return err
	}
	var claimable bool
	if err := s.withSettingsRow(ctx, queueSettings, s.q.finish, args, &claimable); err != nil {
		return dbError("finish", err)
	}
	if claimable {
		s.broadcast()
		s.wakeOthers()
	}
	return nil
}

// finishArgs returns the arguments of the finish statement.
func finishArgs(now time.Time, outcomes []webhook.Outcome) ([]any, error) {
	n := len(outcomes)
	var (
		ids     = make([]string, n)
		leases  = make([]string, n)
		states  = make([]string, n)
		due     = make([]pgtype.Timestamptz, n)
		counted = make([]bool, n)
		numbers = make([]int32, n)
		codes   = make([]int32, n)
		errs    = make([]string, n)

		aDelivery, aEvent, aSub, aErr, aOutcome []string
		aNumber, aCode                          []int32
		aAt                                     []time.Time
		aDuration                               []int64
		aBody                                   [][]byte
		aManual                                 []bool
	)
	for i, o := range outcomes {
		switch o.State {
		case "", webhook.DeliveryPending, webhook.DeliveryDelivered, webhook.DeliveryDead:
		default:
			return nil, invalidArgument(fmt.Sprintf("outcomes[%d].State", i), "must be %q, %q or %q",
				webhook.DeliveryPending, webhook.DeliveryDelivered, webhook.DeliveryDead)
		}
		ids[i], leases[i], states[i], due[i] = o.DeliveryID, o.Lease, string(o.State), nullTime(o.NextAttemptAt)
		a := o.Attempt
		if a == nil {
			continue
		}
		counted[i], numbers[i], codes[i], errs[i] = true, int32(a.Number), int32(a.StatusCode), pgText(a.Error)
		id := a.DeliveryID
		if id == "" {
			id = o.DeliveryID
		}
		outcome := a.Outcome
		if outcome == "" {
			outcome = o.State
		}
		aDelivery = append(aDelivery, id)
		aEvent = append(aEvent, a.EventID)
		aSub = append(aSub, a.SubscriptionID)
		aNumber = append(aNumber, int32(a.Number))
		aAt = append(aAt, a.At)
		aDuration = append(aDuration, int64(a.Duration))
		aCode = append(aCode, int32(a.StatusCode))
		aBody = append(aBody, []byte(a.ResponseBody))
		aErr = append(aErr, pgText(a.Error))
		aOutcome = append(aOutcome, string(outcome))
		aManual = append(aManual, a.Manual)
	}
	if aDelivery == nil {
		aDelivery, aEvent, aSub, aErr, aOutcome = []string{}, []string{}, []string{}, []string{}, []string{}
		aNumber, aCode, aAt, aDuration, aBody = []int32{}, []int32{}, []time.Time{}, []int64{}, [][]byte{}
		aManual = []bool{}
	}
	return []any{now,
		ids, leases, states, due, counted, numbers, codes, errs,
		aDelivery, aEvent, aSub, aNumber, aAt, aDuration, aCode, aBody, aErr, aOutcome, aManual,
	}, nil
}

// NextDue returns the earliest time at which a Claim may find work.
func (s *Store) NextDue(ctx context.Context) (time.Time, bool, error) {
	var t pgtype.Timestamptz
	if err := s.withSettingsRow(ctx, planSettings, s.q.nextDue, nil, &t); err != nil {
		return time.Time{}, false, dbError("next due", err)
	}
	ct, ok, err := s.cappedNextDue(ctx)
	switch {
	case err != nil:
		return time.Time{}, false, err
	case ok && (!t.Valid || ct.Before(t.Time)):
		return ct, true, nil
	case !t.Valid:
		return time.Time{}, false, nil
	}
	return t.Time.UTC(), true, nil
}

// GetDelivery returns the organization's delivery with the ID.
func (s *Store) GetDelivery(ctx context.Context, orgID, id string) (*webhook.Delivery, error) {
	if !storable(orgID) || !storable(id) {
		return nil, notFound("delivery", id)
	}
	var r deliveryRow
	err := s.pool.QueryRow(ctx, s.q.getDelivery, id, orgID).Scan(r.targets()...)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("delivery", id)
	}
	if err != nil {
		return nil, dbError("get delivery", err)
	}
	return r.delivery(), nil
}

// ListDeliveries returns a page of the deliveries the filter keeps, in its
// order. The walk starts from the most selective filter set: the event, the
// subscription, the event type, or else the organization (see
// listDeliveriesQueries).
func (s *Store) ListDeliveries(ctx context.Context, f webhook.DeliveryFilter) ([]*webhook.Delivery, string, error) {
	if f.OrganizationID == "" {
		return nil, "", invalidArgument("OrganizationID", "is required")
	}
	desc, err := listOrder(f.Order)
	if err != nil {
		return nil, "", err
	}
	switch f.State {
	case "", webhook.DeliveryPending, webhook.DeliveryDelivered, webhook.DeliveryDead:
	default:
		return nil, "", invalidArgument("State", "must be empty, %q, %q or %q",
			webhook.DeliveryPending, webhook.DeliveryDelivered, webhook.DeliveryDead)
	}
	limit, after, err := checkPage(f.Page, cursorDeliveries, desc)
	if err != nil {
		return nil, "", err
	}
	out := []*webhook.Delivery{}
	for _, v := range []string{f.OrganizationID, f.SubscriptionID, f.EventID, f.EventType} {
		if !storable(v) {
			return out, "", nil
		}
	}
	lead := leadOrganization
	switch {
	case f.EventID != "":
		lead = leadEvent
	case f.SubscriptionID != "":
		lead = leadSubscription
	case f.EventType != "":
		lead = leadEventType
	}
	sql := s.q.listDeliveries[listShape{lead: lead, desc: desc, after: after != ""}]
	args := []any{f.OrganizationID, after, string(f.State), nullTime(f.CreatedFrom), nullTime(f.CreatedTo),
		limit + 1, f.SubscriptionID, f.EventID, f.EventType}
	err = s.withSettings(ctx, listSettings, sql, args, func(rows pgx.Rows) error {
		var r deliveryRow
		targets := r.targets()
		for rows.Next() {
			r.reset()
			if err := rows.Scan(targets...); err != nil {
				return err
			}
			out = append(out, r.delivery())
		}
		return rows.Err()
	})
	if err != nil {
		return nil, "", dbError("list deliveries", err)
	}
	next := ""
	if len(out) > limit {
		out = out[:limit]
		next = nextCursor(cursorDeliveries, desc, out[limit-1].ID)
	}
	return out, next, nil
}

// Redeliver puts the organization's delivered or dead delivery back to
// pending, due at now, keeping its attempts, takes it out of the counts of
// its former state, and wakes the dispatchers.
func (s *Store) Redeliver(ctx context.Context, orgID, id string, now time.Time) error {
	if !storable(orgID) || !storable(id) {
		return notFound("delivery", id)
	}
	var (
		state string
		ok    bool
		woke  *int
	)
	err := s.pool.QueryRow(ctx, s.q.redeliver, id, orgID, now, s.channel, s.origin).Scan(&state, &ok, &woke)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound("delivery", id)
	}
	if err != nil {
		return dbError("redeliver", err)
	}
	if webhook.DeliveryState(state) == webhook.DeliveryPending {
		return fmt.Errorf("pgstore: redeliver %q: delivery is pending: %w", id, webhook.ErrInvalidState)
	}
	if !ok {
		return fmt.Errorf("pgstore: redeliver %q: its subscription was deleted: %w", id, webhook.ErrNotFound)
	}
	if woke != nil {
		s.broadcast()
	}
	return nil
}

// ListAttempts returns the attempts of the organization's delivery, oldest
// first.
func (s *Store) ListAttempts(ctx context.Context, orgID, deliveryID string) ([]*webhook.Attempt, error) {
	if !storable(orgID) || !storable(deliveryID) {
		return nil, notFound("delivery", deliveryID)
	}
	rows, err := s.pool.Query(ctx, s.q.listAttempts, deliveryID, orgID)
	if err != nil {
		return nil, dbError("list attempts", err)
	}
	defer rows.Close()
	out := []*webhook.Attempt{}
	for rows.Next() {
		var (
			a        webhook.Attempt
			number   int32
			code     int32
			duration int64
			body     []byte
			outcome  string
		)
		if err := rows.Scan(&a.DeliveryID, &a.EventID, &a.SubscriptionID, &number, &a.Manual, &a.At, &duration,
			&code, &body, &a.Error, &outcome); err != nil {
			return nil, dbError("list attempts", err)
		}
		a.Number, a.StatusCode, a.Duration = int(number), int(code), time.Duration(duration)
		a.At, a.ResponseBody, a.Outcome = utc(a.At), string(body), webhook.DeliveryState(outcome)
		out = append(out, &a)
	}
	if err := rows.Err(); err != nil {
		return nil, dbError("list attempts", err)
	}
	if len(out) == 0 {
		var exists bool
		if err := s.pool.QueryRow(ctx, s.q.deliveryExists, deliveryID, orgID).Scan(&exists); err != nil {
			return nil, dbError("list attempts", err)
		}
		if !exists {
			return nil, notFound("delivery", deliveryID)
		}
	}
	return out, nil
}
