package pgstore

import (
	"context"
	"hash/fnv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	webhook "github.com/relayhook/webhook"
)

// Subscriptions with a MaxConcurrency, a RateLimit or Ordered (capped
// subscriptions; an Ordered one has a cap of 1, and only its oldest
// pending delivery by ID may be claimed) are left out
// of the queue's claims and NextDue's walk, and claimed apart, before the
// others, in a transaction of three statements: the first takes an
// advisory lock per capped subscription with due work (skipping those
// another claim holds), so that two claims never count one subscription's
// leases at once; the second, with a snapshot taken once the locks are
// held, counts each one's valid leases in inflight and leases up to its
// room; the third records those leases in inflight. Finish deletes them.
// Whether any capped subscription exists is known without a query for
// up to cappedRecheck: a subscription capped by another store is claimed
// by this one after that delay at most (by none in the meantime).

// cappedRecheck is how long the knowledge that no capped subscription
// exists is trusted.
const cappedRecheck = time.Second

// cappedState caches whether capped subscriptions exist.
type cappedState struct {
	exist   atomic.Bool
	checked atomic.Int64 // Unix nanoseconds of the last check
	noted   atomic.Int64 // counts noteCapped calls
}

// noteCapped records that a subscription with a cap was written here. It
// is called once the write has committed: a cappedExist whose query began
// before the commit, and so did not see it, then sees the count change
// (or its stale answer is overwritten by this one).
func (s *Store) noteCapped(sub *webhook.Subscription) {
	if sub.MaxConcurrency > 0 || sub.RateLimit != nil || sub.Ordered {
		s.capped.noted.Add(1)
		s.capped.exist.Store(true)
	}
}

// cappedExist reports whether capped subscriptions may exist.
func (s *Store) cappedExist(ctx context.Context) (bool, error) {
	now := time.Now().UnixNano()
	if now-s.capped.checked.Load() < int64(cappedRecheck) {
		return s.capped.exist.Load(), nil
	}
	noted := s.capped.noted.Load()
	var exist bool
	if err := s.pool.QueryRow(ctx, s.replace(cappedExistQuery)).Scan(&exist); err != nil {
		return false, dbError("claim", err)
	}
	// A capped subscription written here while the query ran may not
	// have been committed in time for it to see.
	exist = exist || s.capped.noted.Load() != noted
	s.capped.exist.Store(exist)
	if s.capped.noted.Load() != noted {
		// One noted between the check and the store above, whose true
		// the store may have overwritten.
		exist = true
		s.capped.exist.Store(true)
	}
	s.capped.checked.Store(now)
	return exist, nil
}

const cappedExistQuery = `SELECT EXISTS (SELECT 1 FROM {{schema}}.subscriptions WHERE max_concurrency > 0 OR rate_interval_us > 0 OR ordered)`

// cappedDueQuery tells, without a transaction, whether any capped
// subscription not in $2 has a due delivery not validly leased at $1:
// when none has, a claim spares the transaction of the capped path.
const cappedDueQuery = `SELECT EXISTS (SELECT 1 FROM {{schema}}.subscriptions s
WHERE (s.max_concurrency > 0 OR s.rate_interval_us > 0 OR s.ordered) AND s.state = 'Active' AND s.id <> ALL($2::text[])
  AND EXISTS (SELECT 1 FROM {{schema}}.queue q
              WHERE q.subscription_id = s.id AND q.next_attempt_at <= $1
                AND (q.leased_until IS NULL OR q.leased_until <= $1)))`

// cappedLockQuery locks (for the transaction) up to $4 capped Active
// subscriptions, not in $2, that have a due delivery not validly leased
// at $1; $3 keys the locks to the schema.
const cappedLockQuery = `SELECT s.id, CASE WHEN s.ordered THEN 1 ELSE s.max_concurrency END, s.rate_interval_us, s.ordered
FROM {{schema}}.subscriptions s
WHERE (s.max_concurrency > 0 OR s.rate_interval_us > 0 OR s.ordered) AND s.state = 'Active' AND s.id <> ALL($2::text[])
  AND EXISTS (SELECT 1 FROM {{schema}}.queue q
              WHERE q.subscription_id = s.id AND q.next_attempt_at <= $1
                AND (q.leased_until IS NULL OR q.leased_until <= $1))
  AND pg_try_advisory_xact_lock($3::int, hashtext(s.id))
LIMIT $4`

