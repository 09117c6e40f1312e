package pgstore

import "strings"

// queries holds the store's SQL with the schema filled in. Each is sent as
// is, so pgx prepares it once per connection and reuses it.
type queries struct {
	createSubscription      string
	getSubscription         string
	getSubscriptionByNumber string
	getSubscriptions        string
	updateSubscription      string
	deleteSubscription      string
	listSubscriptions       string
	matchSubscriptions      string
	setState                string
	healthOK                string
	healthFailed            string

	enqueue    string
	getEvent   string
	listEvents map[listShape]string // by filter shape: "" or "type"
	prune      string
	pruneQueue string

	claim               string
	claimCapped         string
	claimBySubscription string
	finish              string
	nextDue             string
	getDelivery         string
	listDeliveries      map[listShape]string // by filter shape: "", "subscription", "type", "event"
	redeliver           string
	listAttempts        string
	deliveryExists      string

	stats map[bool]string // by whether it is of one subscription
}

// listShape names one of the statements of a listing: the filter that
// leads its index walk, its order, and whether it starts after a cursor.
type listShape struct {
	lead  string
	desc  bool
	after bool
}

func newQueries(schema string) queries {
	r := strings.NewReplacer("{{schema}}", schema)
	q := queries{
		// Counters left by a deleted subscription of the same ID (a Finish
		// racing its deletion) are dropped: a new subscription counts
		// from zero.
		createSubscription: `WITH c AS (
  INSERT INTO {{schema}}.subscriptions
    (id, org_id, state, events, match_keys, consecutive_failures, created_at, updated_at, doc)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
  RETURNING id, number
), x AS (
  DELETE FROM {{schema}}.stats st USING c WHERE st.subscription_id = c.id
)
SELECT number FROM c`,

		getSubscription: `SELECT ` + subscriptionColumns + ` FROM {{schema}}.subscriptions WHERE id = $1 AND org_id = $2`,

		getSubscriptionByNumber: `SELECT ` + subscriptionColumns + ` FROM {{schema}}.subscriptions WHERE number = $1 AND org_id = $2`,

		getSubscriptions: `SELECT ` + subscriptionColumns + ` FROM {{schema}}.subscriptions WHERE id = ANY($1::text[])`,

		// $9, $10: channel and payload of the wake-up sent when the
		// subscription is (or stays) Active.
		updateSubscription: `WITH u AS (
  UPDATE {{schema}}.subscriptions
  SET state = $3, events = $4, match_keys = $5, created_at = $6,
      updated_at = $7, doc = $8, version = version + 1
  WHERE id = $1 AND org_id = $2
  RETURNING state
)
SELECT CASE WHEN u.state = 'Active' THEN (SELECT 1 FROM pg_notify($9, $10)) END FROM u`,

		// Pending deliveries go with the subscription, and their attempts;
		// delivered and dead ones stay until pruned. The pending ones are
		// those of its part of the queue (a walk bounded by its backlog,
		// not by the deliveries kept), each queue row deleted before its
		// delivery, as a Finish locks them. Its counters go too, once the
		// deliveries are deleted (the count of d is read first): a Finish
		// locks deliveries before counters, so must this.
		deleteSubscription: `WITH s AS (
  DELETE FROM {{schema}}.subscriptions WHERE id = $1 AND org_id = $2 RETURNING id
), q AS (
  DELETE FROM {{schema}}.queue q WHERE q.subscription_id = $1 AND EXISTS (SELECT 1 FROM s)
  RETURNING q.delivery_id
), d AS (
  DELETE FROM {{schema}}.deliveries d USING q
  WHERE d.id = q.delivery_id AND d.org_id = $2 AND d.state = 'pending'
  RETURNING d.id
), a AS (
  DELETE FROM {{schema}}.attempts a USING d WHERE a.delivery_id = d.id
), x AS (
  DELETE FROM {{schema}}.stats st
  WHERE st.subscription_id = $1 AND (SELECT count(*) FROM d) >= 0 AND EXISTS (SELECT 1 FROM s)
)
SELECT count(*) FROM s`,

		// $2 is '' on the first page: every ID sorts after it.
		listSubscriptions: `SELECT ` + subscriptionColumns + ` FROM {{schema}}.subscriptions
WHERE org_id = $1 AND id > $2 ORDER BY id LIMIT $3`,

		// The keys select exactly the patterns that match (see
		// candidateKeys); the filter column is generated from each
		// subscription's document.
		matchSubscriptions: `SELECT id, filter::text FROM {{schema}}.subscriptions
WHERE match_keys && $2::text[] AND org_id = $1 AND state = 'Active' ORDER BY id`,

		setState: `WITH u AS (
  UPDATE {{schema}}.subscriptions
  SET state = $2, updated_at = $3, version = version + 1,
      consecutive_failures = CASE WHEN $2 = 'Active' THEN 0 ELSE consecutive_failures END
  WHERE id = $1 AND org_id = $6
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
		// their event and subscription already have one). With $17, a
		// wake-up is sent on commit when any delivery was created (in a
		// host's transaction); otherwise the store sends it afterwards.
		// When the event is new and the call's deliveries are distinct
		// pairs of it ($18, checked by the caller), none of them can
		// exist: dn inserts them plainly, without the pre-check of both
		// unique indexes and the extra WAL record per row that ON CONFLICT
		// costs. Otherwise dc inserts them with ON CONFLICT DO NOTHING.
		// Every delivery is of the event (the caller checks): its
		// organization, ID and type are stored with each ($1 to $3), and
		// each gets its row in the queue (q). The statement touches no
		// counter: Stats counts pending deliveries from the queue, so that an enqueue in a host's
		// transaction, which may stay open long, locks nothing another
		// transaction could wait on but its own new rows.
		enqueue: `WITH e AS (
  INSERT INTO {{schema}}.events (org_id, id, type, ts, ts_offset, data, traceparent, tracestate)
  VALUES ($1, $2, $3, $4, $5, $6, $19, $20)
  ON CONFLICT DO NOTHING
  RETURNING 1
), u AS (
  SELECT * FROM unnest($7::text[], $8::text[], $9::int[], $10::timestamptz[],
                       $11::int[], $12::text[], $13::timestamptz[], $14::timestamptz[])
    AS u(id, subscription_id, attempts, next_attempt_at,
         last_status_code, last_error, created_at, updated_at)
), dn AS (
  INSERT INTO {{schema}}.deliveries
    (id, org_id, event_id, event_type, subscription_id, state, attempts, next_attempt_at,
     last_status_code, last_error, created_at, updated_at)
  SELECT u.id, $1, $2, $3, u.subscription_id, 'pending', u.attempts,
         u.next_attempt_at, u.last_status_code, u.last_error, u.created_at, u.updated_at
  FROM u WHERE $18::bool AND EXISTS (SELECT 1 FROM e)
  RETURNING id, subscription_id, next_attempt_at, created_at
), dc AS (
  INSERT INTO {{schema}}.deliveries
    (id, org_id, event_id, event_type, subscription_id, state, attempts, next_attempt_at,
     last_status_code, last_error, created_at, updated_at)
  SELECT u.id, $1, $2, $3, u.subscription_id, 'pending', u.attempts,
         u.next_attempt_at, u.last_status_code, u.last_error, u.created_at, u.updated_at
  FROM u WHERE NOT ($18::bool AND EXISTS (SELECT 1 FROM e))
  ON CONFLICT DO NOTHING
  RETURNING id, subscription_id, next_attempt_at, created_at
), q AS (
  INSERT INTO {{schema}}.queue (delivery_id, subscription_id, next_attempt_at, created_at)
  SELECT id, subscription_id, next_attempt_at, created_at FROM dn
  UNION ALL
  SELECT id, subscription_id, next_attempt_at, created_at FROM dc
)
SELECT c.n, CASE WHEN c.n > 0 AND $17 THEN (SELECT 1 FROM pg_notify($15, $16)) END
FROM (SELECT (SELECT count(*) FROM dn) + (SELECT count(*) FROM dc) AS n) c`,

		getEvent: `SELECT ` + eventColumns + ` FROM {{schema}}.events e WHERE e.org_id = $1 AND e.id = $2`,

		listEvents: listEventsQueries(),

		// Prune decrements the counters of what it deletes (a delivery
		// made pending by a Redeliver racing the prune counted no more),
		// locking them in subscription order, and drops the hours of
		// attempts before the cutoff's hour ($3). It returns the IDs of
		// the pending deliveries it deleted (those of such a race), whose
		// queue rows its snapshot, taken before the Redeliver committed,
		// cannot see: Prune deletes them with the next statement.
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
  RETURNING d.id, d.subscription_id, d.state
), a AS (
  DELETE FROM {{schema}}.attempts a USING d WHERE a.delivery_id = d.id
), x AS (
  DELETE FROM {{schema}}.events e USING ev
  WHERE e.org_id = ev.org_id AND e.id = ev.id
  RETURNING 1
), n AS (
  SELECT d.subscription_id, count(*) FILTER (WHERE d.state = 'delivered') AS delivered,
         count(*) FILTER (WHERE d.state = 'dead') AS dead
  FROM d GROUP BY d.subscription_id
), lk AS (
  SELECT st.subscription_id FROM {{schema}}.stats st
  WHERE st.subscription_id IN (SELECT n.subscription_id FROM n) AND st.hour = '-infinity'
  ORDER BY st.subscription_id
  FOR UPDATE
), c AS (
  UPDATE {{schema}}.stats st SET delivered = st.delivered - n.delivered, dead = st.dead - n.dead
  FROM n
  WHERE st.subscription_id = n.subscription_id AND st.hour = '-infinity'
    AND st.subscription_id IN (SELECT lk.subscription_id FROM lk)
), h AS (
  DELETE FROM {{schema}}.stats st WHERE st.hour > '-infinity' AND st.hour < $3
)
SELECT (SELECT count(*) FROM x), coalesce((SELECT array_agg(d.id) FROM d WHERE d.state = 'pending'), '{}')`,

		pruneQueue: `DELETE FROM {{schema}}.queue WHERE delivery_id = ANY($1::text[])`,

		// Claim without a per-subscription cap: walk the queue's due index
		// in due order, skipping rows other claims hold locked, and lease
		// the first $3. $1 now, $2 leased until, $4 excluded subscriptions.
		claim: `WITH picked AS MATERIALIZED (
  SELECT q.ctid FROM {{schema}}.queue q
  WHERE q.next_attempt_at <= $1
    AND (q.leased_until IS NULL OR q.leased_until <= $1)
    AND q.subscription_id <> ALL($4::text[])
    AND ` + subscriptionActive + `
  ORDER BY q.next_attempt_at
  LIMIT $3
  FOR UPDATE OF q SKIP LOCKED
)` + claimUpdate,

		// Claim with a per-subscription cap ($5): read up to $6 due
		// candidates without locking, keep the first $5 of each
		// subscription and the first $3 overall, then lock those by the
		// queue's primary key, skipping rows that another claim holds and
		// re-checking (on the newest version of each row) that it is still
		// claimable.
		claimCapped: `WITH candidates AS (
  SELECT q.delivery_id AS id, q.subscription_id, q.next_attempt_at FROM {{schema}}.queue q
  WHERE q.next_attempt_at <= $1
    AND (q.leased_until IS NULL OR q.leased_until <= $1)
    AND q.subscription_id <> ALL($4::text[])
    AND ` + subscriptionActive + `
  ORDER BY q.next_attempt_at
  LIMIT $6
), ranked AS (
  SELECT id, next_attempt_at,
         row_number() OVER (PARTITION BY subscription_id ORDER BY next_attempt_at, id) AS rn
  FROM candidates
), chosen AS (
  SELECT id FROM ranked WHERE rn <= $5 ORDER BY next_attempt_at LIMIT $3
), picked AS MATERIALIZED (` + pickChosen + `)` + claimUpdate,

		// Claim by subscription, for a queue whose head is congested with
		// deliveries that cannot be taken (see Claim). pending_subs lists
		// the subscriptions with pending deliveries, one descent of the
		// queue's index by subscription each (a loose index scan); of
		// those Active and not excluded ($4), up to $5 due deliveries each
		// are read from the head of their own queue; the first $3 of those
		// in due order are locked as in claimCapped.
		claimBySubscription: `WITH RECURSIVE pending_subs AS (
  (SELECT q.subscription_id AS id FROM {{schema}}.queue q ORDER BY q.subscription_id LIMIT 1)
  UNION ALL
  SELECT (SELECT q.subscription_id FROM {{schema}}.queue q
          WHERE q.subscription_id > ps.id
          ORDER BY q.subscription_id LIMIT 1)
  FROM pending_subs ps WHERE ps.id IS NOT NULL
), heads AS (
  SELECT h.id, h.next_attempt_at
  FROM pending_subs ps
  JOIN {{schema}}.subscriptions s ON s.id = ps.id
  CROSS JOIN LATERAL (
    SELECT q.delivery_id AS id, q.next_attempt_at FROM {{schema}}.queue q
    WHERE q.subscription_id = ps.id AND q.next_attempt_at <= $1
      AND (q.leased_until IS NULL OR q.leased_until <= $1)
    ORDER BY q.next_attempt_at
    LIMIT $5
  ) h
  WHERE s.state = 'Active' AND s.max_concurrency = 0 AND s.rate_interval_us = 0 AND NOT s.ordered
    AND ps.id <> ALL($4::text[])
), chosen AS (
  SELECT id FROM heads ORDER BY next_attempt_at LIMIT $3
), picked AS MATERIALIZED (` + pickChosen + `)` + claimUpdate,

		// Finish applies a batch of outcomes in one statement. o: the
		// outcomes ($2 to $9). An outcome applies only while its lease is
		// held, which its queue row tells: a final one (delivered, dead)
		// deletes that row (qd), a retry or release moves its due time
		// and clears its lease (qu); only then is the delivery's row
		// updated (u), with columns no index holds, so that the update is
		// HOT. a: the attempts to log ($10 to $20), logged regardless, if
		// the delivery still exists (known without another index descent
		// for the deliveries it updated, and for an attempt that names its
		// subscription). k: the changes of the counters, per subscription
		// (that of the attempt, or of the delivery finished) and hour,
		// written by one upsert in (subscription, hour) order, so that
		// concurrent finishes lock the counters in the same order and
		// cannot deadlock; the aggregate reads u whole, hence after every
		// delivery is locked, before any counter is. It returns whether a
		// delivery became claimable (a release, or a retry already due),
		// to wake the other processes.
		finish: `WITH o AS (
  SELECT * FROM unnest($2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::bool[],
                       $7::int[], $8::int[], $9::text[])
    AS o(id, lease, state, next_attempt_at, counted, number, status_code, error)
), qd AS (
  DELETE FROM {{schema}}.queue q USING o
  WHERE q.delivery_id = o.id AND o.state IN ('delivered', 'dead')
    AND q.lease IS NOT NULL AND q.lease::text = o.lease
  RETURNING o.*
), qu AS (
  UPDATE {{schema}}.queue q SET
    next_attempt_at = coalesce(o.next_attempt_at, q.next_attempt_at),
    lease = NULL,
    leased_until = NULL
  FROM o
  WHERE q.delivery_id = o.id AND o.state IN ('', 'pending')
    AND q.lease IS NOT NULL AND q.lease::text = o.lease
  RETURNING o.*
), u AS (
  UPDATE {{schema}}.deliveries d SET
    state = CASE WHEN o.state = '' THEN d.state ELSE o.state END,
    next_attempt_at = CASE WHEN o.state IN ('', 'pending') AND o.next_attempt_at IS NOT NULL
                           THEN o.next_attempt_at ELSE d.next_attempt_at END,
    attempts = CASE WHEN o.counted THEN o.number ELSE d.attempts END,
    last_status_code = CASE WHEN o.counted THEN o.status_code ELSE d.last_status_code END,
    last_error = CASE WHEN o.counted THEN o.error ELSE d.last_error END,
    updated_at = $1
  FROM (SELECT * FROM qd UNION ALL SELECT * FROM qu) o
  WHERE d.id = o.id
  RETURNING d.id, d.subscription_id, d.state, d.next_attempt_at
), src AS MATERIALIZED (
  SELECT a.*, CASE WHEN a.subscription_id <> '' THEN a.subscription_id
                   ELSE coalesce((SELECT x.subscription_id FROM {{schema}}.deliveries x
                                  WHERE x.id = a.delivery_id), '') END AS sub
  FROM unnest($10::text[], $11::text[], $12::text[], $13::int[], $20::bool[], $14::timestamptz[],
              $15::bigint[], $16::int[], $17::bytea[], $18::text[], $19::text[]) WITH ORDINALITY
    AS a(delivery_id, event_id, subscription_id, number, manual, at, duration_ns, status_code,
         response_body, error, outcome, ord)
  WHERE a.delivery_id IN (SELECT u.id FROM u)
     OR EXISTS (SELECT 1 FROM {{schema}}.deliveries x WHERE x.id = a.delivery_id)
), a AS (
  INSERT INTO {{schema}}.attempts
    (delivery_id, event_id, subscription_id, number, manual, at, duration_ns, status_code,
     response_body, error, outcome)
  SELECT src.delivery_id, src.event_id, src.subscription_id, src.number, src.manual, src.at,
         src.duration_ns, src.status_code, src.response_body, src.error, src.outcome
  FROM src ORDER BY src.at, src.ord
), k AS (
  SELECT c.sub, c.hour, sum(c.attempts)::bigint AS attempts, sum(c.failures)::bigint AS failures,
         sum(c.delivered)::bigint AS delivered, sum(c.dead)::bigint AS dead, max(c.at) AS last_at,
         (array_agg(c.status_code ORDER BY c.at DESC NULLS LAST, c.ord DESC NULLS LAST))[1] AS last_status_code,
         (array_agg(c.error ORDER BY c.at DESC NULLS LAST, c.ord DESC NULLS LAST))[1] AS last_error
  FROM (
    SELECT u.subscription_id AS sub, '-infinity'::timestamptz AS hour, 0 AS attempts, 0 AS failures,
           (u.state = 'delivered')::int AS delivered, (u.state = 'dead')::int AS dead,
           NULL::timestamptz AS at, NULL::bigint AS ord, NULL::int AS status_code, NULL::text AS error
    FROM u WHERE u.state IN ('delivered', 'dead')
    UNION ALL
    SELECT src.sub, '-infinity', 0, 0, 0, 0, src.at, src.ord, src.status_code, src.error FROM src
    UNION ALL
    SELECT src.sub, ` + hourOf("src.at") + `, 1, (src.outcome <> 'delivered')::int, 0, 0,
           NULL, NULL, NULL, NULL
    FROM src
  ) c
  GROUP BY c.sub, c.hour
), w AS (
  INSERT INTO {{schema}}.stats AS st
    (subscription_id, hour, attempts, failures, delivered, dead, last_at, last_status_code, last_error)
  SELECT k.sub, k.hour, k.attempts, k.failures, k.delivered, k.dead, k.last_at,
         coalesce(k.last_status_code, 0), coalesce(k.last_error, '')
  FROM k ORDER BY k.sub, k.hour
  ON CONFLICT (subscription_id, hour) DO UPDATE SET
    attempts = st.attempts + excluded.attempts,
    failures = st.failures + excluded.failures,
    delivered = st.delivered + excluded.delivered,
    dead = st.dead + excluded.dead,
    last_at = CASE WHEN ` + newerLast + ` THEN excluded.last_at ELSE st.last_at END,
    last_status_code = CASE WHEN ` + newerLast + ` THEN excluded.last_status_code ELSE st.last_status_code END,
    last_error = CASE WHEN ` + newerLast + ` THEN excluded.last_error ELSE st.last_error END
), x AS (
  DELETE FROM {{schema}}.inflight i USING u WHERE i.delivery_id = u.id RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM u WHERE u.state = 'pending' AND u.next_attempt_at <= $1) OR EXISTS (SELECT 1 FROM x)`,

		// The least, over pending deliveries of Active subscriptions, of
		// the later of next_attempt_at and leased_until. a is the earliest
		// delivery not held past its due time; only deliveries due before
		// it can be due earlier, and those are held: the least of their
		// lease ends is the other candidate.
		nextDue: `WITH a AS (
  SELECT q.next_attempt_at AS t FROM {{schema}}.queue q
  WHERE ` + subscriptionActive + `
    AND (q.leased_until IS NULL OR q.leased_until <= q.next_attempt_at)
  ORDER BY q.next_attempt_at
  LIMIT 1
)
SELECT least((SELECT t FROM a), (
  SELECT min(q.leased_until) FROM {{schema}}.queue q
  WHERE ` + subscriptionActive + `
    AND q.leased_until > q.next_attempt_at
    AND q.next_attempt_at < coalesce((SELECT t FROM a), 'infinity')))`,

		getDelivery: `SELECT ` + deliveryColumns + ` FROM {{schema}}.deliveries d ` + withLease + `
WHERE d.id = $1 AND d.org_id = $2`,

		listDeliveries: listDeliveriesQueries(),

		// The delivery is locked first so that the state it leaves is the
		// one counted out of the counters, and it is given a queue row
		// again (q). A delivery whose subscription was deleted stays as it
		// is (ok is false).
		redeliver: `WITH cur AS (
  SELECT d.id, d.state, d.subscription_id FROM {{schema}}.deliveries d
  WHERE d.id = $1 AND d.org_id = $2
  FOR UPDATE
), sub AS (
  SELECT EXISTS (SELECT 1 FROM {{schema}}.subscriptions s, cur WHERE s.id = cur.subscription_id) AS ok
), u AS (
  UPDATE {{schema}}.deliveries d
  SET state = 'pending', next_attempt_at = $3, redelivered_at = $3, attempts_at_redelivery = d.attempts,
      updated_at = $3
  FROM cur, sub WHERE d.id = cur.id AND cur.state <> 'pending' AND sub.ok
  RETURNING d.id, d.subscription_id, d.created_at, cur.state AS old
), q AS (
  INSERT INTO {{schema}}.queue (delivery_id, subscription_id, next_attempt_at, created_at, redelivered_at)
  SELECT u.id, u.subscription_id, $3, u.created_at, $3 FROM u
  ON CONFLICT (delivery_id) DO UPDATE SET next_attempt_at = excluded.next_attempt_at, lease = NULL,
    leased_until = NULL, redelivered_at = excluded.redelivered_at
), c AS (
  UPDATE {{schema}}.stats st
  SET delivered = st.delivered - (u.old = 'delivered')::int, dead = st.dead - (u.old = 'dead')::int
  FROM u WHERE st.subscription_id = u.subscription_id AND st.hour = '-infinity'
)
SELECT cur.state, sub.ok, CASE WHEN EXISTS (SELECT 1 FROM u) THEN (SELECT 1 FROM pg_notify($4, $5)) END
FROM cur, sub`,

		// The attempts of the organization's delivery: none of another's.
		listAttempts: `SELECT delivery_id, event_id, subscription_id, number, manual, at, duration_ns, status_code,
  response_body, error, outcome
FROM {{schema}}.attempts
WHERE delivery_id = $1
  AND EXISTS (SELECT 1 FROM {{schema}}.deliveries d WHERE d.id = $1 AND d.org_id = $2)
ORDER BY seq`,

		deliveryExists: `SELECT EXISTS (SELECT 1 FROM {{schema}}.deliveries WHERE id = $1 AND org_id = $2)`,

		stats: map[bool]string{
			false: statsQuery(`SELECT s.id FROM {{schema}}.subscriptions s WHERE s.org_id = $1`),
			true:  statsQuery(`SELECT s.id FROM {{schema}}.subscriptions s WHERE s.id = $2 AND s.org_id = $1`),
		},
	}
	for _, p := range []*string{
		&q.createSubscription, &q.getSubscription, &q.getSubscriptionByNumber, &q.getSubscriptions, &q.updateSubscription,
		&q.deleteSubscription, &q.listSubscriptions, &q.matchSubscriptions, &q.setState,
		&q.healthOK, &q.healthFailed, &q.enqueue, &q.getEvent, &q.prune, &q.pruneQueue,
		&q.claim, &q.claimCapped, &q.claimBySubscription, &q.finish, &q.nextDue, &q.getDelivery,
		&q.redeliver, &q.listAttempts, &q.deliveryExists,
	} {
		*p = r.Replace(*p)
	}
	for _, m := range []map[listShape]string{q.listEvents, q.listDeliveries} {
		for k, v := range m {
			m[k] = r.Replace(v)
		}
	}
	for k, v := range q.stats {
		q.stats[k] = r.Replace(v)
	}
	return q
}

