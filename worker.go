package webhook

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptrace"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/cenkalti/backoff/v4"
)

// finishBatch is the most outcomes written by one Store.Finish.
const finishBatch = 256

// claimLoop claims due deliveries as workers become free and hands them to
// the workers. It closes jobs when it stops.
func (d *Dispatcher) claimLoop() {
	defer d.wg.Done()
	defer close(d.jobs)
	var errDelay time.Duration
	// notify is the Store's signal of new work. It is taken before a Claim
	// that may come back empty (so that work enqueued after that Claim
	// wakes the claimer), and only then: taking it costs the Store a lock,
	// and signalling costs every Enqueue.
	var notify <-chan struct{}
	for {
		select {
		case <-d.stop:
			return
		default:
		}
		free := d.cfg.Workers - int(d.busy.Load())
		if free <= 0 {
			select {
			case <-d.freed:
				// Every worker was busy: let the others that are about to
				// finish do so first, so that one Claim serves them all.
				runtime.Gosched()
				continue
			case <-d.stop:
				return
			}
		}
		now := d.clock.Now()
		exclude := d.excluded()
		// A cap no larger than the claim cannot bind: leave it out, so the
		// Store may take its simpler, uncapped path (admit still enforces
		// the cap across claims).
		perSub := d.cfg.MaxPerSubscription
		if free <= perSub {
			perSub = 0
		}
		claimed, err := d.store.Claim(d.runCtx, ClaimParams{
			Now: now, Limit: free, Lease: d.cfg.Lease,
			MaxPerSubscription: perSub, Exclude: exclude,
		})
		if err != nil {
			if d.runCtx.Err() != nil {
				return
			}
			errDelay = min(max(2*errDelay, 100*time.Millisecond), 30*time.Second)
			d.log.Error("webhook: claiming deliveries failed; backing off", "err", err, "retry_in", errDelay)
			if !d.sleep(errDelay, nil) {
				return
			}
			continue
		}
		errDelay = 0
		if len(claimed) > 0 {
			d.busy.Add(int64(len(claimed)))
			for _, dl := range claimed {
				if !d.admit(dl.SubscriptionID, d.subscriptionCap(dl.Subscription)) {
					// Over the cap: hand it back at once; the subscription
					// is excluded from the next claims until a slot frees.
					d.busy.Add(-1)
					d.outcomes <- leasedOutcome{Outcome{DeliveryID: dl.ID, Lease: dl.Lease, State: DeliveryPending, NextAttemptAt: dl.NextAttemptAt}, dl.LeasedUntil}
					continue
				}
				d.jobs <- dl
			}
			continue
		}
		if notify == nil {
			if notify = d.store.Wake(); notify != nil {
				continue // look once more, with the signal taken
			}
		}
		// Idle: sleep until the next due time, new work, a free slot (for a
		// subscription at its cap), or the poll interval.
		wait := d.cfg.PollInterval
		if notify != nil {
			if due, ok, err := d.store.NextDue(d.runCtx); err == nil && ok {
				wait = min(wait, due.Sub(now))
			}
		}
		if wait <= 0 {
			if len(exclude) > 0 {
				wait = d.cfg.PollInterval // work is waiting for a slot: freed wakes us
			} else {
				wait = 10 * time.Millisecond // a lease about to expire, or a race
			}
		}
		ok := d.sleep(wait, notify)
		notify = nil
		if !ok {
			return
		}
	}
}

// sleep waits for d on the clock, a close of notify, a freed worker, or
// stop; it returns false on stop.
func (d *Dispatcher) sleep(wait time.Duration, notify <-chan struct{}) bool {
	t := d.clock.NewTimer(wait)
	defer t.Stop()
	select {
	case <-t.C():
	case <-notify:
	case <-d.freed:
	case <-d.stop:
		return false
	}
	return true
}

// admit counts an attempt to the subscription, unless it is at its cap.
func (d *Dispatcher) admit(subID string, limit int) bool {
	d.inflightMu.Lock()
	defer d.inflightMu.Unlock()
	e := d.inflight[subID]
	if e.n >= limit {
		d.setInflight(subID, e, inflightCount{e.n, limit})
		return false
	}
	d.setInflight(subID, e, inflightCount{e.n + 1, limit})
	return true
}

