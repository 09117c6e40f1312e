package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/webhooktest"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var t0 = time.Date(2026, 1, 24, 9, 42, 59, 0, time.UTC)

// bundle is what a dispatcher test needs.
type bundle struct {
	t     *testing.T
	store *memstore.Store
	clock *webhooktest.Clock
	d     *webhook.Dispatcher
	notes chan webhook.Notification
	infos chan webhook.AttemptInfo
}

// setup returns a started dispatcher over a memstore with a fake clock;
// adjust may change the config first.
func setup(t *testing.T, adjust func(*webhook.Config)) *bundle {
	t.Helper()
	b := &bundle{
		t:     t,
		store: memstore.New(),
		clock: webhooktest.NewClock(t0),
		notes: make(chan webhook.Notification, 16),
		infos: make(chan webhook.AttemptInfo, 1024),
	}
	cfg := &webhook.Config{
		Clock:     b.clock,
		Workers:   8,
		Timeout:   2 * time.Second,
		Retention: -1,
		Notifier: webhook.NotifierFunc(func(_ context.Context, n webhook.Notification) {
			b.notes <- n
		}),
		Observer: func(i webhook.AttemptInfo) {
			select {
			case b.infos <- i:
			default:
			}
		},
		Retry: &webhook.ExponentialRetry{RandomizationFactor: -1},
	}
	allowLoopback(cfg)
	if adjust != nil {
		adjust(cfg)
	}
	d, err := webhook.NewDispatcher(b.store, cfg)
	require.NoError(t, err)
	b.d = d
	require.NoError(t, d.Start(context.Background()))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, d.Close(ctx))
	})
	return b
}

// subscribe creates an Active subscription of org to url for the events.
func (b *bundle) subscribe(org, url string, events ...string) *webhook.Subscription {
	b.t.Helper()
	s := &webhook.Subscription{OrganizationID: org, URL: url, Events: events}
	require.NoError(b.t, b.d.CreateSubscription(context.Background(), s))
	return s
}

func (b *bundle) dispatch(ev webhook.Event) webhook.DispatchResult {
	b.t.Helper()
	res, err := b.d.Dispatch(context.Background(), ev)
	require.NoError(b.t, err)
	return res
}

// waitAttempts waits until the subscription's only delivery has made n
// attempts and their outcome is stored, and returns it.
func (b *bundle) waitAttempts(sub *webhook.Subscription, n int) *webhook.Delivery {
	b.t.Helper()
	var dl *webhook.Delivery
	require.Eventually(b.t, func() bool {
		ds, _, err := b.store.ListDeliveries(context.Background(), webhook.DeliveryFilter{OrganizationID: sub.OrganizationID, SubscriptionID: sub.ID})
		if err != nil || len(ds) != 1 {
			return false
		}
		dl = ds[0]
		return dl.Attempts == n && dl.LeasedUntil.IsZero()
	}, 5*time.Second, time.Millisecond, "waiting for attempt %d", n)
	return dl
}

// advanceTo moves the fake clock to when, stopping at every timer on the
// way once some goroutine sleeps on one.
func (b *bundle) advanceTo(when time.Time) {
	b.t.Helper()
	for b.clock.Now().Before(when) {
		require.Eventually(b.t, func() bool { return b.clock.Timers() > 0 }, 5*time.Second, time.Millisecond)
		next, _ := b.clock.NextTimer()
		if next.After(when) {
			next = when
		}
		b.clock.Set(next)
	}
}

// receiver is a loopback endpoint answering from a script of statuses
// (the last repeats) and recording every request.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	script   []int
	requests []recorded
	hang     chan struct{} // when set, requests block until it closes or the client gives up
	header   http.Header   // extra response headers
}

type recorded struct {
	header http.Header
	body   []byte
}

func newReceiver(t *testing.T, script ...int) *receiver {
	r := &receiver{script: script, header: http.Header{}}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		r.requests = append(r.requests, recorded{req.Header.Clone(), body})
		status := http.StatusOK
		if n := len(r.requests); len(r.script) > 0 {
			status = r.script[min(n, len(r.script))-1]
		}
		hang := r.hang
		for k, v := range r.header {
			w.Header()[k] = v
		}
		r.mu.Unlock()
		if hang != nil {
			select {
			case <-hang:
			case <-req.Context().Done():
				return
			}
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, http.StatusText(status))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.requests)
}

