-- The pending deliveries in a narrow table of their own.
--
-- Until now the two partial indexes of pending deliveries were on
-- deliveries itself, with state in their predicates: the update that
-- finished a delivery changed state, so it could not be HOT and wrote a new
-- entry in every index of the table (5 of them). Now a delivery has a row
-- in queue exactly while its state is 'pending': enqueue inserts both, a
-- claim leases the queue row, a retry moves its due time, and a final
-- outcome deletes it. The delivery's own row changes only columns that no
-- index holds (state, attempts, the last status and error, the due time,
-- updated_at), so that its update is HOT and writes no index entry.
--
-- lease and leased_until move here (a claim writes the queue row only);
-- created_at and redelivered_at are copied here for Stats, which counts a
-- subscription's pending deliveries and finds the one that has waited
-- longest by an index-only scan of its part of queue_subscription_idx.
-- (Neither changes while the row exists: a Redeliver makes a new one.)
CREATE TABLE {{schema}}.queue (
    delivery_id     text COLLATE "C" PRIMARY KEY,
    subscription_id text COLLATE "C" NOT NULL,
    next_attempt_at timestamptz      NOT NULL,
    lease           uuid,
    leased_until    timestamptz,
    created_at      timestamptz      NOT NULL,
    redelivered_at  timestamptz
) WITH (
    -- Every row is inserted, leased (a HOT update: neither lease column is
    -- indexed) and deleted within moments: room on each page for the
    -- lease, and vacuum after every 1,000 changed rows whatever the size
    -- of the table, so that dead entries do not pile up at the head of
    -- the due index that claims walk.
    fillfactor = 50,
    autovacuum_vacuum_scale_factor = 0.0,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_insert_scale_factor = 0.0,
    autovacuum_vacuum_insert_threshold = 1000,
    autovacuum_analyze_scale_factor = 0.0,
    autovacuum_analyze_threshold = 1000
);
INSERT INTO {{schema}}.queue (delivery_id, subscription_id, next_attempt_at, lease, leased_until, created_at, redelivered_at)
SELECT d.id, d.subscription_id, d.next_attempt_at, d.lease, d.leased_until, d.created_at, d.redelivered_at
FROM {{schema}}.deliveries d WHERE d.state = 'pending';

-- Claim and NextDue walk this index in due order.
CREATE INDEX queue_due_idx ON {{schema}}.queue (next_attempt_at);
-- The same by subscription, carrying what Stats reads: the claims by
-- subscription (when the head of the queue is congested) and of capped
-- subscriptions, and the pending counts of Stats.
CREATE INDEX queue_subscription_idx ON {{schema}}.queue (subscription_id, next_attempt_at)
    INCLUDE (created_at, redelivered_at);

DROP INDEX {{schema}}.deliveries_pending_idx;
DROP INDEX {{schema}}.deliveries_pending_subscription_idx;
ALTER TABLE {{schema}}.deliveries DROP COLUMN lease, DROP COLUMN leased_until;