// release ends the count of an attempt to the subscription and frees a
// worker slot.
func (d *Dispatcher) release(subID string) {
	d.inflightMu.Lock()
	e := d.inflight[subID]
	wasAtCap := e.atCap()
	d.setInflight(subID, e, inflightCount{e.n - 1, e.limit})
	d.inflightMu.Unlock()
	// Wake the claimer only if it may be waiting for this slot: when every
	// worker was busy, or the subscription was at its cap. An idle claimer
	// has nothing to hand out.
	if busy := d.busy.Add(-1); wasAtCap || busy == int64(d.cfg.Workers)-1 {
		d.poke()
	}
}

// excluded lists the subscriptions at their cap, nil if none.
func (d *Dispatcher) excluded() []string {
	d.inflightMu.Lock()
	defer d.inflightMu.Unlock()
	if d.atCap == 0 {
		return nil
	}
	out := make([]string, 0, d.atCap)
	for id, e := range d.inflight {
		if e.n >= e.limit {
			out = append(out, id)
		}
	}
	return out
}

func (d *Dispatcher) worker() {
	defer d.wg.Done()
	// The worker's own context under runCtx: the attempts' timeouts hang
	// from it, so workers do not contend for runCtx's lock.
	ctx, cancel := context.WithCancel(d.runCtx)
	defer cancel()
	w := &workerState{signers: make(map[string]*signerEntry)}
	// The trace tells whether an attempt aborted by Close had sent its
	// request: one per worker, so attempts allocate nothing for it.
	w.ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { w.wrote.Store(true) },
	})
	for dl := range d.jobs {
		d.process(w, dl)
		d.release(dl.SubscriptionID)
	}
}

// workerState is what a worker keeps from one attempt to the next.
type workerState struct {
	ctx     context.Context
	wrote   atomic.Bool             // the current attempt's request headers were written
	signers map[string]*signerEntry // by subscription ID
	end     func(AttemptInfo)       // from Instrumentation.StartAttempt, for the current attempt
}

// maxCachedSigners bounds a worker's signer cache.
const maxCachedSigners = 256

// signerEntry is a cached signer and the secrets it was made from.
type signerEntry struct {
	secret   string
	previous []PreviousSecret // as in the subscription
	from     time.Time        // made at
	until    time.Time        // the first expiry of a secret it signs with; zero if none
	signer   *Signer
	err      error
}

// signer returns the signer of the subscription's secrets that are in
// force at now, made once per subscription and set of secrets.
func (w *workerState) signer(sub *Subscription, now time.Time) (*Signer, error) {
	if e := w.signers[sub.ID]; e != nil && e.secret == sub.Secret &&
		slices.Equal(e.previous, sub.PreviousSecrets) &&
		!now.Before(e.from) && (e.until.IsZero() || now.Before(e.until)) {
		return e.signer, e.err
	}
	e := &signerEntry{secret: sub.Secret, previous: sub.PreviousSecrets, from: now}
	for _, p := range sub.PreviousSecrets {
		if now.Before(p.ExpiresAt) && (e.until.IsZero() || p.ExpiresAt.Before(e.until)) {
			e.until = p.ExpiresAt
		}
	}
	e.signer, e.err = subscriptionSigner(sub, now)
	if len(w.signers) >= maxCachedSigners {
		for id := range w.signers {
			delete(w.signers, id)
			break
		}
	}
	w.signers[sub.ID] = e
	return e.signer, e.err
}

