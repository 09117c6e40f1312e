package webhook_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
	"github.com/relayhook/webhook/webhooktest"
)

// TestAnotherOrganizationsRecordsAreNotFound: every read and write of the
// Dispatcher that names a subscription, delivery or event of organization A
// answers ErrNotFound for organization B, exactly as for a missing ID, and
// changes nothing.
func TestAnotherOrganizationsRecordsAreNotFound(t *testing.T) {
	t.Parallel()
	b := setup(t, nil)
	rcv := newReceiver(t, 500)
	ctx := context.Background()
	sub := b.subscribe("orgA", rcv.URL, "*")
	res := b.dispatch(webhook.Event{Type: "contact.created", OrganizationID: "orgA", Data: json.RawMessage(`{"id":1}`)})
	dl := b.waitAttempts(sub, 1)

	const other = "orgB"
	notFound := map[string]error{}
	notFound["GetSubscription"] = second(b.d.GetSubscription(ctx, other, sub.ID))
	notFound["DeleteSubscription"] = b.d.DeleteSubscription(ctx, other, sub.ID)
	notFound["SetSubscriptionState"] = b.d.SetSubscriptionState(ctx, other, sub.ID, webhook.StateStopped)
	notFound["RotateSecret"] = second(b.d.RotateSecret(ctx, other, sub.ID, ""))
	forged := sub.Clone()
	forged.OrganizationID, forged.Name = other, "taken over"
	notFound["UpdateSubscription"] = b.d.UpdateSubscription(ctx, forged)
	_, _, err := b.d.GetDelivery(ctx, other, dl.ID)
	notFound["GetDelivery"] = err
	notFound["Redeliver"] = b.d.Redeliver(ctx, other, dl.ID)
	_, _, err = b.d.GetEvent(ctx, other, res.EventID)
	notFound["GetEvent"] = err
	notFound["Stats"] = second(b.d.Stats(ctx, other, sub.ID, 0))
	notFound["RedeliverAll"] = second(b.d.RedeliverAll(ctx, webhook.RedeliverFilter{OrganizationID: other, SubscriptionID: sub.ID}))
	notFound["Replay"] = second(b.d.Replay(ctx, other, sub.ID, time.Time{}, time.Time{}))
	for name, err := range notFound {
		require.ErrorIs(t, err, webhook.ErrNotFound, name)
	}

	// A missing ID reads the same as another organization's.
	_, errMissing := b.d.GetSubscription(ctx, "orgA", "sub_missing")
	require.Equal(t, errMissing.Error(), strings.ReplaceAll(notFound["GetSubscription"].Error(), sub.ID, "sub_missing"))

	ds, _, err := b.d.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: other, SubscriptionID: sub.ID})
	require.NoError(t, err)
	require.Empty(t, ds)
	ds, _, err = b.d.ListDeliveries(ctx, webhook.DeliveryFilter{OrganizationID: other, EventID: res.EventID})
	require.NoError(t, err)
	require.Empty(t, ds)
	evs, _, err := b.d.ListEvents(ctx, webhook.EventFilter{OrganizationID: other})
	require.NoError(t, err)
	require.Empty(t, evs)
	subs, _, err := b.d.ListSubscriptions(ctx, other, webhook.Page{})
	require.NoError(t, err)
	require.Empty(t, subs)

	// Nothing changed for A.
	got, err := b.d.GetSubscription(ctx, "orgA", sub.ID)
	require.NoError(t, err)
	require.Equal(t, sub.Name, got.Name)
	require.Equal(t, sub.Secret, got.Secret)
	require.Equal(t, webhook.StateActive, got.State)
	ev, evDeliveries, err := b.d.GetEvent(ctx, "orgA", res.EventID)
	require.NoError(t, err)
	require.Equal(t, "contact.created", ev.Type)
	require.Len(t, evDeliveries, 1)
	require.Equal(t, dl.ID, evDeliveries[0].ID)
	require.Equal(t, "contact.created", evDeliveries[0].EventType)
	st, err := b.d.Stats(ctx, "orgA", sub.ID, time.Hour)
	require.NoError(t, err)
	require.EqualValues(t, 1, st.Pending)
	require.EqualValues(t, 1, st.Attempts)
	require.EqualValues(t, 1, st.Failures)
	require.Equal(t, 500, st.LastStatusCode)
}

