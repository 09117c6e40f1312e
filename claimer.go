package webhook

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// claimer is the part of a started Dispatcher that claims due deliveries
// from the Store as workers become free, within the per-subscription cap,
// and hands them to the workers on jobs. It sleeps, when there is nothing
// to claim, until the next due time, the Store's wake-up, a freed worker
// or the poll interval. It stops when stop is closed, and then closes
// jobs.
type claimer struct {
	store  Store
	cfg    *Config
	clock  Clock
	log    *slog.Logger
	runCtx context.Context // cancelled when Close's ctx ends
	stop   <-chan struct{} // closed to stop claiming

	jobs     chan *Delivery       // to the workers; closed when the claimer stops
	outcomes chan<- leasedOutcome // to the finisher: claims handed back over the cap
	freed    chan struct{}        // a worker became free
	busy     atomic.Int64         // deliveries claimed and not yet done

	inflightMu sync.Mutex
	inflight   map[string]inflightCount // by subscription ID
	atCap      int                      // subscriptions whose count is at their cap

	wg sync.WaitGroup
}

func newClaimer(runCtx context.Context, store Store, cfg *Config, stop <-chan struct{}, outcomes chan<- leasedOutcome) *claimer {
	return &claimer{
		store: store, cfg: cfg, clock: cfg.Clock, log: cfg.Logger,
		runCtx: runCtx, stop: stop,
		jobs:     make(chan *Delivery, cfg.Workers),
		outcomes: outcomes,
		freed:    make(chan struct{}, 1),
		inflight: map[string]inflightCount{},
	}
}

// start starts the claim loop.
func (c *claimer) start() {
	c.wg.Add(1)
	go c.run()
}

// wait returns once the claim loop, told to stop by closing stop, has
// exited.
func (c *claimer) wait() { c.wg.Wait() }

// run claims due deliveries as workers become free and hands them to
// the workers. It closes jobs when it stops.
func (c *claimer) run() {
	defer c.wg.Done()
	defer close(c.jobs)
	// After a failed Claim: 0.1 s, doubling up to 30 s, without jitter;
	// reset by a Claim that succeeds.
	var errBackoff *backoff.ExponentialBackOff
	// wake is the Store's signal of new work. It is taken before a Claim
	// that may come back empty (so that work enqueued after that Claim
	// wakes the claimer), and only then: taking it costs the Store a lock,
	// and signalling costs every Enqueue.
	var wake <-chan struct{}
	for {
		select {
		case <-c.stop:
			return
		default:
		}
		free := c.cfg.Workers - int(c.busy.Load())
		if free <= 0 {
			select {
			case <-c.freed:
				// Every worker was busy: let the others that are about to
				// finish do so first, so that one Claim serves them all.
				runtime.Gosched()
				continue
			case <-c.stop:
				return
			}
		}
		now := c.clock.Now()
		exclude := c.excluded()
		// A cap no larger than the claim cannot bind: leave it out, so the
		// Store may take its simpler, uncapped path (admit still enforces
		// the cap across claims).
		perSub := c.cfg.MaxPerSubscription
		if free <= perSub {
			perSub = 0
		}
		claimed, err := c.store.Claim(c.runCtx, ClaimParams{
			Now: now, Limit: free, Lease: c.cfg.Lease,
			MaxPerSubscription: perSub, Exclude: exclude,
		})
		if err != nil {
			if c.runCtx.Err() != nil {
				return
			}
			if errBackoff == nil {
				errBackoff = newClaimBackoff()
			}
			errDelay := errBackoff.NextBackOff()
			c.log.Error("webhook: claiming deliveries failed; backing off", "err", err, "retry_in", errDelay)
			if !c.sleep(errDelay, nil) {
				return
			}
			continue
		}
		errBackoff = nil
		if len(claimed) > 0 {
			c.busy.Add(int64(len(claimed)))
			for _, dl := range claimed {
				if !c.admit(dl.SubscriptionID, c.subscriptionCap(dl.Subscription)) {
					// Over the cap: hand it back at once; the subscription
					// is excluded from the next claims until a slot frees.
					c.busy.Add(-1)
					c.outcomes <- leasedOutcome{Outcome{DeliveryID: dl.ID, Lease: dl.Lease, State: DeliveryPending, NextAttemptAt: dl.NextAttemptAt}, dl.LeasedUntil}
					continue
				}
				c.jobs <- dl
			}
			continue
		}
		if wake == nil {
			if wake = c.store.Wake(); wake != nil {
				continue // look once more, with the signal taken
			}
		}
		// Idle: sleep until the next due time, new work, a free slot (for a
		// subscription at its cap), or the poll interval.
		wait := c.cfg.PollInterval
		if wake != nil {
			if due, ok, err := c.store.NextDue(c.runCtx); err == nil && ok {
				wait = min(wait, due.Sub(now))
			}
		}
		if wait <= 0 {
			if len(exclude) > 0 {
				wait = c.cfg.PollInterval // work is waiting for a slot: freed wakes us
			} else {
				wait = 10 * time.Millisecond // a lease about to expire, or a race
			}
		}
		ok := c.sleep(wait, wake)
		wake = nil
		if !ok {
			return
		}
	}
}