// process makes one attempt at a claimed delivery and queues its outcome.
func (d *Dispatcher) process(w *workerState, dl *Delivery) {
	if d.closing.Load() {
		d.outcomes <- leasedOutcome{Outcome{DeliveryID: dl.ID, Lease: dl.Lease, State: DeliveryPending, NextAttemptAt: dl.NextAttemptAt}, dl.LeasedUntil}
		return
	}
	ev, sub := dl.Event, dl.Subscription
	number := dl.Attempts + 1
	start := d.clock.Now()
	realStart := time.Now()
	w.wrote.Store(false)
	resp, err := d.send(w, dl, number, start)
	latency := time.Since(realStart)
	aborted := err != nil && d.runCtx.Err() != nil
	if aborted && !w.wrote.Load() {
		// Aborted by Close before the request went out: not the
		// endpoint's fault, not counted.
		d.endAttempt(w, attemptInfo(dl, number, resp, latency, err, Outcome{}))
		d.outcomes <- leasedOutcome{Outcome{DeliveryID: dl.ID, Lease: dl.Lease, State: DeliveryPending, NextAttemptAt: dl.NextAttemptAt}, dl.LeasedUntil}
		return
	}
	now := d.clock.Now()
	// The retry schedule starts again at a redelivery by hand, whose first
	// attempt is marked Manual.
	scheduleFrom, scheduleAttempt := dl.CreatedAt, number
	if !dl.RedeliveredAt.IsZero() {
		scheduleFrom, scheduleAttempt = dl.RedeliveredAt, number-dl.AttemptsAtRedelivery
	}
	ok := err == nil && (resp.StatusCode == 0 || resp.StatusCode/100 == 2)
	if err == nil && !ok {
		err = &StatusError{StatusCode: resp.StatusCode}
	}
	// The Attempt goes back to attemptPool once the finisher has written
	// it: nothing here reads it after it is queued.
	a := attemptPool.Get().(*Attempt)
	*a = Attempt{
		DeliveryID: dl.ID, EventID: ev.ID, SubscriptionID: sub.ID,
		Number: number, Manual: !dl.RedeliveredAt.IsZero() && scheduleAttempt == 1,
		At: start, Duration: latency,
		StatusCode: resp.StatusCode, ResponseBody: string(resp.Body),
	}
	o := Outcome{DeliveryID: dl.ID, Lease: dl.Lease, Attempt: a}
	gone := resp.StatusCode == http.StatusGone
	switch {
	case aborted:
		// Cut short by Close after the request was sent: the endpoint was
		// hit, so the attempt is logged; the delivery is tried again, due
		// as it was.
		o.State, o.NextAttemptAt = DeliveryPending, dl.NextAttemptAt
		err = fmt.Errorf("webhook: attempt aborted by shutdown after the request was sent: %w", err)
	case ok:
		o.State = DeliveryDelivered
	case gone:
		o.State = DeliveryDead
	default:
		delay, retry := d.nextRetry(Failure{
			Attempt: scheduleAttempt, CreatedAt: scheduleFrom, Now: now,
			StatusCode: resp.StatusCode, RetryAfter: resp.RetryAfter, Err: err,
		})
		if retry {
			o.State, o.NextAttemptAt = DeliveryPending, now.Add(delay)
		} else {
			o.State = DeliveryDead
		}
	}
	var errText string
	if err != nil {
		errText = err.Error()
	}
	a.Error, a.Outcome = errText, o.State
	d.outcomes <- leasedOutcome{o, dl.LeasedUntil}
	if aborted {
		d.endAttempt(w, attemptInfo(dl, number, resp, latency, err, o))
		return
	}

	switch {
	case gone:
		d.turnOff(sub, StateStopped, "endpoint answered 410 Gone", now)
	case ok && sub.ConsecutiveFailures == 0:
	case d.cfg.FailureThreshold > 0 || ok:
		tripped, herr := d.store.RecordHealth(d.runCtx, sub.ID, ok, d.cfg.FailureThreshold, now)
		if herr != nil {
			d.log.Warn("webhook: recording subscription health failed", "subscription", sub.ID, "err", herr)
		}
		if tripped {
			d.log.Warn("webhook: subscription disabled after too many consecutive failures", "subscription", sub.ID, "threshold", d.cfg.FailureThreshold)
			d.notify(sub, StateTooManyErrors, errText, now)
		}
	}
	if w.end != nil || d.cfg.Observer != nil {
		info := attemptInfo(dl, number, resp, latency, err, o)
		d.endAttempt(w, info)
		if d.cfg.Observer != nil {
			d.guard("observer", func() { d.cfg.Observer(info) })
		}
	}
}