// hourOf is the SQL of the hour (UTC) of the timestamptz expression t,
// whatever the session's time zone.
func hourOf(t string) string {
	return `(date_trunc('hour', ` + t + ` AT TIME ZONE 'UTC') AT TIME ZONE 'UTC')`
}

// newerLast tells whether the latest attempt of an upserted counter row
// replaces the stored one: made at or after it (the one logged last wins
// a tie).
const newerLast = `(excluded.last_at IS NOT NULL AND (st.last_at IS NULL OR excluded.last_at >= st.last_at))`

// The leads of the listings' statements: what the index walk starts from.
const (
	leadOrganization = ""
	leadSubscription = "subscription"
	leadEventType    = "type"
	leadEvent        = "event"
)

// listEventsQueries returns the statements of ListEvents: $1 organization,
// $2 cursor (the last ID of the previous page), $3 and $4 the time range,
// $5 the limit, $6 the type. Each walks an index in its order, the
// primary key or (org_id, type, id), and stops at the limit.
func listEventsQueries() map[listShape]string {
	m := map[listShape]string{}
	for _, lead := range []string{leadOrganization, leadEventType} {
		for _, desc := range []bool{false, true} {
			for _, after := range []bool{false, true} {
				where := `e.org_id = $1 AND ($2::text IS NOT NULL) AND ($6::text IS NOT NULL)`
				if lead == leadEventType {
					where = `e.org_id = $1 AND e.type = $6 AND ($2::text IS NOT NULL)`
				}
				if after {
					where += ` AND e.id ` + cmpAfter(desc) + ` $2`
				}
				m[listShape{lead, desc, after}] = `SELECT ` + eventColumns + ` FROM {{schema}}.events e
WHERE ` + where + `
  AND ($3::timestamptz IS NULL OR e.ts >= $3) AND ($4::timestamptz IS NULL OR e.ts < $4)
ORDER BY e.id` + direction(desc) + ` LIMIT $5`
			}
		}
	}
	return m
}