// cappedClaimQuery leases, for each locked subscription ($5, caps $6),
// up to its cap less its valid leases at $1 (and at most $4 per
// subscription), of its due deliveries, the first $3 in due order.
const cappedClaimQuery = `WITH room AS (
  SELECT c.id, least(CASE WHEN c.m > 0 THEN c.m - (SELECT count(*) FROM {{schema}}.inflight i
                                                   WHERE i.subscription_id = c.id AND i.leased_until > $1)
                          ELSE $4 END,
                     CASE WHEN c.iv = 0 THEN $4
                          WHEN coalesce((SELECT r.tat FROM {{schema}}.ratelimits r WHERE r.subscription_id = c.id),
                                        '-infinity') <= $1 THEN 1
                          ELSE 0 END,
                     $4) AS n, c.ord
  FROM unnest($5::text[], $6::int[], $7::bigint[], $8::bool[]) AS c(id, m, iv, ord)
), heads AS (
  SELECT h.id, h.next_attempt_at FROM room r
  CROSS JOIN LATERAL (
    SELECT q.delivery_id AS id, q.next_attempt_at FROM {{schema}}.queue q
    WHERE NOT r.ord AND q.subscription_id = r.id AND q.next_attempt_at <= $1
      AND (q.leased_until IS NULL OR q.leased_until <= $1)
    ORDER BY q.next_attempt_at
    LIMIT greatest(r.n, 0)
  ) h
  UNION ALL
  SELECT h.id, h.next_attempt_at FROM room r
  CROSS JOIN LATERAL (
    SELECT q.delivery_id AS id, q.next_attempt_at, q.leased_until FROM {{schema}}.queue q
    WHERE r.ord AND r.n > 0 AND q.subscription_id = r.id
    ORDER BY q.delivery_id
    LIMIT 1
  ) h
  WHERE h.next_attempt_at <= $1 AND (h.leased_until IS NULL OR h.leased_until <= $1)
), chosen AS (
  SELECT id FROM heads ORDER BY next_attempt_at LIMIT $3
), picked AS MATERIALIZED (` + pickChosen + `)` + claimUpdate

// cappedRecordQuery records the leases of capped subscriptions' claimed
// deliveries ($1, $2 with their caps $4) and moves the next request time
// of rate-limited ones ($5: their intervals in microseconds) past now
// ($6).
const cappedRecordQuery = `WITH x AS (
  SELECT * FROM unnest($1::text[], $2::text[], $4::int[], $5::bigint[]) AS x(d, s, m, iv)
), l AS (
  INSERT INTO {{schema}}.inflight (delivery_id, subscription_id, leased_until)
  SELECT x.d, x.s, $3 FROM x WHERE x.m > 0
  ON CONFLICT (delivery_id) DO UPDATE SET leased_until = excluded.leased_until, subscription_id = excluded.subscription_id
), k AS (
  SELECT x.s, max(x.iv) AS iv, count(*) AS n FROM x WHERE x.iv > 0 GROUP BY x.s
)
INSERT INTO {{schema}}.ratelimits AS r (subscription_id, tat)
SELECT k.s, $6::timestamptz + k.n * k.iv * interval '1 microsecond' FROM k
ON CONFLICT (subscription_id) DO UPDATE
  SET tat = greatest(r.tat, $6::timestamptz) + (excluded.tat - $6::timestamptz)`

// cappedNextDueQuery is the part of NextDue for capped and rate-limited
// subscriptions with pending deliveries: for each, the earliest time one
// of them is due and unleased, or its next request time if later (t),
// unless its valid leases at t fill its cap, in which case the earliest
// end of those leases.
const cappedNextDueQuery = `WITH capped AS (
  SELECT s.id, CASE WHEN s.ordered THEN 1 ELSE s.max_concurrency END AS m, s.ordered,
         coalesce((SELECT r.tat FROM {{schema}}.ratelimits r WHERE r.subscription_id = s.id), '-infinity') AS tat,
         (SELECT q.next_attempt_at FROM {{schema}}.queue q
          WHERE NOT s.ordered AND q.subscription_id = s.id
            AND (q.leased_until IS NULL OR q.leased_until <= q.next_attempt_at)
          ORDER BY q.next_attempt_at LIMIT 1) AS a,
         (SELECT greatest(q.next_attempt_at, coalesce(q.leased_until, '-infinity')) FROM {{schema}}.queue q
          WHERE s.ordered AND q.subscription_id = s.id
          ORDER BY q.delivery_id LIMIT 1) AS o
  FROM {{schema}}.subscriptions s
  WHERE (s.max_concurrency > 0 OR s.rate_interval_us > 0 OR s.ordered) AND s.state = 'Active'
), cand AS (
  SELECT c.id, c.m, greatest(c.tat, w.t) AS t
  FROM capped c
  CROSS JOIN LATERAL (
    SELECT CASE WHEN c.ordered THEN c.o
                ELSE least(c.a, (SELECT min(q.leased_until) FROM {{schema}}.queue q
                                 WHERE q.subscription_id = c.id
                                   AND q.leased_until > q.next_attempt_at
                                   AND q.next_attempt_at < coalesce(c.a, 'infinity'))) END AS t
  ) w
  WHERE w.t IS NOT NULL
)
SELECT min(CASE WHEN cand.m = 0 OR (SELECT count(*) FROM {{schema}}.inflight i
                      WHERE i.subscription_id = cand.id AND i.leased_until > cand.t) < cand.m
                THEN cand.t
                ELSE (SELECT min(i.leased_until) FROM {{schema}}.inflight i
                      WHERE i.subscription_id = cand.id AND i.leased_until > cand.t) END)
FROM cand WHERE cand.t IS NOT NULL`

