package webhook

import "time"

// Defaults of the pruning policy (Config.PruneInterval and
// Config.PruneBatch).
const (
	// DefaultPruneInterval is how often a dispatcher prunes: often enough
	// that what a busy host adds between two rounds is small beside what
	// its retention keeps.
	DefaultPruneInterval = 10 * time.Second
	// DefaultPruneBatch is the most events one Store.Prune call deletes.
	DefaultPruneBatch = 1000
)

// pruneLoop deletes the events older than the retention: a round at once,
// then one every Config.PruneInterval, until the dispatcher stops. A
// round calls Store.Prune with at most Config.PruneBatch events at a time
// until a call deletes fewer, so that no call holds the store (its lock,
// or a transaction) for long, and so that a round removes everything past
// the retention, however much built up: memory and table sizes track the
// retention, not the interval.
func (d *Dispatcher) pruneLoop() {
	for {
		d.pruneRound()
		t := d.clock.NewTimer(d.cfg.PruneInterval)
		select {
		case <-d.stop:
			t.Stop()
			return
		case <-t.C():
		}
	}
}

// pruneRound deletes, batch by batch, every event whose Timestamp is past
// the retention and that has no pending delivery. It stops early when the
// dispatcher closes.
func (d *Dispatcher) pruneRound() {
	cutoff := d.clock.Now().Add(-d.cfg.Retention)
	for {
		n, err := d.store.Prune(d.runCtx, cutoff, d.cfg.PruneBatch)
		if err != nil {
			if d.runCtx.Err() == nil {
				d.log.Warn("webhook: pruning old events", "err", err)
			}
			return
		}
		if n < d.cfg.PruneBatch {
			return
		}
		select {
		case <-d.stop:
			return
		default:
		}
	}
}