func (r *receiver) get(i int) recorded {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.requests[i]
}

func TestDispatchFansOutToMatchingSubscriptionsOfTheOrganization(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rcv := newReceiver(t)
	exact := b.subscribe("org1", rcv.URL+"/exact", "contact.created")
	prefix := b.subscribe("org1", rcv.URL+"/prefix", "contact.*")
	all := b.subscribe("org1", rcv.URL+"/all", "*")
	b.subscribe("org1", rcv.URL+"/other-type", "sale.changed")
	b.subscribe("org2", rcv.URL+"/other-org", "*")
	stopped := b.subscribe("org1", rcv.URL+"/stopped", "*")
	require.NoError(t, b.d.SetSubscriptionState(context.Background(), stopped.OrganizationID, stopped.ID, webhook.StateStopped))

	res := b.dispatch(webhook.Event{Type: "contact.created", OrganizationID: "org1", Data: json.RawMessage(`{"id":7}`)})
	require.Equal(t, 3, res.Matched)
	require.Equal(t, 3, res.Enqueued)
	require.Len(t, res.EventID, 30)

	require.Eventually(t, func() bool { return rcv.count() == 3 }, 5*time.Second, time.Millisecond)
	paths := map[string]bool{}
	for i := range 3 {
		r := rcv.get(i)
		require.Equal(t, res.EventID, r.header.Get("webhook-id"), "same webhook-id for every subscription")
		paths[string(r.body)] = true
	}
	for _, s := range []*webhook.Subscription{exact, prefix, all} {
		require.Equal(t, webhook.DeliveryDelivered, b.waitAttempts(s, 1).State)
	}
	// The three bodies are the same Envelope.
	require.Len(t, paths, 1)
}

func TestDeliveredRequestVerifiesAsStandardWebhooks(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rcv := newReceiver(t)
	s := b.subscribe("org1", rcv.URL, "contact.created")
	s.Headers = map[string]string{"X-Api-Key": "k-123"}
	s.CustomParameters = map[string]string{"source": "crm"}
	s.Properties = map[string]string{"tenant": "acme"}
	require.NoError(t, b.d.UpdateSubscription(context.Background(), s))
	ts := time.Date(2017, 1, 24, 3, 42, 59, 0, time.FixedZone("", -6*3600))
	res := b.dispatch(webhook.Event{ID: "evt_1", Type: "contact.created", OrganizationID: "org1", Timestamp: ts, Data: json.RawMessage(`{"id":7}`)})
	require.Equal(t, "evt_1", res.EventID)
	b.waitAttempts(s, 1)

	r := rcv.get(0)
	require.Equal(t, `{"eventTrigger":"contact.created","eventTimestamp":"2017-01-24T03:42:59.000-06:00","organizationId":"org1","data":{"id":7},"customParameters":{"source":"crm"},"tenant":"acme"}`, string(r.body))
	require.Equal(t, "application/json", r.header.Get("Content-Type"))
	require.Equal(t, "k-123", r.header.Get("X-Api-Key"))
	require.Equal(t, "evt_1", r.header.Get("webhook-id"))
	require.Equal(t, "1769247779", r.header.Get("webhook-timestamp"), "signed with the dispatcher clock's time")
	v, err := webhook.NewVerifier(s.Secret)
	require.NoError(t, err)
	v.Now = func() time.Time { return t0 }
	require.NoError(t, v.Verify(r.header, r.body))
}

func TestFormBodyWithBasicAuth(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rcv := newReceiver(t)
	s := &webhook.Subscription{
		OrganizationID: "org1", URL: rcv.URL, Events: []string{"*"},
		ContentType: webhook.ContentTypeForm,
		BasicAuth:   &webhook.BasicAuth{Username: "neon", Password: "p4ss"},
	}
	require.NoError(t, b.d.CreateSubscription(context.Background(), s))
	b.dispatch(webhook.Event{ID: "e1", Type: "account.create", OrganizationID: "org1", Data: json.RawMessage(`{"a":"b&c"}`)})
	b.waitAttempts(s, 1)
	r := rcv.get(0)
	require.Equal(t, webhook.ContentTypeForm, r.header.Get("Content-Type"))
	req := &http.Request{Header: r.header}
	user, pass, ok := req.BasicAuth()
	require.True(t, ok)
	require.Equal(t, "neon", user)
	require.Equal(t, "p4ss", pass)
	require.Contains(t, string(r.body), "payload=%7B%22eventTrigger%22%3A%22account.create%22")
}

