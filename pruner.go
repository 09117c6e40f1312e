package webhook

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// pruner is the part of a started Dispatcher that deletes events older
// than Config.Retention (with their finished deliveries and attempts),
// every Config.PruneInterval. It stops when stop is closed.
type pruner struct {
	store  Store
	cfg    *Config
	clock  Clock
	log    *slog.Logger
	runCtx context.Context // cancelled when Close's ctx ends
	stop   <-chan struct{}

	wg sync.WaitGroup
}

// start starts the pruner's goroutine.
func (p *pruner) start() {
	p.wg.Add(1)
	go p.run()
}

// wait returns once the pruner, told to stop by closing stop, has exited.
func (p *pruner) wait() { p.wg.Wait() }

// run deletes the events older than the retention: a round at once, then
// one every Config.PruneInterval, until stop is closed. A round calls
// Store.Prune with at most Config.PruneBatch events at a time until a call
// deletes fewer, so that no call holds the store (its lock, or a
// transaction) for long, and so that a round removes everything past the
// retention, however much built up: memory and table sizes track the
// retention, not the interval.
func (p *pruner) run() {
	defer p.wg.Done()
	for {
		p.round()
		t := p.clock.NewTimer(p.cfg.PruneInterval)
		select {
		case <-p.stop:
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// round deletes, batch by batch, every event whose Timestamp is past the
// retention and that has no pending delivery. Between two batches it rests
// as long as the last one took, so that a round that has a large backlog
// to delete (a day's history, after a restart or a raised load) keeps the
// store busy at most half of the time and deliveries go on beside it. It
// returns early when the dispatcher stops.
func (p *pruner) round() {
	cutoff := p.clock.Now().Add(-p.cfg.Retention)
	for {
		start := p.clock.Now()
		n, err := p.store.Prune(p.runCtx, cutoff, p.cfg.PruneBatch)
		if err != nil {
			if p.runCtx.Err() == nil {
				p.log.Warn("webhook: pruning old events", "err", err)
			}
			return
		}
		if n < p.cfg.PruneBatch {
			return
		}
		if !p.rest(p.clock.Now().Sub(start)) {
			return
		}
	}
}

// rest waits d on the clock (not at all if d is not positive) and reports
// whether the pruner may go on: false once stop is closed.
func (p *pruner) rest(d time.Duration) bool {
	if d <= 0 {
		select {
		case <-p.stop:
			return false
		default:
			return true
		}
	}
	t := p.clock.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.stop:
		return false
	case <-t.C():
		return true
	}
}
