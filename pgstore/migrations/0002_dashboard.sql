-- Tenancy and the dashboard's reads: the event type and the redelivery of
-- each delivery, the manual flag of attempts, the indexes of the new
-- listing filters, and the counters that Stats reads.

-- The event's type is stored with each delivery, from the event Enqueue
-- stores with it (no extra array: one parameter for the whole call), so
-- that listings show it and filter by it without a join. redelivered_at
-- and attempts_at_redelivery are set by Redeliver (which keeps attempts).
ALTER TABLE {{schema}}.deliveries
    ADD COLUMN event_type             text COLLATE "C" NOT NULL DEFAULT '',
    ADD COLUMN redelivered_at         timestamptz,
    ADD COLUMN attempts_at_redelivery integer          NOT NULL DEFAULT 0;
UPDATE {{schema}}.deliveries d SET event_type = e.type
FROM {{schema}}.events e
WHERE e.org_id = d.org_id AND e.id = d.event_id;
-- Every insert names it from now on.
ALTER TABLE {{schema}}.deliveries ALTER COLUMN event_type DROP DEFAULT;

ALTER TABLE {{schema}}.attempts ADD COLUMN manual boolean NOT NULL DEFAULT false;

-- ListDeliveries is by organization: in ID order (either way), of the
-- organization, of one of its subscriptions, or of one event type. Every
-- index leads with the organization, so that the one of the listing's
-- filter is also the one the planner finds cheapest. The index by
-- subscription replaces the one without the organization. (By event, a
-- listing reads the unique index on (event_id, subscription_id).)
CREATE INDEX deliveries_org_id_idx ON {{schema}}.deliveries (org_id, id);
DROP INDEX {{schema}}.deliveries_subscription_id_idx;
CREATE INDEX deliveries_org_subscription_idx ON {{schema}}.deliveries (org_id, subscription_id, id);
CREATE INDEX deliveries_org_event_type_idx ON {{schema}}.deliveries (org_id, event_type, id);

-- The pending deliveries by subscription also carry what Stats needs of
-- them: it counts a subscription's pending deliveries and finds the one
-- that has waited longest by an index-only scan of its part of this index,
-- whose cost is bounded by the subscription's backlog, not by the
-- deliveries kept. Replaced rather than added beside: an enqueue updates
-- no more indexes for it. (created_at never changes, redelivered_at only
-- when state does, so a claim stays a HOT update.)
DROP INDEX {{schema}}.deliveries_pending_subscription_idx;
CREATE INDEX deliveries_pending_subscription_idx ON {{schema}}.deliveries (subscription_id, next_attempt_at)
    INCLUDE (created_at, redelivered_at) WHERE state = 'pending';

-- ListEvents by type.
CREATE INDEX events_org_type_idx ON {{schema}}.events (org_id, type, id);

-- The counters of Stats, per subscription: one row per hour (UTC) in which
-- attempts were logged (attempts, and failures: those whose outcome was
-- not delivered), and a row at hour -infinity with the totals (delivered
-- and dead deliveries kept, and the attempt with the greatest at ever
-- logged). Finish writes them, Redeliver and Prune adjust them,
-- DeleteSubscription drops them; Enqueue never touches them, so that an
-- enqueue (in a host's transaction that may stay open long) takes no lock
-- another transaction could wait on. Every writer locks the rows it
-- changes in (subscription_id, hour) order, so that concurrent writers
-- cannot deadlock. Pending counts come from the pending index instead.
CREATE TABLE {{schema}}.stats (
    subscription_id  text COLLATE "C" NOT NULL,
    hour             timestamptz      NOT NULL,
    attempts         bigint           NOT NULL DEFAULT 0,
    failures         bigint           NOT NULL DEFAULT 0,
    delivered        bigint           NOT NULL DEFAULT 0,
    dead             bigint           NOT NULL DEFAULT 0,
    last_at          timestamptz,
    last_status_code integer          NOT NULL DEFAULT 0,
    last_error       text             NOT NULL DEFAULT '',
    PRIMARY KEY (subscription_id, hour)
) WITH (
    -- A few rows, each updated by every finish of its subscription: room
    -- for HOT updates, and vacuum soon.
    fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 1000
);
-- Prune drops the hours before its cutoff. (Partial: the totals rows are
-- reached by the primary key only.)
CREATE INDEX stats_hour_idx ON {{schema}}.stats (hour) WHERE hour > '-infinity';

-- The counters of what is stored already.
INSERT INTO {{schema}}.stats (subscription_id, hour, delivered, dead, last_at, last_status_code, last_error)
SELECT s.id, '-infinity', coalesce(c.delivered, 0), coalesce(c.dead, 0),
       l.at, coalesce(l.status_code, 0), coalesce(l.error, '')
FROM {{schema}}.subscriptions s
LEFT JOIN (
    SELECT subscription_id,
           count(*) FILTER (WHERE state = 'delivered') AS delivered,
           count(*) FILTER (WHERE state = 'dead') AS dead
    FROM {{schema}}.deliveries GROUP BY subscription_id
) c ON c.subscription_id = s.id
LEFT JOIN (
    SELECT DISTINCT ON (subscription_id) subscription_id, at, status_code, error
    FROM {{schema}}.attempts ORDER BY subscription_id, at DESC, seq DESC
) l ON l.subscription_id = s.id;
INSERT INTO {{schema}}.stats (subscription_id, hour, attempts, failures)
SELECT a.subscription_id, date_trunc('hour', a.at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
       count(*), count(*) FILTER (WHERE a.outcome <> 'delivered')
FROM {{schema}}.attempts a
WHERE EXISTS (SELECT 1 FROM {{schema}}.subscriptions s WHERE s.id = a.subscription_id)
GROUP BY 1, 2;
