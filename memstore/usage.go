package memstore

import (
	"fmt"
	"math"

	"github.com/relayhook/webhook"
)

// DefaultMaxBytes is Config.MaxBytes's default, sized for a small host:
// with the dispatcher's own memory and the garbage collector's default
// headroom (GOGC=100), a process holding that much takes about three
// times as much memory (RSS), under 1 GiB.
const DefaultMaxBytes = 256 << 20

// Config configures a Store. The zero value (or nil) gives the defaults.
type Config struct {
	// MaxBytes bounds the memory the store's events, deliveries and
	// attempt logs take, as Usage counts it. When an Enqueue would pass
	// it, the store first drops finished history, oldest first: the
	// events (by Timestamp) that have no pending delivery, with their
	// deliveries and attempts, as Prune would at their retention. A
	// pending delivery is never dropped: when only events with pending
	// deliveries are left and the new ones do not fit, Enqueue (and so
	// Dispatcher.Dispatch) returns a *FullError, which wraps
	// webhook.ErrStoreFull, and stores nothing, until deliveries finish
	// and their history can go. Attempts logged to pending deliveries
	// may pass the bound for a while; the next Enqueue makes room again.
	// Defaults to DefaultMaxBytes; negative means no bound.
	MaxBytes int64
}

// FullError is the back-pressure of a Store at its Config.MaxBytes:
// Enqueue returns it when the new event and deliveries do not fit beside
// the pending ones. It wraps webhook.ErrStoreFull.
type FullError struct {
	// Held is what the store held, and Max its bound, in bytes as
	// Usage counts them.
	Held, Max int64
	// Need is what the refused event and deliveries would have added.
	Need int64
	// Pending is how many pending deliveries the store held.
	Pending int64
}

// Error says how full the store is; it names webhook.ErrStoreFull.
func (e *FullError) Error() string {
	return fmt.Sprintf("memstore: full: %d pending deliveries hold %d bytes of %d, %d more refused: %v",
		e.Pending, e.Held, e.Max, e.Need, webhook.ErrStoreFull)
}

// Unwrap returns webhook.ErrStoreFull.
func (e *FullError) Unwrap() error { return webhook.ErrStoreFull }

// Usage describes what a Store holds.
type Usage struct {
	// Bytes is the memory held by events, deliveries and attempt logs,
	// as the store counts it (see the package documentation), and
	// MaxBytes its bound (negative: none).
	Bytes, MaxBytes int64
	// Events, Deliveries and Pending count the stored events, the
	// stored deliveries and the pending ones among them.
	Events, Deliveries, Pending int64
	// Dropped counts the events dropped, with their deliveries, to stay
	// under MaxBytes before their retention.
	Dropped int64
}

// Usage returns what the store holds.
func (s *Store) Usage() Usage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Usage{
		Bytes: s.held, MaxBytes: s.maxBytes,
		Events: s.nEvents, Deliveries: s.nDlvs, Pending: s.nPending,
		Dropped: s.dropped,
	}
}

// What the store counts for each record, besides its strings and data
// (measured with TestUsageTracksTheHeap): an event with its map entry and
// list slots; a delivery with its slots in the lists, indexes and queues
// that hold it; an attempt log with its first attempt; each further
// attempt.
const (
	eventCost   = 256
	dlvCost     = 160
	historyCost = 128
	attemptCost = 80
)

func eventBytes(ev *webhook.Event) int64 {
	return eventCost + int64(len(ev.ID)+len(ev.Type)+len(ev.OrganizationID)+len(ev.Data))
}

func attemptBytes(r *attemptRec) int64 { return int64(len(r.body) + len(r.err)) }

// release uncounts the memory of d and its attempt log, which are being
// deleted.
func (s *Store) release(d *dlv) {
	s.held -= dlvCost + int64(len(d.id))
	s.nDlvs--
	if h := d.hist; h != nil {
		s.held -= historyCost
		for i := range h.len() {
			s.held -= attemptBytes(h.at(i))
		}
		s.held -= attemptCost * int64(len(h.more))
	}
}

// makeRoom makes room for need more bytes, for the deliveries of the
// event e (nil when new), by dropping the oldest events without pending
// deliveries (never e), or returns a *FullError.
func (s *Store) makeRoom(e *eventEntry, need int64) error {
	if s.maxBytes < 0 || s.held+need <= s.maxBytes {
		return nil
	}
	if e != nil && e.idx >= 0 {
		s.prunable.remove(int(e.idx))
		defer s.prunable.push(e)
	}
	for s.held+need > s.maxBytes && s.prunable.len() > 0 {
		s.dropEvent(s.prunable.pop())
		s.dropped++
	}
	if s.held+need > s.maxBytes {
		return &FullError{Held: s.held, Max: s.maxBytes, Need: need, Pending: s.nPending}
	}
	return nil
}

// maxBytesOf returns the bound that cfg sets.
func maxBytesOf(cfg *Config) int64 {
	switch {
	case cfg == nil || cfg.MaxBytes == 0:
		return DefaultMaxBytes
	case cfg.MaxBytes < 0:
		return -1
	}
	return min(cfg.MaxBytes, math.MaxInt64/2)
}
