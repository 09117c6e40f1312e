package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
)

var listingTests = []test{
	{"FollowStateChangesDeletionRecreationAndPruning", testListingsFollowChanges},
}

// testListingsFollowChanges checks the listings by state, by subscription
// and by both, in both orders and page by page, after every kind of
// change that moves a delivery between them: finishing, a retry,
// redelivery, deleting its subscription (its finished deliveries stay
// listed under its ID), re-creating a subscription with that ID (listed
// beside them), and pruning (gone from every listing).
func testListingsFollowChanges(t *testing.T, e *env) {
	ctx := t.Context()
	org := e.org
	a, b := e.createSubscription(t), e.createSubscription(t)
	var all []*webhook.Delivery // in ID order: a's are even, b's odd
	for range 4 {
		_, ds := e.enqueue(t, e.now, a, b)
		if ds[0].ID > ds[1].ID {
			ds[0], ds[1] = ds[1], ds[0]
		}
		all = append(all, ds...)
	}
	slices.SortFunc(all, func(x, y *webhook.Delivery) int { return cmpID(x.ID, y.ID) })
	ids := func(is ...int) []string {
		out := []string{}
		for _, i := range is {
			out = append(out, all[i].ID)
		}
		return out
	}
	pending, delivered, dead := webhook.DeliveryPending, webhook.DeliveryDelivered, webhook.DeliveryDead
	// check lists f's deliveries oldest first, one per page, and newest
	// first, two per page, and compares them with want.
	check := func(step string, f webhook.DeliveryFilter, want []string) {
		t.Helper()
		f.OrganizationID = org
		var got []string
		for _, p := range e.listDeliveryPages(t, f, 1) {
			got = append(got, p...)
		}
		require.Equal(t, want, nonNil(got), "%s: %+v oldest first", step, f)
		f.Order = webhook.NewestFirst
		got = nil
		for _, p := range e.listDeliveryPages(t, f, 2) {
			got = append(got, p...)
		}
		rev := slices.Clone(want)
		slices.Reverse(rev)
		require.Equal(t, rev, nonNil(got), "%s: %+v newest first", step, f)
	}
	owner := func(i int) *webhook.Subscription {
		if all[i].SubscriptionID == a.ID {
			return a
		}
		return b
	}
	require.Equal(t, a, owner(0), "a's deliveries sort first within an event")

	// all[0] delivered, all[1] dead, all[2] retried (pending, attempted).
	e.finishAs(t, e.now, all[0], delivered)
	e.finishAs(t, e.now, all[1], dead)
	e.finishAttempt(t, e.now, all[2], pending, e.now, e.at(time.Minute))
	step := "after finishing"
	check(step, webhook.DeliveryFilter{State: pending}, ids(2, 3, 4, 5, 6, 7))
	check(step, webhook.DeliveryFilter{State: delivered}, ids(0))
	check(step, webhook.DeliveryFilter{State: dead}, ids(1))
	check(step, webhook.DeliveryFilter{SubscriptionID: a.ID}, ids(0, 2, 4, 6))
	check(step, webhook.DeliveryFilter{SubscriptionID: a.ID, State: pending}, ids(2, 4, 6))
	check(step, webhook.DeliveryFilter{SubscriptionID: b.ID, State: dead}, ids(1))
	check(step, webhook.DeliveryFilter{SubscriptionID: b.ID, State: delivered}, ids())

	// Redelivering the delivered one makes it pending again.
	require.NoError(t, e.store.Redeliver(ctx, org, all[0].ID, e.at(time.Second)))
	step = "after a redelivery"
	check(step, webhook.DeliveryFilter{State: pending}, ids(0, 2, 3, 4, 5, 6, 7))
	check(step, webhook.DeliveryFilter{State: delivered}, ids())
	check(step, webhook.DeliveryFilter{SubscriptionID: a.ID, State: pending}, ids(0, 2, 4, 6))

	// Deleting b takes its pending deliveries; its dead one stays, under
	// its ID.
	require.NoError(t, e.store.DeleteSubscription(ctx, org, b.ID))
	step = "after deleting a subscription"
	check(step, webhook.DeliveryFilter{}, ids(0, 1, 2, 4, 6))
	check(step, webhook.DeliveryFilter{State: pending}, ids(0, 2, 4, 6))
	check(step, webhook.DeliveryFilter{SubscriptionID: b.ID}, ids(1))
	check(step, webhook.DeliveryFilter{SubscriptionID: b.ID, State: pending}, ids())
	check(step, webhook.DeliveryFilter{SubscriptionID: b.ID, State: dead}, ids(1))

	// A subscription re-created with b's ID: its deliveries are listed
	// beside the old dead one.
	again := e.newSubscription()
	again.ID = b.ID
	require.NoError(t, e.store.CreateSubscription(ctx, again))
	fresh := e.enqueueOne(t, again, e.now)
	all = append(all, fresh) // all[8]
	step = "after re-creating a subscription"
	check(step, webhook.DeliveryFilter{SubscriptionID: b.ID}, ids(1, 8))
	check(step, webhook.DeliveryFilter{SubscriptionID: b.ID, State: pending}, ids(8))
	check(step, webhook.DeliveryFilter{State: pending}, ids(0, 2, 4, 6, 8))

	// Everything delivered, then pruned: gone from every listing.
	for _, i := range []int{0, 2, 4, 6, 8} {
		e.finishAs(t, e.at(time.Hour), all[i], delivered)
	}
	step = "all finished"
	check(step, webhook.DeliveryFilter{State: delivered}, ids(0, 2, 4, 6, 8))
	check(step, webhook.DeliveryFilter{State: pending}, ids())
	n, err := e.store.Prune(ctx, e.at(24*time.Hour), 100)
	require.NoError(t, err)
	require.Equal(t, 5, n)
	step = "after pruning"
	for _, f := range []webhook.DeliveryFilter{
		{}, {State: pending}, {State: delivered}, {State: dead},
		{SubscriptionID: a.ID}, {SubscriptionID: b.ID}, {SubscriptionID: b.ID, State: dead},
	} {
		check(step, f, ids())
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func cmpID(x, y string) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}
