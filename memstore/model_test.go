package memstore_test

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/memstore"
)

// TestQueueMatchesModel drives the store with random operations and checks
// every Claim and NextDue, and now and then the Stats, against what a
// brute-force reading of the stored records says they should be, so the
// heaps and counters never drift from the records.
func TestQueueMatchesModel(t *testing.T) {
	for seed := range uint64(4) {
		t.Run(fmt.Sprint("seed", seed), func(t *testing.T) { runModel(t, seed) })
	}
}

func runModel(t *testing.T, seed uint64) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(seed, 42))
	s := memstore.New()
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := base
	const org = "org_model"
	var subs []string
	for i := range 6 {
		id := fmt.Sprintf("sub_%02d", i)
		subs = append(subs, id)
		require.NoError(t, s.CreateSubscription(ctx, &webhook.Subscription{
			ID: id, OrganizationID: org, URL: "https://example.com/", Events: []string{"*"}, State: webhook.StateActive,
		}))
	}
	var held []*webhook.Delivery // claimed, maybe stale by now
	var finished []string
	var logged []loggedAttempt // every attempt the store logged
	var cutoff time.Time       // the latest cutoff of Prune
	seq := 0
	nextID := func(prefix string) string { seq++; return fmt.Sprintf("%s%08d", prefix, seq) }

	for step := range 1500 {
		switch op := rng.IntN(12); {
		case op < 3: // enqueue an event to some subscriptions
			ev := &webhook.Event{ID: nextID("evt_"), Type: "x.y", OrganizationID: org, Timestamp: now, Data: []byte(`{}`)}
			var ds []*webhook.Delivery
			for _, sub := range subs {
				if rng.IntN(3) == 0 {
					// Mostly created now, sometimes earlier than the
					// latest ones.
					created := now
					if rng.IntN(4) == 0 {
						created = now.Add(-time.Duration(rng.IntN(10)) * time.Second)
					}
					ds = append(ds, &webhook.Delivery{
						ID: nextID("dlv_"), EventID: ev.ID, OrganizationID: org, SubscriptionID: sub,
						NextAttemptAt: now.Add(time.Duration(rng.IntN(20)-10) * time.Second), CreatedAt: created,
					})
				}
			}
			_, err := s.Enqueue(ctx, ev, ds)
			require.NoError(t, err)
		case op < 6: // claim
			p := webhook.ClaimParams{
				Now:                now,
				Limit:              1 + rng.IntN(5),
				Lease:              time.Duration(1+rng.IntN(20)) * time.Second,
				MaxPerSubscription: rng.IntN(3),
			}
			for _, sub := range subs {
				if rng.IntN(5) == 0 {
					p.Exclude = append(p.Exclude, sub)
				}
			}
			want := modelClaim(t, s, p)
			got, err := s.Claim(ctx, p)
			require.NoError(t, err)
			ids := make([]string, len(got))
			for i, d := range got {
				ids[i] = d.ID
			}
			require.Equal(t, want, ids, "step %d: Claim(%+v)", step, p)
			held = append(held, got...)
		case op < 8 && len(held) > 0: // finish a claimed delivery
			i := rng.IntN(len(held))
			d := held[i]
			held = slices.Delete(held, i, i+1)
			o := webhook.Outcome{DeliveryID: d.ID, Lease: d.Lease}
			switch rng.IntN(4) {
			case 0:
				o.State = webhook.DeliveryDelivered
			case 1:
				o.State = webhook.DeliveryDead
			case 2:
				o.State = webhook.DeliveryPending
				o.NextAttemptAt = now.Add(time.Duration(rng.IntN(10)) * time.Second)
			case 3:
				o.State = webhook.DeliveryPending // release
			}
			if o.NextAttemptAt.IsZero() || rng.IntN(2) == 0 {
				outcome := o.State
				if rng.IntN(3) == 0 {
					outcome = webhook.DeliveryDelivered
				}
				// Made up to an hour ago: its Finish may be late.
				at := now.Add(-time.Duration(rng.IntN(3600)) * time.Second)
				o.Attempt = &webhook.Attempt{DeliveryID: d.ID, Number: d.Attempts + 1, At: at, StatusCode: 200 + rng.IntN(400), Outcome: outcome}
			}
			if _, err := s.GetDelivery(ctx, org, d.ID); err == nil && o.Attempt != nil {
				logged = append(logged, loggedAttempt{d.SubscriptionID, *o.Attempt})
			}
			require.NoError(t, s.Finish(ctx, now, []webhook.Outcome{o}))
			if o.State != webhook.DeliveryPending {
				finished = append(finished, d.ID)
			}
		case op < 10: // time passes, sometimes much
			if rng.IntN(20) == 0 {
				now = now.Add(time.Duration(rng.IntN(90)) * time.Minute)
			}
			now = now.Add(time.Duration(rng.IntN(4000)) * time.Millisecond)
		case op < 11: // a subscription changes state, or old events are pruned
			if rng.IntN(4) == 0 {
				before := now.Add(-time.Duration(rng.IntN(7200)) * time.Second)
				_, err := s.Prune(ctx, before, 1+rng.IntN(5))
				require.NoError(t, err)
				if before.After(cutoff) {
					cutoff = before
				}
				break
			}
			state := []webhook.State{webhook.StateActive, webhook.StateStopped, webhook.StateTooManyErrors}[rng.IntN(3)]
			require.NoError(t, s.SetSubscriptionState(ctx, org, subs[rng.IntN(len(subs))], state, now))
		case len(finished) > 0: // redeliver
			i := rng.IntN(len(finished))
			id := finished[i]
			finished = slices.Delete(finished, i, i+1)
			d, err := s.GetDelivery(ctx, org, id)
			if errors.Is(err, webhook.ErrNotFound) {
				break // pruned
			}
			require.NoError(t, err)
			if d.State != webhook.DeliveryPending {
				require.NoError(t, s.Redeliver(ctx, org, id, now))
			}
		}
		checkNextDue(t, s, now, step)
		if step%10 == 0 {
			checkStats(t, s, org, subs, logged, now.Add(-time.Duration(step%3)*time.Hour), cutoff, step)
		}
	}
}