func TestRetriesAfterServerErrorsAndTimeoutsUntilSuccess(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *webhook.Config) { c.Timeout = 200 * time.Millisecond })
	rcv := newReceiver(t, 500, 503, 200, 200)
	s := b.subscribe("org1", rcv.URL, "*")
	b.dispatch(webhook.Event{Type: "contact.created", OrganizationID: "org1"})

	dl := b.waitAttempts(s, 1)
	require.Equal(t, webhook.DeliveryPending, dl.State)
	require.Equal(t, 500, dl.LastStatusCode)
	require.Equal(t, t0.Add(defaultRetryInitialInterval), dl.NextAttemptAt, "first retry after the initial interval")
	b.advanceTo(dl.NextAttemptAt)

	dl = b.waitAttempts(s, 2)
	require.Equal(t, 503, dl.LastStatusCode)
	require.Equal(t, t0.Add(5*time.Second+15*time.Second), dl.NextAttemptAt, "the interval grows by the multiplier")

	// The third attempt hangs past the timeout.
	rcv.mu.Lock()
	rcv.hang = make(chan struct{})
	rcv.mu.Unlock()
	b.advanceTo(dl.NextAttemptAt)
	dl = b.waitAttempts(s, 3)
	require.Equal(t, 0, dl.LastStatusCode)
	require.Contains(t, dl.LastError, "deadline exceeded")
	require.Equal(t, webhook.DeliveryPending, dl.State)
	rcv.mu.Lock()
	close(rcv.hang)
	rcv.hang = nil
	rcv.mu.Unlock()

	b.advanceTo(dl.NextAttemptAt)
	dl = b.waitAttempts(s, 4)
	require.Equal(t, webhook.DeliveryDelivered, dl.State)
	require.Equal(t, 4, rcv.count())
	ids := map[string]bool{}
	for i := range 4 {
		ids[rcv.get(i).header.Get("webhook-id")] = true
	}
	require.Len(t, ids, 1, "every retry carries the same webhook-id")

	attempts, err := b.store.ListAttempts(context.Background(), dl.OrganizationID, dl.ID)
	require.NoError(t, err)
	require.Len(t, attempts, 4)
	for i, a := range attempts {
		require.Equal(t, i+1, a.Number)
	}
	require.Equal(t, "Internal Server Error", attempts[0].ResponseBody)
	require.Equal(t, webhook.DeliveryPending, attempts[0].Outcome)
	require.Equal(t, webhook.DeliveryDelivered, attempts[3].Outcome)
	// The worker records the subscription's health just after handing the
	// outcome to the finisher, so the delivery can be seen delivered first.
	require.Eventually(t, func() bool {
		sub, err := b.d.GetSubscription(context.Background(), s.OrganizationID, s.ID)
		require.NoError(t, err)
		return sub.ConsecutiveFailures == 0
	}, 5*time.Second, time.Millisecond, "success resets the failure count")
}

func TestRetryAfterIsObeyed(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rcv := newReceiver(t, 429, 200)
	rcv.header.Set("Retry-After", "120")
	s := b.subscribe("org1", rcv.URL, "*")
	b.dispatch(webhook.Event{Type: "x.y", OrganizationID: "org1"})
	dl := b.waitAttempts(s, 1)
	require.Equal(t, 429, dl.LastStatusCode)
	require.Equal(t, t0.Add(120*time.Second), dl.NextAttemptAt)
	b.advanceTo(t0.Add(119 * time.Second))
	require.Equal(t, 1, rcv.count(), "no attempt before Retry-After")
	b.advanceTo(dl.NextAttemptAt)
	require.Equal(t, webhook.DeliveryDelivered, b.waitAttempts(s, 2).State)
}

