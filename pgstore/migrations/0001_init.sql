-- Identifiers are compared byte by byte (COLLATE "C") whatever the
-- database's collation: listings sort by ID as Go compares strings, and
-- index comparisons skip the locale.

-- Subscriptions. The fields the store queries are columns; the rest of the
-- subscription is one JSON document. match_keys holds "org|pattern" for each
-- event pattern, so that MatchSubscriptions is one GIN index probe whatever
-- the number of tenants. version changes with every write, so a decoded
-- subscription can be cached by (id, version).
CREATE TABLE {{schema}}.subscriptions (
    id                   text COLLATE "C"   PRIMARY KEY,
    org_id               text COLLATE "C"   NOT NULL,
    state                text COLLATE "C"   NOT NULL,
    events               text[] COLLATE "C",
    match_keys           text[] COLLATE "C",
    consecutive_failures integer            NOT NULL DEFAULT 0,
    created_at           timestamptz        NOT NULL,
    updated_at           timestamptz        NOT NULL,
    version              bigint             NOT NULL DEFAULT 1,
    doc                  json               NOT NULL
);
CREATE INDEX subscriptions_org_id_idx ON {{schema}}.subscriptions (org_id, id);
CREATE INDEX subscriptions_match_keys_idx ON {{schema}}.subscriptions USING gin (match_keys);

-- Events, stored once however many deliveries they have. ts_offset is the
-- zone offset of the event's timestamp in seconds east of UTC; data is the
-- payload byte for byte (NULL for an empty payload).
CREATE TABLE {{schema}}.events (
    org_id    text COLLATE "C" NOT NULL,
    id        text COLLATE "C" NOT NULL,
    type      text COLLATE "C" NOT NULL,
    ts        timestamptz      NOT NULL,
    ts_offset integer          NOT NULL,
    data      bytea,
    PRIMARY KEY (org_id, id)
);
CREATE INDEX events_ts_idx ON {{schema}}.events (ts);

-- The delivery queue. A claim sets lease and leased_until only, neither of
-- them indexed, so that it is a HOT update; fillfactor leaves room for it:
-- half of each page, since a whole page of deliveries is claimed within
-- moments of being enqueued, before pruning can reclaim anything (at 80,
-- a third of the claims found no room and updated every index).
CREATE TABLE {{schema}}.deliveries (
    id               text COLLATE "C" PRIMARY KEY,
    org_id           text COLLATE "C" NOT NULL,
    event_id         text COLLATE "C" NOT NULL,
    subscription_id  text COLLATE "C" NOT NULL,
    state            text COLLATE "C" NOT NULL CHECK (state IN ('pending', 'delivered', 'dead')),
    attempts         integer          NOT NULL DEFAULT 0,
    next_attempt_at  timestamptz      NOT NULL,
    lease            uuid,
    leased_until     timestamptz,
    last_status_code integer          NOT NULL DEFAULT 0,
    last_error       text             NOT NULL DEFAULT '',
    created_at       timestamptz      NOT NULL,
    updated_at       timestamptz      NOT NULL,
    UNIQUE (event_id, subscription_id)
) WITH (
    -- Every delivery is updated twice (claimed, finished): vacuum after 2%
    -- of the rows changed rather than 20%, so that dead index entries do
    -- not pile up at the head of the pending index that claims walk.
    fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0.02,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.02,
    autovacuum_analyze_threshold = 1000
);
-- Claim and NextDue walk this index in due order; it holds pending
-- deliveries only, so it stays small however many are kept delivered.
CREATE INDEX deliveries_pending_idx ON {{schema}}.deliveries (next_attempt_at) WHERE state = 'pending';
-- The same by subscription: when the head of the queue is congested with
-- deliveries a claim cannot take (subscriptions excluded or stopped with a
-- backlog), claims go subscription by subscription through this index.
CREATE INDEX deliveries_pending_subscription_idx ON {{schema}}.deliveries (subscription_id, next_attempt_at)
    WHERE state = 'pending';
CREATE INDEX deliveries_subscription_id_idx ON {{schema}}.deliveries (subscription_id, id);

-- The attempt log, oldest first by seq. The primary key leads with the
-- delivery, so that one index serves both listing and pruning a delivery's
-- attempts.
CREATE TABLE {{schema}}.attempts (
    seq             bigint           GENERATED ALWAYS AS IDENTITY,
    delivery_id     text COLLATE "C" NOT NULL,
    event_id        text COLLATE "C" NOT NULL,
    subscription_id text COLLATE "C" NOT NULL,
    number          integer          NOT NULL,
    at              timestamptz      NOT NULL,
    duration_ns     bigint           NOT NULL,
    status_code     integer          NOT NULL,
    response_body   bytea,
    error           text             NOT NULL,
    outcome         text COLLATE "C" NOT NULL,
    PRIMARY KEY (delivery_id, seq)
);
