package webhook_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/webhooktest"
)

// In a host's test, package webhooktest gives a dispatcher on a fake clock
// and a recording receiver: the retry schedule runs without sleeping, and
// every time is exact. (Here t stands in for the test's *testing.T.)
func Example_webhooktest() {
	t := &exampleTB{}
	defer t.cleanup()
	ctx := context.Background()

	td := webhooktest.NewDispatcher(t, nil)
	rcv := td.NewReceiver(t, nil)
	rcv.Script(webhooktest.Statuses(503, 500, 200)...) // fails twice
	sub := td.Subscribe(t, rcv, "org_1", "sale.*")

	if _, err := td.Dispatch(ctx, webhook.Event{
		ID: "evt_sale_9", Type: "sale.changed", OrganizationID: "org_1",
		Data: json.RawMessage(`{"id":9,"amount":1200}`),
	}); err != nil {
		panic(err)
	}
	td.WaitIdle(t) // the first attempt is made and its outcome stored
	dl := td.Deliveries(t, sub.OrganizationID, sub.ID)[0]
	fmt.Println("after the first attempt:", dl.State, dl.LastStatusCode, "next in", dl.NextAttemptAt.Sub(td.Clock.Now()))

	moved := td.AdvanceUntilIdle(t) // through the retries, each at its time
	fmt.Println("clock moved", moved)
	for _, r := range rcv.Requests() {
		unix, _ := strconv.ParseInt(r.Header.Get(webhook.HeaderTimestamp), 10, 64)
		fmt.Printf("#%d %s signed at %s verified=%v answered %d\n",
			r.Seq, r.ID(), time.Unix(unix, 0).UTC().Format(time.TimeOnly), r.Verified, r.Status)
	}
	dl = td.Deliveries(t, sub.OrganizationID, sub.ID)[0]
	fmt.Println("finally:", dl.State, "after", dl.Attempts, "attempts")
	// Output:
	// after the first attempt: pending 503 next in 5s
	// clock moved 20s
	// #1 evt_sale_9 signed at 09:42:59 verified=true answered 503
	// #2 evt_sale_9 signed at 09:43:04 verified=true answered 500
	// #3 evt_sale_9 signed at 09:43:19 verified=true answered 200
	// finally: delivered after 3 attempts
}

// exampleTB stands in for a test's *testing.T in the examples: it runs the
// cleanups at the end and panics on a failure.
type exampleTB struct {
	testing.TB // the methods not defined below are not used
	cleanups   []func()
}

func (t *exampleTB) Helper()                   {}
func (t *exampleTB) Cleanup(f func())          { t.cleanups = append(t.cleanups, f) }
func (t *exampleTB) Log(...any)                {}
func (t *exampleTB) Logf(string, ...any)       {}
func (t *exampleTB) Errorf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (t *exampleTB) Fatalf(f string, a ...any) { panic(fmt.Sprintf(f, a...)) }
func (t *exampleTB) FailNow()                  { panic("failed") }

func (t *exampleTB) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
