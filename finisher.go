package webhook

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// finishBatch is the most outcomes written by one Store.Finish.
const finishBatch = 256

// finisher is the part of a started Dispatcher that writes the outcomes
// the claimer and the workers queue on outcomes to the Store, in batches
// of up to finishBatch per Store.Finish, retrying a failed write while the
// leases last. It stops once outcomes is closed and drained.
type finisher struct {
	store Store
	clock Clock
	log   *slog.Logger
	// finishCtx bounds the writes: cancelled shortly after Close's ctx
	// ends, so that a hung Store cannot hold Close.
	finishCtx context.Context
	outcomes  chan leasedOutcome
	claimer   *claimer // woken when a delivery is rescheduled

	wg sync.WaitGroup
}

// start starts the finisher's goroutine.
func (f *finisher) start() {
	f.wg.Add(1)
	go f.run()
}

// stop closes outcomes and returns once every outcome queued is written
// (or given up on).
func (f *finisher) stop() {
	close(f.outcomes)
	f.wg.Wait()
}

// leasedOutcome is an outcome on its way to the finisher, with the end of
// the lease it was reached under.
type leasedOutcome struct {
	Outcome
	until time.Time
}

// run writes outcomes to the Store in batches until outcomes is
// closed and drained.
func (f *finisher) run() {
	defer f.wg.Done()
	batch := make([]Outcome, 0, finishBatch)
	for lo := range f.outcomes {
		batch = append(batch[:0], lo.Outcome)
		until := lo.until
	drain:
		for len(batch) < finishBatch {
			select {
			case lo, ok := <-f.outcomes:
				if !ok {
					break drain
				}
				batch = append(batch, lo.Outcome)
				if lo.until.Before(until) {
					until = lo.until
				}
			default:
				break drain
			}
		}
		f.finish(batch, until)
		// A rescheduled delivery may now be due sooner than the claimer
		// planned to wake (it slept until the lease's expiry): wake it.
		poke := false
		for i := range batch {
			o := &batch[i]
			poke = poke || o.State == DeliveryPending
			if o.Attempt != nil {
				*o.Attempt = Attempt{}
				attemptPool.Put(o.Attempt)
			}
			*o = Outcome{}
		}
		if poke {
			f.claimer.poke()
		}
	}
}

// finish writes one batch, retrying with backoff while the leases it holds
// (the earliest ends at until) last: past them another worker may take the
// deliveries over, and a late write would only repeat what it does. If the
// Store stays unreachable, or Close's context ends, the outcome is not
// written and the deliveries are tried again when their leases expire: an
// attempt may then be repeated, never lost.
func (f *finisher) finish(batch []Outcome, until time.Time) {
	// Three quarters of what is left of the lease, leaving room for the
	// last write to land.
	budget := until.Sub(f.clock.Now()) * 3 / 4
	err := f.writeOutcomes(batch, budget)
	if err == nil {
		return // the usual case: no backoff to set up
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 50 * time.Millisecond
	b.MaxInterval = 2 * time.Second
	b.MaxElapsedTime = max(budget, time.Millisecond)
	tries := 1
	err = backoff.Retry(func() error {
		if f.finishCtx.Err() == nil {
			f.log.Warn("webhook: recording outcomes failed; retrying", "deliveries", len(batch), "try", tries, "err", err)
		}
		tries++
		err = f.writeOutcomes(batch, budget)
		return err
	}, backoff.WithContext(b, f.finishCtx))
	if err != nil {
		f.log.Error("webhook: recording outcomes failed; the deliveries will be retried when their leases expire", "deliveries", len(batch), "err", err)
	}
}

// writeOutcomes makes one Store.Finish of the batch, bounded by the
// budget and by Close.
func (f *finisher) writeOutcomes(batch []Outcome, budget time.Duration) error {
	ctx, cancel := context.WithTimeout(f.finishCtx, max(min(10*time.Second, budget), time.Millisecond))
	defer cancel()
	return f.store.Finish(ctx, f.clock.Now(), batch)
}
