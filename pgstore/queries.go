package pgstore

import "strings"

// queries holds the store's SQL with the schema filled in. Each is sent as
// is, so pgx prepares it once per connection and reuses it.
type queries struct {
	createSubscription string
	getSubscription    string
	getSubscriptions   string
	updateSubscription string
	deleteSubscription string
	listSubscriptions  string
	matchSubscriptions string
	setState           string
	healthOK           string
	healthFailed       string

	enqueue    string
	getEvent   string
	listEvents string
	prune      string

	claim                      string
	claimCapped                string
	claimBySubscription        string
	finish                     string
	nextDue                    string
	getDelivery                string
	listDeliveries             string
	listSubscriptionDeliveries string
	redeliver                  string
	listAttempts               string
	deliveryExists             string
}

func newQueries(schema string) queries {
	r := strings.NewReplacer("{{schema}}", schema)
	q := queries{
		createSubscription: `INSERT INTO {{schema}}.subscriptions
  (id, org_id, state, events, match_keys, consecutive_failures, created_at, updated_at, doc)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,

		getSubscription: `SELECT ` + subscriptionColumns + ` FROM {{schema}}.subscriptions WHERE id = $1`,

		getSubscriptions: `SELECT ` + subscriptionColumns + ` FROM {{schema}}.subscriptions WHERE id = ANY($1::text[])`,

		// $9, $10: channel and payload of the wake-up sent when the
		// subscription is (or stays) Active.
		updateSubscription: `WITH u AS (
  UPDATE {{schema}}.subscriptions
  SET org_id = $2, state = $3, events = $4, match_keys = $5, created_at = $6,
      updated_at = $7, doc = $8, version = version + 1
  WHERE id = $1
  RETURNING state
)
SELECT CASE WHEN u.state = 'Active' THEN (SELECT 1 FROM pg_notify($9, $10)) END FROM u`,

		// Pending deliveries go with the subscription, and their attempts;
		// delivered and dead ones stay until pruned. ("Not delivered or
		// dead" keeps the planner on the subscription's index rather than
		// the whole pending index.)
		deleteSubscription: `WITH s AS (
  DELETE FROM {{schema}}.subscriptions WHERE id = $1 RETURNING id
), d AS (
  DELETE FROM {{schema}}.deliveries d
  WHERE d.subscription_id = $1 AND d.state NOT IN ('delivered', 'dead') AND EXISTS (SELECT 1 FROM s)
  RETURNING d.id
), a AS (
  DELETE FROM {{schema}}.attempts a USING d WHERE a.delivery_id = d.id
)
SELECT count(*) FROM s`,

		listSubscriptions: `SELECT ` + subscriptionColumns + ` FROM {{schema}}.subscriptions
WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3`,

		// Only IDs and versions: the subscriptions themselves usually come
		// from the cache.
		matchSubscriptions: `SELECT id, version FROM {{schema}}.subscriptions
WHERE match_keys && $2::text[] AND org_id = $1 AND state = 'Active' ORDER BY id`,

		setState: `WITH u AS (
  UPDATE {{schema}}.subscriptions
  SET state = $2, updated_at = $3, version = version + 1,
      consecutive_failures = CASE WHEN $2 = 'Active' THEN 0 ELSE consecutive_failures END
  WHERE id = $1
  RETURNING state
)
SELECT CASE WHEN u.state = 'Active' THEN (SELECT 1 FROM pg_notify($4, $5)) END FROM u`,

		// A success writes only when there are failures to forget, so that
		// the common case is a read.
		healthOK: `WITH u AS (
  UPDATE {{schema}}.subscriptions SET consecutive_failures = 0, version = version + 1
  WHERE id = $1 AND consecutive_failures <> 0
)
SELECT EXISTS (SELECT 1 FROM {{schema}}.subscriptions WHERE id = $1)`,

		// The row is locked first so that the old state is the one this
		// update replaces: of concurrent failures exactly one trips.
		healthFailed: `WITH old AS (
  SELECT id, state, consecutive_failures FROM {{schema}}.subscriptions WHERE id = $1 FOR UPDATE
), u AS (
  UPDATE {{schema}}.subscriptions s
  SET consecutive_failures = old.consecutive_failures + 1,
      state = CASE WHEN t.trip THEN 'TooManyErrors' ELSE old.state END,
      updated_at = CASE WHEN t.trip THEN $3 ELSE s.updated_at END,
      version = s.version + 1
  FROM old, LATERAL (SELECT $2::int > 0 AND old.state = 'Active'
                            AND old.consecutive_failures + 1 >= $2::int AS trip) t
  WHERE s.id = old.id
  RETURNING t.trip
)
SELECT trip FROM u`,

		// One statement, hence one transaction and one round trip: the
		// event (kept if already stored) and the deliveries (skipped when
		// their event and subscription already have one). With $19, a
		// wake-up is sent on commit when any delivery was created (in a
		// host's transaction); otherwise the store sends it afterwards.
		// When the event is new and the call's deliveries are distinct
		// pairs of it ($20, checked by the caller), none of them can
		// exist: dn inserts them plainly, without the pre-check of both
		// unique indexes and the extra WAL record per row that ON CONFLICT
		// costs. Otherwise dc inserts them with ON CONFLICT DO NOTHING.
		enqueue: `WITH e AS (
  INSERT INTO {{schema}}.events (org_id, id, type, ts, ts_offset, data)
  VALUES ($1, $2, $3, $4, $5, $6)
  ON CONFLICT DO NOTHING
  RETURNING 1
), u AS (
  SELECT * FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $11::int[], $12::timestamptz[],
                       $13::int[], $14::text[], $15::timestamptz[], $16::timestamptz[])
    AS u(id, org_id, event_id, subscription_id, attempts, next_attempt_at,
         last_status_code, last_error, created_at, updated_at)
), dn AS (
  INSERT INTO {{schema}}.deliveries
    (id, org_id, event_id, subscription_id, state, attempts, next_attempt_at,
     last_status_code, last_error, created_at, updated_at)
  SELECT u.id, u.org_id, u.event_id, u.subscription_id, 'pending', u.attempts, u.next_attempt_at,
         u.last_status_code, u.last_error, u.created_at, u.updated_at
  FROM u WHERE $20::bool AND EXISTS (SELECT 1 FROM e)
  RETURNING 1
), dc AS (
  INSERT INTO {{schema}}.deliveries
    (id, org_id, event_id, subscription_id, state, attempts, next_attempt_at,
     last_status_code, last_error, created_at, updated_at)
  SELECT u.id, u.org_id, u.event_id, u.subscription_id, 'pending', u.attempts, u.next_attempt_at,
         u.last_status_code, u.last_error, u.created_at, u.updated_at
  FROM u WHERE NOT ($20::bool AND EXISTS (SELECT 1 FROM e))
  ON CONFLICT DO NOTHING
  RETURNING 1
)
SELECT c.n, CASE WHEN c.n > 0 AND $19 THEN (SELECT 1 FROM pg_notify($17, $18)) END
FROM (SELECT (SELECT count(*) FROM dn) + (SELECT count(*) FROM dc) AS n) c`,

		getEvent: `SELECT ` + eventColumns + ` FROM {{schema}}.events e WHERE e.org_id = $1 AND e.id = $2`,

		listEvents: `SELECT ` + eventColumns + ` FROM {{schema}}.events e
WHERE e.org_id = $1 AND e.id > $2
  AND ($3::timestamptz IS NULL OR e.ts >= $3) AND ($4::timestamptz IS NULL OR e.ts < $4)
ORDER BY e.id LIMIT $5`,

		prune: `WITH ev AS (
  SELECT e.org_id, e.id FROM {{schema}}.events e
  WHERE e.ts < $1
    AND NOT EXISTS (SELECT 1 FROM {{schema}}.deliveries d
                    WHERE d.event_id = e.id AND d.org_id = e.org_id AND d.state = 'pending')
  ORDER BY e.ts
  LIMIT $2
  FOR UPDATE SKIP LOCKED
), d AS (
  DELETE FROM {{schema}}.deliveries d USING ev
  WHERE d.event_id = ev.id AND d.org_id = ev.org_id
  RETURNING d.id
), a AS (
  DELETE FROM {{schema}}.attempts a USING d WHERE a.delivery_id = d.id
), x AS (
  DELETE FROM {{schema}}.events e USING ev
  WHERE e.org_id = ev.org_id AND e.id = ev.id
  RETURNING 1
)
SELECT count(*) FROM x`,

		// Claim without a per-subscription cap: walk the pending index in
		// due order, skipping rows other claims hold locked, and lease the
		// first $3. $1 now, $2 leased until, $4 excluded subscriptions.
		claim: `WITH picked AS MATERIALIZED (
  SELECT d.ctid FROM {{schema}}.deliveries d
  WHERE d.state = 'pending' AND d.next_attempt_at <= $1
    AND (d.leased_until IS NULL OR d.leased_until <= $1)
    AND d.subscription_id <> ALL($4::text[])
    AND ` + subscriptionActive + `
  ORDER BY d.next_attempt_at
  LIMIT $3
  FOR UPDATE OF d SKIP LOCKED
)` + claimUpdate,

		// Claim with a per-subscription cap ($5): read up to $6 due
		// candidates without locking, keep the first $5 of each
		// subscription and the first $3 overall, then lock those, skipping
		// rows that another claim holds and re-checking (on the newest
		// version of each row) that it is still claimable. The re-check
		// says "not delivered or dead" rather than "pending" so that it
		// cannot be served by the pending index (scanning all of it): the
		// primary key is the only way to the chosen IDs.
		claimCapped: `WITH candidates AS (
  SELECT d.id, d.subscription_id, d.next_attempt_at FROM {{schema}}.deliveries d
  WHERE d.state = 'pending' AND d.next_attempt_at <= $1
    AND (d.leased_until IS NULL OR d.leased_until <= $1)
    AND d.subscription_id <> ALL($4::text[])
    AND ` + subscriptionActive + `
  ORDER BY d.next_attempt_at
  LIMIT $6
), ranked AS (
  SELECT id, next_attempt_at,
         row_number() OVER (PARTITION BY subscription_id ORDER BY next_attempt_at, id) AS rn
  FROM candidates
), chosen AS (
  SELECT id FROM ranked WHERE rn <= $5 ORDER BY next_attempt_at LIMIT $3
), picked AS MATERIALIZED (
  SELECT d.ctid FROM {{schema}}.deliveries d
  WHERE d.id = ANY (ARRAY(SELECT id FROM chosen))
    AND d.state NOT IN ('delivered', 'dead') AND d.next_attempt_at <= $1
    AND (d.leased_until IS NULL OR d.leased_until <= $1)
  FOR UPDATE SKIP LOCKED
)` + claimUpdate,

		// Claim by subscription, for a queue whose head is congested with
		// deliveries that cannot be taken (see Claim). pending_subs lists
		// the subscriptions with pending deliveries, one index descent
		// each (a loose index scan); of those Active and not excluded ($4),
		// up to $5 due deliveries each are read from the head of their
		// own queue; the first $3 of those in due order are locked as in
		// claimCapped.
		claimBySubscription: `WITH RECURSIVE pending_subs AS (
  (SELECT d.subscription_id AS id FROM {{schema}}.deliveries d
   WHERE d.state = 'pending' ORDER BY d.subscription_id LIMIT 1)
  UNION ALL
  SELECT (SELECT d.subscription_id FROM {{schema}}.deliveries d
          WHERE d.state = 'pending' AND d.subscription_id > ps.id
          ORDER BY d.subscription_id LIMIT 1)
  FROM pending_subs ps WHERE ps.id IS NOT NULL
), heads AS (
  SELECT h.id, h.next_attempt_at
  FROM pending_subs ps
  JOIN {{schema}}.subscriptions s ON s.id = ps.id
  CROSS JOIN LATERAL (
    SELECT d.id, d.next_attempt_at FROM {{schema}}.deliveries d
    WHERE d.subscription_id = ps.id AND d.state = 'pending' AND d.next_attempt_at <= $1
      AND (d.leased_until IS NULL OR d.leased_until <= $1)
    ORDER BY d.next_attempt_at
    LIMIT $5
  ) h
  WHERE s.state = 'Active' AND ps.id <> ALL($4::text[])
), chosen AS (
  SELECT id FROM heads ORDER BY next_attempt_at LIMIT $3
), picked AS MATERIALIZED (
  SELECT d.ctid FROM {{schema}}.deliveries d
  WHERE d.id = ANY (ARRAY(SELECT id FROM chosen))
    AND d.state NOT IN ('delivered', 'dead') AND d.next_attempt_at <= $1
    AND (d.leased_until IS NULL OR d.leased_until <= $1)
  FOR UPDATE SKIP LOCKED
)` + claimUpdate,

		// Finish applies a batch of outcomes in one statement. o: the
		// outcomes ($2 to $9); a: the attempts to log ($10 to $19). An
		// outcome applies only while its lease is held; its attempt is
		// logged regardless, if the delivery still exists (known without
		// another index descent for the deliveries it updated). It returns
		// whether a delivery became claimable (a release, or a retry
		// already due), to wake the other processes.
		finish: `WITH o AS (
  SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bool[],
                       $7::int[], $8::int[], $9::text[])
    AS o(id, lease, state, next_attempt_at, counted, number, status_code, error)
), u AS (
  UPDATE {{schema}}.deliveries d SET
    state = CASE WHEN o.state = '' THEN d.state ELSE o.state END,
    next_attempt_at = CASE WHEN o.state IN ('', 'pending') AND o.next_attempt_at IS NOT NULL
                           THEN o.next_attempt_at ELSE d.next_attempt_at END,
    attempts = CASE WHEN o.counted THEN o.number ELSE d.attempts END,
    last_status_code = CASE WHEN o.counted THEN o.status_code ELSE d.last_status_code END,
    last_error = CASE WHEN o.counted THEN o.error ELSE d.last_error END,
    lease = NULL,
    leased_until = NULL,
    updated_at = $1
  FROM o
  WHERE d.id = o.id AND d.lease IS NOT NULL AND d.lease::text = o.lease
  RETURNING d.id, d.state, d.next_attempt_at
), a AS (
  INSERT INTO {{schema}}.attempts
    (delivery_id, event_id, subscription_id, number, at, duration_ns, status_code,
     response_body, error, outcome)
  SELECT a.* FROM unnest($10::text[], $11::text[], $12::text[], $13::int[], $14::timestamptz[],
                         $15::bigint[], $16::int[], $17::bytea[], $18::text[], $19::text[])
    AS a(delivery_id, event_id, subscription_id, number, at, duration_ns, status_code,
         response_body, error, outcome)
  WHERE a.delivery_id IN (SELECT u.id FROM u)
     OR EXISTS (SELECT 1 FROM {{schema}}.deliveries x WHERE x.id = a.delivery_id)
  ORDER BY a.at
)
SELECT EXISTS (SELECT 1 FROM u WHERE u.state = 'pending' AND u.next_attempt_at <= $1)`,

		// The least, over pending deliveries of Active subscriptions, of
		// the later of next_attempt_at and leased_until. a is the earliest
		// delivery not held past its due time; only deliveries due before
		// it can be due earlier, and those are held: the least of their
		// lease ends is the other candidate.
		nextDue: `WITH a AS (
  SELECT d.next_attempt_at AS t FROM {{schema}}.deliveries d
  WHERE d.state = 'pending' AND ` + subscriptionActive + `
    AND (d.leased_until IS NULL OR d.leased_until <= d.next_attempt_at)
  ORDER BY d.next_attempt_at
  LIMIT 1
)
SELECT least((SELECT t FROM a), (
  SELECT min(d.leased_until) FROM {{schema}}.deliveries d
  WHERE d.state = 'pending' AND ` + subscriptionActive + `
    AND d.leased_until > d.next_attempt_at
    AND d.next_attempt_at < coalesce((SELECT t FROM a), 'infinity')))`,

		getDelivery: `SELECT ` + deliveryColumns + ` FROM {{schema}}.deliveries d WHERE d.id = $1`,

		listDeliveries: `SELECT ` + deliveryColumns + ` FROM {{schema}}.deliveries d