func TestExhaustedDeliveryIsDeadAndCanBeRedelivered(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *webhook.Config) {
		c.Retry = &webhook.ExponentialRetry{MaxAttempts: 2, RandomizationFactor: -1}
	})
	rcv := newReceiver(t, 500, 500, 200)
	s := b.subscribe("org1", rcv.URL, "*")
	b.dispatch(webhook.Event{Type: "x.y", OrganizationID: "org1"})
	dl := b.waitAttempts(s, 1)
	b.advanceTo(dl.NextAttemptAt)
	dl = b.waitAttempts(s, 2)
	require.Equal(t, webhook.DeliveryDead, dl.State, "kept, dead")

	require.Zero(t, dl.NextAttemptAt, "a dead delivery has no next attempt")

	require.NoError(t, b.d.Redeliver(context.Background(), dl.OrganizationID, dl.ID))
	dl = b.waitAttempts(s, 3)
	require.Equal(t, webhook.DeliveryDelivered, dl.State)
	require.Zero(t, dl.NextAttemptAt, "a delivered delivery has no next attempt")
	require.Equal(t, 3, rcv.count())
	_, attempts, err := b.d.GetDelivery(context.Background(), dl.OrganizationID, dl.ID)
	require.NoError(t, err)
	require.Len(t, attempts, 3, "the log keeps the attempts before the redelivery")
	for i, a := range attempts {
		require.Equal(t, i+1, a.Number, "attempt numbers go on across a redelivery")
		require.Equal(t, i == 2, a.Manual, "only the attempt after the redelivery is manual")
	}

	err = b.d.Redeliver(context.Background(), s.OrganizationID, "dlv_missing")
	require.ErrorIs(t, err, webhook.ErrNotFound)
}

func TestRedeliverDeadInBulk(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *webhook.Config) {
		c.Retry = &webhook.ExponentialRetry{MaxAttempts: 1}
	})
	rcv := newReceiver(t, 500, 500, 500, 200)
	s := b.subscribe("org1", rcv.URL, "*")
	for range 3 {
		b.dispatch(webhook.Event{Type: "x.y", OrganizationID: "org1"})
	}
	require.Eventually(t, func() bool {
		ds, _, _ := b.store.ListDeliveries(context.Background(), webhook.DeliveryFilter{OrganizationID: s.OrganizationID, SubscriptionID: s.ID, State: webhook.DeliveryDead})
		return len(ds) == 3
	}, 5*time.Second, time.Millisecond)
	dry := webhook.RedeliverFilter{OrganizationID: s.OrganizationID, SubscriptionID: s.ID, EventType: "x.y", DryRun: true}
	n, err := b.d.RedeliverAll(context.Background(), dry)
	require.NoError(t, err)
	require.Equal(t, 3, n, "the dry run counts")
	dry.EventType = "other"
	n, err = b.d.RedeliverAll(context.Background(), dry)
	require.NoError(t, err)
	require.Zero(t, n, "the event type filters")
	ds, _, err := b.store.ListDeliveries(context.Background(), webhook.DeliveryFilter{OrganizationID: s.OrganizationID, SubscriptionID: s.ID, State: webhook.DeliveryDead})
	require.NoError(t, err)
	require.Len(t, ds, 3, "the dry run changed nothing")
	n, err = b.d.RedeliverAll(context.Background(), webhook.RedeliverFilter{OrganizationID: s.OrganizationID, SubscriptionID: s.ID, CreatedFrom: t0.Add(-time.Hour), CreatedTo: t0.Add(time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 3, n)
	require.Eventually(t, func() bool {
		ds, _, _ := b.store.ListDeliveries(context.Background(), webhook.DeliveryFilter{OrganizationID: s.OrganizationID, SubscriptionID: s.ID, State: webhook.DeliveryDelivered})
		return len(ds) == 3
	}, 5*time.Second, time.Millisecond)
	_, err = b.d.RedeliverAll(context.Background(), webhook.RedeliverFilter{OrganizationID: s.OrganizationID, SubscriptionID: s.ID, CreatedFrom: t0, CreatedTo: t0})
	require.ErrorIs(t, err, webhook.ErrInvalidArgument)
}

func TestTooManyErrorsDisablesAndNotifies(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *webhook.Config) {
		c.FailureThreshold = 3
		c.Retry = &webhook.ExponentialRetry{MaxAttempts: 1}
	})
	rcv := newReceiver(t, 500)
	s := &webhook.Subscription{OrganizationID: "org1", URL: rcv.URL, Events: []string{"*"}, ErrorsEmail: "ops@example.com"}
	require.NoError(t, b.d.CreateSubscription(context.Background(), s))
	for range 3 {
		b.dispatch(webhook.Event{Type: "x.y", OrganizationID: "org1"})
	}
	select {
	case n := <-b.notes:
		require.Equal(t, webhook.StateTooManyErrors, n.State)
		require.Equal(t, "ops@example.com", n.Email)
		require.Equal(t, s.ID, n.Subscription.ID)
		require.Contains(t, n.Reason, "500")
	case <-time.After(5 * time.Second):
		t.Fatal("notifier not told")
	}
	sub, err := b.d.GetSubscription(context.Background(), s.OrganizationID, s.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.StateTooManyErrors, sub.State)

	// Nothing more is sent to it...
	res := b.dispatch(webhook.Event{Type: "x.y", OrganizationID: "org1"})
	require.Zero(t, res.Matched)
	require.Equal(t, 3, rcv.count())

	// ...until it is re-activated; then it can be sent what it missed.
	rcv.mu.Lock()
	rcv.script = []int{200}
	rcv.mu.Unlock()
	require.NoError(t, b.d.SetSubscriptionState(context.Background(), s.OrganizationID, s.ID, webhook.StateActive))
	n, err := b.d.Replay(context.Background(), s.OrganizationID, s.ID, time.Time{}, time.Time{})
	require.NoError(t, err)
	require.Equal(t, 1, n, "only the event it never had a delivery for")
	require.Eventually(t, func() bool { return rcv.count() == 4 }, 5*time.Second, time.Millisecond)
	require.Len(t, b.notes, 0, "notified once")
}