// listDeliveriesQueries returns the statements of ListDeliveries: $1
// organization, $2 cursor, $3 state, $4 and $5 the creation time range,
// $6 the limit, $7 subscription, $8 event, $9 event type (each empty
// for any).
// The lead is the filter that chooses the index walked: the event's
// deliveries (a fan-out: read whole, then sorted), or in ID order those of
// the subscription, of the event type in the organization, or of the
// organization; the other filters are checked along the walk.
func listDeliveriesQueries() map[listShape]string {
	m := map[listShape]string{}
	for _, lead := range []string{leadOrganization, leadSubscription, leadEventType, leadEvent} {
		for _, desc := range []bool{false, true} {
			for _, after := range []bool{false, true} {
				cursor := `($2::text IS NOT NULL)`
				if after {
					cursor = `d.id ` + cmpAfter(desc) + ` $2`
				}
				filters := `
  AND ($3 = '' OR d.state = $3)
  AND ($4::timestamptz IS NULL OR d.created_at >= $4)
  AND ($5::timestamptz IS NULL OR d.created_at < $5)
  AND ($7 = '' OR d.subscription_id = $7)
  AND ($8 = '' OR d.event_id = $8)
  AND ($9 = '' OR d.event_type = $9)`
				var sql string
				switch lead {
				case leadEvent:
					// Materialized: the planner must not walk the
					// organization's deliveries in ID order instead.
					sql = `WITH ev AS MATERIALIZED (
  SELECT ` + deliveryColumns + ` FROM {{schema}}.deliveries d ` + withLease + `
  WHERE d.event_id = $8 AND d.org_id = $1
)
SELECT * FROM ev d WHERE ` + cursor + filters + `
ORDER BY d.id` + direction(desc) + ` LIMIT $6`
				default:
					where := map[string]string{
						leadOrganization: `d.org_id = $1`,
						leadSubscription: `d.org_id = $1 AND d.subscription_id = $7`,
						leadEventType:    `d.org_id = $1 AND d.event_type = $9`,
					}[lead]
					sql = `SELECT ` + deliveryColumns + ` FROM {{schema}}.deliveries d ` + withLease + `
WHERE ` + where + ` AND ` + cursor + filters + `
ORDER BY d.id` + direction(desc) + ` LIMIT $6`
				}
				m[listShape{lead, desc, after}] = sql
			}
		}
	}
	return m
}