WHERE d.id > $1` + deliveryFilters + `
ORDER BY d.id LIMIT $5`,

		listSubscriptionDeliveries: `SELECT ` + deliveryColumns + ` FROM {{schema}}.deliveries d
WHERE d.subscription_id = $6 AND d.id > $1` + deliveryFilters + `
ORDER BY d.id LIMIT $5`,

		redeliver: `WITH cur AS (
  SELECT id, state FROM {{schema}}.deliveries WHERE id = $1 FOR UPDATE
), u AS (
  UPDATE {{schema}}.deliveries d
  SET state = 'pending', attempts = 0, next_attempt_at = $2, lease = NULL, leased_until = NULL,
      updated_at = $2
  FROM cur WHERE d.id = cur.id AND cur.state <> 'pending'
  RETURNING d.id
)
SELECT cur.state, CASE WHEN EXISTS (SELECT 1 FROM u) THEN (SELECT 1 FROM pg_notify($3, $4)) END
FROM cur`,

		listAttempts: `SELECT delivery_id, event_id, subscription_id, number, at, duration_ns, status_code,
  response_body, error, outcome
FROM {{schema}}.attempts WHERE delivery_id = $1 ORDER BY seq`,

		deliveryExists: `SELECT EXISTS (SELECT 1 FROM {{schema}}.deliveries WHERE id = $1)`,
	}
	for _, p := range []*string{
		&q.createSubscription, &q.getSubscription, &q.getSubscriptions, &q.updateSubscription,
		&q.deleteSubscription, &q.listSubscriptions, &q.matchSubscriptions, &q.setState,
		&q.healthOK, &q.healthFailed, &q.enqueue, &q.getEvent, &q.listEvents, &q.prune,
		&q.claim, &q.claimCapped, &q.claimBySubscription, &q.finish, &q.nextDue, &q.getDelivery, &q.listDeliveries,
		&q.listSubscriptionDeliveries,
		&q.redeliver, &q.listAttempts, &q.deliveryExists,
	} {
		*p = r.Replace(*p)
	}
	return q
}

// subscriptionActive tells whether the subscription of delivery d is
// Active. A scalar subquery rather than a join: the planner then always
// walks the pending index in due order and stops at the limit, whatever
// its statistics say about the subscriptions.
const subscriptionActive = `(SELECT s.state FROM {{schema}}.subscriptions s WHERE s.id = d.subscription_id) = 'Active'`

const subscriptionColumns = `id, org_id, state, events, consecutive_failures, created_at, updated_at, version, doc`

// deliveryFilters are the optional filters of ListDeliveries: $2 state,
// $3 and $4 the creation time range.
const deliveryFilters = `
  AND ($2 = '' OR d.state = $2)
  AND ($3::timestamptz IS NULL OR d.created_at >= $3)
  AND ($4::timestamptz IS NULL OR d.created_at < $4)`

const eventColumns = `e.org_id, e.id, e.type, e.ts, e.ts_offset, e.data`

const deliveryColumns = `d.id, d.org_id, d.event_id, d.subscription_id, d.state, d.attempts,
  d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at,
  d.lease::text, d.leased_until`

// claimUpdate leases the picked deliveries and returns them with their
// events and the version of their subscriptions ($2: leased until). The
// picked rows are one array of their physical addresses (ctid), which the
// update reaches with a TID scan: no second descent of the primary key,
// and no join order for the planner to get wrong. The addresses are those
// of the versions picked locked, so they cannot move before the update.
const claimUpdate = `
UPDATE {{schema}}.deliveries d
SET lease = gen_random_uuid(), leased_until = $2
FROM {{schema}}.events e, {{schema}}.subscriptions s
WHERE d.ctid = ANY (ARRAY(SELECT ctid FROM picked))
  AND e.org_id = d.org_id AND e.id = d.event_id AND s.id = d.subscription_id
RETURNING ` + deliveryColumns + `, ` + eventColumns + `, s.version`
