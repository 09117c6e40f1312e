package webhooktest

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// Defaults of a test Dispatcher, where they differ from webhook.Config's.
const (
	// DefaultWaitTimeout is how long WaitIdle waits (real time) before it
	// fails the test.
	DefaultWaitTimeout = 10 * time.Second
	// DefaultTimeout bounds each attempt (real time), so an endpoint that
	// hangs is given up on quickly.
	DefaultTimeout = 2 * time.Second
	// DefaultWorkers is how many attempts run at once.
	DefaultWorkers = 8
)

// maxSteps bounds the retry times AdvanceTo and AdvanceUntilIdle visit.
const maxSteps = 10000

// Dispatcher is a webhook.Dispatcher wired for tests: an in-memory store,
// a fake Clock that only the test moves, loopback receivers allowed, and
// ways to wait until the queue is idle and to move the clock through the
// retry schedule. It is started by NewDispatcher and closed by the test's
// Cleanup.
//
// Its methods that take a testing.TB must be called from the test's
// goroutine; the rest are safe for concurrent use.
type Dispatcher struct {
	// Dispatcher is the dispatcher under test, to hand to the host's code.
	*webhook.Dispatcher
	// Clock is the dispatcher's clock.
	Clock *Clock
	// WaitTimeout is how long WaitIdle waits. Defaults to
	// DefaultWaitTimeout.
	WaitTimeout time.Duration

	store *trackingStore

	mu    sync.Mutex
	notes []webhook.Notification
}

// NewDispatcher returns a started Dispatcher over a new memstore, closed
// (with a deadline of DefaultWaitTimeout) when the test ends. cfg may be
// nil; a copy of it is used, with these defaults where it leaves a field
// zero:
//
//   - Clock: a new Clock at 2026-01-24 09:42:59 UTC. A Clock of another
//     type than *Clock fails the test.
//   - AllowPrivateNetworks: always true, so loopback receivers work.
//   - Retry: webhook.ExponentialRetry without jitter (5s, 20s, 1m, …), so
//     retry times are exact.
//   - Timeout: DefaultTimeout; Workers: DefaultWorkers.
//   - Retention: negative (nothing is pruned).
//   - Logger: warnings and errors go to tb.Log.
//
// Notifications and attempts still reach cfg's Notifier and Observer.
func NewDispatcher(tb testing.TB, cfg *webhook.Config) *Dispatcher {
	tb.Helper()
	var c webhook.Config
	if cfg != nil {
		c = *cfg
	}
	td := &Dispatcher{WaitTimeout: DefaultWaitTimeout}
	switch clk := c.Clock.(type) {
	case nil:
		td.Clock = NewClock(time.Date(2026, 1, 24, 9, 42, 59, 0, time.UTC))
	case *Clock:
		td.Clock = clk
	default:
		tb.Fatalf("webhooktest: NewDispatcher needs a *webhooktest.Clock, got a %T", c.Clock)
	}
	c.Clock = td.Clock
	c.AllowPrivateNetworks = true
	if c.Retry == nil {
		c.Retry = &webhook.ExponentialRetry{RandomizationFactor: -1}
	}
	c.Timeout = orDefault(c.Timeout, DefaultTimeout)
	c.Workers = orDefault(c.Workers, DefaultWorkers)
	c.Retention = orDefault(c.Retention, -1)
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	notifier, observer := c.Notifier, c.Observer
	c.Notifier = webhook.NotifierFunc(func(ctx context.Context, n webhook.Notification) {
		td.mu.Lock()
		td.notes = append(td.notes, n)
		td.mu.Unlock()
		if notifier != nil {
			notifier.Notify(ctx, n)
		}
	})
	td.store = newTrackingStore(memstore.New())
	c.Observer = func(info webhook.AttemptInfo) {
		// Counted last, even if the host's observer panics: the attempt
		// is then wholly done (health recorded, notifier told).
		defer td.store.observed()
		if observer != nil {
			observer(info)
		}
	}
	d, err := webhook.NewDispatcher(td.store, &c)
	if err != nil {
		td.store.stop()
		tb.Fatalf("webhooktest: NewDispatcher: %v", err)
	}
	td.Dispatcher = d
	if err := d.Start(context.Background()); err != nil {
		td.store.stop()
		tb.Fatalf("webhooktest: starting the dispatcher: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), DefaultWaitTimeout)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			tb.Errorf("webhooktest: closing the dispatcher: %v", err)
		}
		td.store.stop()
	})
	return td
}