func cmpAfter(desc bool) string {
	if desc {
		return "<"
	}
	return ">"
}

func direction(desc bool) string {
	if desc {
		return " DESC"
	}
	return ""
}

// statsQuery returns the statement of Stats over the subscriptions that
// subs selects ($1 organization, $2 subscription): whether there is any,
// the pending deliveries' count and the earliest time since which one
// waits (an index-only scan of each subscription's part of the queue's
// index by subscription: an aggregate per subscription, so that no plan
// reads the whole queue instead), the totals rows, and the hours at or after $3.
func statsQuery(subs string) string {
	return `WITH s AS MATERIALIZED (` + subs + ` AND ($2::text IS NOT NULL)),
p AS (
  SELECT coalesce(sum(x.n), 0)::bigint AS n, min(x.oldest) AS oldest
  FROM s CROSS JOIN LATERAL (
    SELECT count(*) AS n, min(coalesce(q.redelivered_at, q.created_at)) AS oldest
    FROM {{schema}}.queue q WHERE q.subscription_id = s.id
  ) x
), t AS (
  SELECT coalesce(sum(st.delivered), 0)::bigint AS delivered, coalesce(sum(st.dead), 0)::bigint AS dead,
         max(st.last_at) AS last_at,
         (array_agg(st.last_status_code ORDER BY st.last_at DESC NULLS LAST))[1] AS last_status_code,
         (array_agg(st.last_error ORDER BY st.last_at DESC NULLS LAST))[1] AS last_error
  FROM s JOIN {{schema}}.stats st ON st.subscription_id = s.id AND st.hour = '-infinity'
), h AS (
  SELECT coalesce(sum(st.attempts), 0)::bigint AS attempts, coalesce(sum(st.failures), 0)::bigint AS failures
  FROM s JOIN {{schema}}.stats st ON st.subscription_id = s.id AND st.hour >= $3 AND st.hour > '-infinity'
)
SELECT (SELECT count(*) FROM s), p.n, p.oldest, t.delivered, t.dead, t.last_at,
       coalesce(t.last_status_code, 0), coalesce(t.last_error, ''), h.attempts, h.failures
FROM p, t, h`
}