func TestGoneStopsTheSubscription(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rcv := newReceiver(t, 410)
	s := b.subscribe("org1", rcv.URL, "*")
	b.dispatch(webhook.Event{Type: "x.y", OrganizationID: "org1"})
	dl := b.waitAttempts(s, 1)
	require.Equal(t, webhook.DeliveryDead, dl.State)
	n := <-b.notes
	require.Equal(t, webhook.StateStopped, n.State)
	sub, err := b.d.GetSubscription(context.Background(), s.OrganizationID, s.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.StateStopped, sub.State)
}

func TestPermanentStatusesArePolicy(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *webhook.Config) {
		c.Retry = &webhook.ExponentialRetry{PermanentStatuses: []int{400}}
	})
	rcv := newReceiver(t, 400)
	s := b.subscribe("org1", rcv.URL, "*")
	b.dispatch(webhook.Event{Type: "x.y", OrganizationID: "org1"})
	require.Equal(t, webhook.DeliveryDead, b.waitAttempts(s, 1).State)
}

func TestIdempotentDispatch(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rcv := newReceiver(t)
	s := b.subscribe("org1", rcv.URL, "*")
	ev := webhook.Event{ID: "evt_same", Type: "x.y", OrganizationID: "org1", Data: json.RawMessage(`1`)}
	first := b.dispatch(ev)
	require.Equal(t, 1, first.Enqueued)
	ev.Data = json.RawMessage(`2`)
	second := b.dispatch(ev)
	require.Equal(t, 1, second.Matched)
	require.Zero(t, second.Enqueued)
	// The same ID in another organization is another event.
	b.subscribe("org2", rcv.URL, "*")
	ev.OrganizationID = "org2"
	require.Equal(t, 1, b.dispatch(ev).Enqueued)
	b.waitAttempts(s, 1)
	require.Eventually(t, func() bool { return rcv.count() == 2 }, 5*time.Second, time.Millisecond)
	stored, err := b.store.GetEvent(context.Background(), "org1", "evt_same")
	require.NoError(t, err)
	require.JSONEq(t, `1`, string(stored.Data), "the first payload is kept")
}

func TestHangingEndpointDoesNotDelayAHealthyOne(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *webhook.Config) {
		c.Workers = 4
		c.MaxPerSubscription = 2
		c.Timeout = 3 * time.Second
	})
	slow := newReceiver(t)
	slow.hang = make(chan struct{})
	t.Cleanup(func() { close(slow.hang) })
	fast := newReceiver(t)
	ss := b.subscribe("org1", slow.URL, "slow.*")
	fs := b.subscribe("org1", fast.URL, "fast.*")
	for range 20 {
		b.dispatch(webhook.Event{Type: "slow.thing", OrganizationID: "org1"})
	}
	require.Eventually(t, func() bool { return slow.count() == 2 }, 5*time.Second, time.Millisecond)
	start := time.Now()
	for range 50 {
		b.dispatch(webhook.Event{Type: "fast.thing", OrganizationID: "org1"})
	}
	require.Eventually(t, func() bool { return fast.count() == 50 }, 2*time.Second, time.Millisecond)
	require.Less(t, time.Since(start), 2*time.Second, "the healthy endpoint was not held up by the hanging one's timeout")
	require.Equal(t, 2, slow.count(), "no more than MaxPerSubscription attempts to the hanging endpoint at once")
	_ = ss
	_ = fs
}

