-- Observability and per-subscription delivery controls.

-- The host's trace context when the event was dispatched (W3C
-- traceparent and tracestate, '' when none), handed back with every
-- attempt so that an attempt hours later, in another process, still links
-- to the dispatch.
ALTER TABLE {{schema}}.events
    ADD COLUMN traceparent text NOT NULL DEFAULT '',
    ADD COLUMN tracestate  text NOT NULL DEFAULT '';
