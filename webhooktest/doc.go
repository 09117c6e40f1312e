// Package webhooktest helps host applications test code that sends
// webhooks, in the spirit of net/http/httptest: a recording receiver that
// verifies signatures, a dispatcher wired for tests, and a fake clock to
// drive retry schedules without sleeping.
//
// # A host's test
//
//	func TestCreatingAContactSendsContactCreated(t *testing.T) {
//		td := webhooktest.NewDispatcher(t, nil)   // memstore, fake clock, closed by t.Cleanup
//		rcv := td.NewReceiver(t, nil)             // loopback server, closed by t.Cleanup
//		td.Subscribe(t, rcv, "org_1", "contact.*") // rcv verifies with the subscription's secret
//
//		app := crm.New(td.Dispatcher)             // the host's code under test
//		require.NoError(t, app.CreateContact(ctx, "org_1", "Ada"))
//
//		got := rcv.WaitFor(t, 1, 5*time.Second)[0]
//		require.True(t, got.Verified, "signature: %v", got.VerifyErr)
//		require.Equal(t, "contact.created", got.Envelope.EventTrigger)
//	}
//
// # Receiver
//
// [NewReceiver] (or [Dispatcher.NewReceiver], which checks timestamps
// against the fake clock) starts a real HTTP server on loopback. Every
// request is recorded as a [Request]: headers, raw body, the JSON document
// (for a form body, its "payload" field) decoded, and whether its
// signature verified, against the secrets [Receiver.SetSecret] gives it
// (or [Dispatcher.Subscribe]). It answers 200 OK, or from the script of
// [Reply] values (a sequence of statuses, a delay, a hang until the client
// gives up, a Retry-After) set with [Receiver.Script], at any time;
// [Statuses] makes replies of statuses alone. [ReceiverConfig] sets its
// clock and whether it refuses what does not verify.
// [Receiver.WaitFor] waits for a number of requests, and
// [Receiver.WaitForEvents] for requests of given event types; both fail
// the test with a summary of what arrived (and what is missing).
//
// # Dispatcher and time
//
// [NewDispatcher] starts a webhook.Dispatcher on an in-memory store and a
// fake [Clock], with loopback targets allowed and a retry policy without
// jitter, so retry times are exact. Attempts are real HTTP requests that
// finish in real time; nothing else moves unless the test moves the clock:
//
//	rcv.Script(webhooktest.Statuses(500, 200)...) // fail once, then succeed
//	... dispatch ...
//	td.WaitIdle(t)               // first attempt made and recorded: 500
//	td.Advance(t, 5*time.Second) // the first retry falls due and is made: 200
//	td.AdvanceUntilIdle(t)       // or: run the whole schedule out
//
// [Dispatcher.WaitIdle] returns when no attempt is under way and nothing
// is due at the clock's time; [Dispatcher.AdvanceTo] stops at each due
// time on the way.
package webhooktest
