package webhooktest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/webhooktest"
)

var start = time.Date(2026, 1, 24, 9, 42, 59, 0, time.UTC)

func dispatch(t *testing.T, td *webhooktest.Dispatcher, ev webhook.Event) webhook.DispatchResult {
	t.Helper()
	res, err := td.Dispatch(context.Background(), ev)
	require.NoError(t, err)
	return res
}

// signedAt returns the webhook-timestamp of each request.
func signedAt(t *testing.T, reqs []webhooktest.Request) []time.Duration {
	t.Helper()
	out := make([]time.Duration, len(reqs))
	for i, r := range reqs {
		unix, err := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
		require.NoError(t, err)
		out[i] = time.Unix(unix, 0).Sub(start)
	}
	return out
}

func TestRetriesFollowTheFakeClock(t *testing.T) {
	t.Parallel()
	td := webhooktest.NewDispatcher(t, nil)
	require.Equal(t, start, td.Clock.Now())
	rcv := td.NewReceiver(t, nil)
	rcv.Script(webhooktest.Statuses(500, 503, 200)...)
	sub := td.Subscribe(t, rcv, "org_1", "contact.*")
	dispatch(t, td, webhook.Event{ID: "evt_1", Type: "contact.created", OrganizationID: "org_1", Data: json.RawMessage(`{"id":1}`)})

	td.WaitIdle(t)
	require.Equal(t, 1, rcv.Len())
	dl := td.Deliveries(t, "org_1", sub.ID)[0]
	require.Equal(t, webhook.DeliveryPending, dl.State)
	require.Equal(t, 1, dl.Attempts)
	require.Equal(t, start.Add(5*time.Second), dl.NextAttemptAt, "no jitter: the first retry after exactly 5s")

	td.Advance(t, 4*time.Second)
	require.Equal(t, 1, rcv.Len(), "not due yet")
	td.Advance(t, time.Second)
	require.Equal(t, 2, rcv.Len())
	require.Equal(t, start.Add(5*time.Second), td.Clock.Now())

	moved := td.AdvanceUntilIdle(t)
	require.Equal(t, 15*time.Second, moved)
	reqs := rcv.Requests()
	require.Len(t, reqs, 3)
	require.Equal(t, []time.Duration{0, 5 * time.Second, 20 * time.Second}, signedAt(t, reqs))
	for _, r := range reqs {
		require.True(t, r.Verified, "verified against the fake clock: %v", r.VerifyErr)
		require.Equal(t, "evt_1", r.ID())
	}
	dl = td.Deliveries(t, "org_1", sub.ID)[0]
	require.Equal(t, webhook.DeliveryDelivered, dl.State)
	require.Equal(t, 3, dl.Attempts)
}

func TestAdvanceToStopsAtEveryRetry(t *testing.T) {
	t.Parallel()
	td := webhooktest.NewDispatcher(t, nil)
	rcv := td.NewReceiver(t, nil)
	rcv.Script(webhooktest.Statuses(500)...)
	sub := td.Subscribe(t, rcv, "org_1", "*")
	dispatch(t, td, webhook.Event{Type: "a.b", OrganizationID: "org_1"})

	// Jumping an hour ahead makes the retries due in that hour, each at
	// its own time.
	td.Advance(t, time.Hour)
	require.Equal(t, start.Add(time.Hour), td.Clock.Now())
	require.Equal(t, []time.Duration{0, 5 * time.Second, 20 * time.Second, 65 * time.Second, 200 * time.Second, 605 * time.Second, 1820 * time.Second},
		signedAt(t, rcv.Requests()))
	dl := td.Deliveries(t, "org_1", sub.ID)[0]
	require.Equal(t, start.Add(5465*time.Second), dl.NextAttemptAt)
}

func TestAdvanceUntilIdleRunsTheScheduleOut(t *testing.T) {
	t.Parallel()
	td := webhooktest.NewDispatcher(t, nil)
	rcv := td.NewReceiver(t, nil)
	rcv.Script(webhooktest.Statuses(500)...)
	sub := td.Subscribe(t, rcv, "org_1", "*")
	dispatch(t, td, webhook.Event{Type: "a.b", OrganizationID: "org_1"})

	moved := td.AdvanceUntilIdle(t)
	require.Equal(t, webhook.DefaultRetryPolicy().MaxElapsedTime, moved, "the last retry is at 24h")
	dl := td.Deliveries(t, "org_1", sub.ID)[0]
	require.Equal(t, webhook.DeliveryDead, dl.State)
	require.Equal(t, rcv.Len(), dl.Attempts)
	require.Equal(t, 14, dl.Attempts)
	_, attempts, err := td.GetDelivery(context.Background(), "org_1", dl.ID)
	require.NoError(t, err)
	require.Len(t, attempts, 14)
	require.Equal(t, start.Add(24*time.Hour), attempts[13].At)
}

