package memstore

import (
	"cmp"
	"context"
	"slices"
	"time"

	"github.com/relayhook/webhook"
)

// subStats are the counters of a subscription's Stats, kept up to date by
// every change of its deliveries, so that Stats reads them at a cost that
// does not grow with the deliveries stored. Its pendingQueue gives the
// oldest pending delivery.
type subStats struct {
	// pending, delivered and dead count the subscription's kept
	// deliveries by state.
	pending, delivered, dead int64
	// hours counts its attempts by the hour of their At, in increasing
	// hour order; the hours before Prune's cutoff are dropped.
	hours []hourCount
	// lastAt (zeroNanos if none), lastStatus and lastErr describe the
	// attempt with the greatest At.
	lastAt     int64
	lastStatus int32
	lastErr    string
}

// hourCount counts the attempts made in one hour, and the failed ones.
type hourCount struct {
	hour               int64 // see hourOf
	attempts, failures uint32
}

// hourOf numbers the hour (UTC) that t is in: hours since the Unix epoch,
// rounded down. It is defined for every time.Time.
func hourOf(t time.Time) int64 {
	sec := t.Unix()
	h := sec / 3600
	if sec%3600 < 0 {
		h--
	}
	return h
}

// countAttempt counts an attempt made in the hour numbered hour. An hour
// before cutHour is not worth a new bucket: Prune would drop it.
func (st *subStats) countAttempt(r *attemptRec, hour, cutHour int64) {
	if r.at >= st.lastAt {
		st.lastAt, st.lastStatus, st.lastErr = r.at, r.status, r.err
	}
	n := len(st.hours)
	var b *hourCount
	switch {
	case n > 0 && st.hours[n-1].hour == hour:
		b = &st.hours[n-1] // the usual case
	case n == 0 || st.hours[n-1].hour < hour:
		st.trimHours(cutHour)
		st.hours = append(st.hours, hourCount{hour: hour})
		b = &st.hours[len(st.hours)-1]
	default:
		// An attempt finished late, after others of a later hour.
		i, found := slices.BinarySearchFunc(st.hours, hour, cmpHour)
		if !found {
			if hour < cutHour {
				return
			}
			st.hours = slices.Insert(st.hours, i, hourCount{hour: hour})
		}
		b = &st.hours[i]
	}
	b.attempts++
	if r.outcome != webhook.DeliveryDelivered {
		b.failures++
	}
}

func cmpHour(c hourCount, h int64) int { return cmp.Compare(c.hour, h) }

// trimHours drops the hour buckets before cutHour.
func (st *subStats) trimHours(cutHour int64) {
	i := 0
	for i < len(st.hours) && st.hours[i].hour < cutHour {
		i++
	}
	if i > 0 {
		st.hours = slices.Delete(st.hours, 0, i)
	}
}

// countState adds n to the count of deliveries in the stored state.
func (st *subStats) countState(state uint8, n int64) {
	switch state {
	case statePending:
		st.pending += n
	case stateDelivered:
		st.delivered += n
	case stateDead:
		st.dead += n
	}
}

// Stats sums up the counters of a subscription, or of every current
// subscription of an organization. Its cost grows with the subscriptions
// and with the hours counted, not with the deliveries.
func (s *Store) Stats(ctx context.Context, f webhook.StatsFilter) (*webhook.Stats, error) {
	if f.OrganizationID == "" {
		return nil, invalidArg("StatsFilter.OrganizationID", "is required")
	}
	since := f.Since.Truncate(time.Hour)
	if !since.IsZero() {
		since = since.UTC()
	}
	sinceHour := hourOf(since)
	out := &webhook.Stats{Since: since}
	lastAt := int64(zeroNanos)
	oldest, anyPending := int64(0), false
	add := func(ss *subState) {
		st := &ss.stats
		out.Pending += st.pending
		out.Delivered += st.delivered
		out.Dead += st.dead
		i, _ := slices.BinarySearchFunc(st.hours, sinceHour, cmpHour)
		for _, c := range st.hours[i:] {
			out.Attempts += int64(c.attempts)
			out.Failures += int64(c.failures)
		}
		if st.lastAt != zeroNanos && (lastAt == zeroNanos || st.lastAt > lastAt) {
			lastAt = st.lastAt
			out.LastStatusCode, out.LastError = int(st.lastStatus), st.lastErr
		}
		if w, ok := ss.pending.oldest(); ok && (!anyPending || w < oldest) {
			oldest, anyPending = w, true
		}
	}
	s.mu.Lock()
	if f.SubscriptionID != "" {
		ss := s.subs[f.SubscriptionID]
		if ss == nil || ss.cur.OrganizationID != f.OrganizationID {
			s.mu.Unlock()
			return nil, notFound("subscription", f.SubscriptionID)
		}
		add(ss)
	} else if o := s.orgs[f.OrganizationID]; o != nil {
		for _, ss := range o.subs {
			add(ss)
		}
	}
	s.mu.Unlock()
	out.LastAttemptAt = fromNanos(lastAt)
	if anyPending {
		out.OldestPendingAt = fromNanos(oldest)
	}
	return out, nil
}
