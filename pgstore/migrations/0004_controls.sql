-- Observability and per-subscription delivery controls.

-- The host's trace context when the event was dispatched (W3C
-- traceparent and tracestate, '' when none), handed back with every
-- attempt so that an attempt hours later, in another process, still links
-- to the dispatch.
ALTER TABLE {{schema}}.events
    ADD COLUMN traceparent text NOT NULL DEFAULT '',
    ADD COLUMN tracestate  text NOT NULL DEFAULT '';

-- The subscription's payload filter (webhook.Subscription.Filter), kept in
-- its document and read with the match, so that Dispatch learns every
-- matched subscription's filter in the one index probe it makes. A column
-- generated from the document: no write names it.
ALTER TABLE {{schema}}.subscriptions
    ADD COLUMN filter json GENERATED ALWAYS AS (doc -> 'filter') STORED;

-- Subscription.MaxConcurrency: the most deliveries of the subscription
-- leased at once, across every store on the schema. Generated from the
-- document; 0 when unset. The claims of the queue leave out capped
-- subscriptions, which are claimed apart (see Claim), under an advisory
-- lock per subscription, counting their leases in inflight.
ALTER TABLE {{schema}}.subscriptions
    ADD COLUMN max_concurrency integer GENERATED ALWAYS AS (coalesce((doc ->> 'max_concurrency')::integer, 0)) STORED;
-- Subscription.RateLimit, as the interval between two requests in
-- microseconds (0 when unlimited), and the earliest time of each limited
-- subscription's next request (tat, its theoretical arrival time).
ALTER TABLE {{schema}}.subscriptions
    ADD COLUMN rate_interval_us bigint GENERATED ALWAYS AS (coalesce((doc ->> 'rate_interval_us')::bigint, 0)) STORED;
-- Subscription.Ordered.
ALTER TABLE {{schema}}.subscriptions
    ADD COLUMN ordered boolean GENERATED ALWAYS AS (coalesce((doc ->> 'ordered')::boolean, false)) STORED;
CREATE INDEX subscriptions_capped_idx ON {{schema}}.subscriptions (id)
    WHERE max_concurrency > 0 OR rate_interval_us > 0 OR ordered;
CREATE TABLE {{schema}}.ratelimits (
    subscription_id text COLLATE "C" PRIMARY KEY,
    tat             timestamptz      NOT NULL
);

-- The leases held on deliveries of capped subscriptions: written by their
-- claim, deleted by Finish; a row whose lease has expired no longer counts
-- and is replaced when the delivery is claimed again. Not a part of the
-- delivery's row, so that claims of other subscriptions stay HOT updates.
CREATE TABLE {{schema}}.inflight (
    delivery_id     text COLLATE "C" PRIMARY KEY,
    subscription_id text COLLATE "C" NOT NULL,
    leased_until    timestamptz      NOT NULL
);
CREATE INDEX inflight_subscription_idx ON {{schema}}.inflight (subscription_id, leased_until);