// tbWriter writes log lines to a test's log.
type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Log(strings.TrimSuffix(string(p), "\n"))
	return len(p), nil
}

// NewReceiver starts a Receiver that checks timestamps against the
// dispatcher's Clock (whatever cfg.Clock says); see the package-level
// NewReceiver. cfg may be nil.
func (td *Dispatcher) NewReceiver(tb testing.TB, cfg *ReceiverConfig) *Receiver {
	tb.Helper()
	var c ReceiverConfig
	if cfg != nil {
		c = *cfg
	}
	c.Clock = td.Clock
	return NewReceiver(tb, &c)
}

// Subscribe creates an Active subscription of the organization to the
// Receiver for the event types or patterns, makes the Receiver verify with
// its secret, and returns it. It fails the test on an error.
func (td *Dispatcher) Subscribe(tb testing.TB, rcv *Receiver, orgID string, events ...string) *webhook.Subscription {
	tb.Helper()
	return td.SubscribeWith(tb, rcv, &webhook.Subscription{OrganizationID: orgID, Events: events})
}

// SubscribeWith creates the subscription s, its URL defaulting to the
// Receiver's, makes the Receiver (if not nil) verify with its secret
// against the dispatcher's Clock, and returns s. It fails the test on an
// error.
func (td *Dispatcher) SubscribeWith(tb testing.TB, rcv *Receiver, s *webhook.Subscription) *webhook.Subscription {
	tb.Helper()
	if s.URL == "" && rcv != nil {
		s.URL = rcv.URL
	}
	if err := td.CreateSubscription(context.Background(), s); err != nil {
		tb.Fatalf("webhooktest: creating subscription: %v", err)
	}
	if rcv != nil {
		rcv.useClock(td.Clock)
		rcv.expect(s)
	}
	return s
}

// Notifications returns what the dispatcher's Notifier was told so far.
func (td *Dispatcher) Notifications() []webhook.Notification {
	td.mu.Lock()
	defer td.mu.Unlock()
	return append([]webhook.Notification(nil), td.notes...)
}