func (d *Dispatcher) nextRetry(f Failure) (delay time.Duration, retry bool) {
	d.guard("retry policy", func() { delay, retry = d.cfg.Retry.NextRetry(f) })
	return delay, retry
}

// turnOff sets a subscription's state after its endpoint asked for it and
// tells the Notifier.
func (d *Dispatcher) turnOff(sub *Subscription, state State, reason string, now time.Time) {
	if err := d.store.SetSubscriptionState(d.runCtx, sub.OrganizationID, sub.ID, state, now); err != nil {
		d.log.Warn("webhook: changing subscription state failed", "subscription", sub.ID, "state", state, "err", err)
		return
	}
	d.log.Warn("webhook: subscription turned off", "subscription", sub.ID, "state", state, "reason", reason)
	d.notify(sub, state, reason, now)
}

func (d *Dispatcher) notify(sub *Subscription, state State, reason string, now time.Time) {
	if d.cfg.Notifier == nil {
		return
	}
	n := Notification{Subscription: sub, State: state, Email: sub.ErrorsEmail, Reason: reason, At: now}
	d.guard("notifier", func() { d.cfg.Notifier.Notify(d.runCtx, n) })
}

// guard runs a user callback, recovering and logging a panic.
func (d *Dispatcher) guard(what string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			d.log.Error("webhook: panic in "+what, "panic", fmt.Sprint(r))
		}
	}()
	f()
}

// send encodes, signs and sends one attempt.
func (d *Dispatcher) send(w *workerState, dl *Delivery, number int, now time.Time) (resp Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("webhook: panic while sending: %v", r)
			d.log.Error("webhook: panic while sending", "subscription", dl.SubscriptionID, "panic", fmt.Sprint(r))
		}
	}()
	ev, sub := dl.Event, dl.Subscription
	f := d.formats[orDefault(sub.Format, FormatEnvelope)]
	if f == nil {
		return Response{}, Permanent(fmt.Errorf("%w %q", ErrUnknownFormat, sub.Format))
	}
	s := d.senders[orDefault(sub.Type, TypeWebhook)]
	if s == nil {
		return Response{}, Permanent(fmt.Errorf("%w %q", ErrUnknownType, sub.Type))
	}
	// A fresh buffer each time (a Sender may keep the body), sized so
	// that the Envelope needs no second allocation.
	body, contentType, err := AppendBody(make([]byte, 0, bodySizeHint(ev, sub)), f, ev, sub)
	if err != nil {
		return Response{}, Permanent(fmt.Errorf("webhook: encoding body with format %q: %w", sub.Format, err))
	}
	signer, err := w.signer(sub, now)
	if err != nil {
		return Response{}, Permanent(err)
	}
	// The headers are set under their canonical names, their values in
	// one block; custom headers go first so that ours win.
	const own = 5
	h := make(http.Header, own+1+len(sub.Headers))
	for k, v := range sub.Headers {
		h.Set(k, v)
	}
	vals := make([]string, own, own+1)
	vals[0] = contentType
	vals[1] = d.cfg.UserAgent
	vals[2] = ev.ID
	vals[3] = formatUnix(now)
	vals[4] = signer.Sign(ev.ID, now, body)
	h["Content-Type"] = vals[0:1:1]
	h["User-Agent"] = vals[1:2:2]
	h["Webhook-Id"] = vals[2:3:3]
	h["Webhook-Timestamp"] = vals[3:4:4]
	h["Webhook-Signature"] = vals[4:5:5]
	if ba := sub.BasicAuth; ba != nil {
		vals = append(vals, "Basic "+base64.StdEncoding.EncodeToString([]byte(ba.Username+":"+ba.Password)))
		h["Authorization"] = vals[own : own+1 : own+1]
	}
	req := &Request{
		Event: ev, Subscription: sub, DeliveryID: dl.ID, Attempt: number,
		Body: body, ContentType: contentType, Header: h,
	}
	ctx, cancel := context.WithTimeout(d.startAttempt(w, w.ctx, req), d.cfg.Timeout)
	defer cancel()
	return s.Send(ctx, req)
}