// newClaimBackoff returns the schedule of the claim loop's retries after
// a failed Claim: 0.1 s, doubling up to 30 s, no jitter, never giving up.
// The loop sleeps on the dispatcher's clock, so only the delays are
// taken from it.
func newClaimBackoff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     100 * time.Millisecond,
		RandomizationFactor: 0,
		Multiplier:          2,
		MaxInterval:         30 * time.Second,
		MaxElapsedTime:      0,
		Stop:                backoff.Stop,
		Clock:               backoff.SystemClock,
	}
	b.Reset()
	return b
}

// sleep waits for wait on the clock, a close of wake, a freed worker, or
// stop; it returns false on stop.
func (c *claimer) sleep(wait time.Duration, wake <-chan struct{}) bool {
	t := c.clock.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C():
	case <-wake:
	case <-c.freed:
	case <-c.stop:
		return false
	}
	return true
}

// admit counts an attempt to the subscription, unless it is at its cap.
func (c *claimer) admit(subID string, limit int) bool {
	c.inflightMu.Lock()
	defer c.inflightMu.Unlock()
	e := c.inflight[subID]
	if e.n >= limit {
		c.setInflight(subID, e, inflightCount{e.n, limit})
		return false
	}
	c.setInflight(subID, e, inflightCount{e.n + 1, limit})
	return true
}

// release ends the count of an attempt to the subscription and frees a
// worker slot.
func (c *claimer) release(subID string) {
	c.inflightMu.Lock()
	e := c.inflight[subID]
	wasAtCap := e.atCap()
	c.setInflight(subID, e, inflightCount{e.n - 1, e.limit})
	c.inflightMu.Unlock()
	// Wake the claimer only if it may be waiting for this slot: when every
	// worker was busy, or the subscription was at its cap. An idle claimer
	// has nothing to hand out.
	if busy := c.busy.Add(-1); wasAtCap || busy == int64(c.cfg.Workers)-1 {
		c.poke()
	}
}

// excluded lists the subscriptions at their cap, nil if none.
func (c *claimer) excluded() []string {
	c.inflightMu.Lock()
	defer c.inflightMu.Unlock()
	if c.atCap == 0 {
		return nil
	}
	out := make([]string, 0, c.atCap)
	for id, e := range c.inflight {
		if e.n >= e.limit {
			out = append(out, id)
		}
	}
	return out
}

// poke wakes the claimer if it sleeps.
func (c *claimer) poke() {
	select {
	case c.freed <- struct{}{}:
	default:
	}
}

// inflightCount is a subscription's attempts claimed by this dispatcher
// and not done, and the cap they were admitted under.
type inflightCount struct {
	n, limit int
}

func (e inflightCount) atCap() bool { return e.n > 0 && e.n >= e.limit }

// setInflight replaces a subscription's count, keeping atCap the number
// of subscriptions at (or, after their cap was lowered, over) their cap.
// Called with inflightMu held.
func (c *claimer) setInflight(subID string, old, cur inflightCount) {
	switch was, is := old.atCap(), cur.atCap(); {
	case was && !is:
		c.atCap--
	case !was && is:
		c.atCap++
	}
	if cur.n <= 0 {
		delete(c.inflight, subID)
		return
	}
	c.inflight[subID] = cur
}

// subscriptionCap is how many attempts to the subscription this
// dispatcher runs at once: its MaxConcurrency when set, else
// Config.MaxPerSubscription; at most Config.Workers.
func (c *claimer) subscriptionCap(sub *Subscription) int {
	if sub != nil && sub.Ordered {
		return 1
	}
	if sub != nil && sub.MaxConcurrency > 0 {
		return min(sub.MaxConcurrency, c.cfg.Workers)
	}
	return c.cfg.MaxPerSubscription
}
