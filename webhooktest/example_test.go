package webhooktest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/relayhook/webhook"
	"github.com/relayhook/webhook/webhooktest"
)

// Contacts is the host's code under test: creating a contact raises
// contact.created.
type Contacts struct {
	Webhooks *webhook.Dispatcher
}

// Create stores a contact (not shown) and tells the subscribers.
func (c *Contacts) Create(ctx context.Context, orgID string, id int, name string) error {
	data, err := json.Marshal(map[string]any{"id": id, "name": name})
	if err != nil {
		return err
	}
	_, err = c.Webhooks.Dispatch(ctx, webhook.Event{
		ID:             fmt.Sprintf("evt_contact_%d", id),
		Type:           "contact.created",
		OrganizationID: orgID,
		Data:           data,
	})
	return err
}

// testCreatingAContactSendsContactCreated is the host's test. In a
// _test.go file of its own it reads
// func TestCreatingAContactSendsContactCreated(t *testing.T).
func testCreatingAContactSendsContactCreated(t testing.TB) {
	td := webhooktest.NewDispatcher(t, nil)
	rcv := td.NewReceiver(t, nil)
	td.Subscribe(t, rcv, "org_1", "contact.*")

	contacts := &Contacts{Webhooks: td.Dispatcher}
	require.NoError(t, contacts.Create(context.Background(), "org_1", 42, "Ada Lovelace"))

	got := rcv.WaitFor(t, 1, 5*time.Second)[0]
	require.True(t, got.Verified, "signature: %v", got.VerifyErr)
	require.Equal(t, "contact.created", got.Envelope.EventTrigger)
	require.JSONEq(t, `{"id":42,"name":"Ada Lovelace"}`, string(got.Envelope.Data))
	t.Logf("%s %s", got.ID(), got.Body)
}

func Example() {
	t := &exampleT{}
	defer t.cleanup()
	testCreatingAContactSendsContactCreated(t)
	// Output:
	// evt_contact_42 {"eventTrigger":"contact.created","eventTimestamp":"2026-01-24T09:42:59.000+00:00","organizationId":"org_1","data":{"id":42,"name":"Ada Lovelace"},"customParameters":{}}
}

// exampleT runs the test inside this Example: it prints the test's log,
// runs its cleanups at the end and panics on a failure. A real test gets
// a *testing.T instead.
type exampleT struct {
	testing.TB // the methods the test does not call are left nil
	cleanups   []func()
}

func (t *exampleT) Helper()                    {}
func (t *exampleT) Cleanup(f func())           { t.cleanups = append(t.cleanups, f) }
func (t *exampleT) Log(args ...any)            {}
func (t *exampleT) Logf(f string, args ...any) { fmt.Printf(f+"\n", args...) }
func (t *exampleT) Errorf(f string, args ...any) {
	fmt.Printf("FAIL: "+f+"\n", args...)
}
func (t *exampleT) FailNow()                     { panic("test failed") }
func (t *exampleT) Fatalf(f string, args ...any) { t.Errorf(f, args...); t.FailNow() }

func (t *exampleT) cleanup() {
	for i := len(t.cleanups) - 1; i >= 0; i-- {
		t.cleanups[i]()
	}
}
