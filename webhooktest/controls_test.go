package webhooktest_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/webhooktest"
)

// TestFilteredAndCappedSubscription: the delivery controls pass through
// SubscribeWith, as a host's unit test would set them.
func TestFilteredAndCappedSubscription(t *testing.T) {
	t.Parallel()
	td := webhooktest.NewDispatcher(t, nil)
	rcv := td.NewReceiver(t, nil)
	td.SubscribeWith(t, rcv, &webhook.Subscription{OrganizationID: "org_1", Events: []string{"sale.*"},
		Filter: json.RawMessage(`{"data.amount": {"$gte": 100}}`), MaxConcurrency: 1})
	for _, amount := range []string{"50", "150", "99", "100"} {
		res := dispatch(t, td, webhook.Event{Type: "sale.changed", OrganizationID: "org_1", Data: json.RawMessage(`{"amount":` + amount + `}`)})
		require.Equal(t, map[string]int{"50": 0, "150": 1, "99": 0, "100": 1}[amount], res.Enqueued, amount)
	}
	reqs := rcv.WaitFor(t, 2, 5*time.Second)
	td.WaitIdle(t)
	require.Len(t, rcv.Requests(), 2)
	for _, r := range reqs {
		var body struct {
			Data struct {
				Amount int `json:"amount"`
			} `json:"data"`
		}
		require.NoError(t, json.Unmarshal(r.JSON, &body))
		require.GreaterOrEqual(t, body.Data.Amount, 100)
	}
}

// TestRateLimitHeldOverAMinute: 700 events to a subscription limited to
// 10 requests a second go out one every 100 ms on the fake clock, within
// 10% of 600 in a minute, while an unlimited subscription beside it gets
// all 700 at once.
func TestRateLimitHeldOverAMinute(t *testing.T) {
	t.Parallel()
	td := webhooktest.NewDispatcher(t, &webhook.Config{Workers: 8})
	limited, free := td.NewReceiver(t, nil), td.NewReceiver(t, nil)
	td.SubscribeWith(t, limited, &webhook.Subscription{OrganizationID: "org_1", Events: []string{"*"},
		RateLimit: &webhook.RateLimit{Requests: 10, Per: webhook.PerSecond}})
	td.Subscribe(t, free, "org_1", "*")
	for range 700 {
		dispatch(t, td, webhook.Event{Type: "a.b", OrganizationID: "org_1"})
	}
	td.WaitIdle(t)
	require.Equal(t, 700, free.Len(), "the unlimited subscription is not held back")
	require.Equal(t, 1, limited.Len(), "one request at the start")

	td.Advance(t, time.Minute-time.Millisecond)
	n := limited.Len()
	require.InDelta(t, 600, n, 60, "requests in a minute at 10/s")
	require.Equal(t, 600, n, "one every 100 ms")
	// Evenly spread: 10 in each second the signatures show.
	perSecond := map[time.Duration]int{}
	stamps := signedAt(t, limited.Requests())
	for _, at := range stamps {
		perSecond[at]++
	}
	require.Len(t, perSecond, 60)
	for at, k := range perSecond {
		require.Equal(t, 10, k, "requests signed in second %v", at)
	}
	require.Equal(t, 59*time.Second, stamps[len(stamps)-1]-stamps[0], "first to last, to the second the signature shows")
}
