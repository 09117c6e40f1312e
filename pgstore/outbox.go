package pgstore

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	webhook "github.com/relayhook/webhook"
)

// InTx returns an EnqueueFunc that enqueues inside tx, for
// webhook.Dispatcher.DispatchWith: the event's deliveries commit or roll
// back with the host's own change (the outbox pattern). See EnqueueTx.
func (s *Store) InTx(tx pgx.Tx) webhook.EnqueueFunc {
	return func(ctx context.Context, ev *webhook.Event, deliveries []*webhook.Delivery) (int, error) {
		return s.EnqueueTx(ctx, tx, ev, deliveries)
	}
}

// DispatchTx dispatches ev with d inside the host's transaction tx: a
// webhook goes out if and only if tx commits, and the dispatchers of every
// replica are woken on commit. d's Store must be a *Store; matching reads
// it outside tx.
//
//	tx, err := pool.Begin(ctx)
//	...
//	_, err = tx.Exec(ctx, "INSERT INTO contacts ...")
//	...
//	_, err = pgstore.DispatchTx(ctx, d, tx, webhook.Event{Type: "contact.created", ...})
//	...
//	err = tx.Commit(ctx)
func DispatchTx(ctx context.Context, d *webhook.Dispatcher, tx pgx.Tx, ev webhook.Event) (webhook.DispatchResult, error) {
	s, ok := d.Store().(*Store)
	if !ok {
		return webhook.DispatchResult{}, fmt.Errorf("pgstore: DispatchTx: the dispatcher's store is a %T, not a *pgstore.Store: %w",
			d.Store(), webhook.ErrInvalidArgument)
	}
	return d.DispatchWith(ctx, ev, s.InTx(tx))
}
