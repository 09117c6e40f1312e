package webhook

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// pruner is the part of a started Dispatcher that deletes events older
// than Config.Retention (with their finished deliveries and attempts),
// hourly. It stops when stop is closed.
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

// run deletes events older than the retention, hourly.
func (p *pruner) run() {
	defer p.wg.Done()
	for {
		cutoff := p.clock.Now().Add(-p.cfg.Retention)
		for {
			n, err := p.store.Prune(p.runCtx, cutoff, 1000)
			if err != nil {
				if p.runCtx.Err() == nil {
					p.log.Warn("webhook: pruning old events", "err", err)
				}
				break
			}
			if n < 1000 {
				break
			}
		}
		t := p.clock.NewTimer(time.Hour)
		select {
		case <-p.stop:
			t.Stop()
			return
		case <-t.C():
		}
	}
}