func TestCloseDrainsAndReleases(t *testing.T) {
	t.Parallel()
	store := memstore.New()
	clock := webhooktest.NewClock(t0)
	cfg := &webhook.Config{Clock: clock, Workers: 2, MaxPerSubscription: 2, Retention: -1}
	allowLoopback(cfg)
	d, err := webhook.NewDispatcher(store, cfg)
	require.NoError(t, err)
	rcv := newReceiver(t)
	release := make(chan struct{})
	rcv.hang = release
	s := &webhook.Subscription{OrganizationID: "o", URL: rcv.URL, Events: []string{"*"}}
	require.NoError(t, d.CreateSubscription(context.Background(), s))
	for range 5 {
		_, err := d.Dispatch(context.Background(), webhook.Event{Type: "a.b", OrganizationID: "o"})
		require.NoError(t, err)
	}
	require.NoError(t, d.Start(context.Background()))
	require.ErrorIs(t, d.Start(context.Background()), webhook.ErrAlreadyStarted)
	require.Eventually(t, func() bool { return rcv.count() == 2 }, 5*time.Second, time.Millisecond)

	// The two attempts in flight finish while Close waits.
	go func() {
		time.Sleep(50 * time.Millisecond)
		close(release)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	require.NoError(t, d.Close(ctx))
	require.NoError(t, d.Close(ctx), "Close is idempotent")

	all, _, err := store.ListDeliveries(context.Background(), webhook.DeliveryFilter{OrganizationID: "o"})
	require.NoError(t, err)
	states := map[webhook.DeliveryState]int{}
	for _, dl := range all {
		states[dl.State]++
		require.True(t, dl.LeasedUntil.IsZero(), "no lease left behind")
	}
	require.Equal(t, 2, states[webhook.DeliveryDelivered])
	require.Equal(t, 3, states[webhook.DeliveryPending], "not sent, still scheduled")

	_, err = d.Dispatch(context.Background(), webhook.Event{Type: "a.b", OrganizationID: "o"})
	require.ErrorIs(t, err, webhook.ErrDispatcherClosed)
	require.ErrorIs(t, d.Start(context.Background()), webhook.ErrDispatcherClosed)

	// A new dispatcher on the same store finishes the work.
	d2, err := webhook.NewDispatcher(store, cfg)
	require.NoError(t, err)
	require.NoError(t, d2.Start(context.Background()))
	require.Eventually(t, func() bool { return rcv.count() == 5 }, 5*time.Second, time.Millisecond)
	require.NoError(t, d2.Close(ctx))
}

func TestCloseCancelsAttemptsWhenItsContextEnds(t *testing.T) {
	t.Parallel()
	store := memstore.New()
	cfg := &webhook.Config{Clock: webhooktest.NewClock(t0), Workers: 1, Retention: -1, Timeout: time.Minute}
	allowLoopback(cfg)
	d, err := webhook.NewDispatcher(store, cfg)
	require.NoError(t, err)
	rcv := newReceiver(t)
	rcv.hang = make(chan struct{})
	defer close(rcv.hang)
	s := &webhook.Subscription{OrganizationID: "o", URL: rcv.URL, Events: []string{"*"}}
	require.NoError(t, d.CreateSubscription(context.Background(), s))
	_, err = d.Dispatch(context.Background(), webhook.Event{Type: "a.b", OrganizationID: "o"})
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	require.Eventually(t, func() bool { return rcv.count() == 1 }, 5*time.Second, time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, d.Close(ctx), context.DeadlineExceeded)
	dl, _, err := store.ListDeliveries(context.Background(), webhook.DeliveryFilter{OrganizationID: "o"})
	require.NoError(t, err)
	require.Equal(t, webhook.DeliveryPending, dl[0].State, "still scheduled")
	require.True(t, dl[0].LeasedUntil.IsZero())
	// The endpoint was hit: the log shows the attempt it saw.
	_, attempts, err := d.GetDelivery(context.Background(), "o", dl[0].ID)
	require.NoError(t, err)
	require.Len(t, attempts, rcv.count(), "attempts logged = requests received")
	require.Contains(t, attempts[0].Error, "shutdown")
	require.Equal(t, webhook.DeliveryPending, attempts[0].Outcome)
}

func TestCustomSenderType(t *testing.T) {
	t.Parallel()
	var got atomic.Value
	b := setup(t, func(c *webhook.Config) {
		c.Senders = map[string]webhook.Sender{"crmscript": webhook.SenderFunc(func(ctx context.Context, r *webhook.Request) (webhook.Response, error) {
			got.Store(r.Subscription.URL + " " + string(r.Body))
			return webhook.Response{}, nil
		})}
	})
	s := &webhook.Subscription{OrganizationID: "o", URL: "script:welcome-mail", Events: []string{"*"}, Type: "crmscript"}
	require.NoError(t, b.d.CreateSubscription(context.Background(), s))
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o", Data: json.RawMessage(`{"x":1}`)})
	require.Equal(t, webhook.DeliveryDelivered, b.waitAttempts(s, 1).State)
	require.Contains(t, got.Load(), "script:welcome-mail ")
	require.Contains(t, got.Load(), `"data":{"x":1}`)

	bad := &webhook.Subscription{OrganizationID: "o", URL: "https://example.com", Events: []string{"*"}, Type: "nope"}
	err := b.d.CreateSubscription(context.Background(), bad)
	require.ErrorIs(t, err, webhook.ErrInvalidSubscription)
	var ve *webhook.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "type", ve.Field)
}

func TestSenderPanicIsAFailedAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *webhook.Config) {
		c.Senders = map[string]webhook.Sender{"boom": webhook.SenderFunc(func(context.Context, *webhook.Request) (webhook.Response, error) {
			panic("kaboom")
		})}
	})
	s := &webhook.Subscription{OrganizationID: "o", URL: "https://example.com", Events: []string{"*"}, Type: "boom"}
	require.NoError(t, b.d.CreateSubscription(context.Background(), s))
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
	dl := b.waitAttempts(s, 1)
	require.Equal(t, webhook.DeliveryPending, dl.State)
	require.Contains(t, dl.LastError, "kaboom")
}

func TestObserverSeesEveryAttempt(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rcv := newReceiver(t, 500, 200)
	s := b.subscribe("org1", rcv.URL, "*")
	b.dispatch(webhook.Event{Type: "x.y", OrganizationID: "org1"})
	dl := b.waitAttempts(s, 1)
	b.advanceTo(dl.NextAttemptAt)
	b.waitAttempts(s, 2)
	first, second := <-b.infos, <-b.infos
	require.Equal(t, 1, first.Attempt)
	require.Equal(t, 500, first.StatusCode)
	var se *webhook.StatusError
	require.ErrorAs(t, first.Err, &se)
	require.Equal(t, webhook.DeliveryPending, first.Outcome)
	require.Equal(t, 2, second.Attempt)
	require.NoError(t, second.Err)
	require.Equal(t, webhook.DeliveryDelivered, second.Outcome)
	require.Equal(t, "x.y", second.EventType)
	require.Positive(t, second.Latency)
}

func TestRedirectsAreNotFollowed(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *webhook.Config) { c.Retry = &webhook.ExponentialRetry{MaxAttempts: 1} })
	target := newReceiver(t)
	redirect := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	t.Cleanup(redirect.Close)
	s := b.subscribe("o", redirect.URL, "*")
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
	dl := b.waitAttempts(s, 1)
	require.Equal(t, 302, dl.LastStatusCode)
	require.Equal(t, webhook.DeliveryDead, dl.State)
	require.Zero(t, target.count())
}

func TestResponseBodyIsTruncatedInTheLog(t *testing.T) {
	t.Parallel()
	b := setup(t, func(c *webhook.Config) { c.MaxResponseBodyKept = 10 })
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "0123456789abcdefghij")
	}))
	t.Cleanup(srv.Close)
	s := b.subscribe("o", srv.URL, "*")
	b.dispatch(webhook.Event{Type: "a.b", OrganizationID: "o"})
	dl := b.waitAttempts(s, 1)
	attempts, err := b.store.ListAttempts(context.Background(), dl.OrganizationID, dl.ID)
	require.NoError(t, err)
	require.Equal(t, "0123456789", attempts[0].ResponseBody)
}