// loggedAttempt is an attempt that the store logged for a subscription.
type loggedAttempt struct {
	sub string
	webhook.Attempt
}

// checkStats compares the Stats since since of every subscription and of
// the organization with what the stored deliveries say and the attempts
// logged. Since is moved up to the hour of Prune's latest cutoff, before
// which the counts may have been dropped.
func checkStats(t *testing.T, s *memstore.Store, org string, subs []string, logged []loggedAttempt, since, cutoff time.Time, step int) {
	t.Helper()
	ctx := t.Context()
	if cutoff.After(since) {
		since = cutoff
	}
	hour := since.Truncate(time.Hour)
	want := map[string]*webhook.Stats{"": {}}
	for _, sub := range subs {
		want[sub] = &webhook.Stats{}
	}
	f := webhook.DeliveryFilter{OrganizationID: org, Page: webhook.Page{Limit: webhook.MaxPageLimit}}
	var all []*webhook.Delivery
	for {
		ds, next, err := s.ListDeliveries(ctx, f)
		require.NoError(t, err)
		all = append(all, ds...)
		if next == "" {
			break
		}
		f.Page.Cursor = next
	}
	for _, d := range all {
		for _, w := range []*webhook.Stats{want[d.SubscriptionID], want[""]} {
			switch d.State {
			case webhook.DeliveryPending:
				w.Pending++
				waiting := d.CreatedAt
				if !d.RedeliveredAt.IsZero() {
					waiting = d.RedeliveredAt
				}
				if w.OldestPendingAt.IsZero() || waiting.Before(w.OldestPendingAt) {
					w.OldestPendingAt = waiting
				}
			case webhook.DeliveryDelivered:
				w.Delivered++
			case webhook.DeliveryDead:
				w.Dead++
			}
		}
	}
	for _, a := range logged {
		for _, w := range []*webhook.Stats{want[a.sub], want[""]} {
			if !a.At.Before(hour) {
				w.Attempts++
				if a.Outcome != webhook.DeliveryDelivered {
					w.Failures++
				}
			}
			if !a.At.Before(w.LastAttemptAt) {
				w.LastAttemptAt, w.LastStatusCode = a.At, a.StatusCode
			}
		}
	}
	for id, w := range want {
		got, err := s.Stats(ctx, webhook.StatsFilter{OrganizationID: org, SubscriptionID: id, Since: since})
		require.NoError(t, err)
		require.Equal(t, [2]int64{w.Attempts, w.Failures}, [2]int64{got.Attempts, got.Failures},
			"step %d: attempts and failures of %q since %v", step, id, hour)
		require.True(t, w.LastAttemptAt.Equal(got.LastAttemptAt), "step %d: LastAttemptAt of %q", step, id)
		if id != "" {
			// For the organization, a tie of two subscriptions' may
			// give either's.
			require.Equal(t, w.LastStatusCode, got.LastStatusCode, "step %d: LastStatusCode of %q", step, id)
		}
		require.Equal(t, [3]int64{w.Pending, w.Delivered, w.Dead}, [3]int64{got.Pending, got.Delivered, got.Dead},
			"step %d: counts of %q", step, id)
		require.True(t, w.OldestPendingAt.Equal(got.OldestPendingAt),
			"step %d: OldestPendingAt of %q: want %v, got %v", step, id, w.OldestPendingAt, got.OldestPendingAt)
	}
}

