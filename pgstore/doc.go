// Package pgstore is a [webhook.Store] on PostgreSQL, for hosts that run
// many replicas: they share one queue, claim deliveries from it without
// stepping on each other, and wake each other with LISTEN/NOTIFY.
//
// It is a Go module of its own, so that importing the core package never
// pulls a database driver. It uses [github.com/jackc/pgx/v5] through a
// [pgxpool.Pool] that the host owns.
//
// # Setting up
//
//	pool, err := pgxpool.New(ctx, os.Getenv("DATABASE_URL"))
//	...
//	store, err := pgstore.New(pool, &pgstore.Options{Schema: "webhooks"})
//	...
//	defer store.Close()
//	if err := store.Migrate(ctx); err != nil { ... }
//	d, err := webhook.NewDispatcher(store, cfg)
//
// # Schema and migrations
//
// All tables live in one schema (Options.Schema, "relayhook" by default),
// which Migrate creates. Migrations are embedded in the package, numbered,
// recorded in the schema's schema_migrations table, and applied in one
// transaction under an advisory lock, so every replica may call Migrate at
// start-up.
//
// The tables are subscriptions, events (each payload stored once, with the
// zone offset of its timestamp), deliveries (one row per event and
// subscription, unique on the pair, so enqueueing is idempotent, with the
// event's type), queue (a narrow row per pending delivery, and only while
// it is pending: its due time, its lease, and what Stats reads), attempts
// (the log) and stats (the counters of Stats). Times are stored with
// PostgreSQL's microsecond precision. A migration is never edited once
// released: a change of the schema is a new numbered file. Migration 0005,
// which moved the leases from deliveries to queue, is not readable by the
// code before it: stop the replicas of the older version before it runs.
//
// # Tenancy
//
// Every statement on behalf of the host names the organization in its
// WHERE clause, so that another organization's record is not found, as a
// missing one is, by the same statement. An ID that PostgreSQL could not
// store (invalid UTF-8, NUL) names no record and is not sent to it; nor is
// a page cursor that does not decode, with internal/cursor, as one of the
// listing and order.
//
// # Listings and Stats
//
// Listings walk an index in ID order, forward or backward, and stop at the
// page's limit: deliveries by organization, by organization and
// subscription, or by organization and event type (the deliveries of one
// event are read whole and sorted); events by organization, or by
// organization and type. Other filters are checked along the walk.
//
// Stats reads counters rather than the deliveries: Finish counts the
// attempts it logs per subscription and hour, and the deliveries it
// finishes delivered or dead, with the latest attempt; Redeliver, Prune
// and DeleteSubscription adjust them. Enqueue writes no counter, so that
// an enqueue inside a host's transaction, which may stay open long, locks
// nothing that another transaction could wait on: pending deliveries are
// counted, with the one that has waited longest, from the queue's index by
// subscription, whose size is the backlog.
//
// # Claiming
//
// Claim is one statement: it walks the queue's index by due time with FOR
// UPDATE SKIP LOCKED, skipping deliveries whose lease is still valid and
// subscriptions that are not Active or are excluded, sets a fresh lease on
// the queue rows it takes, and returns their deliveries and events. A
// process that dies holding leases loses them when they expire. Finish
// applies a batch of outcomes, and logs their attempts, in one statement:
// an outcome applies only while its queue row holds its lease; a final one
// deletes that row, a retry moves its due time. The delivery's own row is
// written once per outcome, never by a claim, and only in columns that no
// index holds, so that the update is HOT: finishing a delivery writes no
// entry in an index of deliveries.
//
// # Wake-ups
//
// A store wakes its own dispatcher directly when it enqueues, releases,
// redelivers or re-activates, and the other replicas with a NOTIFY on a
// channel named after the schema: at most one per Options.NotifyInterval
// for Enqueue and Finish, so that a burst of dispatches does not serialize
// on PostgreSQL's notification queue. Wake's first call starts a
// goroutine that LISTENs on a connection of its own and reconnects, with
// backoff, when the connection drops; Close stops it.
//
// # Plans
//
// The queue's statements (Claim, Finish, NextDue, Prune and
// DeleteSubscription), the listings of events and deliveries, and Stats
// run with sequential scans, hash and merge joins and explicit sorts
// disabled (the listings and Stats with bitmap scans too), each in a
// transaction of its own sent in one round trip: their plans stay index
// walks even before autovacuum has analyzed a queue that grew in seconds,
// whatever plan was cached while the tables were small, and whatever
// generic plan was cached for another organization. Claims and finishes
// run their generic plan, planned once per connection: under those
// settings it is the same index walk as a plan made for the call's
// values, which the server would otherwise make anew at every claim.
//
// A claim in due order costs a walk over the due deliveries it skips: those
// leased to workers in flight, and those of subscriptions that are excluded
// (at their concurrency cap) or not Active. Usually few; but behind a
// subscription with a large due backlog that is excluded or stopped, a
// slow endpoint's, that walk is long (about 25 ms behind 100,000 such
// deliveries on a small machine). A claim that is slow and short therefore
// switches the store to claiming by subscription for a second: a loose
// scan of an index of pending deliveries by subscription lists the
// subscriptions with pending work, and each Active, not excluded one gives
// its earliest due deliveries (about 1.5 ms a claim in the same case). The
// cost of that mode grows with the number of subscriptions that have
// pending deliveries, not with their backlogs.
//
// # Transactional outbox
//
// EnqueueTx enqueues inside the host's own transaction: the deliveries
// commit or roll back with the host's business change, and the NOTIFY is
// sent on commit only.
//
// # Retention
//
// Prune deletes old events whose deliveries are all finished, with their
// deliveries and attempts, in batches of a bounded size; call it
// periodically until it returns less than the batch size. It also drops
// the hourly counters of attempts before the cutoff's hour.
package pgstore
