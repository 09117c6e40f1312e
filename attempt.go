package webhook

import (
	"context"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptrace"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// AttemptInfo describes one attempt to a Config.Observer.
type AttemptInfo struct {
	// EventID, EventType, OrganizationID, SubscriptionID and DeliveryID
	// say what was attempted.
	EventID        string
	EventType      string
	OrganizationID string
	SubscriptionID string
	DeliveryID     string
	// Attempt is the attempt's number, 1 for the first.
	Attempt int
	// StatusCode is the HTTP status, 0 if none.
	StatusCode int
	// Latency is how long the attempt took (real time).
	Latency time.Duration
	// Err is why the attempt failed, nil on success.
	Err error
	// Outcome is where the delivery stands after it.
	Outcome DeliveryState
	// NextAttemptAt is when it will be retried, if Outcome is pending.
	NextAttemptAt time.Time
	// SubscriptionType is the subscription's Type (TypeWebhook for HTTP),
	// and URL its URL, redacted of credentials and query values.
	SubscriptionType string
	URL              string
	// Trace is the trace context stored with the event at Dispatch.
	Trace TraceContext
}

// attempter is the part of a started Dispatcher that makes the attempts:
// Config.Workers workers take claimed deliveries from jobs and, for each,
// encode the body, sign it, send it, classify the answer (delivered,
// retried when, dead), record the subscription's health, and queue the
// outcome for the finisher. The workers stop once jobs is closed and
// drained.
type attempter struct {
	store   Store
	cfg     *Config
	clock   Clock
	log     *slog.Logger
	formats map[string]Format
	senders map[string]Sender
	runCtx  context.Context // parent of attempts; cancelled when Close's ctx ends
	closing *atomic.Bool    // set by Close: hand claimed deliveries back unattempted

	claimer  *claimer // jobs come from it, and each one is released to it
	outcomes chan<- leasedOutcome

	wg sync.WaitGroup
}

// start starts Config.Workers workers.
func (at *attempter) start() {
	at.wg.Add(at.cfg.Workers)
	for range at.cfg.Workers {
		go at.worker()
	}
}

// wait returns once every worker has exited.
func (at *attempter) wait() { at.wg.Wait() }

func (at *attempter) worker() {
	defer at.wg.Done()
	// The worker's own context under runCtx: the attempts' timeouts hang
	// from it, so workers do not contend for runCtx's lock.
	ctx, cancel := context.WithCancel(at.runCtx)
	defer cancel()
	w := &workerState{signers: make(map[string]*signerEntry), urls: make(map[string]string)}
	// The trace tells whether an attempt aborted by Close had sent its
	// request: one per worker, so attempts allocate nothing for it.
	w.ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteHeaders: func() { w.wrote.Store(true) },
	})
	for dl := range at.claimer.jobs {
		at.process(w, dl)
		at.claimer.release(dl.SubscriptionID)
	}
}

// workerState is what a worker keeps from one attempt to the next.
type workerState struct {
	ctx     context.Context
	wrote   atomic.Bool             // the current attempt's request headers were written
	signers map[string]*signerEntry // by subscription ID
	end     func(AttemptInfo)       // from Instrumentation.StartAttempt, for the current attempt
	urls    map[string]string       // redacted form of subscription URLs, for AttemptInfo
}

// redactedURL returns the URL as AttemptInfo gives it, parsed once per
// URL and worker rather than once per attempt.
func (w *workerState) redactedURL(raw string) string {
	if r, ok := w.urls[raw]; ok {
		return r
	}
	if len(w.urls) >= maxCachedSigners {
		clear(w.urls)
	}
	r := redactedURL(raw)
	w.urls[raw] = r
	return r
}