// Deliveries returns the organization's deliveries to a subscription (all
// of them when subscriptionID is empty), oldest first.
func (td *Dispatcher) Deliveries(tb testing.TB, orgID, subscriptionID string) []*webhook.Delivery {
	tb.Helper()
	var out []*webhook.Delivery
	f := webhook.DeliveryFilter{OrganizationID: orgID, SubscriptionID: subscriptionID, Page: webhook.Page{Limit: webhook.MaxPageLimit}}
	for {
		page, next, err := td.ListDeliveries(context.Background(), f)
		if err != nil {
			tb.Fatalf("webhooktest: listing deliveries: %v", err)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		f.Page.Cursor = next
	}
}

// WaitIdle waits until the dispatcher has nothing to do at the clock's
// current time: no attempt in flight or being recorded, and no delivery
// due now to an Active subscription. Attempts finish in real time, so it
// polls; it fails the test after WaitTimeout with a summary of the queue.
// When it returns, every outcome is stored, and the subscription health
// and the Notifier of every attempt made are up to date.
func (td *Dispatcher) WaitIdle(tb testing.TB) {
	tb.Helper()
	timeout := orDefault(td.WaitTimeout, DefaultWaitTimeout)
	deadline := time.Now().Add(timeout)
	for {
		idle, err := td.idle()
		if err != nil {
			tb.Fatalf("webhooktest: WaitIdle: %v", err)
		}
		if idle {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("webhooktest: dispatcher still busy after %v at %s: %s", timeout, td.Clock.Now().Format(time.RFC3339), td.describe())
		}
		time.Sleep(time.Millisecond)
	}
}

// idle reports whether no claim, attempt or outcome is under way and
// nothing is due now. The counters are read before and after the queue,
// so an attempt that starts in between is seen.
func (td *Dispatcher) idle() (bool, error) {
	before, quiet := td.store.snapshot()
	if !quiet {
		return false, nil
	}
	due, ok, err := td.store.NextDue(context.Background())
	if err != nil {
		return false, err
	}
	if ok && !due.After(td.Clock.Now()) {
		return false, nil
	}
	after, _ := td.store.snapshot()
	return before == after, nil
}

// describe summarises the queue for a failure message.
func (td *Dispatcher) describe() string {
	var b strings.Builder
	fmt.Fprint(&b, td.store.counters())
	var ds []*webhook.Delivery
	for _, org := range td.store.orgs() {
		page, _, err := td.store.ListDeliveries(context.Background(), webhook.DeliveryFilter{OrganizationID: org, State: webhook.DeliveryPending, Page: webhook.Page{Limit: 20}})
		if err != nil {
			return b.String()
		}
		ds = append(ds, page...)
	}
	for _, dl := range ds {
		fmt.Fprintf(&b, "\n  %s event=%s subscription=%s attempts=%d next=%s", dl.ID, dl.EventID, dl.SubscriptionID, dl.Attempts, dl.NextAttemptAt.Format(time.RFC3339))
		if !dl.LeasedUntil.IsZero() {
			fmt.Fprintf(&b, " leased until %s", dl.LeasedUntil.Format(time.RFC3339))
		}
		if dl.LastError != "" {
			fmt.Fprintf(&b, " last error: %s", dl.LastError)
		}
	}
	return b.String()
}

// Advance moves the clock forward by d through the retry schedule; see
// AdvanceTo.
func (td *Dispatcher) Advance(tb testing.TB, d time.Duration) {
	tb.Helper()
	td.AdvanceTo(tb, td.Clock.Now().Add(d))
}

// AdvanceTo moves the clock to t (never backwards), stopping at every time
// a delivery falls due on the way and waiting there until the dispatcher
// is idle, so retries happen in order and at their exact times. It returns
// once the dispatcher is idle at t.
func (td *Dispatcher) AdvanceTo(tb testing.TB, t time.Time) {
	tb.Helper()
	td.WaitIdle(tb)
	for range maxSteps {
		due, ok := td.nextDue(tb)
		if !ok || due.After(t) {
			td.set(t)
			td.WaitIdle(tb)
			return
		}
		td.set(due)
		td.WaitIdle(tb)
	}
	tb.Fatalf("webhooktest: AdvanceTo(%s): more than %d retry times on the way", t.Format(time.RFC3339), maxSteps)
}

// AdvanceUntilIdle moves the clock through the retry schedule, from one
// due time to the next, until no delivery is pending to an Active
// subscription (every one delivered or dead, or waiting for its
// subscription to be re-activated), and returns how far the clock moved.
func (td *Dispatcher) AdvanceUntilIdle(tb testing.TB) time.Duration {
	tb.Helper()
	start := td.Clock.Now()
	td.WaitIdle(tb)
	for range maxSteps {
		due, ok := td.nextDue(tb)
		if !ok {
			return td.Clock.Now().Sub(start)
		}
		td.set(due)
		td.WaitIdle(tb)
	}
	tb.Fatalf("webhooktest: AdvanceUntilIdle: still pending after %d retry times", maxSteps)
	return 0
}

func (td *Dispatcher) nextDue(tb testing.TB) (time.Time, bool) {
	tb.Helper()
	due, ok, err := td.store.NextDue(context.Background())
	if err != nil {
		tb.Fatalf("webhooktest: reading the next due time: %v", err)
	}
	return due, ok
}

// set moves the clock and wakes the dispatcher's claimer, which may have
// planned its sleep on the time before.
func (td *Dispatcher) set(t time.Time) {
	td.Clock.Set(t)
	td.store.wake()
}

// trackingStore counts the claims and outcomes passing between the
// dispatcher and its Store, so WaitIdle knows when no attempt is under
// way, and owns the dispatcher's wake-up channel, so moving the fake clock
// can wake the claimer.
type trackingStore struct {
	webhook.Store

	mu       sync.Mutex
	c        counts
	orgSeen  map[string]bool // organizations events were enqueued for
	wakeCh   chan struct{}   // closed and cleared by wake
	stopCh   chan struct{}   // stops the forwarder
	stopOnce sync.Once
	stopped  chan struct{} // closed when the forwarder has exited
}

// counts are the trackingStore's counters; equal snapshots mean nothing
// happened in between.
type counts struct {
	claiming int // Claim calls under way
	claimed  int // deliveries claimed
	finished int // outcomes stored
	attempts int // outcomes stored with an attempt
	observed int // attempts wholly done (the Observer was called)
	events   int // every change, so two snapshots can be compared
}

func (c counts) String() string {
	return fmt.Sprintf("%d claimed, %d outcomes stored (%d attempts, %d of them wholly done), %d claims under way",
		c.claimed, c.finished, c.attempts, c.observed, c.claiming)
}

func newTrackingStore(s webhook.Store) *trackingStore {
	ts := &trackingStore{Store: s, stopCh: make(chan struct{}), stopped: make(chan struct{})}
	go ts.forward()
	return ts
}

// forward passes the inner Store's wake-ups on. It arms the next inner
// channel before waking, so no signal falls in between.
func (s *trackingStore) forward() {
	defer close(s.stopped)
	inner := s.Store.Wake()
	if inner == nil {
		return // the inner store cannot tell; the dispatcher polls
	}
	for {
		select {
		case <-inner:
			inner = s.Store.Wake()
			s.wake()
		case <-s.stopCh:
			return
		}
	}
}

func (s *trackingStore) stop() {
	s.stopOnce.Do(func() { close(s.stopCh) })
	<-s.stopped
}

func (s *trackingStore) Wake() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wakeCh == nil {
		s.wakeCh = make(chan struct{})
	}
	return s.wakeCh
}