// subscriptionActive tells whether the subscription of queue row q is
// Active and not capped. A scalar subquery rather than a join: the planner
// then always walks the due index in due order and stops at the limit,
// whatever its statistics say about the subscriptions.
const subscriptionActive = `(SELECT s.state = 'Active' AND s.max_concurrency = 0 AND s.rate_interval_us = 0 AND NOT s.ordered FROM {{schema}}.subscriptions s WHERE s.id = q.subscription_id)`

const subscriptionColumns = `id, org_id, state, events, consecutive_failures, created_at, updated_at, version, doc, number`

const eventColumns = `e.org_id, e.id, e.type, e.ts, e.ts_offset, e.data, e.traceparent, e.tracestate`

// deliveryColumns are the columns of a delivery d, its lease read from its
// queue row q (NULL when it has none: it is not pending).
const deliveryColumns = `d.id, d.org_id, d.event_id, d.event_type, d.subscription_id, d.state, d.attempts,
  d.next_attempt_at, d.last_status_code, d.last_error, d.redelivered_at, d.attempts_at_redelivery,
  d.created_at, d.updated_at, q.lease::text, q.leased_until`

// withLease joins the queue row q of delivery d, for deliveryColumns.
const withLease = `LEFT JOIN {{schema}}.queue q ON q.delivery_id = d.id`