// bodySizeHint is a capacity for an event's body that the Envelope fits
// in: its fixed text, the event's fields and data, the subscription's
// parameters and properties.
func bodySizeHint(ev *Event, sub *Subscription) int {
	n := 128 + len(ev.Type) + len(ev.OrganizationID) + len(ev.Data)
	for k, v := range sub.CustomParameters {
		n += 8 + len(k) + len(v)
	}
	for k, v := range sub.Properties {
		n += 8 + len(k) + len(v)
	}
	return n
}

// subscriptionSigner signs with the subscription's secret and its previous
// secrets not yet expired at now.
func subscriptionSigner(sub *Subscription, now time.Time) (*Signer, error) {
	secrets := []string{sub.Secret}
	for _, p := range sub.PreviousSecrets {
		if now.Before(p.ExpiresAt) {
			secrets = append(secrets, p.Secret)
		}
	}
	s, err := NewSigner(secrets...)
	if err != nil {
		return nil, fmt.Errorf("webhook: subscription %s: %w", sub.ID, err)
	}
	return s, nil
}

// attemptPool recycles the Attempts of outcomes: a worker takes one, the
// finisher puts it back once the Store has written (and copied) it.
var attemptPool = sync.Pool{New: func() any { return new(Attempt) }}

// leasedOutcome is an outcome on its way to the finisher, with the end of
// the lease it was reached under.
type leasedOutcome struct {
	Outcome
	until time.Time
}

// finisher writes outcomes to the Store in batches until outcomes is
// closed and drained.
func (d *Dispatcher) finisher() {
	defer d.finishWG.Done()
	batch := make([]Outcome, 0, finishBatch)
	for lo := range d.outcomes {
		batch = append(batch[:0], lo.Outcome)
		until := lo.until
	drain:
		for len(batch) < finishBatch {
			select {
			case lo, ok := <-d.outcomes:
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
		d.finish(batch, until)
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
			d.poke()
		}
	}
}

// poke wakes the claimer if it sleeps.
func (d *Dispatcher) poke() {
	select {
	case d.freed <- struct{}{}:
	default:
	}
}

// finish writes one batch, retrying with backoff while the leases it holds
// (the earliest ends at until) last: past them another worker may take the
// deliveries over, and a late write would only repeat what it does. If the
// Store stays unreachable, or Close's context ends, the outcome is not
// written and the deliveries are tried again when their leases expire: an
// attempt may then be repeated, never lost.
func (d *Dispatcher) finish(batch []Outcome, until time.Time) {
	// Three quarters of what is left of the lease, leaving room for the
	// last write to land.
	budget := until.Sub(d.clock.Now()) * 3 / 4
	err := d.writeOutcomes(batch, budget)
	if err == nil {
		return // the usual case: no backoff to set up
	}
	b := backoff.NewExponentialBackOff()
	b.InitialInterval = 50 * time.Millisecond
	b.MaxInterval = 2 * time.Second
	b.MaxElapsedTime = max(budget, time.Millisecond)
	tries := 1
	err = backoff.Retry(func() error {
		if d.finishCtx.Err() == nil {
			d.log.Warn("webhook: recording outcomes failed; retrying", "deliveries", len(batch), "try", tries, "err", err)
		}
		tries++
		err = d.writeOutcomes(batch, budget)
		return err
	}, backoff.WithContext(b, d.finishCtx))
	if err != nil {
		d.log.Error("webhook: recording outcomes failed; the deliveries will be retried when their leases expire", "deliveries", len(batch), "err", err)
	}
}

// writeOutcomes makes one Store.Finish of the batch, bounded by the
// budget and by Close.
func (d *Dispatcher) writeOutcomes(batch []Outcome, budget time.Duration) error {
	ctx, cancel := context.WithTimeout(d.finishCtx, max(min(10*time.Second, budget), time.Millisecond))
	defer cancel()
	return d.store.Finish(ctx, d.clock.Now(), batch)
}