// maxCachedSigners bounds a worker's signer cache, and its cache of
// redacted URLs.
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
func (at *attempter) process(w *workerState, dl *Delivery) {
	if at.closing.Load() {
		at.outcomes <- leasedOutcome{Outcome{DeliveryID: dl.ID, Lease: dl.Lease, State: DeliveryPending, NextAttemptAt: dl.NextAttemptAt}, dl.LeasedUntil}
		return
	}
	ev, sub := dl.Event, dl.Subscription
	number := dl.Attempts + 1
	start := at.clock.Now()
	realStart := time.Now()
	w.wrote.Store(false)
	resp, err := at.send(w, dl, number, start)
	latency := time.Since(realStart)
	aborted := err != nil && at.runCtx.Err() != nil
	if aborted && !w.wrote.Load() {
		// Aborted by Close before the request went out: not the
		// endpoint's fault, not counted.
		at.endAttempt(w, attemptInfo(w, dl, number, resp, latency, err, Outcome{}))
		at.outcomes <- leasedOutcome{Outcome{DeliveryID: dl.ID, Lease: dl.Lease, State: DeliveryPending, NextAttemptAt: dl.NextAttemptAt}, dl.LeasedUntil}
		return
	}
	now := at.clock.Now()
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
		delay, retry := at.nextRetry(Failure{
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
	at.outcomes <- leasedOutcome{o, dl.LeasedUntil}
	if aborted {
		at.endAttempt(w, attemptInfo(w, dl, number, resp, latency, err, o))
		return
	}

	switch {
	case gone:
		at.turnOff(sub, StateStopped, "endpoint answered 410 Gone", now)
	case ok && sub.ConsecutiveFailures == 0:
	case at.cfg.FailureThreshold > 0 || ok:
		tripped, herr := at.store.RecordHealth(at.runCtx, sub.ID, ok, at.cfg.FailureThreshold, now)
		if herr != nil {
			at.log.Warn("webhook: recording subscription health failed", "subscription", sub.ID, "err", herr)
		}
		if tripped {
			at.log.Warn("webhook: subscription disabled after too many consecutive failures", "subscription", sub.ID, "threshold", at.cfg.FailureThreshold)
			at.notify(sub, StateTooManyErrors, errText, now)
		}
	}
	if w.end != nil || at.cfg.Observer != nil {
		info := attemptInfo(w, dl, number, resp, latency, err, o)
		at.endAttempt(w, info)
		if at.cfg.Observer != nil {
			at.recoverHook("observer", func() { at.cfg.Observer(info) })
		}
	}
}

func (at *attempter) nextRetry(f Failure) (delay time.Duration, retry bool) {
	at.recoverHook("retry policy", func() { delay, retry = at.cfg.Retry.NextRetry(f) })
	return delay, retry
}

// turnOff sets a subscription's state after its endpoint asked for it and
// tells the Notifier.
func (at *attempter) turnOff(sub *Subscription, state State, reason string, now time.Time) {
	if err := at.store.SetSubscriptionState(at.runCtx, sub.OrganizationID, sub.ID, state, now); err != nil {
		at.log.Warn("webhook: changing subscription state failed", "subscription", sub.ID, "state", state, "err", err)
		return
	}
	at.log.Warn("webhook: subscription turned off", "subscription", sub.ID, "state", state, "reason", reason)
	at.notify(sub, state, reason, now)
}

func (at *attempter) notify(sub *Subscription, state State, reason string, now time.Time) {
	if at.cfg.Notifier == nil {
		return
	}
	n := Notification{Subscription: sub, State: state, Email: sub.ErrorsEmail, Reason: reason, At: now}
	at.recoverHook("notifier", func() { at.cfg.Notifier.Notify(at.runCtx, n) })
}

// recoverHook runs a host callback (the Observer, the Notifier, the
// retry policy), recovering and logging a panic.
func (at *attempter) recoverHook(what string, f func()) { recoverHook(at.log, what, f) }

// recoverHook runs f, a host callback, recovering and logging a panic.
func recoverHook(log *slog.Logger, what string, f func()) {
	defer func() {
		if r := recover(); r != nil {
			log.Error("webhook: panic in "+what, "panic", fmt.Sprint(r))
		}
	}()
	f()
}

// send encodes, signs and sends one attempt.
func (at *attempter) send(w *workerState, dl *Delivery, number int, now time.Time) (resp Response, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("webhook: panic while sending: %v", r)
			at.log.Error("webhook: panic while sending", "subscription", dl.SubscriptionID, "panic", fmt.Sprint(r))
		}
	}()
	ev, sub := dl.Event, dl.Subscription
	f := at.formats[orDefault(sub.Format, FormatEnvelope)]
	if f == nil {
		return Response{}, Permanent(fmt.Errorf("%w %q", ErrUnknownFormat, sub.Format))
	}
	s := at.senders[orDefault(sub.Type, TypeWebhook)]
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
	vals[1] = at.cfg.UserAgent
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
	ctx, cancel := context.WithTimeout(at.startAttempt(w, w.ctx, req), at.cfg.Timeout)
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