func TestBadInputChangesNothing(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	ctx := context.Background()
	good := b.subscribe("org1", "https://example.com/hook", "*")
	before, _, err := b.store.ListSubscriptions(ctx, "org1", webhook.Page{})
	require.NoError(t, err)

	events := []struct {
		name  string
		ev    webhook.Event
		field string
	}{
		{"no type", webhook.Event{OrganizationID: "org1"}, "type"},
		{"bad type", webhook.Event{Type: "contact created", OrganizationID: "org1"}, "type"},
		{"no org", webhook.Event{Type: "a.b"}, "organizationId"},
		{"bad json", webhook.Event{Type: "a.b", OrganizationID: "org1", Data: json.RawMessage(`{`)}, "data"},
		{"too big", webhook.Event{Type: "a.b", OrganizationID: "org1", Data: json.RawMessage(`"` + string(make([]byte, defaultMaxDataBytes)) + `"`)}, "data"},
	}
	for _, tc := range events {
		_, err := b.d.Dispatch(ctx, tc.ev)
		require.ErrorIs(t, err, webhook.ErrInvalidEvent, tc.name)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve, tc.name)
		require.Equal(t, tc.field, ve.Field, tc.name)
	}
	subs := []struct {
		name  string
		sub   webhook.Subscription
		field string
	}{
		{"no url", webhook.Subscription{OrganizationID: "org1", Events: []string{"*"}}, "url"},
		{"bad format", webhook.Subscription{OrganizationID: "org1", URL: "https://e.com", Events: []string{"*"}, Format: "nope"}, "format"},
		{"no events", webhook.Subscription{OrganizationID: "org1", URL: "https://e.com"}, "events"},
	}
	for _, tc := range subs {
		s := tc.sub
		err := b.d.CreateSubscription(ctx, &s)
		require.ErrorIs(t, err, webhook.ErrInvalidSubscription, tc.name)
		var ve *webhook.ValidationError
		require.ErrorAs(t, err, &ve, tc.name)
		require.Equal(t, tc.field, ve.Field, tc.name)
		require.Empty(t, s.ID, "an invalid subscription is left unchanged")
	}
	upd := *good
	upd.URL = "ftp://example.com"
	require.ErrorIs(t, b.d.UpdateSubscription(ctx, &upd), webhook.ErrInvalidSubscription)
	upd = *good
	upd.ID = "sub_missing"
	require.ErrorIs(t, b.d.UpdateSubscription(ctx, &upd), webhook.ErrNotFound)
	require.ErrorIs(t, b.d.SetSubscriptionState(ctx, good.OrganizationID, good.ID, "Paused"), webhook.ErrInvalidArgument)
	_, _, err = b.d.ListSubscriptions(ctx, "org1", webhook.Page{Limit: -1})
	require.ErrorIs(t, err, webhook.ErrInvalidArgument)

	after, _, err := b.store.ListSubscriptions(ctx, "org1", webhook.Page{})
	require.NoError(t, err)
	require.Equal(t, before, after)
	evs, _, err := b.store.ListEvents(ctx, webhook.EventFilter{OrganizationID: "org1"})
	require.NoError(t, err)
	require.Empty(t, evs)
}

func TestNewDispatcherRejectsBadConfig(t *testing.T) {
	t.Parallel()
	_, err := webhook.NewDispatcher(nil, nil)
	require.ErrorIs(t, err, webhook.ErrInvalidConfig)
	_, err = webhook.NewDispatcher(memstore.New(), &webhook.Config{Workers: -1})
	var ve *webhook.ValidationError
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "Workers", ve.Field)
	_, err = webhook.NewDispatcher(memstore.New(), &webhook.Config{Timeout: time.Minute, Lease: time.Second})
	require.ErrorAs(t, err, &ve)
	require.Equal(t, "Lease", ve.Field)
}

func TestCloseBeforeStart(t *testing.T) {
	t.Parallel()
	d, err := webhook.NewDispatcher(memstore.New(), nil)
	require.NoError(t, err)
	require.NoError(t, d.Close(context.Background()))
	require.ErrorIs(t, d.Start(context.Background()), webhook.ErrDispatcherClosed)
}

var _ = errors.New