// replace puts the schema in a query.
func (s *Store) replace(q string) string {
	return strings.ReplaceAll(q, "{{schema}}", pgx.Identifier{s.schema}.Sanitize())
}

// cappedLockKey keys the advisory locks of capped claims to the schema.
func cappedLockKey(schema string) int32 {
	h := fnv.New32a()
	h.Write([]byte("relayhook capped claim " + schema))
	return int32(h.Sum32())
}

// claimCapped claims deliveries of capped subscriptions into c, up to
// p.Limit.
func (s *Store) claimCapped(ctx context.Context, p webhook.ClaimParams, exclude []string, until time.Time, c *claimResult) error {
	exist, err := s.cappedExist(ctx)
	if err != nil || !exist {
		return err
	}
	var due bool
	if err := s.pool.QueryRow(ctx, s.replace(cappedDueQuery), p.Now, exclude).Scan(&due); err != nil {
		return dbError("claim", err)
	}
	if !due {
		return nil
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		return dbError("claim", err)
	}
	defer tx.Rollback(ctx) //nolint:errcheck // a no-op after Commit
	if _, err := tx.Exec(ctx, queueSettings); err != nil {
		return dbError("claim", err)
	}
	rows, err := tx.Query(ctx, s.replace(cappedLockQuery), p.Now, exclude, cappedLockKey(s.schema), p.Limit)
	if err != nil {
		return dbError("claim", err)
	}
	var (
		ids       []string
		caps      []int32
		intervals []int64
		ordered   []bool
	)
	for rows.Next() {
		var (
			id  string
			m   int32
			iv  int64
			ord bool
		)
		if err := rows.Scan(&id, &m, &iv, &ord); err != nil {
			rows.Close()
			return dbError("claim", err)
		}
		ids, caps, intervals, ordered = append(ids, id), append(caps, m), append(intervals, iv), append(ordered, ord)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return dbError("claim", err)
	}
	if len(ids) == 0 {
		return tx.Commit(ctx)
	}
	perSub := p.MaxPerSubscription
	if perSub == 0 {
		perSub = p.Limit
	}
	before := len(c.out)
	rows, err = tx.Query(ctx, s.replace(cappedClaimQuery), p.Now, until, p.Limit, perSub, ids, caps, intervals, ordered)
	if err != nil {
		return dbError("claim", err)
	}
	err = c.scan(rows)
	rows.Close()
	if err != nil {
		return dbError("claim", err)
	}
	if n := len(c.out) - before; n > 0 {
		at := make(map[string]int, len(ids))
		for i, id := range ids {
			at[id] = i
		}
		dids, sids := make([]string, n), make([]string, n)
		ms, ivs := make([]int32, n), make([]int64, n)
		for i, d := range c.out[before:] {
			j := at[d.SubscriptionID]
			dids[i], sids[i], ms[i], ivs[i] = d.ID, d.SubscriptionID, caps[j], intervals[j]
		}
		if _, err := tx.Exec(ctx, s.replace(cappedRecordQuery), dids, sids, until, ms, ivs, p.Now); err != nil {
			return dbError("claim", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		c.out = c.out[:before]
		return dbError("claim", err)
	}
	return nil
}

// cappedNextDue is NextDue's part for capped subscriptions.
func (s *Store) cappedNextDue(ctx context.Context) (time.Time, bool, error) {
	exist, err := s.cappedExist(ctx)
	if err != nil || !exist {
		return time.Time{}, false, err
	}
	var t pgtype.Timestamptz
	if err := s.pool.QueryRow(ctx, s.replace(cappedNextDueQuery)).Scan(&t); err != nil {
		return time.Time{}, false, dbError("next due", err)
	}
	if !t.Valid {
		return time.Time{}, false, nil
	}
	return t.Time.UTC(), true, nil
}

// pruneControlsQuery deletes the leases recorded for capped subscriptions
// that ended before $1 (a delivery deleted with its subscription while
// leased, or whose lease expired and was not claimed again), and the next
// request times of subscriptions that no longer exist or passed before $1.
const pruneControlsQuery = `WITH l AS (
  DELETE FROM {{schema}}.inflight WHERE leased_until < $1
)
DELETE FROM {{schema}}.ratelimits r
WHERE r.tat < $1 OR NOT EXISTS (SELECT 1 FROM {{schema}}.subscriptions s WHERE s.id = r.subscription_id)`

// pruneControls is Prune's part for the delivery controls' own tables.
func (s *Store) pruneControls(ctx context.Context, before time.Time) error {
	if _, err := s.pool.Exec(ctx, s.replace(pruneControlsQuery), before); err != nil {
		return dbError("prune", err)
	}
	return nil
}
