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