func TestTooManyErrorsIsNotifiedBeforeWaitIdleReturns(t *testing.T) {
	t.Parallel()
	var told []webhook.Notification
	td := webhooktest.NewDispatcher(t, &webhook.Config{
		FailureThreshold: 3,
		Notifier: webhook.NotifierFunc(func(_ context.Context, n webhook.Notification) {
			told = append(told, n) // WaitIdle orders this before the test reads it
		}),
	})
	rcv := td.NewReceiver(t, nil)
	rcv.Script(webhooktest.Statuses(500)...)
	sub := td.SubscribeWith(t, rcv, &webhook.Subscription{OrganizationID: "org_1", Events: []string{"*"}, ErrorsEmail: "ops@example.com"})
	dispatch(t, td, webhook.Event{Type: "a.b", OrganizationID: "org_1"})

	td.AdvanceUntilIdle(t)
	require.Equal(t, 3, rcv.Len(), "nothing is sent after the third failure")
	notes := td.Notifications()
	require.Len(t, notes, 1)
	require.Equal(t, webhook.StateTooManyErrors, notes[0].State)
	require.Equal(t, "ops@example.com", notes[0].Email)
	require.Equal(t, notes, told, "the host's Notifier is told too")
	got, err := td.GetSubscription(context.Background(), "org_1", sub.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.StateTooManyErrors, got.State)
	require.Equal(t, webhook.DeliveryPending, td.Deliveries(t, "org_1", sub.ID)[0].State, "it waits for re-activation")

	// Re-activated, the waiting delivery goes out at its retry time.
	rcv.Script(webhooktest.Statuses(200)...)
	require.NoError(t, td.SetSubscriptionState(context.Background(), "org_1", sub.ID, webhook.StateActive))
	td.AdvanceUntilIdle(t)
	require.Equal(t, 4, rcv.Len())
	require.Equal(t, webhook.DeliveryDelivered, td.Deliveries(t, "org_1", sub.ID)[0].State)
}

func TestRetryAfterMovesTheSchedule(t *testing.T) {
	t.Parallel()
	td := webhooktest.NewDispatcher(t, nil)
	rcv := td.NewReceiver(t, nil)
	rcv.Script(webhooktest.Reply{Status: http.StatusTooManyRequests, RetryAfter: "120"}, webhooktest.Reply{})
	td.Subscribe(t, rcv, "org_1", "*")
	dispatch(t, td, webhook.Event{Type: "a.b", OrganizationID: "org_1"})
	require.Equal(t, 120*time.Second, td.AdvanceUntilIdle(t))
	require.Equal(t, 2, rcv.Len())
}

func TestHangingEndpointTimesOutWhileAHealthyOneIsServed(t *testing.T) {
	t.Parallel()
	td := webhooktest.NewDispatcher(t, &webhook.Config{Timeout: 200 * time.Millisecond})
	slow := td.NewReceiver(t, nil)
	slow.Script(webhooktest.Reply{Hang: true}, webhooktest.Reply{})
	fast := td.NewReceiver(t, nil)
	slowSub := td.Subscribe(t, slow, "org_1", "*")
	td.Subscribe(t, fast, "org_1", "*")
	dispatch(t, td, webhook.Event{Type: "a.b", OrganizationID: "org_1"})

	fast.WaitFor(t, 1, time.Second)
	td.WaitIdle(t)
	dl := td.Deliveries(t, "org_1", slowSub.ID)[0]
	require.Equal(t, webhook.DeliveryPending, dl.State)
	require.Contains(t, dl.LastError, "deadline exceeded")
	require.Zero(t, slow.Requests()[0].Status)

	td.AdvanceUntilIdle(t)
	require.Equal(t, webhook.DeliveryDelivered, td.Deliveries(t, "org_1", slowSub.ID)[0].State)
	require.Equal(t, 1, fast.Len())
}

func TestWaitIdleFailsWithASummary(t *testing.T) {
	t.Parallel()
	td := webhooktest.NewDispatcher(t, &webhook.Config{Timeout: time.Second})
	td.WaitTimeout = 100 * time.Millisecond
	rcv := td.NewReceiver(t, nil)
	rcv.Script(webhooktest.Reply{Hang: true})
	td.Subscribe(t, rcv, "org_1", "*")
	res := dispatch(t, td, webhook.Event{Type: "a.b", OrganizationID: "org_1"})
	rcv.WaitFor(t, 1, time.Second)
	msg := failure(t, td.WaitIdle)
	require.Contains(t, msg, "dispatcher still busy after 100ms at 2026-01-24T09:42:59Z")
	require.Contains(t, msg, "1 claimed, 0 outcomes stored")
	require.Contains(t, msg, "event="+res.EventID)
	require.Contains(t, msg, "leased until")
}