// pickChosen locks the queue rows of the deliveries chosen (by their IDs)
// through the queue's primary key, skipping rows that another claim holds
// and re-checking, on the newest version of each, that it is still due
// and not validly leased at $1.
const pickChosen = `
  SELECT q.ctid FROM {{schema}}.queue q
  WHERE q.delivery_id = ANY (ARRAY(SELECT id FROM chosen))
    AND q.next_attempt_at <= $1 AND (q.leased_until IS NULL OR q.leased_until <= $1)
  FOR UPDATE SKIP LOCKED
`

// claimUpdate leases the picked queue rows and returns their deliveries
// with their events and the version of their subscriptions ($2: leased
// until). The picked rows are one array of their physical addresses
// (ctid), which the update reaches with a TID scan: no second descent of
// the primary key, and no join order for the planner to get wrong. The
// addresses are those of the versions picked locked, so they cannot move
// before the update. Neither lease column is indexed: the update is HOT.
// The delivery's own row is read, not written.
const claimUpdate = `
UPDATE {{schema}}.queue q
SET lease = gen_random_uuid(), leased_until = $2
FROM {{schema}}.deliveries d, {{schema}}.events e, {{schema}}.subscriptions s
WHERE q.ctid = ANY (ARRAY(SELECT ctid FROM picked))
  AND d.id = q.delivery_id AND e.org_id = d.org_id AND e.id = d.event_id AND s.id = q.subscription_id
RETURNING ` + deliveryColumns + `, ` + eventColumns + `, s.version`