// claimable returns the pending deliveries of Active subscriptions that a
// Claim at now may take, in due order (ties by ID, as memstore breaks
// them).
func claimable(t *testing.T, s *memstore.Store, now time.Time, dueOnly bool) []*webhook.Delivery {
	t.Helper()
	var out []*webhook.Delivery
	active := map[string]bool{}
	f := webhook.DeliveryFilter{OrganizationID: "org_model", State: webhook.DeliveryPending, Page: webhook.Page{Limit: webhook.MaxPageLimit}}
	for {
		ds, next, err := s.ListDeliveries(t.Context(), f)
		require.NoError(t, err)
		for _, d := range ds {
			a, ok := active[d.SubscriptionID]
			if !ok {
				sub, err := s.GetSubscription(t.Context(), d.OrganizationID, d.SubscriptionID)
				require.NoError(t, err)
				a = sub.State == webhook.StateActive
				active[d.SubscriptionID] = a
			}
			if !a {
				continue
			}
			if dueOnly && (d.NextAttemptAt.After(now) || d.LeasedUntil.After(now)) {
				continue
			}
			out = append(out, d)
		}
		if next == "" {
			break
		}
		f.Page.Cursor = next
	}
	slices.SortFunc(out, func(a, b *webhook.Delivery) int {
		return cmp.Or(a.NextAttemptAt.Compare(b.NextAttemptAt), strings.Compare(a.ID, b.ID))
	})
	return out
}

func modelClaim(t *testing.T, s *memstore.Store, p webhook.ClaimParams) []string {
	t.Helper()
	want := []string{}
	per := map[string]int{}
	for _, d := range claimable(t, s, p.Now, true) {
		if len(want) == p.Limit {
			break
		}
		if slices.Contains(p.Exclude, d.SubscriptionID) || (p.MaxPerSubscription > 0 && per[d.SubscriptionID] >= p.MaxPerSubscription) {
			continue
		}
		per[d.SubscriptionID]++
		want = append(want, d.ID)
	}
	return want
}

// checkNextDue compares NextDue with the least of max(NextAttemptAt,
// LeasedUntil). A lease that expired before the latest Claim may count as
// its NextAttemptAt instead: both are past, so either way work is due now.
func checkNextDue(t *testing.T, s *memstore.Store, now time.Time, step int) {
	t.Helper()
	var want time.Time
	for _, d := range claimable(t, s, now, false) {
		due := d.NextAttemptAt
		if d.LeasedUntil.After(due) {
			due = d.LeasedUntil
		}
		if want.IsZero() || due.Before(want) {
			want = due
		}
	}
	got, ok, err := s.NextDue(t.Context())
	require.NoError(t, err)
	require.Equal(t, !want.IsZero(), ok, "step %d: NextDue ok", step)
	if want.After(now) || got.After(now) {
		require.True(t, want.Equal(got), "step %d: NextDue = %v, want %v", step, got, want)
	}
}