func TestManyEventsAndSubscriptions(t *testing.T) {
	t.Parallel()
	td := webhooktest.NewDispatcher(t, &webhook.Config{MaxPerSubscription: 2})
	flaky := td.NewReceiver(t, nil)
	flaky.Script(webhooktest.Statuses(500, 500, 200)...)
	ok := td.NewReceiver(t, nil)
	td.Subscribe(t, flaky, "org_1", "*")
	td.Subscribe(t, ok, "org_1", "*")
	for range 20 {
		dispatch(t, td, webhook.Event{Type: "a.b", OrganizationID: "org_1"})
	}
	td.AdvanceUntilIdle(t)
	require.Equal(t, 20, ok.Len())
	require.Equal(t, 22, flaky.Len(), "two failures, then every delivery succeeds")
	for _, dl := range td.Deliveries(t, "org_1", "") {
		require.Equal(t, webhook.DeliveryDelivered, dl.State)
	}
}

func TestNewDispatcherRejectsAnotherClock(t *testing.T) {
	t.Parallel()
	msg := failure(t, func(tb testing.TB) {
		webhooktest.NewDispatcher(tb, &webhook.Config{Clock: webhook.SystemClock{}})
	})
	require.Contains(t, msg, "needs a *webhooktest.Clock")
}

func TestSubscribeMakesAPlainReceiverUseTheFakeClock(t *testing.T) {
	t.Parallel()
	td := webhooktest.NewDispatcher(t, nil)
	rcv := webhooktest.NewReceiver(t, nil) // not td.NewReceiver
	td.Subscribe(t, rcv, "org_1", "*")
	dispatch(t, td, webhook.Event{Type: "a.b", OrganizationID: "org_1"})
	r := rcv.WaitFor(t, 1, 5*time.Second)[0]
	require.True(t, r.Verified, "%v", r.VerifyErr)
	require.Equal(t, start, r.Received)
}

func TestRedeliverNumbersOnAndMarksTheFirstAttemptManual(t *testing.T) {
	t.Parallel()
	td := webhooktest.NewDispatcher(t, &webhook.Config{Retry: &webhook.ExponentialRetry{RandomizationFactor: -1, MaxAttempts: 2}})
	rcv := td.NewReceiver(t, nil)
	rcv.Script(webhooktest.Statuses(500, 500, 500, 200)...)
	sub := td.Subscribe(t, rcv, "org_1", "*")
	dispatch(t, td, webhook.Event{Type: "a.b", OrganizationID: "org_1"})
	td.AdvanceUntilIdle(t)
	dl := td.Deliveries(t, "org_1", sub.ID)[0]
	require.Equal(t, webhook.DeliveryDead, dl.State)
	require.Equal(t, 2, dl.Attempts)

	// Another organization's delivery is not found, exactly as a missing
	// one.
	require.ErrorIs(t, td.Redeliver(context.Background(), "org_2", dl.ID), webhook.ErrNotFound)
	require.Empty(t, td.Deliveries(t, "org_2", ""))

	// Redelivered by hand: the numbers go on, the first attempt is
	// Manual, and the retry schedule starts again (MaxAttempts counts
	// from the redelivery).
	redeliveredAt := td.Clock.Now()
	require.NoError(t, td.Redeliver(context.Background(), "org_1", dl.ID))
	require.Equal(t, 5*time.Second, td.AdvanceUntilIdle(t), "one retry, 5s after the manual attempt")
	require.Equal(t, 4, rcv.Len())
	dl, attempts, err := td.GetDelivery(context.Background(), "org_1", dl.ID)
	require.NoError(t, err)
	require.Equal(t, webhook.DeliveryDelivered, dl.State)
	require.Equal(t, 4, dl.Attempts)
	require.Equal(t, redeliveredAt, dl.RedeliveredAt)
	require.Len(t, attempts, 4)
	for i, a := range attempts {
		require.Equal(t, i+1, a.Number)
		require.Equal(t, i == 2, a.Manual, "attempt %d", a.Number)
	}
	require.Equal(t, redeliveredAt, attempts[2].At)
	require.Equal(t, redeliveredAt.Add(5*time.Second), attempts[3].At)
	require.Equal(t, webhook.DeliveryDelivered, attempts[3].Outcome)
}

func TestDeliveriesAreListedPerOrganization(t *testing.T) {
	t.Parallel()
	td := webhooktest.NewDispatcher(t, nil)
	rcv := td.NewReceiver(t, nil)
	sub1 := td.Subscribe(t, rcv, "org_1", "*")
	sub2 := td.Subscribe(t, rcv, "org_2", "*")
	dispatch(t, td, webhook.Event{ID: "evt_1", Type: "a.b", OrganizationID: "org_1"})
	dispatch(t, td, webhook.Event{ID: "evt_2", Type: "a.b", OrganizationID: "org_2"})
	td.WaitIdle(t)
	require.Equal(t, 2, rcv.Len())

	for org, sub := range map[string]*webhook.Subscription{"org_1": sub1, "org_2": sub2} {
		ds := td.Deliveries(t, org, "")
		require.Len(t, ds, 1, org)
		require.Equal(t, sub.ID, ds[0].SubscriptionID)
		require.Equal(t, org, ds[0].OrganizationID)
		require.Equal(t, "a.b", ds[0].EventType)
		require.Equal(t, webhook.DeliveryDelivered, ds[0].State)
	}
	require.Empty(t, td.Deliveries(t, "org_1", sub2.ID), "another organization's subscription")
}