func second[T any](_ T, err error) error { return err }

// TestWritesAfterCloseAreRefused: every method that writes returns
// ErrDispatcherClosed once Close was called.
func TestWritesAfterCloseAreRefused(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	d, err := webhook.NewDispatcher(memstore.New(), &webhook.Config{Retention: -1})
	require.NoError(t, err)
	sub := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"}}
	require.NoError(t, d.CreateSubscription(ctx, sub))
	require.NoError(t, d.Close(ctx))

	again := &webhook.Subscription{OrganizationID: "o", URL: "https://hooks.example.com/in", Events: []string{"*"}}
	for name, err := range map[string]error{
		"CreateSubscription":   d.CreateSubscription(ctx, again),
		"UpdateSubscription":   d.UpdateSubscription(ctx, sub.Clone()),
		"DeleteSubscription":   d.DeleteSubscription(ctx, "o", sub.ID),
		"SetSubscriptionState": d.SetSubscriptionState(ctx, "o", sub.ID, webhook.StateStopped),
		"RotateSecret":         second(d.RotateSecret(ctx, "o", sub.ID, "")),
		"Redeliver":            d.Redeliver(ctx, "o", "dlv_x"),
		"RedeliverAll":         second(d.RedeliverAll(ctx, webhook.RedeliverFilter{OrganizationID: "o", SubscriptionID: sub.ID})),
		"Replay":               second(d.Replay(ctx, "o", sub.ID, time.Time{}, time.Time{})),
		"Dispatch":             second(d.Dispatch(ctx, webhook.Event{Type: "a.b", OrganizationID: "o"})),
	} {
		require.ErrorIs(t, err, webhook.ErrDispatcherClosed, name)
	}
	got, err := d.GetSubscription(ctx, "o", sub.ID)
	require.NoError(t, err, "reads still work")
	require.Equal(t, webhook.StateActive, got.State)
}

// hungStore is a Store whose Finish hangs until its context ends, as a
// database that stopped answering does.
type hungStore struct {
	webhook.Store
	finishing atomic.Int32
}

func (s *hungStore) Finish(ctx context.Context, _ time.Time, _ []webhook.Outcome) error {
	s.finishing.Add(1)
	<-ctx.Done()
	return ctx.Err()
}

// TestCloseReturnsWithinItsContextWhenTheStoreHangs: Close returns soon
// after its context ends even though the Store never answers, and the
// delivery whose outcome was not written is tried again (not lost).
func TestCloseReturnsWithinItsContextWhenTheStoreHangs(t *testing.T) {
	t.Parallel()
	inner := memstore.New()
	store := &hungStore{Store: inner}
	cfg := &webhook.Config{Clock: webhooktest.NewClock(t0), Workers: 2, Retention: -1, Timeout: time.Second, Lease: time.Minute}
	allowLoopback(cfg)
	d, err := webhook.NewDispatcher(store, cfg)
	require.NoError(t, err)
	rcv := newReceiver(t)
	s := &webhook.Subscription{OrganizationID: "o", URL: rcv.URL, Events: []string{"*"}}
	require.NoError(t, d.CreateSubscription(context.Background(), s))
	_, err = d.Dispatch(context.Background(), webhook.Event{Type: "a.b", OrganizationID: "o"})
	require.NoError(t, err)
	require.NoError(t, d.Start(context.Background()))
	require.Eventually(t, func() bool { return store.finishing.Load() > 0 }, 5*time.Second, time.Millisecond)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	err = d.Close(ctx)
	took := time.Since(start)
	require.True(t, errors.Is(err, context.DeadlineExceeded), "Close: %v", err)
	require.Less(t, took, 2*time.Second, "Close returns soon after its context ends")

	ds, _, err := inner.ListDeliveries(context.Background(), webhook.DeliveryFilter{OrganizationID: "o"})
	require.NoError(t, err)
	require.Len(t, ds, 1)
	require.Equal(t, webhook.DeliveryPending, ds[0].State, "not lost: tried again once its lease expires")
}
