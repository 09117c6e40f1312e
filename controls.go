package webhook

import (
	"context"
	"sync"
	"time"
)

// validateControls checks the per-subscription delivery controls: the
// payload filter.
func (s *Subscription) validateControls() error {
	if s.MaxConcurrency < 0 || s.MaxConcurrency > MaxConcurrencyLimit {
		return invalid(ErrInvalidSubscription, "maxConcurrency", "must be 0 (no limit of its own) to %d", MaxConcurrencyLimit)
	}
	if s.Ordered && s.MaxConcurrency > 1 {
		return invalid(ErrInvalidSubscription, "maxConcurrency", "must be 0 or 1 for an ordered subscription, which is sent one event at a time")
	}
	if r := s.RateLimit; r != nil {
		if r.Requests < 1 || r.Requests > MaxRateLimitRequests {
			return invalid(ErrInvalidSubscription, "rateLimit.requests", "must be 1 to %d", MaxRateLimitRequests)
		}
		if r.Per != PerSecond && r.Per != PerMinute {
			return invalid(ErrInvalidSubscription, "rateLimit.per", "must be %q or %q", PerSecond, PerMinute)
		}
	}
	_, err := compileFilter(s.Filter)
	return err
}

// RateLimit bounds the requests to a subscription's endpoint (see
// Subscription.RateLimit). Its JSON form is {"requests": 10, "per":
// "second"}.
type RateLimit struct {
	// Requests is how many requests may be sent per period: 1 to
	// MaxRateLimitRequests.
	Requests int `json:"requests"`
	// Per is the period: PerSecond or PerMinute.
	Per RatePeriod `json:"per"`
}

// RatePeriod is the period of a RateLimit.
type RatePeriod string

// The periods of a RateLimit.
const (
	PerSecond RatePeriod = "second"
	PerMinute RatePeriod = "minute"
)

// MaxRateLimitRequests is the most RateLimit.Requests may be.
const MaxRateLimitRequests = 10000

// Interval is the time between two requests under the limit:
// Per/Requests; 0 for a nil or invalid RateLimit.
func (r *RateLimit) Interval() time.Duration {
	if r == nil || r.Requests < 1 {
		return 0
	}
	switch r.Per {
	case PerSecond:
		return time.Second / time.Duration(r.Requests)
	case PerMinute:
		return time.Minute / time.Duration(r.Requests)
	}
	return 0
}

// MaxConcurrencyLimit is the most Subscription.MaxConcurrency may be.
const MaxConcurrencyLimit = 1000

// normalizeControls puts the checked controls of s in their stored form.
func normalizeControls(s *Subscription) error {
	f, err := normalizeFilter(s.Filter)
	if err != nil {
		return err
	}
	s.Filter = f
	return nil
}

// maxCachedFilters bounds the dispatcher's cache of compiled filters.
const maxCachedFilters = 4096

// filterCache holds compiled filters by their JSON, so that a dispatch
// compiles none of the filters it saw before.
type filterCache struct {
	mu sync.RWMutex
	m  map[string]filterEntry
}

type filterEntry struct {
	node *filterNode
	err  error
}

// get returns the compiled filter of raw.
func (c *filterCache) get(raw []byte) (*filterNode, error) {
	c.mu.RLock()
	e, ok := c.m[string(raw)]
	c.mu.RUnlock()
	if ok {
		return e.node, e.err
	}
	e.node, e.err = compileFilter(raw)
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxCachedFilters {
		c.m = make(map[string]filterEntry)
	}
	c.m[string(raw)] = e
	c.mu.Unlock()
	return e.node, e.err
}

// match returns the IDs of the Active subscriptions of the event's
// organization whose Events match its type and whose Filter it passes.
func (d *Dispatcher) match(ctx context.Context, ev *Event) ([]string, error) {
	ids, filters, err := d.store.MatchSubscriptions(ctx, ev.OrganizationID, ev.Type)
	if err != nil || filters == nil {
		return ids, err
	}
	var doc *filterDoc
	kept := ids[:0]
	for i, id := range ids {
		if f := filters[i]; len(f) > 0 {
			if doc == nil {
				doc = newFilterDoc(ev)
			}
			if !d.passes(id, f, doc) {
				continue
			}
		}
		kept = append(kept, id)
	}
	return kept, nil
}

// passes reports whether the document passes a subscription's stored
// filter. One that does not compile (it was stored around the
// Dispatcher's checks) passes nothing, and says so in the log: an event
// can be replayed later, never unsent.
func (d *Dispatcher) passes(subID string, raw []byte, doc *filterDoc) bool {
	f, err := d.filters.get(raw)
	if err != nil {
		d.log.Warn("webhook: subscription has an invalid filter; it receives nothing until fixed", "subscription", subID, "err", err)
		return false
	}
	return f.match(doc)
}

// passesFilter reports whether ev passes sub's filter (for Replay).
func (d *Dispatcher) passesFilter(sub *Subscription, ev *Event) bool {
	if len(sub.Filter) == 0 {
		return true
	}
	return d.passes(sub.ID, sub.Filter, newFilterDoc(ev))
}
