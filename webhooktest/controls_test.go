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
	rcv := td.NewReceiver(t)
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
