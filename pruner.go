package webhook

import (
	"context"
	"log/slog"
	"sync"
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
// retention and that has no pending delivery. It returns early when the
// dispatcher stops.
func (p *pruner) round() {
	cutoff := p.clock.Now().Add(-p.cfg.Retention)
	for {
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
		select {
		case <-p.stop:
			return
		default:
		}
	}
}