func (s *trackingStore) wake() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.wakeCh != nil {
		close(s.wakeCh)
		s.wakeCh = nil
	}
}

func (s *trackingStore) Enqueue(ctx context.Context, ev *webhook.Event, ds []*webhook.Delivery) (int, error) {
	s.mu.Lock()
	if s.orgSeen == nil {
		s.orgSeen = map[string]bool{}
	}
	s.orgSeen[ev.OrganizationID] = true
	s.mu.Unlock()
	return s.Store.Enqueue(ctx, ev, ds)
}

// orgs lists the organizations events were enqueued for, sorted.
func (s *trackingStore) orgs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.orgSeen))
	for o := range s.orgSeen {
		out = append(out, o)
	}
	slices.Sort(out)
	return out
}

func (s *trackingStore) Claim(ctx context.Context, p webhook.ClaimParams) ([]*webhook.Delivery, error) {
	s.update(func(c *counts) { c.claiming++ })
	ds, err := s.Store.Claim(ctx, p)
	s.update(func(c *counts) { c.claiming--; c.claimed += len(ds) })
	return ds, err
}

func (s *trackingStore) Finish(ctx context.Context, now time.Time, outcomes []webhook.Outcome) error {
	err := s.Store.Finish(ctx, now, outcomes)
	if err == nil {
		s.update(func(c *counts) {
			c.finished += len(outcomes)
			for _, o := range outcomes {
				if o.Attempt != nil {
					c.attempts++
				}
			}
		})
	}
	return err
}

func (s *trackingStore) observed() { s.update(func(c *counts) { c.observed++ }) }

func (s *trackingStore) update(f func(*counts)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.c)
	s.c.events++
}

// snapshot returns the counters and whether they show nothing under way.
func (s *trackingStore) snapshot() (counts, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.c
	return c, c.claiming == 0 && c.claimed == c.finished && c.attempts == c.observed
}

func (s *trackingStore) counters() counts {
	c, _ := s.snapshot()
	return c
}
